//! DNS messages on the answer path: parse a query, write a response.
//!
//! The answer path does not build a message object. [`Query::parse`] reads
//! the header, the one question and the OPT record straight out of the
//! received datagram, and [`MessageWriter`] appends resource records to a
//! buffer that the caller reuses from one query to the next, compressing
//! names (RFC 1035 §4.1.4) against what it has already written.
//!
//! | RFC  | what this module covers                                    |
//! |------|------------------------------------------------------------|
//! | 1035 | header, question, RR layout, name compression (§4.1)      |
//! | 3597 | only the RFC 1035 types get compressed RDATA names (§4)   |
//! | 6891 | the OPT pseudo-RR: one, owned by root, in additional (§6) |

use std::fmt;

use base::edns::{ClientSubnet, OPTION_CLIENT_SUBNET};
pub use base::header::{flag, rcode, HEADER_LEN, OPCODE_QUERY};
use base::types;

/// Smallest UDP payload every client accepts (RFC 1035 §4.2.1).
pub const MIN_UDP_PAYLOAD: u16 = 512;

/// Size of an OPT record without options: root name, type, class, TTL,
/// RDLENGTH (RFC 6891 §6.1.2).
pub const OPT_LEN: usize = 11;

/// The DO bit in the OPT TTL field (RFC 3225 §3).
const EDNS_DO: u32 = 0x8000;

//------------ Query ---------------------------------------------------------

/// What the answer path needs from a query message.
///
/// The question name is kept twice: as received, for echoing its case
/// (RFC 1035 §7.3 has the question copied), and lowercased, for lookup.
pub struct Query {
    pub id: u16,
    /// The second header word as received.
    pub flags: u16,
    pub qname: [u8; 255],
    pub qname_len: usize,
    pub qname_lower: [u8; 255],
    pub qtype: u16,
    pub qclass: u16,
    pub edns: Option<Edns>,
}

/// The EDNS(0) parameters of a query (RFC 6891 §6.1.3).
#[derive(Clone, Copy, Debug)]
pub struct Edns {
    /// Requestor's UDP payload size, as sent.
    pub payload: u16,
    pub version: u8,
    pub dnssec_ok: bool,
    /// The EDNS Client Subnet option (RFC 7871 §6), when present and valid.
    pub client_subnet: Option<ClientSubnet>,
    /// The query carried a Client Subnet option that is malformed (RFC 7871
    /// §6), or more than one.
    pub bad_client_subnet: bool,
}

/// Why a message could not be answered normally.
#[derive(Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Not worth a reply: too short for a header, or a response (QR=1).
    Drop,
    /// Header readable but the rest is not a valid query: reply FORMERR.
    /// `question` is true when the question parsed and can be echoed.
    FormErr { question: bool },
    /// A message with an opcode we do not implement; `question` as above.
    NotImp { question: bool },
    /// EDNS version we do not speak (RFC 6891 §6.1.3): reply BADVERS.
    BadVers,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Drop => f.write_str("dropped"),
            ParseError::FormErr { .. } => f.write_str("malformed query"),
            ParseError::NotImp { .. } => f.write_str("opcode not implemented"),
            ParseError::BadVers => f.write_str("unsupported EDNS version"),
        }
    }
}

impl Query {
    /// An empty query, to be filled by [`Query::parse_into`].
    pub fn new() -> Query {
        Query {
            id: 0,
            flags: 0,
            qname: [0; 255],
            qname_len: 0,
            qname_lower: [0; 255],
            qtype: 0,
            qclass: 0,
            edns: None,
        }
    }

