//! RDATA conversion between presentation format and uncompressed wire format.
//!
//! Parsing takes the tokens of one record as a master-file lexer produces them
//! (RFC 1035 §5.1); formatting produces text that parses back to the same
//! wire bytes. Every type also accepts the generic `\# <length> <hex>` form of
//! RFC 3597 §5, and types without a text form here accept only that.

use std::fmt::{self, Write as _};
use std::net::{Ipv4Addr, Ipv6Addr};

use data_encoding::{BASE32HEX_NOPAD, BASE64, HEXLOWER_PERMISSIVE, HEXUPPER};

use crate::name::{Name, NameError};
use crate::zone::types::{self, *};

/// Appends formatted text to a `String`, which cannot fail.
macro_rules! put {
    ($out:expr, $($arg:tt)*) => {{
        let _ = write!($out, $($arg)*);
    }};
}

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

/// Formats wire RDATA as presentation text, names absolute. Errors if the wire data is malformed for the type.
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

/// Parses RDATA like [`parse_rdata`], with an optional origin.
///
/// Without an origin, relative names in the RDATA are an error; the zone-file
/// reader uses this before it knows the zone's origin.
pub(crate) fn parse_rdata_in(rtype: u16, tokens: &[Token<'_>], origin: Option<&Name>) -> Result<Vec<u8>, RdataError> {
    if types::is_meta_type(rtype) {
        return Err(RdataError::Invalid(format!(
            "{} is a meta-type and cannot be stored in a zone (RFC 6895 §3.1)",
            types::type_to_string(rtype)
        )));
    }
    if let Some((first, rest)) = tokens.split_first() {
        if !first.quoted && first.text == "\\#" {
            return parse_generic(rtype, rest);
        }
    }
    let mut p = Parser {
        rtype,
        tokens,
        origin,
        out: Vec::with_capacity(32),
    };
    p.parse()?;
    Ok(p.out)
}

/// Appends the presentation form of `wire` to `out`; see [`format_rdata`].
///
/// On error `out` may hold part of the text.
pub(crate) fn write_rdata(out: &mut String, rtype: u16, wire: &[u8]) -> Result<(), RdataError> {
    let mut r = Reader { rtype, wire };
    match rtype {
        A => {
            let octets: [u8; 4] = r.array("address")?;
            put!(out, "{}", Ipv4Addr::from(octets));
        }
        AAAA => {
            let octets: [u8; 16] = r.array("address")?;
            put!(out, "{}", Ipv6Addr::from(octets));
        }
        NS | CNAME | DNAME | PTR => {
            put!(out, "{}", r.name("target")?);
        }
        MX => {
            let preference = r.u16("preference")?;
            put!(out, "{preference} {}", r.name("exchange")?);
        }
        TXT => {
            if r.wire.is_empty() {
                return Err(r.malformed("no character-string"));
            }
            let mut first = true;
            while !r.wire.is_empty() {
                if !first {
                    out.push(' ');
                }
                first = false;
                write_quoted(out, r.char_string("string")?);
            }
        }
        HINFO => {
            write_quoted(out, r.char_string("CPU")?);
            out.push(' ');
            write_quoted(out, r.char_string("OS")?);
        }
        RP => {
            let mailbox = r.name("mailbox")?;
            put!(out, "{mailbox} {}", r.name("TXT domain")?);
        }
        SOA => {
            let mname = r.name("MNAME")?;
            let rname = r.name("RNAME")?;
            put!(out, "{mname} {rname}");
            for field in ["serial", "refresh", "retry", "expire", "minimum"] {
                put!(out, " {}", r.u32(field)?);
            }
        }
        SRV => {
            let priority = r.u16("priority")?;
            let weight = r.u16("weight")?;
            let port = r.u16("port")?;
            put!(out, "{priority} {weight} {port} {}", r.name("target")?);
        }
        CAA => write_caa(out, &mut r)?,
        // A digest of the wrong length for its type cannot be written in the DS text form.
        DS | CDS
            if wire.len() > 4
                && wire
                    .get(3)
                    .and_then(|&t| ds_digest_len(t))
                    .is_none_or(|l| l == wire.len() - 4) =>
        {
            let key_tag = r.u16("key tag")?;
            let algorithm = r.u8("algorithm")?;
            let digest_type = r.u8("digest type")?;
            put!(out, "{key_tag} {algorithm} {digest_type} ");
            out.push_str(&HEXUPPER.encode(r.rest()));
        }
        DNSKEY | CDNSKEY if wire.len() > 4 => {
            let flags = r.u16("flags")?;
            let protocol = r.u8("protocol")?;
            let algorithm = r.u8("algorithm")?;
            put!(out, "{flags} {protocol} {algorithm} ");
            out.push_str(&BASE64.encode(r.rest()));
        }
        SSHFP if wire.len() > 2 => {
            let algorithm = r.u8("algorithm")?;
            let fp_type = r.u8("fingerprint type")?;
            put!(out, "{algorithm} {fp_type} ");
            out.push_str(&HEXUPPER.encode(r.rest()));
        }
        TLSA if wire.len() > 3 => {
            let usage = r.u8("certificate usage")?;
            let selector = r.u8("selector")?;
            let matching = r.u8("matching type")?;
            put!(out, "{usage} {selector} {matching} ");
            out.push_str(&HEXUPPER.encode(r.rest()));
        }
        NAPTR => {
            let order = r.u16("order")?;
            let preference = r.u16("preference")?;
            put!(out, "{order} {preference}");
            for field in ["flags", "services", "regexp"] {
                out.push(' ');
                write_quoted(out, r.char_string(field)?);
            }
            put!(out, " {}", r.name("replacement")?);
        }
        LOC if wire.first() == Some(&0) => write_loc(out, &mut r)?,
        SVCB | HTTPS => write_svcb(out, &mut r)?,
        LUA => {
            let embedded = r.u16("record type")?;
            put!(out, "{} ", types::type_to_string(embedded));
            write_quoted(out, r.rest());
        }
        // DNSSEC records are printed (signed exports) but never parsed:
        // a secured zone makes its own.
        RRSIG if wire.len() > 18 => {
            let covered = r.u16("type covered")?;
            let algorithm = r.u8("algorithm")?;
            let labels = r.u8("labels")?;
            let original_ttl = r.u32("original TTL")?;
            let expiration = r.u32("expiration")?;
            let inception = r.u32("inception")?;
            let key_tag = r.u16("key tag")?;
            let signer = r.name("signer")?;
            put!(
                out,
                "{} {algorithm} {labels} {original_ttl} {} {} {key_tag} {signer} {}",
                types::type_to_string(covered),
                dnssec_time(expiration),
                dnssec_time(inception),
                BASE64.encode(r.rest())
            );
        }
        NSEC => {
            put!(out, "{}", r.name("next owner")?);
            write_bitmap(out, r.rest())?;
        }
        NSEC3 if wire.len() >= 5 => {
            write_nsec3_parameters(out, &mut r)?;
            let next = r.char_string("next hashed owner")?;
            put!(out, " {}", BASE32HEX_NOPAD.encode(next));
            write_bitmap(out, r.rest())?;
        }
        NSEC3PARAM if wire.len() >= 5 => write_nsec3_parameters(out, &mut r)?,
        _ => {
            write_generic(out, wire);
            return Ok(());
        }
    }
    r.finish()
}

/// Reads an RRSIG time: YYYYMMDDHHmmSS (UTC), or plain seconds (RFC 4034 §3.2).
fn parse_dnssec_time(text: &str) -> Option<u32> {
    if text.len() != 14 {
        return text.parse().ok();
    }
    let field = |range: std::ops::Range<usize>| text.get(range)?.parse::<i64>().ok();
    let (year, month, day) = (field(0..4)?, field(4..6)?, field(6..8)?);
    let (hour, minute, second) = (field(8..10)?, field(10..12)?, field(12..14)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    // Civil date to days since the epoch, after H. Hinnant.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second;
    // Serial number arithmetic: times wrap modulo 2^32 (RFC 4034 §3.1.5).
    Some(seconds.rem_euclid(1 << 32) as u32)
}

/// RRSIG time in the YYYYMMDDHHmmSS form (RFC 4034 §3.2), UTC.
fn dnssec_time(seconds: u32) -> String {
    let days = i64::from(seconds / 86_400);
    let rest = seconds % 86_400;
    // Days to a civil date (proleptic Gregorian), after H. Hinnant.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}{:02}{:02}{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Appends the fields NSEC3 and NSEC3PARAM share: hash algorithm, flags,
/// iterations and salt (`-` when empty, RFC 5155 §3.3).
fn write_nsec3_parameters(out: &mut String, r: &mut Reader<'_>) -> Result<(), RdataError> {
    let algorithm = r.u8("hash algorithm")?;
    let flags = r.u8("flags")?;
    let iterations = r.u16("iterations")?;
    let salt = r.char_string("salt")?;
    let salt = if salt.is_empty() {
        "-".to_string()
    } else {
        HEXUPPER.encode(salt)
    };
    put!(out, "{algorithm} {flags} {iterations} {salt}");
    Ok(())
}

/// Appends the types of an NSEC/NSEC3 type bitmap, each after a space.
fn write_bitmap(out: &mut String, bitmap: &[u8]) -> Result<(), RdataError> {
    let present = crate::dnssec::bitmap::decode_type_bitmap(bitmap)
        .map_err(|error| RdataError::Invalid(format!("type bitmap: {error}")))?;
    for rtype in present {
        put!(out, " {}", types::type_to_string(rtype));
    }
    Ok(())
}

/// True if `rtype` has a text form other than the generic one.
fn has_text_form(rtype: u16) -> bool {
    matches!(
        rtype,
        A | NS
            | CNAME
            | SOA
            | PTR
            | HINFO
            | MX
            | TXT
            | RP
            | AAAA
            | LOC
            | SRV
            | NAPTR
            | DNAME
            | DS
            | SSHFP
            | DNSKEY
            | TLSA
            | CDS
            | CDNSKEY
            | SVCB
            | HTTPS
            | CAA
            | LUA
            | RRSIG
            | NSEC
            | NSEC3
            | NSEC3PARAM
    )
}

/// Splits one record's RDATA text into tokens: words and quoted strings, escapes kept.
///
/// A `"` ends a word and starts a quoted token, so `alpn="h2"` gives the word
/// `alpn=` followed by the quoted `h2`, as the zone-file lexer does.
fn tokenize(text: &str) -> Result<Vec<Token<'_>>, RdataError> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut pos = 0;
    while let Some(&b) = bytes.get(pos) {
        if b.is_ascii_whitespace() {
            pos += 1;
        } else if b == b'"' {
            let start = pos + 1;
            let end =
                quoted_end(bytes, start).ok_or_else(|| RdataError::Invalid("unterminated quoted string".into()))?;
            tokens.push(Token::quoted(slice(text, start, end)?));
            pos = end + 1;
        } else {
            let start = pos;
            while let Some(&b) = bytes.get(pos) {
                if b.is_ascii_whitespace() || b == b'"' {
                    break;
                }
                pos += if b == b'\\' { 2 } else { 1 };
            }
            pos = pos.min(bytes.len());
            tokens.push(Token::word(slice(text, start, pos)?));
        }
    }
    Ok(tokens)
}

/// Index of the `"` that closes a quoted string whose contents start at `start`.
fn quoted_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut pos = start;
    loop {
        match bytes.get(pos)? {
            b'\\' => pos += 2,
            b'"' => return Some(pos),
            _ => pos += 1,
        }
    }
}

/// `text[start..end]`, as an error instead of a panic if the bounds are not character boundaries.
fn slice(text: &str, start: usize, end: usize) -> Result<&str, RdataError> {
    text.get(start..end)
        .ok_or_else(|| RdataError::Invalid("escape splits a multi-byte character".into()))
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
    if has_text_form(rtype) {
        let mut scratch = String::new();
        write_rdata(&mut scratch, rtype, &data)
            .map_err(|e| RdataError::Invalid(format!("\\# data is not valid {}: {e}", types::type_to_string(rtype))))?;
    }
    Ok(data)
}

/// State for parsing one record's presentation RDATA.
struct Parser<'t, 'a> {
    /// The record type being parsed.
    rtype: u16,
    /// The RDATA tokens.
    tokens: &'t [Token<'a>],
    /// Origin for relative names, if known.
    origin: Option<&'t Name>,
    /// Wire RDATA built so far.
    out: Vec<u8>,
}

