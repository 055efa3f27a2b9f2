//! The canonical form of RDATA (RFC 4034 §6.2): what DNSSEC signs and
//! what tells two records of an RRset apart.

use std::borrow::Cow;
use std::ops::Range;

use crate::name::wire::name_len;
use crate::types;

/// Mail destination, obsolete (RFC 1035 §3.3.4).
const MD: u16 = 3;
/// Mail forwarder, obsolete (RFC 1035 §3.3.5).
const MF: u16 = 4;
/// Mailbox domain name (RFC 1035 §3.3.3).
const MB: u16 = 7;
/// Mail group member (RFC 1035 §3.3.6).
const MG: u16 = 8;
/// Mail rename domain name (RFC 1035 §3.3.8).
const MR: u16 = 9;
/// Mailbox or mail list information (RFC 1035 §3.3.7).
const MINFO: u16 = 14;
/// Route through (RFC 1183 §3.3).
const RT: u16 = 21;
/// Signature of the original DNSSEC (RFC 2535 §4.1).
const SIG: u16 = 24;
/// X.400 mail mapping (RFC 2163 §4).
const PX: u16 = 26;
/// Next domain of the original DNSSEC (RFC 2535 §5.2).
const NXT: u16 = 30;
/// IPv6 address with prefix indirection (RFC 2874 §3.1).
const A6: u16 = 38;

/// Whether names in `rtype`'s RDATA are lowercased in canonical form (RFC 4034 §6.2 item 3, RFC 6840 §5.1).
///
/// The list is closed: types defined after RFC 3597 never have their RDATA
/// names lowercased (RFC 3597 §7), which is why SVCB, HTTPS and the like are
/// absent. RFC 6840 §5.1 removed NSEC from the RFC 4034 list, and RRSIG stays
/// on it (its signer's name is lowercased). HINFO, listed twice by RFC 4034,
/// holds no names and so is not on it either.
pub fn lowercases_rdata_names(rtype: u16) -> bool {
    layout(rtype).is_some()
}

/// Canonical RDATA: embedded names lowercased for those types; otherwise unchanged (Cow borrowed).
///
/// Only the octets of the names change, so the length never does. RDATA
/// that is too short or malformed to find its names in is returned as it is:
/// it cannot come from a parsed zone, and lowercasing a guess would be worse.
pub fn canonical_rdata(rtype: u16, rdata: &[u8]) -> Cow<'_, [u8]> {
    let Some(span) = layout(rtype).and_then(|layout| name_span(layout, rdata)) else {
        return Cow::Borrowed(rdata);
    };
    match rdata.get(span.clone()) {
        Some(names) if names.iter().any(u8::is_ascii_uppercase) => {
            let mut owned = rdata.to_vec();
            // Length octets are at most 63, below b'A', so lowercasing leaves them alone.
            owned[span].make_ascii_lowercase();
            Cow::Owned(owned)
        }
        _ => Cow::Borrowed(rdata),
    }
}

/// Where the names are in a type's RDATA.
#[derive(Clone, Copy)]
enum Layout {
    /// `skip` octets of fixed fields, then `names` names in a row; anything after them is left alone.
    Names {
        /// Octets before the first name.
        skip: usize,
        /// How many names follow.
        names: usize,
    },
    /// Order, preference, three character-strings, then the replacement name (RFC 3403 §4.1).
    Naptr,
    /// Prefix length, the address suffix, then the prefix name when the prefix length is not 0 (RFC 2874 §3.1.1).
    A6,
}

/// The layout of a type whose RDATA names are lowercased, `None` for other types.
fn layout(rtype: u16) -> Option<Layout> {
    let names = |skip, names| Some(Layout::Names { skip, names });
    match rtype {
        types::NS | MD | MF | types::CNAME | MB | MG | MR | types::PTR | types::DNAME | NXT => names(0, 1),
        types::SOA | MINFO | types::RP => names(0, 2),
        types::MX | types::AFSDB | RT | types::KX => names(2, 1),
        PX => names(2, 2),
        types::SRV => names(6, 1),
        // Type covered, algorithm, labels, original TTL, expiration, inception, key tag.
        SIG | types::RRSIG => names(18, 1),
        types::NAPTR => Some(Layout::Naptr),
        A6 => Some(Layout::A6),
        _ => None,
    }
}

