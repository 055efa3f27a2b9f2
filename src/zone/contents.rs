//! The frozen contents of one zone and the name lookup of RFC 1034 §4.3.2.
//!
//! [`Zone::build`] groups records into nodes, adds the empty non-terminals
//! that make the tree complete, and works out once per node what a query
//! would otherwise rediscover each time (Knot's "adjust" step): the topmost
//! zone cut or DNAME above it and its wildcard child. [`Zone::lookup`] then
//! needs one hash probe per label of the query name below the apex, at most,
//! and never scans.

use std::hash::BuildHasher;

use base::name::wire::label_count;
use base::name::Name;
use base::rdata::{list, lua};
use base::types;
use hashbrown::HashTable;

use super::Record;

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
    /// RRsets in the zone, numbered in node order (see [`Node::rrset_number`]).
    rrset_count: u32,
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
    /// The name does not exist; the node is its closest encloser.
    NxDomain(&'z Node),
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
            rrset_count: 0,
        };
        let mut records = records.into_iter().peekable();
        let mut data = Vec::new();
        while let Some(first) = records.next() {
            // One RRset per run of equal types (the input is sorted).
            data.clear();
            data.extend_from_slice(first.owner.as_wire());
            let mut rrset = RRsetEncoder::start(&mut data, first.rtype, first.ttl);
            rrset.push(&mut data, &first.rdata);
            while let Some(next) = records.next_if(|next| next.owner == first.owner) {
                if next.rtype != rrset.rtype {
                    rrset = RRsetEncoder::start(&mut data, next.rtype, next.ttl);
                }
                rrset.push(&mut data, &next.rdata);
            }
            zone.insert_node(first.owner.as_wire(), &data);
        }
        zone.add_empty_non_terminals();
        zone.apex_index = zone
            .index_of(apex.as_wire())
            .unwrap_or_else(|| zone.insert_node(apex.as_wire(), apex.as_wire()));
        zone.adjust();
        zone.number_rrsets();
        zone
    }

    /// Adds one single-record RRset to each given node (by index into
    /// [`Zone::nodes`]), keeping each node's RRsets sorted by type; the
    /// RRsets are numbered again. For records derived from the built zone,
    /// such as NSEC records, which must not change a node's type (no cut,
    /// no DNAME).
    pub fn add_rrsets(&mut self, additions: impl IntoIterator<Item = (usize, u16, u32, Vec<u8>)>) {
        for (index, rtype, ttl, rdata) in additions {
            debug_assert!(!matches!(rtype, types::NS | types::DNAME | types::CNAME));
            if let Some(node) = self.nodes.get_mut(index) {
                node.insert_rrset(rtype, ttl, &rdata);
            }
        }
        self.number_rrsets();
    }

    /// How many RRsets the zone holds, for tables indexed by
    /// [`Node::rrset_number`].
    pub fn rrset_count(&self) -> usize {
        self.rrset_count as usize
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
    pub fn soa(&self) -> Option<RRset<'_>> {
        self.apex_node().rrset(types::SOA)
    }

    /// The SOA serial, 0 when there is no SOA.
    pub fn serial(&self) -> u32 {
        self.soa()
            .and_then(|soa| soa.first())
            .and_then(super::soa_serial)
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
                // Unreachable for names inside the zone: the apex exists.
                return Lookup::NxDomain(self.apex_node());
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
            Lookup::NxDomain(encloser)
        }
    }

    /// Whether `node` holds authoritative data: not at or below a zone cut.
    pub fn is_authoritative(&self, node: &Node) -> bool {
        node.interrupt == NONE || !self.nodes[node.interrupt as usize].is_cut
    }

    /// Whether `node` holds data of this zone: it is authoritative, or it
    /// is a delegation point, whose NS and DS records the parent side
    /// holds (RFC 4035 §2.2). Glue and names below a cut are not.
    pub fn owns(&self, node: &Node) -> bool {
        if node.interrupt == NONE {
            return true;
        }
        let interrupt = &self.nodes[node.interrupt as usize];
        !interrupt.is_cut || std::ptr::eq(interrupt, node)
    }

    /// Numbers every RRset in node order.
    fn number_rrsets(&mut self) {
        let mut number = 0u32;
        for node in &mut self.nodes {
            node.first_rrset = number;
            number += node.rrsets().count() as u32;
        }
        self.rrset_count = number;
    }

    fn hash(&self, name: &[u8]) -> u64 {
        self.hasher.hash_one(name)
    }

    fn index_of(&self, name_lower: &[u8]) -> Option<u32> {
        let nodes = &self.nodes;
        self.table
            .find(self.hash(name_lower), |&index| {
                nodes[index as usize].name_wire() == name_lower
            })
            .copied()
    }

    /// Adds a node; `data` is the owner's wire name followed by the
    /// encoded RRsets.
    fn insert_node(&mut self, name: &[u8], data: &[u8]) -> u32 {
        let index = self.nodes.len() as u32;
        let hash = self.hash(name);
        self.nodes.push(Node {
            data: data.into(),
            name_len: name.len() as u8,
            interrupt: NONE,
            wildcard: NONE,
            is_cut: false,
            first_rrset: 0,
        });
        let (nodes, hasher) = (&self.nodes, &self.hasher);
        self.table
            .insert_unique(hash, index, |&i| hasher.hash_one(nodes[i as usize].name_wire()));
        index
    }

    /// Adds a node without data for every missing ancestor up to the apex
    /// (RFC 4592 §2.2.2: empty non-terminals exist).
    fn add_empty_non_terminals(&mut self) {
        let apex_labels = self.apex.label_count();
        for index in 0..self.nodes.len() {
            let mut name = self.nodes[index].name_wire().to_vec();
            while label_count(&name) > apex_labels {
                name.drain(..name[0] as usize + 1);
                if self.index_of(&name).is_some() {
                    break;
                }
                self.insert_node(&name, &name);
            }
        }
    }

    /// Works out per node its topmost cut or DNAME and its wildcard child.
    fn adjust(&mut self) {
        let mut order: Vec<u32> = (0..self.nodes.len() as u32).collect();
        order.sort_by_key(|&index| label_count(self.nodes[index as usize].name_wire()));
        for index in order {
            let node = &self.nodes[index as usize];
            let is_apex = index == self.apex_index;
            let is_cut = !is_apex && node.rrset(types::NS).is_some();
            let has_dname = node.rrsets().any(|rrset| rrset.answers_for(types::DNAME));
            let name = node.name_wire();
            let parent = match name.first() {
                Some(&label) if !is_apex && label > 0 => self.index_of(&name[label as usize + 1..]),
                _ => None,
            };
            let inherited = parent.map_or(NONE, |parent| self.nodes[parent as usize].interrupt);
            let interrupt = if inherited != NONE {
                inherited
            } else if is_cut || has_dname {
                index
            } else {
                NONE
            };
            if name.starts_with(b"\x01*") {
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
///
/// Name and RRsets share one allocation, a few dozen octets for a typical
/// name: a zone of a million names costs a million small blocks, not five
/// million.
pub struct Node {
    /// The lowercased wire name, then each RRset as type (2 octets), TTL
    /// (4), record count (2), and per record its length (2) and RDATA.
    data: Box<[u8]>,
    name_len: u8,
    /// NS records below the apex make this node a zone cut.
    is_cut: bool,
    /// The topmost zone cut or DNAME at or above this node, if any.
    interrupt: u32,
    /// The `*` child of this node, if any.
    wildcard: u32,
    /// The number of this node's first RRset in its zone.
    first_rrset: u32,
}

impl Node {
    /// The owner name, lowercased, in wire format.
    pub fn name_wire(&self) -> &[u8] {
        &self.data[..self.name_len as usize]
    }

    /// The RRsets, by type; none for an empty non-terminal.
    pub fn rrsets(&self) -> RRsets<'_> {
        RRsets {
            data: &self.data[self.name_len as usize..],
            index: 0,
        }
    }

    /// The RRset of `rtype`, if present.
    pub fn rrset(&self, rtype: u16) -> Option<RRset<'_>> {
        self.rrsets().find(|rrset| rrset.rtype == rtype)
    }

    /// Whether this node is a zone cut (NS below the apex).
    pub fn is_cut(&self) -> bool {
        self.is_cut
    }

    /// The number of `rrset` (one of this node's) among all RRsets of the
    /// zone: a dense index for per-RRset tables such as signatures.
    pub fn rrset_number(&self, rrset: &RRset<'_>) -> usize {
        (self.first_rrset + u32::from(rrset.index)) as usize
    }

    /// Inserts one single-record RRset, keeping RRsets sorted by type.
    fn insert_rrset(&mut self, rtype: u16, ttl: u32, rdata: &[u8]) {
        let mut at = self.name_len as usize;
        for rrset in self.rrsets().take_while(|rrset| rrset.rtype < rtype) {
            at += RRSET_HEADER + rrset.records.len();
        }
        let mut encoded = Vec::with_capacity(RRSET_HEADER + 2 + rdata.len());
        let mut encoder = RRsetEncoder::start(&mut encoded, rtype, ttl);
        encoder.push(&mut encoded, rdata);
        let mut data = Vec::with_capacity(self.data.len() + encoded.len());
        data.extend_from_slice(&self.data[..at]);
        data.extend_from_slice(&encoded);
        data.extend_from_slice(&self.data[at..]);
        self.data = data.into_boxed_slice();
    }
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match Name::from_wire(self.name_wire()) {
            Ok(name) => write!(f, "Node({name})"),
            Err(_) => write!(f, "Node({:?})", self.name_wire()),
        }
    }
}

