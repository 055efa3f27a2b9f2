//! ALIAS targets resolved in the background (PowerDNS's `resolver` with
//! `expand-alias`).
//!
//! An `ALIAS` record answers A and AAAA queries with its target's
//! addresses. The answer path never waits for a resolver: each target
//! (name and type) is one [`Target`] whose current addresses it reads
//! without a lock. One task asks the configured resolver for every target
//! a served snapshot holds, keeps the answer for its TTL and asks again
//! before that runs out. A target never resolved, or whose last answer
//! expired while the resolver failed, answers SERVFAIL, as PowerDNS does.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use base::rdata::list;
use base::types;
use tokio::sync::Notify;
use tokio::time::Instant;

/// How long one question to the resolver may take.
const QUERY_TIMEOUT: Duration = Duration::from_secs(2);
/// How soon a failed resolution is tried again.
const RETRY: Duration = Duration::from_secs(5);
/// The shortest and longest time an answer is kept: a zero TTL must not
/// turn into a query loop, nor a week-long one into stale data.
const MIN_TTL: u64 = 5;
const MAX_TTL: u64 = 86_400;
/// Targets asked at once.
const CONCURRENCY: usize = 32;

/// The process's ALIAS targets and the task that resolves them. Cheap to
/// clone.
#[derive(Clone)]
pub struct Aliases {
    inner: Arc<Inner>,
}

struct Inner {
    resolver: SocketAddr,
    /// Every target some snapshot holds; snapshots own them, so a target
    /// no snapshot uses any more is dropped and no longer asked for.
    targets: Mutex<HashMap<(String, u16), Weak<Target>>>,
    /// Woken when a new target appears.
    added: Notify,
    /// Woken after every resolution, for [`Aliases::settle`].
    resolved: Notify,
    /// Counts the rounds of resolutions in which some target's answer
    /// changed: what secondaries were sent may be out of date.
    moved: tokio::sync::watch::Sender<u64>,
}

/// One target name and type: the addresses it has now.
pub struct Target {
    /// Lowercased, with the trailing dot.
    name: String,
    rtype: u16,
    /// RDATA list (see [`base::rdata::list`]); `None` while unresolved.
    answer: ArcSwapOption<Vec<u8>>,
    /// Whether one resolution was tried.
    tried: AtomicBool,
    schedule: Mutex<Schedule>,
}

#[derive(Clone, Copy)]
struct Schedule {
    /// When to ask again.
    refresh: Instant,
    /// When the current answer stops being served; `None` without one.
    expires: Option<Instant>,
    /// Whether the last resolution failed (logged once per failure run).
    failing: bool,
}

/// The target has no answer to give: never resolved, or expired while the
/// resolver failed.
#[derive(Debug, thiserror::Error)]
#[error("ALIAS target {0} is not resolved")]
pub struct Unresolved(pub String);

impl Target {
    /// The target's name, lowercased with the trailing dot.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Appends the target's current RDATA to `out` (an RDATA list); no
    /// record when the target has none of this type.
    pub fn answer(&self, out: &mut Vec<u8>) -> Result<(), Unresolved> {
        match &*self.answer.load() {
            Some(records) => {
                out.extend_from_slice(records);
                Ok(())
            }
            None => Err(Unresolved(self.name.clone())),
        }
    }
}

impl Aliases {
    /// Targets resolved through the recursive resolver at `resolver`.
    pub fn new(resolver: SocketAddr) -> Aliases {
        Aliases {
            inner: Arc::new(Inner {
                resolver,
                targets: Mutex::new(HashMap::new()),
                added: Notify::new(),
                resolved: Notify::new(),
                moved: tokio::sync::watch::Sender::new(0),
            }),
        }
    }

    /// The target `name` (any case, trailing dot or not) of type `rtype`
    /// (A or AAAA), shared with every snapshot that names it.
    pub fn target(&self, name: &str, rtype: u16) -> Arc<Target> {
        let mut name = name.to_ascii_lowercase();
        if !name.ends_with('.') {
            name.push('.');
        }
        let mut targets = self
            .inner
            .targets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let key = (name, rtype);
        if let Some(target) = targets.get(&key).and_then(Weak::upgrade) {
            return target;
        }
        let target = Arc::new(Target {
            name: key.0.clone(),
            rtype,
            answer: ArcSwapOption::empty(),
            tried: AtomicBool::new(false),
            schedule: Mutex::new(Schedule {
                refresh: Instant::now(),
                expires: None,
                failing: false,
            }),
        });
        targets.insert(key, Arc::downgrade(&target));
        drop(targets);
        self.inner.added.notify_one();
        target
    }

