//! The one write path: every writer (zone import and delete, the pool
//! allocator, and the API and UPDATE handlers built on them) describes
//! what it wants as a [`ChangeSet`] and applies it inside a store
//! [`Writer`] transaction. Applying one locks the zone, writes only the
//! difference, bumps the SOA serial by the zone's [`SerialPolicy`], marks
//! the zone changed for the loader, and appends a journal entry of
//! (old serial, new serial, removed, added) from which IXFR is served.
//! A change that changes nothing writes nothing.

mod incoming;

use std::collections::HashMap;

pub use self::incoming::Incoming;
use crate::store::{JournalEntry, LockedZone, Primaries, Store, StoreError, StoredRecord, Writer};

/// One change to one zone.
#[derive(Clone, Debug)]
pub struct ChangeSet {
    /// Absolute, lowercase, with the trailing dot.
    pub zone: String,
    pub change: ZoneChange,
    /// Who asks, for the journal: `cli`, `pool`, `api:<key>`, ...
    pub author: String,
}

/// What happens to the zone.
#[derive(Clone, Debug)]
pub enum ZoneChange {
    /// A new zone with these records, exactly one SOA at the apex among
    /// them.
    Create {
        records: Vec<StoredRecord>,
        serial_policy: SerialPolicy,
    },
    /// The whole content replaced. The new SOA's serial is kept when it is
    /// ahead of the stored one, and otherwise bumped from it.
    Replace { records: Vec<StoredRecord> },
    /// Records taken out, then records put in. Adding a record that is
    /// there already is no change; adding one with another TTL changes its
    /// TTL. The SOA is the serial's: it cannot be edited this way.
    Edit {
        remove: Vec<Removal>,
        add: Vec<StoredRecord>,
    },
    /// The zone, its records and keys deleted.
    Delete,
    /// A secondary zone, empty until its first transfer.
    CreateSecondary { primaries: Primaries },
    /// Content of a secondary zone received by zone transfer, kept as the
    /// primary sent it, serial included.
    Transferred(Incoming),
    /// The serial moves on with no stored record changed: what the zone's
    /// LUA or ALIAS records answer changed, and secondaries that take those
    /// answers as plain records must transfer the zone again.
    Bump,
}

/// Which records an edit takes out. Names compare without case.
#[derive(Clone, Debug)]
pub enum Removal {
    /// The record with this name, type and content (any TTL).
    Record(StoredRecord),
    /// Every record of this name and type.
    RRset { name: String, rtype: String },
}

/// How a zone's SOA serial moves on each change.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SerialPolicy {
    /// serial + 1.
    #[default]
    Increment,
    /// YYYYMMDDnn of today (UTC), or serial + 1 when that is not ahead.
    Date,
    /// The Unix time, or serial + 1 when that is not ahead.
    Epoch,
}

impl SerialPolicy {
    /// The name stored in the zones table.
    pub fn as_str(self) -> &'static str {
        match self {
            SerialPolicy::Increment => "increment",
            SerialPolicy::Date => "date",
            SerialPolicy::Epoch => "epoch",
        }
    }

    /// The policy stored as `text`; unknown text is `increment`.
    pub fn from_stored(text: &str) -> SerialPolicy {
        text.parse().unwrap_or_default()
    }

    /// The serial after `old`, on the day `unix_time` falls on.
    pub fn next(self, old: u32, unix_time: i64) -> u32 {
        let bumped = old.wrapping_add(1);
        match self {
            SerialPolicy::Increment => bumped,
            SerialPolicy::Date => {
                let (year, month, day, ..) = base::time::civil(unix_time);
                let today = (year as u32) * 1_000_000 + (month as u32) * 10_000 + (day as u32) * 100;
                if serial_ahead(today, old) {
                    today
                } else {
                    bumped
                }
            }
            SerialPolicy::Epoch => {
                let now = unix_time as u32;
                if serial_ahead(now, old) {
                    now
                } else {
                    bumped
                }
            }
        }
    }
}

impl std::str::FromStr for SerialPolicy {
    type Err = String;

