//! Keeps the served catalog in step with the store.
//!
//! The loader polls the zones table for change counters: a zone whose
//! counter moved is read, checked, built into a fresh [`Snapshot`] off the
//! runtime's worker threads, and swapped into the catalog; a zone that
//! disappeared is dropped. A write committed by this process (the HTTP
//! API) wakes the loader at once; polling the one small table catches
//! writes made by other processes (`pooldns zone import`, other fleet
//! members) without any notification channel.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base::name::Name;
use data_encoding::BASE64;

mod in_place;

pub use in_place::builds;

use crate::alias::Aliases;
use crate::catalog::{Catalog, SharedCatalog, Snapshot};
use crate::catalog_zone::CatalogZone;
use crate::dnssec::cache::SignatureCache;
use crate::dnssec::crypto::Algorithm;
use crate::dnssec::keys::{KeyError, SealedKey};
use crate::dnssec::signed::Computed;
use crate::dnssec::{self, crypto::KeyEncryptionKey, denial::Nsec3Params, window::Window, DenialKind, SignedZone};
use crate::import;
use crate::lua::{self, ZonePrograms};
use crate::store::{RowTexts, Store, StoreError, StoredKey, ZoneVersion};
use crate::zone::Zone;
use in_place::{InPlace, Inputs};

/// Signatures kept across snapshots at most (and twice as many held),
/// about 130 octets each: enough for every RRset of the zones of a typical
/// fleet member, NSEC records included; a zone larger than this is
/// re-signed in part when it changes. The cache is fitted to the secured
/// zones served, below this.
const SIGNATURE_CACHE_ENTRIES: u64 = 2_000_000;

/// Rows read from the store at a time when a zone is built.
const PART_ROWS: usize = 25_000;

/// How long a rebuilt snapshot waits for its new ALIAS targets' first
/// resolution before it is served anyway.
const ALIAS_SETTLE: Duration = Duration::from_secs(2);

/// The records the answer path computes per query, and what they
/// compile against.
#[derive(Clone, Default)]
pub struct Computing {
    /// LUA records; `None` when `[lua] enabled = false`.
    pub lua: Option<lua::Runtime>,
    /// ALIAS records; `None` without a `[dns] resolver`.
    pub aliases: Option<Aliases>,
}

/// What the loader knows about one stored zone.
struct Known {
    name: Name,
    version: i64,
    /// The signature week of the snapshot, for secured zones.
    week: Option<u64>,
    /// What the served snapshot was built from besides its records; none
    /// when it was not built.
    inputs: Option<Inputs>,
}

/// Watches the store and rebuilds changed zones.
pub struct Loader {
    store: Store,
    catalog: SharedCatalog,
    kek: Option<Arc<KeyEncryptionKey>>,
    signatures: Arc<SignatureCache>,
    known: HashMap<i64, Known>,
    status: Arc<LoadStatus>,
    computing: Computing,
    /// Told of every zone whose snapshot changed, for NOTIFY.
    changes: Option<crate::transfer::notify::Changes>,
    /// The catalog zone, when one is configured, as last built.
    catalog_zone: Option<CatalogZone>,
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
    pub fn new(
        store: Store,
        catalog: SharedCatalog,
        kek: Option<Arc<KeyEncryptionKey>>,
        computing: Computing,
    ) -> Loader {
        Loader {
            store,
            catalog,
            kek,
            signatures: Arc::new(SignatureCache::new(SIGNATURE_CACHE_ENTRIES)),
            known: HashMap::new(),
            status: Arc::new(LoadStatus::default()),
            computing,
            changes: None,
            catalog_zone: None,
        }
    }

    /// Serves the catalog zone `apex` (RFC 9432) listing every zone.
    pub fn serve_catalog_zone(&mut self, apex: Name) {
        self.catalog_zone = Some(CatalogZone::new(apex));
    }

    /// Keeps signatures in `dir` across restarts; those kept there are
    /// read meanwhile. An unusable directory leaves them in memory only.
    pub fn keep_signatures(&mut self, dir: &std::path::Path) {
        match SignatureCache::persistent(SIGNATURE_CACHE_ENTRIES, dir, Window::now().week) {
            Ok(signatures) => self.signatures = signatures,
            Err(error) => {
                tracing::warn!(dir = %dir.display(), %error, "signature cache not usable; signatures are kept in memory only")
            }
        }
    }

    /// Reports every zone whose snapshot changes to `changes`.
    pub fn report_changes(&mut self, changes: crate::transfer::notify::Changes) {
        self.changes = Some(changes);
    }