    /// Waits until each of `targets` was tried once, at most `limit`: a
    /// snapshot published after this answers its ALIAS records at once.
    pub async fn settle(&self, targets: &[Arc<Target>], limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let resolved = self.inner.resolved.notified();
            if targets.iter().all(|target| target.tried.load(Ordering::Acquire)) {
                return;
            }
            if tokio::time::timeout_at(deadline, resolved).await.is_err() {
                return;
            }
        }
    }

    /// Resolves every target when it is due, until `shutdown`.
    pub async fn run(self, shutdown: Arc<AtomicBool>) {
        while !shutdown.load(Ordering::Relaxed) {
            let due = self.due();
            let mut tasks = tokio::task::JoinSet::new();
            let mut moved = false;
            for target in due {
                while tasks.len() >= CONCURRENCY {
                    moved |= matches!(tasks.join_next().await, Some(Ok(true)));
                }
                let resolver = self.inner.resolver;
                tasks.spawn(async move { refresh(resolver, &target).await });
            }
            while let Some(done) = tasks.join_next().await {
                if let Ok(changed) = done {
                    moved |= changed;
                    self.inner.resolved.notify_waiters();
                }
            }
            self.inner.resolved.notify_waiters();
            if moved {
                self.inner.moved.send_modify(|rounds| *rounds += 1);
            }
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
                () = self.inner.added.notified() => {}
            }
        }
    }

    /// Changes whenever some target's answer changed.
    pub fn moves(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.moved.subscribe()
    }

    /// Live targets whose refresh is due; forgets dropped ones.
    fn due(&self) -> Vec<Arc<Target>> {
        let now = Instant::now();
        let mut targets = self
            .inner
            .targets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        targets.retain(|_, target| target.strong_count() > 0);
        targets
            .values()
            .filter_map(Weak::upgrade)
            .filter(|target| target.schedule.lock().map(|s| s.refresh <= now).unwrap_or(true))
            .collect()
    }

    /// How many targets are held, and how many have an answer; for
    /// `/metrics`.
    pub fn counts(&self) -> (usize, usize) {
        let targets = self
            .inner
            .targets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let live: Vec<_> = targets.values().filter_map(Weak::upgrade).collect();
        let answered = live.iter().filter(|target| target.answer.load().is_some()).count();
        (live.len(), answered)
    }
}

/// Asks the resolver for `target` once and records the outcome; true when
/// the target's answer changed.
async fn refresh(resolver: SocketAddr, target: &Target) -> bool {
    let before = target.answer.load_full();
    let outcome = registrars::dns::query(resolver, &target.name, target.rtype, true, QUERY_TIMEOUT).await;
    let now = Instant::now();
    let mut schedule = *target.schedule.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    match outcome
        .as_ref()
        .map_err(ToString::to_string)
        .and_then(|reply| records(reply, target.rtype))
    {
        Ok((rdata, ttl)) => {
            let keep = Duration::from_secs(u64::from(ttl).clamp(MIN_TTL, MAX_TTL));
            // Asked again when four fifths of the TTL are gone, so a
            // popular name never expires while it is refreshed.
            schedule.refresh = now + keep * 4 / 5;
            schedule.expires = Some(now + keep);
            if schedule.failing {
                tracing::info!(target = %target.name, rtype = %types::type_to_string(target.rtype), "ALIAS target resolves again");
            }
            schedule.failing = false;
            target.answer.store(Some(Arc::new(rdata)));
        }
        Err(reason) => {
            schedule.refresh = now + RETRY;
            if !schedule.failing {
                tracing::warn!(target = %target.name, rtype = %types::type_to_string(target.rtype), %reason, "ALIAS target cannot be resolved");
            }
            schedule.failing = true;
            if schedule.expires.is_none_or(|expires| expires <= now) {
                schedule.expires = None;
                target.answer.store(None);
            }
        }
    }
    *target.schedule.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = schedule;
    target.tried.store(true, Ordering::Release);
    before.as_deref() != target.answer.load().as_deref()
}

