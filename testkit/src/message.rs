//! Replies as text: header fields, and each record in zone-file form with
//! its owner (and the names compression may reach) lowercased, so that a
//! test can state a whole reply as lines and compare it without regard to
//! record order, name case or compression.
//!
//! Names in the RDATA of the types RFC 3597 §4 allows to be compressed
//! are decompressed first; everything else is read as sent. RRSIGs show
//! only the type they cover: their signatures change every week and with
//! every ECDSA signing, and validators judge them elsewhere.

use std::fmt::Write as _;

use base::header::flag;
use base::name::Name;
use base::rdata::format_rdata;
use base::types;

/// A reply, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub id: u16,
    /// The second header word.
    pub flags: u16,
    /// The full RCODE: header bits and, with EDNS, the OPT record's.
    pub rcode: u16,
    /// The question, `NAME TYPE` with the name as sent.
    pub question: Option<String>,
    /// Answer, authority and additional records as text; the OPT record
    /// is not among them.
    pub sections: [Vec<String>; 3],
    /// The OPT record, when there is one.
    pub edns: Option<Opt>,
}

/// The OPT pseudo-record of a reply (RFC 6891 §6.1.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opt {
    pub payload: u16,
    pub version: u8,
    pub dnssec_ok: bool,
    /// Options as `(code, data)`.
    pub options: Vec<(u16, Vec<u8>)>,
}

impl Reply {
    /// Parses `wire`; the error says where it stopped making sense.
    pub fn parse(wire: &[u8]) -> Result<Reply, String> {
        let mut reader = Reader { wire, pos: 12 };
        let header = wire.get(..12).ok_or("shorter than a header")?;
        let word = |i: usize| u16::from_be_bytes([header[i], header[i + 1]]);
        let counts = [word(4), word(6), word(8), word(10)];
        let mut reply = Reply {
            id: word(0),
            flags: word(2),
            rcode: word(2) & 0x000f,
            question: None,
            sections: [Vec::new(), Vec::new(), Vec::new()],
            edns: None,
        };
        for _ in 0..counts[0] {
            let name = reader.name()?;
            let qtype = reader.u16()?;
            reader.u16()?;
            reply.question = Some(format!("{name} {}", types::type_to_string(qtype)));
        }
        for (section, &count) in counts[1..].iter().enumerate() {
            for _ in 0..count {
                let owner = reader.name()?;
                let rtype = reader.u16()?;
                let class = reader.u16()?;
                let ttl = reader.u32()?;
                let length = usize::from(reader.u16()?);
                let start = reader.pos;
                let end = start + length;
                if end > wire.len() {
                    return Err(format!("RDATA of {owner} runs past the end"));
                }
                if rtype == types::OPT {
                    reply.rcode |= u16::from((ttl >> 24) as u8) << 4;
                    reply.edns = Some(Opt {
                        payload: class,
                        version: (ttl >> 16) as u8,
                        dnssec_ok: ttl & 0x8000 != 0,
                        options: options(&wire[start..end])?,
                    });
                    reader.pos = end;
                    continue;
                }
                let rdata = reader.rdata(rtype, end)?;
                let owner = owner.to_lowercase();
                reply.sections[section].push(record_text(&owner, ttl, rtype, &rdata)?);
            }
        }
        if reader.pos != wire.len() {
            return Err(format!("{} octets after the last record", wire.len() - reader.pos));
        }
        Ok(reply)
    }

    /// Whether the header flag bits `bits` are all set.
    pub fn has(&self, bits: u16) -> bool {
        self.flags & bits == bits
    }

    /// The flags a test states, in this order: `aa tc rd ra ad cd`.
    pub fn flag_words(&self) -> Vec<&'static str> {
        [
            (flag::AA, "aa"),
            (flag::TC, "tc"),
            (flag::RD, "rd"),
            (flag::RA, "ra"),
            (flag::AD, "ad"),
            (flag::CD, "cd"),
        ]
        .into_iter()
        .filter(|&(bit, _)| self.has(bit))
        .map(|(_, word)| word)
        .collect()
    }
}

/// One record as `owner TTL TYPE RDATA`; RRSIGs as `owner TTL RRSIG TYPE`.
fn record_text(owner: &Name, ttl: u32, rtype: u16, rdata: &[u8]) -> Result<String, String> {
    let mut text = format!("{owner} {ttl} {}", types::type_to_string(rtype));
    if rtype == types::RRSIG {
        let covered = rdata.get(..2).ok_or("RRSIG shorter than its type covered")?;
        let _ = write!(
            text,
            " {}",
            types::type_to_string(u16::from_be_bytes([covered[0], covered[1]]))
        );
        return Ok(text);
    }
    // Meta-types (a TSIG in the additional section) have no text form;
    // they are shown in the generic one (RFC 3597 §5).
    let rdata = if types::is_meta_type(rtype) {
        format!("\\# {} {}", rdata.len(), data_encoding::HEXLOWER.encode(rdata))
    } else {
        format_rdata(rtype, rdata).map_err(|error| format!("{text}: {error}"))?
    };
    if !rdata.is_empty() {
        text.push(' ');
        text.push_str(&rdata);
    }
    Ok(text)
}

