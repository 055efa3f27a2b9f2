#!/usr/bin/env python3
"""The soak of benches/soak.sh: load, writes, samples, verdict and picture.

Load: four dnsperf streams sharing --rate (UDP on the signed zone, UDP with
DO, LUA records, TCP), a PATCH through the API every half second and a
signed UPDATE every second. A probe asks 100 queries a second of its own,
alternating UDP and TCP, and times each: the latency a client sees under
the load, kernel queues and a busy machine included. The server's own
answer-duration histogram (/metrics) gives the time each answer took
inside it. Every --sample seconds: resident memory, answers a second, the
probe's p99 and the server's p99 over the window.

Verdict (exit 1 when one fails): no error (no probe lost or wrong, no write
refused, dnsperf lost under 0.1 %, every stream ran), resident memory
within 10 % of its level at five minutes, and p99 steady: over the last
quarter of the run, within twice its value over the second quarter, for
the probe and for the server (each p99 taken over every answer of the
quarter, not a median of noisy windows).
"""

import argparse
import csv
import json
import os
import random
import shutil
import socket
import struct
import subprocess
import threading
import time
import urllib.request

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def counters(api):
    """Every DNS message answered so far, and the cumulative buckets of the
    answer-duration histogram as [(upper bound in seconds, count)], from
    /metrics."""
    total, buckets = 0, []
    with urllib.request.urlopen(f"http://127.0.0.1:{api}/metrics", timeout=5) as response:
        for line in response.read().decode().splitlines():
            if line.startswith("pooldns_queries_total{"):
                total += int(float(line.rsplit(" ", 1)[1]))
            elif line.startswith("pooldns_answer_duration_seconds_bucket{"):
                bound = line.split('le="', 1)[1].split('"', 1)[0]
                buckets.append((float("inf") if bound == "+Inf" else float(bound), int(float(line.rsplit(" ", 1)[1]))))
    return total, buckets


def histogram_p99(before, after):
    """The p99 of the answers between two readings of the histogram,
    interpolated within its bucket as Prometheus's histogram_quantile
    does; NaN without answers."""
    counts = [(bound, now - then) for (bound, now), (_, then) in zip(after, before)]
    total = counts[-1][1] if counts else 0
    if total <= 0:
        return float("nan")
    rank = 0.99 * total
    lower, below = 0.0, 0
    for bound, cumulative in counts:
        if cumulative >= rank:
            if bound == float("inf"):
                return lower
            return lower + (bound - lower) * (rank - below) / max(1, cumulative - below)
        lower, below = bound, cumulative
    return lower


def percentile(values, fraction):
    values = sorted(values)
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(len(values) * fraction))]


def query(name, qtype, qid):
    wire = struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        wire += bytes([len(label)]) + label.encode()
    return wire + b"\0" + struct.pack(">HH", qtype, 1)


class Probe(threading.Thread):
    """Asks www.bench.test A 100 times a second, UDP and TCP in turn."""

    def __init__(self, dns, stop):
        super().__init__(daemon=True)
        self.dns, self.stop = dns, stop
        self.lock = threading.Lock()
        self.window = []
        # (seconds since the start, latency) of every answer.
        self.answers = []
        self.started = time.monotonic()
        self.errors = 0
        self.sent = 0

    def ask(self, tcp):
        qid = random.randrange(65536)
        wire = query("www.bench.test.", 1, qid)
        started = time.monotonic()
        try:
            if tcp:
                with socket.create_connection(("127.0.0.1", self.dns), timeout=2) as conn:
                    conn.sendall(struct.pack(">H", len(wire)) + wire)
                    head = conn.recv(2, socket.MSG_WAITALL)
                    reply = conn.recv(struct.unpack(">H", head)[0], socket.MSG_WAITALL)
            else:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                    udp.settimeout(2)
                    udp.sendto(wire, ("127.0.0.1", self.dns))
                    reply = udp.recv(4096)
        except OSError:
            return None
        if len(reply) < 12 or struct.unpack(">H", reply[:2])[0] != qid or reply[3] & 0x0F != 0:
            return None
        return time.monotonic() - started

    def run(self):
        tcp = False
        next_at = time.monotonic()
        while not self.stop.is_set():
            latency = self.ask(tcp)
            with self.lock:
                self.sent += 1
                if latency is None:
                    self.errors += 1
                else:
                    self.window.append(latency)
                    self.answers.append((time.monotonic() - self.started, latency))
            tcp = not tcp
            next_at += 0.01
            time.sleep(max(0.0, next_at - time.monotonic()))

    def take_p99(self):
        with self.lock:
            window, self.window = self.window, []
        return percentile(window, 0.99)

    def p99_between(self, start, end):
        with self.lock:
            return percentile([latency for t, latency in self.answers if start <= t < end], 0.99)