/// The addresses of type `rtype` in a resolver's reply as an RDATA list,
/// and how long to keep them: the shortest TTL of the answer, or for a
/// name without such records the negative TTL of the SOA (RFC 2308 §5).
fn records(reply: &registrars::dns::Message, rtype: u16) -> Result<(Vec<u8>, u32), String> {
    use registrars::dns::RecordData;
    match reply.rcode {
        0 => {}
        // The target does not exist: no addresses, the answer is NODATA.
        3 => return Ok((Vec::new(), negative_ttl(reply))),
        rcode => return Err(format!("the resolver answered RCODE {rcode}")),
    }
    let mut addresses: Vec<Vec<u8>> = Vec::new();
    let mut ttl = u32::MAX;
    for record in &reply.answers {
        match &record.data {
            RecordData::A(address) if rtype == types::A => addresses.push(address.octets().to_vec()),
            RecordData::Aaaa(address) if rtype == types::AAAA => addresses.push(address.octets().to_vec()),
            _ => continue,
        }
        ttl = ttl.min(record.ttl);
    }
    // Resolvers rotate RRsets: in order, the same addresses are the same
    // answer, and moving the serial for them would be noise.
    addresses.sort_unstable();
    addresses.dedup();
    let mut rdata = Vec::new();
    for address in &addresses {
        list::push(&mut rdata, address);
    }
    if rdata.is_empty() {
        return Ok((rdata, negative_ttl(reply)));
    }
    Ok((rdata, ttl))
}

fn negative_ttl(reply: &registrars::dns::Message) -> u32 {
    reply
        .authority
        .iter()
        .find(|record| record.rtype == types::SOA)
        .map_or(60, |soa| soa.ttl)
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use registrars::dns::{Message, Record, RecordData};

    use super::*;

    fn record(rtype: u16, ttl: u32, data: RecordData) -> Record {
        Record {
            name: "lb.cloud.test".into(),
            rtype,
            ttl,
            data,
        }
    }

    #[test]
    fn takes_the_addresses_of_the_asked_type_and_the_shortest_ttl() {
        let reply = Message {
            answers: vec![
                record(types::CNAME, 30, RecordData::Other),
                record(types::A, 300, RecordData::A(Ipv4Addr::new(192, 0, 2, 1))),
                record(types::A, 120, RecordData::A(Ipv4Addr::new(192, 0, 2, 2))),
            ],
            ..Message::default()
        };
        let (rdata, ttl) = records(&reply, types::A).unwrap();
        assert_eq!(
            list::iter(&rdata).collect::<Vec<_>>(),
            [&[192, 0, 2, 1][..], &[192, 0, 2, 2]]
        );
        assert_eq!(ttl, 120);
        let (none, negative) = records(&reply, types::AAAA).unwrap();
        assert!(none.is_empty());
        assert_eq!(negative, 60);
    }

    #[test]
    fn a_name_that_does_not_exist_has_no_addresses_and_a_failure_is_an_error() {
        let nxdomain = Message {
            rcode: 3,
            authority: vec![record(types::SOA, 900, RecordData::Other)],
            ..Message::default()
        };
        assert_eq!(records(&nxdomain, types::AAAA).unwrap(), (Vec::new(), 900));
        let servfail = Message {
            rcode: 2,
            answers: vec![record(types::AAAA, 60, RecordData::Aaaa(Ipv6Addr::LOCALHOST))],
            ..Message::default()
        };
        assert!(records(&servfail, types::AAAA).is_err());
    }

    #[tokio::test]
    async fn one_target_per_name_and_type_shared_until_dropped() {
        let aliases = Aliases::new("127.0.0.1:9".parse().unwrap());
        let first = aliases.target("LB.Cloud.Test", types::A);
        let second = aliases.target("lb.cloud.test.", types::A);
        assert!(Arc::ptr_eq(&first, &second));
        assert_eq!(first.name(), "lb.cloud.test.");
        assert!(!Arc::ptr_eq(&first, &aliases.target("lb.cloud.test.", types::AAAA)));
        let mut out = Vec::new();
        assert!(first.answer(&mut out).is_err(), "unresolved answers SERVFAIL");
        drop((first, second));
        assert!(aliases.due().is_empty(), "dropped targets are not asked for");
    }
}