    /// Parses `msg` into `self`, reusing its buffers.
    ///
    /// On error, the fields read so far stay valid for building the error
    /// reply: `id` and `flags` whenever the header was readable, the question
    /// when [`ParseError::FormErr`] says so.
    pub fn parse_into(&mut self, msg: &[u8]) -> Result<(), ParseError> {
        if msg.len() < HEADER_LEN {
            return Err(ParseError::Drop);
        }
        self.id = u16::from_be_bytes([msg[0], msg[1]]);
        self.flags = u16::from_be_bytes([msg[2], msg[3]]);
        self.qname_len = 0;
        self.edns = None;
        if self.flags & flag::QR != 0 {
            return Err(ParseError::Drop);
        }
        let count = |i: usize| u16::from_be_bytes([msg[i], msg[i + 1]]);
        let (qdcount, ancount, nscount, arcount) = (count(4), count(6), count(8), count(10));
        if qdcount != 1 {
            return Err(if self.opcode() != OPCODE_QUERY {
                ParseError::NotImp { question: false }
            } else {
                ParseError::FormErr { question: false }
            });
        }
        let mut pos = self.read_question(msg).ok_or(ParseError::FormErr { question: false })?;
        if self.opcode() != OPCODE_QUERY {
            return Err(ParseError::NotImp { question: true });
        }
        let malformed = ParseError::FormErr { question: true };
        // Answer and authority records have no meaning in a query; they are
        // skipped, but an OPT among them is an error (RFC 6891 §6.1.1).
        for _ in 0..u32::from(ancount) + u32::from(nscount) {
            let rr = read_record(msg, pos).ok_or(ParseError::FormErr { question: true })?;
            if rr.rtype == types::OPT {
                return Err(malformed);
            }
            pos = rr.end;
        }
        let mut bad_version = false;
        for _ in 0..arcount {
            let rr = read_record(msg, pos).ok_or(ParseError::FormErr { question: true })?;
            if rr.rtype == types::OPT {
                // RFC 6891 §6.1.1: at most one OPT, owned by the root.
                if self.edns.is_some() || !rr.owner_is_root {
                    return Err(malformed);
                }
                let Some(client_subnet) = read_options(&msg[rr.rdata..rr.end]) else {
                    return Err(malformed);
                };
                let version = (rr.ttl >> 16) as u8;
                bad_version = version != 0;
                self.edns = Some(Edns {
                    payload: rr.class,
                    version,
                    dnssec_ok: rr.ttl & EDNS_DO != 0,
                    client_subnet: client_subnet.ok(),
                    bad_client_subnet: client_subnet == Err(true),
                });
            }
            pos = rr.end;
        }
        if pos != msg.len() {
            return Err(malformed);
        }
        if bad_version {
            return Err(ParseError::BadVers);
        }
        Ok(())
    }

    /// The opcode from the header.
    pub fn opcode(&self) -> u8 {
        ((self.flags >> 11) & 0x0f) as u8
    }

    /// The question name as received (uncompressed wire format).
    pub fn qname(&self) -> &[u8] {
        &self.qname[..self.qname_len]
    }

    /// The question name lowercased, for lookups.
    pub fn qname_lower(&self) -> &[u8] {
        &self.qname_lower[..self.qname_len]
    }

    /// Largest response this query's transport allows (RFC 6891 §6.2.5):
    /// 512 without EDNS, else the requestor's size (at least 512) capped by
    /// our own `max_udp`.
    pub fn udp_limit(&self, max_udp: u16) -> usize {
        match self.edns {
            None => MIN_UDP_PAYLOAD as usize,
            Some(edns) => edns.payload.clamp(MIN_UDP_PAYLOAD, max_udp.max(MIN_UDP_PAYLOAD)) as usize,
        }
    }

    /// Reads the question at offset 12; returns the offset after it.
    /// A compression pointer in the question name is refused: there is
    /// nothing earlier in the message it could point to.
    fn read_question(&mut self, msg: &[u8]) -> Option<usize> {
        let mut pos = HEADER_LEN;
        let mut len = 0;
        loop {
            let label = *msg.get(pos)? as usize;
            if label > 63 || len + label + 1 > 255 {
                return None;
            }
            let bytes = msg.get(pos..pos + label + 1)?;
            self.qname[len..len + label + 1].copy_from_slice(bytes);
            for (lower, byte) in self.qname_lower[len..len + label + 1].iter_mut().zip(bytes) {
                *lower = byte.to_ascii_lowercase();
            }
            len += label + 1;
            pos += label + 1;
            if label == 0 {
                break;
            }
        }
        let fixed = msg.get(pos..pos + 4)?;
        self.qname_len = len;
        self.qtype = u16::from_be_bytes([fixed[0], fixed[1]]);
        self.qclass = u16::from_be_bytes([fixed[2], fixed[3]]);
        Some(pos + 4)
    }
}

