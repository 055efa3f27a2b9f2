//! LUA, PowerDNS's scripted record: the type it answers for, then code.
//!
//! On the wire (as PowerDNS stores it) the type is a 16-bit number and the
//! code follows without a length octet. In text the code may come in
//! several strings, joined without a separator.

use std::fmt::Write as _;

use super::read::{write_quoted, Reader};
use super::scan::{unescape_into, Parser};
use super::RdataError;
use crate::types;

/// The type a LUA record's code produces, and the code; `None` when the
/// RDATA is shorter than a type or the code is not UTF-8.
pub fn split(rdata: &[u8]) -> Option<(u16, &str)> {
    let (rtype, code) = rdata.split_at_checked(2)?;
    Some((
        u16::from_be_bytes([rtype[0], rtype[1]]),
        std::str::from_utf8(code).ok()?,
    ))
}

/// The type a LUA record's code produces (its first two octets).
pub fn produced_type(rdata: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes([*rdata.first()?, *rdata.get(1)?]))
}

/// A string that is exactly one space is dropped, as PowerDNS 5 does
/// (`lua-records-insert-whitespace=no`).
pub(super) fn parse_lua(p: &mut Parser<'_, '_>) -> Result<(), RdataError> {
    p.expect_at_least(2)?;
    let type_text = p.tokens[0].text;
    let embedded = types::type_from_str(type_text)
        .ok_or_else(|| RdataError::Invalid(format!("LUA record type \"{type_text}\" is not a known type")))?;
    p.out.extend_from_slice(&embedded.to_be_bytes());
    for token in &p.tokens[1..] {
        if token.text == " " && p.tokens.len() > 2 {
            continue;
        }
        unescape_into(&mut p.out, token.text)?;
    }
    Ok(())
}

pub(super) fn write_lua(out: &mut String, r: &mut Reader<'_>) -> Result<(), RdataError> {
    let embedded = r.u16("record type")?;
    put!(out, "{} ", types::type_to_string(embedded));
    write_quoted(out, r.rest());
    Ok(())
}
