//! Health checks behind `ifportup`, `ifurlup` and `ifurlextup`: one
//! checker per process, probing each target on its own schedule.
//!
//! The flow:
//!
//! ```text
//! zone loader ── register(CheckSpec) ──> registry (one check per spec)
//!                    │ returns Check (held by the snapshot)
//!                    v
//! scheduler ── due? referenced? ── spawn probe (TCP connect or HTTP GET,
//!    ^                               own timeout, runs concurrently)
//!    └──────── next due = start + interval <──┘
//!                                              │ rise/fall rule
//!                                              v
//!             Check::status() <── one atomic word; store (persist task)
//! ```
//!
//! Where this differs from PowerDNS (reference §1.8 and §6), on purpose:
//!
//! * Checks are registered when a zone snapshot is built, not on the
//!   first query, and a new check is probed at once: there is no window
//!   where half the answers come from the backup group (#9529, #12557).
//! * The last known state of every check is kept in the store, so a
//!   restart starts from it instead of answering blind.
//! * Each check has its own schedule and each probe its own timeout; a
//!   slow target never delays the others (PowerDNS waits for the whole
//!   sweep). At most [`MAX_CONCURRENT_PROBES`] run at once.
//! * A check no zone snapshot refers to any more stops being probed at
//!   once and is forgotten after [`GRACE_INTERVALS`] intervals, not after
//!   an hour (#7988, #10228).
//! * Rise and fall: a check starts [`Status::Unknown`] and the first probe
//!   decides, either way; after that `minimum_failures` consecutive failures
//!   take an up check down and `minimum_successes` consecutive successes
//!   bring a down check up. PowerDNS instead reports a never-reachable
//!   target *up* after its first failed probe when `minimumFailures` ≥ 2;
//!   the thresholds here guard an established state against flapping and
//!   never invent one.
//! * Every check, its state and its recent transitions are visible in
//!   `GET /api/v1/health-checks` and `/metrics` (#15998).
//! * HTTP probes open a new connection each time (no keep-alive: a pooled
//!   connection would hide a listener that stopped accepting), ignore
//!   proxy environment variables, follow no redirect (a target must not
//!   steer probes, and the headers they carry, elsewhere), read at most
//!   [`MAX_BODY`] bytes, and verify TLS when told to (`verifyTLS`) or,
//!   unlike PowerDNS, when they carry headers or URL credentials and are
//!   not told otherwise.
//!
//! Header values of HTTP probes may hold credentials: they are sent to
//! the target and nowhere else (not logged, not reported, not persisted;
//! only a SHA-256 over the whole spec reaches the store).

mod probe;
mod schedule;
mod state;
mod url;

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use state::{CheckState, Handle};
pub use url::{url_has_credentials, validate_header, validate_url};

use crate::store::{HealthCheckRow, Store, StoreError};

/// Probe timeout used when a spec leaves it at zero (PowerDNS's default).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// User agent of HTTP probes unless the record sets one. PowerDNS's own,
/// so access-log filters and firewall rules written for it keep working.
pub const DEFAULT_USER_AGENT: &str = "PowerDNS Authoritative Server";

/// Status an HTTP probe must get unless the record sets `httpcode`.
pub const DEFAULT_HTTP_CODE: u16 = 200;

/// Body bytes an HTTP probe reads at most, whatever its `byteslimit`.
pub const MAX_BODY: u64 = 1 << 20;

/// Probes in flight at once; further due probes wait for a slot (their
/// timeout starts when they get one). Keeps a zone with thousands of
/// targets from exhausting file descriptors when they all fall due.
pub const MAX_CONCURRENT_PROBES: usize = 512;

/// Intervals an unreferenced check is kept (not probed) before it is
/// forgotten, so a zone rebuilt moments later finds it again.
pub const GRACE_INTERVALS: u32 = 3;

/// Shortest interval a check is probed at, whatever the spec says.
pub const MINIMUM_INTERVAL: Duration = Duration::from_millis(50);

/// Stored states older than this are deleted at start: too old to say
/// anything about a target.
const STORED_STATE_LIFETIME: Duration = Duration::from_secs(7 * 86_400);

//------------ Status --------------------------------------------------------

/// What is known about a target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Never probed, and nothing persisted from an earlier run.
    Unknown,
    Up,
    Down,
}

