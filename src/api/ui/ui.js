// The operator page: reads /api/v1/overview every few seconds and draws
// it. Every value from the server is set as text, never parsed as HTML.
"use strict";

const KEY = "pooldns-api-key";
const REFRESH_MS = 5000;
// Transitions drawn: the last quarter of an hour.
const WINDOW_SECONDS = 15 * 60;
// Query-rate samples kept for the sparkline (ten minutes at REFRESH_MS).
const RATE_SAMPLES = 120;

const rates = [];
let timer = null;

function $(id) {
  return document.getElementById(id);
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value !== undefined && value !== null) node.setAttribute(name, value);
  }
  for (const child of children.flat()) {
    node.append(child instanceof Node ? child : document.createTextNode(child ?? ""));
  }
  return node;
}

function svg(tag, attrs, text) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

function pill(text, kind) {
  return el("span", { class: "pill " + kind }, text);
}

function when(rfc3339) {
  if (!rfc3339) return "";
  const date = new Date(rfc3339);
  return isNaN(date) ? rfc3339 : date.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

function duration(seconds) {
  const d = Math.floor(seconds / 86400), h = Math.floor(seconds / 3600) % 24, m = Math.floor(seconds / 60) % 60;
  return d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : `${m}m ${Math.floor(seconds % 60)}s`;
}

function fill(table, rows, columns, empty) {
  const body = $(table).tBodies[0];
  body.replaceChildren(
    ...(rows.length ? rows : [el("tr", {}, el("td", { class: "empty", colspan: columns }, empty))])
  );
}

function setState(text, error) {
  $("state").textContent = text;
  $("state").className = error ? "error" : "muted";
}

function showLogin(message) {
  $("content").hidden = true;
  $("forget").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message || "";
  setState("API key needed");
  $("key").focus();
}

function schedule() {
  clearTimeout(timer);
  timer = setTimeout(load, REFRESH_MS);
}

async function load() {
  const key = sessionStorage.getItem(KEY);
  const headers = key ? { "X-API-Key": key } : {};
  let response;
  try {
    response = await fetch("/api/v1/overview", { headers, cache: "no-store" });
  } catch (error) {
    setState("server unreachable: " + error.message, true);
    return schedule();
  }
  if (response.status === 401) {
    sessionStorage.removeItem(KEY);
    return showLogin(key ? "The server refused that key." : "");
  }
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    setState(`overview unavailable (${response.status}): ${body.detail || response.statusText}`, true);
    return schedule();
  }
  const data = await response.json();
  $("login").hidden = true;
  $("content").hidden = false;
  $("forget").hidden = !key;
  render(data);
  setState("updated " + new Date().toLocaleTimeString());
  document.body.dataset.loaded = String(Number(document.body.dataset.loaded || 0) + 1);
  schedule();
}

function render(data) {
  const server = data.server;
  $("server").textContent = `version ${server.version}, up ${duration(server.uptime_seconds)}`;
  renderCards(data);
  renderZones(data.zones);
  renderChecks(data.checks, Date.parse(server.now) / 1000, server.uptime_seconds);
  renderLua(data.lua);
  renderPools(data.pools);
  renderAudit(data.audit);
}