    /// The load status, for readiness checks.
    pub fn status(&self) -> Arc<LoadStatus> {
        self.status.clone()
    }

    /// Serves every stored zone as loading (SERVFAIL) until [`Loader::sync`]
    /// builds it, so that the listeners can answer from the first moment
    /// and each zone as soon as it is ready.
    pub async fn announce(&mut self) -> Result<(), StoreError> {
        let versions = self.store.zone_versions().await?;
        let placeholders: Vec<Arc<Snapshot>> = versions
            .iter()
            .filter_map(|zone| zone.name.parse::<Name>().ok())
            .map(|apex| Arc::new(Snapshot::loading(&apex)))
            .collect();
        self.publish(|catalog| catalog.with_zones(placeholders.iter().cloned()));
        Ok(())
    }

    /// Brings the catalog up to date with the store once. The first time,
    /// small zones are built first: a large zone does not hold them back.
    pub async fn sync(&mut self) -> Result<(), StoreError> {
        let mut versions = self.store.zone_versions().await?;
        if self.known.is_empty() {
            let sizes: HashMap<String, i64> = self.store.list_zones().await?.into_iter().collect();
            versions.sort_by_key(|zone| sizes.get(&zone.name).copied().unwrap_or(0));
        }
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
        // Stand-ins of zones deleted before they were ever built (there are
        // stand-ins only while zones load, or fail to).
        let stale: Vec<Name> = self
            .catalog
            .load()
            .zones()
            .filter(|snapshot| snapshot.loading)
            .map(|snapshot| snapshot.zone.apex().clone())
            .filter(|apex| {
                let name = apex.to_string();
                !versions.iter().any(|zone| zone.name == name)
            })
            .collect();
        for apex in stale {
            self.publish(|catalog| catalog.without_zone(&apex));
        }
        let week = Window::now().week;
        // Parents take their children's DS from these; read once per sync.
        let mut entry_points: Option<Arc<Vec<EntryPoint>>> = None;
        for zone in &versions {
            // Secured zones are also rebuilt when the signature week moves on.
            let current = |known: &Known| known.version == zone.version && known.week.is_none_or(|built| built == week);
            if self.known.get(&zone.id).is_some_and(current) {
                continue;
            }
            let Ok(apex) = zone.name.parse::<Name>() else {
                tracing::error!(zone = %zone.name, "stored zone name is not a domain name");
                self.status.set_failure(&zone.name, Some("invalid zone name".into()));
                continue;
            };
            let entry_points = match &entry_points {
                Some(known) => known.clone(),
                None => entry_points
                    .insert(Arc::new(self.store.secure_entry_points().await?))
                    .clone(),
            };
            let known = self.known.get(&zone.id);
            let mut built_week = known.and_then(|known| known.week);
            let inputs = self.inputs(zone.id, &apex, &entry_points).await?;
            let served = self
                .catalog
                .load()
                .zone(&apex)
                .filter(|served| !served.loading)
                .cloned();
            // A zone already served keeps its snapshot until the new one is
            // signed; one not served yet (starting) is served at once and
            // signed meanwhile, its signatures mostly read back from disk.
            let signing = if served.is_some() {
                Signing::First
            } else {
                Signing::Meanwhile
            };
            let started = Instant::now();
            let in_place = match (known.and_then(|known| known.inputs.as_ref()), served, &inputs) {
                (Some(then), Some(served), Some(now))
                    if !zone.expired && known.is_some_and(|known| known.week.is_none_or(|built| built == week)) =>
                {
                    let has_children = children_of(&apex, &entry_points).is_ok_and(|children| !children.is_empty());
                    in_place::change(
                        &self.store,
                        &zone.name,
                        served,
                        (then, now),
                        has_children,
                        &self.computing,
                    )
                    .await
                }
                _ => InPlace::Rebuild("it was not built before".into()),
            };
            let built = match in_place {
                InPlace::Unchanged => {
                    if let Some(known) = self.known.get_mut(&zone.id) {
                        known.version = zone.version;
                    }
                    continue;
                }
                InPlace::Changed(snapshot) => {
                    tracing::info!(zone = %apex, elapsed = ?started.elapsed(), "zone changed in place");
                    Ok(*snapshot)
                }
                InPlace::Rebuild(_) if zone.expired => {
                    // An expired secondary zone is answered with SERVFAIL
                    // (RFC 1035 §4.3.5) until a primary answers again.
                    tracing::warn!(zone = %apex, "zone expired: no primary answered");
                    Ok(Snapshot::loading(&apex))
                }
                InPlace::Rebuild(reason) => {
                    tracing::debug!(zone = %apex, %reason, "zone built from all its records");
                    in_place::count_full_build();
                    self.build(zone.id, &apex, entry_points, signing).await
                }
            };
            let built_ok = built.as_ref().is_ok_and(|built| !built.loading);
            match built {
                Ok(built) => {
                    built_week = built.signed.as_ref().map(|signed| signed.signer().window().week);
                    tracing::info!(zone = %apex, records = built.zone.record_count(), serial = built.zone.serial(), "zone loaded");
                    let built = Arc::new(built);
                    let serial = built.zone.serial();
                    self.publish(|catalog| catalog.with_zone(built.clone()));
                    if signing == Signing::Meanwhile && built.signed.is_some() {
                        let built = built.clone();
                        tokio::task::spawn_blocking(move || {
                            if let Some(signed) = &built.signed {
                                let started = Instant::now();
                                signed.presign(&built.zone);
                                tracing::info!(zone = %built.zone.apex(), elapsed = ?started.elapsed(), "zone signed");
                            }
                        });
                    }
                    self.status.set_failure(&zone.name, None);
                    if let Some(changes) = self.changes.as_ref().filter(|_| !built.loading) {
                        let _ = changes.send((apex.clone(), serial));
                    }
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
                    week: built_week,
                    inputs: inputs.filter(|_| built_ok),
                },
            );
        }
        self.sync_catalog_zone(&versions);
        self.fit_signatures();
        if let Err(error) = self.signatures.flush() {
            tracing::warn!(%error, "cannot keep signatures on disk; they are made again on restart");
        }
        self.status.loaded.store(true, Ordering::Release);
        Ok(())
    }

