//! Writing the response: [`MessageWriter`] appends resource records to a
//! buffer the caller reuses from one query to the next, compressing names
//! (RFC 1035 §4.1.4) against what it has already written, and never past
//! the size the transport allows.
//!
//! | RFC  | what this module covers                                    |
//! |------|------------------------------------------------------------|
//! | 1035 | header, question, RR layout, name compression (§4.1)      |
//! | 3597 | only the RFC 1035 types get compressed RDATA names (§4)   |
//! | 6891 | the OPT pseudo-RR and its options (§6.1.2)                |

use base::edns::{ClientSubnet, FLAG_DO, OPTION_CLIENT_SUBNET};
use base::header::HEADER_LEN;
use base::name::wire;
use base::{class, types};

use super::query::{Edns, Query};

/// Size of an OPT record without options: root name, type, class, TTL,
/// RDLENGTH (RFC 6891 §6.1.2).
pub const OPT_LEN: usize = 11;

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
    /// Where the OPT record's RDLENGTH is, once written.
    opt_rdlength_at: usize,
}

/// A position in the message to roll back to.
#[derive(Clone, Copy)]
pub struct Mark {
    len: usize,
    counts: [u16; 3],
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
            opt_rdlength_at: 0,
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
            opt_rdlength_at: 0,
        }
    }

    /// Moves on to `section`; sections must be written in order.
    pub fn section(&mut self, section: Section) {
        debug_assert!(section as usize >= self.section, "sections out of order");
        self.section = section as usize;
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
    pub fn mark(&self) -> Mark {
        Mark {
            len: self.buf.len(),
            counts: self.counts,
            compress_len: self.compress_len,
        }
    }

    /// Forgets everything written after `mark`.
    pub fn rollback(&mut self, mark: Mark) {
        self.buf.truncate(mark.len);
        self.counts = mark.counts;
        self.compress_len = mark.compress_len;
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
        self.push_with_class(owner, rtype, class::IN, ttl, rdata)
    }

    /// Appends a record of class `class`; see [`MessageWriter::push`].
    pub fn push_with_class(
        &mut self,
        owner: &[u8],
        rtype: u16,
        class: u16,
        ttl: u32,
        rdata: &[u8],
    ) -> Result<(), Full> {
        let mark = self.mark();
        self.write_name(owner);
        self.buf.extend_from_slice(&rtype.to_be_bytes());
        self.buf.extend_from_slice(&class.to_be_bytes());
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
        let ttl = (u32::from(rcode >> 4) << 24) | if dnssec_ok { FLAG_DO } else { 0 };
        self.buf.push(0);
        self.buf.extend_from_slice(&types::OPT.to_be_bytes());
        self.buf.extend_from_slice(&payload.to_be_bytes());
        self.buf.extend_from_slice(&ttl.to_be_bytes());
        self.buf.extend_from_slice(&[0, 0]);
        self.opt_rdlength_at = self.buf.len() - 2;
        self.counts[Section::Additional as usize] += 1;
    }

    /// Appends an option to the OPT record [`MessageWriter::push_opt`]
    /// just wrote (room for it was kept).
    pub fn push_option(&mut self, code: u16, value: &[u8]) {
        let at = self.opt_rdlength_at;
        let rdlength = u16::from_be_bytes([self.buf[at], self.buf[at + 1]]) as usize + 4 + value.len();
        self.buf[at..at + 2].copy_from_slice(&(rdlength as u16).to_be_bytes());
        self.buf.extend_from_slice(&code.to_be_bytes());
        self.buf.extend_from_slice(&(value.len() as u16).to_be_bytes());
        self.buf.extend_from_slice(value);
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
        let mut value = [0u8; 20];
        value[..2].copy_from_slice(&family.to_be_bytes());
        value[2] = subnet.source_prefix;
        value[3] = scope;
        value[4..4 + address.len()].copy_from_slice(address);
        self.push_option(OPTION_CLIENT_SUBNET, &value[..4 + address.len()]);
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
                // Stored SOA RDATA is valid; a malformed one is copied as far as it goes.
                let name_len = |data: &[u8]| wire::name_len(data).unwrap_or(data.len());
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
    use base::header::flag;

    use super::*;
    use crate::answer::tests::{query_bytes, WWW};

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
        let before = writer.mark();
        assert!(writer.push(WWW, 16, 1, &big[..10]).is_ok());
        writer.rollback(before);
        assert!(writer.push(WWW, 16, 1, &big[..10]).is_ok());
        let len = writer.finish();
        assert_eq!(
            &buf[6..8],
            &[0, 1],
            "one answer: the refused record left nothing behind"
        );
        assert_eq!(len, HEADER_LEN + WWW.len() + 4 + 2 + 10 + 10);
    }
}
