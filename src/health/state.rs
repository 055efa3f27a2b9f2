//! One check's state: the word the answer path reads, the rise and fall
//! rule that turns probe results into a status, and the views the API and
//! the store get of it.

use std::collections::VecDeque;
use std::fmt::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::{lock, push_bounded, rfc3339, unix_seconds};
use super::{CheckReport, CheckSpec, HttpReport, Probe, Status, TransitionReport};
use crate::store::HealthCheckRow;

/// Hex digits of the key used as a check's `id`.
const ID_LENGTH: usize = 12;

//------------ Handle --------------------------------------------------------

/// What [`super::Check`] clones share. Counts itself in its check, so the
/// scheduler can tell without a lock whether any snapshot still holds it.
pub(super) struct Handle {
    state: Arc<CheckState>,
}

impl Handle {
    /// A new handle on `state`.
    pub(super) fn new(state: Arc<CheckState>) -> Arc<Handle> {
        state.handles.fetch_add(1, Ordering::Relaxed);
        Arc::new(Handle { state })
    }

    /// The check held.
    #[inline]
    pub(super) fn state(&self) -> &CheckState {
        &self.state
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.state.handles.fetch_sub(1, Ordering::Relaxed);
    }
}

//------------ CheckState ----------------------------------------------------

/// Everything known about one check.
pub(super) struct CheckState {
    /// Registration order; ties the scheduler's queue entries apart.
    pub id: u64,
    /// Hex SHA-256 of the spec's canonical form: the store's key.
    pub key: String,
    /// Normalized (see `HealthChecker::normalize`).
    pub spec: CheckSpec,
    /// How logs, the API and metrics name the check.
    pub target: String,
    /// `tcp`, `http` or `https`.
    pub kind: &'static str,
    /// Status and weight, packed (see [`encode`]) so a query reads both
    /// with one load.
    word: AtomicU64,
    /// Live [`Handle`]s: zero once no snapshot refers to the check.
    handles: AtomicUsize,
    pub detail: Mutex<Detail>,
    /// The HTTP client of an HTTP check, built at its first probe.
    pub client: OnceLock<reqwest::Client>,
}

/// The parts of a check's state only probes, the API and the store read.
#[derive(Default)]
pub(super) struct Detail {
    pub failures: u32,
    pub successes: u32,
    pub last_probe: Option<SystemTime>,
    pub last_change: Option<SystemTime>,
    pub latency: Option<Duration>,
    pub last_error: Option<String>,
    pub history: VecDeque<Transition>,
    /// Probes this process ran.
    pub probes: u64,
    /// When the state was last handed to the store.
    pub saved_at: Option<Instant>,
}

/// A status change.
#[derive(Clone)]
pub(super) struct Transition {
    pub at: SystemTime,
    pub from: Status,
    pub to: Status,
    pub reason: String,
}

/// What one probe found.
pub(super) struct Outcome {
    /// Success, with the weight the body carried, or why it failed.
    pub result: Result<Option<u32>, String>,
    pub latency: Duration,
    /// When the probe started.
    pub at: SystemTime,
}

/// A state carried over from the store or from a forgotten check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Known {
    pub status: Status,
    pub failures: u32,
    pub successes: u32,
    pub last_probe: Option<SystemTime>,
    pub latency: Option<Duration>,
    pub last_error: Option<String>,
    pub weight: Option<u32>,
}

impl CheckState {
    /// A check for `spec`, starting from `known` when there is one.
    pub fn new(id: u64, key: String, spec: CheckSpec, known: Option<Known>) -> CheckState {
        let (target, kind) = describe(&spec);
        let mut detail = Detail::default();
        let word = match known {
            Some(known) => {
                detail.failures = known.failures;
                detail.successes = known.successes;
                detail.last_probe = known.last_probe;
                detail.latency = known.latency;
                detail.last_error = known.last_error;
                encode(known.status, known.weight)
            }
            None => encode(Status::Unknown, None),
        };
        CheckState {
            id,
            key,
            spec,
            target,
            kind,
            word: AtomicU64::new(word),
            handles: AtomicUsize::new(0),
            detail: Mutex::new(detail),
            client: OnceLock::new(),
        }
    }