    /// Sizes the signature cache to the secured zones served, once none is
    /// still loading (a restart reads their signatures back into it).
    fn fit_signatures(&self) {
        let catalog = self.catalog.load();
        if catalog.zones().any(|snapshot| snapshot.loading) {
            return;
        }
        let signed_records = catalog
            .zones()
            .filter(|snapshot| snapshot.signed.is_some())
            .map(|snapshot| snapshot.zone.record_count())
            .sum();
        self.signatures.fit(signed_records);
    }

    /// Rebuilds the catalog zone when the set of zones changed.
    fn sync_catalog_zone(&mut self, versions: &[ZoneVersion]) {
        let Some(current) = &self.catalog_zone else {
            return;
        };
        let apex = current.apex.to_string();
        let members = versions
            .iter()
            .filter(|zone| zone.name != apex)
            .map(|zone| (zone.id, zone.name.clone()))
            .collect();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs() as u32);
        let Some(next) = current.with_members(members, now) else {
            return;
        };
        match next.snapshot() {
            Ok(snapshot) => {
                let snapshot = Arc::new(snapshot);
                self.publish(|catalog| catalog.with_zone(snapshot.clone()));
                tracing::info!(zone = %next.apex, members = next.members.len(), serial = next.serial, "catalog zone built");
                if let Some(changes) = &self.changes {
                    let _ = changes.send((next.apex.clone(), next.serial));
                }
                self.catalog_zone = Some(next);
            }
            Err(error) => tracing::error!(zone = %next.apex, %error, "catalog zone not built"),
        }
    }

    /// Syncs every `interval` until `shutdown` is set.
    pub async fn run(mut self, interval: Duration, shutdown: Arc<AtomicBool>) {
        let mut failing = false;
        // The first load, as soon as the server runs.
        if let Err(error) = self.sync().await {
            tracing::warn!(%error, "cannot read the store; zones load when it answers");
            failing = true;
        }
        while !shutdown.load(Ordering::Relaxed) {
            // Writes of this process wake the loader at once; other
            // processes' writes are found by polling.
            let store = self.store.clone();
            tokio::select! {
                () = tokio::time::sleep(interval) => {}
                () = store.written() => {}
            }
            match self.sync().await {
                Ok(()) => failing = false,
                Err(error) if !failing => {
                    tracing::warn!(%error, "cannot read the store; serving the zones loaded so far");
                    failing = true;
                }
                Err(_) => {}
            }
        }
        if let Err(error) = self.signatures.flush() {
            tracing::warn!(%error, "cannot keep signatures on disk");
        }
    }

    /// What zone `id`'s snapshot is built from besides its records; none
    /// when its children's keys are unreadable (the build says why).
    async fn inputs(&self, id: i64, apex: &Name, entry_points: &[EntryPoint]) -> Result<Option<Inputs>, StoreError> {
        let Ok(children) = children_of(apex, entry_points) else {
            return Ok(None);
        };
        let dnssec = self.store.zone_dnssec(id).await?;
        let keys = match dnssec {
            Some(_) => self.store.zone_keys(id).await?,
            None => Vec::new(),
        };
        Ok(Some(Inputs::new(dnssec.as_ref(), &keys, &children)))
    }

    async fn build(
        &self,
        id: i64,
        apex: &Name,
        entry_points: Arc<Vec<EntryPoint>>,
        signing: Signing,
    ) -> Result<Snapshot, BuildError> {
        let securing = Securing {
            kek: self.kek.clone(),
            signatures: self.signatures.clone(),
            signing,
        };
        let snapshot = build_zone(&self.store, id, apex, entry_points, securing, self.computing.clone()).await?;
        if let (Some(aliases), Some(programs)) = (&self.computing.aliases, &snapshot.programs) {
            aliases.settle(programs.alias_targets(), ALIAS_SETTLE).await;
        }
        Ok(snapshot)
    }

    fn publish(&self, change: impl Fn(&Catalog) -> Catalog) {
        self.catalog.rcu(|current| Arc::new(change(current)));
    }
}

