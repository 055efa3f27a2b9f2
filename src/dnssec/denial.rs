//! Authenticated denial of existence: the NSEC chain's order and the
//! NSEC3 chain, built once per snapshot and searched per query.

use std::cmp::Ordering;
use std::sync::Arc;

use base::bitmap::{decode_type_bitmap, type_bitmap};
use base::name::wire::canonical_cmp;
use base::types;
use once_cell::race::OnceBox;

use super::nsec3::{hash_label, nsec3_hash, nsec3_rdata};

/// NSEC RDATA (RFC 4034 §4.1): the next owner name and the types present.
pub fn nsec_rdata(next_lower: &[u8], types: impl IntoIterator<Item = u16>) -> Vec<u8> {
    let mut rdata = next_lower.to_vec();
    rdata.extend_from_slice(&type_bitmap(types));
    rdata
}

/// NSEC or NSEC3 RDATA with `rtype` taken out of its type bitmap: the
/// denial for a name whose LUA record of that type produced nothing in
/// this answer. `None` when the RDATA does not parse.
pub fn without_type(record_type: u16, rdata: &[u8], rtype: u16) -> Option<Vec<u8>> {
    let bitmap_at = match record_type {
        types::NSEC => {
            let mut pos = 0;
            while *rdata.get(pos)? != 0 {
                pos += usize::from(rdata[pos]) + 1;
            }
            pos + 1
        }
        types::NSEC3 => {
            let salt = usize::from(*rdata.get(4)?);
            let hash = usize::from(*rdata.get(5 + salt)?);
            6 + salt + hash
        }
        _ => return None,
    };
    let present = decode_type_bitmap(rdata.get(bitmap_at..)?).ok()?;
    let mut out = rdata[..bitmap_at].to_vec();
    out.extend_from_slice(&type_bitmap(present.into_iter().filter(|&t| t != rtype)));
    Some(out)
}

/// Index of the last entry of a sorted chain that sorts at or before a
/// key, wrapping to the last entry for keys before the first: the entry
/// that matches or covers the key.
fn at_or_before(len: usize, before_or_equal: impl Fn(usize) -> bool) -> usize {
    // partition_point over "entry <= key" gives the count of such entries.
    let mut low = 0;
    let mut high = len;
    while low < high {
        let mid = (low + high) / 2;
        if before_or_equal(mid) {
            low = mid + 1;
        } else {
            high = mid;
        }
    }
    if low == 0 {
        len.saturating_sub(1)
    } else {
        low - 1
    }
}

//------------ NsecOrder -----------------------------------------------------

/// The owners of a zone's NSEC records in canonical order, as node indexes.
#[derive(Clone)]
pub struct NsecOrder {
    nodes: Vec<u32>,
}