impl Status {
    /// `up`, `down` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Unknown => "unknown",
            Status::Up => "up",
            Status::Down => "down",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The checker's state for `/metrics`.
pub struct CheckerStats {
    pub checks: Vec<CheckSample>,
    pub transitions_up: u64,
    pub transitions_down: u64,
    pub probe_successes: u64,
    pub probe_failures: u64,
}

/// One check for `/metrics`.
pub struct CheckSample {
    /// Keeps apart checks of one target with different options.
    pub id: String,
    pub kind: &'static str,
    /// Address and port, or scheme, host and port (and the address a
    /// pinned check probes).
    pub target: String,
    pub status: Status,
    /// The last probe's duration.
    pub latency: Option<Duration>,
}

//------------ CheckSpec -----------------------------------------------------

/// What to probe and how often: equal specs share one check.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CheckSpec {
    /// The address a LUA record may return. For an unpinned HTTP probe
    /// (`ifurlextup`) it is not part of the check and is ignored.
    pub address: IpAddr,
    pub probe: Probe,
    pub timing: Timing,
}

/// How a target is probed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Probe {
    /// `ifportup`: a TCP connection to address:port is established
    /// within the timeout; nothing is sent.
    Tcp { port: u16 },
    /// `ifurlup` (pinned) and `ifurlextup` (not pinned): an HTTP GET.
    Http(HttpProbe),
}

/// An HTTP(S) GET and what its answer must look like.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HttpProbe {
    /// `http://` or `https://` URL.
    pub url: String,
    /// Whether the connection goes to [`CheckSpec::address`] (`ifurlup`;
    /// the Host header and TLS SNI stay the URL's host) or to whatever
    /// the URL's host resolves to (`ifurlextup`). A pinned URL whose host
    /// is an IP literal is fetched from `address` too.
    pub pinned: bool,
    /// The body read must contain this.
    pub stringmatch: Option<String>,
    /// The final status (after redirects) must be exactly this.
    pub httpcode: u16,
    pub useragent: String,
    /// Bytes of body read at most, 0 for no limit. A body cut short still
    /// counts, and `stringmatch` looks at what was read.
    pub byteslimit: u64,
    /// Extra request headers. Their values are never logged or shown.
    pub headers: Vec<(String, String)>,
    /// Whether the server's certificate must be valid for the URL's host
    /// (against the Mozilla roots bundled with the binary). Off by
    /// default, as in PowerDNS.
    pub verify_tls: bool,
}

impl HttpProbe {
    /// A GET of `url` with PowerDNS's defaults: status 200, any body, its
    /// user agent, no extra header, no TLS verification.
    pub fn new(url: impl Into<String>, pinned: bool) -> HttpProbe {
        HttpProbe {
            url: url.into(),
            pinned,
            stringmatch: None,
            httpcode: DEFAULT_HTTP_CODE,
            useragent: DEFAULT_USER_AGENT.to_string(),
            byteslimit: 0,
            headers: Vec::new(),
            verify_tls: false,
        }
    }

    /// Checks what can be checked before probing: the URL (see
    /// [`validate_url`]) and the header names and values.
    pub fn validate(&self) -> Result<(), String> {
        validate_url(&self.url)?;
        for (name, value) in &self.headers {
            url::header(name, value)?;
        }
        Ok(())
    }
}

/// When to probe and how results turn into a status.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Timing {
    /// Per probe, connection and transfer together; zero means
    /// [`DEFAULT_TIMEOUT`].
    pub timeout: Duration,
    /// From one probe's start to the next; zero means the checker's
    /// default interval. Never below [`MINIMUM_INTERVAL`].
    pub interval: Duration,
    /// Consecutive failures that take an up check down (0 counts as 1).
    pub minimum_failures: u32,
    /// Consecutive successes that bring a down check up (0 counts as 1).
    pub minimum_successes: u32,
    /// Local address probes are sent from.
    pub source: Option<IpAddr>,
}

impl Default for Timing {
    /// PowerDNS's defaults: 2 s timeout, the global interval, one failure
    /// or success decides.
    fn default() -> Timing {
        Timing {
            timeout: DEFAULT_TIMEOUT,
            interval: Duration::ZERO,
            minimum_failures: 1,
            minimum_successes: 1,
            source: None,
        }
    }
}