impl<'a> Parser<'_, 'a> {
    /// Parses all tokens according to the record type.
    fn parse(&mut self) -> Result<(), RdataError> {
        match self.rtype {
            A => {
                self.expect(1)?;
                let text = self.tokens[0].text;
                let ip: Ipv4Addr = text.parse().map_err(|_| RdataError::Address {
                    rtype: "A",
                    text: text.into(),
                    family: "IPv4",
                })?;
                self.out.extend_from_slice(&ip.octets());
            }
            AAAA => {
                self.expect(1)?;
                let text = self.tokens[0].text;
                let ip: Ipv6Addr = text.parse().map_err(|_| RdataError::Address {
                    rtype: "AAAA",
                    text: text.into(),
                    family: "IPv6",
                })?;
                self.out.extend_from_slice(&ip.octets());
            }
            NS => self.single_name("NS name server")?,
            CNAME => self.single_name("CNAME target")?,
            DNAME => self.single_name("DNAME target")?,
            PTR => self.single_name("PTR target")?,
            MX => {
                self.expect(2)?;
                self.u16(0, "MX preference")?;
                self.name(1, "MX exchange")?;
            }
            TXT => {
                self.expect_at_least(1)?;
                for i in 0..self.tokens.len() {
                    self.char_string(i, "TXT string")?;
                }
            }
            HINFO => {
                self.expect(2)?;
                self.char_string(0, "HINFO CPU")?;
                self.char_string(1, "HINFO OS")?;
            }
            RP => {
                self.expect(2)?;
                self.name(0, "RP mailbox")?;
                self.name(1, "RP TXT domain")?;
            }
            SOA => {
                self.expect(7)?;
                self.name(0, "SOA MNAME")?;
                self.name(1, "SOA RNAME")?;
                self.u32(2, "SOA serial")?;
                self.duration(3, "SOA refresh")?;
                self.duration(4, "SOA retry")?;
                self.duration(5, "SOA expire")?;
                self.duration(6, "SOA minimum")?;
            }
            SRV => {
                self.expect(4)?;
                self.u16(0, "SRV priority")?;
                self.u16(1, "SRV weight")?;
                self.u16(2, "SRV port")?;
                self.name(3, "SRV target")?;
            }
            CAA => self.caa()?,
            DS | CDS => {
                self.expect_at_least(4)?;
                self.u16(0, "DS key tag")?;
                self.u8(1, "DS algorithm")?;
                let digest_type = self.u8(2, "DS digest type")?;
                let digest = decode_hex(&self.tokens[3..], "DS digest")?;
                if let Some(wanted) = ds_digest_len(digest_type).filter(|&w| w != digest.len()) {
                    return Err(RdataError::Invalid(format!(
                        "DS digest type {digest_type} needs {wanted} octets, found {}",
                        digest.len()
                    )));
                }
                self.out.extend_from_slice(&digest);
            }
            DNSKEY | CDNSKEY => {
                self.expect_at_least(4)?;
                self.u16(0, "DNSKEY flags")?;
                self.u8(1, "DNSKEY protocol")?;
                self.u8(2, "DNSKEY algorithm")?;
                let key = decode_base64(&self.tokens[3..], "DNSKEY public key")?;
                self.out.extend_from_slice(&key);
            }
            SSHFP => {
                self.expect_at_least(3)?;
                self.u8(0, "SSHFP algorithm")?;
                self.u8(1, "SSHFP fingerprint type")?;
                let fingerprint = decode_hex(&self.tokens[2..], "SSHFP fingerprint")?;
                self.out.extend_from_slice(&fingerprint);
            }
            TLSA => {
                self.expect_at_least(4)?;
                self.u8(0, "TLSA certificate usage")?;
                self.u8(1, "TLSA selector")?;
                self.u8(2, "TLSA matching type")?;
                let data = decode_hex(&self.tokens[3..], "TLSA certificate association data")?;
                self.out.extend_from_slice(&data);
            }
            NAPTR => {
                self.expect(6)?;
                self.u16(0, "NAPTR order")?;
                self.u16(1, "NAPTR preference")?;
                self.char_string(2, "NAPTR flags")?;
                self.char_string(3, "NAPTR services")?;
                self.char_string(4, "NAPTR regexp")?;
                self.name(5, "NAPTR replacement")?;
            }
            LOC => parse_loc(self.tokens, &mut self.out)?,
            SVCB | HTTPS => self.svcb()?,
            LUA => self.lua()?,
            RRSIG => {
                self.expect_at_least(9)?;
                let covered = self.tokens[0].text;
                let covered = types::type_from_str(covered)
                    .ok_or_else(|| RdataError::Invalid(format!("RRSIG type covered {covered:?} is not a type")))?;
                self.out.extend_from_slice(&covered.to_be_bytes());
                self.u8(1, "RRSIG algorithm")?;
                self.u8(2, "RRSIG labels")?;
                self.u32(3, "RRSIG original TTL")?;
                for (i, field) in [(4, "RRSIG expiration"), (5, "RRSIG inception")] {
                    let text = self.tokens[i].text;
                    let time = parse_dnssec_time(text).ok_or_else(|| {
                        RdataError::Invalid(format!("{field} {text:?} is neither YYYYMMDDHHmmSS nor seconds"))
                    })?;
                    self.out.extend_from_slice(&time.to_be_bytes());
                }
                self.u16(6, "RRSIG key tag")?;
                self.name(7, "RRSIG signer")?;
                let signature = decode_base64(&self.tokens[8..], "RRSIG signature")?;
                self.out.extend_from_slice(&signature);
            }
            NSEC => {
                self.expect_at_least(1)?;
                self.name(0, "NSEC next owner")?;
                self.type_bitmap(1)?;
            }
            NSEC3 => {
                self.expect_at_least(5)?;
                self.u8(0, "NSEC3 hash algorithm")?;
                self.u8(1, "NSEC3 flags")?;
                self.u16(2, "NSEC3 iterations")?;
                self.salt(3)?;
                let text = self.tokens[4].text;
                let next = BASE32HEX_NOPAD
                    .decode(text.to_ascii_uppercase().as_bytes())
                    .ok()
                    .filter(|next| !next.is_empty() && next.len() <= 255)
                    .ok_or_else(|| RdataError::Invalid(format!("NSEC3 next hashed owner {text:?} is not base32hex")))?;
                self.out.push(next.len() as u8);
                self.out.extend_from_slice(&next);
                self.type_bitmap(5)?;
            }
            NSEC3PARAM => {
                self.expect(4)?;
                self.u8(0, "NSEC3PARAM hash algorithm")?;
                self.u8(1, "NSEC3PARAM flags")?;
                self.u16(2, "NSEC3PARAM iterations")?;
                self.salt(3)?;
            }
            other => {
                return Err(RdataError::GenericOnly {
                    rtype: types::type_to_string(other),
                })
            }
        }
        Ok(())
    }

    /// An NSEC3 salt: hex, or `-` for none (RFC 5155 §3.3).
    fn salt(&mut self, i: usize) -> Result<(), RdataError> {
        let salt = match self.tokens[i].text {
            "-" => Vec::new(),
            _ => decode_hex(&self.tokens[i..=i], "NSEC3 salt")?,
        };
        if salt.len() > 255 {
            return Err(RdataError::Invalid("NSEC3 salt is longer than 255 octets".into()));
        }
        self.out.push(salt.len() as u8);
        self.out.extend_from_slice(&salt);
        Ok(())
    }

    /// The type list of NSEC and NSEC3 from token `from` on (RFC 4034 §4.2).
    fn type_bitmap(&mut self, from: usize) -> Result<(), RdataError> {
        let mut present = Vec::with_capacity(self.tokens.len().saturating_sub(from));
        for token in &self.tokens[from..] {
            let rtype = types::type_from_str(token.text)
                .ok_or_else(|| RdataError::Invalid(format!("{:?} in the type list is not a type", token.text)))?;
            present.push(rtype);
        }
        self.out.extend_from_slice(&crate::dnssec::bitmap::type_bitmap(present));
        Ok(())
    }

    /// Errors unless there are exactly `n` tokens.
    fn expect(&self, n: usize) -> Result<(), RdataError> {
        if self.tokens.len() == n {
            return Ok(());
        }
        Err(RdataError::FieldCount {
            rtype: types::type_to_string(self.rtype),
            expected: if n == 1 {
                "1 field".into()
            } else {
                format!("{n} fields")
            },
            found: self.tokens.len(),
        })
    }

    /// Errors unless there are at least `n` tokens.
    fn expect_at_least(&self, n: usize) -> Result<(), RdataError> {
        if self.tokens.len() >= n {
            return Ok(());
        }
        Err(RdataError::FieldCount {
            rtype: types::type_to_string(self.rtype),
            expected: format!("at least {n} field{}", if n == 1 { "" } else { "s" }),
            found: self.tokens.len(),
        })
    }

    /// Token `i`, which the caller has checked exists.
    fn token(&self, i: usize) -> Result<&Token<'a>, RdataError> {
        self.tokens.get(i).ok_or_else(|| RdataError::FieldCount {
            rtype: types::type_to_string(self.rtype),
            expected: format!("at least {} fields", i + 1),
            found: self.tokens.len(),
        })
    }

    /// Appends token `i` as one octet.
    fn u8(&mut self, i: usize, field: &'static str) -> Result<u8, RdataError> {
        let value = number(self.token(i)?.text, field, "an 8-bit number", u64::from(u8::MAX))?;
        self.out.push(value as u8);
        Ok(value as u8)
    }

    /// Appends token `i` as a 16-bit number in network order.
    fn u16(&mut self, i: usize, field: &'static str) -> Result<(), RdataError> {
        let value = number(self.token(i)?.text, field, "a 16-bit number", u64::from(u16::MAX))?;
        self.out.extend_from_slice(&(value as u16).to_be_bytes());
        Ok(())
    }

    /// Appends token `i` as a 32-bit number in network order.
    fn u32(&mut self, i: usize, field: &'static str) -> Result<(), RdataError> {
        let value = number(self.token(i)?.text, field, "a 32-bit number", u64::from(u32::MAX))?;
        self.out.extend_from_slice(&(value as u32).to_be_bytes());
        Ok(())
    }

    /// Appends token `i`, seconds or a duration with units, as a 32-bit number.
    fn duration(&mut self, i: usize, field: &'static str) -> Result<(), RdataError> {
        let text = self.token(i)?.text;
        let value = parse_ttl(text).ok_or_else(|| RdataError::Number {
            field,
            kind: "a 32-bit number of seconds or a duration like 1h30m",
            text: text.into(),
        })?;
        self.out.extend_from_slice(&value.to_be_bytes());
        Ok(())
    }

    /// Appends token `i` as an uncompressed domain name.
    fn name(&mut self, i: usize, field: &'static str) -> Result<(), RdataError> {
        let text = self.token(i)?.text;
        let name = Name::parse(text, self.origin).map_err(|error| RdataError::Name {
            field,
            text: text.into(),
            error,
        })?;
        self.out.extend_from_slice(name.as_wire());
        Ok(())
    }

    /// Parses a record whose only field is a name.
    fn single_name(&mut self, field: &'static str) -> Result<(), RdataError> {
        self.expect(1)?;
        self.name(0, field)
    }

    /// Appends token `i` as a length-prefixed character-string (RFC 1035 §3.3).
    fn char_string(&mut self, i: usize, field: &'static str) -> Result<(), RdataError> {
        let text = self.token(i)?.text;
        let at = self.out.len();
        self.out.push(0);
        unescape_into(&mut self.out, text)?;
        let len = self.out.len() - at - 1;
        self.out[at] = u8::try_from(len).map_err(|_| RdataError::StringTooLong { field })?;
        Ok(())
    }

    /// CAA: flags, tag, value (RFC 8659 §4.1).
    fn caa(&mut self) -> Result<(), RdataError> {
        self.expect(3)?;
        self.u8(0, "CAA flags")?;
        let tag = self.tokens[1].text;
        if tag.is_empty() || tag.len() > 255 || !tag.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(RdataError::Invalid(format!(
                "CAA tag \"{tag}\" must be 1 to 255 letters and digits"
            )));
        }
        self.out.push(tag.len() as u8);
        self.out.extend_from_slice(tag.as_bytes());
        unescape_into(&mut self.out, self.tokens[2].text)
    }

    /// LUA: an embedded type, then code in one or more strings joined without
    /// separator; a string that is exactly one space is dropped, as PowerDNS 5
    /// does (`lua-records-insert-whitespace=no`).
    ///
    /// Wire format: the type as a 16-bit number, then the code (no length octet),
    /// as PowerDNS stores it.
    fn lua(&mut self) -> Result<(), RdataError> {
        self.expect_at_least(2)?;
        let type_text = self.tokens[0].text;
        let embedded = types::type_from_str(type_text)
            .ok_or_else(|| RdataError::Invalid(format!("LUA record type \"{type_text}\" is not a known type")))?;
        self.out.extend_from_slice(&embedded.to_be_bytes());
        for token in &self.tokens[1..] {
            if token.text == " " && self.tokens.len() > 2 {
                continue;
            }
            unescape_into(&mut self.out, token.text)?;
        }
        Ok(())
    }

    /// SVCB and HTTPS: priority, target, then SvcParams (RFC 9460 §2.1).
    ///
    /// Parameters go on the wire sorted by key (RFC 9460 §2.2); a repeated key
    /// is an error.
    fn svcb(&mut self) -> Result<(), RdataError> {
        self.expect_at_least(2)?;
        self.u16(0, "SvcPriority")?;
        self.name(1, "TargetName")?;
        let mut params: Vec<(u16, Vec<u8>)> = Vec::new();
        let tokens = self.tokens;
        let mut i = 2;
        while let Some(token) = tokens.get(i) {
            i += 1;
            if token.quoted {
                return Err(RdataError::Invalid(format!(
                    "expected a SvcParamKey, found the quoted string \"{}\"",
                    token.text
                )));
            }
            let (key, value) = match token.text.split_once('=') {
                None => (token.text, None),
                // `key="value"`: the lexer splits the quoted value into its own token.
                Some((key, "")) => match tokens.get(i) {
                    Some(next) if next.quoted => {
                        i += 1;
                        (key, Some(next.text))
                    }
                    _ => (key, Some("")),
                },
                Some((key, value)) => (key, Some(value)),
            };
            let key = svc_key_from_str(key)?;
            let value = match value {
                Some(text) => {
                    let mut bytes = Vec::new();
                    unescape_into(&mut bytes, text)?;
                    Some(bytes)
                }
                None => None,
            };
            params.push((key, svc_param_to_wire(key, value.as_deref())?));
        }
        params.sort_by_key(|&(key, _)| key);
        if let Some(pair) = params.windows(2).find(|pair| pair[0].0 == pair[1].0) {
            return Err(RdataError::Invalid(format!(
                "SvcParamKey {} appears more than once",
                SvcKey(pair[0].0)
            )));
        }
        // RFC 9460 §8: every key listed in mandatory must be present.
        if let Some((0, mandatory)) = params.first() {
            for key in mandatory.chunks_exact(2) {
                let key = u16::from_be_bytes([key[0], key[1]]);
                if params.binary_search_by_key(&key, |&(k, _)| k).is_err() {
                    return Err(RdataError::Invalid(format!(
                        "mandatory lists {} but the record does not have it",
                        SvcKey(key)
                    )));
                }
            }
        }
        for (key, value) in params {
            let len = u16::try_from(value.len())
                .map_err(|_| RdataError::Invalid(format!("SvcParam {} is longer than 65535 octets", SvcKey(key))))?;
            self.out.extend_from_slice(&key.to_be_bytes());
            self.out.extend_from_slice(&len.to_be_bytes());
            self.out.extend_from_slice(&value);
        }
        Ok(())
    }
}

