//! A small writer for MaxMind DB (MMDB 2.0) files: test fixtures, lab and benchmark databases.
//!
//! It writes IPv6 trees only (`ip_version` 6, like every current MaxMind database): IPv4 networks live at
//! `::a.b.c.d/(96+prefix)`, which is where libmaxminddb and the `maxminddb` crate look IPv4 addresses up, and
//! `::ffff:0:0/96` is aliased to that subtree by default. Repeated values (map keys, strings, whole records) are
//! stored once and referenced with pointers, as MaxMind's own writers do, so readers' pointer handling is exercised.
//!
//! Format reference: <https://maxmind.github.io/MaxMind-DB/>.

mod fixture;
#[cfg(test)]
mod tests;

pub use fixture::fixture;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

/// Largest payload size (string bytes, map pairs, array elements) a control byte can express.
const MAX_SIZE: usize = 65_821 + (1 << 24) - 1;
/// The 16 zero bytes between the search tree and the data section.
const DATA_SECTION_SEPARATOR: usize = 16;
const METADATA_MARKER: &[u8] = b"\xab\xcd\xefMaxMind.com";
/// Depth of the IPv4 subtree (`::/96`) in an IPv6 tree.
const IPV4_DEPTH: usize = 96;

const TYPE_POINTER: u8 = 1;
const TYPE_STRING: u8 = 2;
const TYPE_DOUBLE: u8 = 3;
const TYPE_UINT16: u8 = 5;
const TYPE_UINT32: u8 = 6;
const TYPE_MAP: u8 = 7;
const TYPE_INT32: u8 = 8;
const TYPE_UINT64: u8 = 9;
const TYPE_ARRAY: u8 = 11;
const TYPE_BOOL: u8 = 14;

/// A value in the data section. Top-level records are normally [`Record::Map`].
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// Map with UTF-8 keys (written sorted by key).
    Map(Vec<(String, Record)>),
    Array(Vec<Record>),
    String(String),
    Double(f64),
    Uint16(u16),
    Uint32(u32),
    Uint64(u64),
    Int32(i32),
    Bool(bool),
}

impl Record {
    /// Builds a map from `(key, value)` pairs.
    pub fn map<K: Into<String>>(entries: impl IntoIterator<Item = (K, Record)>) -> Record {
        Record::Map(entries.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }
}

impl From<&str> for Record {
    fn from(s: &str) -> Self {
        Record::String(s.to_owned())
    }
}

impl From<String> for Record {
    fn from(s: String) -> Self {
        Record::String(s)
    }
}

impl From<f64> for Record {
    fn from(v: f64) -> Self {
        Record::Double(v)
    }
}

impl From<u16> for Record {
    fn from(v: u16) -> Self {
        Record::Uint16(v)
    }
}

impl From<u32> for Record {
    fn from(v: u32) -> Self {
        Record::Uint32(v)
    }
}

impl From<u64> for Record {
    fn from(v: u64) -> Self {
        Record::Uint64(v)
    }
}

impl From<i32> for Record {
    fn from(v: i32) -> Self {
        Record::Int32(v)
    }
}

impl From<bool> for Record {
    fn from(v: bool) -> Self {
        Record::Bool(v)
    }
}

impl From<Vec<Record>> for Record {
    fn from(v: Vec<Record>) -> Self {
        Record::Array(v)
    }
}

/// Why a network or record was rejected. Checked at insert time so that [`MmdbWriter::to_bytes`] cannot fail
/// (metadata strings set through the builder methods are not checked: keep them under 16 MiB).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MmdbWriteError {
    #[error("prefix length /{prefix} is too long for {addr}")]
    InvalidPrefix { addr: IpAddr, prefix: u8 },
    #[error("{what} of size {size} exceeds the MMDB limit of {MAX_SIZE}")]
    TooLarge { what: &'static str, size: usize },
    #[error("database would no longer fit 32-bit search tree records")]
    DatabaseTooLarge,
}

/// Search-tree record size in bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordSize {
    Bits24,
    Bits28,
    Bits32,
}

impl RecordSize {
    fn bits(self) -> u16 {
        match self {
            RecordSize::Bits24 => 24,
            RecordSize::Bits28 => 28,
            RecordSize::Bits32 => 32,
        }
    }

    fn max_value(self) -> u64 {
        (1u64 << self.bits()) - 1
    }