function renderCards(data) {
  const zones = data.zones;
  const failing = Object.keys(data.failures).length;
  $("card-zones").textContent = zones.length;
  $("card-zones-detail").textContent =
    `${zones.filter((z) => z.signed).length} signed, ${failing} failing, ` +
    `${zones.reduce((sum, z) => sum + z.records, 0)} records`;
  const inUse = data.checks.filter((c) => c.in_use);
  const count = (status) => inUse.filter((c) => c.status === status).length;
  $("card-checks").textContent = `${count("up")} up`;
  $("card-checks-detail").textContent = `${count("down")} down, ${count("unknown")} not probed yet`;

  rates.push([Date.now() / 1000, data.queries.total]);
  if (rates.length > RATE_SAMPLES) rates.shift();
  const perSecond = [];
  for (let i = 1; i < rates.length; i++) {
    const [t0, q0] = rates[i - 1], [t1, q1] = rates[i];
    perSecond.push(t1 > t0 && q1 >= q0 ? (q1 - q0) / (t1 - t0) : 0);
  }
  const now = perSecond.length ? perSecond[perSecond.length - 1] : 0;
  $("card-qps").textContent = perSecond.length ? `${Math.round(now)} q/s` : "…";
  const peak = Math.max(1, ...perSecond);
  const points = perSecond.map((v, i) => `${(i / Math.max(1, perSecond.length - 1)) * 240},${46 - (v / peak) * 44}`);
  $("rate").replaceChildren(svg("polyline", { points: points.join(" ") }));
  $("card-rcodes").textContent = data.queries.total
    ? `${data.queries.total} since start: ` +
      Object.entries(data.queries.by_rcode).map(([rcode, n]) => `${rcode} ${n}`).join(", ") +
      (data.queries.rate_limited ? `; ${data.queries.rate_limited} rate-limited` : "")
    : "no queries yet";

  const allocations = data.pools.flatMap((p) => p.allocations);
  $("card-pools").textContent = allocations.length;
  $("card-pools-detail").textContent = data.pools.length
    ? `${allocations.filter((a) => a.state === "active").length} active in ${data.pools.map((p) => p.domain).join(", ")}`
    : "no pool domains configured";
}

function renderZones(zones) {
  const rows = zones.map((zone) => {
    const keys = zone.keys.map((k) => {
      const state = k.active ? "active" : k.published ? "published" : "retired";
      return el("div", {}, `${k.role.toUpperCase()} ${k.tag ?? "?"} alg ${k.algorithm} ${state}${k.ds ? ", DS" : ""}`);
    });
    const roll = zone.roll
      ? `${zone.roll.role.toUpperCase()} ${zone.roll.phase}, next step ${when(zone.roll.next_step)}`
      : "";
    const change = zone.last_change
      ? `${when(zone.last_change.at)} ${zone.last_change.kind} by ${zone.last_change.author}`
      : "";
    const status = zone.failure
      ? el("div", { class: "error" }, zone.failure)
      : zone.loading
        ? el("div", { class: "muted" }, "loading")
        : "";
    return el(
      "tr",
      { "data-zone": zone.name },
      el("td", {}, zone.name, status),
      el("td", { class: "num" }, String(zone.serial)),
      el("td", { class: "num" }, String(zone.records)),
      el("td", {}, zone.signed ? pill("signed", "on") : pill("unsigned", "off"),
        zone.signatures_expire ? el("div", { class: "muted" }, "until " + when(zone.signatures_expire)) : ""),
      el("td", {}, keys),
      el("td", {}, roll),
      el("td", {}, change)
    );
  });
  fill("zones", rows, 7, "no zones");
}

function renderChecks(checks, now, uptime) {
  const rows = checks.map((check) =>
    el(
      "tr",
      { "data-target": check.target, "data-status": check.status },
      el("td", { class: "code" }, check.target, check.in_use ? "" : el("div", { class: "muted" }, "no longer used")),
      el("td", {}, check.kind),
      el("td", {}, pill(check.status, check.status)),
      el("td", { class: "num" }, check.latency_ms == null ? "" : `${check.latency_ms.toFixed(1)} ms`),
      el("td", {}, when(check.last_probe)),
      el("td", { class: "error" }, check.last_error || "")
    )
  );
  fill("checks", rows, 6, "no health checks");
  drawTimeline(checks, now, Math.min(WINDOW_SECONDS, Math.max(60, uptime)));
}