    fn from_str(text: &str) -> Result<SerialPolicy, String> {
        match text {
            "increment" => Ok(SerialPolicy::Increment),
            "date" => Ok(SerialPolicy::Date),
            "epoch" => Ok(SerialPolicy::Epoch),
            other => Err(format!(
                "unknown serial policy {other:?} (use increment, date or epoch)"
            )),
        }
    }
}

/// Whether serial `a` is ahead of `b` in RFC 1982 arithmetic.
pub fn serial_ahead(a: u32, b: u32) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000_0000
}

/// What applying a change set did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Applied {
    pub old_serial: Option<u32>,
    pub new_serial: Option<u32>,
    /// False when the change set changed nothing.
    pub changed: bool,
}

/// Why a change set was not applied; nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("zone {0} already exists")]
    ZoneExists(String),
    #[error("zone {0} does not exist")]
    NoSuchZone(String),
    #[error("zone {zone}: {message}")]
    Invalid { zone: String, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ChangeSet {
    /// A change set by `author`.
    pub fn new(zone: impl Into<String>, change: ZoneChange, author: impl Into<String>) -> ChangeSet {
        ChangeSet {
            zone: zone.into(),
            change,
            author: author.into(),
        }
    }

    /// Applies the change set in a transaction of its own.
    pub async fn apply_alone(&self, store: &Store) -> Result<Applied, ChangeError> {
        let mut writer = store.writer().await?;
        let applied = self.apply(&mut writer).await?;
        writer.commit().await?;
        Ok(applied)
    }

    /// Applies the change set inside `writer`'s transaction.
    pub async fn apply(&self, writer: &mut Writer) -> Result<Applied, ChangeError> {
        let zone = writer.lock_zone(&self.zone).await?;
        match (&self.change, zone) {
            (ZoneChange::Create { .. } | ZoneChange::CreateSecondary { .. }, Some(_)) => {
                Err(ChangeError::ZoneExists(self.zone.clone()))
            }
            (ZoneChange::Create { records, serial_policy }, None) => self.create(writer, records, *serial_policy).await,
            (ZoneChange::CreateSecondary { primaries }, None) => self.create_secondary(writer, primaries).await,
            (_, None) => Err(ChangeError::NoSuchZone(self.zone.clone())),
            (ZoneChange::Delete, Some(zone)) => self.delete(writer, &zone).await,
            (ZoneChange::Transferred(incoming), Some(zone)) => self.transferred(writer, &zone, incoming).await,
            (_, Some(zone)) if zone.secondary => Err(self.invalid(
                "is a secondary zone: its content comes from its primaries by zone transfer; change it there",
            )),
            (ZoneChange::Replace { records }, Some(zone)) => self.replace(writer, &zone, records).await,
            (ZoneChange::Edit { remove, add }, Some(zone)) => self.edit(writer, &zone, remove, add).await,
            (ZoneChange::Bump, Some(zone)) => self.bump(writer, &zone).await,
        }
    }

    pub(crate) fn invalid(&self, message: impl Into<String>) -> ChangeError {
        ChangeError::Invalid {
            zone: self.zone.clone(),
            message: message.into(),
        }
    }

    /// The serial of the one SOA at the apex of `records`.
    pub(crate) fn soa_serial(&self, records: &[StoredRecord]) -> Result<u32, ChangeError> {
        let mut soas = records.iter().filter(|record| record.rtype.eq_ignore_ascii_case("SOA"));
        let (Some(soa), None) = (soas.next(), soas.next()) else {
            return Err(self.invalid("needs exactly one SOA record"));
        };
        if !soa.name.eq_ignore_ascii_case(&self.zone) {
            return Err(self.invalid(format!("the SOA record is at {}, not at the apex", soa.name)));
        }
        soa_serial(&soa.content).ok_or_else(|| self.invalid(format!("unreadable SOA {:?}", soa.content)))
    }

    async fn create(
        &self,
        writer: &mut Writer,
        records: &[StoredRecord],
        policy: SerialPolicy,
    ) -> Result<Applied, ChangeError> {
        let serial = self.soa_serial(records)?;
        self.check_apex_ns(records.iter())?;
        let zone = writer.create_zone(&self.zone, policy.as_str()).await?;
        writer.insert_records(&zone, records).await?;
        self.journal(writer, "create", None, Some(serial), &[], &[]).await?;
        Ok(Applied {
            old_serial: None,
            new_serial: Some(serial),
            changed: true,
        })
    }

    async fn delete(&self, writer: &mut Writer, zone: &LockedZone) -> Result<Applied, ChangeError> {
        let soa = writer.rows_at(zone, &zone.name).await?;
        let old = soa
            .iter()
            .find(|(_, record)| record.rtype.eq_ignore_ascii_case("SOA"))
            .and_then(|(_, record)| soa_serial(&record.content));
        writer.delete_zone(zone).await?;
        self.journal(writer, "delete", old, None, &[], &[]).await?;
        Ok(Applied {
            old_serial: old,
            new_serial: None,
            changed: true,
        })
    }

    async fn replace(
        &self,
        writer: &mut Writer,
        zone: &LockedZone,
        records: &[StoredRecord],
    ) -> Result<Applied, ChangeError> {
        let offered_serial = self.soa_serial(records)?;
        let rows = writer.zone_rows(zone).await?;
        let (old_soa_id, old_soa) = find_soa(&rows).ok_or_else(|| self.invalid("the stored zone has no SOA"))?;
        let old_soa = old_soa.clone();
        let old_serial = soa_serial(&old_soa.content).ok_or_else(|| self.invalid("the stored SOA is unreadable"))?;
        let mut wanted: Vec<StoredRecord> = records.to_vec();
        let offered_soa = wanted
            .iter()
            .find(|record| record.rtype.eq_ignore_ascii_case("SOA"))
            .cloned()
            .ok_or_else(|| self.invalid("needs exactly one SOA record"))?;
        let same_soa = RecordKey::of(&offered_soa, true) == RecordKey::of(&old_soa, true);
        let new_serial = if same_soa || serial_ahead(offered_serial, old_serial) {
            offered_serial
        } else {
            SerialPolicy::from_stored(&zone.serial_policy).next(old_serial, writer.now())
        };
        if new_serial != offered_serial {
            for record in &mut wanted {
                if record.rtype.eq_ignore_ascii_case("SOA") {
                    record.content =
                        with_serial(&record.content, new_serial).ok_or_else(|| self.invalid("unreadable SOA"))?;
                }
            }
        }
        // Multiset difference on (name, type, TTL, content).
        let mut stored: HashMap<RecordKey, Vec<i64>> = HashMap::new();
        for (id, record) in &rows {
            stored.entry(RecordKey::of(record, true)).or_default().push(*id);
        }
        let mut added = Vec::new();
        for record in wanted {
            match stored.get_mut(&RecordKey::of(&record, true)).and_then(Vec::pop) {
                Some(_) => {}
                None => added.push(record),
            }
        }
        let left: std::collections::HashSet<i64> = stored.into_values().flatten().collect();
        let mut removed_ids = Vec::new();
        let mut removed = Vec::new();
        for (id, record) in rows {
            if left.contains(&id) {
                removed_ids.push(id);
                removed.push(record);
            }
        }
        if removed.is_empty() && added.is_empty() {
            return Ok(Applied {
                old_serial: Some(old_serial),
                new_serial: Some(old_serial),
                changed: false,
            });
        }
        // Content changed under the same serial: the serial moves on.
        let new_serial = if same_soa {
            let bumped = SerialPolicy::from_stored(&zone.serial_policy).next(old_serial, writer.now());
            let content = with_serial(&old_soa.content, bumped).ok_or_else(|| self.invalid("unreadable SOA"))?;
            removed_ids.push(old_soa_id);
            added.push(StoredRecord {
                content,
                ..old_soa.clone()
            });
            removed.push(old_soa);
            bumped
        } else {
            new_serial
        };
        // The SOA leads both lists, as in an IXFR difference sequence.
        sort_soa_first(&mut removed);
        sort_soa_first(&mut added);
        writer.delete_rows(&removed_ids).await?;
        writer.insert_records(zone, &added).await?;
        self.updated(writer, zone, (old_serial, new_serial), &removed, &added)
            .await
    }

    async fn edit(
        &self,
        writer: &mut Writer,
        zone: &LockedZone,
        remove: &[Removal],
        add: &[StoredRecord],
    ) -> Result<Applied, ChangeError> {
        for record in add {
            if record.rtype.eq_ignore_ascii_case("SOA") {
                return Err(self.invalid("the SOA record follows the serial policy and cannot be added"));
            }
            if !in_zone(&record.name, &self.zone) {
                return Err(self.invalid(format!("{} is not in the zone", record.name)));
            }
        }
        // Only the names touched are read, so an edit of a large zone
        // costs what it changes.
        let mut names: Vec<String> = remove
            .iter()
            .map(|removal| match removal {
                Removal::Record(record) => record.name.to_ascii_lowercase(),
                Removal::RRset { name, .. } => name.to_ascii_lowercase(),
            })
            .chain(add.iter().map(|record| record.name.to_ascii_lowercase()))
            .collect();
        names.push(zone.name.clone());
        names.sort();
        names.dedup();
        let mut rows = Vec::new();
        for name in &names {
            rows.extend(writer.rows_at(zone, name).await?);
        }
        let mut exact = std::collections::HashSet::new();
        let mut rrsets = std::collections::HashSet::new();
        for removal in remove {
            match removal {
                Removal::Record(target) => {
                    exact.insert(RecordKey::of(target, false));
                }
                Removal::RRset { name, rtype } => {
                    rrsets.insert((name.to_ascii_lowercase(), rtype.to_ascii_uppercase()));
                }
            }
        }
        let mut gone: Vec<usize> = Vec::new();
        for (index, (_, record)) in rows.iter().enumerate() {
            let name = record.name.to_ascii_lowercase();
            let matched = rrsets.contains(&(name, record.rtype.to_ascii_uppercase()))
                || exact.contains(&RecordKey::of(record, false));
            if matched && !record.rtype.eq_ignore_ascii_case("SOA") {
                gone.push(index);
            }
        }
        // Indexed by identity: an edit of thousands of records stays linear.
        let mut gone: std::collections::HashSet<usize> = gone.into_iter().collect();
        let by_key: HashMap<RecordKey, usize> = rows
            .iter()
            .enumerate()
            .map(|(index, (_, row))| (RecordKey::of(row, false), index))
            .collect();
        let mut added: Vec<StoredRecord> = Vec::new();
        let mut added_keys = std::collections::HashSet::new();
        for record in add {
            let key = RecordKey::of(record, false);
            if !added_keys.insert(key.clone()) {
                continue;
            }
            // A record taken out and put back as it was stays: replacing an
            // RRset with itself is no change.
            match by_key.get(&key) {
                Some(&index) if rows[index].1.ttl == record.ttl => {
                    gone.remove(&index);
                }
                Some(&index) => {
                    gone.insert(index);
                    added.push(record.clone());
                }
                None => added.push(record.clone()),
            }
        }
        let mut gone: Vec<usize> = gone.into_iter().collect();
        gone.sort_unstable();
        if gone.is_empty() && added.is_empty() {
            return Ok(Applied {
                old_serial: None,
                new_serial: None,
                changed: false,
            });
        }
        let after: Vec<&StoredRecord> = rows
            .iter()
            .enumerate()
            .filter(|(index, _)| gone.binary_search(index).is_err())
            .map(|(_, (_, record))| record)
            .chain(added.iter())
            .collect();
        self.check_cnames(&after)?;
        self.check_apex_ns(after.iter().copied())?;
        let NextSoa {
            id: soa_id,
            stored: soa,
            next: new_soa,
            serials,
        } = self.next_soa(writer, zone, &rows)?;
        let mut removed = vec![soa.clone()];
        let mut ids = Vec::new();
        for index in gone {
            ids.push(rows[index].0);
            removed.push(rows[index].1.clone());
        }
        writer.delete_rows(&ids).await?;
        writer.insert_records(zone, &added).await?;
        writer.update_content(soa_id, &new_soa.content).await?;
        added.insert(0, new_soa);
        self.updated(writer, zone, serials, &removed, &added).await
    }

    async fn bump(&self, writer: &mut Writer, zone: &LockedZone) -> Result<Applied, ChangeError> {
        let rows = writer.rows_at(zone, &zone.name).await?;
        let soa = self.next_soa(writer, zone, &rows)?;
        writer.update_content(soa.id, &soa.next.content).await?;
        self.updated(writer, zone, soa.serials, std::slice::from_ref(soa.stored), &[soa.next])
            .await
    }

    /// The stored SOA among `rows` and the one with the next serial of the
    /// zone's policy.
    fn next_soa<'r>(
        &self,
        writer: &Writer,
        zone: &LockedZone,
        rows: &'r [(i64, StoredRecord)],
    ) -> Result<NextSoa<'r>, ChangeError> {
        let (id, stored) = find_soa(rows).ok_or_else(|| self.invalid("the stored zone has no SOA"))?;
        let unreadable = || self.invalid("the stored SOA is unreadable");
        let old_serial = soa_serial(&stored.content).ok_or_else(unreadable)?;
        let new_serial = SerialPolicy::from_stored(&zone.serial_policy).next(old_serial, writer.now());
        let next = StoredRecord {
            content: with_serial(&stored.content, new_serial).ok_or_else(unreadable)?,
            ..stored.clone()
        };
        Ok(NextSoa {
            id,
            stored,
            next,
            serials: (old_serial, new_serial),
        })
    }

    /// Marks an updated zone changed and journals the update.
    pub(crate) async fn updated(
        &self,
        writer: &mut Writer,
        zone: &LockedZone,
        (old_serial, new_serial): (u32, u32),
        removed: &[StoredRecord],
        added: &[StoredRecord],
    ) -> Result<Applied, ChangeError> {
        writer.bump_version(zone).await?;
        self.journal(writer, "update", Some(old_serial), Some(new_serial), removed, added)
            .await?;
        Ok(Applied {
            old_serial: Some(old_serial),
            new_serial: Some(new_serial),
            changed: true,
        })
    }

    /// A zone is delegated to its servers by its apex NS RRset (RFC 1034
    /// §4.2.1): a change may not leave it without one.
    fn check_apex_ns<'a>(&self, records: impl Iterator<Item = &'a StoredRecord>) -> Result<(), ChangeError> {
        let mut records = records;
        if records.any(|record| record.rtype.eq_ignore_ascii_case("NS") && record.name.eq_ignore_ascii_case(&self.zone))
        {
            Ok(())
        } else {
            Err(self.invalid("the zone needs NS records at its apex (give nameservers or an NS RRset)"))
        }
    }

    /// A CNAME stands alone at its name (RFC 1034 §3.6.2, RFC 2181 §10.1;
    /// DNSSEC types aside) and never at the apex.
    fn check_cnames(&self, records: &[&StoredRecord]) -> Result<(), ChangeError> {
        let mut by_name: HashMap<String, Vec<&StoredRecord>> = HashMap::new();
        for record in records {
            by_name
                .entry(record.name.to_ascii_lowercase())
                .or_default()
                .push(record);
        }
        let dnssec = ["RRSIG", "NSEC", "NSEC3", "DNSKEY", "DS", "CNAME"];
        for (name, here) in &by_name {
            let cnames = here
                .iter()
                .filter(|record| record.rtype.eq_ignore_ascii_case("CNAME"))
                .count();
            if cnames == 0 {
                continue;
            }
            if name.eq_ignore_ascii_case(&self.zone) {
                return Err(self.invalid(format!("{name} is the apex and cannot hold a CNAME")));
            }
            if cnames > 1 {
                return Err(self.invalid(format!("{name} would hold more than one CNAME")));
            }
            if let Some(other) = here
                .iter()
                .find(|record| !dnssec.iter().any(|rtype| record.rtype.eq_ignore_ascii_case(rtype)))
            {
                return Err(self.invalid(format!("{name} would hold a CNAME beside {} data", other.rtype)));
            }
        }
        Ok(())
    }

    pub(crate) async fn journal(
        &self,
        writer: &mut Writer,
        kind: &str,
        old_serial: Option<u32>,
        new_serial: Option<u32>,
        removed: &[StoredRecord],
        added: &[StoredRecord],
    ) -> Result<(), StoreError> {
        writer
            .journal(&JournalEntry {
                zone: &self.zone,
                kind,
                old_serial,
                new_serial,
                removed,
                added,
                author: &self.author,
            })
            .await
    }
}