    /// The current status.
    #[inline]
    pub fn status(&self) -> Status {
        decode(self.word.load(Ordering::Relaxed)).0
    }

    /// The weight, while the check is up.
    #[inline]
    pub fn weight(&self) -> Option<u32> {
        match decode(self.word.load(Ordering::Relaxed)) {
            (Status::Up, weight) => weight,
            _ => None,
        }
    }

    /// Whether any snapshot still holds the check.
    pub fn is_referenced(&self) -> bool {
        self.handles.load(Ordering::Relaxed) > 0
    }

    /// The `id` shown in the API and metrics.
    pub fn id_label(&self) -> String {
        self.key[..ID_LENGTH.min(self.key.len())].to_string()
    }

    /// Applies one probe's result (`detail` is this check's, locked):
    /// updates the counters and the status word, and returns the change
    /// of status, if any.
    ///
    /// The rule: a check that was never probed takes the first result as
    /// its status, either way. After that an up check goes down after
    /// `minimum_failures` consecutive failures, and a down one comes up
    /// after `minimum_successes` consecutive successes.
    pub fn apply(&self, detail: &mut Detail, outcome: Outcome) -> Option<Transition> {
        let timing = &self.spec.timing;
        let (from, old_weight) = decode(self.word.load(Ordering::Relaxed));
        detail.probes += 1;
        detail.last_probe = Some(outcome.at);
        detail.latency = Some(outcome.latency);
        let (to, weight, reason) = match outcome.result {
            Ok(weight) => {
                detail.successes = detail.successes.saturating_add(1);
                detail.failures = 0;
                detail.last_error = None;
                let to = match from {
                    Status::Down if detail.successes < timing.minimum_successes => Status::Down,
                    _ => Status::Up,
                };
                let reason = if detail.successes > 1 {
                    format!("{} consecutive successful probes", detail.successes)
                } else {
                    format!("probe succeeded in {} ms", outcome.latency.as_millis())
                };
                (to, weight, reason)
            }
            Err(error) => {
                detail.failures = detail.failures.saturating_add(1);
                detail.successes = 0;
                let to = match from {
                    Status::Up if detail.failures < timing.minimum_failures => Status::Up,
                    _ => Status::Down,
                };
                let weight = if to == Status::Up { old_weight } else { None };
                let reason = if detail.failures > 1 {
                    format!("{} consecutive failed probes, the last: {error}", detail.failures)
                } else {
                    error.clone()
                };
                detail.last_error = Some(error);
                (to, weight, reason)
            }
        };
        self.word.store(encode(to, weight), Ordering::Relaxed);
        if to == from {
            return None;
        }
        let transition = Transition {
            at: outcome.at,
            from,
            to,
            reason,
        };
        detail.last_change = Some(outcome.at);
        push_bounded(&mut detail.history, transition.clone());
        Some(transition)
    }

    /// What a later registration of the same spec should start from;
    /// `None` if nothing is known.
    pub fn known(&self) -> Option<Known> {
        let detail = lock(&self.detail);
        let (status, weight) = decode(self.word.load(Ordering::Relaxed));
        if status == Status::Unknown {
            return None;
        }
        Some(Known {
            status,
            failures: detail.failures,
            successes: detail.successes,
            last_probe: detail.last_probe,
            latency: detail.latency,
            last_error: detail.last_error.clone(),
            weight,
        })
    }