/// Iterates over the RRsets of a node.
pub struct RRsets<'a> {
    data: &'a [u8],
    index: u16,
}

impl<'a> Iterator for RRsets<'a> {
    type Item = RRset<'a>;

    fn next(&mut self) -> Option<RRset<'a>> {
        let header = self.data.get(..RRSET_HEADER)?;
        let rtype = u16::from_be_bytes([header[0], header[1]]);
        let ttl = u32::from_be_bytes([header[2], header[3], header[4], header[5]]);
        let count = u16::from_be_bytes([header[6], header[7]]);
        let mut end = RRSET_HEADER;
        for _ in 0..count {
            let len = self.data.get(end..end + 2)?;
            end += 2 + u16::from_be_bytes([len[0], len[1]]) as usize;
        }
        let records = self.data.get(RRSET_HEADER..end)?;
        self.data = &self.data[end..];
        let index = self.index;
        self.index += 1;
        Some(RRset {
            rtype,
            ttl,
            index,
            records,
        })
    }
}

/// Type, TTL and record count in front of an encoded RRset.
const RRSET_HEADER: usize = 8;

/// Appends one RRset to a node's data, record by record.
struct RRsetEncoder {
    rtype: u16,
    /// Where the RRset's record count sits.
    count_at: usize,
    /// RDATA already pushed, to drop duplicates (RFC 2181 §5).
    first_record: usize,
}

