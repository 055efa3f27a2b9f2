//! The parse stage: what the answer path needs from a query message, read
//! straight out of the received datagram into a [`Query`] the caller
//! reuses from one message to the next.
//!
//! | RFC  | what this module checks                                   |
//! |------|-----------------------------------------------------------|
//! | 1035 | header, one question, RR layout (§4.1)                    |
//! | 6891 | the OPT pseudo-RR: one, owned by root, in additional (§6) |
//! | 7871 | the Client Subnet option (§6)                             |

use std::fmt;

use base::edns::{ClientSubnet, FLAG_DO, OPTION_CLIENT_SUBNET, OPTION_COOKIE, OPTION_NSID};

use super::cookie::Cookie;
use base::header::{flag, HEADER_LEN, OPCODE_QUERY};
use base::name::wire::skip_name;
use base::types;

/// Smallest UDP payload every client accepts (RFC 1035 §4.2.1).
pub const MIN_UDP_PAYLOAD: u16 = 512;

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
    /// The query asked for the server's identity (NSID, RFC 5001 §2.1).
    pub nsid: bool,
    /// The DNS Cookies of the query (RFC 7873).
    pub cookie: Option<Cookie>,
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
                let Some(Options {
                    client_subnet,
                    nsid,
                    cookie,
                }) = read_options(&msg[rr.rdata..rr.end])
                else {
                    return Err(malformed);
                };
                let version = (rr.ttl >> 16) as u8;
                bad_version = version != 0;
                self.edns = Some(Edns {
                    payload: rr.class,
                    version,
                    dnssec_ok: rr.ttl & FLAG_DO != 0,
                    client_subnet: client_subnet.ok(),
                    bad_client_subnet: client_subnet == Err(true),
                    nsid,
                    cookie,
                });
            }
            pos = rr.end;
        }
        if pos != msg.len() {
            return Err(malformed);
        }
        // Read whole, so that the NOTIMP reply can carry an OPT record when
        // the request had one (RFC 6891 §6.1.1).
        if self.opcode() != OPCODE_QUERY {
            return Err(ParseError::NotImp { question: true });
        }
        if bad_version {
            return Err(ParseError::BadVers);
        }
        Ok(())
    }

    /// Whether the query asks for DNSSEC records (the DO bit, RFC 3225 §3).
    pub fn dnssec_ok(&self) -> bool {
        self.edns.is_some_and(|edns| edns.dnssec_ok)
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

/// The options of an OPT record that pooldns reads.
struct Options {
    /// The Client Subnet option, or `Err(false)` without one and
    /// `Err(true)` for an invalid one.
    client_subnet: Result<ClientSubnet, bool>,
    /// Whether NSID was asked for.
    nsid: bool,
    cookie: Option<Cookie>,
}

/// Reads OPT RDATA, a sequence of options (RFC 6891 §6.1.2): each a code,
/// a length and exactly that many octets. `None` when malformed, a COOKIE
/// option of a wrong length or a second one included (RFC 7873 §5.2.2).
fn read_options(mut rdata: &[u8]) -> Option<Options> {
    let mut subnet = Err(false);
    let mut nsid = false;
    let mut cookie = None;
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
        // The request's NSID option is empty (RFC 5001 §2.1); a value is
        // ignored, as the RFC lets a server do.
        nsid |= code == OPTION_NSID;
        if code == OPTION_COOKIE {
            if cookie.is_some() {
                return None;
            }
            cookie = Some(Cookie::parse(value)?);
        }
        rdata = &rdata[4 + len..];
    }
    Some(Options {
        client_subnet: subnet,
        nsid,
        cookie,
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answer::tests::{query_bytes, WWW};

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
}