//------------ Check ---------------------------------------------------------

/// A zone snapshot's hold on one check. While any clone exists the check
/// is probed; reading its state takes one atomic load.
#[derive(Clone)]
pub struct Check(Arc<Handle>);

impl Check {
    /// The target's status as of the last probe.
    #[inline]
    pub fn status(&self) -> Status {
        self.0.state().status()
    }

    /// The weight an up HTTP target reported: its body, read as an
    /// unsigned integer (surrounding whitespace allowed), for
    /// `pickselfweighted`. `None` when the check is not up, is a TCP check,
    /// or the body was not a number. 0 is passed on as is.
    #[inline]
    pub fn weight(&self) -> Option<u32> {
        self.0.state().weight()
    }

    /// The check's `id` in the API and metrics.
    pub fn id(&self) -> String {
        self.0.state().id_label()
    }

    /// The spec as the checker keeps it (zero fields replaced by their
    /// defaults, the address cleared when it is not part of the probe).
    pub fn spec(&self) -> &CheckSpec {
        &self.0.state().spec
    }
}

impl std::fmt::Debug for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Check")
            .field("target", &self.0.state().target)
            .field("status", &self.status())
            .finish()
    }
}

//------------ CheckReport ---------------------------------------------------

/// One check as `GET /api/v1/health-checks` shows it. Header values are
/// left out: only their names appear.
#[derive(Clone, Debug, Serialize)]
pub struct CheckReport {
    /// Stable identifier: the start of the SHA-256 of the spec, also the
    /// `id` label in `/metrics`.
    pub id: String,
    /// `192.0.2.1:443`, `https://host/path via 192.0.2.1` or the URL.
    pub target: String,
    /// `tcp`, `http` or `https`.
    pub kind: &'static str,
    /// The URL of HTTP checks, without any password it carries.
    pub url: Option<String>,
    /// The address probed; absent for unpinned HTTP checks.
    pub address: Option<IpAddr>,
    /// The port connected to (the URL's, or its scheme's default).
    pub port: Option<u16>,
    pub status: Status,
    /// False once no zone refers to the check: it is no longer probed
    /// and will be forgotten.
    pub in_use: bool,
    pub consecutive_failures: u32,
    pub consecutive_successes: u32,
    /// RFC 3339, UTC.
    pub last_probe: Option<String>,
    /// When the status last changed (RFC 3339, UTC), if this process saw it.
    pub last_change: Option<String>,
    /// Duration of the last probe.
    pub latency_ms: Option<f64>,
    /// Why the last failed probe failed; cleared by a success.
    pub last_error: Option<String>,
    pub weight: Option<u32>,
    pub interval_seconds: f64,
    pub timeout_seconds: f64,
    pub minimum_failures: u32,
    pub minimum_successes: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpReport>,
    /// The latest status changes seen by this process, oldest first.
    pub history: Vec<TransitionReport>,
}

/// The HTTP options of a check, header values left out.
#[derive(Clone, Debug, Serialize)]
pub struct HttpReport {
    pub pinned: bool,
    pub httpcode: u16,
    pub stringmatch: Option<String>,
    pub byteslimit: u64,
    pub useragent: String,
    pub verify_tls: bool,
    pub header_names: Vec<String>,
}

/// One status change.
#[derive(Clone, Debug, Serialize)]
pub struct TransitionReport {
    /// RFC 3339, UTC.
    pub at: String,
    pub from: Status,
    pub to: Status,
    pub reason: String,
}

//------------ HealthChecker -------------------------------------------------

/// The process-wide checker; cheap to clone.
#[derive(Clone)]
pub struct HealthChecker {
    shared: Arc<Shared>,
}

/// What the checker's clones, its scheduler and its probes share.
struct Shared {
    registry: Mutex<Registry>,
    /// Wakes the scheduler: a check was registered or came back into use.
    wake: tokio::sync::Notify,
    default_interval: Duration,
    store: Option<Store>,
    /// States waiting to be written, by key; newer replace older.
    unsaved: Mutex<HashMap<String, HealthCheckRow>>,
    /// Wakes the persist task.
    save: tokio::sync::Notify,
    started: AtomicBool,
    transitions_up: AtomicU64,
    transitions_down: AtomicU64,
    /// Counts every change of any check's status, for those who recompute
    /// what depends on them.
    changes: tokio::sync::watch::Sender<u64>,
    probe_successes: AtomicU64,
    probe_failures: AtomicU64,
}

