//! The semantic checks a zone must pass before it is stored or served.
//!
//! These are the checks real servers make on load (Knot's semantic checks,
//! BIND's `named-checkzone`): they reject data that would make answers
//! ambiguous, not data that is merely unusual.

use std::borrow::Cow;

use base::name::Name;
use base::types;
use foldhash::HashMap;
use foldhash::HashMapExt;

use super::file::MAX_TTL;
use super::Record;

/// Why a set of records is not a valid zone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{problem}")]
pub struct ZoneError {
    /// Index of the first record involved, when one is to blame.
    pub record: Option<usize>,
    pub problem: ZoneProblem,
}

/// The rule a zone breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZoneProblem {
    #[error("{owner} is outside the zone {apex}")]
    OutOfZone { owner: Name, apex: Name },
    #[error("LUA record at {owner} in zone {apex}: {problem}")]
    Lua { owner: Name, apex: Name, problem: String },
    #[error("the zone {apex} has no SOA record at its apex")]
    MissingSoa { apex: Name },
    #[error("the zone {apex} has {count} SOA records; exactly one is allowed (RFC 1035 §5.2)")]
    MultipleSoa { apex: Name, count: usize },
    #[error("SOA record at {owner}, which is not the zone apex {apex}")]
    SoaNotAtApex { owner: Name, apex: Name },
    #[error("the zone {apex} has no NS records at its apex (RFC 1034 §4.2.1)")]
    MissingApexNs { apex: Name },
    #[error("CNAME at {owner} has other data beside it (RFC 1034 §3.6.2, RFC 2181 §10.1)")]
    CnameWithOtherData { owner: Name },
    #[error("more than one CNAME record at {owner} (RFC 2181 §10.1)")]
    MultipleCname { owner: Name },
    #[error("more than one DNAME record at {owner} (RFC 6672 §2.4)")]
    MultipleDname { owner: Name },
    #[error("{owner} is below the DNAME at {dname}; no data may exist there (RFC 6672 §2.4)")]
    BelowDname { owner: Name, dname: Name },
    #[error("{rtype} is a meta type and cannot be stored in a zone (RFC 6895 §3.1)")]
    MetaType { rtype: String },
    #[error("TTL {ttl} of {owner} exceeds 2147483647 (RFC 2181 §8)")]
    TtlTooLarge { owner: Name, ttl: u32 },
}

/// Checks that `records` form a valid zone at `apex`. A failure names the
/// first record involved by its index in `records`.
///
/// A `LUA` record counts as a record of the type it produces: a `LUA CNAME`
/// must stand alone like a CNAME does.
pub fn check_zone(apex: &Name, records: &[Record]) -> Result<(), ZoneError> {
    // Stored names are lowercase already: most owners are borrowed.
    let lowered: Vec<Cow<'_, Name>> = records
        .iter()
        .map(|record| {
            if record.owner.is_lowercase() {
                Cow::Borrowed(&record.owner)
            } else {
                Cow::Owned(record.owner.to_lowercase())
            }
        })
        .collect();
    let mut by_owner: HashMap<&[u8], OwnerTypes> = HashMap::with_capacity(records.len());
    let mut rules = Rules::new(apex, records);
    for (index, (record, owner)) in records.iter().zip(&lowered).enumerate() {
        rules.record(index, record, owner, by_owner.entry(owner.as_wire()).or_default())?;
    }
    rules.finish(lowered.iter().map(|owner| &**owner))
}

/// [`check_zone`] for records sorted by owner, owners lowercased, as
/// [`super::Zone::sort_records`] leaves them: the same rules, one owner at
/// a time, without a table of every owner. Indexes are into the sorted
/// records.
pub fn check_sorted_zone(apex: &Name, records: &[Record]) -> Result<(), ZoneError> {
    let mut rules = Rules::new(apex, records);
    let mut owner_types = OwnerTypes::default();
    for (index, record) in records.iter().enumerate() {
        if index > 0 && records[index - 1].owner != record.owner {
            owner_types = OwnerTypes::default();
        }
        rules.record(index, record, &record.owner, &mut owner_types)?;
    }
    rules.finish(records.iter().map(|record| &record.owner))
}

