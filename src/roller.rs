//! Drives key rollovers forward: the runtime half of [`crate::dnssec::roll`].
//!
//! Once a second the roller reads the rolls in progress from the store;
//! for each whose wait is over it works out the next step from the zone's
//! served snapshot (its TTLs) and, while waiting for a parent, from the
//! parent's DS set, and writes the step in one transaction. The loader then
//! rebuilds the zone (and its parent, if served here) from the store, like
//! after any other change.

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base::dnskey::{ds_rdata, DigestType};
use base::name::Name;
use base::types;

use crate::answer;
use crate::catalog::SharedCatalog;
use crate::dnssec::roll::{self, Phase, Step, Timing};
use crate::dnssec::KeyRole;
use crate::store::{RollUpdate, Store, StoreError, StoredRoll};

/// How often a parent's DS set is looked up while a roll waits for it.
const PARENT_CHECK_INTERVAL: u64 = 5;

/// Moves rollovers on.
pub struct Roller {
    store: Store,
    catalog: SharedCatalog,
    propagation: u64,
    parent_resolver: Option<SocketAddr>,
    status: Arc<RollStatus>,
    last_parent_check: HashMap<i64, u64>,
}

/// The rolls in progress, for metrics.
#[derive(Default)]
pub struct RollStatus {
    rolls: Mutex<Vec<StoredRoll>>,
}

impl RollStatus {
    /// Prometheus lines describing the rolls in progress.
    pub fn render(&self) -> String {
        let rolls = self.rolls.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut out = String::from(
            "# HELP pooldns_dnssec_roll Key rollovers in progress, by zone, role and phase.\n\
             # TYPE pooldns_dnssec_roll gauge\n",
        );
        for roll in rolls.iter() {
            out.push_str(&format!(
                "pooldns_dnssec_roll{{zone=\"{}\",role=\"{}\",phase=\"{}\"}} 1\n",
                roll.zone, roll.role, roll.phase
            ));
        }
        out.push_str(
            "# HELP pooldns_dnssec_roll_next_step_seconds When a rollover's current wait ends (Unix time).\n\
             # TYPE pooldns_dnssec_roll_next_step_seconds gauge\n",
        );
        for roll in rolls.iter() {
            out.push_str(&format!(
                "pooldns_dnssec_roll_next_step_seconds{{zone=\"{}\"}} {}\n",
                roll.zone, roll.next_at
            ));
        }
        out
    }
}

impl Roller {
    /// A roller over `store`, reading TTLs and local parents from `catalog`.
    /// `parent_resolver` answers DS queries for parents not served here.
    pub fn new(store: Store, catalog: SharedCatalog, propagation: u64, parent_resolver: Option<SocketAddr>) -> Roller {
        Roller {
            store,
            catalog,
            propagation,
            parent_resolver,
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
        while !shutdown.load(Ordering::Relaxed) {
            tokio::time::sleep(interval).await;
            if let Err(error) = self.tick().await {
                tracing::warn!(%error, "key rollovers not advanced");
            }
        }
    }

    /// Advances every roll whose wait is over by one step.
    pub async fn tick(&mut self) -> Result<(), StoreError> {
        let rolls = self.store.rolls().await?;
        *self
            .status
            .rolls
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = rolls.clone();
        let now = unix_now();
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
        let served = &catalog.zone(&apex)?.zone;
        let dnskey_ttl = served
            .apex_node()
            .rrset(types::DNSKEY)
            .or_else(|| served.soa())
            .map_or(0, |rrset| rrset.ttl);
        let max_ttl = served
            .nodes()
            .iter()
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
        let lookup = tokio::task::spawn_blocking(move || query_ds(resolver, &child_wire)).await;
        Ok(match lookup {
            Ok(Some((ttl, rdatas))) if rdatas.iter().any(|rdata| wanted.contains(rdata)) => Some(u64::from(ttl)),
            _ => None,
        })
    }
}

/// Seconds since the epoch.
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// The first `nameserver` of /etc/resolv.conf, on port 53.
pub fn system_resolver() -> Option<SocketAddr> {
    let text = std::fs::read_to_string("/etc/resolv.conf").ok()?;
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("nameserver"))
        .find_map(|address| address.trim().parse::<std::net::IpAddr>().ok())
        .map(|address| SocketAddr::new(address, 53))
}

/// Asks `resolver` (recursion desired) for the DS RRset of `name`; returns
/// its TTL and RDATAs, `None` on any failure.
fn query_ds(resolver: SocketAddr, name: &Name) -> Option<(u32, Vec<Vec<u8>>)> {
    let socket = UdpSocket::bind(if resolver.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }).ok()?;
    socket.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    let id = (unix_now() as u16) ^ 0x5a5a;
    let mut query = Vec::with_capacity(64);
    query.extend_from_slice(&id.to_be_bytes());
    query.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    query.extend_from_slice(name.as_wire());
    query.extend_from_slice(&types::DS.to_be_bytes());
    query.extend_from_slice(&1u16.to_be_bytes());
    socket.send_to(&query, resolver).ok()?;
    let mut reply = vec![0u8; 4096];
    let len = socket.recv(&mut reply).ok()?;
    let reply = &reply[..len];
    if reply.len() < base::header::HEADER_LEN || reply[..2] != id.to_be_bytes() || reply[3] & 0x0f != 0 {
        return None;
    }
    let answers = u16::from_be_bytes([reply[6], reply[7]]);
    let mut pos = answer::skip_name(reply, base::header::HEADER_LEN)? + 4;
    let mut ttl = u32::MAX;
    let mut rdatas = Vec::new();
    for _ in 0..answers {
        let record = answer::read_record(reply, pos)?;
        if record.rtype == types::DS {
            ttl = ttl.min(record.ttl);
            rdatas.push(reply[record.rdata..record.end].to_vec());
        }
        pos = record.end;
    }
    (!rdatas.is_empty()).then_some((ttl, rdatas))
}
