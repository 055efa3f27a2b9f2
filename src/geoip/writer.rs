//! A small writer for MaxMind DB (MMDB 2.0) files: test fixtures, lab and benchmark databases.
//!
//! It writes IPv6 trees only (`ip_version` 6, like every current MaxMind database): IPv4 networks live at
//! `::a.b.c.d/(96+prefix)`, which is where libmaxminddb and the `maxminddb` crate look IPv4 addresses up, and
//! `::ffff:0:0/96` is aliased to that subtree by default. Repeated values (map keys, strings, whole records) are
//! stored once and referenced with pointers, as MaxMind's own writers do, so readers' pointer handling is exercised.
//!
//! Format reference: <https://maxmind.github.io/MaxMind-DB/>.

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

/// The PowerDNS geoip regression database (`modules/geoipbackend/regression-tests/write-mmdb.pl`), value for value:
/// the same networks, keys, types (geoname_id uint32, accuracy_radius uint16, coordinates double, ASN uint32) and
/// metadata (`GeoCity-Lite`, 28-bit records, languages `en`, "Mock geoip database"), map keys sorted like the Perl
/// writer's. `mmdblookup` prints the same for every address as for PowerDNS's committed `GeoLiteCity.mmdb.b64`,
/// except what that older file lacks (the three location-only /24s and 1.2.3.0/24's subdivisions).
pub fn fixture() -> Vec<u8> {
    fn names(en: &str) -> Record {
        Record::map([("en", Record::from(en))])
    }
    fn place(geoname_id: u32, code_key: &str, code: &str, name: &str) -> Record {
        Record::map([
            (code_key, Record::from(code)),
            ("geoname_id", Record::Uint32(geoname_id)),
            ("names", names(name)),
        ])
    }
    fn city(geoname_id: u32, name: &str) -> Record {
        Record::map([("geoname_id", Record::Uint32(geoname_id)), ("names", names(name))])
    }
    fn location(lat: f64, lon: f64) -> Record {
        Record::map([
            ("latitude", Record::Double(lat)),
            ("longitude", Record::Double(lon)),
            ("accuracy_radius", Record::Uint16(1)),
        ])
    }
    fn only_location(lat: f64, lon: f64) -> Record {
        Record::map([("location", location(lat, lon))])
    }
    fn loopback(n: u32) -> Record {
        Record::map([
            ("country", place(n, "iso_code", "O1", &format!("O {n}"))),
            ("city", city(n, &format!("C{n}"))),
            (
                "subdivisions",
                Record::Array(vec![place(n, "iso_code", &format!("L{n}"), &format!("L {n}"))]),
            ),
        ])
    }

    let networks = [
        (
            [1, 1, 1, 0],
            24,
            Record::map([
                ("city", city(2_151_718, "Research")),
                ("continent", place(6_255_151, "code", "OC", "Oceania")),
                ("country", place(2_077_456, "iso_code", "AU", "Australia")),
                ("location", location(1.0, 1.0)),
                ("autonomous_system_number", Record::Uint32(4242)),
                ("autonomous_system_organization", Record::from("Test Telekom")),
            ]),
        ),
        (
            [1, 2, 3, 0],
            24,
            Record::map([
                ("city", city(5_804_306, "Mukilteo")),
                ("continent", place(6_255_149, "code", "NA", "North America")),
                ("country", place(6_252_001, "iso_code", "US", "United States")),
                ("location", location(47.913, -122.3042)),
                ("autonomous_system_number", Record::Uint32(3320)),
                ("autonomous_system_organization", Record::from("Test Networks")),
                (
                    "subdivisions",
                    Record::Array(vec![place(5_332_921, "iso_code", "CA", "California")]),
                ),
            ]),
        ),
        ([192, 0, 2, 0], 24, only_location(0.0, -179.0)),
        ([198, 51, 100, 0], 24, only_location(0.0, 179.0)),
        ([203, 0, 113, 0], 24, only_location(0.0, -160.0)),
        ([127, 0, 0, 1], 32, loopback(1)),
        ([127, 0, 0, 2], 32, loopback(2)),
        ([127, 0, 0, 3], 32, loopback(3)),
    ];

    let mut writer = MmdbWriter::new("GeoCity-Lite")
        .record_size(RecordSize::Bits28)
        // MaxMind::DB::Writer::Tree's alias_ipv6_to_ipv4 defaults to off, so ::ffff:1.2.3.4 is not in PowerDNS's file.
        .alias_ipv4(false)
        .description([("en", "Mock geoip database")])
        .build_epoch(1_523_942_650);
    for (octets, prefix, record) in networks {
        // Cannot fail: IPv4 prefixes of at most 32 bits and tiny records.
        let _ = writer.insert((IpAddr::from(octets), prefix), record);
    }
    writer.to_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use maxminddb::Reader;
    use serde::Deserialize;
    use std::net::Ipv6Addr;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    fn reader(bytes: Vec<u8>) -> Reader<Vec<u8>> {
        let reader = Reader::from_source(bytes).expect("readable database");
        reader.verify().expect("database verifies");
        reader
    }

    /// Decodes the `"v"` field of the record for `addr`, if any.
    fn value<T: for<'de> Deserialize<'de>>(reader: &Reader<Vec<u8>>, addr: &str) -> Option<T> {
        #[derive(Deserialize)]
        struct V<T> {
            v: T,
        }
        reader
            .lookup(ip(addr))
            .expect("lookup")
            .decode::<V<T>>()
            .expect("decode")
            .map(|r| r.v)
    }

    fn v(value: impl Into<Record>) -> Record {
        Record::map([("v", value.into())])
    }

    #[test]
    fn every_record_size_round_trips() {
        for size in [RecordSize::Bits24, RecordSize::Bits28, RecordSize::Bits32] {
            let mut w = MmdbWriter::new("Test").record_size(size);
            w.insert((ip("10.0.0.0"), 8), v(1u32)).unwrap();
            w.insert((ip("10.1.0.0"), 16), v(2u32)).unwrap();
            w.insert((ip("2001:db8::"), 32), v(3u32)).unwrap();
            let r = reader(w.to_bytes());
            assert_eq!(r.metadata().record_size, size.bits());
            assert_eq!(value::<u32>(&r, "10.2.3.4"), Some(1));
            assert_eq!(value::<u32>(&r, "10.1.3.4"), Some(2));
            assert_eq!(value::<u32>(&r, "2001:db8:1::1"), Some(3));
            assert_eq!(value::<u32>(&r, "11.0.0.1"), None);
            assert_eq!(value::<u32>(&r, "2001:db9::1"), None);
        }
    }

    #[test]
    fn metadata_is_complete() {
        let w = MmdbWriter::new("Pool-Test")
            .languages(["en", "de"])
            .description([("en", "d")])
            .build_epoch(42);
        let r = reader(w.to_bytes());
        let m = r.metadata();
        assert_eq!(m.database_type, "Pool-Test");
        assert_eq!(m.ip_version, 6);
        assert_eq!((m.binary_format_major_version, m.binary_format_minor_version), (2, 0));
        assert_eq!(m.build_epoch, 42);
        assert_eq!(m.languages, ["en", "de"]);
        assert_eq!(m.description.get("en").map(String::as_str), Some("d"));
        assert_eq!(m.node_count, 1);
    }

    #[test]
    fn all_value_types_decode() {
        #[derive(Deserialize, Debug, PartialEq)]
        struct All {
            s: String,
            d: f64,
            u16: u16,
            u32: u32,
            u64: u64,
            neg: i32,
            pos: i32,
            t: bool,
            f: bool,
            a: Vec<u16>,
            zero: u32,
        }
        let record = Record::map([
            ("s", Record::from("é ü")),
            ("d", Record::from(-122.3042)),
            ("u16", Record::from(65_535u16)),
            ("u32", Record::from(4_000_000_000u32)),
            ("u64", Record::from(u64::MAX)),
            ("neg", Record::from(-5i32)),
            ("pos", Record::from(70_000i32)),
            ("t", Record::from(true)),
            ("f", Record::from(false)),
            ("a", Record::from(vec![Record::Uint16(1), Record::Uint16(300)])),
            ("zero", Record::from(0u32)),
        ]);
        let mut w = MmdbWriter::new("Test");
        w.insert((ip("192.0.2.0"), 24), record).unwrap();
        let r = reader(w.to_bytes());
        let got: All = r.lookup(ip("192.0.2.9")).unwrap().decode().unwrap().unwrap();
        let want = All {
            s: "é ü".into(),
            d: -122.3042,
            u16: 65_535,
            u32: 4_000_000_000,
            u64: u64::MAX,
            neg: -5,
            pos: 70_000,
            t: true,
            f: false,
            a: vec![1, 300],
            zero: 0,
        };
        assert_eq!(got, want);
    }

    #[test]
    fn long_strings_use_every_size_form() {
        for len in [28, 29, 284, 285, 65_820, 65_821, 70_000] {
            let s = "x".repeat(len);
            let mut w = MmdbWriter::new("Test");
            w.insert((ip("192.0.2.0"), 24), v(s.as_str())).unwrap();
            let r = reader(w.to_bytes());
            assert_eq!(value::<String>(&r, "192.0.2.1").map(|s| s.len()), Some(len));
        }
    }

    #[test]
    fn shared_values_become_pointers() {
        let mut w = MmdbWriter::new("Test");
        for i in 0..=255u8 {
            let rec = Record::map([
                ("country", Record::map([("iso_code", Record::from("US"))])),
                (
                    "autonomous_system_organization",
                    Record::from("Example Networks Incorporated"),
                ),
                ("i", Record::Uint16(u16::from(i))),
            ]);
            w.insert((IpAddr::from([10, i, 0, 0]), 16), rec).unwrap();
        }
        let bytes = w.to_bytes();
        let r = reader(bytes.clone());
        #[derive(Deserialize)]
        struct Rec {
            country: Country,
            autonomous_system_organization: String,
            i: u16,
        }
        #[derive(Deserialize)]
        struct Country {
            iso_code: String,
        }
        for i in [0u8, 17, 255] {
            let rec: Rec = r
                .lookup(IpAddr::from([10, i, 9, 9]))
                .unwrap()
                .decode()
                .unwrap()
                .unwrap();
            assert_eq!((rec.country.iso_code.as_str(), rec.i), ("US", u16::from(i)));
            assert_eq!(rec.autonomous_system_organization, "Example Networks Incorporated");
        }
        // Without sharing each record would carry ~75 bytes of keys and strings.
        let data_len = bytes.len() - r.metadata().node_count as usize * 7;
        assert!(data_len < 256 * 20, "data section too large: {data_len}");
    }

    #[test]
    fn identical_records_are_stored_once() {
        let mut w = MmdbWriter::new("Test");
        let rec = v("the same long string value for every network");
        for i in 0..100u8 {
            w.insert((IpAddr::from([10, i, 0, 0]), 16), rec.clone()).unwrap();
        }
        assert_eq!(w.records.len(), 1);
        let r = reader(w.to_bytes());
        let a = r.lookup(ip("10.3.0.1")).unwrap().offset();
        let b = r.lookup(ip("10.99.0.1")).unwrap().offset();
        assert!(a.is_some() && a == b);
    }

    #[test]
    fn later_inserts_override_overlapping_earlier_ones() {
        let mut w = MmdbWriter::new("Test");
        w.insert((ip("10.0.0.0"), 8), v(1u32)).unwrap();
        w.insert((ip("10.1.2.0"), 24), v(2u32)).unwrap();
        w.insert((ip("10.1.2.128"), 25), v(3u32)).unwrap();
        w.insert((ip("172.16.5.0"), 24), v(4u32)).unwrap();
        w.insert((ip("172.16.0.0"), 12), v(5u32)).unwrap();
        let r = reader(w.to_bytes());
        assert_eq!(value::<u32>(&r, "10.1.1.1"), Some(1));
        assert_eq!(value::<u32>(&r, "10.1.2.1"), Some(2));
        assert_eq!(value::<u32>(&r, "10.1.2.200"), Some(3));
        assert_eq!(value::<u32>(&r, "10.255.255.255"), Some(1));
        assert_eq!(value::<u32>(&r, "172.16.5.1"), Some(5));
        assert_eq!(value::<u32>(&r, "172.31.0.1"), Some(5));
    }

    #[test]
    fn default_routes_and_host_routes() {
        let mut w = MmdbWriter::new("Test");
        w.insert((ip("::"), 0), v(0u32)).unwrap();
        w.insert((ip("0.0.0.0"), 0), v(4u32)).unwrap();
        w.insert((ip("2001:db8::1"), 128), v(6u32)).unwrap();
        w.insert((ip("192.0.2.1"), 32), v(32u32)).unwrap();
        let r = reader(w.to_bytes());
        assert_eq!(value::<u32>(&r, "2001:db8::2"), Some(0));
        assert_eq!(value::<u32>(&r, "2001:db8::1"), Some(6));
        assert_eq!(value::<u32>(&r, "8.8.8.8"), Some(4));
        assert_eq!(value::<u32>(&r, "192.0.2.1"), Some(32));
        assert_eq!(value::<u32>(&r, "192.0.2.2"), Some(4));
    }

    #[test]
    fn ipv4_mapped_addresses_alias_the_ipv4_subtree() {
        let mut w = MmdbWriter::new("Test");
        w.insert((ip("1.2.3.0"), 24), v(7u32)).unwrap();
        let r = reader(w.clone().to_bytes());
        assert_eq!(value::<u32>(&r, "::ffff:1.2.3.4"), Some(7));
        assert_eq!(value::<u32>(&r, "::1.2.3.4"), Some(7));
        assert_eq!(value::<u32>(&r, "::ffff:1.2.4.4"), None);
        let r = reader(w.alias_ipv4(false).to_bytes());
        assert_eq!(value::<u32>(&r, "::ffff:1.2.3.4"), None);
        assert_eq!(value::<u32>(&r, "1.2.3.4"), Some(7));
    }

    #[test]
    fn alias_keeps_explicit_mapped_networks() {
        let mut w = MmdbWriter::new("Test");
        w.insert((ip("1.2.3.0"), 24), v(7u32)).unwrap();
        w.insert((ip("::ffff:0:0"), 96), v(9u32)).unwrap();
        let r = reader(w.to_bytes());
        assert_eq!(value::<u32>(&r, "::ffff:1.2.3.4"), Some(9));
        assert_eq!(value::<u32>(&r, "1.2.3.4"), Some(7));
    }

    #[test]
    fn empty_database_is_valid() {
        let r = reader(MmdbWriter::new("Empty").to_bytes());
        assert_eq!(value::<u32>(&r, "1.2.3.4"), None);
        assert_eq!(value::<u32>(&r, "::1"), None);
    }

    #[test]
    fn invalid_prefixes_are_rejected() {
        let mut w = MmdbWriter::new("Test");
        assert_eq!(
            w.insert((ip("1.2.3.4"), 33), v(1u32)),
            Err(MmdbWriteError::InvalidPrefix {
                addr: ip("1.2.3.4"),
                prefix: 33
            })
        );
        assert!(w.insert((ip("::"), 129), v(1u32)).is_err());
        assert!(w.records.is_empty());
    }

    #[test]
    fn oversized_values_are_rejected() {
        let mut w = MmdbWriter::new("Test");
        let huge = "x".repeat(MAX_SIZE + 1);
        let err = w.insert((ip("1.2.3.4"), 32), v(huge.as_str())).unwrap_err();
        assert!(matches!(err, MmdbWriteError::TooLarge { what: "string", .. }), "{err}");
    }

    #[test]
    fn pointer_forms_decode() {
        // Enough distinct data to push shared keys past each pointer-size boundary.
        let mut w = MmdbWriter::new("Test");
        let filler = "f".repeat(60_000);
        for i in 0..12u32 {
            let rec = Record::map([("pad", Record::from(format!("{i}{filler}"))), ("v", Record::Uint32(i))]);
            w.insert(
                (IpAddr::from(Ipv6Addr::new(0x2001, 0xdb8, i as u16, 0, 0, 0, 0, 0)), 48),
                rec,
            )
            .unwrap();
        }
        let r = reader(w.to_bytes());
        for i in 0..12u32 {
            assert_eq!(value::<u32>(&r, &format!("2001:db8:{i:x}::1")), Some(i));
        }
        for offset in [0, 2047, 2048, 526_335, 526_336, 134_744_063, 134_744_064] {
            let form = pointer(offset);
            let expected_len = match offset {
                0..2048 => 2,
                2048..526_336 => 3,
                526_336..134_744_064 => 4,
                _ => 5,
            };
            assert_eq!(form.len(), expected_len, "offset {offset}");
        }
    }

    /// Random networks checked against a naive longest-prefix-match model.
    #[test]
    fn matches_a_naive_model() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut w = MmdbWriter::new("Test");
        let mut model: Vec<(u32, u8, u32)> = Vec::new();
        for i in 0..2000u32 {
            let prefix = 8 + (next() % 25) as u8;
            let addr = (next() as u32 & 0x0fff_ffff) | 0x1000_0000;
            w.insert((IpAddr::from(Ipv4Addr::from(addr)), prefix), v(i)).unwrap();
            model.push((addr, prefix, i));
        }
        let r = reader(w.to_bytes());
        for _ in 0..5000 {
            let probe = if next() % 2 == 0 {
                let (a, _, _) = model[(next() % model.len() as u64) as usize];
                a ^ (next() as u32 & 0xff)
            } else {
                next() as u32
            };
            // The last insert covering the address wins.
            let want = model
                .iter()
                .rev()
                .find(|&&(a, p, _)| {
                    let mask = u32::MAX.checked_shl(32 - u32::from(p)).unwrap_or(0);
                    a & mask == probe & mask
                })
                .map(|&(_, _, i)| i);
            assert_eq!(
                value::<u32>(&r, &Ipv4Addr::from(probe).to_string()),
                want,
                "{}",
                Ipv4Addr::from(probe)
            );
        }
    }

    #[test]
    fn fixture_verifies() {
        let r = reader(fixture());
        assert_eq!(r.metadata().database_type, "GeoCity-Lite");
        assert_eq!(r.metadata().record_size, 28);
        assert_eq!(
            r.metadata().description.get("en").map(String::as_str),
            Some("Mock geoip database")
        );
        let city: maxminddb::geoip2::City = r.lookup(ip("1.2.3.4")).unwrap().decode().unwrap().unwrap();
        assert_eq!(city.city.names.english, Some("Mukilteo"));
        assert_eq!(city.subdivisions.first().and_then(|s| s.iso_code), Some("CA"));
        assert_eq!(city.location.accuracy_radius, Some(1));
        assert_eq!(fixture(), fixture(), "fixture is deterministic");
    }

    /// Second, independent reader: libmaxminddb's `mmdblookup` (Debian package mmdb-bin).
    #[test]
    fn fixture_reads_with_libmaxminddb() {
        let path = std::env::temp_dir().join(format!("pooldns-fixture-{}.mmdb", std::process::id()));
        std::fs::write(&path, fixture()).unwrap();
        let lookup = |addr: &str, path_args: &[&str]| -> String {
            let out = std::process::Command::new("mmdblookup")
                .arg("--file")
                .arg(&path)
                .args(["--ip", addr])
                .args(path_args)
                .output()
                .expect("run mmdblookup");
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        let cases: &[(&str, &[&str], &str)] = &[
            ("1.1.1.1", &["country", "iso_code"], "\"AU\" <utf8_string>"),
            ("1.1.1.1", &["continent", "code"], "\"OC\" <utf8_string>"),
            ("1.1.1.1", &["autonomous_system_number"], "4242 <uint32>"),
            ("1.1.1.1", &["autonomous_system_organization"], "\"Test Telekom\""),
            ("1.1.1.1", &["location", "latitude"], "1.000000 <double>"),
            ("1.2.3.4", &["subdivisions", "0", "iso_code"], "\"CA\""),
            ("1.2.3.4", &["city", "names", "en"], "\"Mukilteo\""),
            ("1.2.3.4", &["location", "longitude"], "-122.304200 <double>"),
            ("1.2.3.4", &["location", "accuracy_radius"], "1 <uint16>"),
            ("::1.2.3.4", &["country", "iso_code"], "\"US\""),
            ("192.0.2.1", &["location", "longitude"], "-179.000000"),
            ("198.51.100.1", &["location", "longitude"], "179.000000"),
            ("203.0.113.1", &["location", "longitude"], "-160.000000"),
            ("127.0.0.1", &["subdivisions", "0", "iso_code"], "\"L1\""),
            ("127.0.0.2", &["country", "iso_code"], "\"O1\""),
            ("127.0.0.3", &["city", "names", "en"], "\"C3\""),
        ];
        for (addr, path_args, want) in cases {
            let got = lookup(addr, path_args);
            assert!(got.contains(want), "{addr} {path_args:?}: {got}");
        }
        for absent in ["17.1.1.1", "127.0.0.4", "::ffff:1.2.3.4"] {
            assert!(!lookup(absent, &[]).contains('{'), "{absent} should not be found");
        }
        let _ = std::fs::remove_file(&path);
    }
}