/// Digest length for a DS digest type (RFC 4509 §2.2, RFC 6605 §2; SHA-1 from RFC 4034 §5.1.4), if known.
fn ds_digest_len(digest_type: u8) -> Option<usize> {
    match digest_type {
        1 => Some(20),
        2 => Some(32),
        4 => Some(48),
        _ => None,
    }
}

/// Parses a decimal number of at most `max`, for the field named `field`.
fn number(text: &str, field: &'static str, kind: &'static str, max: u64) -> Result<u64, RdataError> {
    parse_u64(text).filter(|&v| v <= max).ok_or_else(|| RdataError::Number {
        field,
        kind,
        text: text.into(),
    })
}

/// Parses plain decimal digits (no sign, no spaces) into a `u64`.
fn parse_u64(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.bytes()
        .try_fold(0u64, |v, d| v.checked_mul(10)?.checked_add(u64::from(d - b'0')))
}

/// Appends `text` with its escapes decoded: `\DDD` is the octet DDD, `\X` is X (RFC 1035 §5.1).
fn unescape_into(out: &mut Vec<u8>, text: &str) -> Result<(), RdataError> {
    let mut rest = text.as_bytes();
    while let Some(at) = rest.iter().position(|&b| b == b'\\') {
        out.extend_from_slice(&rest[..at]);
        let escape = &rest[at + 1..];
        match escape {
            [d, ..] if d.is_ascii_digit() => {
                let digits = escape.get(..3).filter(|d| d.iter().all(u8::is_ascii_digit));
                let value = digits.and_then(|d| {
                    let v = d.iter().fold(0u32, |v, &d| v * 10 + u32::from(d - b'0'));
                    u8::try_from(v).ok()
                });
                let Some(value) = value else {
                    let shown = String::from_utf8_lossy(&escape[..escape.len().min(3)]);
                    return Err(RdataError::Invalid(format!("bad escape \\{shown}")));
                };
                out.push(value);
                rest = &escape[3..];
            }
            [octet, tail @ ..] => {
                out.push(*octet);
                rest = tail;
            }
            [] => return Err(RdataError::Invalid("bad escape \\ at the end of a string".into())),
        }
    }
    out.extend_from_slice(rest);
    Ok(())
}

