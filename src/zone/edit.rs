//! Changes applied to a built zone, copying only what they touch.
//!
//! [`Zone::with_changes`] applies records removed and added, in order, to
//! a copy of a zone that shares every untouched block of nodes and shard
//! of the name index with the original. The result is the zone
//! [`Zone::build`] would make from the changed records, or, when a change
//! would reshape more than the names it touches, a refusal: the caller
//! then builds the zone from its records again. Refused are:
//!
//! - a zone cut or DNAME appearing or disappearing above existing names,
//!   which moves every name below it in or out of the zone;
//! - records of the types DNSSEC signing makes (they are the signer's);
//! - a record whose TTL differs from its RRset's (which TTL wins depends
//!   on the order of the stored records);
//! - removing a record that is not there (the change and the zone
//!   disagree).

use std::collections::HashMap;

use base::name::Name;
use base::types;

use super::node::NONE;
use super::node::{Node, RRsetEncoder};
use super::{Record, Zone};

/// One change to a zone's records.
#[derive(Clone, Debug)]
pub enum Change {
    Remove(Record),
    Add(Record),
}

/// What [`Zone::with_changes`] did to the nodes of the zone.
#[derive(Debug, Default)]
pub struct Edited {
    /// Nodes whose RRsets changed, or that were added (empty
    /// non-terminals included), by index.
    pub changed: Vec<u32>,
    /// Nodes removed: their index in the original zone and their name.
    pub removed: Vec<(u32, Box<[u8]>)>,
}

/// Why a change cannot be applied in place; see the module documentation.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("a zone cut or DNAME changes above existing names")]
    Reshapes,
    #[error("records of type {0} are made by signing")]
    SignerType(u16),
    #[error("a record's TTL differs from its RRset's")]
    Ttl,
    #[error("a removed record is not in the zone")]
    Missing,
    #[error("a record is outside the zone")]
    Outside,
}

/// The RRsets of one name while changes are applied: type, TTL, RDATA.
type Sets = Vec<(u16, u32, Vec<Vec<u8>>)>;

impl Zone {
    /// This zone with `changes` applied in order, and what changed; see
    /// the module documentation for the changes refused.
    ///
    /// NSEC records of the changed names are dropped: the signer makes
    /// them again.
    pub fn with_changes(&self, changes: &[Change]) -> Result<(Zone, Edited), Refused> {
        let mut zone = self.clone();
        let mut edited = Edited::default();
        // Changes by owner, keeping their order.
        let mut owners: Vec<(Name, Vec<&Change>)> = Vec::new();
        let mut at: HashMap<Vec<u8>, usize> = HashMap::new();
        for change in changes {
            let record = match change {
                Change::Remove(record) | Change::Add(record) => record,
            };
            if is_signer_type(record.rtype) {
                return Err(Refused::SignerType(record.rtype));
            }
            let owner = record.owner.to_lowercase();
            if !owner.ends_with(zone.apex()) {
                return Err(Refused::Outside);
            }
            let slot = *at.entry(owner.as_wire().to_vec()).or_insert_with(|| {
                owners.push((owner, Vec::new()));
                owners.len() - 1
            });
            owners[slot].1.push(change);
        }
        let mut count = 0isize;
        for (owner, changes) in &owners {
            count += zone.change_name(owner.as_wire(), changes, &mut edited)?;
        }
        zone.add_records(count);
        Ok((zone, edited))
    }

    /// Applies the changes of one owner; returns how many records were
    /// added (removed, if negative).
    fn change_name(&mut self, owner: &[u8], changes: &[&Change], edited: &mut Edited) -> Result<isize, Refused> {
        let existing = self.index_of(owner);
        let mut sets: Sets = existing
            .map(|index| {
                self.node_at(index)
                    .rrsets()
                    .filter(|rrset| rrset.rtype != types::NSEC)
                    .map(|rrset| (rrset.rtype, rrset.ttl, rrset.rdata().map(<[u8]>::to_vec).collect()))
                    .collect()
            })
            .unwrap_or_default();
        let is_apex = owner == self.apex().as_wire();
        let shape = |sets: &Sets| {
            let has = |rtype| sets.iter().any(|(t, _, _)| *t == rtype);
            (!is_apex && has(types::NS), has(types::DNAME) || has_lua_dname(sets))
        };
        let before = shape(&sets);
        let mut count = 0;
        for change in changes {
            count += match change {
                Change::Remove(record) => remove(&mut sets, record)?,
                Change::Add(record) => add(&mut sets, record)?,
            };
        }
        let after = shape(&sets);
        let children = existing.map_or(0, |index| self.node_at(index).children);
        if before != after && children > 0 {
            return Err(Refused::Reshapes);
        }
        match existing {
            Some(index) if sets.is_empty() && children == 0 && !is_apex => {
                edited.removed.push((index, owner.into()));
                self.remove_with_empty_parents(index, edited);
            }
            Some(index) => {
                self.set_sets(index, &sets, after);
                edited.changed.push(index);
            }
            None if sets.is_empty() => {}
            None => {
                let index = self.ensure_node(owner, edited);
                self.set_sets(index, &sets, after);
            }
        }
        Ok(count)
    }

