//! Pool allocations: `<subdomain>.<pool>` reserved before a Sovereign is
//! provisioned, committed with its address afterwards, released when it
//! goes.
//!
//! Every step is one store transaction holding the allocation row and
//! the DNS it implies (the child zone, its key, the parent's NS records,
//! the committed records), written through the one change path. A crash
//! leaves all of a step or none of it. Only delegations through a
//! provider's API ([`delegation`]) happen outside the transaction; the
//! allocation row says whether they are done, and the [`reconcile`]r
//! finishes them, sweeps lapsed reservations and repairs any difference
//! between allocations and zones.

pub mod delegation;
pub mod reconcile;
pub mod records;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;

use base::Name;
use ring::rand::{SecureRandom, SystemRandom};

use crate::change::{ChangeError, ChangeSet, Removal, SerialPolicy, ZoneChange};
use crate::config::Config;
use crate::dnssec::crypto::{Algorithm, KeyEncryptionKey};
use crate::dnssec::keys::new_keys;
use crate::store::{Allocation, DnssecSettings, Store, StoreError, Writer};
use delegation::Registrar;
use records::Region;

/// The journal's author of the pool's changes; the reconciler deletes only
/// zones this author created.
pub const AUTHOR: &str = "pool";

/// The pool settings, normalized.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Pool domains without the trailing dot, lowercase.
    pub domains: Vec<String>,
    /// Absolute host names.
    pub nameservers: Vec<String>,
    pub reserved: BTreeSet<String>,
    pub records: Vec<String>,
    pub reservation_ttl: i64,
    pub record_ttl: u32,
    pub dnssec: bool,
    pub reconcile_interval: std::time::Duration,
    /// Pool domains delegated through a provider's API.
    pub registrars: BTreeMap<String, Registrar>,
}

impl Settings {
    /// The settings of `[pool]`, with provider credentials read from their
    /// files.
    pub fn from_config(config: &Config) -> Result<Settings, String> {
        let pool = &config.pool;
        let bare = |name: &str| name.trim().trim_end_matches('.').to_ascii_lowercase();
        let mut registrars = BTreeMap::new();
        for (domain, delegation) in &pool.delegation {
            let base_url = config
                .registrars
                .get(&delegation.registrar)
                .and_then(|registrar| registrar.base_url.clone());
            registrars.insert(bare(domain), Registrar::from_config(delegation, base_url)?);
        }
        Ok(Settings {
            domains: pool.domains.iter().map(|domain| bare(domain)).collect(),
            nameservers: pool.nameservers.iter().map(|host| format!("{}.", bare(host))).collect(),
            reserved: pool.reserved.iter().map(|label| bare(label)).collect(),
            records: pool.records.clone(),
            reservation_ttl: pool.reservation_ttl as i64,
            record_ttl: pool.record_ttl,
            dnssec: pool.dnssec,
            reconcile_interval: std::time::Duration::from_secs(pool.reconcile_interval),
            registrars,
        })
    }
}

/// Why a pool request was refused; nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("{0}")]
    InvalidFormat(String),
    #[error("{0} is not a managed pool domain")]
    UnsupportedPool(String),
    #[error("{0} is a reserved label")]
    Reserved(String),
    #[error("{0} is already allocated")]
    Conflict(String),
    #[error("{0} is not allocated")]
    NotFound(String),
    #[error("the reservation token does not match")]
    TokenMismatch,
    #[error("the reservation of {0} has expired")]
    Expired(String),
    #[error("{0} is already active")]
    AlreadyActive(String),
    #[error("{0} is being released")]
    Releasing(String),
    #[error("{0}")]
    InvalidAddress(String),
    #[error("loadBalancerIP or regions is required")]
    MissingAddress,
    #[error("{0}")]
    InvalidRegions(String),
    #[error("sovereignFQDN {given} is not {expected}")]
    FqdnMismatch { given: String, expected: String },
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Change(#[from] ChangeError),
    #[error("{0}")]
    Keys(String),
}

/// The answer to a check: PDM's CheckResult.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    pub available: bool,
    /// Why not: `invalid-format`, `unsupported-pool`, `reserved`,
    /// `reserved-state`, `active-state`, `releasing-state`, or
    /// `zone-exists` (a zone of that name not made by the pool).
    pub reason: Option<&'static str>,
    pub detail: Option<String>,
    pub fqdn: Option<String>,
}