impl Default for Query {
    fn default() -> Self {
        Query::new()
    }
}

/// The parts of a resource record the query parser looks at.
pub struct RawRecord {
    pub owner_is_root: bool,
    pub rtype: u16,
    pub class: u16,
    pub ttl: u32,
    /// Offset of the RDATA in the message.
    pub rdata: usize,
    /// Offset after the record.
    pub end: usize,
}

/// Reads the record at `pos` without decoding its RDATA.
pub fn read_record(msg: &[u8], pos: usize) -> Option<RawRecord> {
    let owner_is_root = *msg.get(pos)? == 0;
    let pos = skip_name(msg, pos)?;
    let fixed = msg.get(pos..pos + 10)?;
    let rdlength = u16::from_be_bytes([fixed[8], fixed[9]]) as usize;
    let rdata = pos + 10;
    let end = rdata + rdlength;
    if end > msg.len() {
        return None;
    }
    Some(RawRecord {
        owner_is_root,
        rtype: u16::from_be_bytes([fixed[0], fixed[1]]),
        class: u16::from_be_bytes([fixed[2], fixed[3]]),
        ttl: u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]),
        rdata,
        end,
    })
}

/// Skips a possibly compressed name; returns the offset after it.
pub fn skip_name(msg: &[u8], mut pos: usize) -> Option<usize> {
    let mut total = 0;
    loop {
        let label = *msg.get(pos)?;
        match label {
            0 => return Some(pos + 1),
            1..=63 => {
                total += label as usize + 1;
                if total > 255 {
                    return None;
                }
                pos += label as usize + 1;
            }
            // A pointer ends the name in this position; where it points
            // does not matter for skipping (RFC 1035 §4.1.4).
            0xc0..=0xff => {
                msg.get(pos + 1)?;
                return Some(pos + 2);
            }
            _ => return None,
        }
    }
}

/// Reads OPT RDATA, a sequence of options (RFC 6891 §6.1.2): each a code,
/// a length and exactly that many octets. `None` when malformed; else the
/// Client Subnet option, or `Err(false)` without one and `Err(true)` for
/// an invalid one.
fn read_options(mut rdata: &[u8]) -> Option<Result<ClientSubnet, bool>> {
    let mut subnet = Err(false);
    while !rdata.is_empty() {
        if rdata.len() < 4 {
            return None;
        }
        let code = u16::from_be_bytes([rdata[0], rdata[1]]);
        let len = u16::from_be_bytes([rdata[2], rdata[3]]) as usize;
        let value = rdata.get(4..4 + len)?;
        if code == OPTION_CLIENT_SUBNET {
            // A second Client Subnet makes the query ambiguous: malformed.
            subnet = match subnet {
                Err(false) => read_client_subnet(value).ok_or(true),
                _ => Err(true),
            };
        }
        rdata = &rdata[4 + len..];
    }
    Some(subnet)
}

/// RFC 7871 §6: a known family, a prefix that fits it, a zero scope,
/// exactly the octets the prefix needs and no bits past it.
fn read_client_subnet(value: &[u8]) -> Option<ClientSubnet> {
    let [family_hi, family_lo, source_prefix, scope, address @ ..] = value else {
        return None;
    };
    let family = u16::from_be_bytes([*family_hi, *family_lo]);
    let width: usize = match family {
        1 => 4,
        2 => 16,
        _ => return None,
    };
    let source_prefix = *source_prefix;
    if usize::from(source_prefix) > width * 8 || *scope != 0 {
        return None;
    }
    if address.len() != usize::from(source_prefix).div_ceil(8) {
        return None;
    }
    let mut octets = [0u8; 16];
    octets[..address.len()].copy_from_slice(address);
    if source_prefix % 8 != 0 {
        let last = octets[address.len() - 1];
        if last & (0xff >> (source_prefix % 8)) != 0 {
            return None;
        }
    }
    let address = if width == 4 {
        std::net::IpAddr::from([octets[0], octets[1], octets[2], octets[3]])
    } else {
        std::net::IpAddr::from(octets)
    };
    Some(ClientSubnet { address, source_prefix })
}