impl NsecOrder {
    /// Sorts `nodes` canonically by the names `name_of` gives; a large
    /// zone's in two halves at once, then merged.
    pub fn new<'n>(mut nodes: Vec<u32>, name_of: impl Fn(u32) -> &'n [u8] + Sync) -> NsecOrder {
        let order = |a: &u32, b: &u32| canonical_cmp(name_of(*a), name_of(*b));
        if nodes.len() < 100_000 {
            nodes.sort_by(order);
            return NsecOrder { nodes };
        }
        let half = nodes.len() / 2;
        let (low, high) = nodes.split_at_mut(half);
        std::thread::scope(|scope| {
            scope.spawn(|| low.sort_by(order));
            high.sort_by(order);
        });
        let (low, high) = nodes.split_at(half);
        let mut merged = Vec::with_capacity(nodes.len());
        let (mut i, mut j) = (0, 0);
        while i < low.len() && j < high.len() {
            if order(&high[j], &low[i]) == Ordering::Less {
                merged.push(high[j]);
                j += 1;
            } else {
                merged.push(low[i]);
                i += 1;
            }
        }
        merged.extend_from_slice(&low[i..]);
        merged.extend_from_slice(&high[j..]);
        NsecOrder { nodes: merged }
    }

    /// The node indexes in canonical order.
    pub fn nodes(&self) -> &[u32] {
        &self.nodes
    }

    /// The position of the node named `name`.
    pub fn position<'n>(&self, name: &[u8], name_of: impl Fn(u32) -> &'n [u8]) -> Option<usize> {
        self.nodes
            .binary_search_by(|&index| canonical_cmp(name_of(index), name))
            .ok()
    }

    /// Removes node `index`, named `name`; false when it is not in the
    /// order.
    pub fn remove<'n>(&mut self, index: u32, name: &[u8], name_of: impl Fn(u32) -> &'n [u8]) -> bool {
        match self.position(name, name_of) {
            Some(position) if self.nodes[position] == index => {
                self.nodes.remove(position);
                true
            }
            _ => false,
        }
    }

    /// Adds node `index` in its place, unless it is there.
    pub fn insert<'n>(&mut self, index: u32, name_of: impl Fn(u32) -> &'n [u8]) {
        let name = name_of(index);
        if let Err(position) = self
            .nodes
            .binary_search_by(|&other| canonical_cmp(name_of(other), name))
        {
            self.nodes.insert(position, index);
        }
    }

    /// The node before `name` in the order, wrapping around: the one
    /// whose NSEC points at `name`, or at the next name after it.
    pub fn before<'n>(&self, name: &[u8], name_of: impl Fn(u32) -> &'n [u8]) -> Option<u32> {
        if self.nodes.is_empty() {
            return None;
        }
        let after = self
            .nodes
            .partition_point(|&index| canonical_cmp(name_of(index), name) == Ordering::Less);
        Some(self.nodes[(after + self.nodes.len() - 1) % self.nodes.len()])
    }

    /// The node whose NSEC matches or covers `name` (RFC 4035 §3.1.3).
    pub fn covering<'n>(&self, name: &[u8], name_of: impl Fn(u32) -> &'n [u8]) -> Option<u32> {
        if self.nodes.is_empty() {
            return None;
        }
        let index = at_or_before(self.nodes.len(), |i| {
            canonical_cmp(name_of(self.nodes[i]), name) != Ordering::Greater
        });
        Some(self.nodes[index])
    }
}

//------------ Nsec3Chain ----------------------------------------------------

/// NSEC3 parameters (RFC 5155 §3.1; RFC 9276 §3.1 recommends no extra
/// iterations and no salt).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Nsec3Params {
    pub iterations: u16,
    pub salt: Vec<u8>,
    pub opt_out: bool,
}

/// One NSEC3 record of the chain.
pub struct Nsec3Entry {
    pub hash: [u8; 20],
    /// Owner: the base32hex hash as first label, then the zone apex.
    pub owner: Box<[u8]>,
    pub rdata: Box<[u8]>,
    /// The record's RRSIGs once made (see `super::signed`).
    signatures: OnceBox<Box<[u8]>>,
}

impl Nsec3Entry {
    fn new(apex: &[u8], hash: [u8; 20], next: &[u8; 20], types: &[u16], params: &Nsec3Params) -> Nsec3Entry {
        let label = hash_label(&hash);
        let mut owner = Vec::with_capacity(1 + label.len() + apex.len());
        owner.push(label.len() as u8);
        owner.extend_from_slice(label.as_bytes());
        owner.extend_from_slice(apex);
        let bitmap = type_bitmap(types.iter().copied());
        Nsec3Entry {
            hash,
            owner: owner.into_boxed_slice(),
            rdata: nsec3_rdata(params.opt_out, params.iterations, &params.salt, next, &bitmap).into_boxed_slice(),
            signatures: OnceBox::new(),
        }
    }

    /// Where the next hashed owner sits in the RDATA (RFC 5155 §3.2).
    fn next_at(&self) -> std::ops::Range<usize> {
        let salt = usize::from(self.rdata[4]);
        6 + salt..6 + salt + 20
    }

    /// This record pointing at `next` instead, without signatures.
    fn pointing_at(&self, next: &[u8; 20]) -> Nsec3Entry {
        let mut rdata = self.rdata.clone();
        rdata[self.next_at()].copy_from_slice(next);
        Nsec3Entry {
            hash: self.hash,
            owner: self.owner.clone(),
            rdata,
            signatures: OnceBox::new(),
        }
    }

    /// The cell of the record's signatures.
    pub fn signatures(&self) -> &OnceBox<Box<[u8]>> {
        &self.signatures
    }
}

