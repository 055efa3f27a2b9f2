//! The records of RFC 1035 and the early RFCs beside it: A, AAAA, NS,
//! CNAME, DNAME, PTR, MX, TXT, HINFO, RP and SOA.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::read::{write_quoted, Reader};
use super::scan::Parser;
use super::RdataError;

/// A (RFC 1035 §3.4.1): an IPv4 address.
pub(super) fn parse_a(p: &mut Parser<'_, '_>) -> Result<(), RdataError> {
    p.expect(1)?;
    let text = p.tokens[0].text;
    let ip: Ipv4Addr = text.parse().map_err(|_| RdataError::Address {
        rtype: "A",
        text: text.into(),
        family: "IPv4",
    })?;
    p.out.extend_from_slice(&ip.octets());
    Ok(())
}

pub(super) fn write_a(out: &mut String, r: &mut Reader<'_>) -> Result<(), RdataError> {
    let octets: [u8; 4] = r.array("address")?;
    put!(out, "{}", Ipv4Addr::from(octets));
    Ok(())
}

/// AAAA (RFC 3596 §2.2): an IPv6 address.
pub(super) fn parse_aaaa(p: &mut Parser<'_, '_>) -> Result<(), RdataError> {
    p.expect(1)?;
    let text = p.tokens[0].text;
    let ip: Ipv6Addr = text.parse().map_err(|_| RdataError::Address {
        rtype: "AAAA",
        text: text.into(),
        family: "IPv6",
    })?;
    p.out.extend_from_slice(&ip.octets());
    Ok(())
}

pub(super) fn write_aaaa(out: &mut String, r: &mut Reader<'_>) -> Result<(), RdataError> {
    let octets: [u8; 16] = r.array("address")?;
    put!(out, "{}", Ipv6Addr::from(octets));
    Ok(())
}

/// NS (RFC 1035 §3.3.11): a name server.
pub(super) fn parse_ns(p: &mut Parser<'_, '_>) -> Result<(), RdataError> {
    p.single_name("NS name server")
}

/// CNAME (RFC 1035 §3.3.1): the canonical name.
pub(super) fn parse_cname(p: &mut Parser<'_, '_>) -> Result<(), RdataError> {
    p.single_name("CNAME target")
}

/// ALIAS (PowerDNS): the name whose addresses answer A and AAAA queries.
pub(super) fn parse_alias(p: &mut Parser<'_, '_>) -> Result<(), RdataError> {
    p.single_name("ALIAS target")
}

/// DNAME (RFC 6672 §2.1): the target of a subtree.
pub(super) fn parse_dname(p: &mut Parser<'_, '_>) -> Result<(), RdataError> {
    p.single_name("DNAME target")
}

/// PTR (RFC 1035 §3.3.12): a pointer.
pub(super) fn parse_ptr(p: &mut Parser<'_, '_>) -> Result<(), RdataError> {
    p.single_name("PTR target")
}

/// NS, CNAME, DNAME, PTR and ALIAS: one name.
pub(super) fn write_name(out: &mut String, r: &mut Reader<'_>) -> Result<(), RdataError> {
    put!(out, "{}", r.name("target")?);
    Ok(())
}

/// MX (RFC 1035 §3.3.9): preference and exchange.
pub(super) fn parse_mx(p: &mut Parser<'_, '_>) -> Result<(), RdataError> {
    p.expect(2)?;
    p.u16(0, "MX preference")?;
    p.name(1, "MX exchange")
}

pub(super) fn write_mx(out: &mut String, r: &mut Reader<'_>) -> Result<(), RdataError> {
    let preference = r.u16("preference")?;
    put!(out, "{preference} {}", r.name("exchange")?);
    Ok(())
}

/// TXT (RFC 1035 §3.3.14): one or more character-strings.
pub(super) fn parse_txt(p: &mut Parser<'_, '_>) -> Result<(), RdataError> {
    p.expect_at_least(1)?;
    for i in 0..p.tokens.len() {
        p.char_string(i, "TXT string")?;
    }
    Ok(())
}

pub(super) fn write_txt(out: &mut String, r: &mut Reader<'_>) -> Result<(), RdataError> {
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
    Ok(())
}

/// HINFO (RFC 1035 §3.3.2): CPU and OS.
pub(super) fn parse_hinfo(p: &mut Parser<'_, '_>) -> Result<(), RdataError> {
    p.expect(2)?;
    p.char_string(0, "HINFO CPU")?;
    p.char_string(1, "HINFO OS")
}

pub(super) fn write_hinfo(out: &mut String, r: &mut Reader<'_>) -> Result<(), RdataError> {
    write_quoted(out, r.char_string("CPU")?);
    out.push(' ');
    write_quoted(out, r.char_string("OS")?);
    Ok(())
}

/// RP (RFC 1183 §2.2): a mailbox and a name with TXT records.
pub(super) fn parse_rp(p: &mut Parser<'_, '_>) -> Result<(), RdataError> {
    p.expect(2)?;
    p.name(0, "RP mailbox")?;
    p.name(1, "RP TXT domain")
}

pub(super) fn write_rp(out: &mut String, r: &mut Reader<'_>) -> Result<(), RdataError> {
    let mailbox = r.name("mailbox")?;
    put!(out, "{mailbox} {}", r.name("TXT domain")?);
    Ok(())
}

/// SOA (RFC 1035 §3.3.13): two names and five timers; the timers take
/// units (`1h30m`) as BIND allows.
pub(super) fn parse_soa(p: &mut Parser<'_, '_>) -> Result<(), RdataError> {
    p.expect(7)?;
    p.name(0, "SOA MNAME")?;
    p.name(1, "SOA RNAME")?;
    p.u32(2, "SOA serial")?;
    p.duration(3, "SOA refresh")?;
    p.duration(4, "SOA retry")?;
    p.duration(5, "SOA expire")?;
    p.duration(6, "SOA minimum")
}

pub(super) fn write_soa(out: &mut String, r: &mut Reader<'_>) -> Result<(), RdataError> {
    let mname = r.name("MNAME")?;
    let rname = r.name("RNAME")?;
    put!(out, "{mname} {rname}");
    for field in ["serial", "refresh", "retry", "expire", "minimum"] {
        put!(out, " {}", r.u32(field)?);
    }
    Ok(())
}
