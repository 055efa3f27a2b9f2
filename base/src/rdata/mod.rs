//! RDATA conversion between presentation format and uncompressed wire format.
//!
//! Parsing takes the tokens of one record as a master-file lexer produces them
//! (RFC 1035 §5.1); formatting produces text that parses back to the same
//! wire bytes. Every type also accepts the generic `\# <length> <hex>` form of
//! RFC 3597 §5, and types without a text form here accept only that.
//!
//! Each record family has a file with its parser and writer side by side:
//!
//! | file          | types                                                    |
//! |---------------|----------------------------------------------------------|
//! | `basic.rs`    | A, AAAA, NS, CNAME, DNAME, PTR, MX, TXT, HINFO, RP, SOA, |
//! |               | ALIAS (PowerDNS)                                         |
//! | `service.rs`  | SRV, NAPTR                                               |
//! | `svcb.rs`     | SVCB, HTTPS                                              |
//! | `security.rs` | CAA, SSHFP, TLSA                                         |
//! | `dnssec.rs`   | DS, CDS, DNSKEY, CDNSKEY, RRSIG, NSEC, NSEC3, NSEC3PARAM |
//! | `loc.rs`      | LOC                                                      |
//! | `lua.rs`      | LUA (PowerDNS)                                           |
//!
//! `scan.rs` and `read.rs` hold the cursors the families share,
//! `canonical.rs` the canonical form DNSSEC signs (RFC 4034 §6.2), and
//! `list.rs` RRsets packed into one buffer.

/// Appends formatted text to a `String`, which cannot fail.
macro_rules! put {
    ($out:expr, $($arg:tt)*) => {{
        let _ = write!($out, $($arg)*);
    }};
}

mod basic;
pub mod canonical;
mod dnssec;
pub mod list;
mod loc;
pub mod lua;
mod read;
mod scan;
mod security;
mod service;
mod svcb;
#[cfg(test)]
mod tests;

use read::{write_generic, Reader};
use scan::{decode_hex, parse_u64, tokenize, Parser};

use crate::name::{Name, NameError};
use crate::types::{self, *};

/// Why RDATA could not be parsed or formatted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RdataError {
    /// The record has the wrong number of fields for its type.
    #[error("expected {expected} for {rtype}, found {found}")]
    FieldCount {
        /// Type mnemonic.
        rtype: String,
        /// "1 field", "4 fields", or "at least 4 fields" for types with a variable tail.
        expected: String,
        /// Number of tokens given.
        found: usize,
    },
    /// A numeric field is not a number or does not fit.
    #[error("{field} is not {kind}: \"{text}\"")]
    Number {
        /// Which field, such as "MX preference".
        field: &'static str,
        /// What was expected, such as "a 16-bit number".
        kind: &'static str,
        /// The offending token.
        text: String,
    },
    /// An A or AAAA field is not an address of the right family.
    #[error("{rtype} address \"{text}\" is not an {family} address")]
    Address {
        /// "A" or "AAAA".
        rtype: &'static str,
        /// The offending token.
        text: String,
        /// "IPv4" or "IPv6".
        family: &'static str,
    },
    /// A domain-name field is not a valid name.
    #[error("{field} \"{text}\": {error}")]
    Name {
        /// Which field, such as "MX exchange".
        field: &'static str,
        /// The offending token.
        text: String,
        /// What is wrong with it.
        error: NameError,
    },
    /// A character-string is longer than its one-octet length allows (RFC 1035 §3.3).
    #[error("{field} is longer than 255 octets")]
    StringTooLong {
        /// Which field, such as "TXT string".
        field: &'static str,
    },
    /// The type has no text form here; only the RFC 3597 generic form is accepted.
    #[error("{rtype} has no text form here; write it as \\# <length> <hex> (RFC 3597 §5)")]
    GenericOnly {
        /// Type mnemonic or TYPEnnn.
        rtype: String,
    },
    /// Wire RDATA that does not match its type's format.
    #[error("malformed {rtype} RDATA: {reason}")]
    Malformed {
        /// Type mnemonic or TYPEnnn.
        rtype: String,
        /// What is wrong.
        reason: String,
    },
    /// Any other problem with presentation RDATA, described in full.
    #[error("{0}")]
    Invalid(String),
}

/// One token of a record's RDATA as the zone-file lexer saw it: `text` still has its backslash escapes; `quoted` when it came from "...".
///
/// For a quoted token `text` is what was between the quotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token<'a> {
    /// The token's characters, escapes not yet decoded.
    pub text: &'a str,
    /// True if the token was a quoted string.
    pub quoted: bool,
}

