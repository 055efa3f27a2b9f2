//! DNSSEC records (RFC 4034, RFC 5155, RFC 7344): DS and CDS, DNSKEY and
//! CDNSKEY, RRSIG, NSEC, NSEC3 and NSEC3PARAM.
//!
//! A secured zone makes its own DNSSEC records; these forms serve signed
//! exports, DS sets handed to parents, and what other servers send.

use std::fmt::Write as _;

use data_encoding::{BASE32HEX_NOPAD, BASE64, HEXUPPER};

use super::read::Reader;
use super::scan::{decode_base64, decode_hex, Parser};
use super::RdataError;
use crate::bitmap::type_bitmap;
use crate::dnskey::DigestType;
use crate::types;

/// DS and CDS (RFC 4034 §5.3): key tag, algorithm, digest type, digest in
/// hex, which must have its type's length when the type is known.
pub(super) fn parse_ds(p: &mut Parser<'_, '_>) -> Result<(), RdataError> {
    p.expect_at_least(4)?;
    p.u16(0, "DS key tag")?;
    p.u8(1, "DS algorithm")?;
    let digest_type = p.u8(2, "DS digest type")?;
    let digest = decode_hex(&p.tokens[3..], "DS digest")?;
    if let Some(wanted) = digest_len(digest_type).filter(|&wanted| wanted != digest.len()) {
        return Err(RdataError::Invalid(format!(
            "DS digest type {digest_type} needs {wanted} octets, found {}",
            digest.len()
        )));
    }
    p.out.extend_from_slice(&digest);
    Ok(())
}

/// Whether DS RDATA has a text form: a digest, of its type's length when
/// the type is known.
pub(super) fn ds_expressible(wire: &[u8]) -> bool {
    wire.len() > 4 && digest_len(wire[3]).is_none_or(|len| len == wire.len() - 4)
}

pub(super) fn write_ds(out: &mut String, r: &mut Reader<'_>) -> Result<(), RdataError> {
    let key_tag = r.u16("key tag")?;
    let algorithm = r.u8("algorithm")?;
    let digest_type = r.u8("digest type")?;
    put!(out, "{key_tag} {algorithm} {digest_type} ");
    out.push_str(&HEXUPPER.encode(r.rest()));
    Ok(())
}

/// The digest length of a known DS digest type.
fn digest_len(digest_type: u8) -> Option<usize> {
    DigestType::from_number(digest_type).map(DigestType::digest_len)
}

/// DNSKEY and CDNSKEY (RFC 4034 §2.2): flags, protocol, algorithm, public
/// key in base64.
pub(super) fn parse_dnskey(p: &mut Parser<'_, '_>) -> Result<(), RdataError> {
    p.expect_at_least(4)?;
    p.u16(0, "DNSKEY flags")?;
    p.u8(1, "DNSKEY protocol")?;
    p.u8(2, "DNSKEY algorithm")?;
    let key = decode_base64(&p.tokens[3..], "DNSKEY public key")?;
    p.out.extend_from_slice(&key);
    Ok(())
}

pub(super) fn write_dnskey(out: &mut String, r: &mut Reader<'_>) -> Result<(), RdataError> {
    let flags = r.u16("flags")?;
    let protocol = r.u8("protocol")?;
    let algorithm = r.u8("algorithm")?;
    put!(out, "{flags} {protocol} {algorithm} ");
    out.push_str(&BASE64.encode(r.rest()));
    Ok(())
}

/// RRSIG (RFC 4034 §3.2): type covered, algorithm, labels, original TTL,
/// expiration, inception, key tag, signer, signature in base64.
pub(super) fn parse_rrsig(p: &mut Parser<'_, '_>) -> Result<(), RdataError> {
    p.expect_at_least(9)?;
    let covered = p.tokens[0].text;
    let covered = types::type_from_str(covered)
        .ok_or_else(|| RdataError::Invalid(format!("RRSIG type covered {covered:?} is not a type")))?;
    p.out.extend_from_slice(&covered.to_be_bytes());
    p.u8(1, "RRSIG algorithm")?;
    p.u8(2, "RRSIG labels")?;
    p.u32(3, "RRSIG original TTL")?;
    for (i, field) in [(4, "RRSIG expiration"), (5, "RRSIG inception")] {
        let text = p.tokens[i].text;
        let time = parse_dnssec_time(text)
            .ok_or_else(|| RdataError::Invalid(format!("{field} {text:?} is neither YYYYMMDDHHmmSS nor seconds")))?;
        p.out.extend_from_slice(&time.to_be_bytes());
    }
    p.u16(6, "RRSIG key tag")?;
    p.name(7, "RRSIG signer")?;
    let signature = decode_base64(&p.tokens[8..], "RRSIG signature")?;
    p.out.extend_from_slice(&signature);
    Ok(())
}

