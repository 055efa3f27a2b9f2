//! `/metrics`: every metric of the process in the Prometheus text format,
//! written here from the state each part keeps (query counters, zones,
//! rollovers, health checks, LUA records), so names, help texts and label
//! escaping live in one place.

use std::fmt::{Display, Write};

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::AppState;
use crate::health::Status;

/// The exposition of every metric.
pub(super) async fn render(State(state): State<AppState>) -> impl IntoResponse {
    let mut out = Exposition::default();
    let totals = state.metrics.totals();
    out.family(
        "pooldns_queries_total",
        "counter",
        "DNS messages answered, by response code and query type.",
    );
    for (rcode, qtype, count) in &totals.queries {
        out.sample("pooldns_queries_total", &[("rcode", rcode), ("qtype", qtype)], count);
    }
    out.family("pooldns_truncated_total", "counter", "UDP answers sent with TC=1.");
    out.sample("pooldns_truncated_total", &[], totals.truncated);
    out.family("pooldns_dropped_total", "counter", "Messages dropped without a reply.");
    out.sample("pooldns_dropped_total", &[], totals.dropped);
    out.family(
        "pooldns_rate_limited_total",
        "counter",
        "UDP responses over the [rrl] rate: dropped, sent truncated (slipped), or sent in log-only mode (logged).",
    );
    for (action, count) in crate::metrics::RATE_LIMIT_ACTIONS.iter().zip(totals.rate_limited) {
        out.sample("pooldns_rate_limited_total", &[("action", action)], count);
    }
    out.family(
        "pooldns_answer_duration_seconds",
        "histogram",
        "Time from a parsed message to its encoded reply.",
    );
    for (bound, count) in &totals.latency_buckets {
        out.sample("pooldns_answer_duration_seconds_bucket", &[("le", bound)], count);
    }
    out.sample("pooldns_answer_duration_seconds_sum", &[], totals.latency_seconds);
    let answered = totals.latency_buckets.last().map_or(0, |(_, count)| *count);
    out.sample("pooldns_answer_duration_seconds_count", &[], answered);

    let catalog = state.catalog.load();
    let records: usize = catalog.zones().map(|snapshot| snapshot.zone.record_count()).sum();
    out.family("pooldns_zones", "gauge", "Zones being served.");
    out.sample("pooldns_zones", &[], catalog.len());
    out.family("pooldns_records", "gauge", "Records in the zones being served.");
    out.sample("pooldns_records", &[], records);
    out.family(
        "pooldns_dnssec_signatures_expire_seconds",
        "gauge",
        "When the signatures a zone signed here serves expire (Unix time); renewed weekly.",
    );
    for snapshot in catalog.zones() {
        if let Some(expiration) = snapshot.signed.as_ref().and_then(|signed| signed.signatures_expire()) {
            let zone = snapshot.zone.apex().to_string();
            out.sample(
                "pooldns_dnssec_signatures_expire_seconds",
                &[("zone", &zone)],
                expiration,
            );
        }
    }
    out.family(
        "pooldns_zones_failed",
        "gauge",
        "Stored zones that could not be loaded.",
    );
    out.sample("pooldns_zones_failed", &[], state.status.failures().len());
    // A server that lost its database keeps answering from its snapshots;
    // this says so.
    let reachable = matches!(
        tokio::time::timeout(std::time::Duration::from_secs(2), state.store.ping()).await,
        Ok(Ok(()))
    );
    out.family(
        "pooldns_store_reachable",
        "gauge",
        "1 when the store answers, 0 while zones are served from the last snapshots only.",
    );
    out.sample("pooldns_store_reachable", &[], u8::from(reachable));

    let reconciler = crate::pool::reconcile::stats();
    out.family(
        "pooldns_reconciler_passes_total",
        "counter",
        "Reconciler passes this node ran (one node of a fleet reconciles at a time).",
    );
    out.sample("pooldns_reconciler_passes_total", &[], reconciler.passes);
    out.family(
        "pooldns_reconciler_errors_total",
        "counter",
        "Errors the reconciler met: allocations it could not bring in line, stores it could not read.",
    );
    out.sample("pooldns_reconciler_errors_total", &[], reconciler.errors);
    out.family(
        "pooldns_reconciler_last_pass_seconds",
        "gauge",
        "When this node's last reconciler pass ended (Unix time; 0: none yet).",
    );
    out.sample("pooldns_reconciler_last_pass_seconds", &[], reconciler.last_pass);
    out.family(
        "pooldns_pool_provider_failures",
        "gauge",
        "Allocations whose last registrar or DNS provider call failed, waiting for a retry.",
    );
    out.sample("pooldns_pool_provider_failures", &[], reconciler.provider_failures);
    out.family(
        "pooldns_registrar_call_errors_total",
        "counter",
        "Registrar calls made for the registrar routes (validate, set-ns) that failed, by registrar.",
    );
    for (registrar, failed) in super::registrar::failed_calls() {
        out.sample(
            "pooldns_registrar_call_errors_total",
            &[("registrar", registrar)],
            failed,
        );
    }

    let rolls = state.rolls.rolls();
    out.family(
        "pooldns_dnssec_roll",
        "gauge",
        "Key rollovers in progress, by zone, role and phase.",
    );
    for roll in &rolls {
        let labels = [
            ("zone", roll.zone.as_str()),
            ("role", &roll.role),
            ("phase", &roll.phase),
        ];
        out.sample("pooldns_dnssec_roll", &labels, 1);
    }
    out.family(
        "pooldns_dnssec_roll_next_step_seconds",
        "gauge",
        "When a rollover's current wait ends (Unix time).",
    );
    for roll in &rolls {
        out.sample(
            "pooldns_dnssec_roll_next_step_seconds",
            &[("zone", &roll.zone)],
            roll.next_at,
        );
    }

    let checker = state.health.stats();
    out.family(
        "pooldns_health_check_up",
        "gauge",
        "Whether a health-checked target is up (1) or down (0).",
    );
    for check in &checker.checks {
        let value = match check.status {
            Status::Up => 1,
            Status::Down => 0,
            // Not probed yet: no sample (see pooldns_health_checks).
            Status::Unknown => continue,
        };
        let labels = [
            ("id", check.id.as_str()),
            ("target", &check.target),
            ("kind", check.kind),
        ];
        out.sample("pooldns_health_check_up", &labels, value);
    }
    out.family(
        "pooldns_health_check_latency_seconds",
        "gauge",
        "Duration of the last probe of a target.",
    );
    for check in &checker.checks {
        if let Some(latency) = check.latency {
            let labels = [
                ("id", check.id.as_str()),
                ("target", &check.target),
                ("kind", check.kind),
            ];
            out.sample("pooldns_health_check_latency_seconds", &labels, latency.as_secs_f64());
        }
    }
    out.family("pooldns_health_checks", "gauge", "Health checks, by status.");
    for status in [Status::Up, Status::Down, Status::Unknown] {
        let count = checker.checks.iter().filter(|check| check.status == status).count();
        out.sample("pooldns_health_checks", &[("status", status.as_str())], count);
    }
    out.family(
        "pooldns_health_check_transitions_total",
        "counter",
        "Status changes of health checks.",
    );
    out.sample(
        "pooldns_health_check_transitions_total",
        &[("to", "up")],
        checker.transitions_up,
    );
    out.sample(
        "pooldns_health_check_transitions_total",
        &[("to", "down")],
        checker.transitions_down,
    );
    out.family(
        "pooldns_health_check_probes_total",
        "counter",
        "Probes completed, by result.",
    );
    out.sample(
        "pooldns_health_check_probes_total",
        &[("result", "success")],
        checker.probe_successes,
    );
    out.sample(
        "pooldns_health_check_probes_total",
        &[("result", "failure")],
        checker.probe_failures,
    );

    let (native, script, broken) = catalog
        .zones()
        .filter_map(|snapshot| snapshot.programs.as_ref())
        .map(|programs| programs.counts())
        .fold((0, 0, 0), |total, counts| {
            (total.0 + counts.0, total.1 + counts.1, total.2 + counts.2)
        });
    out.family(
        "pooldns_lua_records",
        "gauge",
        "LUA records served, by how they run (broken ones answer SERVFAIL).",
    );
    out.sample("pooldns_lua_records", &[("kind", "native")], native);
    out.sample("pooldns_lua_records", &[("kind", "script")], script);
    out.sample("pooldns_lua_records", &[("kind", "broken")], broken);
    out.family(
        "pooldns_lua_failures_total",
        "counter",
        "LUA evaluations that failed (answered SERVFAIL).",
    );
    out.sample("pooldns_lua_failures_total", &[], crate::lua::failures());
    let (axfr, ixfr, refused) = crate::transfer::answered();
    out.family(
        "pooldns_transfers_total",
        "counter",
        "Zone transfer requests answered: with the whole zone, with a difference (or the SOA), or refused.",
    );
    out.sample("pooldns_transfers_total", &[("answer", "axfr")], axfr);
    out.sample("pooldns_transfers_total", &[("answer", "ixfr")], ixfr);
    out.sample("pooldns_transfers_total", &[("answer", "refused")], refused);
    let (answered, unanswered) = crate::transfer::notify::outcomes();
    out.family(
        "pooldns_notify_total",
        "counter",
        "NOTIFY to secondaries: answered, or given up after every retry.",
    );
    out.sample("pooldns_notify_total", &[("result", "answered")], answered);
    out.sample("pooldns_notify_total", &[("result", "unanswered")], unanswered);
    let (full, in_place) = crate::loader::builds();
    out.family(
        "pooldns_zone_builds_total",
        "counter",
        "Zone snapshots made: built from all the zone's records, or changed in place by the journal's changes.",
    );
    out.sample("pooldns_zone_builds_total", &[("how", "full")], full);
    out.sample("pooldns_zone_builds_total", &[("how", "in_place")], in_place);
    let (current, ixfr, axfr, failed) = crate::secondary::checked();
    out.family(
        "pooldns_secondary_checks_total",
        "counter",
        "Checks of secondary zones against their primaries: current, changed by IXFR or AXFR, or failed at every primary.",
    );
    out.sample("pooldns_secondary_checks_total", &[("result", "current")], current);
    out.sample("pooldns_secondary_checks_total", &[("result", "ixfr")], ixfr);
    out.sample("pooldns_secondary_checks_total", &[("result", "axfr")], axfr);
    out.sample("pooldns_secondary_checks_total", &[("result", "failed")], failed);
    if let Some(aliases) = &state.aliases {
        let (targets, resolved) = aliases.counts();
        out.family(
            "pooldns_alias_targets",
            "gauge",
            "ALIAS targets (name and type) served, and how many have an answer (the rest answer SERVFAIL).",
        );
        out.sample("pooldns_alias_targets", &[("state", "resolved")], resolved);
        out.sample("pooldns_alias_targets", &[("state", "unresolved")], targets - resolved);
    }

    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        out.text,
    )
}

/// Prometheus text being written.
#[derive(Default)]
struct Exposition {
    text: String,
}

impl Exposition {
    /// The `# HELP` and `# TYPE` lines of a metric family.
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.text, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    /// One sample, its label values escaped.
    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl Display) {
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (label, value)) in labels.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                let _ = write!(self.text, "{label}=\"{}\"", escape(value));
            }
            self.text.push('}');
        }
        let _ = writeln!(self.text, " {value}");
    }
}

/// A label value escaped as the text format requires.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_escaped() {
        let mut out = Exposition::default();
        out.family("m", "gauge", "Help.");
        out.sample("m", &[("a", "x\"y\\z\nw"), ("b", "2")], 1.5);
        out.sample("m", &[], 3);
        assert_eq!(
            out.text,
            "# HELP m Help.\n# TYPE m gauge\nm{a=\"x\\\"y\\\\z\\nw\",b=\"2\"} 1.5\nm 3\n"
        );
    }
}