/// What a commit asks for.
#[derive(Clone, Debug, Default)]
pub struct CommitRequest {
    pub token: String,
    pub sovereign_fqdn: String,
    pub load_balancer_ip: String,
    pub regions: Vec<Region>,
}

/// How a release ended.
#[derive(Clone, Debug)]
pub enum Released {
    /// The allocation and its DNS are gone.
    Freed(Allocation),
    /// The allocation is `releasing`: the provider still holds its
    /// delegation; the reconciler retries. The text says why.
    Pending(Allocation, String),
}

/// The pool allocator.
#[derive(Clone)]
pub struct Pools {
    store: Store,
    settings: Arc<Settings>,
    kek: Option<Arc<KeyEncryptionKey>>,
}

impl Pools {
    /// An allocator over `store`; `kek` seals the child zones' keys.
    pub fn new(store: Store, settings: Settings, kek: Option<Arc<KeyEncryptionKey>>) -> Pools {
        Pools {
            store,
            settings: Arc::new(settings),
            kek,
        }
    }

    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The reserved labels, sorted.
    pub fn reserved(&self) -> Vec<String> {
        self.settings.reserved.iter().cloned().collect()
    }

    /// Normalizes and checks a pool domain and subdomain.
    fn names(&self, pool: &str, subdomain: &str) -> Result<(String, String), PoolError> {
        let pool = pool.trim().trim_end_matches('.').to_ascii_lowercase();
        let subdomain = subdomain.trim().to_ascii_lowercase();
        if !records::valid_label(&subdomain) {
            return Err(PoolError::InvalidFormat(format!(
                "subdomain {subdomain:?} must be one label of a-z, 0-9 and '-', starting with a letter, 1-63 characters"
            )));
        }
        if !self.settings.domains.contains(&pool) {
            return Err(PoolError::UnsupportedPool(pool));
        }
        Ok((pool, subdomain))
    }

    /// Whether `<subdomain>.<pool>` could be reserved now.
    pub async fn check(&self, pool: &str, subdomain: &str) -> Result<Check, PoolError> {
        let (pool, subdomain) = match self.names(pool, subdomain) {
            Ok(names) => names,
            Err(error @ PoolError::InvalidFormat(_)) => return Ok(refusal("invalid-format", error, None)),
            Err(error @ PoolError::UnsupportedPool(_)) => {
                let fqdn = format!(
                    "{}.{}",
                    subdomain.trim().to_ascii_lowercase(),
                    pool.trim().to_ascii_lowercase()
                );
                return Ok(refusal("unsupported-pool", error, Some(fqdn)));
            }
            Err(error) => return Err(error),
        };
        let fqdn = format!("{subdomain}.{pool}");
        if self.settings.reserved.contains(&subdomain) {
            return Ok(refusal("reserved", PoolError::Reserved(subdomain), Some(fqdn)));
        }
        let now = unix_time();
        let existing = self.store.allocation(&pool, &subdomain).await?;
        let zone = records::child_zone(&pool, &subdomain);
        let served = match self.store.zone_id(&zone).await {
            Ok(_) => true,
            Err(StoreError::NoSuchZone(_)) => false,
            Err(error) => return Err(error.into()),
        };
        let foreign_zone =
            existing.is_none() && served && self.store.zone_creator(&zone).await?.as_deref() != Some(AUTHOR);
        let reason = match existing {
            None if foreign_zone => Some("zone-exists"),
            None => None,
            Some(allocation) if allocation.state == "reserved" && allocation.expires_at.is_some_and(|at| at <= now) => {
                None
            }
            Some(allocation) => Some(match allocation.state.as_str() {
                "reserved" => "reserved-state",
                "active" => "active-state",
                _ => "releasing-state",
            }),
        };
        Ok(Check {
            available: reason.is_none(),
            reason,
            detail: reason.map(|reason| format!("{fqdn} is taken ({reason})")),
            fqdn: Some(fqdn),
        })
    }