/// Whether RRSIG RDATA has a text form: a signature after the signer's
/// name, which base64 has nothing to write for when it is empty.
pub(super) fn rrsig_expressible(wire: &[u8]) -> bool {
    crate::name::wire::skip_name(wire, 18).is_some_and(|end| end < wire.len())
}

pub(super) fn write_rrsig(out: &mut String, r: &mut Reader<'_>) -> Result<(), RdataError> {
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
    Ok(())
}

/// NSEC (RFC 4034 §4.2): next owner, then the types present.
pub(super) fn parse_nsec(p: &mut Parser<'_, '_>) -> Result<(), RdataError> {
    p.expect_at_least(1)?;
    p.name(0, "NSEC next owner")?;
    parse_type_list(p, 1)
}

pub(super) fn write_nsec(out: &mut String, r: &mut Reader<'_>) -> Result<(), RdataError> {
    put!(out, "{}", r.name("next owner")?);
    write_type_list(out, r.rest())
}

/// NSEC3 (RFC 5155 §3.3): hash algorithm, flags, iterations, salt, next
/// hashed owner in base32hex, then the types present.
pub(super) fn parse_nsec3(p: &mut Parser<'_, '_>) -> Result<(), RdataError> {
    p.expect_at_least(5)?;
    p.u8(0, "NSEC3 hash algorithm")?;
    p.u8(1, "NSEC3 flags")?;
    p.u16(2, "NSEC3 iterations")?;
    parse_salt(p, 3)?;
    let text = p.tokens[4].text;
    let next = BASE32HEX_NOPAD
        .decode(text.to_ascii_uppercase().as_bytes())
        .ok()
        .filter(|next| !next.is_empty() && next.len() <= 255)
        .ok_or_else(|| RdataError::Invalid(format!("NSEC3 next hashed owner {text:?} is not base32hex")))?;
    p.out.push(next.len() as u8);
    p.out.extend_from_slice(&next);
    parse_type_list(p, 5)
}

/// Whether NSEC3 RDATA has a text form: the next hashed owner name is
/// written in base32, which has nothing to write for an empty one.
pub(super) fn nsec3_expressible(wire: &[u8]) -> bool {
    let hash_at = 5 + usize::from(wire.get(4).copied().unwrap_or(0));
    wire.get(hash_at).is_some_and(|&length| length > 0)
}

pub(super) fn write_nsec3(out: &mut String, r: &mut Reader<'_>) -> Result<(), RdataError> {
    write_nsec3_parameters(out, r)?;
    let next = r.char_string("next hashed owner")?;
    put!(out, " {}", BASE32HEX_NOPAD.encode(next));
    write_type_list(out, r.rest())
}

/// NSEC3PARAM (RFC 5155 §4.3): hash algorithm, flags, iterations, salt.
pub(super) fn parse_nsec3param(p: &mut Parser<'_, '_>) -> Result<(), RdataError> {
    p.expect(4)?;
    p.u8(0, "NSEC3PARAM hash algorithm")?;
    p.u8(1, "NSEC3PARAM flags")?;
    p.u16(2, "NSEC3PARAM iterations")?;
    parse_salt(p, 3)
}

pub(super) fn write_nsec3param(out: &mut String, r: &mut Reader<'_>) -> Result<(), RdataError> {
    write_nsec3_parameters(out, r)
}

/// An NSEC3 salt: hex, or `-` for none (RFC 5155 §3.3).
fn parse_salt(p: &mut Parser<'_, '_>, i: usize) -> Result<(), RdataError> {
    let salt = match p.tokens[i].text {
        "-" => Vec::new(),
        _ => decode_hex(&p.tokens[i..=i], "NSEC3 salt")?,
    };
    if salt.len() > 255 {
        return Err(RdataError::Invalid("NSEC3 salt is longer than 255 octets".into()));
    }
    p.out.push(salt.len() as u8);
    p.out.extend_from_slice(&salt);
    Ok(())
}

/// The type list of NSEC and NSEC3 from token `from` on (RFC 4034 §4.2).
fn parse_type_list(p: &mut Parser<'_, '_>, from: usize) -> Result<(), RdataError> {
    let mut present = Vec::with_capacity(p.tokens.len().saturating_sub(from));
    for token in &p.tokens[from..] {
        let rtype = types::type_from_str(token.text)
            .ok_or_else(|| RdataError::Invalid(format!("{:?} in the type list is not a type", token.text)))?;
        present.push(rtype);
    }
    p.out.extend_from_slice(&type_bitmap(present));
    Ok(())
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
    let (year, month, day, hour, minute, second) = crate::time::civil(i64::from(seconds));
    format!("{year:04}{month:02}{day:02}{hour:02}{minute:02}{second:02}")
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
fn write_type_list(out: &mut String, bitmap: &[u8]) -> Result<(), RdataError> {
    let present = crate::bitmap::decode_type_bitmap(bitmap)
        .map_err(|error| RdataError::Invalid(format!("type bitmap: {error}")))?;
    for rtype in present {
        put!(out, " {}", types::type_to_string(rtype));
    }
    Ok(())
}
