//! What LUA record functions choose from and what they produce:
//! candidates parsed once from their text, and the picks made of them.

use std::net::IpAddr;

use base::name::Name;
use base::{rdata, types};

use super::literal::Value;
use super::{libc, random, Env, Query};
use crate::geoip::great_circle_km;

/// A record answer value: its text and, when it is valid content for
/// the record's type, its RDATA.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub text: Box<str>,
    pub rdata: Option<Box<[u8]>>,
    pub address: Option<IpAddr>,
    /// Latitude and longitude from the GeoIP databases, for pickclosest.
    pub location: Option<(f64, f64)>,
}

/// What a call produced.
#[derive(Debug, PartialEq)]
pub enum Output {
    /// One candidate, by index.
    One(usize),
    /// Several candidates, by index.
    Many(Vec<usize>),
    /// Every candidate.
    All,
    /// Computed text.
    Text(String),
    /// A truth value (netmask, country, ...).
    Bool(bool),
}

/// The candidate nearest to the client among the indexes `among`; ties
/// broken at random.
///
/// Distances are great-circle distances. PowerDNS compares squared degree
/// differences instead, which favours east-west neighbours at high
/// latitudes and (in released versions) goes wrong across the
/// antimeridian. Unknown locations count as (0, 0), as in PowerDNS.
pub fn closest(candidates: &[Candidate], among: impl IntoIterator<Item = usize>, query: &mut Query<'_>) -> usize {
    let client = client_location(query).unwrap_or((0.0, 0.0));
    let mut best = 0;
    let mut best_distance = f64::INFINITY;
    let mut ties = 0u32;
    for index in among {
        let location = candidates[index].location.unwrap_or((0.0, 0.0));
        let distance = great_circle_km(client, location);
        if distance < best_distance - 1e-9 {
            best = index;
            best_distance = distance;
            ties = 1;
        } else if (distance - best_distance).abs() <= 1e-9 {
            // Reservoir sampling: each tied candidate equally likely.
            ties += 1;
            if random::below(ties as usize) == 0 {
                best = index;
            }
        }
    }
    best
}

/// The client's location, when the GeoIP databases know it.
pub(super) fn client_location(query: &mut Query<'_>) -> Option<(f64, f64)> {
    let client = query.bestwho();
    query.env.geo.as_ref()?.location(client)
}

/// A candidate from its text: parsed as the record's type once, here.
pub fn candidate(text: &str, env: &Env) -> Candidate {
    let address = libc::parse_address(text);
    Candidate {
        text: text.into(),
        rdata: to_rdata(env.rtype, text).ok().map(Vec::into_boxed_slice),
        address,
        location: address.and_then(|address| env.geo.as_ref()?.location(address)),
    }
}

/// Longest result text: its TXT RDATA (a length octet per 255) still fits
/// the 16-bit RDLENGTH.
const MAX_RESULT: usize = 65_000;

/// Zone-file content of type `rtype` as RDATA. Names are absolute; a TXT
/// result is one string, split into 255-octet pieces.
pub fn to_rdata(rtype: u16, text: &str) -> Result<Vec<u8>, String> {
    if text.len() > MAX_RESULT {
        return Err(format!("{} octets is too long for a record", text.len()));
    }
    if rtype == types::TXT {
        let mut out = Vec::with_capacity(text.len() + 1 + text.len() / 255);
        let bytes = text.as_bytes();
        if bytes.is_empty() {
            out.push(0);
        }
        for chunk in bytes.chunks(255) {
            out.push(chunk.len() as u8);
            out.extend_from_slice(chunk);
        }
        return Ok(out);
    }
    if text.is_empty() {
        return Err(format!(
            "an empty string is not {} content",
            types::type_to_string(rtype)
        ));
    }
    if rtype == types::A {
        // PowerDNS reads A content with inet_aton: "64.001.2.3" is 64.1.2.3.
        return libc::parse_ipv4(text)
            .map(|address| address.octets().to_vec())
            .ok_or_else(|| "not an IPv4 address".to_string());
    }
    rdata::parse_rdata_text(rtype, text, &Name::root()).map_err(|error| error.to_string())
}

/// A string or number as text, as Lua would coerce it.
pub fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::Str(text) => Some(text.clone()),
        Value::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => Some(format!("{}", *n as i64)),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}
