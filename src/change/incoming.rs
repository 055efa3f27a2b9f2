//! Secondary zones: created empty, then written only by zone transfers
//! from their primaries. Their content and serial are the primary's; the
//! change is journalled like any other, so this server serves IXFR onward.

use std::collections::HashMap;

use super::{find_soa, in_zone, soa_serial, sort_soa_first, Applied, ChangeError, ChangeSet, RecordKey};
use crate::store::{LockedZone, Primaries, StoredRecord, Writer};

/// What a zone transfer brought.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Incoming {
    /// AXFR, or IXFR answered with the whole zone: every record, the SOA
    /// among them.
    Whole(Vec<StoredRecord>),
    /// IXFR: the difference from serial `from` (the stored one) to `soa`;
    /// neither list holds a SOA.
    Difference {
        from: u32,
        soa: StoredRecord,
        removed: Vec<StoredRecord>,
        added: Vec<StoredRecord>,
    },
}

impl ChangeSet {
    pub(super) async fn create_secondary(
        &self,
        writer: &mut Writer,
        primaries: &Primaries,
    ) -> Result<Applied, ChangeError> {
        if primaries.addresses.is_empty() {
            return Err(self.invalid("a secondary zone needs at least one primary"));
        }
        let zone = writer.create_zone(&self.zone, "increment").await?;
        writer.set_primaries(&zone, primaries).await?;
        self.journal(writer, "create", None, None, &[], &[]).await?;
        Ok(Applied {
            old_serial: None,
            new_serial: None,
            changed: true,
        })
    }

    pub(super) async fn transferred(
        &self,
        writer: &mut Writer,
        zone: &LockedZone,
        incoming: &Incoming,
    ) -> Result<Applied, ChangeError> {
        if !zone.secondary {
            return Err(self.invalid("is not a secondary zone: it takes no zone transfers"));
        }
        let outside = match incoming {
            Incoming::Whole(records) => records.iter().find(|record| !in_zone(&record.name, &self.zone)),
            Incoming::Difference {
                soa, removed, added, ..
            } => std::iter::once(soa)
                .chain(removed)
                .chain(added)
                .find(|record| !in_zone(&record.name, &self.zone)),
        };
        if let Some(record) = outside {
            return Err(self.invalid(format!("the transfer holds {}, outside the zone", record.name)));
        }
        let applied = match incoming {
            Incoming::Whole(records) => self.whole(writer, zone, records).await?,
            Incoming::Difference {
                from,
                soa,
                removed,
                added,
            } => self.difference(writer, zone, *from, soa, removed, added).await?,
        };
        writer.set_refreshed(zone).await?;
        Ok(applied)
    }

    /// Replaces the stored content by `records`, writing the difference.
    async fn whole(
        &self,
        writer: &mut Writer,
        zone: &LockedZone,
        records: &[StoredRecord],
    ) -> Result<Applied, ChangeError> {
        let new_serial = self.soa_serial(records)?;
        let rows = writer.zone_rows(zone).await?;
        let old_serial = find_soa(&rows).and_then(|(_, soa)| soa_serial(&soa.content));
        let mut stored: HashMap<RecordKey, Vec<i64>> = HashMap::new();
        for (id, record) in &rows {
            stored.entry(RecordKey::of(record, true)).or_default().push(*id);
        }
        let mut added = Vec::new();
        for record in records {
            if stored
                .get_mut(&RecordKey::of(record, true))
                .and_then(Vec::pop)
                .is_none()
            {
                added.push(record.clone());
            }
        }
        let left: std::collections::HashSet<i64> = stored.into_values().flatten().collect();
        let (removed_ids, mut removed): (Vec<i64>, Vec<StoredRecord>) =
            rows.into_iter().filter(|(id, _)| left.contains(id)).unzip();
        if removed.is_empty() && added.is_empty() {
            return Ok(Applied {
                old_serial,
                new_serial: old_serial,
                changed: false,
            });
        }
        sort_soa_first(&mut removed);
        sort_soa_first(&mut added);
        writer.delete_rows(&removed_ids).await?;
        writer.insert_records(zone, &added).await?;
        match old_serial {
            Some(old_serial) => {
                self.updated(writer, zone, (old_serial, new_serial), &removed, &added)
                    .await
            }
            // The first transfer: IXFR from here on starts at its serial.
            None => {
                writer.bump_version(zone).await?;
                self.journal(writer, "update", None, Some(new_serial), &[], &[]).await?;
                Ok(Applied {
                    old_serial: None,
                    new_serial: Some(new_serial),
                    changed: true,
                })
            }
        }
    }

    /// Applies an IXFR difference, which must start at the stored serial
    /// and remove only records that are there.
    async fn difference(
        &self,
        writer: &mut Writer,
        zone: &LockedZone,
        from: u32,
        soa: &StoredRecord,
        removed: &[StoredRecord],
        added: &[StoredRecord],
    ) -> Result<Applied, ChangeError> {
        let new_serial = self.soa_serial(std::slice::from_ref(soa))?;
        let mut names: Vec<String> = removed
            .iter()
            .chain(added)
            .map(|record| record.name.to_ascii_lowercase())
            .chain(std::iter::once(zone.name.clone()))
            .collect();
        names.sort();
        names.dedup();
        let mut rows = Vec::new();
        for name in &names {
            rows.extend(writer.rows_at(zone, name).await?);
        }
        let (soa_id, old_soa) = find_soa(&rows).ok_or_else(|| self.invalid("the stored zone has no SOA"))?;
        let old_soa = old_soa.clone();
        let old_serial = soa_serial(&old_soa.content).ok_or_else(|| self.invalid("the stored SOA is unreadable"))?;
        if old_serial != from {
            return Err(self.invalid(format!(
                "the difference starts at serial {from}, but the stored serial is {old_serial}"
            )));
        }
        let mut stored: HashMap<RecordKey, Vec<i64>> = HashMap::new();
        for (id, record) in &rows {
            stored.entry(RecordKey::of(record, false)).or_default().push(*id);
        }
        let mut gone = vec![soa_id];
        for record in removed {
            let id = stored
                .get_mut(&RecordKey::of(record, false))
                .and_then(Vec::pop)
                .ok_or_else(|| {
                    self.invalid(format!(
                        "the difference removes {} {} {}, which is not here",
                        record.name, record.rtype, record.content
                    ))
                })?;
            gone.push(id);
        }
        // The names the difference touches, as they will be, are checked
        // as an edit's are.
        let gone_ids: std::collections::HashSet<i64> = gone.iter().copied().collect();
        let after: Vec<&StoredRecord> = rows
            .iter()
            .filter(|(id, _)| !gone_ids.contains(id))
            .map(|(_, record)| record)
            .chain(added)
            .collect();
        self.check_cnames(&after)?;
        self.check_apex_ns(after.iter().copied())?;
        let mut inserted = vec![soa.clone()];
        inserted.extend(added.iter().cloned());
        writer.delete_rows(&gone).await?;
        writer.insert_records(zone, &inserted).await?;
        let mut journal_removed = vec![old_soa];
        journal_removed.extend(removed.iter().cloned());
        self.updated(writer, zone, (old_serial, new_serial), &journal_removed, &inserted)
            .await
    }
}
