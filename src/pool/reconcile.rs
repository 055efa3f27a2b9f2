//! The reconciler: one background loop that brings DNS in line with the
//! allocations. It sweeps lapsed reservations, finishes releases, writes
//! and retries provider delegations with backoff, recreates what is
//! missing and deletes zones the pool created that no allocation owns.
//! With PostgreSQL one node reconciles at a time (see
//! [`crate::store::Leadership`]): when it dies another takes over on its
//! next tick.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{records, remove_zone_and_delegation, Pools};
use crate::store::{Duty, Leadership};

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pass {
    pub swept: usize,
    pub released: usize,
    pub delegated: usize,
    pub repaired: usize,
    pub orphans: usize,
    pub errors: usize,
}

/// Passes this node ran, the errors they met, when the last one ended
/// (Unix time), and the allocations whose last provider call (delegation
/// or its removal) failed and waits for a retry: for `/metrics`.
static PASSES: AtomicU64 = AtomicU64::new(0);
static ERRORS: AtomicU64 = AtomicU64::new(0);
static LAST_PASS: AtomicU64 = AtomicU64::new(0);
static PROVIDER_FAILURES: AtomicU64 = AtomicU64::new(0);

/// What the reconciler of this node has done, for `/metrics`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReconcilerStats {
    pub passes: u64,
    pub errors: u64,
    pub last_pass: u64,
    pub provider_failures: u64,
}

pub fn stats() -> ReconcilerStats {
    ReconcilerStats {
        passes: PASSES.load(Ordering::Relaxed),
        errors: ERRORS.load(Ordering::Relaxed),
        last_pass: LAST_PASS.load(Ordering::Relaxed),
        provider_failures: PROVIDER_FAILURES.load(Ordering::Relaxed),
    }
}

impl Pools {
    /// Runs the reconciler until the process ends.
    pub async fn reconcile_forever(self) {
        let mut leadership = Leadership::new(self.store.clone(), Duty::Reconciler);
        let mut ticker = tokio::time::interval(self.settings.reconcile_interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if !leadership.hold().await {
                continue;
            }
            let pass = self.reconcile().await;
            PASSES.fetch_add(1, Ordering::Relaxed);
            ERRORS.fetch_add(pass.errors as u64, Ordering::Relaxed);
            LAST_PASS.store(super::unix_time() as u64, Ordering::Relaxed);
            if pass != Pass::default() {
                tracing::info!(?pass, "reconciled pool allocations");
            }
        }
    }

    /// One reconciler pass over every allocation and every zone below a
    /// pool domain.
    pub async fn reconcile(&self) -> Pass {
        let mut pass = Pass::default();
        // Only this node's pools: a shared database may hold others'.
        let mut allocations = Vec::new();
        for pool in &self.settings.domains {
            match self.store.allocations(pool).await {
                Ok(found) => allocations.extend(found),
                Err(error) => {
                    tracing::warn!(%error, "reconciler cannot read allocations");
                    pass.errors += 1;
                    return pass;
                }
            }
        }
        let now = super::unix_time();
        let failing = allocations
            .iter()
            .filter(|allocation| allocation.last_error.is_some())
            .count();
        PROVIDER_FAILURES.store(failing as u64, Ordering::Relaxed);
        let mut owned = BTreeSet::new();
        for allocation in allocations {
            let name = format!("{}.{}", allocation.subdomain, allocation.pool_domain);
            let lapsed = allocation.state == "reserved" && allocation.expires_at.is_some_and(|at| at <= now);
            let due = allocation.next_attempt_at <= now;
            let result = if lapsed || allocation.state == "releasing" {
                if !due && allocation.state == "releasing" {
                    owned.insert(records::child_zone(&allocation.pool_domain, &allocation.subdomain));
                    continue;
                }
                match self.release(&allocation.pool_domain, &allocation.subdomain).await {
                    Ok(super::Released::Freed(_)) => {
                        if lapsed {
                            pass.swept += 1;
                        } else {
                            pass.released += 1;
                        }
                        Ok(())
                    }
                    Ok(super::Released::Pending(..)) => {
                        owned.insert(records::child_zone(&allocation.pool_domain, &allocation.subdomain));
                        Err(format!("{name}: release pending"))
                    }
                    Err(error) => Err(format!("{name}: {error}")),
                }
            } else {
                owned.insert(records::child_zone(&allocation.pool_domain, &allocation.subdomain));
                self.repair(&allocation, due, &mut pass)
                    .await
                    .map_err(|error| format!("{name}: {error}"))
            };
            if let Err(error) = result {
                tracing::warn!(%error, "reconciler");
                pass.errors += 1;
            }
        }
        if let Err(error) = self.remove_orphans(&owned, &mut pass).await {
            tracing::warn!(%error, "reconciler cannot remove orphaned zones");
            pass.errors += 1;
        }
        pass
    }

    /// Restores the allocation's DNS where it differs and, when due,
    /// writes its provider delegation.
    async fn repair(&self, allocation: &crate::store::Allocation, due: bool, pass: &mut Pass) -> Result<(), String> {
        let mut writer = self.store.writer().await.map_err(|error| error.to_string())?;
        // The row as it is now: a release may have come in since the list
        // was read, and its zone must not come back.
        let current = writer
            .allocation(&allocation.pool_domain, &allocation.subdomain)
            .await
            .map_err(|error| error.to_string())?;
        let Some(current) = current.filter(|current| current.state != "releasing") else {
            return Ok(());
        };
        let changed = self
            .ensure_dns(&mut writer, &current)
            .await
            .map_err(|error| error.to_string())?;
        writer.commit().await.map_err(|error| error.to_string())?;
        if changed {
            pass.repaired += 1;
        }
        if !allocation.delegated && due && self.settings.registrars.contains_key(&allocation.pool_domain) {
            let updated = self.delegate_now(allocation.clone()).await;
            if updated.delegated {
                pass.delegated += 1;
            } else {
                return Err(updated.last_error.unwrap_or_else(|| "delegation failed".into()));
            }
        }
        Ok(())
    }

    /// Deletes zones one label below a pool domain that the pool created and
    /// no allocation owns, with their delegation in the parent.
    async fn remove_orphans(&self, owned: &BTreeSet<String>, pass: &mut Pass) -> Result<(), String> {
        let zones = self.store.zone_versions().await.map_err(|error| error.to_string())?;
        for zone in zones {
            let Some((label, parent)) = zone.name.split_once('.') else {
                continue;
            };
            let pool = parent.trim_end_matches('.');
            if !self.settings.domains.iter().any(|domain| domain == pool)
                || !records::valid_label(label)
                || owned.contains(&zone.name)
            {
                continue;
            }
            // The allocation may have been made since the list was read;
            // and a zone the pool did not create is not the pool's.
            let mut writer = self.store.writer().await.map_err(|error| error.to_string())?;
            let allocated = writer
                .allocation(pool, label)
                .await
                .map_err(|error| error.to_string())?
                .is_some();
            let creator = writer
                .zone_creator(&zone.name)
                .await
                .map_err(|error| error.to_string())?;
            if allocated || creator.as_deref() != Some(super::AUTHOR) {
                continue;
            }
            remove_zone_and_delegation(&mut writer, pool, &zone.name)
                .await
                .map_err(|error| error.to_string())?;
            writer.commit().await.map_err(|error| error.to_string())?;
            tracing::warn!(zone = %zone.name, "deleted a zone below a pool domain that no allocation owns");
            pass.orphans += 1;
        }
        Ok(())
    }
}