//------------ MessageWriter -------------------------------------------------

/// Appends a DNS response to a reused buffer.
///
/// Records are written section by section: answer, then authority, then
/// additional. Every `push_*` either writes the whole record and counts it,
/// or, when the result would exceed the size limit, leaves the message as
/// it was and returns [`Full`]. Truncation is the caller's decision.
pub struct MessageWriter<'b> {
    buf: &'b mut Vec<u8>,
    limit: usize,
    counts: [u16; 3],
    section: usize,
    /// Offsets of names (and name suffixes) already in the message.
    compress: [u16; COMPRESS_SLOTS],
    compress_len: usize,
}

/// How many earlier names compression can refer to. A response rarely
/// holds more distinct names than this; later ones are written in full.
const COMPRESS_SLOTS: usize = 48;

/// The message would exceed its size limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

/// The three record sections of a message, in wire order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Section {
    Answer = 0,
    Authority = 1,
    Additional = 2,
}

impl<'b> MessageWriter<'b> {
    /// Starts a response to `query`: header and question, echoing the
    /// question's case. `limit` is the largest message allowed; space for
    /// an OPT record is kept free when the query had EDNS.
    pub fn new(buf: &'b mut Vec<u8>, query: &Query, flags: u16, limit: usize) -> Self {
        buf.clear();
        buf.extend_from_slice(&query.id.to_be_bytes());
        buf.extend_from_slice(&flags.to_be_bytes());
        buf.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
        buf.extend_from_slice(query.qname());
        buf.extend_from_slice(&query.qtype.to_be_bytes());
        buf.extend_from_slice(&query.qclass.to_be_bytes());
        // The OPT record, with room to echo a Client Subnet option.
        let reserve = match query.edns {
            None => 0,
            Some(Edns {
                client_subnet: Some(subnet),
                ..
            }) => OPT_LEN + 8 + usize::from(subnet.source_prefix).div_ceil(8),
            Some(_) => OPT_LEN,
        };
        let mut writer = MessageWriter {
            buf,
            limit: limit.saturating_sub(reserve),
            counts: [0; 3],
            section: 0,
            compress: [0; COMPRESS_SLOTS],
            compress_len: 0,
        };
        writer.remember_name(HEADER_LEN, query.qname());
        writer
    }

    /// Starts a reply that carries only the header, and the question when
    /// `with_question` (error replies to queries that did not parse).
    pub fn header_only(buf: &'b mut Vec<u8>, query: &Query, flags: u16, with_question: bool) -> Self {
        if with_question {
            return MessageWriter::new(buf, query, flags, usize::MAX);
        }
        buf.clear();
        buf.extend_from_slice(&query.id.to_be_bytes());
        buf.extend_from_slice(&flags.to_be_bytes());
        buf.extend_from_slice(&[0; 8]);
        MessageWriter {
            buf,
            limit: usize::MAX,
            counts: [0; 3],
            section: 0,
            compress: [0; COMPRESS_SLOTS],
            compress_len: 0,
        }
    }

    /// Moves on to `section`; sections must be written in order.
    pub fn section(&mut self, section: Section) {
        debug_assert!(section as usize >= self.section, "sections out of order");
        self.section = section as usize;
    }

    /// The number of records written to `section` so far.
    pub fn count(&self, section: Section) -> u16 {
        self.counts[section as usize]
    }

    /// Sets header flag bits.
    pub fn set_flags(&mut self, bits: u16) {
        let flags = u16::from_be_bytes([self.buf[2], self.buf[3]]) | bits;
        self.buf[2..4].copy_from_slice(&flags.to_be_bytes());
    }

    /// Clears header flag bits.
    pub fn clear_flags(&mut self, bits: u16) {
        let flags = u16::from_be_bytes([self.buf[2], self.buf[3]]) & !bits;
        self.buf[2..4].copy_from_slice(&flags.to_be_bytes());
    }

