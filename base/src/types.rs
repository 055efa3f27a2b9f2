//! Resource record type numbers and their mnemonics.
//!
//! Numbers come from the IANA "Resource Record (RR) TYPEs" registry; the
//! exceptions are PowerDNS's private-use types [`ALIAS`] and [`LUA`].

/// IPv4 address (RFC 1035 §3.4.1).
pub const A: u16 = 1;
/// Authoritative name server (RFC 1035 §3.3.11).
pub const NS: u16 = 2;
/// Canonical name (RFC 1035 §3.3.1).
pub const CNAME: u16 = 5;
/// Start of authority (RFC 1035 §3.3.13).
pub const SOA: u16 = 6;
/// Null record (RFC 1035 §3.3.10); only the generic form applies.
pub const NULL: u16 = 10;
/// Domain name pointer (RFC 1035 §3.3.12).
pub const PTR: u16 = 12;
/// Host information (RFC 1035 §3.3.2, RFC 8482).
pub const HINFO: u16 = 13;
/// Mail exchange (RFC 1035 §3.3.9).
pub const MX: u16 = 15;
/// Text strings (RFC 1035 §3.3.14).
pub const TXT: u16 = 16;
/// Responsible person (RFC 1183 §2.2).
pub const RP: u16 = 17;
/// AFS database location (RFC 1183 §1).
pub const AFSDB: u16 = 18;
/// IPv6 address (RFC 3596 §2).
pub const AAAA: u16 = 28;
/// Location (RFC 1876).
pub const LOC: u16 = 29;
/// Service location (RFC 2782).
pub const SRV: u16 = 33;
/// Naming authority pointer (RFC 3403).
pub const NAPTR: u16 = 35;
/// Key exchanger (RFC 2230).
pub const KX: u16 = 36;
/// Certificate (RFC 4398).
pub const CERT: u16 = 37;
/// Delegation of a subtree (RFC 6672).
pub const DNAME: u16 = 39;
/// EDNS(0) pseudo-record (RFC 6891); meta-type.
pub const OPT: u16 = 41;
/// Delegation signer (RFC 4034 §5).
pub const DS: u16 = 43;
/// SSH key fingerprint (RFC 4255).
pub const SSHFP: u16 = 44;
/// IPsec keying material (RFC 4025).
pub const IPSECKEY: u16 = 45;
/// DNSSEC signature (RFC 4034 §3).
pub const RRSIG: u16 = 46;
/// Next secure record (RFC 4034 §4).
pub const NSEC: u16 = 47;
/// DNSSEC public key (RFC 4034 §2).
pub const DNSKEY: u16 = 48;
/// DHCP identifier (RFC 4701).
pub const DHCID: u16 = 49;
/// Hashed next secure record (RFC 5155 §3).
pub const NSEC3: u16 = 50;
/// NSEC3 parameters (RFC 5155 §4).
pub const NSEC3PARAM: u16 = 51;
/// TLS certificate association (RFC 6698).
pub const TLSA: u16 = 52;
/// S/MIME certificate association (RFC 8162).
pub const SMIMEA: u16 = 53;
/// Child copy of DS (RFC 7344).
pub const CDS: u16 = 59;
/// Child copy of DNSKEY (RFC 7344).
pub const CDNSKEY: u16 = 60;
/// OpenPGP public key (RFC 7929).
pub const OPENPGPKEY: u16 = 61;
/// Child-to-parent synchronisation (RFC 7477).
pub const CSYNC: u16 = 62;
/// Zone message digest (RFC 8976).
pub const ZONEMD: u16 = 63;
/// General service binding (RFC 9460).
pub const SVCB: u16 = 64;
/// Service binding for HTTP origins (RFC 9460 §9).
pub const HTTPS: u16 = 65;
/// Transaction key (RFC 2930); meta-type.
pub const TKEY: u16 = 249;
/// Transaction signature (RFC 8945); meta-type.
pub const TSIG: u16 = 250;
/// Incremental zone transfer (RFC 1995); query type only.
pub const IXFR: u16 = 251;
/// Full zone transfer (RFC 5936); query type only.
pub const AXFR: u16 = 252;
/// Mailbox-related records (RFC 1035 §3.2.3); query type only.
pub const MAILB: u16 = 253;
/// Mail agent records (RFC 1035 §3.2.3); query type only.
pub const MAILA: u16 = 254;
/// Any type, `*` (RFC 1035 §3.2.3, RFC 8482); query type only.
pub const ANY: u16 = 255;
/// Uniform resource identifier (RFC 7553).
pub const URI: u16 = 256;
/// Certification authority authorization (RFC 8659).
pub const CAA: u16 = 257;
/// PowerDNS's apex-capable alias: A and AAAA answers are the target's
/// addresses, as a resolver finds them; private-use range (RFC 6895 §3.1).
pub const ALIAS: u16 = 65401;
/// PowerDNS's scripted record, in the private-use range (RFC 6895 §3.1).
pub const LUA: u16 = 65402;