/// The options of OPT RDATA.
fn options(mut rdata: &[u8]) -> Result<Vec<(u16, Vec<u8>)>, String> {
    let mut options = Vec::new();
    while !rdata.is_empty() {
        let [code_high, code_low, length_high, length_low, rest @ ..] = rdata else {
            return Err("truncated EDNS option".into());
        };
        let length = usize::from(u16::from_be_bytes([*length_high, *length_low]));
        let data = rest.get(..length).ok_or("EDNS option runs past its RDATA")?;
        options.push((u16::from_be_bytes([*code_high, *code_low]), data.to_vec()));
        rdata = &rest[length..];
    }
    Ok(options)
}

/// A cursor over a message.
struct Reader<'a> {
    wire: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn u16(&mut self) -> Result<u16, String> {
        let bytes = self.wire.get(self.pos..self.pos + 2).ok_or("truncated message")?;
        self.pos += 2;
        Ok(u16::from_be_bytes([bytes[0], bytes[1]]))
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from(self.u16()?) << 16 | u32::from(self.u16()?))
    }

    /// A possibly compressed name, as an uncompressed one.
    fn name(&mut self) -> Result<Name, String> {
        let (wire, next) = decompress(self.wire, self.pos)?;
        self.pos = next;
        Name::from_wire(&wire).map_err(|error| format!("bad name: {error}"))
    }

    /// RDATA ending at `end`, with the names of the RFC 1035 types that
    /// may be compressed (RFC 3597 §4) decompressed and lowercased.
    fn rdata(&mut self, rtype: u16, end: usize) -> Result<Vec<u8>, String> {
        let fixed_before = match rtype {
            types::NS | types::CNAME | types::PTR => Some((0, 1)),
            types::MX => Some((2, 1)),
            types::SOA => Some((0, 2)),
            _ => None,
        };
        let Some((skip, names)) = fixed_before else {
            let rdata = self.wire[self.pos..end].to_vec();
            self.pos = end;
            return Ok(rdata);
        };
        let mut rdata = self
            .wire
            .get(self.pos..self.pos + skip)
            .ok_or("truncated RDATA")?
            .to_vec();
        self.pos += skip;
        // Compression may point into the question, which has the case the
        // client wrote: these names compare lowercased.
        for _ in 0..names {
            rdata.extend_from_slice(self.name()?.to_lowercase().as_wire());
        }
        rdata.extend_from_slice(self.wire.get(self.pos..end).ok_or("RDATA names run past the RDATA")?);
        self.pos = end;
        Ok(rdata)
    }
}

/// The name at `pos`, uncompressed, and where the record goes on after it.
fn decompress(wire: &[u8], mut pos: usize) -> Result<(Vec<u8>, usize), String> {
    let mut name = Vec::new();
    let mut next = None;
    for _ in 0..128 {
        let length = *wire.get(pos).ok_or("name runs past the message")?;
        match length {
            0 => {
                name.push(0);
                return Ok((name, next.unwrap_or(pos + 1)));
            }
            1..=63 => {
                let label = wire
                    .get(pos..pos + 1 + usize::from(length))
                    .ok_or("label runs past the message")?;
                name.extend_from_slice(label);
                pos += 1 + usize::from(length);
            }
            0xc0..=0xff => {
                let low = *wire.get(pos + 1).ok_or("pointer runs past the message")?;
                next.get_or_insert(pos + 2);
                pos = usize::from(length & 0x3f) << 8 | usize::from(low);
            }
            _ => return Err(format!("label type 0x{length:02x}")),
        }
    }
    Err("compression loop".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_compressed_reply() {
        // A reply to www.Example.test A: the answer's owner points at the
        // question; an NS target and an SOA compress against it too.
        let mut wire = vec![0x12, 0x34, 0x84, 0x03, 0, 1, 0, 1, 0, 1, 0, 0];
        wire.extend_from_slice(b"\x03www\x07Example\x04test\x00\x00\x01\x00\x01");
        wire.extend_from_slice(b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x01\x2c\x00\x04\xc0\x00\x02\x01");
        wire.extend_from_slice(b"\xc0\x10\x00\x06\x00\x01\x00\x00\x0e\x10\x00\x1e");
        wire.extend_from_slice(b"\x02ns\xc0\x10\x02hm\xc0\x10");
        wire.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5]);
        let reply = Reply::parse(&wire).expect("parses");
        assert_eq!(reply.id, 0x1234);
        assert_eq!(reply.rcode, 3);
        assert_eq!(reply.flag_words(), ["aa"]);
        assert_eq!(reply.question.as_deref(), Some("www.Example.test. A"));
        assert_eq!(reply.sections[0], ["www.example.test. 300 A 192.0.2.1"]);
        assert_eq!(
            reply.sections[1],
            ["example.test. 3600 SOA ns.example.test. hm.example.test. 1 2 3 4 5"]
        );
        wire.push(0);
        assert!(Reply::parse(&wire).is_err(), "trailing octets");
    }

    #[test]
    fn refuses_pointer_loops() {
        assert!(decompress(b"\xc0\x00", 0).is_err());
    }
}