    /// Sets the low four bits of the RCODE in the header.
    pub fn set_rcode(&mut self, rcode: u16) {
        self.buf[3] = (self.buf[3] & 0xf0) | (rcode & 0x0f) as u8;
    }

    /// A mark to roll back to with [`MessageWriter::rollback`].
    pub fn mark(&self) -> (usize, [u16; 3], usize) {
        (self.buf.len(), self.counts, self.compress_len)
    }

    /// Forgets everything written after `mark`.
    pub fn rollback(&mut self, mark: (usize, [u16; 3], usize)) {
        self.buf.truncate(mark.0);
        self.counts = mark.1;
        self.compress_len = mark.2;
    }

    /// Drops all records, keeping header and question: the start of a
    /// truncated reply (RFC 2181 §9).
    pub fn drop_records(&mut self) {
        let question_end = self.question_end();
        self.buf.truncate(question_end);
        self.counts = [0; 3];
        self.compress_len = self.compress_len.min(1);
    }

    /// Writes one record whose owner is given in wire format.
    ///
    /// `rdata` is uncompressed; names inside it are compressed for the
    /// RFC 1035 types that allow it (RFC 3597 §4).
    pub fn push(&mut self, owner: &[u8], rtype: u16, ttl: u32, rdata: &[u8]) -> Result<(), Full> {
        let mark = self.mark();
        self.write_name(owner);
        self.buf.extend_from_slice(&rtype.to_be_bytes());
        self.buf.extend_from_slice(&1u16.to_be_bytes());
        self.buf.extend_from_slice(&ttl.to_be_bytes());
        let length_at = self.buf.len();
        self.buf.extend_from_slice(&[0, 0]);
        self.write_rdata(rtype, rdata);
        let rdlength = self.buf.len() - length_at - 2;
        if self.buf.len() > self.limit || rdlength > u16::MAX as usize {
            self.rollback(mark);
            return Err(Full);
        }
        self.buf[length_at..length_at + 2].copy_from_slice(&(rdlength as u16).to_be_bytes());
        self.counts[self.section] += 1;
        Ok(())
    }

    /// Writes the OPT record (RFC 6891 §6.1.2) with our payload size, the
    /// upper RCODE bits and the DO bit echoed (RFC 3225 §3). It always fits:
    /// the writer kept room for it.
    pub fn push_opt(&mut self, payload: u16, rcode: u16, dnssec_ok: bool) {
        let ttl = (u32::from(rcode >> 4) << 24) | if dnssec_ok { EDNS_DO } else { 0 };
        self.buf.push(0);
        self.buf.extend_from_slice(&types::OPT.to_be_bytes());
        self.buf.extend_from_slice(&payload.to_be_bytes());
        self.buf.extend_from_slice(&ttl.to_be_bytes());
        self.buf.extend_from_slice(&[0, 0]);
        self.counts[Section::Additional as usize] += 1;
    }

    /// Writes a Client Subnet option into the OPT record just pushed by
    /// [`MessageWriter::push_opt`]: the query's subnet with our `scope`
    /// (RFC 7871 §7.2.1).
    pub fn push_client_subnet(&mut self, subnet: &ClientSubnet, scope: u8) {
        let mut octets = [0u8; 16];
        let family: u16 = match subnet.address {
            std::net::IpAddr::V4(v4) => {
                octets[..4].copy_from_slice(&v4.octets());
                1
            }
            std::net::IpAddr::V6(v6) => {
                octets = v6.octets();
                2
            }
        };
        let address = &octets[..usize::from(subnet.source_prefix).div_ceil(8)];
        let len = 4 + address.len();
        // The OPT RDLENGTH is the last field written by push_opt.
        let rdlength_at = self.buf.len() - 2;
        self.buf[rdlength_at..].copy_from_slice(&((len + 4) as u16).to_be_bytes());
        self.buf.extend_from_slice(&OPTION_CLIENT_SUBNET.to_be_bytes());
        self.buf.extend_from_slice(&(len as u16).to_be_bytes());
        self.buf.extend_from_slice(&family.to_be_bytes());
        self.buf.push(subnet.source_prefix);
        self.buf.push(scope);
        self.buf.extend_from_slice(address);
    }

