//! Drives key rollovers forward: the runtime half of [`crate::dnssec::roll`].
//!
//! Once a second the roller reads the rolls in progress from the store;
//! for each whose wait is over it works out the next step from the zone's
//! served snapshot (its TTLs) and, while waiting for a parent, from the
//! parent's DS set, and writes the step in one transaction. The loader then
//! rebuilds the zone (and its parent, if served here) from the store, like
//! after any other change.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base::dnskey::{ds_rdata, DigestType};
use base::name::Name;
use base::types;

use crate::catalog::SharedCatalog;
use crate::dnssec::roll::{self, Phase, Step, Timing};
use crate::dnssec::KeyRole;
use crate::store::{Duty, Leadership, RollUpdate, Store, StoreError, StoredRoll};

/// A rollover just started.
#[derive(Debug)]
pub struct StartedRoll {
    pub role: KeyRole,
    pub old_key_id: i64,
    pub new_key_id: i64,
    /// Seconds until the roller takes the next step.
    pub wait: u64,
}

/// Why a rollover could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartRollError {
    #[error("zone {0} is not secured (run pooldns zone secure {0})")]
    NotSecured(Name),
    #[error("zone {zone} has no active {role} to roll")]
    NothingToRoll { zone: Name, role: KeyRole },
    #[error("key {0} has an unsupported algorithm")]
    Algorithm(i64),
    #[error("{0}")]
    Keys(#[from] crate::dnssec::keys::KeyError),
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// Starts a rollover of the active key of `role` of zone `apex` (by
/// default its CSK, else its ZSK): a new key of the same algorithm is
/// published, and the roller carries the roll on from there.
pub async fn start_roll(
    store: &Store,
    apex: &Name,
    role: Option<KeyRole>,
    propagation: u64,
    kek: Option<&crate::dnssec::crypto::KeyEncryptionKey>,
) -> Result<StartedRoll, StartRollError> {
    let id = store.zone_id(&apex.to_string()).await?;
    let keys = store.zone_keys(id).await?;
    if keys.is_empty() {
        return Err(StartRollError::NotSecured(apex.clone()));
    }
    let role = match role {
        Some(role) => role,
        None if keys.iter().any(|key| key.role == "csk" && key.active) => KeyRole::Csk,
        None => KeyRole::Zsk,
    };
    let Some(old) = keys.iter().find(|key| key.role == role.as_str() && key.active) else {
        return Err(StartRollError::NothingToRoll {
            zone: apex.clone(),
            role,
        });
    };
    let algorithm = u8::try_from(old.algorithm)
        .ok()
        .and_then(crate::dnssec::crypto::Algorithm::from_number)
        .ok_or(StartRollError::Algorithm(old.id))?;
    // The DNSKEY RRset takes the SOA's TTL (see dnssec::prepare_records).
    let rows = store.zone_records(id).await?;
    let dnskey_ttl = rows
        .iter()
        .find(|row| row.rtype == "SOA")
        .map_or(3600, |soa| soa.ttl.max(0) as u64);
    let timing = Timing {
        propagation,
        dnskey_ttl,
        max_ttl: 0,
    };
    let now = base::time::unix_now();
    let (flags, publish_until) = roll::start(role, timing, now);
    let new = crate::dnssec::keys::new_key(apex, algorithm, role, (flags.published, flags.active, flags.ds), kek)?;
    let new_key_id = store
        .start_roll(&apex.to_string(), role.as_str(), &new.row(), publish_until as i64)
        .await?;
    Ok(StartedRoll {
        role,
        old_key_id: old.id,
        new_key_id,
        wait: publish_until.saturating_sub(now),
    })
}

/// How often a parent's DS set is looked up while a roll waits for it.
const PARENT_CHECK_INTERVAL: u64 = 5;

/// Moves rollovers on.
pub struct Roller {
    store: Store,
    catalog: SharedCatalog,
    propagation: u64,
    parent_resolver: Option<SocketAddr>,
    parent_port: u16,
    status: Arc<RollStatus>,
    last_parent_check: HashMap<i64, u64>,
}

/// The rolls in progress, for metrics.
#[derive(Default)]
pub struct RollStatus {
    rolls: Mutex<Vec<StoredRoll>>,
}

impl RollStatus {
    /// The rolls in progress as of the last tick.
    pub fn rolls(&self) -> Vec<StoredRoll> {
        self.rolls
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

impl Roller {
    /// A roller over `store`, reading TTLs and local parents from `catalog`.
    /// `parent_resolver` finds the servers of parents not served here,
    /// which are asked on `parent_port`.
    pub fn new(
        store: Store,
        catalog: SharedCatalog,
        propagation: u64,
        parent_resolver: Option<SocketAddr>,
        parent_port: u16,
    ) -> Roller {
        Roller {
            store,
            catalog,
            propagation,
            parent_resolver,
            parent_port,
            status: Arc::new(RollStatus::default()),
            last_parent_check: HashMap::new(),
        }
    }

    /// The roll status, for `/metrics`.
    pub fn status(&self) -> Arc<RollStatus> {
        self.status.clone()
    }

    /// Ticks every `interval` until `shutdown` is set.
    pub async fn run(mut self, interval: Duration, shutdown: Arc<AtomicBool>) {
        // Nodes sharing a store take steps one at a time: the one holding
        // the lock does.
        let mut leadership = Leadership::new(self.store.clone(), Duty::Rollover);
        while !shutdown.load(Ordering::Relaxed) {
            tokio::time::sleep(interval).await;
            let lead = leadership.hold().await;
            if let Err(error) = self.tick(lead).await {
                tracing::warn!(%error, "key rollovers not advanced");
            }
        }
    }

    /// Reads the rolls in progress and, when `lead`, advances every roll
    /// whose wait is over by one step.
    pub async fn tick(&mut self, lead: bool) -> Result<(), StoreError> {
        let rolls = self.store.rolls().await?;
        *self
            .status
            .rolls
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = rolls.clone();
        if !lead {
            return Ok(());
        }
        let now = base::time::unix_now();
        for roll in rolls {
            if now < roll.next_at as u64 {
                continue;
            }
            match self.advance(&roll, now).await {
                Ok(()) => {}
                Err(StoreError::RollChanged(_)) => {}
                Err(error) => tracing::warn!(zone = %roll.zone, %error, "key roll step failed"),
            }
        }
        Ok(())
    }

    async fn advance(&mut self, roll: &StoredRoll, now: u64) -> Result<(), StoreError> {
        let (Ok(role), Ok(phase)) = (roll.role.parse::<KeyRole>(), roll.phase.parse::<Phase>()) else {
            tracing::error!(zone = %roll.zone, role = %roll.role, phase = %roll.phase, "roll in an unknown state");
            return Ok(());
        };
        let Some(timing) = self.timing(&roll.zone) else {
            // The zone is not served (yet): its TTLs are unknown.
            return Ok(());
        };
        let ds_seen = roll.ds_seen_at.is_some();
        let parent_ds_ttl = if phase == Phase::DsWait && !ds_seen {
            let last = self.last_parent_check.get(&roll.zone_id).copied().unwrap_or(0);
            if now < last + PARENT_CHECK_INTERVAL {
                return Ok(());
            }
            self.last_parent_check.insert(roll.zone_id, now);
            self.parent_ds_ttl(roll).await?
        } else {
            None
        };
        let step = roll::step(role, phase, roll.next_at as u64, ds_seen, parent_ds_ttl, timing, now);
        let update = match step {
            Step::Wait { .. } => {
                if phase == Phase::DsWait {
                    tracing::debug!(zone = %roll.zone, "waiting for the parent to publish the new DS");
                }
                return Ok(());
            }
            Step::Advance {
                phase,
                old,
                new,
                next_at,
            } => RollUpdate {
                keys: vec![
                    (roll.old_key_id, old.published, old.active, old.ds),
                    (roll.new_key_id, new.published, new.active, new.ds),
                ],
                delete: Vec::new(),
                next: Some((phase.as_str().to_string(), next_at as i64)),
                ds_seen_at: None,
            },
            Step::DsSeen { next_at } => RollUpdate {
                keys: Vec::new(),
                delete: Vec::new(),
                next: Some((Phase::DsWait.as_str().to_string(), next_at as i64)),
                ds_seen_at: Some(now as i64),
            },
            Step::Finish => RollUpdate {
                keys: vec![(roll.new_key_id, true, true, matches!(role, KeyRole::Csk | KeyRole::Ksk))],
                delete: vec![roll.old_key_id],
                next: None,
                ds_seen_at: None,
            },
        };
        self.store.advance_roll(roll, &update).await?;
        match &update.next {
            Some((phase, next_at)) => {
                tracing::info!(zone = %roll.zone, role = %roll.role, %phase, next_at, "key roll advanced")
            }
            None => {
                tracing::info!(zone = %roll.zone, role = %roll.role, old_key = roll.old_key_id, "key roll finished")
            }
        }
        Ok(())
    }

    /// TTLkey and TTLsig of the served snapshot of `zone`.
    fn timing(&self, zone: &str) -> Option<Timing> {
        let apex: Name = zone.parse().ok()?;
        let catalog = self.catalog.load();
        // A zone still loading has no TTLs to go by yet.
        let served = &catalog.zone(&apex).filter(|snapshot| !snapshot.loading)?.zone;
        let dnskey_ttl = served
            .apex_node()
            .rrset(types::DNSKEY)
            .or_else(|| served.soa())
            .map_or(0, |rrset| rrset.ttl);
        let max_ttl = served
            .nodes()
            .flat_map(|node| node.rrsets().map(|rrset| rrset.ttl))
            .max()
            .unwrap_or(0);
        Some(Timing {
            propagation: self.propagation,
            dnskey_ttl: u64::from(dnskey_ttl),
            max_ttl: u64::from(max_ttl),
        })
    }

    /// The TTL of the parent's DS RRset if it holds a DS for the roll's new
    /// key: from the parent zone when it is served here, else by asking the
    /// parent resolver.
    async fn parent_ds_ttl(&self, roll: &StoredRoll) -> Result<Option<u64>, StoreError> {
        let Ok(child) = roll.zone.parse::<Name>() else {
            return Ok(None);
        };
        let keys = self.store.zone_keys(roll.zone_id).await?;
        let Some(new_key) = keys.iter().find(|key| key.id == roll.new_key_id) else {
            return Ok(None);
        };
        let dnskey = new_key.dnskey_rdata()?;
        let wanted = [DigestType::Sha256, DigestType::Sha384].map(|digest| ds_rdata(child.as_wire(), &dnskey, digest));
        let child_wire = child.to_lowercase();
        {
            let catalog = self.catalog.load();
            if let Some(parent) = catalog.find(child_wire.as_wire(), types::DS) {
                if parent.loading {
                    return Ok(None);
                }
                if !parent.zone.apex().eq_ignore_case(&child) {
                    let ds = parent
                        .zone
                        .node(child_wire.as_wire())
                        .and_then(|node| node.rrset(types::DS));
                    return Ok(ds
                        .filter(|ds| ds.rdata().any(|rdata| wanted.iter().any(|w| w == rdata)))
                        .map(|ds| u64::from(ds.ttl)));
                }
            }
        }
        let Some(resolver) = self.parent_resolver.or_else(system_resolver) else {
            return Ok(None);
        };
        Ok(self.ds_at_every_parent_server(resolver, &child, &wanted).await)
    }

    /// The longest TTL of the DS RRsets that every server of `child`'s
    /// parent zone answers, authoritatively, with one of the `wanted` DS
    /// RDATAs; `None` while any server does not (or cannot be asked). The
    /// expected DS is public (the CDS records), so no single answer, nor
    /// the resolver's, is trusted: retiring the old key while one parent
    /// server still points at it would make the zone bogus behind it.
    async fn ds_at_every_parent_server(&self, resolver: SocketAddr, child: &Name, wanted: &[Vec<u8>]) -> Option<u64> {
        let domain = registrars::DomainName::new(&child.to_string()).ok()?;
        let options = registrars::VerifyOptions {
            port: self.parent_port,
            ..registrars::VerifyOptions::default()
        };
        let servers = match registrars::find_parent_servers(resolver, &domain, &options).await {
            Ok(servers) => servers,
            Err(error) => {
                tracing::debug!(zone = %child, %error, "the parent's servers cannot be found");
                return None;
            }
        };
        let mut ttl = 0;
        for server in servers {
            let reply = registrars::dns::query(
                server,
                domain.as_str(),
                registrars::dns::TYPE_DS,
                false,
                options.query_timeout,
            )
            .await;
            let reply = match reply {
                Ok(reply) if reply.rcode == 0 && reply.authoritative => reply,
                Ok(reply) => {
                    tracing::debug!(zone = %child, %server, rcode = reply.rcode, aa = reply.authoritative, "parent server gave no authoritative DS answer");
                    return None;
                }
                Err(error) => {
                    tracing::debug!(zone = %child, %server, %error, "parent server not answering");
                    return None;
                }
            };
            let found = reply.answers.iter().find_map(|record| match &record.data {
                registrars::dns::RecordData::Ds(ds) if record.name == domain.as_str() => {
                    wanted.contains(&ds.rdata()).then_some(record.ttl)
                }
                _ => None,
            });
            ttl = ttl.max(u64::from(found?));
        }
        Some(ttl)
    }
}

/// The first `nameserver` of /etc/resolv.conf, on port 53.
pub fn system_resolver() -> Option<SocketAddr> {
    let text = std::fs::read_to_string("/etc/resolv.conf").ok()?;
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("nameserver"))
        .find_map(|address| address.trim().parse::<std::net::IpAddr>().ok())
        .map(|address| SocketAddr::new(address, 53))
}