    /// Gives node `index` these RRsets, and with them its place among cuts
    /// and DNAMEs (it has no children when that place changes).
    fn set_sets(&mut self, index: u32, sets: &Sets, (is_cut, has_dname): (bool, bool)) {
        let name = self.node_at(index).name_wire().to_vec();
        let inherited = self
            .parent_of(&name)
            .map_or(NONE, |parent| self.node_at(parent).interrupt);
        let mut data = name;
        for (rtype, ttl, rdatas) in sets {
            let mut encoder = RRsetEncoder::start(&mut data, *rtype, *ttl);
            for rdata in rdatas {
                encoder.push(&mut data, rdata);
            }
        }
        let node = self.node_mut(index);
        node.set_data(data.into_boxed_slice());
        node.is_cut = is_cut;
        node.interrupt = if inherited != NONE {
            inherited
        } else if is_cut || has_dname {
            index
        } else {
            NONE
        };
    }

    /// The index of the node `name`, added, with any missing ancestor, as
    /// an empty non-terminal if it is not there.
    fn ensure_node(&mut self, name: &[u8], edited: &mut Edited) -> u32 {
        if let Some(index) = self.index_of(name) {
            return index;
        }
        // The apex always exists, so `name` is below it and has a parent.
        let parent_name = &name[name[0] as usize + 1..];
        let parent = self.ensure_node(parent_name, edited);
        let mut node = Node::new(name.len(), name);
        node.interrupt = self.node_at(parent).interrupt;
        let index = self.push_node(node);
        let parent = self.node_mut(parent);
        parent.children += 1;
        if name.starts_with(b"\x01*") {
            parent.wildcard = index;
        }
        edited.changed.push(index);
        index
    }

    /// Removes node `index` (without children), and then each ancestor
    /// left without data or children.
    fn remove_with_empty_parents(&mut self, index: u32, edited: &mut Edited) {
        let name = self.node_at(index).name_wire().to_vec();
        let parent = self.parent_of(&name);
        self.remove_node(index);
        let Some(parent) = parent else {
            return;
        };
        let apex = self.apex_index();
        let node = self.node_mut(parent);
        node.children -= 1;
        if node.wildcard == index {
            node.wildcard = NONE;
        }
        if node.children == 0 && node.rrsets().next().is_none() && parent != apex {
            let parent_name = node.name_wire().into();
            edited.removed.push((parent, parent_name));
            edited.changed.retain(|&changed| changed != parent);
            self.remove_with_empty_parents(parent, edited);
        }
    }

    /// The index of the parent of the node named `name`; none for the apex.
    fn parent_of(&self, name: &[u8]) -> Option<u32> {
        if name == self.apex().as_wire() {
            return None;
        }
        let label = *name.first()? as usize;
        self.index_of(name.get(label + 1..)?)
    }
}

/// Removes one record; 0 or -1 records.
fn remove(sets: &mut Sets, record: &Record) -> Result<isize, Refused> {
    let at = sets
        .iter()
        .position(|(rtype, _, _)| *rtype == record.rtype)
        .ok_or(Refused::Missing)?;
    let (_, ttl, rdatas) = &mut sets[at];
    if *ttl != record.ttl {
        return Err(Refused::Ttl);
    }
    let position = rdatas
        .iter()
        .position(|rdata| *rdata == record.rdata)
        .ok_or(Refused::Missing)?;
    rdatas.remove(position);
    if rdatas.is_empty() {
        sets.remove(at);
    }
    Ok(-1)
}

/// Adds one record, dropping a duplicate; 1 or 0 records.
fn add(sets: &mut Sets, record: &Record) -> Result<isize, Refused> {
    match sets.binary_search_by_key(&record.rtype, |(rtype, _, _)| *rtype) {
        Ok(at) => {
            let (_, ttl, rdatas) = &mut sets[at];
            if *ttl != record.ttl {
                return Err(Refused::Ttl);
            }
            if rdatas.contains(&record.rdata) {
                return Ok(0);
            }
            rdatas.push(record.rdata.clone());
        }
        Err(at) => sets.insert(at, (record.rtype, record.ttl, vec![record.rdata.clone()])),
    }
    Ok(1)
}

/// Whether a LUA record of these RRsets makes a DNAME.
fn has_lua_dname(sets: &Sets) -> bool {
    sets.iter()
        .filter(|(rtype, _, _)| *rtype == types::LUA)
        .flat_map(|(_, _, rdatas)| rdatas)
        .any(|rdata| base::rdata::lua::produced_type(rdata) == Some(types::DNAME))
}