    /// Writes the section counts into the header and hands back the
    /// finished message length.
    pub fn finish(self) -> usize {
        for (i, count) in self.counts.iter().enumerate() {
            let at = 6 + 2 * i;
            self.buf[at..at + 2].copy_from_slice(&count.to_be_bytes());
        }
        self.buf.len()
    }

    /// Where the question ends (the header's QDCOUNT says whether there is one).
    fn question_end(&self) -> usize {
        if self.buf[5] == 0 {
            return HEADER_LEN;
        }
        let mut pos = HEADER_LEN;
        while self.buf[pos] != 0 {
            pos += self.buf[pos] as usize + 1;
        }
        pos + 5
    }

    /// Writes RDATA, compressing the embedded names of RFC 1035 types.
    fn write_rdata(&mut self, rtype: u16, rdata: &[u8]) {
        match rtype {
            types::NS | types::CNAME | types::PTR => self.write_name(rdata),
            types::MX if rdata.len() > 2 => {
                self.buf.extend_from_slice(&rdata[..2]);
                self.write_name(&rdata[2..]);
            }
            types::SOA => {
                let mname_end = name_len(rdata);
                let rname_end = mname_end + name_len(&rdata[mname_end..]);
                self.write_name(&rdata[..mname_end]);
                self.write_name(&rdata[mname_end..rname_end]);
                self.buf.extend_from_slice(&rdata[rname_end..]);
            }
            _ => self.buf.extend_from_slice(rdata),
        }
    }

    /// Writes an uncompressed wire name, replacing its longest suffix
    /// already in the message by a pointer.
    fn write_name(&mut self, name: &[u8]) {
        let mut pos = 0;
        while pos < name.len() && name[pos] != 0 {
            let suffix = &name[pos..];
            if let Some(offset) = self.find_name(suffix) {
                self.buf.extend_from_slice(&(0xc000 | offset).to_be_bytes());
                return;
            }
            let at = self.buf.len();
            if at < 0x3fff && self.compress_len < COMPRESS_SLOTS {
                self.compress[self.compress_len] = at as u16;
                self.compress_len += 1;
            }
            let label = name[pos] as usize;
            self.buf.extend_from_slice(&name[pos..pos + label + 1]);
            pos += label + 1;
        }
        self.buf.push(0);
    }

    /// Registers every suffix of a name written at `at` without compression.
    fn remember_name(&mut self, mut at: usize, name: &[u8]) {
        let mut pos = 0;
        while pos < name.len() && name[pos] != 0 && self.compress_len < COMPRESS_SLOTS {
            self.compress[self.compress_len] = at as u16;
            self.compress_len += 1;
            let step = name[pos] as usize + 1;
            pos += step;
            at += step;
        }
    }

    /// Finds an earlier occurrence of `suffix` (case-insensitive).
    fn find_name(&self, suffix: &[u8]) -> Option<u16> {
        self.compress[..self.compress_len]
            .iter()
            .copied()
            .find(|&offset| name_at_equals(self.buf, offset as usize, suffix))
    }
}

/// Length of the uncompressed wire name at the start of `data`
/// (the whole of `data` if it is not terminated).
fn name_len(data: &[u8]) -> usize {
    let mut pos = 0;
    while pos < data.len() && data[pos] != 0 {
        pos += data[pos] as usize + 1;
    }
    (pos + 1).min(data.len())
}