/// What a secured zone's snapshot is built with.
pub struct Securing {
    /// Opens the zone's private keys, when they are sealed.
    pub kek: Option<Arc<KeyEncryptionKey>>,
    pub signatures: Arc<SignatureCache>,
    pub signing: Signing,
}

/// When a secured snapshot's RRsets are signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signing {
    /// Before the snapshot is served: answers only copy signatures.
    First,
    /// By the caller, while the snapshot is served: an RRset asked for
    /// before is signed by its answer (from the signature cache, as a
    /// rule, when the server restarts).
    Meanwhile,
}

/// A secured zone's name and the base64 DNSKEY RDATA of its keys that the
/// parent's DS set points at (see [`Store::secure_entry_points`]).
pub type EntryPoint = (String, Vec<String>);

/// Builds the snapshot of the stored zone with row id `id`: its records,
/// DS records for the secured children among `entry_points`, and when
/// secured its keys and denial chain.
pub async fn build_zone(
    store: &Store,
    id: i64,
    apex: &Name,
    entry_points: Arc<Vec<EntryPoint>>,
    securing: Securing,
    computing: Computing,
) -> Result<Snapshot, BuildError> {
    let Securing {
        kek,
        signatures,
        signing,
    } = securing;
    let started = Instant::now();
    // Parts are converted on every core while the next are read.
    let (parts, to_convert) = std::sync::mpsc::channel::<(usize, RowTexts)>();
    let to_convert = Arc::new(Mutex::new(to_convert));
    let converters: Vec<_> = (0..std::thread::available_parallelism().map_or(1, usize::from))
        .map(|_| {
            let to_convert = to_convert.clone();
            let apex = apex.clone();
            tokio::task::spawn_blocking(move || {
                let mut converted = Vec::new();
                loop {
                    let next = to_convert.lock().unwrap_or_else(|e| e.into_inner()).recv();
                    let Ok((index, rows)) = next else {
                        return Ok::<_, import::RowError>(converted);
                    };
                    converted.push((index, import::from_row_texts(&apex, &rows)?));
                }
            })
        })
        .collect();
    drop(to_convert);
    let mut next = 0;
    let read = store
        .zone_record_parts(id, PART_ROWS, move |rows| {
            // The converters stop early only on an error, reported below.
            let _ = parts.send((next, rows));
            next += 1;
        })
        .await;
    let mut converted = Vec::new();
    for converter in converters {
        converted.push(converter.await.map_err(|_| BuildError::Panicked)?);
    }
    read?;
    let mut parts = Vec::new();
    for done in converted {
        parts.extend(done?);
    }
    parts.sort_unstable_by_key(|(index, _)| *index);
    let mut records = Vec::with_capacity(parts.iter().map(|(_, part)| part.len()).sum());
    for (_, part) in parts {
        records.extend(part);
    }
    if records.is_empty() {
        // A secondary zone before its first transfer.
        return Ok(Snapshot::loading(apex));
    }
    let dnssec = store.zone_dnssec(id).await?;
    let stored_keys = match dnssec {
        Some(_) => store.zone_keys(id).await?,
        None => Vec::new(),
    };
    let read = started.elapsed();
    let apex = apex.clone();
    tokio::task::spawn_blocking(move || {
        let secured = match dnssec {
            None => None,
            Some(settings) => {
                let keys = stored_keys
                    .iter()
                    .map(|row| dnssec::keys::open_key(&apex, row.id, &sealed_key(row)?, kek.as_deref()))
                    .collect::<Result<Vec<_>, _>>()?;
                let denial = match settings.denial.as_str() {
                    "nsec" => DenialKind::Nsec,
                    "nsec3" => DenialKind::Nsec3(Nsec3Params {
                        iterations: 0,
                        salt: Vec::new(),
                        opt_out: settings.nsec3_opt_out,
                    }),
                    other => return Err(BuildError::Denial(other.to_string())),
                };
                let nsec3 = match &denial {
                    DenialKind::Nsec3(params) => Some(params),
                    DenialKind::Nsec => None,
                };
                dnssec::prepare_records(&apex, &mut records, &keys, nsec3);
                Some((keys, denial))
            }
        };
        dnssec::sync_child_ds(&mut records, &children_of(&apex, &entry_points)?);
        // Sorted once, for the check and the build.
        Zone::sort_records(&mut records);
        crate::zone::check::check_sorted_zone(&apex, &records).map_err(import::RowError::from)?;
        let checked = started.elapsed();
        let (zone, signed) = match secured {
            None if dnssec::presigned::is_presigned(&records) => {
                let (zone, signed) = dnssec::presigned::secure(&apex, records);
                (zone, Some(signed))
            }
            None => (Zone::build_sorted(&apex, records), None),
            Some((keys, denial)) => {
                let mut zone = Zone::build_sorted(&apex, records);
                let computed = Computed {
                    lua: computing.lua.is_some(),
                    aliases: computing.aliases.is_some(),
                };
                let signed = SignedZone::new(&mut zone, keys, denial, computed, Window::now(), signatures);
                // Unchanged RRsets come from the cache.
                if signing == Signing::First {
                    signed.presign(&zone);
                }
                (zone, Some(signed))
            }
        };
        // LUA and ALIAS records are compiled, and their health checks and
        // targets registered, before the snapshot answers anything; a zone
        // without any keeps no programs, so its answers never look for them.
        let programs = (computing.lua.is_some() || computing.aliases.is_some())
            .then(|| ZonePrograms::compile(&zone, computing.lua.as_ref(), computing.aliases.as_ref()))
            .filter(|programs| !programs.is_empty());
        tracing::debug!(zone = %apex, ?read, check = ?checked - read, build = ?started.elapsed() - checked, "zone built");
        Ok(Snapshot {
            zone,
            signed,
            programs,
            loading: false,
        })
    })
    .await
    .map_err(|_| BuildError::Panicked)?
}

