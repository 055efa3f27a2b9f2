//! Secondary zones: copies of zones whose primary is another server,
//! kept current by zone transfer ([`client`]) and written through the one
//! change path, so they are served, journalled and transferred onward
//! like any zone.
//!
//! Each zone is checked when first seen, when a primary's NOTIFY arrives
//! ([`notify`]), and otherwise every SOA refresh interval; a failed check
//! is retried every SOA retry interval, primaries in order, IXFR first and
//! AXFR when the difference cannot be had or applied. A zone none of
//! whose primaries answered for its SOA expire interval is answered with
//! SERVFAIL until one does (RFC 1034 §4.3.5). Zones listed in a primary's
//! catalog zone (RFC 9432) are created and deleted as the catalog changes.
//!
//! With PostgreSQL one node of the fleet does the transfers (the
//! [`Duty::Transfers`] lock); a NOTIFY reaching any node is recorded in
//! the store, where that node sees it.

mod catalog;
pub mod client;
pub mod notify;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base::name::Name;
use tokio::task::JoinSet;
use tokio::time::Instant;

use self::client::{fetch, FetchError, Fetched, Primary};
use crate::change::{ChangeError, ChangeSet, Incoming, ZoneChange};
use crate::config::{server_address, CatalogSource};
use crate::store::{Duty, Leadership, Primaries, SecondaryZone, Store, StoreError};
use crate::update::tsig::key_name;
use crate::update::Keyring;

/// Checks of secondary zones since start, by outcome, for `/metrics`:
/// the zone was current, changed by IXFR, changed by AXFR, or no primary
/// gave it.
static CHECKED: [AtomicU64; 4] = [
    AtomicU64::new(0),
    AtomicU64::new(0),
    AtomicU64::new(0),
    AtomicU64::new(0),
];

/// How many checks ended how: (current, IXFR, AXFR, failed).
pub fn checked() -> (u64, u64, u64, u64) {
    let count = |index: usize| CHECKED[index].load(Ordering::Relaxed);
    (count(0), count(1), count(2), count(3))
}

/// How often the list of secondary zones is read.
const TICK: Duration = Duration::from_millis(500);
/// Zones checked at the same time.
const PARALLEL_CHECKS: usize = 16;
/// Bounds on the SOA timers, whatever the primary says: checks no more
/// often than this, and no less often.
const SHORTEST_INTERVAL: Duration = Duration::from_secs(5);
const LONGEST_INTERVAL: Duration = Duration::from_secs(86_400);

/// Keeps the secondary zones current.
pub struct Secondaries {
    store: Store,
    keyring: Arc<Keyring>,
    /// `[[secondary.catalogs]]`.
    catalogs: Vec<CatalogSource>,
    /// Woken by a NOTIFY this node answered.
    wake: Arc<tokio::sync::Notify>,
}

/// When a zone is checked next, and since when it has failed.
struct Timer {
    next: Instant,
    /// The last successful check (or when the zone was first seen here).
    current_since: Instant,
}

/// The outcome of one check.
struct Checked {
    id: i64,
    name: String,
    /// The SOA timers (refresh, retry, expire), when the zone has a SOA.
    timers: Option<[Duration; 3]>,
    /// Whether a primary answered.
    answered: bool,
    /// Whether the content changed.
    changed: bool,
    /// The NOTIFY this check answered.
    notifications: i64,
}