/// Every check, by spec.
#[derive(Default)]
struct Registry {
    checks: HashMap<CheckSpec, Entry>,
    /// Checks the scheduler has not seen yet.
    new: Vec<Arc<CheckState>>,
    /// States from the store (or of forgotten checks), by key, waiting for
    /// their spec to be registered.
    known: HashMap<String, state::Known>,
    next_id: u64,
}

/// A registered check.
struct Entry {
    state: Arc<CheckState>,
    /// The snapshots' handle, dead once the last [`Check`] is dropped.
    handle: Weak<Handle>,
}

impl HealthChecker {
    /// A checker that keeps states in `store` (loading those of an
    /// earlier run) and probes every `default_interval` unless a spec
    /// says otherwise. Stored states older than a week are deleted.
    pub async fn new(store: Option<Store>, default_interval: Duration) -> Result<HealthChecker, StoreError> {
        let mut known = HashMap::new();
        if let Some(store) = &store {
            let cutoff = SystemTime::now()
                .checked_sub(STORED_STATE_LIFETIME)
                .map_or(0, unix_seconds);
            let pruned = store.prune_health_checks(cutoff).await?;
            if pruned > 0 {
                tracing::info!(pruned, "stale health check states deleted");
            }
            for row in store.health_checks().await? {
                match state::Known::from_row(&row) {
                    Some(state) => {
                        known.insert(row.key, state);
                    }
                    None => tracing::warn!(key = %row.key, status = %row.status, "stored health check state ignored"),
                }
            }
            tracing::info!(states = known.len(), "health check states loaded");
        }
        Ok(HealthChecker {
            shared: Arc::new(Shared {
                registry: Mutex::new(Registry {
                    known,
                    ..Registry::default()
                }),
                wake: tokio::sync::Notify::new(),
                default_interval: default_interval.max(MINIMUM_INTERVAL),
                store,
                unsaved: Mutex::new(HashMap::new()),
                save: tokio::sync::Notify::new(),
                started: AtomicBool::new(false),
                transitions_up: AtomicU64::new(0),
                transitions_down: AtomicU64::new(0),
                changes: tokio::sync::watch::Sender::new(0),
                probe_successes: AtomicU64::new(0),
                probe_failures: AtomicU64::new(0),
            }),
        })
    }