    /// Reserves `<subdomain>.<pool>`: the allocation row, the child zone
    /// (SOA, NS and, by default, a signing key) and the delegation in the
    /// parent zone served here, in one transaction. Returns the allocation
    /// and its token, which is shown only here.
    pub async fn reserve(
        &self,
        pool: &str,
        subdomain: &str,
        created_by: &str,
    ) -> Result<(Allocation, String), PoolError> {
        let (pool, subdomain) = self.names(pool, subdomain)?;
        if self.settings.reserved.contains(&subdomain) {
            return Err(PoolError::Reserved(subdomain));
        }
        let token = new_token();
        let mut writer = self.store.writer().await?;
        let now = writer.now();
        if let Some(existing) = writer.allocation(&pool, &subdomain).await? {
            let lapsed = existing.state == "reserved" && existing.expires_at.is_some_and(|at| at <= now);
            if !lapsed || self.settings.registrars.contains_key(&pool) {
                return Err(PoolError::Conflict(format!("{subdomain}.{pool}")));
            }
            // A lapsed reservation the reconciler has not swept yet goes
            // with its DNS, in this transaction.
            self.remove_dns(&mut writer, &existing).await?;
            writer.delete_allocation(&pool, &subdomain).await?;
        }
        let allocation = Allocation {
            pool_domain: pool.clone(),
            subdomain: subdomain.clone(),
            state: "reserved".into(),
            reserved_at: now,
            expires_at: Some(now + self.settings.reservation_ttl),
            committed_at: None,
            token_hash: token_hash(&token),
            created_by: created_by.to_string(),
            sovereign_fqdn: None,
            load_balancer_ip: None,
            regions: None,
            delegated: false,
            attempts: 0,
            next_attempt_at: 0,
            last_error: None,
            updated_at: now,
        };
        // A zone of that name that the pool did not make is someone else's.
        let zone = records::child_zone(&pool, &subdomain);
        if writer.lock_zone(&zone).await?.is_some() && writer.zone_creator(&zone).await?.as_deref() != Some(AUTHOR) {
            return Err(PoolError::Conflict(format!(
                "{subdomain}.{pool} (a zone of that name is already served)"
            )));
        }
        writer
            .insert_allocation(&allocation)
            .await
            .map_err(|error| match error {
                StoreError::AllocationExists(name) => PoolError::Conflict(name),
                other => other.into(),
            })?;
        self.ensure_dns(&mut writer, &allocation).await?;
        writer.commit().await?;
        let allocation = self.delegate_now(allocation).await;
        Ok((allocation, token))
    }

    /// Commits a reservation: the allocation turns active and the
    /// configured names point at the Sovereign. Repeating a commit with
    /// the same token applies its records again (and may change them).
    pub async fn commit(&self, pool: &str, subdomain: &str, request: &CommitRequest) -> Result<Allocation, PoolError> {
        let (pool, subdomain) = self.names(pool, subdomain)?;
        let fqdn = format!("{subdomain}.{pool}");
        let given = request.sovereign_fqdn.trim().trim_end_matches('.').to_ascii_lowercase();
        if !given.is_empty() && given != fqdn {
            return Err(PoolError::FqdnMismatch { given, expected: fqdn });
        }
        let address = match request.load_balancer_ip.trim() {
            "" if request.regions.is_empty() => return Err(PoolError::MissingAddress),
            "" => None,
            text => Some(text.parse::<IpAddr>().map_err(|_| {
                PoolError::InvalidAddress(format!("loadBalancerIP {text:?} is not an IPv4 or IPv6 address"))
            })?),
        };
        records::check_regions(&request.regions).map_err(PoolError::InvalidRegions)?;
        let mut writer = self.store.writer().await?;
        let now = writer.now();
        let mut allocation = writer
            .allocation(&pool, &subdomain)
            .await?
            .ok_or_else(|| PoolError::NotFound(fqdn.clone()))?;
        if allocation.state == "releasing" {
            return Err(PoolError::Releasing(fqdn));
        }
        if !token_matches(&allocation.token_hash, &request.token) {
            return Err(PoolError::TokenMismatch);
        }
        if allocation.state == "reserved" && allocation.expires_at.is_some_and(|at| at <= now) {
            return Err(PoolError::Expired(fqdn));
        }
        allocation.state = "active".into();
        allocation.expires_at = None;
        allocation.committed_at.get_or_insert(now);
        allocation.sovereign_fqdn = Some(fqdn);
        allocation.load_balancer_ip = address.map(|address| address.to_string());
        allocation.regions = if request.regions.is_empty() {
            None
        } else {
            Some(
                serde_json::to_string(&request.regions)
                    .map_err(|error| PoolError::InvalidRegions(error.to_string()))?,
            )
        };
        allocation.updated_at = now;
        writer.update_allocation(&allocation).await?;
        self.ensure_dns(&mut writer, &allocation).await?;
        writer.commit().await?;
        Ok(allocation)
    }

