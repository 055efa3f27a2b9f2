//! LOC (RFC 1876): where a name is, as latitude, longitude, altitude and
//! the precision of each.

use std::fmt::Write as _;

use super::read::Reader;
use super::scan::{parse_u64, Parser};
use super::{RdataError, Token};

/// 2^31: the wire value of the equator and of the prime meridian (RFC 1876 §2).
const LOC_EQUATOR: u32 = 1 << 31;

/// The wire altitude of 0 m: altitudes count in centimetres from 100,000 m below the reference (RFC 1876 §2).
const LOC_ALTITUDE_BASE: i64 = 10_000_000;

/// Parses LOC text (RFC 1876 §3) into wire format.
///
/// `d1 [m1 [s1]] N|S d2 [m2 [s2]] E|W alt[m] [siz[m] [hp[m] [vp[m]]]]`; size,
/// horizontal and vertical precision default to 1m, 10000m and 10m.
pub(super) fn parse_loc(p: &mut Parser<'_, '_>) -> Result<(), RdataError> {
    let (tokens, out) = (p.tokens, &mut p.out);
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

/// Whether LOC RDATA has a text form that reads back to it: version 0,
/// and each size and precision octet the one its value encodes to (zero
/// can be written with any exponent, and is read back with none).
pub(super) fn loc_expressible(wire: &[u8]) -> bool {
    wire.first() == Some(&0)
        && wire
            .get(1..4)
            .is_none_or(|octets| octets.iter().all(|&octet| octet >> 4 != 0 || octet == 0))
}

/// Formats LOC in the canonical form BIND and Knot print, e.g. `52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000m 10m`.
pub(super) fn write_loc(out: &mut String, r: &mut Reader<'_>) -> Result<(), RdataError> {
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
