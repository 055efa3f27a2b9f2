//! Records that locate services: SRV (RFC 2782) and NAPTR (RFC 3403).
//! SVCB and HTTPS have a file of their own (`svcb.rs`).

use std::fmt::Write as _;

use super::read::{write_quoted, Reader};
use super::scan::Parser;
use super::RdataError;

/// SRV (RFC 2782): priority, weight, port and target.
pub(super) fn parse_srv(p: &mut Parser<'_, '_>) -> Result<(), RdataError> {
    p.expect(4)?;
    p.u16(0, "SRV priority")?;
    p.u16(1, "SRV weight")?;
    p.u16(2, "SRV port")?;
    p.name(3, "SRV target")
}

pub(super) fn write_srv(out: &mut String, r: &mut Reader<'_>) -> Result<(), RdataError> {
    let priority = r.u16("priority")?;
    let weight = r.u16("weight")?;
    let port = r.u16("port")?;
    put!(out, "{priority} {weight} {port} {}", r.name("target")?);
    Ok(())
}

/// NAPTR (RFC 3403 §4.1): order, preference, flags, services, regexp and
/// replacement.
pub(super) fn parse_naptr(p: &mut Parser<'_, '_>) -> Result<(), RdataError> {
    p.expect(6)?;
    p.u16(0, "NAPTR order")?;
    p.u16(1, "NAPTR preference")?;
    p.char_string(2, "NAPTR flags")?;
    p.char_string(3, "NAPTR services")?;
    p.char_string(4, "NAPTR regexp")?;
    p.name(5, "NAPTR replacement")
}

pub(super) fn write_naptr(out: &mut String, r: &mut Reader<'_>) -> Result<(), RdataError> {
    let order = r.u16("order")?;
    let preference = r.u16("preference")?;
    put!(out, "{order} {preference}");
    for field in ["flags", "services", "regexp"] {
        out.push(' ');
        write_quoted(out, r.char_string(field)?);
    }
    put!(out, " {}", r.name("replacement")?);
    Ok(())
}
