//! The contents of one zone and the name lookup of RFC 1034 §4.3.2.
//!
//! [`Zone::build`] groups records into nodes, adds the empty non-terminals
//! that make the tree complete, and works out once per node what a query
//! would otherwise rediscover each time (Knot's "adjust" step): the topmost
//! zone cut or DNAME above it and its wildcard child. [`Zone::lookup`] then
//! needs one hash probe per label of the query name below the apex, at most,
//! and never scans.
//!
//! Nodes sit in blocks, and the name index in shards, each behind its own
//! [`Arc`]: a copy of a zone shares all of them, and a change copies only
//! the blocks and shards it touches (see [`super::edit`]). A change to one
//! name of a million-name zone thus costs a few kilobytes, not the zone.

use std::hash::BuildHasher;
use std::sync::Arc;

use base::name::wire::label_count;
use base::name::Name;
use base::types;
use hashbrown::HashTable;

use super::node::{Node, RRset, RRsetEncoder, NONE};
use super::Record;
use crate::cores;

/// Seed of the name hash: fixed so builds are reproducible.
const HASH_SEED: u64 = 0x0070_6f6f_6c64_6e73;

/// Nodes per block: 2^10.
const BLOCK_BITS: u32 = 10;
const BLOCK: usize = 1 << BLOCK_BITS;

/// Shards of the name index: 2^6, chosen by the top bits of the hash.
const SHARD_BITS: u32 = 6;

//------------ Zone ----------------------------------------------------------

/// One zone. A served zone is never modified: a change makes a new one
/// that shares what did not change.
#[derive(Clone)]
pub struct Zone {
    apex: Name,
    /// The nodes, [`BLOCK`] to a block; a node's index never changes.
    blocks: Vec<Arc<Vec<Node>>>,
    /// Indexes of live nodes, hashed by the node's lowercased wire name.
    shards: Vec<Arc<HashTable<u32>>>,
    hasher: foldhash::fast::FixedState,
    apex_index: u32,
    record_count: usize,
    /// Nodes removed by changes, left in place as tombstones.
    removed: u32,
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
    /// [`super::check_zone`] (or, sorted, [`super::check::check_sorted_zone`]).
    ///
    /// Records of one RRset keep the TTL of the first of them (RFC 2181
    /// §5.2 forbids differing TTLs; Knot does the same); duplicate records
    /// are dropped.
    pub fn build(apex: &Name, mut records: Vec<Record>) -> Zone {
        Zone::sort_records(&mut records);
        Zone::build_sorted(apex, records)
    }

    /// Lowercases the owners of `records` and sorts them by owner and type
    /// as [`Zone::build_sorted`] takes them. Stable, so the first record of
    /// an RRset in input order stays first.
    pub fn sort_records(records: &mut [Record]) {
        for record in records.iter_mut() {
            if !record.owner.is_lowercase() {
                record.owner = record.owner.to_lowercase();
            }
        }
        records.sort_by(|a, b| a.owner.as_wire().cmp(b.owner.as_wire()).then(a.rtype.cmp(&b.rtype)));
    }

    /// [`Zone::build`] for records [`Zone::sort_records`] sorted.
    pub fn build_sorted(apex: &Name, records: Vec<Record>) -> Zone {
        let threads = cores::threads_for(records.len());
        Zone::build_on(apex, records, threads)
    }

    /// [`Zone::build_sorted`] on `threads` threads.
    fn build_on(apex: &Name, records: Vec<Record>, threads: usize) -> Zone {
        debug_assert!(records
            .windows(2)
            .all(|pair| pair[0].owner.as_wire() <= pair[1].owner.as_wire()));
        let apex = apex.to_lowercase();
        let record_count = records.len();

        let mut zone = Zone::empty(&apex, record_count);
        zone.record_count = record_count;
        let mut block = Vec::with_capacity(BLOCK);
        for node in cores::map_each(split_at_owners(records, threads), nodes_of)
            .into_iter()
            .flatten()
        {
            block.push(node);
            if block.len() == BLOCK {
                zone.blocks
                    .push(Arc::new(std::mem::replace(&mut block, Vec::with_capacity(BLOCK))));
            }
        }
        if !block.is_empty() {
            zone.blocks.push(Arc::new(block));
        }
        zone.index_all(threads);
        let parents = zone.add_empty_non_terminals();
        zone.apex_index = zone
            .index_of(apex.as_wire())
            .unwrap_or_else(|| zone.push_node(Node::new(apex.as_wire().len(), apex.as_wire())));
        zone.adjust(parents);
        zone
    }

