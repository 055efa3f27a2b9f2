//! Keeps the served catalog in step with the store.
//!
//! The loader polls the zones table for change counters: a zone whose
//! counter moved is read, checked, built into a fresh [`Zone`] off the
//! runtime's worker threads, and swapped into the catalog; a zone that
//! disappeared is dropped. Polling the one small table also catches writes
//! made by other processes (`pooldns zone import`, other fleet members)
//! without any notification channel.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::catalog::{Catalog, SharedCatalog};
use crate::import;
use crate::name::Name;
use crate::store::{Store, StoreError, ZoneVersion};
use crate::zone::Zone;

/// What the loader knows about one stored zone.
struct Known {
    name: Name,
    version: i64,
}

/// Watches the store and rebuilds changed zones.
pub struct Loader {
    store: Store,
    catalog: SharedCatalog,
    known: HashMap<i64, Known>,
    status: Arc<LoadStatus>,
}

/// Whether the first load finished, and which zones failed to load; read
/// by `/readyz`.
#[derive(Default)]
pub struct LoadStatus {
    loaded: AtomicBool,
    failures: Mutex<HashMap<String, String>>,
}

impl LoadStatus {
    /// True once every zone in the store was tried at least once.
    pub fn is_loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }

    /// Zones that failed to load, with the reason, sorted by name.
    pub fn failures(&self) -> Vec<(String, String)> {
        let failures = self.failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut list: Vec<_> = failures.iter().map(|(zone, why)| (zone.clone(), why.clone())).collect();
        list.sort();
        list
    }

    fn set_failure(&self, zone: &str, reason: Option<String>) {
        let mut failures = self.failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match reason {
            Some(reason) => failures.insert(zone.to_string(), reason),
            None => failures.remove(zone),
        };
    }
}

impl Loader {
    /// A loader that publishes into `catalog`.
    pub fn new(store: Store, catalog: SharedCatalog) -> Loader {
        Loader {
            store,
            catalog,
            known: HashMap::new(),
            status: Arc::new(LoadStatus::default()),
        }
    }

    /// The load status, for readiness checks.
    pub fn status(&self) -> Arc<LoadStatus> {
        self.status.clone()
    }

    /// Brings the catalog up to date with the store once.
    pub async fn sync(&mut self) -> Result<(), StoreError> {
        let versions = self.store.zone_versions().await?;
        let present: HashMap<i64, &ZoneVersion> = versions.iter().map(|zone| (zone.id, zone)).collect();
        // Removals first: a zone deleted and created again has a new id
        // but the same name.
        let gone: Vec<i64> = self
            .known
            .keys()
            .filter(|id| !present.contains_key(id))
            .copied()
            .collect();
        for id in gone {
            if let Some(known) = self.known.remove(&id) {
                self.publish(|catalog| catalog.without_zone(&known.name));
                self.status.set_failure(&known.name.to_string(), None);
                tracing::info!(zone = %known.name, "zone removed");
            }
        }
        for zone in &versions {
            if self
                .known
                .get(&zone.id)
                .is_some_and(|known| known.version == zone.version)
            {
                continue;
            }
            let Ok(apex) = zone.name.parse::<Name>() else {
                tracing::error!(zone = %zone.name, "stored zone name is not a domain name");
                self.status.set_failure(&zone.name, Some("invalid zone name".into()));
                continue;
            };
            match self.build(zone.id, &apex).await {
                Ok(built) => {
                    tracing::info!(zone = %apex, records = built.record_count(), serial = built.serial(), "zone loaded");
                    let built = Arc::new(built);
                    self.publish(|catalog| catalog.with_zone(built.clone()));
                    self.status.set_failure(&zone.name, None);
                }
                Err(error) => {
                    // The previous version, if any, keeps being served.
                    tracing::error!(zone = %apex, %error, "zone not loaded");
                    self.status.set_failure(&zone.name, Some(error.to_string()));
                }
            }
            self.known.insert(
                zone.id,
                Known {
                    name: apex,
                    version: zone.version,
                },
            );
        }
        self.status.loaded.store(true, Ordering::Release);
        Ok(())
    }

    /// Syncs every `interval` until `shutdown` is set.
    pub async fn run(mut self, interval: Duration, shutdown: Arc<AtomicBool>) {
        let mut failing = false;
        while !shutdown.load(Ordering::Relaxed) {
            tokio::time::sleep(interval).await;
            match self.sync().await {
                Ok(()) => failing = false,
                Err(error) if !failing => {
                    tracing::warn!(%error, "cannot read the store; serving the zones loaded so far");
                    failing = true;
                }
                Err(_) => {}
            }
        }
    }

    async fn build(&self, id: i64, apex: &Name) -> Result<Zone, BuildError> {
        let started = Instant::now();
        let rows = self.store.zone_records(id).await?;
        let fetched = started.elapsed();
        let apex = apex.clone();
        tokio::task::spawn_blocking(move || {
            let records = import::from_rows(&apex, &rows)?;
            drop(rows);
            let parsed = started.elapsed();
            let zone = Zone::build(&apex, records);
            tracing::debug!(zone = %apex, ?fetched, parse = ?parsed - fetched, build = ?started.elapsed() - parsed, "zone built");
            Ok(zone)
        })
        .await
        .map_err(|_| BuildError::Panicked)?
    }

    fn publish(&self, change: impl Fn(&Catalog) -> Catalog) {
        self.catalog.rcu(|current| Arc::new(change(current)));
    }
}

/// Why a stored zone could not be built.
#[derive(Debug, thiserror::Error)]
enum BuildError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Rows(#[from] import::RowError),
    #[error("zone build panicked")]
    Panicked,
}
