//! SVCB and HTTPS (RFC 9460): service bindings, a priority, a target and
//! key=value parameters.

use std::fmt::{self, Write as _};
use std::net::{Ipv4Addr, Ipv6Addr};

use data_encoding::BASE64;

use super::read::{write_quoted, Reader};
use super::scan::{number, parse_u64, unescape_into, Parser};
use super::RdataError;

/// SVCB and HTTPS: priority, target, then SvcParams (RFC 9460 §2.1).
///
/// Parameters go on the wire sorted by key (RFC 9460 §2.2); a repeated key
/// is an error.
pub(super) fn parse_svcb(p: &mut Parser<'_, '_>) -> Result<(), RdataError> {
    p.expect_at_least(2)?;
    p.u16(0, "SvcPriority")?;
    p.name(1, "TargetName")?;
    let mut params: Vec<(u16, Vec<u8>)> = Vec::new();
    let tokens = p.tokens;
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
        p.out.extend_from_slice(&key.to_be_bytes());
        p.out.extend_from_slice(&len.to_be_bytes());
        p.out.extend_from_slice(&value);
    }
    Ok(())
}

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
pub(super) fn write_svcb(out: &mut String, r: &mut Reader<'_>) -> Result<(), RdataError> {
    let priority = r.u16("SvcPriority")?;
    put!(out, "{priority} {}", r.name("TargetName")?);
    let mut previous: Option<u16> = None;
    let mut mandatory: &[u8] = &[];
    let mut present = Vec::new();
    while !r.wire.is_empty() {
        let key = r.u16("SvcParamKey")?;
        let len = r.u16("SvcParam length")?;
        let value = r.take(usize::from(len), "SvcParamValue")?;
        if previous.is_some_and(|p| p >= key) {
            return Err(r.malformed("SvcParamKeys are not in strictly increasing order"));
        }
        if key == u16::MAX {
            return Err(r.malformed("SvcParamKey key65535 is reserved"));
        }
        previous = Some(key);
        present.push(key);
        let bad = |r: &Reader<'_>| r.malformed(format!("bad value for SvcParam {}", SvcKey(key)));
        put!(out, " {}", SvcKey(key));
        match key {
            0 => {
                // RFC 9460 §8: a non-empty list of keys in strictly
                // increasing order, neither mandatory itself nor the
                // reserved key65535 among them.
                let keys = value.chunks_exact(2).map(|k| u16::from_be_bytes([k[0], k[1]]));
                let increasing = keys.clone().zip(keys.skip(1)).all(|(a, b)| a < b);
                let listable = value.chunks_exact(2).all(|k| k != [0, 0] && k != [0xff, 0xff]);
                if value.is_empty() || value.len() % 2 != 0 || !increasing || !listable {
                    return Err(bad(r));
                }
                mandatory = value;
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
            // dohpath is a URI template (RFC 9461 §5): never empty.
            7 if value.is_empty() => return Err(bad(r)),
            _ => {
                if !value.is_empty() {
                    out.push('=');
                    write_quoted(out, value);
                }
            }
        }
    }
    // Every key mandatory lists must be present (RFC 9460 §8).
    if let Some(missing) = mandatory
        .chunks_exact(2)
        .map(|k| u16::from_be_bytes([k[0], k[1]]))
        .find(|key| !present.contains(key))
    {
        return Err(r.malformed(format!(
            "mandatory lists {} but the record does not have it",
            SvcKey(missing)
        )));
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