    /// Extends a reservation by the reservation TTL from now.
    pub async fn renew(&self, pool: &str, subdomain: &str, token: &str) -> Result<Allocation, PoolError> {
        let (pool, subdomain) = self.names(pool, subdomain)?;
        let fqdn = format!("{subdomain}.{pool}");
        let mut writer = self.store.writer().await?;
        let now = writer.now();
        let mut allocation = writer
            .allocation(&pool, &subdomain)
            .await?
            .ok_or_else(|| PoolError::NotFound(fqdn.clone()))?;
        if !token_matches(&allocation.token_hash, token) {
            return Err(PoolError::TokenMismatch);
        }
        match allocation.state.as_str() {
            "active" => return Err(PoolError::AlreadyActive(fqdn)),
            "releasing" => return Err(PoolError::Releasing(fqdn)),
            _ if allocation.expires_at.is_some_and(|at| at <= now) => return Err(PoolError::Expired(fqdn)),
            _ => {}
        }
        allocation.expires_at = Some(now + self.settings.reservation_ttl);
        allocation.updated_at = now;
        writer.update_allocation(&allocation).await?;
        writer.commit().await?;
        Ok(allocation)
    }

    /// Releases an allocation in any state. Pools whose parent is served
    /// here release in one transaction; a provider-delegated pool first
    /// marks the allocation `releasing`, then removes the delegation, then
    /// the zone and the row. Repeating a release of a `releasing`
    /// allocation tries again.
    pub async fn release(&self, pool: &str, subdomain: &str) -> Result<Released, PoolError> {
        let (pool, subdomain) = self.names(pool, subdomain)?;
        let fqdn = format!("{subdomain}.{pool}");
        let mut writer = self.store.writer().await?;
        let Some(mut allocation) = writer.allocation(&pool, &subdomain).await? else {
            return Err(PoolError::NotFound(fqdn));
        };
        if !self.settings.registrars.contains_key(&pool) {
            self.remove_dns(&mut writer, &allocation).await?;
            writer.delete_allocation(&pool, &subdomain).await?;
            writer.commit().await?;
            return Ok(Released::Freed(allocation));
        }
        if allocation.state != "releasing" {
            allocation.state = "releasing".into();
            allocation.delegated = true;
            allocation.attempts = 0;
            allocation.next_attempt_at = 0;
            allocation.updated_at = writer.now();
            writer.update_allocation(&allocation).await?;
        }
        writer.commit().await?;
        self.finish_release(allocation).await
    }

    /// The allocations of a pool.
    pub async fn list(&self, pool: &str) -> Result<Vec<Allocation>, PoolError> {
        let pool = pool.trim().trim_end_matches('.').to_ascii_lowercase();
        if !self.settings.domains.contains(&pool) {
            return Err(PoolError::UnsupportedPool(pool));
        }
        Ok(self.store.allocations(&pool).await?)
    }

    /// Removes a releasing allocation's delegation at its provider, then
    /// its zone and row.
    async fn finish_release(&self, mut allocation: Allocation) -> Result<Released, PoolError> {
        let registrar = self.settings.registrars.get(&allocation.pool_domain);
        if let Some(registrar) = registrar.filter(|_| allocation.delegated) {
            let child = format!("{}.{}", allocation.subdomain, allocation.pool_domain);
            if let Err(error) = registrar.undelegate(&child).await {
                let reason = format!(
                    "the delegation at {} could not be removed yet: {error}",
                    registrar.name()
                );
                allocation = self.record_failure(allocation, &reason).await?;
                return Ok(Released::Pending(allocation, reason));
            }
        }
        let mut writer = self.store.writer().await?;
        if let Some(current) = writer
            .allocation(&allocation.pool_domain, &allocation.subdomain)
            .await?
            .filter(|current| current.state == "releasing")
        {
            self.remove_dns(&mut writer, &current).await?;
            writer
                .delete_allocation(&current.pool_domain, &current.subdomain)
                .await?;
        }
        writer.commit().await?;
        Ok(Released::Freed(allocation))
    }