/// Decodes hex split over several tokens; either case is accepted.
fn decode_hex(tokens: &[Token<'_>], field: &str) -> Result<Vec<u8>, RdataError> {
    let joined: String = tokens.iter().map(|t| t.text).collect();
    HEXLOWER_PERMISSIVE
        .decode(joined.as_bytes())
        .map_err(|_| RdataError::Invalid(format!("{field} is not valid hexadecimal: \"{joined}\"")))
}

/// Decodes base64 (RFC 4648 §4, padded) split over several tokens.
fn decode_base64(tokens: &[Token<'_>], field: &str) -> Result<Vec<u8>, RdataError> {
    let joined: String = tokens.iter().map(|t| t.text).collect();
    BASE64
        .decode(joined.as_bytes())
        .map_err(|_| RdataError::Invalid(format!("{field} is not valid base64: \"{joined}\"")))
}

/// Cursor over wire RDATA for formatting.
struct Reader<'a> {
    /// The record type, for error messages.
    rtype: u16,
    /// The part not read yet.
    wire: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A [`RdataError::Malformed`] for this record type.
    fn malformed(&self, reason: impl Into<String>) -> RdataError {
        RdataError::Malformed {
            rtype: types::type_to_string(self.rtype),
            reason: reason.into(),
        }
    }

    /// The next `n` octets.
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], RdataError> {
        let Some((head, tail)) = self.wire.split_at_checked(n) else {
            return Err(self.malformed(format!("truncated {what}")));
        };
        self.wire = tail;
        Ok(head)
    }

    /// The next `N` octets as an array.
    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], RdataError> {
        let bytes = self.take(N, what)?;
        bytes
            .try_into()
            .map_err(|_| self.malformed(format!("truncated {what}")))
    }

    /// The next octet.
    fn u8(&mut self, what: &str) -> Result<u8, RdataError> {
        Ok(self.array::<1>(what)?[0])
    }

    /// The next 16-bit number.
    fn u16(&mut self, what: &str) -> Result<u16, RdataError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    /// The next 32-bit number.
    fn u32(&mut self, what: &str) -> Result<u32, RdataError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }

    /// The next uncompressed domain name.
    fn name(&mut self, what: &str) -> Result<Name, RdataError> {
        let (name, used) = Name::from_wire_prefix(self.wire).map_err(|e| self.malformed(format!("{what}: {e}")))?;
        self.wire = &self.wire[used..];
        Ok(name)
    }

    /// The next character-string, without its length octet.
    fn char_string(&mut self, what: &str) -> Result<&'a [u8], RdataError> {
        let len = self.u8(what)?;
        self.take(usize::from(len), what)
    }

    /// Everything not read yet.
    fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.wire)
    }

    /// Errors if anything is left unread.
    fn finish(&self) -> Result<(), RdataError> {
        if self.wire.is_empty() {
            return Ok(());
        }
        Err(self.malformed(format!("{} octets of trailing data", self.wire.len())))
    }
}

/// Appends `bytes` as a quoted character-string: `"` and `\` escaped, non-printable octets as `\DDD`.
fn write_quoted(out: &mut String, bytes: &[u8]) {
    out.push('"');
    for &b in bytes {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x20..=0x7e => out.push(char::from(b)),
            _ => put!(out, "\\{b:03}"),
        }
    }
    out.push('"');
}

/// Appends the generic form `\# <length> <HEX>` (RFC 3597 §5).
fn write_generic(out: &mut String, wire: &[u8]) {
    put!(out, "\\# {}", wire.len());
    if !wire.is_empty() {
        out.push(' ');
        out.push_str(&HEXUPPER.encode(wire));
    }
}

/// Formats CAA: `flags tag "value"` (RFC 8659 §4.1).
fn write_caa(out: &mut String, r: &mut Reader<'_>) -> Result<(), RdataError> {
    let flags = r.u8("flags")?;
    let tag_len = r.u8("tag length")?;
    let tag = r.take(usize::from(tag_len), "tag")?;
    if tag.is_empty() || !tag.iter().all(u8::is_ascii_alphanumeric) {
        return Err(r.malformed("tag must be 1 or more letters and digits"));
    }
    put!(out, "{flags} {} ", String::from_utf8_lossy(tag));
    write_quoted(out, r.rest());
    Ok(())
}

// ---------------------------------------------------------------------------
// LOC (RFC 1876)
// ---------------------------------------------------------------------------

/// 2^31: the wire value of the equator and of the prime meridian (RFC 1876 §2).
const LOC_EQUATOR: u32 = 1 << 31;

/// The wire altitude of 0 m: altitudes count in centimetres from 100,000 m below the reference (RFC 1876 §2).
const LOC_ALTITUDE_BASE: i64 = 10_000_000;