impl<'a> Token<'a> {
    /// An unquoted token.
    pub fn word(text: &'a str) -> Token<'a> {
        Token { text, quoted: false }
    }

    /// A token that was written between double quotes.
    pub fn quoted(text: &'a str) -> Token<'a> {
        Token { text, quoted: true }
    }
}

/// Parses presentation RDATA of `rtype` into uncompressed wire RDATA. Names in RDATA are made absolute with `origin`.
///
/// Meta-types such as OPT or ANY (RFC 6895 §3.1) are rejected: they are never stored.
pub fn parse_rdata(rtype: u16, tokens: &[Token<'_>], origin: &Name) -> Result<Vec<u8>, RdataError> {
    parse_rdata_in(rtype, tokens, Some(origin))
}

/// Convenience: splits `text` (one record's RDATA, may contain quoted strings and escapes, no parentheses/comments) into tokens and parses. Used when records come from the database or an HTTP API.
///
/// Parentheses and semicolons have no special meaning here; they are ordinary characters.
pub fn parse_rdata_text(rtype: u16, text: &str, origin: &Name) -> Result<Vec<u8>, RdataError> {
    let tokens = tokenize(text)?;
    parse_rdata(rtype, &tokens, origin)
}

/// Formats wire RDATA as presentation text, names absolute. Errors if the
/// wire data is malformed for the type, or the type is a meta-type.
///
/// Types without a text form here, and records whose data a text form cannot
/// express (such as a DS with an empty digest), are written in the generic
/// `\# <length> <hex>` form (RFC 3597 §5).
pub fn format_rdata(rtype: u16, wire: &[u8]) -> Result<String, RdataError> {
    let mut out = String::with_capacity(wire.len() * 2 + 8);
    write_rdata(&mut out, rtype, wire)?;
    Ok(out)
}

/// Parses a TTL or SOA timer: decimal seconds, or units as in `1h30m`, `2w` (s, m, h, d, w; any case).
///
/// With units every number needs one (`1h30` is rejected). Returns `None` for
/// malformed text or values above `u32::MAX`; callers apply tighter limits such
/// as the 2^31-1 of RFC 2181 §8.
pub fn parse_ttl(text: &str) -> Option<u32> {
    let bytes = text.as_bytes();
    if bytes.is_empty() {
        return None;
    }
    if bytes.iter().all(u8::is_ascii_digit) {
        return parse_u64(text).and_then(|v| u32::try_from(v).ok());
    }
    let mut total: u64 = 0;
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        let number = parse_u64(text.get(start..i)?)?;
        let unit: u64 = match bytes.get(i)?.to_ascii_lowercase() {
            b's' => 1,
            b'm' => 60,
            b'h' => 3600,
            b'd' => 86400,
            b'w' => 604_800,
            _ => return None,
        };
        i += 1;
        total = total.checked_add(number.checked_mul(unit)?)?;
    }
    u32::try_from(total).ok()
}

/// Meta-types such as OPT, TSIG or IXFR (RFC 6895 §3.1) have no RDATA that
/// is ever stored: neither read nor written as text.
fn refuse_meta_type(rtype: u16) -> Result<(), RdataError> {
    if types::is_meta_type(rtype) {
        return Err(RdataError::Invalid(format!(
            "{} is a meta-type and cannot be stored in a zone (RFC 6895 §3.1)",
            types::type_to_string(rtype)
        )));
    }
    Ok(())
}

/// Parses RDATA like [`parse_rdata`], with an optional origin.
///
/// Without an origin, relative names in the RDATA are an error; the zone-file
/// reader uses this before it knows the zone's origin.
pub fn parse_rdata_in(rtype: u16, tokens: &[Token<'_>], origin: Option<&Name>) -> Result<Vec<u8>, RdataError> {
    refuse_meta_type(rtype)?;
    if let Some((first, rest)) = tokens.split_first() {
        if !first.quoted && first.text == "\\#" {
            return parse_generic(rtype, rest);
        }
    }
    let Some(parse) = parser(rtype) else {
        return Err(RdataError::GenericOnly {
            rtype: types::type_to_string(rtype),
        });
    };
    let mut p = Parser {
        rtype,
        tokens,
        origin,
        out: Vec::with_capacity(32),
    };
    parse(&mut p)?;
    Ok(p.out)
}

/// A type's parser: reads the tokens into wire RDATA.
type ParseFn = fn(&mut Parser<'_, '_>) -> Result<(), RdataError>;

/// A type's writer: reads wire RDATA, appends its text.
type WriteFn = fn(&mut String, &mut Reader<'_>) -> Result<(), RdataError>;

/// The parser of `rtype`, for the types with a text form.
fn parser(rtype: u16) -> Option<ParseFn> {
    Some(match rtype {
        A => basic::parse_a,
        AAAA => basic::parse_aaaa,
        NS => basic::parse_ns,
        CNAME => basic::parse_cname,
        ALIAS => basic::parse_alias,
        DNAME => basic::parse_dname,
        PTR => basic::parse_ptr,
        MX => basic::parse_mx,
        TXT => basic::parse_txt,
        HINFO => basic::parse_hinfo,
        RP => basic::parse_rp,
        SOA => basic::parse_soa,
        SRV => service::parse_srv,
        NAPTR => service::parse_naptr,
        SVCB | HTTPS => svcb::parse_svcb,
        CAA => security::parse_caa,
        SSHFP => security::parse_sshfp,
        TLSA => security::parse_tlsa,
        DS | CDS => dnssec::parse_ds,
        DNSKEY | CDNSKEY => dnssec::parse_dnskey,
        RRSIG => dnssec::parse_rrsig,
        NSEC => dnssec::parse_nsec,
        NSEC3 => dnssec::parse_nsec3,
        NSEC3PARAM => dnssec::parse_nsec3param,
        LOC => loc::parse_loc,
        LUA => lua::parse_lua,
        _ => return None,
    })
}

/// The writer of `rtype` for this RDATA; `None` for types without a text
/// form and for data their text form cannot express (a DS without a
/// digest, a LOC of another version), which get the generic form.
fn writer(rtype: u16, wire: &[u8]) -> Option<WriteFn> {
    Some(match rtype {
        A => basic::write_a,
        AAAA => basic::write_aaaa,
        NS | CNAME | DNAME | PTR | ALIAS => basic::write_name,
        MX => basic::write_mx,
        TXT => basic::write_txt,
        HINFO => basic::write_hinfo,
        RP => basic::write_rp,
        SOA => basic::write_soa,
        SRV => service::write_srv,
        NAPTR => service::write_naptr,
        SVCB | HTTPS => svcb::write_svcb,
        CAA => security::write_caa,
        SSHFP if wire.len() > 2 => security::write_sshfp,
        TLSA if wire.len() > 3 => security::write_tlsa,
        DS | CDS if dnssec::ds_expressible(wire) => dnssec::write_ds,
        DNSKEY | CDNSKEY if wire.len() > 4 => dnssec::write_dnskey,
        RRSIG if dnssec::rrsig_expressible(wire) => dnssec::write_rrsig,
        NSEC => dnssec::write_nsec,
        NSEC3 if dnssec::nsec3_expressible(wire) => dnssec::write_nsec3,
        NSEC3PARAM if wire.len() >= 5 => dnssec::write_nsec3param,
        LOC if loc::loc_expressible(wire) => loc::write_loc,
        LUA => lua::write_lua,
        _ => return None,
    })
}

/// Appends the presentation form of `wire` to `out`; see [`format_rdata`].
///
/// On error `out` may hold part of the text.
pub fn write_rdata(out: &mut String, rtype: u16, wire: &[u8]) -> Result<(), RdataError> {
    refuse_meta_type(rtype)?;
    let Some(write) = writer(rtype, wire) else {
        write_generic(out, wire);
        return Ok(());
    };
    let mut reader = Reader { rtype, wire };
    write(out, &mut reader)?;
    reader.finish()
}

/// Parses the generic form after `\#`: a length, then the data in hex, possibly split (RFC 3597 §5).
///
/// Data for a type with a text form must be valid for that type.
fn parse_generic(rtype: u16, tokens: &[Token<'_>]) -> Result<Vec<u8>, RdataError> {
    let Some((length, hex)) = tokens.split_first() else {
        return Err(RdataError::Invalid("\\# needs a length".into()));
    };
    let length = parse_u64(length.text)
        .filter(|&l| l <= u64::from(u16::MAX))
        .ok_or_else(|| RdataError::Number {
            field: "\\# length",
            kind: "a 16-bit number",
            text: length.text.into(),
        })?;
    let data = decode_hex(hex, "\\# data")?;
    if data.len() as u64 != length {
        return Err(RdataError::Invalid(format!(
            "\\# length {length} does not match the {} octets of data",
            data.len()
        )));
    }
    if parser(rtype).is_some() {
        let mut scratch = String::new();
        write_rdata(&mut scratch, rtype, &data)
            .map_err(|e| RdataError::Invalid(format!("\\# data is not valid {}: {e}", types::type_to_string(rtype))))?;
    }
    Ok(data)
}