/// Why a stored zone could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Rows(#[from] import::RowError),
    #[error("zone build panicked")]
    Panicked,
    #[error("DNSSEC keys: {0}")]
    Keys(#[from] dnssec::keys::KeyError),
    #[error("unknown denial of existence {0:?} (expected nsec or nsec3)")]
    Denial(String),
    #[error("DS of child zone {zone}: DNSKEY is not base64")]
    ChildKey { zone: String },
}

/// A stored key row as the signer reads it.
fn sealed_key(row: &StoredKey) -> Result<SealedKey, KeyError> {
    let corrupt = |detail: String| KeyError::Corrupt { id: row.id, detail };
    Ok(SealedKey {
        role: row
            .role
            .parse()
            .map_err(|_| corrupt(format!("unknown role {:?}", row.role)))?,
        algorithm: u8::try_from(row.algorithm)
            .ok()
            .and_then(Algorithm::from_number)
            .ok_or(KeyError::BadAlgorithm {
                id: row.id,
                algorithm: row.algorithm,
            })?,
        dnskey: row.dnskey_rdata().map_err(|error| corrupt(error.to_string()))?,
        private_key: row.private_key.clone(),
        published: row.published,
        active: row.active,
        ds: row.ds,
    })
}

/// A secured child zone and the DNSKEY RDATA of its key-signing keys.
type ChildKeys = (Name, Vec<Vec<u8>>);

/// The secured zones strictly below `apex`, each with the DNSKEY RDATA of
/// its published key-signing keys.
fn children_of(apex: &Name, entry_points: &[EntryPoint]) -> Result<Vec<ChildKeys>, BuildError> {
    let mut children = Vec::new();
    for (zone, dnskeys) in entry_points {
        let Ok(child) = zone.parse::<Name>() else {
            continue;
        };
        if child.eq_ignore_case(apex) || !child.ends_with(apex) {
            continue;
        }
        let keys = dnskeys
            .iter()
            .map(|key| BASE64.decode(key.as_bytes()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| BuildError::ChildKey { zone: zone.clone() })?;
        children.push((child, keys));
    }
    Ok(children)
}