/// The octets holding the names of `rdata`, `None` when there are none or the RDATA is malformed.
fn name_span(layout: Layout, rdata: &[u8]) -> Option<Range<usize>> {
    let (start, names) = match layout {
        Layout::Names { skip, names } => (skip, names),
        Layout::Naptr => {
            let mut position = 4;
            for _ in 0..3 {
                position += 1 + usize::from(*rdata.get(position)?);
            }
            (position, 1)
        }
        Layout::A6 => {
            let prefix_length = *rdata.first()?;
            if prefix_length == 0 || prefix_length > 128 {
                return None;
            }
            (1 + usize::from(128 - prefix_length).div_ceil(8), 1)
        }
    };
    let mut end = start;
    for _ in 0..names {
        end += name_len(rdata.get(end..)?)?;
    }
    Some(start..end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{HINFO, MX, NSEC, SVCB, TXT};
    use crate::Name;

    /// Wire form of an absolute test name.
    fn wire(name: &str) -> Vec<u8> {
        name.parse::<Name>().expect("valid test name").as_wire().to_vec()
    }

    /// `parts` joined.
    fn cat(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    #[test]
    fn lowercases_names_of_listed_types_only() {
        let soa = cat(&[&wire("NS1.Example."), &wire("Host\\.Master.EXAMPLE."), &[0; 20]]);
        let soa_lower = cat(&[&wire("ns1.example."), &wire("host\\.master.example."), &[0; 20]]);
        assert_eq!(canonical_rdata(types::SOA, &soa), soa_lower);
        let mx = cat(&[&[0, 10], &wire("Mail.Example.")]);
        assert_eq!(canonical_rdata(MX, &mx), cat(&[&[0, 10], &wire("mail.example.")]));
        let srv = cat(&[&[0, 1, 0, 2, 0, 3], &wire("SRV.Example.")]);
        assert_eq!(
            canonical_rdata(types::SRV, &srv),
            cat(&[&[0, 1, 0, 2, 0, 3], &wire("srv.example.")])
        );
        let rrsig = cat(&[&[0; 18], &wire("Example."), b"SIGNATURE"]);
        assert_eq!(
            canonical_rdata(types::RRSIG, &rrsig),
            cat(&[&[0; 18], &wire("example."), b"SIGNATURE"])
        );
        // Neither the NSEC next name (RFC 6840 §5.1), nor text, nor names in newer types.
        for (rtype, rdata) in [
            (NSEC, cat(&[&wire("Next.Example."), &[0, 1, 0x40]])),
            (TXT, b"\x05UPPER".to_vec()),
            (HINFO, b"\x03CPU\x02OS".to_vec()),
            (SVCB, cat(&[&[0, 1], &wire("Target.Example.")])),
        ] {
            assert!(
                matches!(canonical_rdata(rtype, &rdata), Cow::Borrowed(_)),
                "type {rtype}"
            );
        }
        assert!(!lowercases_rdata_names(NSEC));
        assert!(!lowercases_rdata_names(HINFO));
        assert!(lowercases_rdata_names(types::RRSIG));
        assert!(lowercases_rdata_names(types::DNAME));
    }

    #[test]
    fn lowercases_naptr_and_a6() {
        let naptr = cat(&[&[0, 100, 0, 10], b"\x01S\x07SIP+D2U\x00", &wire("_SIP._udp.Example.")]);
        let lower = canonical_rdata(types::NAPTR, &naptr);
        // The flags and services strings keep their case; only the replacement is lowercased.
        assert_eq!(
            lower,
            cat(&[&[0, 100, 0, 10], b"\x01S\x07SIP+D2U\x00", &wire("_sip._udp.example.")])
        );
        // Prefix length 64: 8 octets of address suffix, then the prefix name.
        let a6 = cat(&[&[64], b"ABCDEFGH", &wire("Prefix.Example.")]);
        assert_eq!(
            canonical_rdata(A6, &a6),
            cat(&[&[64], b"ABCDEFGH", &wire("prefix.example.")])
        );
        let a6_no_name = cat(&[&[0], &[b'A'; 16]]);
        assert!(matches!(canonical_rdata(A6, &a6_no_name), Cow::Borrowed(_)));
    }

    #[test]
    fn borrows_when_already_lowercase_or_malformed() {
        let mx = cat(&[&[0, 10], &wire("mail.example.")]);
        assert!(matches!(canonical_rdata(MX, &mx), Cow::Borrowed(_)));
        for malformed in [
            &b""[..],
            b"\x00",
            b"\x00\x0a\x04MAIL",
            b"\x00\x0a\xc0\x0c",
            b"\x00\x0a\x40ABC",
        ] {
            assert_eq!(canonical_rdata(MX, malformed), Cow::Borrowed(malformed));
        }
        assert_eq!(
            canonical_rdata(types::NAPTR, b"\0\0\0\0\x09S"),
            Cow::Borrowed(b"\0\0\0\0\x09S")
        );
    }
}
