//! The frozen contents of one zone and the name lookup of RFC 1034 §4.3.2.
//!
//! [`Zone::build`] groups records into nodes, adds the empty non-terminals
//! that make the tree complete, and works out once per node what a query
//! would otherwise rediscover each time (Knot's "adjust" step): the topmost
//! zone cut or DNAME above it and its wildcard child. [`Zone::lookup`] then
//! needs one hash probe per label of the query name below the apex, at most,
//! and never scans.

use std::hash::BuildHasher;

use hashbrown::HashTable;

use super::{types, Record};
use crate::name::Name;

/// Marks the absence of a node index.
const NONE: u32 = u32::MAX;

/// Seed of the name hash: fixed so builds are reproducible.
const HASH_SEED: u64 = 0x0070_6f6f_6c64_6e73;

//------------ Zone ----------------------------------------------------------

/// One zone, immutable once built.
pub struct Zone {
    apex: Name,
    nodes: Vec<Node>,
    /// Indexes into `nodes`, hashed by the node's lowercased wire name.
    table: HashTable<u32>,
    hasher: foldhash::fast::FixedState,
    apex_index: u32,
    record_count: usize,
}

/// Where a name leads inside a zone (RFC 1034 §4.3.2 step 3).
#[derive(Clone, Copy)]
pub enum Lookup<'z> {
    /// The name exists and holds authoritative data (or none: an empty
    /// non-terminal or a name without the asked type).
    Node(&'z Node),
    /// The name does not exist but this wildcard covers it (RFC 4592 §3.3.1).
    Wildcard(&'z Node),
    /// The name is at or below this zone cut: answer with a referral.
    Referral(&'z Node),
    /// The name is below this node's DNAME (RFC 6672 §3.2).
    Dname(&'z Node),
    /// The name does not exist.
    NxDomain,
}

impl Zone {
    /// Builds the zone at `apex` from records that passed
    /// [`super::check_zone`].
    ///
    /// Records of one RRset keep the TTL of the first of them (RFC 2181
    /// §5.2 forbids differing TTLs; Knot does the same); duplicate records
    /// are dropped.
    pub fn build(apex: &Name, mut records: Vec<Record>) -> Zone {
        let apex = apex.to_lowercase();
        for record in &mut records {
            if !record.owner.is_lowercase() {
                record.owner = record.owner.to_lowercase();
            }
        }
        // Stable, so the first record of an RRset in input order stays first.
        records.sort_by(|a, b| a.owner.as_wire().cmp(b.owner.as_wire()).then(a.rtype.cmp(&b.rtype)));
        let record_count = records.len();

        let mut zone = Zone {
            apex: apex.clone(),
            nodes: Vec::new(),
            table: HashTable::new(),
            hasher: foldhash::fast::FixedState::with_seed(HASH_SEED),
            apex_index: 0,
            record_count,
        };
        let mut records = records.into_iter().peekable();
        while let Some(first) = records.next() {
            let owner = first.owner;
            let mut rrsets: Vec<RRset> = Vec::new();
            let mut pending = Some((first.rtype, first.ttl, first.rdata));
            while let Some((rtype, ttl, rdata)) = pending.take() {
                match rrsets.last_mut() {
                    Some(rrset) if rrset.rtype == rtype => {
                        if !rrset.rdata.iter().any(|existing| **existing == *rdata) {
                            let mut all = std::mem::take(&mut rrset.rdata).into_vec();
                            all.push(rdata.into_boxed_slice());
                            rrset.rdata = all.into_boxed_slice();
                        }
                    }
                    _ => rrsets.push(RRset {
                        rtype,
                        ttl,
                        rdata: vec![rdata.into_boxed_slice()].into_boxed_slice(),
                    }),
                }
                if records.peek().is_some_and(|next| next.owner == owner) {
                    pending = records.next().map(|next| (next.rtype, next.ttl, next.rdata));
                }
            }
            zone.insert_node(owner, rrsets.into_boxed_slice());
        }
        zone.add_empty_non_terminals();
        zone.apex_index = zone
            .index_of(apex.as_wire())
            .unwrap_or_else(|| zone.insert_node(apex, Box::new([])));
        zone.adjust();
        zone
    }

    /// The zone's name, lowercased.
    pub fn apex(&self) -> &Name {
        &self.apex
    }

    /// The node at the apex.
    pub fn apex_node(&self) -> &Node {
        &self.nodes[self.apex_index as usize]
    }

    /// The SOA RRset; an empty zone (never served) yields `None`.
    pub fn soa(&self) -> Option<&RRset> {
        self.apex_node().rrset(types::SOA)
    }

    /// The SOA serial, 0 when there is no SOA.
    pub fn serial(&self) -> u32 {
        self.soa()
            .and_then(|soa| soa.rdata.first())
            .and_then(|rdata| super::soa_serial(rdata))
            .unwrap_or(0)
    }

    /// How many records the zone was built from.
    pub fn record_count(&self) -> usize {
        self.record_count
    }

    /// The node holding exactly this lowercased wire name.
    pub fn node(&self, name_lower: &[u8]) -> Option<&Node> {
        self.index_of(name_lower).map(|index| &self.nodes[index as usize])
    }

    /// Every node, in no particular order.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// Finds where `qname_lower` (lowercased wire format, at or below the
    /// apex) leads, following RFC 1034 §4.3.2 step 3.
    ///
    /// `ds_at_cut` asks for the parent side of a zone cut: a DS query for
    /// the cut's own name is answered here, not referred (RFC 4035 §3.1.4.1).
    pub fn lookup(&self, qname_lower: &[u8], ds_at_cut: bool) -> Lookup<'_> {
        // The closest encloser: the longest existing suffix. Every ancestor
        // of a node exists (empty non-terminals included), so the first
        // match walking up from the full name is it.
        let apex_len = self.apex.as_wire().len();
        let mut offset = 0;
        let encloser = loop {
            let suffix = &qname_lower[offset..];
            if let Some(index) = self.index_of(suffix) {
                break &self.nodes[index as usize];
            }
            if suffix.len() <= apex_len {
                return Lookup::NxDomain;
            }
            offset += suffix[0] as usize + 1;
        };
        let exact = offset == 0;
        if encloser.interrupt != NONE {
            let interrupt = &self.nodes[encloser.interrupt as usize];
            let at_interrupt = exact && std::ptr::eq(interrupt, encloser);
            if interrupt.is_cut {
                if !(at_interrupt && ds_at_cut) {
                    return Lookup::Referral(interrupt);
                }
            } else if !at_interrupt {
                return Lookup::Dname(interrupt);
            }
        }
        if exact {
            Lookup::Node(encloser)
        } else if encloser.wildcard != NONE {
            Lookup::Wildcard(&self.nodes[encloser.wildcard as usize])
        } else {
            Lookup::NxDomain
        }
    }

    /// Whether `node` holds authoritative data: not at or below a zone cut.
    pub fn is_authoritative(&self, node: &Node) -> bool {
        node.interrupt == NONE || !self.nodes[node.interrupt as usize].is_cut
    }

    fn hash(&self, name: &[u8]) -> u64 {
        self.hasher.hash_one(name)
    }

    fn index_of(&self, name_lower: &[u8]) -> Option<u32> {
        let nodes = &self.nodes;
        self.table
            .find(self.hash(name_lower), |&index| {
                nodes[index as usize].name.as_wire() == name_lower
            })
            .copied()
    }

    fn insert_node(&mut self, name: Name, rrsets: Box<[RRset]>) -> u32 {
        let index = self.nodes.len() as u32;
        let hash = self.hash(name.as_wire());
        self.nodes.push(Node {
            name,
            rrsets,
            interrupt: NONE,
            wildcard: NONE,
            is_cut: false,
        });
        let (nodes, hasher) = (&self.nodes, &self.hasher);
        self.table
            .insert_unique(hash, index, |&i| hasher.hash_one(nodes[i as usize].name.as_wire()));
        index
    }

    /// Adds a node without data for every missing ancestor up to the apex
    /// (RFC 4592 §2.2.2: empty non-terminals exist).
    fn add_empty_non_terminals(&mut self) {
        let apex_labels = self.apex.label_count();
        for index in 0..self.nodes.len() {
            let mut name = self.nodes[index].name.clone();
            while name.label_count() > apex_labels {
                let Some(parent) = name.parent() else {
                    break;
                };
                if self.index_of(parent.as_wire()).is_some() {
                    break;
                }
                self.insert_node(parent.clone(), Box::new([]));
                name = parent;
            }
        }
    }

    /// Works out per node its topmost cut or DNAME and its wildcard child.
    fn adjust(&mut self) {
        let mut order: Vec<u32> = (0..self.nodes.len() as u32).collect();
        order.sort_by_key(|&index| self.nodes[index as usize].name.label_count());
        for index in order {
            let node = &self.nodes[index as usize];
            let is_apex = index == self.apex_index;
            let is_cut = !is_apex && node.rrset(types::NS).is_some();
            let has_dname = node.rrsets.iter().any(|rrset| rrset.answers_for(types::DNAME));
            let parent = if is_apex {
                None
            } else {
                node.name.parent().and_then(|parent| self.index_of(parent.as_wire()))
            };
            let inherited = parent.map_or(NONE, |parent| self.nodes[parent as usize].interrupt);
            let interrupt = if inherited != NONE {
                inherited
            } else if is_cut || has_dname {
                index
            } else {
                NONE
            };
            if node.name.is_wildcard() {
                if let Some(parent) = parent {
                    self.nodes[parent as usize].wildcard = index;
                }
            }
            let node = &mut self.nodes[index as usize];
            node.is_cut = is_cut;
            node.interrupt = interrupt;
        }
    }
}

//------------ Node ----------------------------------------------------------

/// One owner name and its RRsets, sorted by type.
pub struct Node {
    name: Name,
    rrsets: Box<[RRset]>,
    /// The topmost zone cut or DNAME at or above this node, if any.
    interrupt: u32,
    /// The `*` child of this node, if any.
    wildcard: u32,
    /// NS records below the apex make this node a zone cut.
    is_cut: bool,
}

impl Node {
    /// The owner name, lowercased.
    pub fn name(&self) -> &Name {
        &self.name
    }

    /// The RRsets, sorted by type; empty for an empty non-terminal.
    pub fn rrsets(&self) -> &[RRset] {
        &self.rrsets
    }

    /// The RRset of `rtype`, if present.
    pub fn rrset(&self, rtype: u16) -> Option<&RRset> {
        self.rrsets.iter().find(|rrset| rrset.rtype == rtype)
    }

    /// Whether this node is a zone cut (NS below the apex).
    pub fn is_cut(&self) -> bool {
        self.is_cut
    }
}

//------------ RRset ---------------------------------------------------------

/// Records of one owner and type, RDATA in uncompressed wire format.
pub struct RRset {
    pub rtype: u16,
    pub ttl: u32,
    pub rdata: Box<[Box<[u8]>]>,
}

impl RRset {
    /// Whether this RRset answers queries for `qtype`: it is of that type,
    /// or it is LUA and one of its records produces that type.
    pub fn answers_for(&self, qtype: u16) -> bool {
        self.rtype == qtype
            || (self.rtype == types::LUA && self.rdata.iter().any(|rdata| lua_type(rdata) == Some(qtype)))
    }
}

/// The type a LUA record's code produces: the first two RDATA octets.
fn lua_type(rdata: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes([*rdata.first()?, *rdata.get(1)?]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(lines: &[(&str, u16, &[u8])]) -> Zone {
        let apex: Name = "example.test.".parse().expect("valid name");
        let records = lines
            .iter()
            .map(|(owner, rtype, rdata)| Record {
                owner: owner.parse().expect("valid name"),
                ttl: 300,
                rtype: *rtype,
                rdata: rdata.to_vec(),
            })
            .collect();
        Zone::build(&apex, records)
    }

    fn wire(name: &str) -> Vec<u8> {
        name.parse::<Name>()
            .expect("valid name")
            .to_lowercase()
            .as_wire()
            .to_vec()
    }

    fn sample() -> Zone {
        zone(&[
            ("example.test.", types::SOA, &[0; 22]),
            ("example.test.", types::NS, b"\x02ns\x07example\x04test\x00"),
            ("www.example.test.", types::A, &[192, 0, 2, 1]),
            ("a.b.c.example.test.", types::A, &[192, 0, 2, 2]),
            ("*.example.test.", types::TXT, b"\x04wild"),
            ("*.c.example.test.", types::TXT, b"\x04deep"),
            ("sub.example.test.", types::NS, b"\x02ns\x03sub\x07example\x04test\x00"),
            ("ns.sub.example.test.", types::A, &[192, 0, 2, 3]),
            ("d.example.test.", types::DNAME, b"\x07example\x03net\x00"),
        ])
    }

    fn name_of(lookup: Lookup<'_>) -> String {
        match lookup {
            Lookup::Node(node) => format!("node {}", node.name()),
            Lookup::Wildcard(node) => format!("wildcard {}", node.name()),
            Lookup::Referral(node) => format!("referral {}", node.name()),
            Lookup::Dname(node) => format!("dname {}", node.name()),
            Lookup::NxDomain => "nxdomain".into(),
        }
    }

    #[test]
    fn follows_rfc1034_lookup() {
        let zone = sample();
        let cases = [
            ("www.example.test.", "node www.example.test."),
            ("WWW.Example.test.", "node www.example.test."),
            ("b.c.example.test.", "node b.c.example.test."),
            // c exists as an empty non-terminal: its own wildcard applies,
            // the apex wildcard is blocked below it (RFC 4592 §2.2.2).
            ("x.c.example.test.", "wildcard *.c.example.test."),
            ("x.b.c.example.test.", "nxdomain"),
            ("nope.example.test.", "wildcard *.example.test."),
            ("sub.example.test.", "referral sub.example.test."),
            ("deep.ns.sub.example.test.", "referral sub.example.test."),
            ("d.example.test.", "node d.example.test."),
            ("x.d.example.test.", "dname d.example.test."),
        ];
        for (qname, expected) in cases {
            assert_eq!(name_of(zone.lookup(&wire(qname), false)), expected, "{qname}");
        }
        assert_eq!(
            name_of(zone.lookup(&wire("sub.example.test."), true)),
            "node sub.example.test."
        );
        assert!(!zone.is_authoritative(zone.node(&wire("ns.sub.example.test.")).expect("glue")));
        assert!(zone.is_authoritative(zone.node(&wire("www.example.test.")).expect("www")));
    }
}