/// The types a zone's signer makes, never changed as records.
fn is_signer_type(rtype: u16) -> bool {
    matches!(
        rtype,
        types::RRSIG | types::NSEC | types::NSEC3 | types::NSEC3PARAM | types::DNSKEY | types::CDS | types::CDNSKEY
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zone::testing::record;

    fn base() -> Vec<Record> {
        vec![
            record("example.test.", types::SOA, &[0; 22]),
            record("example.test.", types::NS, b"\x02ns\x07example\x04test\x00"),
            record("www.example.test.", types::A, &[192, 0, 2, 1]),
            record("a.b.c.example.test.", types::A, &[192, 0, 2, 2]),
            record("*.example.test.", types::TXT, b"\x04wild"),
            record("sub.example.test.", types::NS, b"\x02ns\x03sub\x07example\x04test\x00"),
            record("ns.sub.example.test.", types::A, &[192, 0, 2, 3]),
        ]
    }

    /// Every live node with its RRsets and what `adjust` worked out, sorted.
    fn dump(zone: &Zone) -> Vec<String> {
        let name = |index: u32| {
            if index == NONE {
                String::new()
            } else {
                format!("{:?}", zone.node_at(index))
            }
        };
        let mut lines: Vec<String> = zone
            .nodes()
            .map(|node| {
                let sets: Vec<String> = node
                    .rrsets()
                    .map(|rrset| format!("{}/{}/{:?}", rrset.rtype, rrset.ttl, rrset.rdata().collect::<Vec<_>>()))
                    .collect();
                format!(
                    "{node:?} {sets:?} cut={} interrupt={} wildcard={} children={}",
                    node.is_cut,
                    name(node.interrupt),
                    name(node.wildcard),
                    node.children
                )
            })
            .collect();
        lines.sort();
        lines.push(format!("records={}", zone.record_count()));
        lines
    }

    fn apex() -> Name {
        "example.test.".parse().expect("valid name")
    }

    /// Applies `changes` both ways: in place, and by building the changed
    /// records; the two zones must be the same.
    fn same_as_build(changes: Vec<Change>) -> Edited {
        let original = Zone::build(&apex(), base());
        let before = dump(&original);
        let (changed, edited) = original.with_changes(&changes).expect("applied in place");
        let mut records = base();
        for change in changes {
            match change {
                Change::Remove(gone) => records.retain(|record| *record != gone),
                Change::Add(new) => records.push(new),
            }
        }
        assert_eq!(dump(&changed), dump(&Zone::build(&apex(), records)));
        assert_eq!(dump(&original), before, "the original zone is untouched");
        edited
    }

    #[test]
    fn adds_names_with_their_empty_non_terminals() {
        let edited = same_as_build(vec![Change::Add(record(
            "x.y.z.example.test.",
            types::A,
            &[1, 2, 3, 4],
        ))]);
        assert_eq!(edited.changed.len(), 3, "x.y.z, y.z and z");
        same_as_build(vec![Change::Add(record("*.b.c.example.test.", types::TXT, b"\x01w"))]);
        same_as_build(vec![Change::Add(record(
            "deep.ns.sub.example.test.",
            types::A,
            &[1, 2, 3, 4],
        ))]);
    }

    #[test]
    fn removes_names_and_empty_non_terminals_left_behind() {
        let edited = same_as_build(vec![Change::Remove(record(
            "a.b.c.example.test.",
            types::A,
            &[192, 0, 2, 2],
        ))]);
        assert_eq!(edited.removed.len(), 3, "a.b.c, b.c and c");
        same_as_build(vec![Change::Remove(record("*.example.test.", types::TXT, b"\x04wild"))]);
        same_as_build(vec![
            Change::Remove(record("www.example.test.", types::A, &[192, 0, 2, 1])),
            Change::Add(record("www.example.test.", types::A, &[192, 0, 2, 9])),
            Change::Add(record("www.example.test.", types::AAAA, &[0; 16])),
        ]);
    }

    #[test]
    fn cuts_and_dnames_change_in_place_only_at_leaves() {
        same_as_build(vec![Change::Add(record("www.example.test.", types::NS, b"\x02ns\x00"))]);
        same_as_build(vec![Change::Add(record(
            "www.example.test.",
            types::DNAME,
            b"\x02ns\x00",
        ))]);
        let zone = Zone::build(&apex(), base());
        let reshape = |change| zone.with_changes(&[change]).map(|_| ()).unwrap_err();
        assert_eq!(
            reshape(Change::Add(record("b.c.example.test.", types::NS, b"\x02ns\x00"))),
            Refused::Reshapes
        );
        assert_eq!(
            reshape(Change::Remove(record(
                "sub.example.test.",
                types::NS,
                b"\x02ns\x03sub\x07example\x04test\x00"
            ))),
            Refused::Reshapes
        );
        assert_eq!(
            reshape(Change::Remove(record("www.example.test.", types::A, &[9, 9, 9, 9]))),
            Refused::Missing
        );
        let mut longer = record("www.example.test.", types::A, &[192, 0, 2, 7]);
        longer.ttl = 60;
        assert_eq!(reshape(Change::Add(longer)), Refused::Ttl);
        assert_eq!(
            reshape(Change::Add(record("example.test.", types::DNSKEY, &[1]))),
            Refused::SignerType(types::DNSKEY)
        );
        assert_eq!(
            reshape(Change::Add(record("example.net.", types::A, &[1, 2, 3, 4]))),
            Refused::Outside
        );
    }
}