/// An NSEC3 record made elsewhere: its owner's hash, its owner, its RDATA.
pub type StoredNsec3 = ([u8; 20], Box<[u8]>, Box<[u8]>);

/// A zone's NSEC3 records sorted by hash. Each record sits behind its own
/// [`Arc`], so that the chain of the next snapshot shares all but those a
/// change touches.
pub struct Nsec3Chain {
    params: Nsec3Params,
    entries: Vec<Arc<Nsec3Entry>>,
}

impl Nsec3Chain {
    /// Builds the chain over `names` (lowercased wire names, each with the
    /// types present there) of the zone at `apex`.
    pub fn build(apex: &[u8], names: Vec<(Vec<u8>, Vec<u16>)>, params: Nsec3Params) -> Nsec3Chain {
        let mut hashed: Vec<([u8; 20], Vec<u16>)> = names
            .into_iter()
            .map(|(name, types)| (nsec3_hash(&name, &params.salt, params.iterations), types))
            .collect();
        hashed.sort_by_key(|entry| entry.0);
        hashed.dedup_by(|a, b| a.0 == b.0);
        let count = hashed.len();
        let entries = (0..count)
            .map(|i| {
                let (hash, types) = &hashed[i];
                let next = &hashed[(i + 1) % count].0;
                Arc::new(Nsec3Entry::new(apex, *hash, next, types, &params))
            })
            .collect();
        Nsec3Chain { params, entries }
    }

    /// The chain of NSEC3 records made elsewhere, under `params`.
    pub fn from_records(mut records: Vec<StoredNsec3>, params: Nsec3Params) -> Nsec3Chain {
        records.sort_by_key(|(hash, _, _)| *hash);
        records.dedup_by_key(|(hash, _, _)| *hash);
        let entries = records
            .into_iter()
            .map(|(hash, owner, rdata)| {
                Arc::new(Nsec3Entry {
                    hash,
                    owner,
                    rdata,
                    signatures: OnceBox::new(),
                })
            })
            .collect();
        Nsec3Chain { params, entries }
    }

    /// This chain with the names `leaving` (lowercased wire names) taken
    /// out and the names of `present` put in or updated with their types;
    /// the records whose next hash changed with them are made again. Also
    /// returns the positions of every new record, to sign.
    pub fn with_changes(
        &self,
        apex: &[u8],
        leaving: &[&[u8]],
        present: &[(&[u8], Vec<u16>)],
    ) -> (Nsec3Chain, Vec<usize>) {
        let params = &self.params;
        let mut entries = self.entries.clone();
        let mut touched = Vec::new();
        for name in leaving {
            let hash = self.hash(name);
            if let Ok(position) = entries.binary_search_by(|entry| entry.hash.cmp(&hash)) {
                entries.remove(position);
                touched.push(hash);
            }
        }
        for (name, types) in present {
            let hash = self.hash(name);
            // The next hash is set below, with those of the neighbours.
            let entry = Arc::new(Nsec3Entry::new(apex, hash, &hash, types, params));
            match entries.binary_search_by(|entry| entry.hash.cmp(&hash)) {
                Ok(position) if entries[position].rdata == entry.rdata => continue,
                Ok(position) => entries[position] = entry,
                Err(position) => entries.insert(position, entry),
            }
            touched.push(hash);
        }
        let mut chain = Nsec3Chain {
            params: params.clone(),
            entries,
        };
        let count = chain.entries.len();
        let mut fix: Vec<usize> = Vec::new();
        for hash in &touched {
            if let Some(position) = chain.matching(hash) {
                fix.push(position);
            }
            if let Some(before) = chain.before(hash) {
                fix.push(before);
            }
        }
        fix.sort_unstable();
        fix.dedup();
        for &position in &fix {
            let next = chain.entries[(position + 1) % count].hash;
            let entry = &chain.entries[position];
            if entry.rdata[entry.next_at()] != next {
                chain.entries[position] = Arc::new(entry.pointing_at(&next));
            }
        }
        fix.retain(|&position| chain.entries[position].signatures.get().is_none());
        (chain, fix)
    }