impl RRsetEncoder {
    fn start(data: &mut Vec<u8>, rtype: u16, ttl: u32) -> RRsetEncoder {
        data.extend_from_slice(&rtype.to_be_bytes());
        data.extend_from_slice(&ttl.to_be_bytes());
        let count_at = data.len();
        data.extend_from_slice(&[0, 0]);
        RRsetEncoder {
            rtype,
            count_at,
            first_record: data.len(),
        }
    }

    fn push(&mut self, data: &mut Vec<u8>, rdata: &[u8]) {
        let count = u16::from_be_bytes([data[self.count_at], data[self.count_at + 1]]);
        // RDATA longer than 65535 octets cannot exist on the wire, and an
        // RRset this large cannot be answered; both are dropped.
        if count == u16::MAX || rdata.len() > u16::MAX as usize {
            return;
        }
        let records = RRset {
            rtype: self.rtype,
            ttl: 0,
            index: 0,
            records: &data[self.first_record..],
        };
        if records.rdata().any(|existing| existing == rdata) {
            return;
        }
        list::push(data, rdata);
        data[self.count_at..self.count_at + 2].copy_from_slice(&(count + 1).to_be_bytes());
    }
}

//------------ RRset ---------------------------------------------------------

/// Records of one owner and type, RDATA in uncompressed wire format.
#[derive(Clone, Copy)]
pub struct RRset<'a> {
    pub rtype: u16,
    pub ttl: u32,
    /// Position among its node's RRsets.
    pub index: u16,
    /// Each record as its length (2 octets) and RDATA.
    records: &'a [u8],
}

impl<'a> RRset<'a> {
    /// The RDATA of each record.
    pub fn rdata(&self) -> impl Iterator<Item = &'a [u8]> {
        list::iter(self.records)
    }

    /// The RDATA of the first record.
    pub fn first(&self) -> Option<&'a [u8]> {
        self.rdata().next()
    }

    /// Whether this RRset answers queries for `qtype`: it is of that type,
    /// or it is LUA and one of its records produces that type.
    pub fn answers_for(&self, qtype: u16) -> bool {
        self.rtype == qtype
            || (self.rtype == types::LUA && self.rdata().any(|rdata| lua::produced_type(rdata) == Some(qtype)))
    }
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
        let name = |node: &Node| Name::from_wire(node.name_wire()).expect("valid name").to_string();
        match lookup {
            Lookup::Node(node) => format!("node {}", name(node)),
            Lookup::Wildcard(node) => format!("wildcard {}", name(node)),
            Lookup::Referral(node) => format!("referral {}", name(node)),
            Lookup::Dname(node) => format!("dname {}", name(node)),
            Lookup::NxDomain(_) => "nxdomain".into(),
        }
    }

    #[test]
    fn keeps_rrsets_whole_and_drops_duplicates() {
        let zone = zone(&[
            ("example.test.", types::SOA, &[0; 22]),
            ("example.test.", types::NS, b"\x02ns\x07example\x04test\x00"),
            ("www.example.test.", types::A, &[192, 0, 2, 1]),
            (
                "www.example.test.",
                types::AAAA,
                &[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            ),
            ("www.example.test.", types::A, &[192, 0, 2, 2]),
            ("www.example.test.", types::A, &[192, 0, 2, 1]),
        ]);
        let node = zone.node(&wire("www.example.test.")).expect("www");
        let types: Vec<u16> = node.rrsets().map(|rrset| rrset.rtype).collect();
        assert_eq!(types, [types::A, types::AAAA]);
        let a: Vec<&[u8]> = node.rrset(types::A).expect("A").rdata().collect();
        assert_eq!(a, [&[192, 0, 2, 1][..], &[192, 0, 2, 2][..]]);
        assert_eq!(zone.apex_node().rrsets().count(), 2);
        assert!(zone.node(&wire("example.test.")).is_some());
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