/// The SOA a change replaces, and its replacement.
struct NextSoa<'r> {
    /// The stored SOA's row id.
    id: i64,
    stored: &'r StoredRecord,
    next: StoredRecord,
    /// (old serial, new serial).
    serials: (u32, u32),
}

/// A record's identity for comparisons: name without case, type, content,
/// and the TTL when asked for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct RecordKey {
    name: String,
    rtype: String,
    ttl: Option<i64>,
    content: String,
}

impl RecordKey {
    pub(crate) fn of(record: &StoredRecord, with_ttl: bool) -> RecordKey {
        RecordKey {
            name: record.name.to_ascii_lowercase(),
            rtype: record.rtype.to_ascii_uppercase(),
            ttl: with_ttl.then_some(record.ttl),
            content: record.content.clone(),
        }
    }
}

pub(crate) fn find_soa(rows: &[(i64, StoredRecord)]) -> Option<(i64, &StoredRecord)> {
    rows.iter()
        .find(|(_, record)| record.rtype.eq_ignore_ascii_case("SOA"))
        .map(|(id, record)| (*id, record))
}

pub(crate) fn sort_soa_first(records: &mut [StoredRecord]) {
    records.sort_by_key(|record| !record.rtype.eq_ignore_ascii_case("SOA"));
}