    /// The row the store keeps (`detail` is this check's, locked).
    pub fn row(&self, detail: &Detail) -> HealthCheckRow {
        let (status, weight) = decode(self.word.load(Ordering::Relaxed));
        HealthCheckRow {
            key: self.key.clone(),
            target: self.target.clone(),
            status: status.as_str().to_string(),
            consecutive_failures: i64::from(detail.failures),
            consecutive_successes: i64::from(detail.successes),
            last_probe_at: detail.last_probe.map(unix_seconds),
            latency_us: detail
                .latency
                .map(|latency| i64::try_from(latency.as_micros()).unwrap_or(i64::MAX)),
            last_error: detail.last_error.clone(),
            weight: weight.map(i64::from),
            updated_at: unix_seconds(SystemTime::now()),
        }
    }

    /// The target as `/metrics` shows it.
    pub fn metric_target(&self) -> String {
        metric_target(&self.spec)
    }

    /// The API's view.
    pub fn report(&self, in_use: bool) -> CheckReport {
        // The word changes under this lock: read both as of one moment.
        let detail = lock(&self.detail);
        let (status, weight) = decode(self.word.load(Ordering::Relaxed));
        let spec = &self.spec;
        let (url, address, port, http) = match &spec.probe {
            Probe::Tcp { port } => (None, Some(spec.address), Some(*port), None),
            Probe::Http(http) => {
                let parsed = reqwest::Url::parse(&http.url).ok();
                let port = parsed.as_ref().and_then(reqwest::Url::port_or_known_default);
                let report = HttpReport {
                    pinned: http.pinned,
                    httpcode: http.httpcode,
                    stringmatch: http.stringmatch.clone(),
                    byteslimit: http.byteslimit,
                    useragent: http.useragent.clone(),
                    verify_tls: http.verify_tls,
                    header_names: http.headers.iter().map(|(name, _)| name.clone()).collect(),
                };
                let address = http.pinned.then_some(spec.address);
                (Some(super::url::shown_url(&http.url)), address, port, Some(report))
            }
        };
        CheckReport {
            id: self.id_label(),
            target: self.target.clone(),
            kind: self.kind,
            url,
            address,
            port,
            status,
            in_use,
            consecutive_failures: detail.failures,
            consecutive_successes: detail.successes,
            last_probe: detail.last_probe.map(rfc3339),
            last_change: detail.last_change.map(rfc3339),
            latency_ms: detail.latency.map(|latency| latency.as_secs_f64() * 1000.0),
            last_error: detail.last_error.clone(),
            weight: if status == Status::Up { weight } else { None },
            interval_seconds: spec.timing.interval.as_secs_f64(),
            timeout_seconds: spec.timing.timeout.as_secs_f64(),
            minimum_failures: spec.timing.minimum_failures,
            minimum_successes: spec.timing.minimum_successes,
            source: spec.timing.source,
            http,
            history: detail
                .history
                .iter()
                .map(|transition| TransitionReport {
                    at: rfc3339(transition.at),
                    from: transition.from,
                    to: transition.to,
                    reason: transition.reason.clone(),
                })
                .collect(),
        }
    }
}

impl Known {
    /// The state a stored row describes; `None` if the row is unreadable.
    pub fn from_row(row: &HealthCheckRow) -> Option<Known> {
        let status = match row.status.as_str() {
            "up" => Status::Up,
            "down" => Status::Down,
            _ => return None,
        };
        let count = |value: i64| u32::try_from(value.max(0)).unwrap_or(u32::MAX);
        Some(Known {
            status,
            failures: count(row.consecutive_failures),
            successes: count(row.consecutive_successes),
            last_probe: row
                .last_probe_at
                .and_then(|seconds| u64::try_from(seconds).ok())
                .map(|seconds| UNIX_EPOCH + Duration::from_secs(seconds)),
            latency: row
                .latency_us
                .and_then(|micros| u64::try_from(micros).ok())
                .map(Duration::from_micros),
            last_error: row.last_error.clone(),
            weight: row.weight.and_then(|weight| u32::try_from(weight).ok()),
        })
    }
}

//------------ The status word -----------------------------------------------