/// The rules of a zone, applied record by record, then to the whole.
struct Rules<'a> {
    apex: &'a Name,
    records: &'a [Record],
    apex_lower: Name,
    soa_count: usize,
    apex_ns: bool,
    dnames: Vec<Name>,
}

impl<'a> Rules<'a> {
    fn new(apex: &'a Name, records: &'a [Record]) -> Rules<'a> {
        Rules {
            apex,
            records,
            apex_lower: apex.to_lowercase(),
            soa_count: 0,
            apex_ns: false,
            dnames: Vec::new(),
        }
    }

    /// Checks record `index`, whose lowercased owner is `owner` and whose
    /// owner holds `owner_types` so far.
    fn record(
        &mut self,
        index: usize,
        record: &Record,
        owner: &Name,
        owner_types: &mut OwnerTypes,
    ) -> Result<(), ZoneError> {
        let fail = |problem| {
            Err(ZoneError {
                record: Some(index),
                problem,
            })
        };
        let apex = self.apex;
        if !owner.ends_with(&self.apex_lower) {
            return fail(ZoneProblem::OutOfZone {
                owner: record.owner.clone(),
                apex: apex.clone(),
            });
        }
        if types::is_meta_type(record.rtype) {
            return fail(ZoneProblem::MetaType {
                rtype: types::type_to_string(record.rtype),
            });
        }
        if record.ttl > MAX_TTL {
            return fail(ZoneProblem::TtlTooLarge {
                owner: record.owner.clone(),
                ttl: record.ttl,
            });
        }
        if record.rtype == types::SOA {
            if *owner != self.apex_lower {
                return fail(ZoneProblem::SoaNotAtApex {
                    owner: record.owner.clone(),
                    apex: apex.clone(),
                });
            }
            self.soa_count += 1;
            if self.soa_count > 1 {
                return fail(ZoneProblem::MultipleSoa {
                    apex: apex.clone(),
                    count: self.records.iter().filter(|record| record.rtype == types::SOA).count(),
                });
            }
        }
        let rtype = effective_type(record);
        match rtype {
            types::CNAME => {
                owner_types.cname += 1;
                if owner_types.cname > 1 {
                    return fail(ZoneProblem::MultipleCname {
                        owner: record.owner.clone(),
                    });
                }
            }
            types::DNAME => {
                owner_types.dname += 1;
                if owner_types.dname > 1 {
                    return fail(ZoneProblem::MultipleDname {
                        owner: record.owner.clone(),
                    });
                }
                self.dnames.push(owner.clone());
            }
            // DNSSEC records may accompany a CNAME (RFC 4035 §2.5).
            types::RRSIG | types::NSEC | types::NSEC3 => {}
            _ => owner_types.other += 1,
        }
        if owner_types.cname > 0 && owner_types.other > 0 {
            return fail(ZoneProblem::CnameWithOtherData {
                owner: record.owner.clone(),
            });
        }
        if rtype == types::NS && *owner == self.apex_lower {
            self.apex_ns = true;
        }
        Ok(())
    }

    /// The rules of the whole zone, once every record passed; `owners` are
    /// the records' owners, lowercased, in order.
    fn finish<'r>(self, owners: impl Iterator<Item = &'r Name>) -> Result<(), ZoneError> {
        let apex = self.apex.clone();
        if self.soa_count == 0 {
            return Err(ZoneError {
                record: None,
                problem: ZoneProblem::MissingSoa { apex },
            });
        }
        if !self.apex_ns {
            return Err(ZoneError {
                record: None,
                problem: ZoneProblem::MissingApexNs { apex },
            });
        }
        if !self.dnames.is_empty() {
            for (index, owner) in owners.enumerate() {
                if let Some(dname) = self
                    .dnames
                    .iter()
                    .find(|&dname| dname != owner && owner.ends_with(dname))
                {
                    return Err(ZoneError {
                        record: Some(index),
                        problem: ZoneProblem::BelowDname {
                            owner: self.records[index].owner.clone(),
                            dname: dname.clone(),
                        },
                    });
                }
            }
        }
        Ok(())
    }
}