    /// A zone at `apex` without nodes, the apex's included, with room for
    /// about `names` names.
    fn empty(apex: &Name, names: usize) -> Zone {
        let hasher = foldhash::fast::FixedState::with_seed(HASH_SEED);
        // A little more than an even share, and empty non-terminals.
        let per_shard = (names >> SHARD_BITS) * 9 / 8;
        Zone {
            apex: apex.clone(),
            blocks: Vec::with_capacity(names.div_ceil(BLOCK)),
            shards: (0..1 << SHARD_BITS)
                .map(|_| Arc::new(HashTable::with_capacity(per_shard)))
                .collect(),
            hasher,
            apex_index: 0,
            record_count: 0,
            removed: 0,
        }
    }

    /// Gives each node of `nodes` the single-record RRset of `rtype` that
    /// `record` makes from the zone and the node's position in `nodes`,
    /// keeping each node's RRsets sorted by type; on every core for many
    /// nodes. For records derived from the built zone, such as NSEC
    /// records, which must not change a node's type (no cut, no DNAME).
    pub fn add_rrsets(&mut self, rtype: u16, nodes: &[u32], record: impl Fn(&Zone, usize) -> (u32, Vec<u8>) + Sync) {
        let zone = &*self;
        let made = cores::map_slices(nodes, cores::threads_for(nodes.len()), |start, part| {
            let data: Vec<Box<[u8]>> = part
                .iter()
                .enumerate()
                .map(|(offset, &index)| {
                    let (ttl, rdata) = record(zone, start + offset);
                    zone.node_at(index).data_with(rtype, Some((ttl, &rdata)))
                })
                .collect();
            data
        });
        for (&index, data) in nodes.iter().zip(made.into_iter().flatten()) {
            self.node_mut(index).set_data(data);
        }
    }

    /// Replaces the RRset of `rtype` at node `index` by one record, or
    /// removes it; the node's signatures are dropped with its old data.
    /// The same restriction as for [`Zone::add_rrsets`] applies.
    pub fn set_rrset(&mut self, index: u32, rtype: u16, record: Option<(u32, &[u8])>) {
        let data = self.node_at(index).data_with(rtype, record);
        self.node_mut(index).set_data(data);
    }

    /// The zone's name, lowercased.
    pub fn apex(&self) -> &Name {
        &self.apex
    }

    /// The node at the apex.
    pub fn apex_node(&self) -> &Node {
        self.node_at(self.apex_index)
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

    /// How many records the zone holds.
    pub fn record_count(&self) -> usize {
        self.record_count
    }

    /// The node holding exactly this lowercased wire name.
    pub fn node(&self, name_lower: &[u8]) -> Option<&Node> {
        self.index_of(name_lower).map(|index| self.node_at(index))
    }

    /// The node with index `index`, as [`Zone::indexed_nodes`] numbers
    /// them; a removed node is a tombstone without name or data.
    pub fn node_at(&self, index: u32) -> &Node {
        &self.blocks[(index >> BLOCK_BITS) as usize][index as usize & (BLOCK - 1)]
    }

    /// Every node, in no particular order.
    pub fn nodes(&self) -> impl Iterator<Item = &Node> + '_ {
        self.blocks
            .iter()
            .flat_map(|block| block.iter())
            .filter(|node| node.is_live())
    }