/// Bit set when the word carries a weight (in its low 32 bits).
const HAS_WEIGHT: u64 = 1 << 32;
/// Position of the status (0 unknown, 1 up, 2 down).
const STATUS_SHIFT: u32 = 33;

/// Packs a status and a weight into one word.
fn encode(status: Status, weight: Option<u32>) -> u64 {
    let status = match status {
        Status::Unknown => 0,
        Status::Up => 1,
        Status::Down => 2,
    };
    let weight = weight.map_or(0, |weight| HAS_WEIGHT | u64::from(weight));
    (status << STATUS_SHIFT) | weight
}

/// Unpacks a word made by [`encode`].
#[inline]
fn decode(word: u64) -> (Status, Option<u32>) {
    let status = match word >> STATUS_SHIFT {
        1 => Status::Up,
        2 => Status::Down,
        _ => Status::Unknown,
    };
    let weight = (word & HAS_WEIGHT != 0).then_some(word as u32);
    (status, weight)
}

//------------ Keys and names ------------------------------------------------

/// The store's key for `spec`: hex SHA-256 of a canonical text in which
/// every field is length-prefixed, so no two specs share it. Header
/// values go into the hash only.
pub(super) fn key(spec: &CheckSpec) -> String {
    fn field(out: &mut String, value: &str) {
        let _ = write!(out, "\n{}:{value}", value.len());
    }
    let mut text = String::from("pooldns health check v1");
    field(&mut text, &spec.address.to_string());
    match &spec.probe {
        Probe::Tcp { port } => {
            field(&mut text, "tcp");
            field(&mut text, &port.to_string());
        }
        Probe::Http(http) => {
            field(&mut text, "http");
            field(&mut text, &http.url);
            field(&mut text, if http.pinned { "pinned" } else { "resolved" });
            match &http.stringmatch {
                Some(needle) => field(&mut text, &format!("+{needle}")),
                None => field(&mut text, "-"),
            }
            field(&mut text, &http.httpcode.to_string());
            field(&mut text, &http.useragent);
            field(&mut text, &http.byteslimit.to_string());
            field(&mut text, &http.headers.len().to_string());
            for (name, value) in &http.headers {
                field(&mut text, name);
                field(&mut text, value);
            }
            field(&mut text, if http.verify_tls { "verify" } else { "no-verify" });
        }
    }
    let timing = &spec.timing;
    field(&mut text, &timing.timeout.as_nanos().to_string());
    field(&mut text, &timing.interval.as_nanos().to_string());
    field(&mut text, &timing.minimum_failures.to_string());
    field(&mut text, &timing.minimum_successes.to_string());
    field(
        &mut text,
        &timing.source.map_or(String::new(), |source| source.to_string()),
    );
    let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    data_encoding::HEXLOWER.encode(digest.as_ref())
}

/// The target as a metric label: no user information, path or query.
fn metric_target(spec: &CheckSpec) -> String {
    match &spec.probe {
        Probe::Tcp { port } => SocketAddr::new(spec.address, *port).to_string(),
        Probe::Http(http) => {
            let origin = super::url::shown_origin(&http.url);
            if http.pinned {
                format!("{origin} via {}", spec.address)
            } else {
                origin
            }
        }
    }
}