/// Parses LOC text (RFC 1876 §3) into wire format.
///
/// `d1 [m1 [s1]] N|S d2 [m2 [s2]] E|W alt[m] [siz[m] [hp[m] [vp[m]]]]`; size,
/// horizontal and vertical precision default to 1m, 10000m and 10m.
fn parse_loc(tokens: &[Token<'_>], out: &mut Vec<u8>) -> Result<(), RdataError> {
    let mut i = 0;
    let latitude = parse_coordinate(tokens, &mut i, "latitude", 90, ('N', 'S'))?;
    let longitude = parse_coordinate(tokens, &mut i, "longitude", 180, ('E', 'W'))?;
    let altitude = tokens.get(i).ok_or_else(|| missing_loc("altitude"))?;
    i += 1;
    let altitude_cm = parse_meters(altitude.text)
        .filter(|cm| (-LOC_ALTITUDE_BASE..=i64::from(u32::MAX) - LOC_ALTITUDE_BASE).contains(cm))
        .ok_or_else(|| {
            RdataError::Invalid(format!(
                "LOC altitude \"{}\" is not a number of metres from -100000.00 to 42849672.95",
                altitude.text
            ))
        })?;
    // Defaults of RFC 1876 §3: 1m, 10000m, 10m.
    let mut precision = [0x12u8, 0x16, 0x13];
    let fields = ["size", "horizontal precision", "vertical precision"];
    for (slot, field) in precision.iter_mut().zip(fields) {
        let Some(token) = tokens.get(i) else { break };
        i += 1;
        let cm = parse_meters(token.text)
            .filter(|cm| (0..=9_000_000_000).contains(cm))
            .ok_or_else(|| {
                RdataError::Invalid(format!(
                    "LOC {field} \"{}\" is not a number of metres from 0 to 90000000.00",
                    token.text
                ))
            })?;
        *slot = encode_loc_precision(cm as u64);
    }
    if let Some(extra) = tokens.get(i) {
        return Err(RdataError::Invalid(format!(
            "unexpected \"{}\" after the LOC vertical precision",
            extra.text
        )));
    }
    out.push(0); // VERSION
    out.extend_from_slice(&precision);
    out.extend_from_slice(&latitude.to_be_bytes());
    out.extend_from_slice(&longitude.to_be_bytes());
    let altitude = u32::try_from(altitude_cm + LOC_ALTITUDE_BASE)
        .map_err(|_| RdataError::Invalid("LOC altitude out of range".into()))?;
    out.extend_from_slice(&altitude.to_be_bytes());
    Ok(())
}

/// The error for LOC text that stops before `what`.
fn missing_loc(what: &str) -> RdataError {
    RdataError::Invalid(format!("LOC record is missing its {what}"))
}

/// Parses `deg [min [sec]] hemisphere` starting at token `*i`, returning the wire value (RFC 1876 §2).
fn parse_coordinate(
    tokens: &[Token<'_>],
    i: &mut usize,
    what: &str,
    max_degrees: u32,
    (positive, negative): (char, char),
) -> Result<u32, RdataError> {
    let degrees = tokens.get(*i).ok_or_else(|| missing_loc(what))?;
    *i += 1;
    let degrees = parse_u64(degrees.text)
        .filter(|&d| d <= u64::from(max_degrees))
        .ok_or_else(|| {
            RdataError::Invalid(format!(
                "LOC {what} degrees \"{}\" is not a number from 0 to {max_degrees}",
                degrees.text
            ))
        })?;
    let mut minutes = 0;
    let mut millis = 0;
    let mut step = 0;
    let north_or_east = loop {
        let token = tokens.get(*i).ok_or_else(|| missing_loc(what))?;
        *i += 1;
        if token.text.eq_ignore_ascii_case(positive.encode_utf8(&mut [0; 4])) {
            break true;
        }
        if token.text.eq_ignore_ascii_case(negative.encode_utf8(&mut [0; 4])) {
            break false;
        }
        match step {
            0 => {
                minutes = parse_u64(token.text).filter(|&m| m < 60).ok_or_else(|| {
                    RdataError::Invalid(format!(
                        "LOC {what} minutes \"{}\" is not a number from 0 to 59",
                        token.text
                    ))
                })?;
            }
            1 => {
                millis = parse_decimal(token.text, 3)
                    .filter(|ms| (0..60_000).contains(ms))
                    .ok_or_else(|| {
                        RdataError::Invalid(format!(
                            "LOC {what} seconds \"{}\" is not a number from 0 to 59.999",
                            token.text
                        ))
                    })?;
            }
            _ => {
                return Err(RdataError::Invalid(format!(
                    "expected {positive} or {negative} after the LOC {what}, found \"{}\"",
                    token.text
                )))
            }
        }
        step += 1;
    };
    let total = ((degrees * 60 + minutes) * 60) * 1000 + millis as u64;
    if total > u64::from(max_degrees) * 3_600_000 {
        return Err(RdataError::Invalid(format!(
            "LOC {what} is more than {max_degrees} degrees"
        )));
    }
    let total = total as u32; // at most 648,000,000
    Ok(if north_or_east {
        LOC_EQUATOR + total
    } else {
        LOC_EQUATOR - total
    })
}

/// Parses `[-]digits[.digits]` with at most `scale` fraction digits, as an integer in units of 10^-scale.
fn parse_decimal(text: &str, scale: u32) -> Option<i64> {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    if (int.is_empty() && frac.is_empty())
        || int.len() > 12
        || frac.len() > scale as usize
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let int = if int.is_empty() { 0 } else { parse_u64(int)? };
    let frac_value = if frac.is_empty() { 0 } else { parse_u64(frac)? };
    let value = int * 10u64.pow(scale) + frac_value * 10u64.pow(scale - frac.len() as u32);
    let value = i64::try_from(value).ok()?;
    Some(if negative { -value } else { value })
}

/// Parses metres with an optional `m` suffix into centimetres.
fn parse_meters(text: &str) -> Option<i64> {
    let number = text
        .strip_suffix('m')
        .or_else(|| text.strip_suffix('M'))
        .unwrap_or(text);
    parse_decimal(number, 2)
}

/// Encodes centimetres as the mantissa/exponent octet of RFC 1876 §2, rounding down as BIND does.
fn encode_loc_precision(cm: u64) -> u8 {
    let mut exponent = 0;
    while exponent < 9 && cm >= 10u64.pow(exponent + 1) {
        exponent += 1;
    }
    let mantissa = (cm / 10u64.pow(exponent)).min(9);
    ((mantissa as u8) << 4) | exponent as u8
}

/// Formats LOC in the canonical form BIND and Knot print, e.g. `52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000m 10m`.
fn write_loc(out: &mut String, r: &mut Reader<'_>) -> Result<(), RdataError> {
    let _version = r.u8("version")?;
    let size = r.u8("size")?;
    let horizontal = r.u8("horizontal precision")?;
    let vertical = r.u8("vertical precision")?;
    let latitude = r.u32("latitude")?;
    let longitude = r.u32("longitude")?;
    let altitude = r.u32("altitude")?;
    write_coordinate(out, r, latitude, 90, ('N', 'S'))?;
    out.push(' ');
    write_coordinate(out, r, longitude, 180, ('E', 'W'))?;
    let cm = i64::from(altitude) - LOC_ALTITUDE_BASE;
    let sign = if cm < 0 { "-" } else { "" };
    let cm = cm.unsigned_abs();
    put!(out, " {sign}{}.{:02}m", cm / 100, cm % 100);
    for octet in [size, horizontal, vertical] {
        let mantissa = u64::from(octet >> 4);
        let exponent = u32::from(octet & 0x0f);
        if mantissa > 9 || exponent > 9 {
            return Err(r.malformed(format!("precision octet 0x{octet:02x} is not valid")));
        }
        if exponent >= 2 {
            put!(out, " {}m", mantissa * 10u64.pow(exponent - 2));
        } else {
            let cm = mantissa * 10u64.pow(exponent);
            put!(out, " {}.{:02}m", cm / 100, cm % 100);
        }
    }
    Ok(())
}

/// Formats a wire latitude or longitude as `deg min sec.mmm hemisphere`.
fn write_coordinate(
    out: &mut String,
    r: &Reader<'_>,
    value: u32,
    max_degrees: u32,
    (positive, negative): (char, char),
) -> Result<(), RdataError> {
    let (hemisphere, millis) = if value >= LOC_EQUATOR {
        (positive, value - LOC_EQUATOR)
    } else {
        (negative, LOC_EQUATOR - value)
    };
    if millis > max_degrees * 3_600_000 {
        return Err(r.malformed(format!("coordinate beyond {max_degrees} degrees")));
    }
    put!(
        out,
        "{} {} {}.{:03} {hemisphere}",
        millis / 3_600_000,
        millis / 60_000 % 60,
        millis / 1000 % 60,
        millis % 1000
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// SVCB and HTTPS (RFC 9460)
// ---------------------------------------------------------------------------

/// SvcParamKeys with names (RFC 9460 §14.3.2, RFC 9461 §5, RFC 9540 §4).
const SVC_KEYS: &[(u16, &str)] = &[
    (0, "mandatory"),
    (1, "alpn"),
    (2, "no-default-alpn"),
    (3, "port"),
    (4, "ipv4hint"),
    (5, "ech"),
    (6, "ipv6hint"),
    (7, "dohpath"),
    (8, "ohttp"),
];

/// A SvcParamKey displayed by name, or as `keyNNNNN` (RFC 9460 §2.1).
struct SvcKey(u16);

impl fmt::Display for SvcKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match SVC_KEYS.iter().find(|&&(k, _)| k == self.0) {
            Some((_, name)) => f.write_str(name),
            None => write!(f, "key{}", self.0),
        }
    }
}

/// Parses a SvcParamKey name or `keyNNNNN`; key 65535 is reserved (RFC 9460 §14.3.2).
fn svc_key_from_str(text: &str) -> Result<u16, RdataError> {
    if let Some(&(key, _)) = SVC_KEYS.iter().find(|(_, name)| name.eq_ignore_ascii_case(text)) {
        return Ok(key);
    }
    let key = text
        .strip_prefix("key")
        .filter(|digits| digits.len() <= 5)
        .and_then(parse_u64)
        .and_then(|k| u16::try_from(k).ok())
        .ok_or_else(|| RdataError::Invalid(format!("unknown SvcParamKey \"{text}\"")))?;
    if key == u16::MAX {
        return Err(RdataError::Invalid("SvcParamKey key65535 is reserved".into()));
    }
    Ok(key)
}

/// Converts one SvcParam's unescaped presentation value to wire format (RFC 9460 §7, §8).
fn svc_param_to_wire(key: u16, value: Option<&[u8]>) -> Result<Vec<u8>, RdataError> {
    let needs_value = || RdataError::Invalid(format!("SvcParam {} needs a value", SvcKey(key)));
    let required = value.filter(|v| !v.is_empty());
    let mut wire = Vec::new();
    match key {
        0 => {
            let mut keys = Vec::new();
            for item in split_value_list(required.ok_or_else(needs_value)?)? {
                let listed = svc_key_from_str(&String::from_utf8_lossy(&item))?;
                if listed == 0 {
                    return Err(RdataError::Invalid("mandatory must not list itself".into()));
                }
                keys.push(listed);
            }
            keys.sort_unstable();
            if let Some(pair) = keys.windows(2).find(|pair| pair[0] == pair[1]) {
                return Err(RdataError::Invalid(format!(
                    "mandatory lists {} more than once",
                    SvcKey(pair[0])
                )));
            }
            for listed in keys {
                wire.extend_from_slice(&listed.to_be_bytes());
            }
        }
        1 => {
            for id in split_value_list(required.ok_or_else(needs_value)?)? {
                let len = u8::try_from(id.len())
                    .map_err(|_| RdataError::Invalid("alpn protocol id is longer than 255 octets".into()))?;
                wire.push(len);
                wire.extend_from_slice(&id);
            }
        }
        2 | 8 => {
            if value.is_some_and(|v| !v.is_empty()) {
                return Err(RdataError::Invalid(format!("SvcParam {} takes no value", SvcKey(key))));
            }
        }
        3 => {
            let text = String::from_utf8_lossy(required.ok_or_else(needs_value)?);
            let port = number(&text, "SvcParam port", "a 16-bit number", u64::from(u16::MAX))?;
            wire.extend_from_slice(&(port as u16).to_be_bytes());
        }
        4 | 6 => {
            for item in split_value_list(required.ok_or_else(needs_value)?)? {
                let text = String::from_utf8_lossy(&item);
                let octets: Option<Vec<u8>> = if key == 4 {
                    text.parse::<Ipv4Addr>().ok().map(|ip| ip.octets().to_vec())
                } else {
                    text.parse::<Ipv6Addr>().ok().map(|ip| ip.octets().to_vec())
                };
                let octets = octets
                    .ok_or_else(|| RdataError::Invalid(format!("{} \"{text}\" is not a valid address", SvcKey(key))))?;
                wire.extend_from_slice(&octets);
            }
        }
        5 => {
            let text = value.unwrap_or_default();
            wire = BASE64
                .decode(text)
                .map_err(|_| RdataError::Invalid("SvcParam ech is not valid base64".into()))?;
        }
        7 => wire.extend_from_slice(required.ok_or_else(needs_value)?),
        _ => wire.extend_from_slice(value.unwrap_or_default()),
    }
    Ok(wire)
}

/// Splits a value-list at unescaped commas; `\,` and `\\` stand for `,` and `\` (RFC 9460 Appendix A.1).
fn split_value_list(value: &[u8]) -> Result<Vec<Vec<u8>>, RdataError> {
    let mut items = Vec::new();
    let mut item = Vec::new();
    let mut bytes = value.iter();
    while let Some(&b) = bytes.next() {
        match b {
            b',' => items.push(std::mem::take(&mut item)),
            b'\\' => {
                let &escaped = bytes
                    .next()
                    .ok_or_else(|| RdataError::Invalid("value list ends in a backslash".into()))?;
                item.push(escaped);
            }
            _ => item.push(b),
        }
    }
    items.push(item);
    if items.iter().any(Vec::is_empty) {
        return Err(RdataError::Invalid("empty item in a SvcParam value list".into()));
    }
    Ok(items)
}

/// Formats SVCB or HTTPS: `priority target key=value...` (RFC 9460 §2.1).
fn write_svcb(out: &mut String, r: &mut Reader<'_>) -> Result<(), RdataError> {
    let priority = r.u16("SvcPriority")?;
    put!(out, "{priority} {}", r.name("TargetName")?);
    let mut previous: Option<u16> = None;
    while !r.wire.is_empty() {
        let key = r.u16("SvcParamKey")?;
        let len = r.u16("SvcParam length")?;
        let value = r.take(usize::from(len), "SvcParamValue")?;
        if previous.is_some_and(|p| p >= key) {
            return Err(r.malformed("SvcParamKeys are not in strictly increasing order"));
        }
        previous = Some(key);
        let bad = |r: &Reader<'_>| r.malformed(format!("bad value for SvcParam {}", SvcKey(key)));
        put!(out, " {}", SvcKey(key));
        match key {
            0 => {
                // RFC 9460 §8: a non-empty list of keys in strictly increasing order.
                let keys = value.chunks_exact(2).map(|k| u16::from_be_bytes([k[0], k[1]]));
                let increasing = keys.clone().zip(keys.skip(1)).all(|(a, b)| a < b);
                if value.is_empty() || value.len() % 2 != 0 || !increasing {
                    return Err(bad(r));
                }
                for (i, listed) in value.chunks_exact(2).enumerate() {
                    out.push(if i == 0 { '=' } else { ',' });
                    put!(out, "{}", SvcKey(u16::from_be_bytes([listed[0], listed[1]])));
                }
            }
            1 => {
                let mut ids = value;
                if ids.is_empty() {
                    return Err(bad(r));
                }
                out.push_str("=\"");
                let mut first = true;
                while let Some((&len, rest)) = ids.split_first() {
                    let Some((id, rest)) = rest.split_at_checked(usize::from(len)) else {
                        return Err(bad(r));
                    };
                    if id.is_empty() {
                        return Err(bad(r));
                    }
                    if !first {
                        out.push(',');
                    }
                    first = false;
                    write_alpn_id(out, id);
                    ids = rest;
                }
                out.push('"');
            }
            2 | 8 => {
                if !value.is_empty() {
                    return Err(bad(r));
                }
            }
            3 => {
                let port: [u8; 2] = value.try_into().map_err(|_| bad(r))?;
                put!(out, "={}", u16::from_be_bytes(port));
            }
            4 => {
                if value.is_empty() || value.len() % 4 != 0 {
                    return Err(bad(r));
                }
                for (i, ip) in value.chunks_exact(4).enumerate() {
                    let ip: [u8; 4] = ip.try_into().map_err(|_| bad(r))?;
                    out.push(if i == 0 { '=' } else { ',' });
                    put!(out, "{}", Ipv4Addr::from(ip));
                }
            }
            6 => {
                if value.is_empty() || value.len() % 16 != 0 {
                    return Err(bad(r));
                }
                for (i, ip) in value.chunks_exact(16).enumerate() {
                    let ip: [u8; 16] = ip.try_into().map_err(|_| bad(r))?;
                    out.push(if i == 0 { '=' } else { ',' });
                    put!(out, "{}", Ipv6Addr::from(ip));
                }
            }
            5 => {
                out.push('=');
                write_quoted(out, BASE64.encode(value).as_bytes());
            }
            _ => {
                if !value.is_empty() || key == 7 {
                    out.push('=');
                    write_quoted(out, value);
                }
            }
        }
    }
    Ok(())
}

/// Appends an alpn id for use inside a quoted value: commas and backslashes escaped twice (RFC 9460 Appendix A.1).
fn write_alpn_id(out: &mut String, id: &[u8]) {
    for &b in id {
        match b {
            b',' => out.push_str("\\\\,"),
            b'\\' => out.push_str("\\\\\\\\"),
            b'"' => out.push_str("\\\""),
            0x20..=0x7e => out.push(char::from(b)),
            _ => put!(out, "\\{b:03}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The origin used for relative names in these tests.
    fn origin() -> Name {
        "example.com.".parse().expect("valid origin")
    }

    /// Parses RDATA text relative to [`origin`].
    fn parse(rtype: u16, text: &str) -> Result<Vec<u8>, RdataError> {
        parse_rdata_text(rtype, text, &origin())
    }

    /// Parses RDATA text that must be valid.
    fn ok(rtype: u16, text: &str) -> Vec<u8> {
        parse(rtype, text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    /// Parses RDATA text that must be rejected, returning the message.
    fn err(rtype: u16, text: &str) -> String {
        match parse(rtype, text) {
            Ok(wire) => panic!("{text} parsed to {wire:02x?}"),
            Err(e) => e.to_string(),
        }
    }

    /// Parses, formats, and checks the formatted text parses to the same wire.
    fn round_trip(rtype: u16, text: &str) -> String {
        let wire = ok(rtype, text);
        let shown = format_rdata(rtype, &wire).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(ok(rtype, &shown), wire, "{text} -> {shown}");
        shown
    }

    #[test]
    fn round_trips_representative_records() {
        let cases: &[(u16, &str, &str)] = &[
            (A, "192.0.2.1", "192.0.2.1"),
            (AAAA, "2001:DB8::1", "2001:db8::1"),
            (AAAA, "::ffff:192.0.2.1", "::ffff:192.0.2.1"),
            (NS, "ns1", "ns1.example.com."),
            (CNAME, "@", "example.com."),
            (DNAME, "other.test.", "other.test."),
            (PTR, "host\\.name.example.", "host\\.name.example."),
            (MX, "10 mail", "10 mail.example.com."),
            (TXT, "hello", "\"hello\""),
            (TXT, "\"a b\" c \"\"", "\"a b\" \"c\" \"\""),
            (TXT, "\"q\\\"uote\\\\ \\000\\255é\"", "\"q\\\"uote\\\\ \\000\\255\\195\\169\""),
            (HINFO, "\"PC\" Linux", "\"PC\" \"Linux\""),
            (RP, "admin.example.com. txt", "admin.example.com. txt.example.com."),
            (
                SOA,
                "ns1 hostmaster 2024010101 1h30m 15M 2w 300",
                "ns1.example.com. hostmaster.example.com. 2024010101 5400 900 1209600 300",
            ),
            (SRV, "0 5 5060 sip", "0 5 5060 sip.example.com."),
            (CAA, "0 issue letsencrypt.org", "0 issue \"letsencrypt.org\""),
            (CAA, "128 iodef \"mailto:a@b\"", "128 iodef \"mailto:a@b\""),
            (CAA, "0 issue \"\"", "0 issue \"\""),
            (DS, "60485 5 1 2BB183AF5F22588179A53B0A 98631FAD1A292118", "60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118"),
            (CDS, "0 0 0 00", "0 0 0 00"),
            (
                DNSKEY,
                "256 3 5 AQPSKmynfzW4kyBv015MUG2DeIQ3 Cbl+BBZH4b/0PY1kxkmvHjcZc8no kfzj31GajIQKY+5CptLr3buXA10h WqTkF7H6RfoRqXQeogmMHfpftf6z Mv1LyBUgia7za6ZEzOJBOztyvhjL 742iU/TpPSEDhm2SNKLijfUppn1U aNvv4w==",
                "256 3 5 AQPSKmynfzW4kyBv015MUG2DeIQ3Cbl+BBZH4b/0PY1kxkmvHjcZc8nokfzj31GajIQKY+5CptLr3buXA10hWqTkF7H6RfoRqXQeogmMHfpftf6zMv1LyBUgia7za6ZEzOJBOztyvhjL742iU/TpPSEDhm2SNKLijfUppn1UaNvv4w==",
            ),
            (CDNSKEY, "0 3 0 AA==", "0 3 0 AA=="),
            (SSHFP, "4 2 abcdef01 23", "4 2 ABCDEF0123"),
            (TLSA, "3 1 1 d2abde240d7cd3ee6b4b28c54df034b9 7983a1d16e8a410e4561cb106618e971", "3 1 1 D2ABDE240D7CD3EE6B4B28C54DF034B97983A1D16E8A410E4561CB106618E971"),
            (
                NAPTR,
                "100 10 S \"SIP+D2U\" \"!^.*$!sip:info@example.com!\" _sip._udp",
                "100 10 \"S\" \"SIP+D2U\" \"!^.*$!sip:info@example.com!\" _sip._udp.example.com.",
            ),
            (NAPTR, "100 50 \"a\" \"z3950+N2L+N2C\" \"\" .", "100 50 \"a\" \"z3950+N2L+N2C\" \"\" ."),
            (
                LOC,
                "52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000m 10m",
                "52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000m 10m",
            ),
            (LOC, "42 21 54 N 71 06 18 W -24m 30m", "42 21 54.000 N 71 6 18.000 W -24.00m 30m 10000m 10m"),
            (LOC, "42 21 43.952 N 71 5 6.344 W -24m 1m 200m", "42 21 43.952 N 71 5 6.344 W -24.00m 1m 200m 10m"),
            (LOC, "0 N 0 E 0", "0 0 0.000 N 0 0 0.000 E 0.00m 1m 10000m 10m"),
            (LOC, "90 S 180 W 42849672.95m 90000000m 0.5m 15", "90 0 0.000 S 180 0 0.000 W 42849672.95m 90000000m 0.50m 10m"),
            (SVCB, "1 . alpn=h2,h3 port=443", "1 . alpn=\"h2,h3\" port=443"),
            (HTTPS, "0 svc", "0 svc.example.com."),
            (
                HTTPS,
                "1 . ech=\"AEX+DQBBpQAgACBTCnWRjwqXmUE1oWD8K9nrvJbv7lwqkcFGAKg14mD8XgAEAAEAAQASY2xvdWRmbGFyZS1lY2guY29tAAA=\" ipv6hint=2001:db8::1 ipv4hint=192.0.2.1,192.0.2.2 no-default-alpn alpn=h2 mandatory=alpn key65000 key65001=\"x y\" dohpath=\"/q{?dns}\" ohttp",
                "1 . mandatory=alpn alpn=\"h2\" no-default-alpn ipv4hint=192.0.2.1,192.0.2.2 ech=\"AEX+DQBBpQAgACBTCnWRjwqXmUE1oWD8K9nrvJbv7lwqkcFGAKg14mD8XgAEAAEAAQASY2xvdWRmbGFyZS1lY2guY29tAAA=\" ipv6hint=2001:db8::1 dohpath=\"/q{?dns}\" ohttp key65000 key65001=\"x y\"",
            ),
            (LUA, "A \"ifportup(443, {'192.0.2.1', '192.0.2.2'})\"", "A \"ifportup(443, {'192.0.2.1', '192.0.2.2'})\""),
            (LUA, "CNAME \"a\" \" \\\"b\\\"\" \"\\\\c\"", "CNAME \"a \\\"b\\\"\\\\c\""),
            (LUA, "TXT \"'foo\" \" \" \"bar'\"", "TXT \"'foobar'\""),
            (65280, "\\# 3 abcdef", "\\# 3 ABCDEF"),
            (65280, "\\# 0", "\\# 0"),
            (A, "\\# 4 C0000201", "192.0.2.1"),
            (TXT, "\\# 4 03616263", "\"abc\""),
            (NSEC3PARAM, "\\# 5 0100000000", "1 0 0 -"),
            (NSEC3PARAM, "1 0 10 AABBCCDD", "1 0 10 AABBCCDD"),
            (NSEC, "host.example.com. A MX RRSIG NSEC TYPE1234", "host.example.com. A MX RRSIG NSEC TYPE1234"),
            (
                NSEC3,
                "1 1 12 aabbccdd 2vptu5timamqttgl4luu9kg21e0aor3s A RRSIG",
                "1 1 12 AABBCCDD 2VPTU5TIMAMQTTGL4LUU9KG21E0AOR3S A RRSIG",
            ),
            (
                RRSIG,
                "A 13 3 3600 20261217000000 20261125000000 60789 example.test. AAECAw==",
                "A 13 3 3600 20261217000000 20261125000000 60789 example.test. AAECAw==",
            ),
        ];
        for &(rtype, input, expected) in cases {
            assert_eq!(round_trip(rtype, input), expected, "{input}");
        }
    }

    #[test]
    fn rfc9460_appendix_d_vectors() {
        let cases: &[(&str, &str)] = &[
            ("0 foo.example.com.", "0000 03666f6f076578616d706c6503636f6d00"),
            ("1 .", "0001 00"),
            ("16 foo.example.com. port=53", "0010 03666f6f076578616d706c6503636f6d00 0003 0002 0035"),
            ("1 foo.example.com. key667=hello", "0001 03666f6f076578616d706c6503636f6d00 029b 0005 68656c6c6f"),
            (
                "1 foo.example.com. key667=\"hello\\210qoo\"",
                "0001 03666f6f076578616d706c6503636f6d00 029b 0009 68656c6c6fd2716f6f",
            ),
            (
                "1 foo.example.com. ipv6hint=\"2001:db8::1,2001:db8::53:1\"",
                "0001 03666f6f076578616d706c6503636f6d00 0006 0020 20010db8000000000000000000000001 20010db8000000000000000000530001",
            ),
            (
                "1 example.com. ipv6hint=\"2001:db8:122:344::192.0.2.33\"",
                "0001 076578616d706c6503636f6d00 0006 0010 20010db80122034400000000c0000221",
            ),
            (
                "16 foo.example.org. (alpn=h2,h3-19 mandatory=ipv4hint,alpn ipv4hint=192.0.2.1)",
                "",
            ),
            (
                "16 foo.example.org. alpn=\"f\\\\\\\\oo\\\\,bar,h2\"",
                "0010 03666f6f076578616d706c65036f726700 0001 000c 08 665c6f6f2c626172 02 6832",
            ),
            (
                "16 foo.example.org. alpn=f\\\\\\092oo\\092,bar,h2",
                "0010 03666f6f076578616d706c65036f726700 0001 000c 08 665c6f6f2c626172 02 6832",
            ),
        ];
        for &(text, hex) in cases {
            if hex.is_empty() {
                continue; // parenthesised form: only the zone-file lexer accepts it
            }
            let want = HEXLOWER_PERMISSIVE
                .decode(hex.replace(' ', "").as_bytes())
                .expect("valid test hex");
            assert_eq!(ok(SVCB, text), want, "{text}");
            let shown = format_rdata(SVCB, &want).expect("formats");
            assert_eq!(ok(SVCB, &shown), want, "{shown}");
        }
        let tokens = [
            Token::word("16"),
            Token::word("foo.example.org."),
            Token::word("alpn=h2,h3-19"),
            Token::word("mandatory=ipv4hint,alpn"),
            Token::word("ipv4hint=192.0.2.1"),
        ];
        let want = HEXLOWER_PERMISSIVE
            .decode(
                "0010 03666f6f076578616d706c65036f726700 0000 0004 00010004 0001 0009 026832 05 68332d3139 0004 0004 c0000201"
                    .replace(' ', "")
                    .as_bytes(),
            )
            .expect("valid test hex");
        assert_eq!(parse_rdata(SVCB, &tokens, &origin()).unwrap(), want);
        assert_eq!(
            format_rdata(SVCB, &want).unwrap(),
            "16 foo.example.org. mandatory=alpn,ipv4hint alpn=\"h2,h3-19\" ipv4hint=192.0.2.1"
        );
        // Appendix D.3: failure cases.
        for text in [
            "1 foo.example.com. key123=abc key123=def",
            "1 foo.example.com. mandatory",
            "1 foo.example.com. alpn",
            "1 foo.example.com. port",
            "1 foo.example.com. ipv4hint",
            "1 foo.example.com. ipv6hint",
            "1 foo.example.com. no-default-alpn=abc",
            "1 foo.example.com. mandatory=key123",
            "1 foo.example.com. mandatory=mandatory",
            "1 foo.example.com. mandatory=key123,key123 key123=abc",
        ] {
            assert!(parse(SVCB, text).is_err(), "{text}");
        }
    }

    #[test]
    fn rfc1876_example_wire() {
        // The Amsterdam example printed in canonical form, checked by hand against RFC 1876 §2.
        let wire = ok(LOC, "52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000m 10m");
        assert_eq!(
            wire,
            [0, 0x00, 0x16, 0x13, 0x8b, 0x3c, 0xf0, 0x18, 0x81, 0x0c, 0xbc, 0xe0, 0x00, 0x98, 0x95, 0xb8]
        );
    }

    #[test]
    fn precise_error_messages() {
        assert_eq!(err(MX, "x mail"), "MX preference is not a 16-bit number: \"x\"");
        assert_eq!(err(MX, "65536 mail"), "MX preference is not a 16-bit number: \"65536\"");
        assert_eq!(err(A, "1.2.3"), "A address \"1.2.3\" is not an IPv4 address");
        assert_eq!(err(AAAA, "1.2.3.4"), "AAAA address \"1.2.3.4\" is not an IPv6 address");
        assert_eq!(err(SRV, "1 2"), "expected 4 fields for SRV, found 2");
        assert_eq!(err(DS, "1 2"), "expected at least 4 fields for DS, found 2");
        assert_eq!(err(A, ""), "expected 1 field for A, found 0");
        assert_eq!(err(CNAME, "a..b"), "CNAME target \"a..b\": empty label");
        assert_eq!(
            err(TXT, &format!("\"{}\"", "x".repeat(256))),
            "TXT string is longer than 255 octets"
        );
        assert_eq!(ok(TXT, &format!("\"{}\"", "x".repeat(255))).len(), 256);
        assert_eq!(err(TXT, "\"a\\25\""), "bad escape \\25");
        assert_eq!(err(TXT, "a\\"), "bad escape \\ at the end of a string");
        assert_eq!(err(TXT, "\"open"), "unterminated quoted string");
        assert_eq!(
            err(SOA, "a b 1 1x 1 1 1"),
            "SOA refresh is not a 32-bit number of seconds or a duration like 1h30m: \"1x\""
        );
        assert_eq!(err(DS, "1 8 2 abcd"), "DS digest type 2 needs 32 octets, found 2");
        assert_eq!(err(DS, "1 8 2 xyz"), "DS digest is not valid hexadecimal: \"xyz\"");
        assert_eq!(
            err(CAA, "0 is-sue x"),
            "CAA tag \"is-sue\" must be 1 to 255 letters and digits"
        );
        assert_eq!(
            err(65280, "abc"),
            "TYPE65280 has no text form here; write it as \\# <length> <hex> (RFC 3597 §5)"
        );
        assert_eq!(
            err(65280, "\\# 2 abcdef"),
            "\\# length 2 does not match the 3 octets of data"
        );
        assert_eq!(err(65280, "\\# 1 a"), "\\# data is not valid hexadecimal: \"a\"");
        assert_eq!(err(65280, "\\#"), "\\# needs a length");
        assert_eq!(
            err(A, "\\# 3 010203"),
            "\\# data is not valid A: malformed A RDATA: truncated address"
        );
        assert_eq!(
            err(ANY, "\\# 0"),
            "ANY is a meta-type and cannot be stored in a zone (RFC 6895 §3.1)"
        );
        assert_eq!(err(LUA, "BOGUS \"x\""), "LUA record type \"BOGUS\" is not a known type");
        assert_eq!(
            err(LOC, "91 N 0 E 0"),
            "LOC latitude degrees \"91\" is not a number from 0 to 90"
        );
        assert_eq!(err(LOC, "90 0 1 N 0 E 0"), "LOC latitude is more than 90 degrees");
        assert_eq!(
            err(LOC, "1 60 N 0 E 0"),
            "LOC latitude minutes \"60\" is not a number from 0 to 59"
        );
        assert_eq!(err(LOC, "1 N 0 E"), "LOC record is missing its altitude");
        assert_eq!(
            err(LOC, "1 N 0 E 0 1 1 1 1"),
            "unexpected \"1\" after the LOC vertical precision"
        );
        assert_eq!(
            err(SVCB, "1 . port=99999"),
            "SvcParam port is not a 16-bit number: \"99999\""
        );
        assert_eq!(err(SVCB, "1 . bogus=1"), "unknown SvcParamKey \"bogus\"");
        assert_eq!(err(SVCB, "1 . key65535"), "SvcParamKey key65535 is reserved");
        assert_eq!(
            err(SVCB, "1 . port=1 port=2"),
            "SvcParamKey port appears more than once"
        );
        let no_origin = parse_rdata_in(NS, &[Token::word("ns1")], None).unwrap_err();
        assert_eq!(
            no_origin.to_string(),
            "NS name server \"ns1\": relative name but no origin is known"
        );
    }

    #[test]
    fn rejects_malformed_wire() {
        let bad: &[(u16, &[u8])] = &[
            (A, &[1, 2, 3]),
            (A, &[1, 2, 3, 4, 5]),
            (NS, &[3, b'a']),
            (MX, &[0, 10, 0xc0, 12]),
            (TXT, &[]),
            (TXT, &[5, b'a']),
            (SOA, &[0, 0, 1, 2, 3]),
            (CAA, &[0, 0]),
            (CAA, &[0, 1, b'-']),
            (LOC, &[0, 0xa0, 0, 0]),
            (LOC, &[0, 0x12, 0x16, 0x13, 0, 0, 0, 0, 0x80, 0, 0, 0, 0, 0, 0, 0]),
            (SVCB, &[0, 1, 0, 0, 3, 0, 2, 0, 53, 0, 3, 0, 2, 0, 53]),
            (SVCB, &[0, 1, 0, 0, 3, 0, 1, 0]),
            (SVCB, &[0, 1, 0, 0, 1, 0, 2, 0, 0]),
            (HTTPS, &[0, 1, 0, 0, 4, 0, 3, 1, 2, 3]),
            (LUA, &[0]),
            (
                SVCB,
                &[0, 1, 0, 0, 0, 0, 4, 0, 3, 0, 1, 0, 1, 0, 1, b'x', 0, 3, 0, 2, 0, 53],
            ),
        ];
        for &(rtype, wire) in bad {
            assert!(
                format_rdata(rtype, wire).is_err(),
                "{} {wire:02x?}",
                types::type_to_string(rtype)
            );
        }
    }

    #[test]
    fn unexpressible_data_uses_generic_form() {
        assert_eq!(format_rdata(DS, &[0, 1, 8, 2]).unwrap(), "\\# 4 00010802");
        assert_eq!(format_rdata(DNSKEY, &[1, 1, 3, 8]).unwrap(), "\\# 4 01010308");
        assert_eq!(format_rdata(DS, &[0, 1, 8, 2, 0xab]).unwrap(), "\\# 5 00010802AB");
        assert_eq!(format_rdata(LOC, &[1, 2, 3]).unwrap(), "\\# 3 010203");
        assert_eq!(format_rdata(65280, &[]).unwrap(), "\\# 0");
        assert_eq!(ok(DS, "\\# 4 00010802"), [0, 1, 8, 2]);
    }

    #[test]
    fn ttl_units() {
        assert_eq!(parse_ttl("0"), Some(0));
        assert_eq!(parse_ttl("3600"), Some(3600));
        assert_eq!(parse_ttl("1h30m"), Some(5400));
        assert_eq!(parse_ttl("2W"), Some(1_209_600));
        assert_eq!(parse_ttl("1d1h1m1s"), Some(90061));
        assert_eq!(parse_ttl("4294967295"), Some(u32::MAX));
        assert_eq!(parse_ttl("4294967296"), None);
        assert_eq!(parse_ttl("7102w"), None);
        assert_eq!(parse_ttl("1h30"), None);
        assert_eq!(parse_ttl("h"), None);
        assert_eq!(parse_ttl(""), None);
        assert_eq!(parse_ttl("-1"), None);
        assert_eq!(parse_ttl("1y"), None);
    }

    #[test]
    fn tokenizer() {
        let tokens = tokenize("a \"b c\" d\\ e alpn=\"h2\" ;(x)").unwrap();
        assert_eq!(
            tokens,
            [
                Token::word("a"),
                Token::quoted("b c"),
                Token::word("d\\ e"),
                Token::word("alpn="),
                Token::quoted("h2"),
                Token::word(";(x)"),
            ]
        );
        assert_eq!(tokenize("\"a\\\"b\"").unwrap(), [Token::quoted("a\\\"b")]);
        assert_eq!(tokenize("é\\é").unwrap(), [Token::word("é\\é")]);
    }
}