// One row per check: its status over the last `span` seconds (the
// server's lifetime, up to WINDOW_SECONDS), as the transitions it saw
// tell it.
function drawTimeline(checks, now, span) {
  const label = 300, right = 990, row = 22, top = 8;
  const start = now - span;
  const x = (t) => label + ((Math.max(t, start) - start) / span) * (right - label);
  const height = top + Math.max(1, checks.length) * row + 20;
  const chart = $("timeline");
  chart.setAttribute("viewBox", `0 0 1000 ${height}`);
  chart.replaceChildren();
  checks.forEach((check, i) => {
    const y = top + i * row;
    chart.append(svg("text", { x: 4, y: y + 14 }, check.target.length > 48 ? check.target.slice(0, 47) + "…" : check.target));
    const history = (check.history || []).map((t) => ({ ...t, time: Date.parse(t.at) / 1000 }));
    const before = history.filter((t) => t.time <= start);
    let status = before.length ? before[before.length - 1].to : history.length ? history[0].from : check.status;
    let from = start;
    const segments = [];
    for (const t of history.filter((t) => t.time > start)) {
      segments.push([from, t.time, status, t.reason]);
      status = t.to;
      from = t.time;
    }
    segments.push([from, now, status, ""]);
    for (const [s, e, state, reason] of segments) {
      const rect = svg("rect", {
        x: x(s), y: y + 3, width: Math.max(1, x(e) - x(s)), height: row - 6,
        class: state, "data-target": check.target,
      });
      rect.append(svg("title", {}, `${check.target}: ${state} from ${new Date(s * 1000).toISOString()}${reason ? " (" + reason + ")" : ""}`));
      chart.append(rect);
    }
  });
  const axis = top + Math.max(1, checks.length) * row + 14;
  // Five ticks, on whole minutes once the span is long enough.
  const step = span >= 300 ? Math.ceil(span / 60 / 4) * 60 : span / 4;
  for (let ago = 0; ago <= span; ago += step) {
    const at = x(now - ago);
    const text = ago === 0 ? "now" : ago >= 60 ? `-${Math.round(ago / 60)}m` : `-${Math.round(ago)}s`;
    chart.append(svg("line", { x1: at, x2: at, y1: top, y2: axis - 10 }));
    chart.append(svg("text", { x: at - 12, y: axis, class: "axis" }, text));
  }
}

function renderLua(records) {
  const rows = records.map((record) =>
    el(
      "tr",
      { "data-owner": record.owner },
      el("td", {}, record.owner),
      el("td", {}, record.type),
      el("td", { class: "code" }, record.code),
      record.error
        ? el("td", { class: "error" }, "fails now: " + record.error)
        : el("td", { class: "code" }, record.answers.length ? record.answers.join(", ") : "(empty answer)")
    )
  );
  fill("lua", rows, 4, "no LUA records");
}

function renderPools(pools) {
  const rows = pools.flatMap((pool) =>
    pool.allocations.map((a) =>
      el(
        "tr",
        {},
        el("td", {}, pool.domain),
        el("td", {}, a.subdomain),
        el("td", {}, a.state),
        el("td", {}, when(a.reservedAt), el("div", { class: "muted" }, a.createdBy || "")),
        el("td", {}, when(a.expiresAt)),
        el("td", { class: "code" }, a.loadBalancerIP || ""),
        el("td", {}, a.delegation || "")
      )
    )
  );
  fill("pools", rows, 7, "no allocations");
}

function renderAudit(entries) {
  const rows = entries.map((entry) =>
    el(
      "tr",
      {},
      el("td", {}, when(entry.at)),
      el("td", {}, entry.key),
      el("td", { class: "code" }, entry.route),
      el("td", {}, entry.subject),
      el("td", { class: "num" }, String(entry.status)),
      el("td", {}, entry.outcome)
    )
  );
  fill("audit", rows, 6, "no audit entries");
}

document.addEventListener("DOMContentLoaded", () => {
  $("login").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(KEY, $("key").value.trim());
    $("key").value = "";
    load();
  });
  $("forget").addEventListener("click", () => {
    sessionStorage.removeItem(KEY);
    clearTimeout(timer);
    showLogin("");
  });
  load();
});