/// The target's name and the probe's kind.
fn describe(spec: &CheckSpec) -> (String, &'static str) {
    match &spec.probe {
        Probe::Tcp { port } => (SocketAddr::new(spec.address, *port).to_string(), "tcp"),
        Probe::Http(http) => {
            let shown = super::url::shown_url(&http.url);
            let kind = if shown.starts_with("https:") { "https" } else { "http" };
            if http.pinned {
                (format!("{shown} via {}", spec.address), kind)
            } else {
                (shown, kind)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;
    use crate::health::{HttpProbe, Timing};

    fn check(fall: u32, rise: u32) -> CheckState {
        let spec = CheckSpec {
            address: "192.0.2.1".parse().expect("address"),
            probe: Probe::Tcp { port: 443 },
            timing: Timing {
                minimum_failures: fall,
                minimum_successes: rise,
                ..Timing::default()
            },
        };
        CheckState::new(0, key(&spec), spec, None)
    }

    /// Feeds results (`+` success, `-` failure) and returns the status
    /// after each.
    fn run(check: &CheckState, results: &str) -> String {
        let mut out = String::new();
        for c in results.chars() {
            let result = if c == '+' { Ok(None) } else { Err("refused".to_string()) };
            let outcome = Outcome {
                result,
                latency: Duration::from_millis(1),
                at: SystemTime::now(),
            };
            check.apply(&mut lock(&check.detail), outcome);
            out.push(match check.status() {
                Status::Up => 'U',
                Status::Down => 'D',
                Status::Unknown => '?',
            });
        }
        out
    }

    #[test]
    fn first_result_decides() {
        assert_eq!(run(&check(1, 1), "-"), "D");
        assert_eq!(run(&check(1, 1), "+"), "U");
        // Unlike PowerDNS, an unreachable target is never reported up on
        // its way to the failure threshold.
        assert_eq!(run(&check(3, 1), "---"), "DDD");
        assert_eq!(run(&check(1, 3), "+"), "U");
    }

    #[test]
    fn thresholds_guard_an_established_status() {
        assert_eq!(run(&check(3, 1), "+--+---"), "UUUUUUD");
        assert_eq!(run(&check(1, 2), "-+-++"), "DDDDU");
        assert_eq!(run(&check(2, 2), "+--++-+-"), "UUDDUUUU");
    }

    #[test]
    fn stored_state_counts_as_established() {
        let spec = check(2, 1).spec;
        let known = Known {
            status: Status::Up,
            failures: 0,
            successes: 5,
            last_probe: None,
            latency: None,
            last_error: None,
            weight: Some(7),
        };
        let state = CheckState::new(0, key(&spec), spec, Some(known));
        assert_eq!(state.status(), Status::Up);
        assert_eq!(state.weight(), Some(7));
        assert_eq!(run(&state, "--"), "UD");
        assert_eq!(state.weight(), None);
    }

    #[test]
    fn words_round_trip() {
        for status in [Status::Unknown, Status::Up, Status::Down] {
            for weight in [None, Some(0), Some(1), Some(u32::MAX)] {
                assert_eq!(decode(encode(status, weight)), (status, weight));
            }
        }
    }

    #[test]
    fn keys_tell_every_field_apart() {
        let base = CheckSpec {
            address: "192.0.2.1".parse().expect("address"),
            probe: Probe::Http(HttpProbe::new("https://example.test/", true)),
            timing: Timing::default(),
        };
        let mut specs = vec![base.clone()];
        let mut with = |change: &dyn Fn(&mut CheckSpec)| {
            let mut spec = base.clone();
            change(&mut spec);
            specs.push(spec);
        };
        with(&|spec| spec.address = "192.0.2.2".parse::<IpAddr>().expect("address"));
        with(&|spec| spec.timing.interval = Duration::from_secs(9));
        with(&|spec| spec.timing.source = Some("192.0.2.9".parse().expect("address")));
        with(&|spec| {
            if let Probe::Http(http) = &mut spec.probe {
                http.headers.push(("a".into(), "b".into()));
            }
        });
        with(&|spec| {
            if let Probe::Http(http) = &mut spec.probe {
                http.headers.push(("ab".into(), String::new()));
            }
        });
        with(&|spec| {
            if let Probe::Http(http) = &mut spec.probe {
                http.stringmatch = Some(String::new());
            }
        });
        with(&|spec| spec.probe = Probe::Tcp { port: 443 });
        let keys: std::collections::HashSet<String> = specs.iter().map(key).collect();
        assert_eq!(keys.len(), specs.len());
        assert_eq!(key(&base), key(&base.clone()));
        assert_eq!(key(&base).len(), 64);
    }
}