    /// Notes a failed provider call and when to try again (exponential
    /// backoff from the reconcile interval, at most an hour).
    async fn record_failure(&self, allocation: Allocation, reason: &str) -> Result<Allocation, PoolError> {
        let mut writer = self.store.writer().await?;
        let now = writer.now();
        let Some(mut current) = writer
            .allocation(&allocation.pool_domain, &allocation.subdomain)
            .await?
        else {
            return Ok(allocation);
        };
        let base = self.settings.reconcile_interval.as_secs().max(1) as i64;
        current.attempts += 1;
        current.next_attempt_at = now + (base << current.attempts.min(7)).min(3600);
        current.last_error = Some(reason.to_string());
        current.updated_at = now;
        writer.update_allocation(&current).await?;
        writer.commit().await?;
        Ok(current)
    }

    /// Writes the allocation's delegation at its provider, if its pool has
    /// one and it is not there yet; failures are left to the reconciler.
    async fn delegate_now(&self, allocation: Allocation) -> Allocation {
        let Some(registrar) = self.settings.registrars.get(&allocation.pool_domain) else {
            return allocation;
        };
        if allocation.delegated || allocation.state == "releasing" {
            return allocation;
        }
        let child = format!("{}.{}", allocation.subdomain, allocation.pool_domain);
        let ds = delegation::ds_specs(&self.store, &child).await.unwrap_or_default();
        match registrar.delegate(&child, &self.settings.nameservers, &ds).await {
            Ok(()) => match self.mark_delegated(&allocation).await {
                Ok(Some(updated)) => updated,
                Ok(None) => allocation,
                Err(error) => {
                    tracing::warn!(%error, allocation = %child, "delegation done but not recorded; the reconciler will check it again");
                    allocation
                }
            },
            Err(error) => {
                let reason = format!("delegation at {} failed: {error}", registrar.name());
                tracing::warn!(allocation = %child, %reason, "delegation deferred to the reconciler");
                self.record_failure(allocation.clone(), &reason)
                    .await
                    .unwrap_or(allocation)
            }
        }
    }

    async fn mark_delegated(&self, allocation: &Allocation) -> Result<Option<Allocation>, PoolError> {
        let mut writer = self.store.writer().await?;
        let now = writer.now();
        let Some(mut current) = writer
            .allocation(&allocation.pool_domain, &allocation.subdomain)
            .await?
            .filter(|current| current.state != "releasing")
        else {
            return Ok(None);
        };
        current.delegated = true;
        current.attempts = 0;
        current.next_attempt_at = 0;
        current.last_error = None;
        current.updated_at = now;
        writer.update_allocation(&current).await?;
        writer.commit().await?;
        Ok(Some(current))
    }

    /// Makes the DNS of an allocation what its row says: the child zone
    /// (with its key), the parent's NS records when the parent is served
    /// here, and the committed records. Each part that is already right
    /// writes nothing. Returns whether anything was written.
    async fn ensure_dns(&self, writer: &mut Writer, allocation: &Allocation) -> Result<bool, PoolError> {
        let settings = &self.settings;
        let pool = &allocation.pool_domain;
        let zone = records::child_zone(pool, &allocation.subdomain);
        let mut changed = false;
        if writer.lock_zone(&zone).await?.is_none() {
            changed = true;
            let skeleton = records::skeleton(&zone, pool, &settings.nameservers, writer.now());
            ChangeSet::new(
                zone.clone(),
                ZoneChange::Create {
                    records: skeleton,
                    serial_policy: SerialPolicy::Increment,
                },
                AUTHOR,
            )
            .apply(writer)
            .await?;
            if settings.dnssec {
                self.secure(writer, &zone).await?;
            }
        }
        let child = writer
            .lock_zone(&zone)
            .await?
            .ok_or_else(|| StoreError::NoSuchZone(zone.clone()))?;
        let owners = records::owners(&zone, &settings.records);
        let committed = if allocation.state == "active" {
            let address = allocation
                .load_balancer_ip
                .as_deref()
                .and_then(|text| text.parse::<IpAddr>().ok());
            let regions: Vec<Region> = allocation
                .regions
                .as_deref()
                .and_then(|json| serde_json::from_str(json).ok())
                .unwrap_or_default();
            records::committed(&owners, settings.record_ttl, address, &regions)
        } else {
            Vec::new()
        };
        let mut remove = Vec::new();
        for owner in &owners {
            for (_, record) in writer.rows_at(&child, owner).await? {
                let ours = records::COMMITTED_TYPES
                    .iter()
                    .any(|rtype| record.rtype.eq_ignore_ascii_case(rtype));
                if ours && !committed.contains(&record) {
                    remove.push(Removal::Record(record));
                }
            }
        }
        let mut add = records::delegation(&zone, &settings.nameservers);
        add.extend(committed);
        // Records already in place are no change: an edit writes only the
        // difference, and nothing at all when there is none.
        changed |= ChangeSet::new(zone.clone(), ZoneChange::Edit { remove, add }, AUTHOR)
            .apply(writer)
            .await?
            .changed;
        if !settings.registrars.contains_key(pool) {
            let parent = format!("{pool}.");
            if writer.lock_zone(&parent).await?.is_some() {
                changed |= ChangeSet::new(
                    parent,
                    ZoneChange::Edit {
                        remove: Vec::new(),
                        add: records::delegation(&zone, &settings.nameservers),
                    },
                    AUTHOR,
                )
                .apply(writer)
                .await?
                .changed;
            }
        }
        Ok(changed)
    }