    /// Every node with its index.
    pub fn indexed_nodes(&self) -> impl Iterator<Item = (u32, &Node)> + '_ {
        self.nodes_in_order()
            .enumerate()
            .filter(|(_, node)| node.is_live())
            .map(|(index, node)| (index as u32, node))
    }

    /// Every node by index, tombstones included.
    fn nodes_in_order(&self) -> impl Iterator<Item = &Node> + '_ {
        self.blocks.iter().flat_map(|block| block.iter())
    }

    /// The nodes in blocks, for work split between threads; tombstones
    /// included.
    pub fn blocks(&self) -> impl Iterator<Item = &[Node]> + '_ {
        self.blocks.iter().map(|block| block.as_slice())
    }

    /// How many nodes changes removed since the zone was built.
    pub fn removed_nodes(&self) -> u32 {
        self.removed
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
                break self.node_at(index);
            }
            if suffix.len() <= apex_len {
                // Unreachable for names inside the zone: the apex exists.
                return Lookup::NxDomain(self.apex_node());
            }
            offset += suffix[0] as usize + 1;
        };
        let exact = offset == 0;
        if encloser.interrupt != NONE {
            let interrupt = self.node_at(encloser.interrupt);
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
            Lookup::Wildcard(self.node_at(encloser.wildcard))
        } else {
            Lookup::NxDomain(encloser)
        }
    }

    /// Whether `node` holds authoritative data: not at or below a zone cut.
    pub fn is_authoritative(&self, node: &Node) -> bool {
        node.interrupt == NONE || !self.node_at(node.interrupt).is_cut
    }

    /// Whether `node` holds data of this zone: it is authoritative, or it
    /// is a delegation point, whose NS and DS records the parent side
    /// holds (RFC 4035 §2.2). Glue and names below a cut are not.
    pub fn owns(&self, node: &Node) -> bool {
        if node.interrupt == NONE {
            return true;
        }
        let interrupt = self.node_at(node.interrupt);
        !interrupt.is_cut || std::ptr::eq(interrupt, node)
    }

    fn hash(&self, name: &[u8]) -> u64 {
        self.hasher.hash_one(name)
    }

    fn shard_of(hash: u64) -> usize {
        (hash >> (64 - SHARD_BITS)) as usize
    }

    pub(super) fn index_of(&self, name_lower: &[u8]) -> Option<u32> {
        let hash = self.hash(name_lower);
        self.shards[Self::shard_of(hash)]
            .find(hash, |&index| self.node_at(index).name_wire() == name_lower)
            .copied()
    }

    /// The node with index `index`, for changing it: its block is copied
    /// first if another zone shares it.
    pub(super) fn node_mut(&mut self, index: u32) -> &mut Node {
        let block = Arc::make_mut(&mut self.blocks[(index >> BLOCK_BITS) as usize]);
        &mut block[index as usize & (BLOCK - 1)]
    }

    /// Adds a node and indexes it by name.
    pub(super) fn push_node(&mut self, node: Node) -> u32 {
        if self.blocks.last().is_none_or(|block| block.len() == BLOCK) {
            self.blocks.push(Arc::new(Vec::with_capacity(BLOCK)));
        }
        let index =
            ((self.blocks.len() - 1) << BLOCK_BITS) as u32 + self.blocks.last().map_or(0, |block| block.len() as u32);
        let hash = self.hash(node.name_wire());
        if let Some(block) = self.blocks.last_mut() {
            Arc::make_mut(block).push(node);
        }
        let (blocks, hasher) = (&self.blocks, &self.hasher);
        Arc::make_mut(&mut self.shards[Self::shard_of(hash)]).insert_unique(hash, index, |&i| {
            hasher.hash_one(blocks[(i >> BLOCK_BITS) as usize][i as usize & (BLOCK - 1)].name_wire())
        });
        index
    }

    /// Indexes every node by name, the shards shared out among `threads`.
    fn index_all(&mut self, threads: usize) {
        // Each thread's shards by number; `None` where another thread's.
        let mut shares: Vec<Vec<Option<&mut HashTable<u32>>>> = (0..threads)
            .map(|_| (0..1 << SHARD_BITS).map(|_| None).collect())
            .collect();
        for (number, shard) in self.shards.iter_mut().enumerate() {
            shares[number % threads][number] = Some(Arc::make_mut(shard));
        }
        let (blocks, hasher) = (&self.blocks, &self.hasher);
        let index = |mut share: Vec<Option<&mut HashTable<u32>>>| {
            let name_at = |i: u32| blocks[(i >> BLOCK_BITS) as usize][i as usize & (BLOCK - 1)].name_wire();
            for (block_number, block) in blocks.iter().enumerate() {
                for (offset, node) in block.iter().enumerate() {
                    let hash = hasher.hash_one(node.name_wire());
                    if let Some(shard) = &mut share[Self::shard_of(hash)] {
                        let index = ((block_number << BLOCK_BITS) + offset) as u32;
                        shard.insert_unique(hash, index, |&i| hasher.hash_one(name_at(i)));
                    }
                }
            }
        };
        std::thread::scope(|scope| {
            let mut shares = shares.into_iter();
            let here = shares.next();
            for share in shares {
                scope.spawn(move || index(share));
            }
            if let Some(share) = here {
                index(share);
            }
        });
    }

    /// Removes node `index` from the name index and leaves a tombstone.
    pub(super) fn remove_node(&mut self, index: u32) {
        let hash = self.hash(self.node_at(index).name_wire());
        let blocks = &self.blocks;
        let name = blocks[(index >> BLOCK_BITS) as usize][index as usize & (BLOCK - 1)].name_wire();
        if let Ok(entry) = Arc::make_mut(&mut self.shards[Self::shard_of(hash)]).find_entry(hash, |&i| {
            blocks[(i >> BLOCK_BITS) as usize][i as usize & (BLOCK - 1)].name_wire() == name
        }) {
            entry.remove();
        }
        *self.node_mut(index) = Node::tombstone();
        self.removed += 1;
    }

    pub(super) fn apex_index(&self) -> u32 {
        self.apex_index
    }

    pub(super) fn add_records(&mut self, count: isize) {
        self.record_count = self.record_count.saturating_add_signed(count);
    }

    /// Adds a node without data for every missing ancestor up to the apex
    /// (RFC 4592 §2.2.2: empty non-terminals exist). Returns each node's
    /// parent, `NONE` for the apex.
    fn add_empty_non_terminals(&mut self) -> Vec<u32> {
        let apex_labels = self.apex.label_count();
        let count = self.blocks.iter().map(|block| block.len()).sum::<usize>() as u32;
        let mut parents = vec![NONE; count as usize];
        for index in 0..count {
            let mut child = index;
            let mut offset = 0;
            let below_apex = label_count(self.node_at(index).name_wire()).saturating_sub(apex_labels);
            for _ in 0..below_apex {
                let name = self.node_at(index).name_wire();
                offset += name[offset] as usize + 1;
                let parent = &name[offset..];
                // Most parents exist: only a missing one is copied.
                if let Some(parent) = self.index_of(parent) {
                    parents[child as usize] = parent;
                    break;
                }
                let parent = parent.to_vec();
                let parent = self.push_node(Node::new(parent.len(), &parent));
                parents.push(NONE);
                parents[child as usize] = parent;
                child = parent;
            }
        }
        parents
    }

    /// Works out per node its topmost cut or DNAME, its wildcard child and
    /// how many children it has, parents before children.
    fn adjust(&mut self, mut parents: Vec<u32>) {
        let count = self.blocks.iter().map(|block| block.len()).sum::<usize>();
        // The apex may have been added after its children were.
        parents.resize(count, NONE);
        // By label count, counted out: names have at most 127 labels.
        let labels: Vec<u8> = self
            .nodes_in_order()
            .map(|node| label_count(node.name_wire()).min(127) as u8)
            .collect();
        let mut starts = [0usize; 129];
        for &label in &labels {
            starts[usize::from(label) + 1] += 1;
        }
        for depth in 1..starts.len() {
            starts[depth] += starts[depth - 1];
        }
        let mut order = vec![0u32; count];
        for (index, &label) in labels.iter().enumerate() {
            order[starts[usize::from(label)]] = index as u32;
            starts[usize::from(label)] += 1;
        }
        for index in order {
            let node = self.node_at(index);
            let is_apex = index == self.apex_index;
            let is_cut = !is_apex && node.rrset(types::NS).is_some();
            let has_dname = node.has_dname();
            let is_wildcard = node.name_wire().starts_with(b"\x01*");
            let parent = Some(parents[index as usize]).filter(|&parent| parent != NONE && !is_apex);
            let inherited = parent.map_or(NONE, |parent| self.node_at(parent).interrupt);
            let interrupt = if inherited != NONE {
                inherited
            } else if is_cut || has_dname {
                index
            } else {
                NONE
            };
            if let Some(parent) = parent {
                let parent = self.node_mut(parent);
                parent.children += 1;
                if is_wildcard {
                    parent.wildcard = index;
                }
            }
            let node = self.node_mut(index);
            node.is_cut = is_cut;
            node.interrupt = interrupt;
        }
    }
}