/// Compares the possibly compressed name at `pos` in `msg` with the
/// uncompressed `name`, ignoring ASCII case.
fn name_at_equals(msg: &[u8], mut pos: usize, name: &[u8]) -> bool {
    let mut at = 0;
    let mut jumps = 0;
    loop {
        let Some(&label) = msg.get(pos) else {
            return false;
        };
        if label >= 0xc0 {
            let Some(&low) = msg.get(pos + 1) else {
                return false;
            };
            jumps += 1;
            if jumps > 64 {
                return false;
            }
            pos = (usize::from(label & 0x3f) << 8) | usize::from(low);
            continue;
        }
        let len = label as usize;
        if name.get(at) != Some(&label) {
            return false;
        }
        if len == 0 {
            return true;
        }
        let (Some(ours), Some(theirs)) = (name.get(at + 1..at + 1 + len), msg.get(pos + 1..pos + 1 + len)) else {
            return false;
        };
        if !ours.eq_ignore_ascii_case(theirs) {
            return false;
        }
        at += len + 1;
        pos += len + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query_bytes(name: &[u8], qtype: u16, extra: &[u8], arcount: u16) -> Vec<u8> {
        let mut msg = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0];
        msg.extend_from_slice(&arcount.to_be_bytes());
        msg.extend_from_slice(name);
        msg.extend_from_slice(&qtype.to_be_bytes());
        msg.extend_from_slice(&1u16.to_be_bytes());
        msg.extend_from_slice(extra);
        msg
    }

    const WWW: &[u8] = b"\x03WWW\x07example\x04test\x00";
    const OPT: &[u8] = &[0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 0];

    #[test]
    fn parses_question_and_edns() {
        let mut query = Query::new();
        query.parse_into(&query_bytes(WWW, 1, OPT, 1)).expect("valid query");
        assert_eq!(query.id, 0x1234);
        assert_eq!(query.qname(), WWW);
        assert_eq!(query.qname_lower(), b"\x03www\x07example\x04test\x00");
        let edns = query.edns.expect("edns");
        assert_eq!(edns.payload, 1232);
        assert!(edns.dnssec_ok);
        assert_eq!(query.udp_limit(1232), 1232);
    }

    #[test]
    fn refuses_bad_opt() {
        let mut query = Query::new();
        let mut two = OPT.to_vec();
        two.extend_from_slice(OPT);
        assert_eq!(
            query.parse_into(&query_bytes(WWW, 1, &two, 2)),
            Err(ParseError::FormErr { question: true })
        );
        let not_root = [1, b'a', 0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            query.parse_into(&query_bytes(WWW, 1, &not_root, 1)),
            Err(ParseError::FormErr { question: true })
        );
        let version1 = [0, 0, 41, 0x04, 0xd0, 0, 1, 0, 0, 0, 0];
        assert_eq!(
            query.parse_into(&query_bytes(WWW, 1, &version1, 1)),
            Err(ParseError::BadVers)
        );
        let bad_option = [0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 3, 0, 8, 0];
        assert_eq!(
            query.parse_into(&query_bytes(WWW, 1, &bad_option, 1)),
            Err(ParseError::FormErr { question: true })
        );
    }

    #[test]
    fn rejects_truncated_and_trailing() {
        let mut query = Query::new();
        let full = query_bytes(WWW, 1, &[], 0);
        for len in 0..full.len() {
            assert!(query.parse_into(&full[..len]).is_err(), "prefix of {len} octets");
        }
        let mut trailing = full.clone();
        trailing.push(0);
        assert!(query.parse_into(&trailing).is_err());
    }

    #[test]
    fn compresses_names() {
        let mut query = Query::new();
        query.parse_into(&query_bytes(WWW, 1, &[], 0)).expect("valid query");
        let mut buf = Vec::new();
        let mut writer = MessageWriter::new(&mut buf, &query, flag::QR, 512);
        writer
            .push(
                b"\x03www\x07example\x04test\x00",
                5,
                300,
                b"\x04mail\x07example\x04test\x00",
            )
            .expect("fits");
        let len = writer.finish();
        // Owner is a pointer to the question; the target shares "example.test".
        assert_eq!(&buf[len - 7..], b"\x04mail\xc0\x10");
        assert_eq!(&buf[HEADER_LEN + WWW.len() + 4..][..2], &[0xc0, 0x0c]);
    }

    #[test]
    fn refuses_what_does_not_fit() {
        let mut query = Query::new();
        query.parse_into(&query_bytes(WWW, 16, &[], 0)).expect("valid query");
        let mut buf = Vec::new();
        let mut writer = MessageWriter::new(&mut buf, &query, flag::QR, 100);
        let big = [7u8; 80];
        assert_eq!(writer.push(WWW, 16, 1, &big), Err(Full));
        assert_eq!(writer.count(Section::Answer), 0);
        assert!(writer.push(WWW, 16, 1, &big[..10]).is_ok());
    }
}