class Writer(threading.Thread):
    """Calls `write(n)` every `period` seconds; counts the failures."""

    def __init__(self, period, write, stop):
        super().__init__(daemon=True)
        self.period, self.write, self.stop = period, write, stop
        self.done = 0
        self.failed = []

    def run(self):
        n = 0
        while not self.stop.wait(self.period):
            n += 1
            try:
                error = self.write(n)
            except OSError as exc:
                error = str(exc)
            if error:
                self.failed.append(f"{n}: {error}")
            else:
                self.done += 1


def patch(api, key):
    def write(n):
        body = json.dumps(
            {
                "rrsets": [
                    {
                        "name": "soak.bench.test.",
                        "type": "TXT",
                        "ttl": 60,
                        "changetype": "REPLACE",
                        "records": [{"content": f'"soak {n}"', "disabled": False}],
                    }
                ]
            }
        ).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{api}/api/v1/servers/localhost/zones/bench.test.",
            data=body,
            method="PATCH",
            headers={"X-API-Key": key, "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return None if response.status == 204 else f"HTTP {response.status}"

    return write


def update(dns, tsig):
    def write(n):
        script = (
            f"server 127.0.0.1 {dns}\nzone lua.test\n"
            f"update delete acme.lua.test TXT\nupdate add acme.lua.test 60 TXT \"token-{n}\"\n"
            f"update delete h{n % 50}.upd.lua.test A\nupdate add h{n % 50}.upd.lua.test 60 A 192.0.2.{n % 250 + 1}\nsend\n"
        )
        done = subprocess.run(["nsupdate", "-y", tsig], input=script.encode(), capture_output=True, timeout=30)
        return None if done.returncode == 0 else done.stderr.decode().strip()[:200]

    return write


def dnsperf(work, dns, duration, streams):
    """Starts one dnsperf per (name, file, qps, extra args)."""
    running = []
    for name, file, qps, extra in streams:
        out = open(os.path.join(work, f"dnsperf-{name}.txt"), "w")
        command = ["dnsperf", "-s", "127.0.0.1", "-p", str(dns), "-d", os.path.join(work, file),
                   "-l", str(duration), "-Q", str(qps), "-c", "4", "-q", "500", *extra]
        running.append((name, subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT), out))
    return running


def dnsperf_result(path):
    sent = lost = 0
    codes = ""
    with open(path) as out:
        for line in out:
            if "Queries sent:" in line:
                sent = int(line.split()[2])
            elif "Queries lost:" in line:
                lost = int(line.split()[2])
            elif "Response codes:" in line:
                codes = line.split(":", 1)[1].strip()
    return sent, lost, codes