    /// The position of the record before `hash`, wrapping around.
    fn before(&self, hash: &[u8; 20]) -> Option<usize> {
        let count = self.entries.len();
        (count > 0).then(|| (self.entries.partition_point(|entry| entry.hash < *hash) + count - 1) % count)
    }

    /// The chain's parameters.
    pub fn params(&self) -> &Nsec3Params {
        &self.params
    }

    /// The records, by hash.
    pub fn entries(&self) -> &[Arc<Nsec3Entry>] {
        &self.entries
    }

    /// The hash of a lowercased wire name under this chain's parameters.
    pub fn hash(&self, name: &[u8]) -> [u8; 20] {
        nsec3_hash(name, &self.params.salt, self.params.iterations)
    }

    /// The entry whose owner hash equals `hash`.
    pub fn matching(&self, hash: &[u8; 20]) -> Option<usize> {
        self.entries.binary_search_by(|entry| entry.hash.cmp(hash)).ok()
    }

    /// The entry that covers `hash` (RFC 5155 §7.2.1): the last one whose
    /// hash is lower, wrapping around.
    pub fn covering(&self, hash: &[u8; 20]) -> Option<usize> {
        if self.entries.is_empty() {
            return None;
        }
        Some(at_or_before(self.entries.len(), |i| self.entries[i].hash < *hash))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base::name::Name;

    fn wire(name: &str) -> Vec<u8> {
        name.parse::<Name>().expect("name").to_lowercase().as_wire().to_vec()
    }

    #[test]
    fn a_large_order_is_the_canonical_order() {
        // Enough names to sort in two halves; labels of varied length.
        let names: Vec<Vec<u8>> = (0..120_000u32)
            .map(|i| {
                wire(&format!(
                    "{}.x{}.example.test.",
                    i.wrapping_mul(2_654_435_761) % 100_000,
                    i % 37
                ))
            })
            .collect();
        let order = NsecOrder::new((0..names.len() as u32).collect(), |i| &names[i as usize]);
        let mut expected: Vec<u32> = (0..names.len() as u32).collect();
        expected.sort_by(|&a, &b| canonical_cmp(&names[a as usize], &names[b as usize]));
        assert_eq!(order.nodes(), expected);
    }

    #[test]
    fn finds_covering_nsec() {
        let names: Vec<Vec<u8>> = ["example.", "b.example.", "d.example."]
            .iter()
            .map(|n| wire(n))
            .collect();
        let order = NsecOrder::new(vec![2, 0, 1], |i| &names[i as usize]);
        assert_eq!(order.nodes(), [0, 1, 2]);
        let name_of = |i: u32| names[i as usize].as_slice();
        assert_eq!(order.covering(&wire("c.example."), name_of), Some(1));
        assert_eq!(order.covering(&wire("b.example."), name_of), Some(1));
        assert_eq!(order.covering(&wire("a.b.example."), name_of), Some(1));
        assert_eq!(order.covering(&wire("z.example."), name_of), Some(2));
        assert_eq!(order.covering(&wire("a.example."), name_of), Some(0));
    }

    #[test]
    fn finds_matching_and_covering_nsec3() {
        let apex = wire("example.");
        let names = vec![
            (wire("example."), vec![6, 2]),
            (wire("a.example."), vec![1]),
            (wire("b.example."), vec![1]),
        ];
        let chain = Nsec3Chain::build(
            &apex,
            names,
            Nsec3Params {
                iterations: 0,
                salt: Vec::new(),
                opt_out: false,
            },
        );
        assert_eq!(chain.entries().len(), 3);
        let a = chain.hash(&wire("a.example."));
        let index = chain.matching(&a).expect("a is in the chain");
        assert_eq!(chain.covering(&a), Some(index).map(|i| (i + 2) % 3));
        let other = chain.hash(&wire("nope.example."));
        assert!(chain.matching(&other).is_none());
        let covering = chain.covering(&other).expect("covered");
        let entry = &chain.entries()[covering];
        let next = &chain.entries()[(covering + 1) % 3];
        assert!(
            (entry.hash < other && other < next.hash)
                || (next.hash < entry.hash && (other > entry.hash || other < next.hash)),
            "covering entry brackets the hash"
        );
    }
}
