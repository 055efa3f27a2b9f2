//! The scheduler and the persist task.
//!
//! The scheduler keeps every check it knows in exactly one place: a queue
//! ordered by due time, the set of probes in flight, or the parked list of
//! checks no snapshot holds. A due check that is still referenced gets a
//! probe task of its own; when the task ends the check goes back into the
//! queue one interval after the probe started (or at once, if the probe
//! outlasted its interval: probes of one check never overlap). A parked
//! check that is registered again goes back into the queue; one that stays
//! unreferenced for [`GRACE_INTERVALS`] intervals is forgotten.
//!
//! States reach the store through the persist task, so a slow or failing
//! store never holds up a probe.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::state::{CheckState, Outcome};
use super::{lock, probe, Shared, GRACE_INTERVALS, MAX_CONCURRENT_PROBES};
use crate::store::{HealthCheckRow, Store};

/// A check's state is written at least this often while it changes, and
/// at once when its status changes.
pub(super) const SAVE_INTERVAL: Duration = Duration::from_secs(60);

/// Longest the scheduler sleeps, so it notices a shutdown promptly.
const TICK: Duration = Duration::from_millis(250);

/// Time given to more states to arrive before a write, so one
/// transaction carries several.
const SAVE_BATCH_DELAY: Duration = Duration::from_millis(200);

/// Wait after a failed write before the next attempt.
const SAVE_RETRY: Duration = Duration::from_secs(5);

/// Longest a write may take before it counts as failed.
const SAVE_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest share of its interval by which a check's second probe comes
/// early, so checks registered together do not stay in lockstep.
const SPREAD_PERCENT: u32 = 20;

/// Runs the scheduler until `shutdown` is set, then writes what is left
/// to the store.
pub(super) async fn run(shared: Arc<Shared>, shutdown: Arc<AtomicBool>) {
    let stop = Arc::new(AtomicBool::new(false));
    let saver = shared
        .store
        .clone()
        .map(|store| tokio::spawn(save(shared.clone(), store, stop.clone())));
    schedule(&shared, &shutdown).await;
    if let Some(saver) = saver {
        stop.store(true, Ordering::Relaxed);
        shared.save.notify_one();
        let _ = saver.await;
    }
    tracing::debug!("health checker stopped");
}

/// Probes every check in use when it falls due.
async fn schedule(shared: &Arc<Shared>, shutdown: &AtomicBool) {
    let slots = Arc::new(Semaphore::new(MAX_CONCURRENT_PROBES));
    let mut queue: BTreeMap<(Instant, u64), Arc<CheckState>> = BTreeMap::new();
    let mut parked: Vec<(Instant, Arc<CheckState>)> = Vec::new();
    let mut probes: JoinSet<()> = JoinSet::new();
    // The check each probe task is for, and when it was launched.
    let mut in_flight: HashMap<tokio::task::Id, (Arc<CheckState>, Instant)> = HashMap::new();
    while !shutdown.load(Ordering::Relaxed) {
        let now = Instant::now();
        for state in shared.take_new() {
            queue.insert((now, state.id), state);
        }
        while let Some(entry) = queue.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let state = entry.remove();
            if !state.is_referenced() {
                tracing::debug!(target = %state.target, "health check no longer in use: not probed");
                parked.push((now, state));
                continue;
            }
            let task = probe_task(shared.clone(), state.clone(), slots.clone());
            let task = probes.spawn(task);
            in_flight.insert(task.id(), (state, now));
        }
        parked.retain(|(since, state)| {
            if state.is_referenced() {
                queue.insert((now, state.id), state.clone());
                return false;
            }
            let grace = state.spec.timing.interval * GRACE_INTERVALS;
            if now.duration_since(*since) < grace {
                return true;
            }
            if !shared.forget(state) {
                // Registered again just now.
                queue.insert((now, state.id), state.clone());
            }
            false
        });
        let deadline = queue
            .first_key_value()
            .map_or(now + TICK, |((due, _), _)| (*due).min(now + TICK));
        tokio::select! {
            Some(done) = probes.join_next_with_id() => {
                let id = match done {
                    Ok((id, ())) => id,
                    Err(error) => {
                        tracing::error!(%error, "health probe task failed");
                        error.id()
                    }
                };
                if let Some((state, launched)) = in_flight.remove(&id) {
                    let due = next_due(&state, launched);
                    queue.insert((due, state.id), state);
                }
            }
            () = shared.wake.notified() => {}
            () = tokio::time::sleep_until(deadline.into()) => {}
        }
    }
    probes.shutdown().await;
}

/// Probes once (when a slot is free) and records the outcome.
async fn probe_task(shared: Arc<Shared>, state: Arc<CheckState>, slots: Arc<Semaphore>) {
    let Ok(_slot) = slots.acquire_owned().await else {
        return;
    };
    let at = SystemTime::now();
    let started = Instant::now();
    let result = probe::run(&state).await;
    let outcome = Outcome {
        result,
        latency: started.elapsed(),
        at,
    };
    shared.record(&state, outcome);
}

/// When the check whose probe was launched at `launched` is due again:
/// an interval later, a little earlier after its first probe (see
/// [`SPREAD_PERCENT`]), and not before now.
fn next_due(state: &CheckState, launched: Instant) -> Instant {
    let interval = state.spec.timing.interval;
    let mut due = launched + interval;
    if lock(&state.detail).probes == 1 {
        // The key is a SHA-256: its first byte is as good as random.
        let byte = u32::from(u8::from_str_radix(&state.key[..2], 16).unwrap_or(0));
        let early = interval * SPREAD_PERCENT / 100 * byte / 256;
        due -= early;
    }
    due.max(Instant::now())
}

/// Writes the states probes leave in `shared.unsaved`, until `stop` is
/// set; then writes what is left once more and returns.
async fn save(shared: Arc<Shared>, store: Store, stop: Arc<AtomicBool>) {
    let mut failing = false;
    loop {
        shared.save.notified().await;
        let stopping = stop.load(Ordering::Relaxed);
        if !stopping {
            tokio::time::sleep(SAVE_BATCH_DELAY).await;
        }
        let rows: Vec<HealthCheckRow> = std::mem::take(&mut *lock(&shared.unsaved)).into_values().collect();
        if !rows.is_empty() {
            let error = match tokio::time::timeout(SAVE_TIMEOUT, store.save_health_checks(&rows)).await {
                Ok(Ok(())) => None,
                Ok(Err(error)) => Some(error.to_string()),
                Err(_) => Some(format!("no answer within {} s", SAVE_TIMEOUT.as_secs())),
            };
            match error {
                None if failing => {
                    tracing::info!(states = rows.len(), "health check states saved again");
                    failing = false;
                }
                None => {}
                Some(error) => {
                    if failing {
                        tracing::debug!(%error, "health check states still not saved");
                    } else {
                        tracing::warn!(%error, "health check states not saved; probing goes on, retrying");
                        failing = true;
                    }
                    if !stopping {
                        {
                            let mut unsaved = lock(&shared.unsaved);
                            for row in rows {
                                unsaved.entry(row.key.clone()).or_insert(row);
                            }
                        }
                        let waited = Instant::now();
                        while waited.elapsed() < SAVE_RETRY && !stop.load(Ordering::Relaxed) {
                            tokio::time::sleep(TICK).await;
                        }
                        shared.save.notify_one();
                    }
                }
            }
        }
        if stopping {
            return;
        }
    }
}