    fn smallest_for(max_value: u64) -> RecordSize {
        [RecordSize::Bits24, RecordSize::Bits28]
            .into_iter()
            .find(|size| max_value <= size.max_value())
            .unwrap_or(RecordSize::Bits32)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Child {
    Empty,
    Node(usize),
    Data(usize),
}

/// Builds an MMDB file in memory: insert networks, then call [`MmdbWriter::to_bytes`].
///
/// Inserting a network assigns its record to every address in it, replacing what earlier inserts put there; so insert
/// broad networks first and more specific ones after them.
#[derive(Debug, Clone)]
pub struct MmdbWriter {
    database_type: String,
    languages: Vec<String>,
    description: Vec<(String, String)>,
    build_epoch: u64,
    record_size: Option<RecordSize>,
    alias_ipv4: bool,
    /// Node 0 is the root; nodes cut off by later inserts stay here but are not written.
    nodes: Vec<[Child; 2]>,
    records: Vec<Record>,
    record_index: HashMap<Vec<u8>, usize>,
    /// Upper bound of the data section size (records without pointer sharing).
    data_bound: u64,
}

impl MmdbWriter {
    /// A writer for an empty database of the given `database_type` (e.g. `"GeoIP2-City"`).
    pub fn new(database_type: impl Into<String>) -> MmdbWriter {
        MmdbWriter {
            database_type: database_type.into(),
            languages: vec!["en".to_owned()],
            description: vec![("en".to_owned(), "pooldns test database".to_owned())],
            build_epoch: 1_700_000_000,
            record_size: None,
            alias_ipv4: true,
            nodes: vec![[Child::Empty; 2]],
            records: Vec::new(),
            record_index: HashMap::new(),
            data_bound: 0,
        }
    }

    /// Sets the `languages` metadata array.
    pub fn languages<S: Into<String>>(mut self, languages: impl IntoIterator<Item = S>) -> Self {
        self.languages = languages.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the `description` metadata map (language code → text).
    pub fn description<K: Into<String>, V: Into<String>>(mut self, entries: impl IntoIterator<Item = (K, V)>) -> Self {
        self.description = entries.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        self
    }

    /// Sets `build_epoch` (seconds since 1970); fixed by default so output is reproducible.
    pub fn build_epoch(mut self, epoch: u64) -> Self {
        self.build_epoch = epoch;
        self
    }

    /// Requests a record size; a larger one is used if the database does not fit it. Default: smallest that fits.
    pub fn record_size(mut self, size: RecordSize) -> Self {
        self.record_size = Some(size);
        self
    }

    /// Whether `::ffff:0:0/96` points at the IPv4 subtree (default true), as in MaxMind's databases.
    pub fn alias_ipv4(mut self, alias: bool) -> Self {
        self.alias_ipv4 = alias;
        self
    }

    /// Assigns `record` to every address of `network` (address, prefix length); host bits are ignored.
    pub fn insert(&mut self, network: (IpAddr, u8), record: Record) -> Result<(), MmdbWriteError> {
        let (addr, prefix) = network;
        let (bits, depth) = match addr {
            IpAddr::V4(v4) if prefix <= 32 => (u128::from(u32::from(v4)), IPV4_DEPTH + usize::from(prefix)),
            IpAddr::V6(v6) if prefix <= 128 => (u128::from(v6), usize::from(prefix)),
            _ => return Err(MmdbWriteError::InvalidPrefix { addr, prefix }),
        };
        validate(&record)?;
        let mut canonical = Vec::new();
        encode_plain(&record, &mut canonical);

        let new_record = !self.record_index.contains_key(&canonical);
        let data_bound = self.data_bound + if new_record { canonical.len() as u64 } else { 0 };
        // Each insert adds at most 128 nodes; the alias path adds at most 96 more at write time.
        let max_nodes = (self.nodes.len() + 128 + IPV4_DEPTH) as u64;
        if max_nodes + DATA_SECTION_SEPARATOR as u64 + data_bound > RecordSize::Bits32.max_value() {
            return Err(MmdbWriteError::DatabaseTooLarge);
        }
        self.data_bound = data_bound;
        let data = match self.record_index.get(&canonical) {
            Some(&index) => index,
            None => {
                self.records.push(record);
                self.record_index.insert(canonical, self.records.len() - 1);
                self.records.len() - 1
            }
        };

        if depth == 0 {
            self.nodes[0] = [Child::Data(data); 2];
            return Ok(());
        }
        let mut node = 0;
        for i in 0..depth - 1 {
            node = descend(&mut self.nodes, node, bit_at(bits, i));
        }
        self.nodes[node][bit_at(bits, depth - 1)] = Child::Data(data);
        Ok(())
    }

    /// Serialises the database: search tree, separator, data section, metadata.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut nodes = self.nodes.clone();
        if self.alias_ipv4 {
            alias_ipv4_mapped(&mut nodes);
        }

        // Number the reachable nodes breadth-first from the root; the alias makes the tree a DAG, so mark visits.
        let mut number = vec![usize::MAX; nodes.len()];
        let mut order = vec![0];
        number[0] = 0;
        let mut next = 0;
        while let Some(&old) = order.get(next) {
            next += 1;
            for child in nodes[old] {
                if let Child::Node(n) = child {
                    if number[n] == usize::MAX {
                        number[n] = order.len();
                        order.push(n);
                    }
                }
            }
        }

        let mut data = DataSection::default();
        let mut record_offset = vec![None; self.records.len()];
        for &old in &order {
            for child in nodes[old] {
                if let Child::Data(d) = child {
                    if record_offset[d].is_none() {
                        record_offset[d] = Some(data.write_top(&self.records[d]));
                    }
                }
            }
        }

        let node_count = order.len() as u64;
        let value_of = |child: Child| -> u64 {
            match child {
                Child::Empty => node_count,
                Child::Node(n) => number[n] as u64,
                Child::Data(d) => node_count + DATA_SECTION_SEPARATOR as u64 + record_offset[d].unwrap_or(0) as u64,
            }
        };
        let max_value = node_count + DATA_SECTION_SEPARATOR as u64 + data.buf.len() as u64;
        let record_size = match self.record_size {
            Some(size) if max_value <= size.max_value() => size,
            _ => RecordSize::smallest_for(max_value),
        };

        let mut out = Vec::with_capacity(order.len() * 8 + DATA_SECTION_SEPARATOR + data.buf.len() + 512);
        for &old in &order {
            let [left, right] = nodes[old].map(value_of);
            write_node(&mut out, record_size, left, right);
        }
        out.extend_from_slice(&[0; DATA_SECTION_SEPARATOR]);
        out.extend_from_slice(&data.buf);
        out.extend_from_slice(METADATA_MARKER);
        encode_plain(&self.metadata(node_count, record_size), &mut out);
        out
    }

    fn metadata(&self, node_count: u64, record_size: RecordSize) -> Record {
        Record::map([
            (
                "node_count",
                Record::Uint32(u32::try_from(node_count).unwrap_or(u32::MAX)),
            ),
            ("record_size", Record::Uint16(record_size.bits())),
            ("ip_version", Record::Uint16(6)),
            ("database_type", Record::from(self.database_type.as_str())),
            (
                "languages",
                Record::Array(self.languages.iter().map(|l| Record::from(l.as_str())).collect()),
            ),
            ("binary_format_major_version", Record::Uint16(2)),
            ("binary_format_minor_version", Record::Uint16(0)),
            ("build_epoch", Record::Uint64(self.build_epoch)),
            (
                "description",
                Record::Map(
                    self.description
                        .iter()
                        .map(|(k, v)| (k.clone(), Record::from(v.as_str())))
                        .collect(),
                ),
            ),
        ])
    }
}

fn bit_at(bits: u128, index: usize) -> usize {
    usize::from((bits >> (127 - index)) & 1 == 1)
}

/// Returns the node under `nodes[node][bit]`, creating it; a data leaf being split is copied to both halves.
fn descend(nodes: &mut Vec<[Child; 2]>, node: usize, bit: usize) -> usize {
    match nodes[node][bit] {
        Child::Node(n) => n,
        leaf => {
            nodes.push([leaf; 2]);
            let n = nodes.len() - 1;
            nodes[node][bit] = Child::Node(n);
            n
        }
    }
}

/// Points `::ffff:0:0/96` at the IPv4 subtree (`::/96`), unless either holds data of its own at a shallower depth or
/// something was inserted under `::ffff:0:0/96`.
fn alias_ipv4_mapped(nodes: &mut Vec<[Child; 2]>) {
    let mut node = 0;
    for _ in 0..IPV4_DEPTH - 1 {
        match nodes[node][0] {
            Child::Node(n) => node = n,
            _ => return,
        }
    }
    let ipv4_root = nodes[node][0];
    if ipv4_root == Child::Empty {
        return;
    }
    let mapped = u128::from(Ipv4Addr::UNSPECIFIED.to_ipv6_mapped());
    let mut node = 0;
    for i in 0..IPV4_DEPTH - 1 {
        if let Child::Data(_) = nodes[node][bit_at(mapped, i)] {
            return;
        }
        node = descend(nodes, node, bit_at(mapped, i));
    }
    let slot = &mut nodes[node][bit_at(mapped, IPV4_DEPTH - 1)];
    if *slot == Child::Empty {
        *slot = ipv4_root;
    }
}

fn write_node(out: &mut Vec<u8>, size: RecordSize, left: u64, right: u64) {
    // Values were checked against size.max_value(), so the truncating casts below keep every bit.
    let (l, r) = (left as u32, right as u32);
    match size {
        RecordSize::Bits24 => {
            out.extend_from_slice(&l.to_be_bytes()[1..]);
            out.extend_from_slice(&r.to_be_bytes()[1..]);
        }
        RecordSize::Bits28 => {
            out.extend_from_slice(&l.to_be_bytes()[1..]);
            out.push((((l >> 24) & 0x0f) << 4 | ((r >> 24) & 0x0f)) as u8);
            out.extend_from_slice(&r.to_be_bytes()[1..]);
        }
        RecordSize::Bits32 => {
            out.extend_from_slice(&l.to_be_bytes());
            out.extend_from_slice(&r.to_be_bytes());
        }
    }
}

fn validate(record: &Record) -> Result<(), MmdbWriteError> {
    let check = |what, size: usize| {
        if size > MAX_SIZE {
            Err(MmdbWriteError::TooLarge { what, size })
        } else {
            Ok(())
        }
    };
    match record {
        Record::String(s) => check("string", s.len()),
        Record::Array(items) => {
            check("array", items.len())?;
            items.iter().try_for_each(validate)
        }
        Record::Map(entries) => {
            check("map", entries.len())?;
            entries.iter().try_for_each(|(k, v)| {
                check("map key", k.len())?;
                validate(v)
            })
        }
        _ => Ok(()),
    }
}

/// Control byte(s) for a value of `type_num` and `size` (already validated to be at most `MAX_SIZE`).
fn write_header(out: &mut Vec<u8>, type_num: u8, size: usize) {
    let (size_bits, extra_len, extra) = match size {
        0..29 => (size as u8, 0, 0),
        29..285 => (29, 1, size - 29),
        285..65_821 => (30, 2, size - 285),
        _ => (31, 3, size - 65_821),
    };
    if type_num <= 7 {
        out.push(type_num << 5 | size_bits);
    } else {
        out.push(size_bits);
        out.push(type_num - 7);
    }
    out.extend_from_slice(&(extra as u32).to_be_bytes()[4 - extra_len..]);
}

/// Big-endian integer payload without leading zero bytes, as the spec recommends.
fn write_uint(out: &mut Vec<u8>, type_num: u8, value: u64, max_bytes: usize) {
    let bytes = value.to_be_bytes();
    let len = (8 - value.leading_zeros() as usize / 8).min(max_bytes);
    write_header(out, type_num, len);
    out.extend_from_slice(&bytes[8 - len..]);
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    write_header(out, TYPE_STRING, s.len());
    out.extend_from_slice(s.as_bytes());
}

/// Writes a scalar; returns false for containers and strings, which the callers handle.
fn write_scalar(record: &Record, out: &mut Vec<u8>) -> bool {
    match *record {
        Record::Double(v) => {
            write_header(out, TYPE_DOUBLE, 8);
            out.extend_from_slice(&v.to_be_bytes());
        }
        Record::Uint16(v) => write_uint(out, TYPE_UINT16, u64::from(v), 2),
        Record::Uint32(v) => write_uint(out, TYPE_UINT32, u64::from(v), 4),
        Record::Uint64(v) => write_uint(out, TYPE_UINT64, v, 8),
        Record::Int32(v) if v >= 0 => write_uint(out, TYPE_INT32, v.unsigned_abs().into(), 4),
        Record::Int32(v) => {
            write_header(out, TYPE_INT32, 4);
            out.extend_from_slice(&v.to_be_bytes());
        }
        Record::Bool(v) => write_header(out, TYPE_BOOL, usize::from(v)),
        Record::Map(_) | Record::Array(_) | Record::String(_) => return false,
    }
    true
}

/// Encodes without pointers: the metadata section (where pointers would be relative to it) and dedup keys.
fn encode_plain(record: &Record, out: &mut Vec<u8>) {
    if write_scalar(record, out) {
        return;
    }
    match record {
        Record::String(s) => write_str(out, s),
        Record::Array(items) => {
            write_header(out, TYPE_ARRAY, items.len());
            items.iter().for_each(|item| encode_plain(item, out));
        }
        Record::Map(entries) => {
            write_header(out, TYPE_MAP, entries.len());
            for (k, v) in sorted(entries) {
                write_str(out, k);
                encode_plain(v, out);
            }
        }
        _ => {}
    }
}

/// Map entries in key order, as MaxMind's own writers emit them, so output is canonical and diffable.
fn sorted(entries: &[(String, Record)]) -> Vec<&(String, Record)> {
    let mut sorted: Vec<_> = entries.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    sorted
}

/// Pointer to a data-section offset, in the shortest of the four pointer forms.
fn pointer(offset: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(5);
    let off = offset as u64;
    if off < 2048 {
        out.push(TYPE_POINTER << 5 | (off >> 8) as u8);
        out.push(off as u8);
    } else if off < 526_336 {
        let v = off - 2048;
        out.push(TYPE_POINTER << 5 | 1 << 3 | (v >> 16) as u8);
        out.extend_from_slice(&(v as u32).to_be_bytes()[2..]);
    } else if off < 134_744_064 {
        let v = off - 526_336;
        out.push(TYPE_POINTER << 5 | 2 << 3 | (v >> 24) as u8);
        out.extend_from_slice(&(v as u32).to_be_bytes()[1..]);
    } else {
        out.push(TYPE_POINTER << 5 | 3 << 3);
        out.extend_from_slice(&(off as u32).to_be_bytes());
    }
    out
}

/// The data section, sharing repeated strings, maps and arrays through pointers.
#[derive(Default)]
struct DataSection {
    buf: Vec<u8>,
    /// Pointer-free encoding → offset of its first full copy (never of a pointer: pointers to pointers are invalid).
    seen: HashMap<Vec<u8>, usize>,
}

impl DataSection {
    /// Writes a top-level record (or finds an identical one) and returns its offset for the search tree.
    fn write_top(&mut self, record: &Record) -> usize {
        let mut key = Vec::new();
        encode_plain(record, &mut key);
        if let Some(&offset) = self.seen.get(&key) {
            return offset;
        }
        let offset = self.buf.len();
        self.write_full(record);
        self.seen.insert(key, offset);
        offset
    }

    /// Writes `record` inline or as a pointer to an earlier copy, whichever is shorter.
    fn write(&mut self, record: &Record) {
        let mut key = Vec::new();
        if write_scalar(record, &mut key) {
            self.buf.extend_from_slice(&key);
            return;
        }
        encode_plain(record, &mut key);
        if let Some(&offset) = self.seen.get(&key) {
            let ptr = pointer(offset);
            if ptr.len() < key.len() {
                self.buf.extend_from_slice(&ptr);
                return;
            }
        }
        let offset = self.buf.len();
        self.write_full(record);
        self.seen.entry(key).or_insert(offset);
    }

    fn write_full(&mut self, record: &Record) {
        match record {
            Record::String(s) => write_str(&mut self.buf, s),
            Record::Array(items) => {
                write_header(&mut self.buf, TYPE_ARRAY, items.len());
                items.iter().for_each(|item| self.write(item));
            }
            Record::Map(entries) => {
                write_header(&mut self.buf, TYPE_MAP, entries.len());
                for (k, v) in sorted(entries) {
                    // Keys repeat in every record, so share them like any other string.
                    self.write(&Record::String(k.clone()));
                    self.write(v);
                }
            }
            scalar => {
                write_scalar(scalar, &mut self.buf);
            }
        }
    }
}
