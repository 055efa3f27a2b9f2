//! Records that pin keys and certificates: CAA (RFC 8659), SSHFP
//! (RFC 4255) and TLSA (RFC 6698).

use std::fmt::Write as _;

use data_encoding::HEXUPPER;

use super::read::{write_quoted, Reader};
use super::scan::{decode_hex, unescape_into, Parser};
use super::RdataError;

/// CAA (RFC 8659 §4.1): flags, tag, value.
pub(super) fn parse_caa(p: &mut Parser<'_, '_>) -> Result<(), RdataError> {
    p.expect(3)?;
    p.u8(0, "CAA flags")?;
    let tag = p.tokens[1].text;
    if tag.is_empty() || tag.len() > 255 || !tag.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(RdataError::Invalid(format!(
            "CAA tag \"{tag}\" must be 1 to 255 letters and digits"
        )));
    }
    p.out.push(tag.len() as u8);
    p.out.extend_from_slice(tag.as_bytes());
    unescape_into(&mut p.out, p.tokens[2].text)
}

/// CAA as `flags tag "value"`.
pub(super) fn write_caa(out: &mut String, r: &mut Reader<'_>) -> Result<(), RdataError> {
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

/// SSHFP (RFC 4255 §3.2): algorithm, fingerprint type, fingerprint in hex.
pub(super) fn parse_sshfp(p: &mut Parser<'_, '_>) -> Result<(), RdataError> {
    p.expect_at_least(3)?;
    p.u8(0, "SSHFP algorithm")?;
    p.u8(1, "SSHFP fingerprint type")?;
    let fingerprint = decode_hex(&p.tokens[2..], "SSHFP fingerprint")?;
    p.out.extend_from_slice(&fingerprint);
    Ok(())
}

/// SSHFP; one without a fingerprint has no text form but the generic one.
pub(super) fn write_sshfp(out: &mut String, r: &mut Reader<'_>) -> Result<(), RdataError> {
    let algorithm = r.u8("algorithm")?;
    let fp_type = r.u8("fingerprint type")?;
    put!(out, "{algorithm} {fp_type} ");
    out.push_str(&HEXUPPER.encode(r.rest()));
    Ok(())
}

/// TLSA (RFC 6698 §2.2): usage, selector, matching type, data in hex.
pub(super) fn parse_tlsa(p: &mut Parser<'_, '_>) -> Result<(), RdataError> {
    p.expect_at_least(4)?;
    p.u8(0, "TLSA certificate usage")?;
    p.u8(1, "TLSA selector")?;
    p.u8(2, "TLSA matching type")?;
    let data = decode_hex(&p.tokens[3..], "TLSA certificate association data")?;
    p.out.extend_from_slice(&data);
    Ok(())
}

pub(super) fn write_tlsa(out: &mut String, r: &mut Reader<'_>) -> Result<(), RdataError> {
    let usage = r.u8("certificate usage")?;
    let selector = r.u8("selector")?;
    let matching = r.u8("matching type")?;
    put!(out, "{usage} {selector} {matching} ");
    out.push_str(&HEXUPPER.encode(r.rest()));
    Ok(())
}