    /// Changes whenever a check's status changes.
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.shared.changes.subscribe()
    }

    /// The interval of specs that leave it at zero.
    pub fn default_interval(&self) -> Duration {
        self.shared.default_interval
    }

    /// Starts probing on the current runtime: the scheduler, the probes it
    /// spawns and the task writing states to the store. They stop once
    /// `shutdown` is set (within a quarter second); states not yet written
    /// are written first. Calling it again returns a task that does nothing.
    pub fn start(&self, shutdown: Arc<AtomicBool>) -> tokio::task::JoinHandle<()> {
        if self.shared.started.swap(true, Ordering::SeqCst) {
            tracing::warn!("health checker already started");
            return tokio::spawn(async {});
        }
        tokio::spawn(schedule::run(self.shared.clone(), shutdown))
    }

    /// The check of `spec` if one is registered and in use; registers
    /// none.
    pub fn existing(&self, spec: CheckSpec) -> Option<Check> {
        let spec = self.normalize(spec);
        let registry = lock(&self.shared.registry);
        registry.checks.get(&spec)?.handle.upgrade().map(Check)
    }

    /// The check for `spec`, created on first registration (and then
    /// probed at once, or as soon as [`HealthChecker::start`] runs). Its
    /// initial state is the stored one if there is one, else
    /// [`Status::Unknown`]. Does not block on I/O; callable outside a
    /// runtime.
    pub fn register(&self, spec: CheckSpec) -> Check {
        let spec = self.normalize(spec);
        let mut registry = lock(&self.shared.registry);
        if let Some(entry) = registry.checks.get_mut(&spec) {
            if let Some(handle) = entry.handle.upgrade() {
                return Check(handle);
            }
            // Back in use: the scheduler notices the live handle.
            let handle = Handle::new(entry.state.clone());
            entry.handle = Arc::downgrade(&handle);
            drop(registry);
            self.shared.wake.notify_one();
            return Check(handle);
        }
        let id = registry.next_id;
        registry.next_id += 1;
        let key = state::key(&spec);
        let known = registry.known.remove(&key);
        let state = Arc::new(CheckState::new(id, key, spec.clone(), known));
        let handle = Handle::new(state.clone());
        registry.new.push(state.clone());
        registry.checks.insert(
            spec,
            Entry {
                state,
                handle: Arc::downgrade(&handle),
            },
        );
        drop(registry);
        self.shared.wake.notify_one();
        Check(handle)
    }

    /// Every check with its state, by target.
    pub fn list(&self) -> Vec<CheckReport> {
        let states: Vec<(Arc<CheckState>, bool)> = {
            let registry = lock(&self.shared.registry);
            registry
                .checks
                .values()
                .map(|entry| (entry.state.clone(), entry.handle.strong_count() > 0))
                .collect()
        };
        let mut reports: Vec<CheckReport> = states.iter().map(|(state, in_use)| state.report(*in_use)).collect();
        reports.sort_by(|a, b| a.target.cmp(&b.target).then_with(|| a.id.cmp(&b.id)));
        reports
    }

    /// What `/metrics` shows of the checker. A check's target there is
    /// its address, or its URL's scheme, host and port: paths and query
    /// strings may carry tokens, and labels are no place for them.
    pub fn stats(&self) -> CheckerStats {
        let states: Vec<Arc<CheckState>> = {
            let registry = lock(&self.shared.registry);
            registry.checks.values().map(|entry| entry.state.clone()).collect()
        };
        let mut checks: Vec<CheckSample> = states
            .iter()
            .map(|state| CheckSample {
                id: state.id_label(),
                kind: state.kind,
                target: state.metric_target(),
                status: state.status(),
                latency: lock(&state.detail).latency,
            })
            .collect();
        checks.sort_by(|a, b| (&a.target, &a.id).cmp(&(&b.target, &b.id)));
        let shared = &self.shared;
        CheckerStats {
            checks,
            transitions_up: shared.transitions_up.load(Ordering::Relaxed),
            transitions_down: shared.transitions_down.load(Ordering::Relaxed),
            probe_successes: shared.probe_successes.load(Ordering::Relaxed),
            probe_failures: shared.probe_failures.load(Ordering::Relaxed),
        }
    }

    /// Fills in defaults and drops what is not part of the probe, so that
    /// specs that probe alike compare equal.
    fn normalize(&self, mut spec: CheckSpec) -> CheckSpec {
        let timing = &mut spec.timing;
        if timing.timeout.is_zero() {
            timing.timeout = DEFAULT_TIMEOUT;
        }
        if timing.interval.is_zero() {
            timing.interval = self.shared.default_interval;
        }
        timing.interval = timing.interval.max(MINIMUM_INTERVAL);
        timing.minimum_failures = timing.minimum_failures.max(1);
        timing.minimum_successes = timing.minimum_successes.max(1);
        if let Probe::Http(http) = &spec.probe {
            if !http.pinned {
                spec.address = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
            }
        }
        spec
    }
}

impl Shared {
    /// Takes the result of one probe into the check's state: counters,
    /// status, log line and counters on a change, and the store.
    fn record(&self, state: &CheckState, outcome: state::Outcome) {
        let success = outcome.result.is_ok();
        if success {
            self.probe_successes.fetch_add(1, Ordering::Relaxed);
        } else {
            self.probe_failures.fetch_add(1, Ordering::Relaxed);
        }
        let mut detail = lock(&state.detail);
        let change = state.apply(&mut detail, outcome);
        if let Some(change) = &change {
            match change.to {
                Status::Up => self.transitions_up.fetch_add(1, Ordering::Relaxed),
                _ => self.transitions_down.fetch_add(1, Ordering::Relaxed),
            };
            self.changes.send_modify(|count| *count += 1);
            tracing::info!(
                target = %state.target,
                id = %state.id_label(),
                from = %change.from,
                to = %change.to,
                reason = %change.reason,
                "health check {}",
                change.to
            );
        } else {
            tracing::debug!(target = %state.target, status = %state.status(), ok = success, "probe done");
        }
        if self.store.is_none() {
            return;
        }
        let due = detail
            .saved_at
            .is_none_or(|saved| saved.elapsed() >= schedule::SAVE_INTERVAL);
        if change.is_some() || due {
            detail.saved_at = Some(std::time::Instant::now());
            let row = state.row(&detail);
            drop(detail);
            lock(&self.unsaved).insert(row.key.clone(), row);
            self.save.notify_one();
        }
    }