impl Secondaries {
    pub fn new(store: Store, keyring: Arc<Keyring>, catalogs: Vec<CatalogSource>) -> Secondaries {
        Secondaries {
            store,
            keyring,
            catalogs,
            wake: Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// What wakes the scheduler, for the NOTIFY handler.
    pub fn waker(&self) -> Arc<tokio::sync::Notify> {
        self.wake.clone()
    }

    /// Checks zones until `shutdown` is set.
    pub async fn run(self, shutdown: Arc<AtomicBool>) {
        let mut leadership = Leadership::new(self.store.clone(), Duty::Transfers);
        let mut timers: HashMap<i64, Timer> = HashMap::new();
        // Zones being checked, by the task checking them.
        let mut running: HashMap<tokio::task::Id, i64> = HashMap::new();
        let mut checks: JoinSet<Checked> = JoinSet::new();
        let mut catalogs_created = false;
        while !shutdown.load(Ordering::Relaxed) {
            tokio::select! {
                () = tokio::time::sleep(TICK) => {}
                () = self.wake.notified() => {}
                Some(finished) = checks.join_next_with_id(), if !checks.is_empty() => {
                    match finished {
                        Ok((task, checked)) => {
                            running.remove(&task);
                            self.checked(&checked, &mut timers).await;
                        }
                        Err(error) => {
                            running.remove(&error.id());
                            tracing::error!(%error, "a zone check failed");
                        }
                    }
                    continue;
                }
            }
            if !leadership.hold().await {
                // Another node does the transfers; this one starts afresh
                // if it takes over.
                timers.clear();
                continue;
            }
            if !catalogs_created {
                catalogs_created = self.create_catalog_zones().await;
            }
            let zones = match self.store.secondary_zones().await {
                Ok(zones) => zones,
                Err(error) => {
                    tracing::debug!(%error, "cannot read the secondary zones");
                    continue;
                }
            };
            let now = Instant::now();
            let present: HashSet<i64> = zones.iter().map(|zone| zone.id).collect();
            timers.retain(|id, _| present.contains(id));
            for zone in zones {
                let timer = timers.entry(zone.id).or_insert(Timer {
                    next: now,
                    current_since: now,
                });
                let due = zone.notifications > 0 || timer.next <= now;
                let busy = running.values().any(|id| *id == zone.id);
                if !due || busy || running.len() >= PARALLEL_CHECKS {
                    continue;
                }
                let (store, keyring, id) = (self.store.clone(), self.keyring.clone(), zone.id);
                let task = checks.spawn(async move { check(&store, &keyring, zone).await });
                running.insert(task.id(), id);
            }
        }
    }

    /// Sets the zone's next check from the outcome, expires it when no
    /// primary answered for too long, and follows a catalog zone's members.
    async fn checked(&self, checked: &Checked, timers: &mut HashMap<i64, Timer>) {
        let Some(timer) = timers.get_mut(&checked.id) else {
            return;
        };
        let now = Instant::now();
        let [refresh, retry, expire] = checked.timers.unwrap_or([SHORTEST_INTERVAL; 3]);
        if checked.answered {
            timer.current_since = now;
            timer.next = now + refresh;
        } else {
            timer.next = now + retry;
            let expired = checked.timers.is_some() && now.duration_since(timer.current_since) >= expire;
            if expired {
                if let Err(error) = self.store.set_expired(checked.id).await {
                    tracing::warn!(zone = %checked.name, %error, "cannot record the zone's expiry");
                }
            }
        }
        // A NOTIFY that arrived during the check makes another one.
        if let Err(error) = self.store.take_notifications(checked.id, checked.notifications).await {
            tracing::warn!(zone = %checked.name, %error, "cannot record the NOTIFY answered");
        }
        let source = self
            .catalogs
            .iter()
            .find(|source| absolute(&source.zone) == checked.name);
        if let Some(source) = source.filter(|_| checked.changed) {
            if let Err(error) = catalog::follow(&self.store, source).await {
                tracing::warn!(catalog = %checked.name, %error, "cannot follow the catalog zone");
            }
        }
    }

    /// Creates the configured catalog zones that are not in the store;
    /// true once that is done.
    async fn create_catalog_zones(&self) -> bool {
        let mut done = true;
        for source in &self.catalogs {
            match create(
                &self.store,
                &absolute(&source.zone),
                catalog::primaries(source, None),
                "config",
            )
            .await
            {
                Ok(()) | Err(ChangeError::ZoneExists(_)) => {}
                Err(error) => {
                    tracing::warn!(catalog = %source.zone, %error, "cannot create the catalog zone");
                    done = false;
                }
            }
        }
        done
    }
}

/// Creates the secondary zone `name`, empty until its first transfer.
pub async fn create(store: &Store, name: &str, primaries: Primaries, author: &str) -> Result<(), ChangeError> {
    ChangeSet::new(name, ZoneChange::CreateSecondary { primaries }, author)
        .apply_alone(store)
        .await
        .map(|_| ())
}

/// A primary as stored: "address:port".
pub fn primary_address(text: &str) -> String {
    server_address(text).map_or_else(|| text.to_string(), |address| address.to_string())
}

/// `name` absolute and lowercase.
fn absolute(name: &str) -> String {
    let name = name.to_ascii_lowercase();
    if name.ends_with('.') {
        name
    } else {
        format!("{name}.")
    }
}

/// Checks one zone against its primaries, in order, until one answers.
async fn check(store: &Store, keyring: &Keyring, zone: SecondaryZone) -> Checked {
    let mut checked = Checked {
        id: zone.id,
        name: zone.name.clone(),
        timers: None,
        answered: false,
        changed: false,
        notifications: zone.notifications,
    };
    let apex = match zone.name.parse::<Name>() {
        Ok(apex) => apex,
        Err(error) => {
            tracing::error!(zone = %zone.name, %error, "stored zone name is not a domain name");
            return checked;
        }
    };
    let key = match &zone.tsig_key {
        None => None,
        Some(name) => match key_name(name) {
            Ok(name) => match keyring.key(&name).await {
                Some(key) => Some(key),
                None => {
                    tracing::warn!(zone = %zone.name, key = %name, "the zone's transfer key does not exist");
                    return checked;
                }
            },
            Err(error) => {
                tracing::warn!(zone = %zone.name, %error, "the zone's transfer key is not a key name");
                return checked;
            }
        },
    };
    for text in &zone.primaries {
        let Some(address) = server_address(text) else {
            tracing::warn!(zone = %zone.name, primary = %text, "primary is not an address");
            continue;
        };
        let primary = Primary {
            address,
            key: key.clone(),
        };
        match transfer(store, &primary, &apex, &zone).await {
            Ok(changed) => {
                checked.answered = true;
                checked.changed = changed;
                break;
            }
            Err(error) => tracing::warn!(zone = %zone.name, primary = %address, %error, "zone transfer failed"),
        }
    }
    if !checked.answered {
        CHECKED[3].fetch_add(1, Ordering::Relaxed);
    }
    checked.timers = match store.zone_soa(zone.id).await {
        Ok(soa) => soa.and_then(|soa| soa_timers(&soa.content)),
        Err(_) => None,
    };
    checked
}

/// Why a transfer from one primary failed.
#[derive(Debug, thiserror::Error)]
enum TransferError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(transparent)]
    Change(#[from] ChangeError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Brings `zone` up to date from `primary`: IXFR from the stored SOA, and
/// AXFR when there is none, or IXFR fails or does not apply. True when
/// the content changed.
async fn transfer(store: &Store, primary: &Primary, apex: &Name, zone: &SecondaryZone) -> Result<bool, TransferError> {
    let author = format!("transfer:{}", primary.address);
    let soa = store.zone_soa(zone.id).await?;
    if let Some(soa) = &soa {
        match fetch(primary, apex, Some(soa)).await {
            Ok(Fetched::Current(serial)) => {
                tracing::debug!(zone = %zone.name, serial, "zone is current");
                CHECKED[0].fetch_add(1, Ordering::Relaxed);
                store.set_current(zone.id).await?;
                return Ok(false);
            }
            Ok(Fetched::Changed(incoming)) => {
                let whole = matches!(incoming, Incoming::Whole(_));
                let change = ChangeSet::new(&zone.name, ZoneChange::Transferred(incoming), &author);
                match change.apply_alone(store).await {
                    Ok(applied) => {
                        CHECKED[if whole { 2 } else { 1 }].fetch_add(1, Ordering::Relaxed);
                        log_transfer(&zone.name, if whole { "AXFR" } else { "IXFR" }, &applied);
                        return Ok(applied.changed);
                    }
                    Err(error @ ChangeError::Invalid { .. }) if !whole => {
                        tracing::info!(zone = %zone.name, %error, "IXFR does not apply; trying AXFR");
                    }
                    Err(error) => return Err(error.into()),
                }
            }
            // An unreachable primary is no better by AXFR.
            Err(error @ (FetchError::Connect(..) | FetchError::Timeout(_))) => return Err(error.into()),
            Err(error) => tracing::info!(zone = %zone.name, %error, "IXFR failed; trying AXFR"),
        }
    }
    let Fetched::Changed(incoming) = fetch(primary, apex, None).await? else {
        return Ok(false);
    };
    let applied = ChangeSet::new(&zone.name, ZoneChange::Transferred(incoming), &author)
        .apply_alone(store)
        .await?;
    CHECKED[2].fetch_add(1, Ordering::Relaxed);
    log_transfer(&zone.name, "AXFR", &applied);
    Ok(applied.changed)
}

fn log_transfer(zone: &str, kind: &str, applied: &crate::change::Applied) {
    if applied.changed {
        tracing::info!(%zone, kind, from = ?applied.old_serial, to = ?applied.new_serial, "zone transferred");
    }
}

/// The refresh, retry and expire intervals of SOA RDATA, bounded.
fn soa_timers(content: &str) -> Option<[Duration; 3]> {
    let fields: Vec<&str> = content.split_whitespace().collect();
    let [_, _, _, refresh, retry, expire, _] = fields.as_slice() else {
        return None;
    };
    let seconds = |text: &str| text.parse().ok().map(Duration::from_secs);
    let bounded = |text: &str| seconds(text).map(|value| value.clamp(SHORTEST_INTERVAL, LONGEST_INTERVAL));
    Some([
        bounded(refresh)?,
        bounded(retry)?,
        seconds(expire)?.max(SHORTEST_INTERVAL),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soa_timers_are_bounded() {
        let timers = soa_timers("ns1.example. hostmaster.example. 1 3600 1 604800 300").unwrap();
        assert_eq!(
            timers,
            [
                Duration::from_secs(3600),
                SHORTEST_INTERVAL,
                Duration::from_secs(604_800)
            ]
        );
        assert_eq!(
            soa_timers("ns1.example. hostmaster.example. 1 99999999 600 3600000 300").unwrap()[0],
            LONGEST_INTERVAL
        );
        assert_eq!(soa_timers("broken"), None);
        assert_eq!(primary_address("192.0.2.1"), "192.0.2.1:53");
        assert_eq!(absolute("Catalog.Invalid"), "catalog.invalid.");
    }
}