def main():
    parser = argparse.ArgumentParser()
    for option in ("pid", "dns", "api", "duration", "rate", "sample"):
        parser.add_argument(f"--{option}", type=int, required=True)
    for option in ("key", "tsig", "work", "out"):
        parser.add_argument(f"--{option}", required=True)
    parser.add_argument("--note", default="")
    parser.add_argument("--results")
    args = parser.parse_args()

    stop = threading.Event()
    rate = args.rate
    streams = [
        ("udp", "hot.txt", rate * 50 // 100, []),
        ("udp-do", "hot.txt", rate * 25 // 100, ["-D"]),
        ("lua", "lua.txt", rate * 20 // 100, []),
        ("tcp", "hot.txt", rate * 5 // 100, ["-m", "tcp"]),
    ]
    started = time.monotonic()
    loads = dnsperf(args.work, args.dns, args.duration, streams)
    probe = Probe(args.dns, stop)
    probe.started = started
    writers = {"patch": Writer(0.5, patch(args.api, args.key), stop),
               "update": Writer(1.0, update(args.dns, args.tsig), stop)}
    for thread in [probe, *writers.values()]:
        thread.start()

    samples = []
    # The histogram's readings at each sample, for the quarters' p99.
    readings = []
    (last_answers, last_buckets), last_at = counters(args.api), time.monotonic()
    readings.append((0.0, last_buckets))
    while time.monotonic() - started < args.duration:
        time.sleep(args.sample)
        now, (answers, buckets) = time.monotonic(), counters(args.api)
        samples.append({
            "t": round(now - started, 1),
            "rss_mib": round(rss_kb(args.pid) / 1024, 1),
            "qps": round((answers - last_answers) / (now - last_at)),
            "p99_ms": round(probe.take_p99() * 1000, 3),
            "server_p99_us": round(histogram_p99(last_buckets, buckets) * 1e6, 1),
        })
        readings.append((now - started, buckets))
        last_answers, last_buckets, last_at = answers, buckets, now
        print(json.dumps(samples[-1]), flush=True)
    stop.set()
    for _, process, out in loads:
        process.wait()
        out.close()
    for thread in writers.values():
        thread.join(timeout=60)

    with open(os.path.join(args.out, "soak.csv"), "w", newline="") as out:
        table = csv.DictWriter(out, fieldnames=list(samples[0]))
        table.writeheader()
        table.writerows(samples)

    # dnsperf's own reports are kept beside the samples: a stream that
    # reports nothing is explained there.
    for name, *_ in streams:
        shutil.copy(os.path.join(args.work, f"dnsperf-{name}.txt"), os.path.join(args.out, f"soak-dnsperf-{name}.txt"))

    # Verdict.
    dnsperf_runs = {name: dnsperf_result(os.path.join(args.work, f"dnsperf-{name}.txt")) for name, *_ in streams}
    sent = sum(run[0] for run in dnsperf_runs.values())
    lost = sum(run[1] for run in dnsperf_runs.values())
    at_five = [s for s in samples if s["t"] >= min(300, args.duration / 4)]
    base = at_five[0]["rss_mib"]
    rss_after = [s["rss_mib"] for s in at_five]
    drift = max(abs(value - base) for value in rss_after) / base
    quarter = max(1, len(samples) // 4)
    second = (readings[quarter], readings[2 * quarter])
    last = (readings[-quarter - 1], readings[-1])
    p99_second = round(probe.p99_between(second[0][0], second[1][0]) * 1000, 3)
    p99_last = round(probe.p99_between(last[0][0], last[1][0]) * 1000, 3)
    server_second = round(histogram_p99(second[0][1], second[1][1]) * 1e6, 1)
    server_last = round(histogram_p99(last[0][1], last[1][1]) * 1e6, 1)
    summary = {
        "bench": "soak",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "duration_s": args.duration,
        "rate": args.rate,
        "answered_qps_median": sorted(s["qps"] for s in samples)[len(samples) // 2],
        "dnsperf_sent": sent,
        "dnsperf_lost": lost,
        "dnsperf_rcodes": {name: run[2] for name, run in dnsperf_runs.items()},
        "probe_sent": probe.sent,
        "probe_errors": probe.errors,
        "patches": writers["patch"].done,
        "patches_failed": len(writers["patch"].failed),
        "updates": writers["update"].done,
        "updates_failed": len(writers["update"].failed),
        "rss_mib_at_5min": base,
        "rss_mib_max": max(rss_after),
        "rss_drift": round(drift, 4),
        "p99_ms_second_quarter": p99_second,
        "p99_ms_last_quarter": p99_last,
        "p99_ms_max_window": max(s["p99_ms"] for s in samples),
        "server_p99_us_second_quarter": server_second,
        "server_p99_us_last_quarter": server_last,
        "note": args.note,
    }
    failures = []
    if probe.errors:
        failures.append(f"{probe.errors} probe queries unanswered or wrong")
    for name, writer in writers.items():
        if writer.failed:
            failures.append(f"{len(writer.failed)} {name} writes failed, first: {writer.failed[0]}")
    if lost > sent / 1000:
        failures.append(f"dnsperf lost {lost} of {sent}")
    for name, run in dnsperf_runs.items():
        if run[0] == 0:
            failures.append(f"the {name} stream reported nothing (see soak-dnsperf-{name}.txt)")
    if drift > 0.10:
        failures.append(f"resident memory moved {drift:.1%} from {base} MiB")
    if not p99_last <= 2 * p99_second:
        failures.append(f"the probe's p99 grew from {p99_second} ms to {p99_last} ms")
    if not server_last <= 2 * server_second:
        failures.append(f"the server's p99 grew from {server_second} µs to {server_last} µs")
    summary["verdict"] = "pass" if not failures else "; ".join(failures)
    line = json.dumps(summary)
    with open(os.path.join(args.out, "soak.json"), "w") as out:
        out.write(line + "\n")
    if args.results:
        with open(args.results, "a") as out:
            out.write(line + "\n")
    print(line)

    # The picture.
    minutes = [s["t"] / 60 for s in samples]
    figure, axes = plt.subplots(4, 1, figsize=(10, 10), sharex=True)
    for axis, key, label in zip(axes, ("rss_mib", "qps", "p99_ms", "server_p99_us"),
                                ("resident memory (MiB)", "answers a second", "probe p99 (ms)",
                                 "server p99 (µs)")):
        points = [(m, s[key]) for m, s in zip(minutes, samples) if s[key] == s[key]]
        values = [value for _, value in points] or [0]
        axis.plot([m for m, _ in points], [value for _, value in points], linewidth=1)
        axis.set_ylim(0, max(values) * 1.25)
        axis.set_ylabel(label)
        axis.grid(True, alpha=0.3)
    axes[0].axhspan(base * 0.9, base * 1.1, color="green", alpha=0.1, label="±10 % of the 5-minute level")
    axes[0].legend(loc="lower right")
    axes[3].set_xlabel("minutes")
    figure.suptitle(f"pooldns soak: {args.duration // 60} min at {args.rate} q/s offered "
                    f"(UDP, DO, LUA, TCP, PATCH 2/s, UPDATE 1/s)\n{summary['verdict'][:110]}")
    figure.tight_layout()
    figure.savefig(os.path.join(args.out, "soak.png"), dpi=100)
    raise SystemExit(0 if not failures else 1)


if __name__ == "__main__":
    main()