    /// Forgets `state` if it is still unreferenced, keeping what it knew
    /// for a later registration of the same spec. Returns whether it did.
    fn forget(&self, state: &Arc<CheckState>) -> bool {
        let mut registry = lock(&self.registry);
        let Some(entry) = registry.checks.get(&state.spec) else {
            return true;
        };
        if entry.handle.strong_count() > 0 || !Arc::ptr_eq(&entry.state, state) {
            return false;
        }
        registry.checks.remove(&state.spec);
        if let Some(known) = state.known() {
            registry.known.insert(state.key.clone(), known);
        }
        tracing::debug!(target = %state.target, "unused health check forgotten");
        true
    }

    /// Checks registered since the last call.
    fn take_new(&self) -> Vec<Arc<CheckState>> {
        std::mem::take(&mut lock(&self.registry).new)
    }
}

/// Locks `mutex`, ignoring poisoning: every critical section here leaves
/// consistent data behind even if a panic cuts it short.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Seconds since the Unix epoch.
fn unix_seconds(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64)
}

/// `time` as RFC 3339 in UTC, to the second.
fn rfc3339(time: SystemTime) -> String {
    let (year, month, day, hour, minute, second) = base::time::civil(unix_seconds(time));
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z")
}

/// Kept for the transition history of one check.
const MAX_HISTORY: usize = 8;

/// Appends `item`, dropping the oldest beyond [`MAX_HISTORY`].
fn push_bounded<T>(history: &mut VecDeque<T>, item: T) {
    if history.len() == MAX_HISTORY {
        history.pop_front();
    }
    history.push_back(item);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let leap_day = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(rfc3339(leap_day), "2000-02-29T00:00:00Z");
        let after = UNIX_EPOCH + Duration::from_secs(951_868_800 + 3_723);
        assert_eq!(rfc3339(after), "2000-03-01T01:02:03Z");
        let late = UNIX_EPOCH + Duration::from_secs(4_102_444_799);
        assert_eq!(rfc3339(late), "2099-12-31T23:59:59Z");
    }

    #[test]
    fn registration_needs_no_runtime() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let checker = runtime
            .block_on(HealthChecker::new(None, Duration::from_secs(5)))
            .expect("checker");
        let spec = |address: &str, interval: Duration| CheckSpec {
            address: address.parse().expect("address"),
            probe: Probe::Http(HttpProbe::new("https://example.test/", false)),
            timing: Timing {
                interval,
                ..Timing::default()
            },
        };
        // Unpinned: the address is not part of the check; a zero interval
        // is the default one.
        let first = checker.register(spec("192.0.2.1", Duration::ZERO));
        let second = checker.register(spec("192.0.2.2", Duration::from_secs(5)));
        assert_eq!(first.id(), second.id());
        assert_eq!(checker.list().len(), 1);
        assert_eq!(first.status(), Status::Unknown);
        assert_eq!(first.weight(), None);
        assert_eq!(first.spec().timing.timeout, DEFAULT_TIMEOUT);
        let other = checker.register(spec("192.0.2.1", Duration::from_secs(6)));
        assert_ne!(first.id(), other.id());
        assert_eq!(checker.list().len(), 2);
    }

    #[test]
    fn http_probes_are_validated_without_echoing_secrets() {
        let mut probe = HttpProbe::new("https://example.test/health", true);
        probe.headers.push(("Authorization".into(), "Bearer s3cret".into()));
        assert_eq!(probe.validate(), Ok(()));
        probe.headers.push(("X-Bad".into(), "s3cret\r\nInjected: 1".into()));
        let error = probe.validate().expect_err("bad header value");
        assert!(error.contains("X-Bad") && !error.contains("s3cret"), "{error}");
        assert!(HttpProbe::new("gopher://example.test/", true).validate().is_err());
    }
}