/// The type a record answers as: its own, or for LUA the type it produces.
pub fn effective_type(record: &Record) -> u16 {
    if record.rtype == types::LUA && record.rdata.len() >= 2 {
        u16::from_be_bytes([record.rdata[0], record.rdata[1]])
    } else {
        record.rtype
    }
}

/// What kinds of records one owner name holds.
#[derive(Default)]
struct OwnerTypes {
    cname: usize,
    dname: usize,
    other: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zone::testing::record;

    fn base() -> Vec<Record> {
        vec![
            record("example.test.", types::SOA, &[0; 22]),
            record("example.test.", types::NS, b"\x02ns\x07example\x04test\x00"),
        ]
    }

    /// The rule `records` break, which the check of sorted records (the
    /// loader's) must find too.
    fn problem(records: &[Record]) -> ZoneProblem {
        let apex: Name = "example.test.".parse().expect("valid name");
        let found = check_zone(&apex, records).expect_err("invalid zone").problem;
        let mut sorted = records.to_vec();
        crate::zone::Zone::sort_records(&mut sorted);
        let sorted_found = check_sorted_zone(&apex, &sorted)
            .expect_err("invalid when sorted")
            .problem;
        assert_eq!(
            std::mem::discriminant(&sorted_found),
            std::mem::discriminant(&found),
            "{sorted_found} / {found}"
        );
        found
    }

    #[test]
    fn accepts_minimal_zone() {
        let apex: Name = "Example.TEST.".parse().expect("valid name");
        assert_eq!(check_zone(&apex, &base()), Ok(()));
        let mut sorted = base();
        crate::zone::Zone::sort_records(&mut sorted);
        assert_eq!(check_sorted_zone(&apex, &sorted), Ok(()));
    }

    #[test]
    fn names_each_broken_rule() {
        let mut zone = base();
        zone.push(record("www.other.test.", types::A, &[1, 2, 3, 4]));
        assert!(matches!(problem(&zone), ZoneProblem::OutOfZone { .. }));

        let mut zone = base();
        zone.push(record("example.test.", types::SOA, &[0; 22]));
        assert!(matches!(problem(&zone), ZoneProblem::MultipleSoa { count: 2, .. }));

        assert!(matches!(problem(&base()[1..]), ZoneProblem::MissingSoa { .. }));
        assert!(matches!(problem(&base()[..1]), ZoneProblem::MissingApexNs { .. }));

        let mut zone = base();
        zone.push(record("www.example.test.", types::CNAME, b"\x01a\x00"));
        zone.push(record("WWW.example.test.", types::A, &[1, 2, 3, 4]));
        assert!(matches!(problem(&zone), ZoneProblem::CnameWithOtherData { .. }));

        let mut zone = base();
        zone.push(record("example.test.", types::CNAME, b"\x01a\x00"));
        assert!(matches!(problem(&zone), ZoneProblem::CnameWithOtherData { .. }));

        let mut zone = base();
        zone.push(record("d.example.test.", types::DNAME, b"\x01a\x00"));
        zone.push(record("x.d.example.test.", types::A, &[1, 2, 3, 4]));
        assert!(matches!(problem(&zone), ZoneProblem::BelowDname { .. }));

        let mut zone = base();
        zone.push(record("l.example.test.", types::LUA, b"\x00\x05\"x\""));
        zone.push(record("l.example.test.", types::TXT, b"\x01x"));
        assert!(matches!(problem(&zone), ZoneProblem::CnameWithOtherData { .. }));
    }

    #[test]
    fn reports_the_offending_record() {
        let mut zone = base();
        zone.push(record("a.example.test.", types::A, &[1, 2, 3, 4]));
        zone.push(record("example.test.", types::SOA, &[0; 22]));
        let apex: Name = "example.test.".parse().expect("valid name");
        assert_eq!(check_zone(&apex, &zone).expect_err("invalid").record, Some(3));
    }
}