/// Every type with a mnemonic, in numeric order.
const MNEMONICS: &[(u16, &str)] = &[
    (A, "A"),
    (NS, "NS"),
    (CNAME, "CNAME"),
    (SOA, "SOA"),
    (NULL, "NULL"),
    (PTR, "PTR"),
    (HINFO, "HINFO"),
    (MX, "MX"),
    (TXT, "TXT"),
    (RP, "RP"),
    (AFSDB, "AFSDB"),
    (AAAA, "AAAA"),
    (LOC, "LOC"),
    (SRV, "SRV"),
    (NAPTR, "NAPTR"),
    (KX, "KX"),
    (CERT, "CERT"),
    (DNAME, "DNAME"),
    (OPT, "OPT"),
    (DS, "DS"),
    (SSHFP, "SSHFP"),
    (IPSECKEY, "IPSECKEY"),
    (RRSIG, "RRSIG"),
    (NSEC, "NSEC"),
    (DNSKEY, "DNSKEY"),
    (DHCID, "DHCID"),
    (NSEC3, "NSEC3"),
    (NSEC3PARAM, "NSEC3PARAM"),
    (TLSA, "TLSA"),
    (SMIMEA, "SMIMEA"),
    (CDS, "CDS"),
    (CDNSKEY, "CDNSKEY"),
    (OPENPGPKEY, "OPENPGPKEY"),
    (CSYNC, "CSYNC"),
    (ZONEMD, "ZONEMD"),
    (SVCB, "SVCB"),
    (HTTPS, "HTTPS"),
    (TKEY, "TKEY"),
    (TSIG, "TSIG"),
    (IXFR, "IXFR"),
    (AXFR, "AXFR"),
    (MAILB, "MAILB"),
    (MAILA, "MAILA"),
    (ANY, "ANY"),
    (URI, "URI"),
    (CAA, "CAA"),
    (ALIAS, "ALIAS"),
    (LUA, "LUA"),
];

/// Looks up a type by mnemonic (ASCII case-insensitive) or by the generic `TYPEnnn` form (RFC 3597 §5).
///
/// `TYPEnnn` is accepted for every number, including ones that have a mnemonic.
pub fn type_from_str(s: &str) -> Option<u16> {
    if let Some(&(t, _)) = MNEMONICS.iter().find(|(_, m)| m.eq_ignore_ascii_case(s)) {
        return Some(t);
    }
    let digits = match s.as_bytes() {
        [b't' | b'T', b'y' | b'Y', b'p' | b'P', b'e' | b'E', digits @ ..] => digits,
        _ => return None,
    };
    if digits.is_empty() || digits.len() > 5 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let value = digits.iter().fold(0u32, |v, &d| v * 10 + u32::from(d - b'0'));
    u16::try_from(value).ok()
}

/// The mnemonic of `t`, if it has one.
pub fn type_mnemonic(t: u16) -> Option<&'static str> {
    MNEMONICS
        .binary_search_by_key(&t, |&(n, _)| n)
        .ok()
        .map(|i| MNEMONICS[i].1)
}

/// The mnemonic of `t`, or `TYPEnnn` (RFC 3597 §5) when it has none.
pub fn type_to_string(t: u16) -> String {
    match type_mnemonic(t) {
        Some(m) => m.to_owned(),
        None => format!("TYPE{t}"),
    }
}

/// True for types that never appear as stored data: OPT and the meta and query types of RFC 6895 §3.1 (128–255).
///
/// This covers TKEY, TSIG, IXFR, AXFR, MAILB, MAILA and ANY.
pub fn is_meta_type(t: u16) -> bool {
    t == OPT || (128..=255).contains(&t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mnemonics_are_sorted_and_unique() {
        assert!(MNEMONICS.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn parses_mnemonics_and_generic_form() {
        assert_eq!(type_from_str("A"), Some(A));
        assert_eq!(type_from_str("aaaa"), Some(AAAA));
        assert_eq!(type_from_str("Lua"), Some(LUA));
        assert_eq!(type_from_str("TYPE1"), Some(A));
        assert_eq!(type_from_str("type65280"), Some(65280));
        assert_eq!(type_from_str("TYPE65536"), None);
        assert_eq!(type_from_str("TYPE"), None);
        assert_eq!(type_from_str("TYPE-1"), None);
        assert_eq!(type_from_str("TYPE1x"), None);
        assert_eq!(type_from_str("BOGUS"), None);
        assert_eq!(type_from_str("é"), None);
    }

    #[test]
    fn formats_mnemonics_and_generic_form() {
        assert_eq!(type_to_string(HTTPS), "HTTPS");
        assert_eq!(type_to_string(LUA), "LUA");
        assert_eq!(type_to_string(65280), "TYPE65280");
        for &(t, m) in MNEMONICS {
            assert_eq!(type_from_str(&type_to_string(t)), Some(t), "{m}");
        }
    }

    #[test]
    fn meta_types() {
        for t in [OPT, TKEY, TSIG, IXFR, AXFR, MAILA, MAILB, ANY, 128] {
            assert!(is_meta_type(t), "{t}");
        }
        for t in [A, SOA, CAA, LUA, SVCB, 127, 256] {
            assert!(!is_meta_type(t), "{t}");
        }
    }
}
