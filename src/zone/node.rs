//! One owner name and its RRsets in a single allocation, and the RRsets
//! read from it: what a [`super::Zone`] is made of.

use base::name::Name;
use base::rdata::{list, lua};
use base::types;
use once_cell::race::OnceBox;

//------------ Node ----------------------------------------------------------

/// Marks the absence of a node index.
pub(super) const NONE: u32 = u32::MAX;

/// One owner name and its RRsets, sorted by type.
///
/// Name and RRsets share one allocation, a few dozen octets for a typical
/// name: a zone of a million names costs a million small blocks, not five
/// million.
pub struct Node {
    /// The lowercased wire name, then each RRset as type (2 octets), TTL
    /// (4), record count (2), and per record its length (2) and RDATA.
    data: Box<[u8]>,
    /// The RRSIGs of the node's RRsets once made, in a secured zone (see
    /// `dnssec::signed`). They belong to the node's data: a node whose
    /// data changes is a new node, without signatures.
    signatures: OnceBox<Box<[u8]>>,
    /// The topmost zone cut or DNAME at or above this node, if any.
    pub(super) interrupt: u32,
    /// The `*` child of this node, if any.
    pub(super) wildcard: u32,
    /// How many nodes are directly below this one.
    pub(super) children: u32,
    /// 0 for a tombstone.
    name_len: u8,
    /// NS records below the apex make this node a zone cut.
    pub(super) is_cut: bool,
}

impl Clone for Node {
    fn clone(&self) -> Node {
        let signatures = OnceBox::new();
        if let Some(made) = self.signatures.get() {
            let _ = signatures.set(Box::new(made.clone()));
        }
        Node {
            data: self.data.clone(),
            signatures,
            interrupt: self.interrupt,
            wildcard: self.wildcard,
            children: self.children,
            name_len: self.name_len,
            is_cut: self.is_cut,
        }
    }
}

impl Node {
    /// A node of `data`: the owner's wire name of `name_len` octets
    /// followed by the encoded RRsets.
    pub(super) fn new(name_len: usize, data: &[u8]) -> Node {
        Node {
            data: data.into(),
            signatures: OnceBox::new(),
            interrupt: NONE,
            wildcard: NONE,
            children: 0,
            name_len: name_len as u8,
            is_cut: false,
        }
    }

    pub(super) fn tombstone() -> Node {
        Node::new(0, &[])
    }

    /// Whether the node is in its zone, not removed by a change.
    pub fn is_live(&self) -> bool {
        self.name_len > 0
    }

    /// The node's data with its RRset of `rtype` replaced by one record,
    /// or removed.
    pub(super) fn data_with(&self, rtype: u16, record: Option<(u32, &[u8])>) -> Box<[u8]> {
        debug_assert!(!matches!(rtype, types::NS | types::DNAME | types::CNAME));
        // The bytes of the RRsets before and after the one replaced.
        let mut before = self.name_len as usize;
        let mut after = before;
        for rrset in self.rrsets() {
            let end = after + RRSET_HEADER + rrset.records.len();
            if rrset.rtype < rtype {
                before = end;
            }
            if rrset.rtype <= rtype {
                after = end;
            }
        }
        let mut data =
            Vec::with_capacity(self.data.len() + record.map_or(0, |(_, rdata)| RRSET_HEADER + 2 + rdata.len()));
        data.extend_from_slice(&self.data[..before]);
        push_single(&mut data, rtype, record);
        data.extend_from_slice(&self.data[after..]);
        data.into_boxed_slice()
    }

    /// Replaces the node's data (same name); its signatures go with the
    /// old data.
    pub(super) fn set_data(&mut self, data: Box<[u8]>) {
        self.data = data;
        self.signatures = OnceBox::new();
    }

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

    /// Whether a DNAME sits here, as a record or made by a LUA record.
    pub(super) fn has_dname(&self) -> bool {
        self.rrsets().any(|rrset| rrset.answers_for(types::DNAME))
    }

    /// The cell of the node's signatures.
    pub fn signatures(&self) -> &OnceBox<Box<[u8]>> {
        &self.signatures
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
pub(super) struct RRsetEncoder {
    pub(super) rtype: u16,
    /// Where the RRset's record count sits.
    count_at: usize,
    /// RDATA already pushed, to drop duplicates (RFC 2181 §5).
    first_record: usize,
}

impl RRsetEncoder {
    pub(super) fn start(data: &mut Vec<u8>, rtype: u16, ttl: u32) -> RRsetEncoder {
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

    pub(super) fn push(&mut self, data: &mut Vec<u8>, rdata: &[u8]) {
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

/// Appends an RRset of one record, if any, to a node's data.
fn push_single(data: &mut Vec<u8>, rtype: u16, record: Option<(u32, &[u8])>) {
    if let Some((ttl, rdata)) = record {
        let mut encoder = RRsetEncoder::start(data, rtype, ttl);
        encoder.push(data, rdata);
    }
}