/// Sorted records cut into at most `threads` runs, never between two
/// records of one owner.
fn split_at_owners(mut records: Vec<Record>, threads: usize) -> Vec<Vec<Record>> {
    let size = records.len().div_ceil(threads).max(1);
    let mut parts = Vec::with_capacity(threads);
    while records.len() > size {
        let mut cut = records.len() - size;
        while cut > 0 && records[cut].owner == records[cut - 1].owner {
            cut -= 1;
        }
        if cut == 0 {
            break;
        }
        parts.push(records.split_off(cut));
    }
    parts.push(records);
    parts.reverse();
    parts
}

/// The nodes of sorted records, one per owner, one RRset per run of equal
/// types.
fn nodes_of(records: Vec<Record>) -> Vec<Node> {
    let mut nodes = Vec::with_capacity(records.len());
    let mut records = records.into_iter().peekable();
    let mut data = Vec::new();
    while let Some(first) = records.next() {
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
        nodes.push(Node::new(first.owner.as_wire().len(), &data));
    }
    nodes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zone::testing::record;

    fn zone(lines: &[(&str, u16, &[u8])]) -> Zone {
        let apex: Name = "example.test.".parse().expect("valid name");
        let records = lines
            .iter()
            .map(|(owner, rtype, rdata)| record(owner, *rtype, rdata))
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

    /// A zone built on several threads is the zone built on one: the runs
    /// are cut between owners, and every node, parent link and lookup is
    /// the same.
    #[test]
    fn building_on_threads_builds_the_same_zone() {
        let apex: Name = "example.test.".parse().expect("valid name");
        let mut lines: Vec<(String, u16, Vec<u8>)> = vec![
            ("example.test.".into(), types::SOA, vec![0; 22]),
            (
                "example.test.".into(),
                types::NS,
                b"\x02ns\x07example\x04test\x00".to_vec(),
            ),
        ];
        for i in 0..700u16 {
            let [high, low] = i.to_be_bytes();
            let name = match i % 7 {
                0 => format!("h{i}.example.test."),
                1 => format!("a{i}.deep.e{}.example.test.", i % 13),
                2 => format!("*.w{}.example.test.", i % 11),
                3 => format!("cut{}.example.test.", i % 17),
                4 => format!("glue.cut{}.example.test.", i % 17),
                5 => format!("dn{}.example.test.", i % 5),
                _ => format!("M{}.Example.test.", i % 29),
            };
            let (rtype, rdata) = match i % 7 {
                3 => (types::NS, b"\x02ns\x07example\x04test\x00".to_vec()),
                5 => (types::DNAME, b"\x07example\x03net\x00".to_vec()),
                2 => (types::TXT, vec![2, high, low]),
                _ => (if i % 3 == 0 { types::AAAA } else { types::A }, vec![10, 0, high, low]),
            };
            lines.push((name, rtype, rdata));
        }
        let records = || {
            let mut records: Vec<Record> = lines
                .iter()
                .map(|(owner, rtype, rdata)| record(owner, *rtype, rdata))
                .collect();
            Zone::sort_records(&mut records);
            records
        };
        let alone = Zone::build_on(&apex, records(), 1);
        let names: Vec<Vec<u8>> = alone.nodes_in_order().map(|node| node.name_wire().to_vec()).collect();
        assert!(names.len() > 150, "{} names", names.len());
        for threads in [2, 3, 7] {
            let shared = Zone::build_on(&apex, records(), threads);
            assert_eq!(shared.apex_index, alone.apex_index);
            let pairs: Vec<_> = alone.nodes_in_order().zip(shared.nodes_in_order()).collect();
            assert_eq!(pairs.len(), names.len(), "{threads} threads");
            for (one, other) in pairs {
                let shown = Name::from_wire(one.name_wire()).expect("valid name").to_string();
                let data = |node: &Node| {
                    let rrsets = node.rrsets().map(|rrset| {
                        (
                            rrset.rtype,
                            rrset.ttl,
                            rrset.rdata().map(<[u8]>::to_vec).collect::<Vec<_>>(),
                        )
                    });
                    (node.name_wire().to_vec(), rrsets.collect::<Vec<_>>())
                };
                assert_eq!(data(one), data(other), "{shown} on {threads} threads");
                let links = |node: &Node| (node.interrupt, node.wildcard, node.children, node.is_cut);
                assert_eq!(links(one), links(other), "{shown} on {threads} threads");
            }
            for name in names
                .iter()
                .chain(&[wire("x.w3.example.test."), wire("no.glue.cut1.example.test.")])
            {
                for ds in [false, true] {
                    assert_eq!(
                        name_of(alone.lookup(name, ds)),
                        name_of(shared.lookup(name, ds)),
                        "{:?} on {threads} threads",
                        Name::from_wire(name)
                    );
                }
            }
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
