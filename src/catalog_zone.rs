//! The catalog zone (RFC 9432, schema version 2): a zone listing every
//! other zone served, transferred like any zone, so that a secondary
//! configured with the catalog alone serves every zone, and every zone
//! created later, by itself.
//!
//! The zone is made by the loader from the store's list of zones, never
//! stored: `version` says "2", and each member is a PTR at
//! `<id>.zones.<catalog>`, where `<id>` is the member's row in the store
//! (`z42`), so a zone deleted and created again gets a new unique label
//! and its secondaries start it afresh (RFC 9432 §5.4).

use base::name::Name;

use crate::catalog::Snapshot;
use crate::import;
use crate::store::StoredRecord;
use crate::zone::Zone;

/// The members and serial a catalog zone was built from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogZone {
    pub apex: Name,
    /// (row id, zone name), by name.
    pub members: Vec<(i64, String)>,
    pub serial: u32,
}

impl CatalogZone {
    /// An empty catalog named `apex`; its first build gets a serial.
    pub fn new(apex: Name) -> CatalogZone {
        CatalogZone {
            apex,
            members: Vec::new(),
            serial: 0,
        }
    }

    /// The catalog with `members` instead, and a serial newer than the
    /// last one (Unix time, so it also moves on across restarts); `None`
    /// when the members are the same.
    pub fn with_members(&self, members: Vec<(i64, String)>, now: u32) -> Option<CatalogZone> {
        if self.serial != 0 && members == self.members {
            return None;
        }
        Some(CatalogZone {
            apex: self.apex.clone(),
            members,
            serial: now.max(self.serial.wrapping_add(1)),
        })
    }

    /// The zone's records, as a snapshot.
    pub fn snapshot(&self) -> Result<Snapshot, import::RowError> {
        let apex = self.apex.to_string();
        let record = |name: String, rtype: &str, content: String| StoredRecord {
            name,
            rtype: rtype.into(),
            ttl: 0,
            content,
        };
        // RFC 9432 §4: the SOA and NS are there for the zone to be valid;
        // "invalid." is what the RFC suggests for NS.
        let mut rows = vec![
            record(
                apex.clone(),
                "SOA",
                format!("invalid. invalid. {} 60 60 2419200 0", self.serial),
            ),
            record(apex.clone(), "NS", "invalid.".into()),
            record(format!("version.{apex}"), "TXT", "\"2\"".into()),
        ];
        for (id, member) in &self.members {
            rows.push(record(format!("z{id}.zones.{apex}"), "PTR", member.clone()));
        }
        let records = import::from_rows(&self.apex, rows)?;
        Ok(Snapshot::plain(Zone::build(&self.apex, records)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_ptr_records_under_zones_with_version_2() {
        let catalog = CatalogZone::new(Name::parse("catalog.invalid.", None).unwrap());
        let members = vec![(7, "a.example.".to_string()), (9, "b.example.".to_string())];
        let built = catalog
            .with_members(members.clone(), 1_800_000_000)
            .expect("first build");
        assert_eq!(built.serial, 1_800_000_000);
        assert!(
            built.with_members(members.clone(), 1_800_000_100).is_none(),
            "nothing changed"
        );
        let later = built
            .with_members(vec![(7, "a.example.".into())], 1_700_000_000)
            .expect("changed");
        assert_eq!(later.serial, 1_800_000_001, "the serial never goes back");
        let snapshot = built.snapshot().unwrap();
        assert_eq!(snapshot.zone.serial(), 1_800_000_000);
        let mut lines = Vec::new();
        snapshot.for_each_record(|owner, rtype, _, rdata| {
            lines.push((Name::from_wire(owner).unwrap().to_string(), rtype, rdata.to_vec()));
        });
        assert!(lines.contains(&(
            "z9.zones.catalog.invalid.".into(),
            base::types::PTR,
            b"\x01b\x07example\x00".to_vec()
        )));
        assert!(lines.contains(&("version.catalog.invalid.".into(), base::types::TXT, b"\x012".to_vec())));
    }
}