/// Whether `name` is the zone's apex or below it.
pub(crate) fn in_zone(name: &str, zone: &str) -> bool {
    let name = name.to_ascii_lowercase();
    zone == "." || name == zone || name.ends_with(&format!(".{zone}"))
}

/// The serial field of SOA RDATA in presentation format.
pub fn soa_serial(content: &str) -> Option<u32> {
    content.split_whitespace().nth(2)?.parse().ok()
}

/// SOA RDATA with another serial.
fn with_serial(content: &str, serial: u32) -> Option<String> {
    let mut fields: Vec<String> = content.split_whitespace().map(str::to_string).collect();
    if fields.len() != 7 {
        return None;
    }
    fields[2] = serial.to_string();
    Some(fields.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_follow_the_policy() {
        // 2026-12-03
        let day = 20_790 * 86_400;
        assert_eq!(SerialPolicy::Increment.next(7, day), 8);
        assert_eq!(SerialPolicy::Increment.next(u32::MAX, day), 0);
        assert_eq!(SerialPolicy::Date.next(7, day), 2_026_120_300);
        assert_eq!(SerialPolicy::Date.next(2_026_120_300, day), 2_026_120_301);
        assert_eq!(SerialPolicy::Date.next(2_026_120_399, day), 2_026_120_400);
        assert_eq!(SerialPolicy::Epoch.next(7, day), day as u32);
        assert_eq!(SerialPolicy::Epoch.next(day as u32, day), day as u32 + 1);
        assert!(serial_ahead(1, u32::MAX));
        assert!(!serial_ahead(5, 5));
        assert!(!serial_ahead(4, 5));
    }

    #[test]
    fn serial_is_rewritten_in_place() {
        let soa = "ns1.example. hostmaster.example. 41 3600 900 604800 300";
        assert_eq!(soa_serial(soa), Some(41));
        assert_eq!(
            with_serial(soa, 42).as_deref(),
            Some("ns1.example. hostmaster.example. 42 3600 900 604800 300")
        );
        assert_eq!(with_serial("broken", 1), None);
    }
}
