//! Snapshots made from the served one and the journal, so that a change
//! costs what it changes: a one-record change to a zone of a million names
//! copies a few nodes and signs a few RRsets, instead of reading, building
//! and signing the whole zone again.
//!
//! The journal holds every change to a zone's records since the served
//! snapshot's serial. What the records do not say (the zone's keys and
//! DNSSEC settings, its children's keys for their DS records) must be as
//! they were; a change that reshapes more than its names (see
//! [`crate::zone::edit`]), a new SOA TTL or MINIMUM (the TTL of every
//! denial record), LUA or ALIAS records (compiled per snapshot), and a
//! journal that does not reach back to the served serial are built the
//! long way.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use base::types;

use super::{ChildKeys, Computing};
use crate::catalog::Snapshot;
use crate::import;
use crate::store::{DnssecSettings, Store, StoredKey, ZoneChangeRow, JOURNAL_KEPT};
use crate::zone::Change;

/// Zones built from all their records, and changed in place.
static FULL: AtomicU64 = AtomicU64::new(0);
static IN_PLACE: AtomicU64 = AtomicU64::new(0);

/// How many snapshots were built whole and how many changed in place
/// since the process started, for `/metrics`.
pub fn builds() -> (u64, u64) {
    (FULL.load(Ordering::Relaxed), IN_PLACE.load(Ordering::Relaxed))
}

pub(super) fn count_full_build() {
    FULL.fetch_add(1, Ordering::Relaxed);
}

/// What a zone's snapshot is built from besides its records: its DNSSEC
/// settings, its keys (public parts and states only) and its secured
/// children's keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Inputs(String);

impl Inputs {
    pub(super) fn new(dnssec: Option<&DnssecSettings>, keys: &[StoredKey], children: &[ChildKeys]) -> Inputs {
        let dnssec = dnssec.map(|settings| (&settings.denial, settings.nsec3_opt_out));
        let keys: Vec<_> = keys
            .iter()
            .map(|key| {
                (
                    key.id,
                    &key.role,
                    key.algorithm,
                    &key.dnskey,
                    key.published,
                    key.active,
                    key.ds,
                )
            })
            .collect();
        Inputs(format!("{dnssec:?} {keys:?} {children:?}"))
    }
}

/// The outcome of [`change`].
pub(super) enum InPlace {
    /// The served snapshot is current.
    Unchanged,
    Changed(Box<Snapshot>),
    /// The zone must be built from its records, for this reason.
    Rebuild(String),
}

/// The snapshot of zone `name` after the journal's changes since `served`,
/// which was built from `then`; the zone's inputs are `now`.
pub(super) async fn change(
    store: &Store,
    name: &str,
    served: Arc<Snapshot>,
    (then, now): (&Inputs, &Inputs),
    has_children: bool,
    computing: &Computing,
) -> InPlace {
    if then != now {
        return InPlace::Rebuild("its keys or DNSSEC settings changed".into());
    }
    // Removed names stay behind as tombstones until the next full build.
    if served.zone.removed_nodes() as usize > 1000 + served.zone.record_count() / 8 {
        return InPlace::Rebuild("compacting".into());
    }
    let serial = served.zone.serial();
    let entries = match store
        .zone_changes_back(name, JOURNAL_KEPT, |entries| chain_from(entries, serial).is_ok())
        .await
    {
        Ok(entries) => entries,
        Err(error) => return InPlace::Rebuild(format!("the journal is unreadable: {error}")),
    };
    let chain = match chain_from(&entries, serial) {
        Ok(0) => return InPlace::Unchanged,
        Ok(length) => &entries[..length],
        Err(reason) => return InPlace::Rebuild(reason.into()),
    };
    let mut changes = Vec::new();
    for entry in chain.iter().rev() {
        let apex = served.zone.apex();
        let converted = import::changed_records(apex, &entry.removed)
            .and_then(|removed| Ok((removed, import::changed_records(apex, &entry.added)?)));
        let Ok((removed, added)) = converted else {
            return InPlace::Rebuild("a journal entry is unreadable".into());
        };
        changes.extend(removed.into_iter().map(Change::Remove));
        changes.extend(added.into_iter().map(Change::Add));
    }
    let computed = |rtype| {
        (rtype == types::LUA && computing.lua.is_some()) || (rtype == types::ALIAS && computing.aliases.is_some())
    };
    for change in &changes {
        let (Change::Remove(record) | Change::Add(record)) = change;
        if computed(record.rtype) {
            return InPlace::Rebuild("LUA or ALIAS records changed".into());
        }
        if record.rtype == types::DS && has_children {
            return InPlace::Rebuild("DS records changed in a zone with secured children".into());
        }
    }
    let applied = tokio::task::spawn_blocking(move || {
        let (mut zone, edited) = served
            .zone
            .with_changes(&changes)
            .map_err(|refused| refused.to_string())?;
        let signed = match &served.signed {
            None => None,
            Some(signed) => Some(
                signed
                    .with_changes(&served.zone, &mut zone, &edited)
                    .ok_or("the TTL of its denial records changed")?,
            ),
        };
        Ok::<_, String>(Snapshot {
            zone,
            signed,
            programs: served.programs.clone(),
            loading: false,
        })
    })
    .await;
    match applied {
        Ok(Ok(snapshot)) => {
            IN_PLACE.fetch_add(1, Ordering::Relaxed);
            InPlace::Changed(Box::new(snapshot))
        }
        Ok(Err(reason)) => InPlace::Rebuild(reason),
        Err(_) => InPlace::Rebuild("the change panicked".into()),
    }
}

/// How many of the journal entries (newest first) lead from serial
/// `served` to the newest: 0 when the newest is `served`.
fn chain_from(entries: &[ZoneChangeRow], served: u32) -> Result<usize, &'static str> {
    for (index, entry) in entries.iter().enumerate() {
        if index == 0 && entry.new_serial == Some(served) {
            return Ok(0);
        }
        if entry.kind != "update" {
            return Err("the zone was replaced");
        }
        if index > 0 && entries[index - 1].old_serial != entry.new_serial {
            return Err("the journal has a gap");
        }
        if entry.old_serial == Some(served) {
            return Ok(index + 1);
        }
    }
    Err("the journal does not reach back to the served serial")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(kind: &str, old: Option<u32>, new: Option<u32>) -> ZoneChangeRow {
        ZoneChangeRow {
            id: 0,
            zone: "example.test.".into(),
            kind: kind.into(),
            old_serial: old,
            new_serial: new,
            removed: Vec::new(),
            added: Vec::new(),
            author: "test".into(),
            created_at: 0,
        }
    }

    #[test]
    fn the_chain_leads_from_the_served_serial_to_the_newest() {
        let entries = [
            entry("update", Some(3), Some(4)),
            entry("update", Some(2), Some(3)),
            entry("update", Some(1), Some(2)),
            entry("create", None, Some(1)),
        ];
        let serials = |served| {
            chain_from(&entries, served)
                .map(|length| entries[..length].iter().map(|e| e.new_serial).collect::<Vec<_>>())
        };
        assert_eq!(serials(4), Ok(vec![]));
        assert_eq!(serials(2), Ok(vec![Some(4), Some(3)]));
        assert_eq!(serials(1), Ok(vec![Some(4), Some(3), Some(2)]));
        assert!(serials(0).is_err(), "past the zone's creation");
        assert!(serials(9).is_err(), "a serial the journal never had");
        let gap = [entry("update", Some(3), Some(4)), entry("update", Some(1), Some(2))];
        assert_eq!(chain_from(&gap, 1).map(|_| ()), Err("the journal has a gap"));
    }
}