    /// Deletes the allocation's child zone and its delegation in the parent
    /// served here.
    async fn remove_dns(&self, writer: &mut Writer, allocation: &Allocation) -> Result<(), PoolError> {
        let zone = records::child_zone(&allocation.pool_domain, &allocation.subdomain);
        remove_zone_and_delegation(writer, &allocation.pool_domain, &zone).await
    }

    async fn secure(&self, writer: &mut Writer, zone: &str) -> Result<(), PoolError> {
        let apex: Name = zone
            .parse()
            .map_err(|_| PoolError::InvalidFormat(format!("{zone} is not a domain name")))?;
        let keys = new_keys(&apex, Algorithm::EcdsaP256Sha256, false, self.kek.as_deref())
            .map_err(|error| PoolError::Keys(error.to_string()))?;
        let rows: Vec<_> = keys.iter().map(|key| key.row()).collect();
        let locked = writer
            .lock_zone(zone)
            .await?
            .ok_or_else(|| StoreError::NoSuchZone(zone.to_string()))?;
        let settings = DnssecSettings {
            denial: "nsec".into(),
            nsec3_opt_out: false,
        };
        writer.secure_zone(&locked, &settings, &rows).await?;
        Ok(())
    }
}

/// Deletes `zone` (if stored) and its NS records in the pool's zone (if
/// served here).
async fn remove_zone_and_delegation(writer: &mut Writer, pool: &str, zone: &str) -> Result<(), PoolError> {
    if writer.lock_zone(zone).await?.is_some() {
        ChangeSet::new(zone.to_string(), ZoneChange::Delete, AUTHOR)
            .apply(writer)
            .await?;
    }
    let parent = format!("{pool}.");
    if writer.lock_zone(&parent).await?.is_some() {
        ChangeSet::new(
            parent,
            ZoneChange::Edit {
                remove: vec![
                    Removal::RRset {
                        name: zone.to_string(),
                        rtype: "NS".into(),
                    },
                    Removal::RRset {
                        name: zone.to_string(),
                        rtype: "DS".into(),
                    },
                ],
                add: Vec::new(),
            },
            AUTHOR,
        )
        .apply(writer)
        .await?;
    }
    Ok(())
}

fn unix_time() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64)
}

fn refusal(reason: &'static str, error: PoolError, fqdn: Option<String>) -> Check {
    Check {
        available: false,
        reason: Some(reason),
        detail: Some(error.to_string()),
        fqdn,
    }
}

/// A random version 4 UUID (RFC 9562 §5.4), as PDM's tokens are.
fn new_token() -> String {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system random number generator works");
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = data_encoding::HEXLOWER.encode(&bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// The stored form of a token: only its SHA-256 is kept.
fn token_hash(token: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, token.trim().to_ascii_lowercase().as_bytes());
    data_encoding::HEXLOWER.encode(digest.as_ref())
}

/// Compares a presented token with the stored hash in constant time.
fn token_matches(stored_hash: &str, presented: &str) -> bool {
    use subtle::ConstantTimeEq;
    bool::from(token_hash(presented).as_bytes().ct_eq(stored_hash.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_uuid_v4_and_only_their_hash_matches() {
        let token = new_token();
        assert_eq!(token.len(), 36);
        assert_eq!(&token[14..15], "4");
        assert!(matches!(&token[19..20], "8" | "9" | "a" | "b"));
        let hash = token_hash(&token);
        assert!(token_matches(&hash, &token));
        assert!(token_matches(&hash, &token.to_ascii_uppercase()));
        assert!(!token_matches(&hash, &new_token()));
        assert!(!token_matches(&hash, ""));
    }
}
