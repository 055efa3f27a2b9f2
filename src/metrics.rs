//! Query counters and answer latency (rendered by `api::metrics`).
//!
//! Each listener thread counts into its own [`Shard`] with relaxed atomic
//! adds, so the answer path shares no cache line with other threads; a
//! scrape sums the shards.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base::header::rcode;
use base::types;

use crate::answer::Summary;

/// Query types counted under their own label; the rest count as "other".
const QTYPES: [u16; 16] = [
    types::A,
    types::NS,
    types::CNAME,
    types::SOA,
    types::PTR,
    types::MX,
    types::TXT,
    types::AAAA,
    types::SRV,
    types::DS,
    types::DNSKEY,
    types::SVCB,
    types::HTTPS,
    types::CAA,
    types::ANY,
    types::DNAME,
];
const QTYPE_SLOTS: usize = QTYPES.len() + 1;

/// RCODEs counted under their own label; the rest count as "OTHER".
const RCODES: [u16; 9] = [
    rcode::NOERROR,
    rcode::FORMERR,
    rcode::SERVFAIL,
    rcode::NXDOMAIN,
    rcode::NOTIMP,
    rcode::REFUSED,
    rcode::YXDOMAIN,
    rcode::NOTAUTH,
    rcode::BADVERS,
];
const RCODE_SLOTS: usize = RCODES.len() + 1;

/// Upper bounds of the latency histogram buckets, in seconds.
const LATENCY_BOUNDS: [f64; 12] = [
    0.000_005, 0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.1,
];

/// All metrics of one process.
pub struct Metrics {
    shards: Mutex<Vec<Arc<Shard>>>,
    started: std::time::Instant,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics {
            shards: Mutex::default(),
            started: std::time::Instant::now(),
        }
    }
}

/// What is done with a response over the rate limit, as `/metrics` labels.
pub const RATE_LIMIT_ACTIONS: [&str; 3] = ["dropped", "slipped", "logged"];

/// The counters of one listener thread.
pub struct Shard {
    queries: [[AtomicU64; QTYPE_SLOTS]; RCODE_SLOTS],
    truncated: AtomicU64,
    /// Cumulative counts are computed at render time; these are per bucket,
    /// the last one for answers slower than every bound.
    latency: [AtomicU64; LATENCY_BOUNDS.len() + 1],
    latency_sum_ns: AtomicU64,
    dropped: AtomicU64,
    /// Responses over the rate limit: dropped, sent truncated (slipped),
    /// and sent anyway in log-only mode.
    rate_limited: [AtomicU64; 3],
}

impl Metrics {
    /// Metrics with no shard yet.
    pub fn new() -> Arc<Metrics> {
        Arc::new(Metrics::default())
    }

    /// How long since the metrics (and the server) started.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// A new shard for one more listener thread.
    pub fn shard(&self) -> Arc<Shard> {
        let shard = Arc::new(Shard {
            queries: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))),
            truncated: AtomicU64::new(0),
            latency: std::array::from_fn(|_| AtomicU64::new(0)),
            latency_sum_ns: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            rate_limited: std::array::from_fn(|_| AtomicU64::new(0)),
        });
        self.shards
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(shard.clone());
        shard
    }

    /// The counters summed over every shard.
    pub fn totals(&self) -> Totals {
        let shards = self
            .shards
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        let sum = |get: &dyn Fn(&Shard) -> &AtomicU64| -> u64 {
            shards.iter().map(|shard| get(shard).load(Ordering::Relaxed)).sum()
        };
        let mut queries = Vec::new();
        for (r, rcode_label) in rcode_labels().enumerate() {
            for (t, qtype_label) in qtype_labels().enumerate() {
                let count = sum(&|shard| &shard.queries[r][t]);
                if count > 0 {
                    queries.push((rcode_label, qtype_label.clone(), count));
                }
            }
        }
        let mut latency_buckets = Vec::with_capacity(LATENCY_BOUNDS.len() + 1);
        let mut cumulative = 0;
        for (i, bound) in LATENCY_BOUNDS.iter().enumerate() {
            cumulative += sum(&|shard| &shard.latency[i]);
            latency_buckets.push((bound.to_string(), cumulative));
        }
        cumulative += sum(&|shard| &shard.latency[LATENCY_BOUNDS.len()]);
        latency_buckets.push(("+Inf".to_string(), cumulative));
        Totals {
            queries,
            truncated: sum(&|shard| &shard.truncated),
            dropped: sum(&|shard| &shard.dropped),
            rate_limited: std::array::from_fn(|action| sum(&|shard| &shard.rate_limited[action])),
            latency_buckets,
            latency_seconds: sum(&|shard| &shard.latency_sum_ns) as f64 / 1e9,
        }
    }
}

/// The query counters of the whole process.
pub struct Totals {
    /// (RCODE, query type, messages), non-zero counts only.
    pub queries: Vec<(&'static str, String, u64)>,
    pub truncated: u64,
    pub dropped: u64,
    /// Responses over the rate limit, by [`RATE_LIMIT_ACTIONS`].
    pub rate_limited: [u64; 3],
    /// (upper bound, cumulative count), the last bound `+Inf`.
    pub latency_buckets: Vec<(String, u64)>,
    pub latency_seconds: f64,
}

impl Shard {
    /// Counts one answered message.
    pub fn record(&self, outcome: &Summary, elapsed: Duration) {
        let r = RCODES.iter().position(|&r| r == outcome.rcode).unwrap_or(RCODES.len());
        let t = QTYPES.iter().position(|&t| t == outcome.qtype).unwrap_or(QTYPES.len());
        self.queries[r][t].fetch_add(1, Ordering::Relaxed);
        if outcome.truncated {
            self.truncated.fetch_add(1, Ordering::Relaxed);
        }
        let seconds = elapsed.as_secs_f64();
        let bucket = LATENCY_BOUNDS
            .iter()
            .position(|&bound| seconds <= bound)
            .unwrap_or(LATENCY_BOUNDS.len());
        self.latency[bucket].fetch_add(1, Ordering::Relaxed);
        self.latency_sum_ns
            .fetch_add(elapsed.as_nanos() as u64, Ordering::Relaxed);
    }

    /// Counts one message dropped without a reply.
    pub fn record_drop(&self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one response over the rate limit, by what was done with it:
    /// an index of [`RATE_LIMIT_ACTIONS`].
    pub fn record_rate_limited(&self, action: usize) {
        self.rate_limited[action].fetch_add(1, Ordering::Relaxed);
    }
}

fn rcode_labels() -> impl Iterator<Item = &'static str> {
    RCODES.iter().map(|&r| rcode::name(r)).chain(["OTHER"])
}

fn qtype_labels() -> impl Iterator<Item = String> {
    QTYPES
        .iter()
        .map(|&t| types::type_to_string(t))
        .chain(["other".to_string()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_shards_into_counts_and_histogram() {
        let metrics = Metrics::new();
        let shard = metrics.shard();
        let outcome = Summary {
            rcode: rcode::NXDOMAIN,
            qtype: types::AAAA,
            truncated: false,
            wildcard: false,
            valid_cookie: false,
        };
        shard.record(&outcome, Duration::from_micros(30));
        metrics.shard().record(&outcome, Duration::from_secs(1));
        let totals = metrics.totals();
        assert_eq!(totals.queries, [("NXDOMAIN", "AAAA".to_string(), 2)]);
        let bucket = |bound: &str| totals.latency_buckets.iter().find(|(b, _)| b == bound).map(|(_, n)| *n);
        assert_eq!(bucket("0.00005"), Some(1));
        assert_eq!(bucket("+Inf"), Some(2));
    }
}
