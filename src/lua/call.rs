//! The LUA record functions, compiled from their arguments once and run
//! per query.
//!
//! [`compile`] checks a call's arguments and turns literal candidate lists
//! into [`Candidate`]s (text, ready-made RDATA, address, location), and
//! registers the health checks a call depends on. [`Call::run`] then only
//! picks: most calls answer with indexes into their candidates, so a query
//! copies prepared RDATA and allocates nothing. The sandbox compiles the
//! same calls from Lua values, so both paths share one implementation.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use base::types;

use super::candidate::{candidate, client_location, closest, scalar_text, Candidate, Output};
use super::literal::{Table, Value};
use super::select::{Checked, CheckedError};
use super::{hash, libc, names, random, Env, Query};
use crate::health::Check;
use base::netmask::Netmask;

/// A function call with checked arguments.
#[derive(Debug)]
pub struct Call {
    pub candidates: Vec<Candidate>,
    pub kind: Kind,
}

/// The functions; arguments other than candidate lists live here.
#[derive(Debug)]
pub enum Kind {
    All,
    PickRandom,
    PickRandomSample(usize),
    PickHashed,
    PickClosest,
    /// pickwrandom, pickwhashed, picknamehashed: one weight per candidate.
    Weighted(WeightedBy, hash::Weighted),
    PickCHashed(hash::ConsistentRing),
    /// ifportup, ifurlup, ifurlextup, pickselfweighted.
    Checked(Box<Checked>),
    /// `view`: rules of netmasks, each owning a range of candidates.
    View(Vec<(Vec<Netmask>, std::ops::Range<usize>)>),
    Netmask(Vec<Netmask>),
    GeoMatch(GeoField, Vec<String>),
    GeoCode(GeoField),
    GeoipLookup(Option<IpAddr>, u8),
    Latlon,
    Latlonloc,
    ClosestMagic,
    CreateReverse(String, Vec<(String, String)>),
    CreateReverse6(String, Vec<(String, String)>),
    CreateForward,
    CreateForward6,
    /// `filterForward(address, netmasks, fallback)`; the address is a
    /// literal or a call producing one.
    FilterForward(Box<Call>, Vec<Netmask>, Option<String>),
    Literal(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightedBy {
    Random,
    ClientHash,
    NameHash,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GeoField {
    Country,
    Continent,
    Region,
    Asn,
}

/// Why a call cannot be compiled.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CompileError {
    #[error("unknown function {0}()")]
    UnknownFunction(String),
    #[error("{function}(): {problem}")]
    Argument { function: &'static str, problem: String },
}

/// Why a call failed at query time.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RunError {
    #[error("{0}")]
    Failed(&'static str),
    #[error("no health check completed for any candidate")]
    Incomplete,
}

/// Every function a LUA record can call, by name.
pub const FUNCTIONS: &[&str] = &[
    "all",
    "pickrandom",
    "pickrandomsample",
    "pickhashed",
    "pickwrandom",
    "pickwhashed",
    "picknamehashed",
    "pickchashed",
    "pickclosest",
    "pickselfweighted",
    "ifportup",
    "ifurlup",
    "ifurlextup",
    "view",
    "netmask",
    "country",
    "continent",
    "region",
    "asnum",
    "countryCode",
    "continentCode",
    "regionCode",
    "geoiplookup",
    "latlon",
    "latlonloc",
    "closestMagic",
    "createReverse",
    "createReverse6",
    "createForward",
    "createForward6",
    "filterForward",
];

/// Compiles a call of `function` with `args` for records built by `env`.
pub fn compile(function: &str, args: &[Value], env: &Env) -> Result<Call, CompileError> {
    let Some(&name) = FUNCTIONS.iter().find(|known| **known == function) else {
        return Err(CompileError::UnknownFunction(function.to_string()));
    };
    let fail = |problem: String| CompileError::Argument {
        function: name,
        problem,
    };
    let arg = |index: usize| args.get(index).unwrap_or(&Value::Nil);
    let mut candidates = Vec::new();
    let kind = match name {
        "all" | "pickrandom" | "pickhashed" | "pickclosest" => {
            candidates = string_list(arg(0), env).map_err(fail)?;
            if candidates.is_empty() {
                return Err(fail("the list is empty".into()));
            }
            match name {
                "all" => Kind::All,
                "pickrandom" => Kind::PickRandom,
                "pickhashed" => Kind::PickHashed,
                _ => Kind::PickClosest,
            }
        }
        "pickrandomsample" => {
            let count = number(arg(0)).ok_or_else(|| fail("the first argument must be a number".into()))?;
            candidates = string_list(arg(1), env).map_err(fail)?;
            if candidates.is_empty() {
                return Err(fail("the list is empty".into()));
            }
            // As in PowerDNS, which converts n to an unsigned size: a
            // negative n takes the whole list.
            Kind::PickRandomSample(if count < 0.0 { usize::MAX } else { count as usize })
        }
        "pickwrandom" | "pickwhashed" | "picknamehashed" | "pickchashed" => {
            let Value::Table(table) = arg(0) else {
                return Err(fail("expects a list of {weight, value} pairs".into()));
            };
            let mut weights = Vec::new();
            for item in &table.items {
                let pair = match item {
                    Value::Table(pair) if pair.items.len() == 2 => pair,
                    _ => return Err(fail("expects a list of {weight, value} pairs".into())),
                };
                let weight = number(&pair.items[0]).ok_or_else(|| fail("a weight is not a number".into()))?;
                if weight < 1.0 || weight > f64::from(u32::MAX) || weight.fract() != 0.0 {
                    return Err(fail(format!("weight {weight} is not a positive integer")));
                }
                let text = string(&pair.items[1]).ok_or_else(|| fail("a value is not a string".into()))?;
                weights.push(weight as u32);
                candidates.push(candidate(text, env));
            }
            if candidates.is_empty() {
                return Err(fail("the list is empty".into()));
            }
            let by = match name {
                "pickwrandom" => WeightedBy::Random,
                "pickwhashed" => WeightedBy::ClientHash,
                "picknamehashed" => WeightedBy::NameHash,
                _ => {
                    let entries: Vec<(u32, &str)> = weights
                        .iter()
                        .zip(&candidates)
                        .map(|(weight, candidate)| (*weight, &*candidate.text))
                        .collect();
                    let ring = hash::ConsistentRing::new(&entries)
                        .ok_or_else(|| fail("the weights make too large a ring".into()))?;
                    return Ok(Call {
                        candidates,
                        kind: Kind::PickCHashed(ring),
                    });
                }
            };
            Kind::Weighted(
                by,
                hash::Weighted::new(&weights).ok_or_else(|| fail("the weights sum to 0".into()))?,
            )
        }
        "ifportup" | "ifurlup" | "ifurlextup" | "pickselfweighted" => {
            let checked = Checked::compile(name, args, env, &mut candidates).map_err(fail)?;
            Kind::Checked(Box::new(checked))
        }
        "view" => {
            let Value::Table(rules) = arg(0) else {
                return Err(fail("expects a list of {{netmasks}, {values}} rules".into()));
            };
            let mut compiled = Vec::new();
            for rule in &rules.items {
                let Value::Table(rule) = rule else {
                    return Err(fail("a rule is not a table".into()));
                };
                if rule.items.len() < 2 {
                    return Err(fail("a rule needs a list of netmasks and a list of values".into()));
                }
                let masks = netmask_list(&rule.items[0]).map_err(fail)?;
                let start = candidates.len();
                candidates.extend(string_list(&rule.items[1], env).map_err(fail)?);
                compiled.push((masks, start..candidates.len()));
            }
            Kind::View(compiled)
        }
        "netmask" => Kind::Netmask(netmask_list(arg(0)).map_err(fail)?),
        "country" | "continent" | "region" | "asnum" => {
            let field = match name {
                "country" => GeoField::Country,
                "continent" => GeoField::Continent,
                "region" => GeoField::Region,
                _ => GeoField::Asn,
            };
            let wanted = match arg(0) {
                Value::Table(table) => table.items.iter().map(scalar_text).collect::<Option<Vec<_>>>(),
                value => scalar_text(value).map(|text| vec![text]),
            }
            .ok_or_else(|| fail("expects a code or a list of codes".into()))?;
            let wanted = wanted
                .into_iter()
                .map(|code| {
                    let code = code.to_ascii_lowercase();
                    match field {
                        GeoField::Asn => code.strip_prefix("as").map(str::to_string).unwrap_or(code),
                        _ => code,
                    }
                })
                .collect();
            Kind::GeoMatch(field, wanted)
        }
        "countryCode" => Kind::GeoCode(GeoField::Country),
        "continentCode" => Kind::GeoCode(GeoField::Continent),
        "regionCode" => Kind::GeoCode(GeoField::Region),
        "geoiplookup" => {
            let address = match arg(0) {
                Value::Nil => None,
                value => Some(
                    string(value)
                        .and_then(|text| text.parse().ok())
                        .ok_or_else(|| fail("the first argument must be an IP address".into()))?,
                ),
            };
            let attribute = number(arg(1))
                .filter(|n| (0.0..=7.0).contains(n))
                .ok_or_else(|| fail("the attribute must be a GeoIPQueryAttribute (0-7)".into()))?;
            Kind::GeoipLookup(address, attribute as u8)
        }
        "latlon" => Kind::Latlon,
        "latlonloc" => Kind::Latlonloc,
        "closestMagic" => Kind::ClosestMagic,
        "createReverse" | "createReverse6" => {
            let format = string(arg(0)).ok_or_else(|| fail("the format must be a string".into()))?;
            let exceptions = match arg(1) {
                Value::Nil => Vec::new(),
                Value::Table(table) => table
                    .keyed
                    .iter()
                    .map(|(key, value)| Some((string(key)?.to_string(), string(value)?.to_string())))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| fail("exceptions must map addresses to names".into()))?,
                _ => return Err(fail("exceptions must be a table".into())),
            };
            match name {
                "createReverse" => Kind::CreateReverse(format.to_string(), exceptions),
                _ => Kind::CreateReverse6(format.to_string(), exceptions),
            }
        }
        "createForward" => Kind::CreateForward,
        "createForward6" => Kind::CreateForward6,
        "filterForward" => {
            let inner = match arg(0) {
                Value::Call(function, args) => compile(function, args, env)?,
                value => Call {
                    candidates: Vec::new(),
                    kind: Kind::Literal(
                        string(value)
                            .ok_or_else(|| fail("the address must be a string".into()))?
                            .to_string(),
                    ),
                },
            };
            let masks = match arg(1) {
                Value::Call(function, args) if function == "newNMG" => {
                    netmask_list(args.first().unwrap_or(&Value::Nil)).map_err(fail)?
                }
                value => netmask_list(value).map_err(fail)?,
            };
            let fallback = match arg(2) {
                Value::Nil => None,
                value => Some(
                    string(value)
                        .ok_or_else(|| fail("the fallback must be a string".into()))?
                        .to_string(),
                ),
            };
            Kind::FilterForward(Box::new(inner), masks, fallback)
        }
        _ => unreachable!("every name in FUNCTIONS is compiled"),
    };
    Ok(Call { candidates, kind })
}

impl Call {
    /// The health checks the call reads.
    pub fn checks(&self) -> &[Check] {
        match &self.kind {
            Kind::Checked(checked) => checked.checks(),
            Kind::FilterForward(inner, ..) => inner.checks(),
            _ => &[],
        }
    }

    /// Runs the call for one query.
    pub fn run(&self, query: &mut Query<'_>) -> Result<Output, RunError> {
        let count = self.candidates.len();
        Ok(match &self.kind {
            Kind::All => Output::All,
            Kind::PickRandom => Output::One(random::below(count)),
            Kind::PickRandomSample(n) => {
                let mut indexes: Vec<usize> = (0..count).collect();
                random::shuffle(&mut indexes);
                indexes.truncate(*n);
                Output::Many(indexes)
            }
            Kind::PickHashed => {
                Output::One(hash::pick_hashed(query.bestwho(), count).ok_or(RunError::Failed("empty list"))?)
            }
            Kind::PickClosest => Output::One(closest(&self.candidates, 0..count, query)),
            Kind::Weighted(by, weighted) => {
                let hash = match by {
                    WeightedBy::Random => random::next_u32(),
                    WeightedBy::ClientHash => hash::address_hash(query.bestwho()),
                    WeightedBy::NameHash => hash::name_hash(query.qname),
                };
                Output::One(weighted.pick(hash).ok_or(RunError::Failed("all weights are zero"))?)
            }
            Kind::PickCHashed(ring) => Output::One(ring.pick(query.bestwho()).ok_or(RunError::Failed("empty ring"))?),
            Kind::Checked(checked) => checked.run(&self.candidates, query).map_err(|error| match error {
                CheckedError::Incomplete => RunError::Incomplete,
                CheckedError::AllZero => RunError::Failed("no candidate has a weight"),
            })?,
            Kind::View(rules) => {
                let client = query.bestwho();
                let range = rules
                    .iter()
                    .find(|(masks, _)| masks.iter().any(|mask| mask.contains(client)))
                    .map(|(_, range)| range.clone());
                match range {
                    Some(range) if !range.is_empty() => Output::One(range.start + random::below(range.len())),
                    // PowerDNS answers an empty string: no rule, no data.
                    _ => Output::Text(String::new()),
                }
            }
            Kind::Netmask(masks) => {
                let client = query.bestwho();
                Output::Bool(masks.iter().any(|mask| mask.contains(client)))
            }
            Kind::GeoMatch(field, wanted) => {
                let code = geo_code(query, *field);
                Output::Bool(code.is_some_and(|code| wanted.contains(&code)))
            }
            Kind::GeoCode(field) => Output::Text(geo_code(query, *field).unwrap_or_else(|| "--".into())),
            Kind::GeoipLookup(address, attribute) => {
                let address = address.unwrap_or_else(|| query.bestwho());
                Output::Text(geoip_attribute(query, address, *attribute))
            }
            Kind::Latlon => {
                let (lat, lon) = client_location(query).unwrap_or((0.0, 0.0));
                Output::Text(names::latlon_text(lat, lon))
            }
            Kind::Latlonloc => {
                let (lat, lon) = client_location(query).unwrap_or((0.0, 0.0));
                Output::Text(names::loc_text(lat, lon))
            }
            Kind::ClosestMagic => {
                let addresses = names::magic_addresses(query.qname);
                if addresses.is_empty() {
                    return Err(RunError::Failed("closestMagic: no address in the name"));
                }
                let candidates: Vec<Candidate> = addresses
                    .iter()
                    .map(|address| Candidate {
                        text: address.to_string().into(),
                        rdata: None,
                        address: Some(*address),
                        location: query.env.geo.as_ref().and_then(|geo| geo.location(*address)),
                    })
                    .collect();
                let index = closest(&candidates, 0..candidates.len(), query);
                Output::Text(addresses[index].to_string())
            }
            Kind::CreateReverse(format, exceptions) => {
                Output::Text(names::create_reverse(query.qname, format, exceptions))
            }
            Kind::CreateReverse6(format, exceptions) => {
                Output::Text(names::create_reverse6(query.qname, format, exceptions))
            }
            Kind::CreateForward => Output::Text(
                names::create_forward(query.qname, query.env.owner.as_wire())
                    .ok_or(RunError::Failed("createForward: the name does not spell an address"))?,
            ),
            Kind::CreateForward6 => Output::Text(
                names::create_forward6(query.qname, query.env.owner.as_wire())
                    .ok_or(RunError::Failed("createForward6: the name does not spell an address"))?,
            ),
            Kind::FilterForward(inner, masks, fallback) => {
                let text = inner.run_text(query)?;
                let allowed =
                    libc::parse_address(&text).is_some_and(|address| masks.iter().any(|mask| mask.contains(address)));
                if allowed {
                    Output::Text(text)
                } else if fallback.as_deref() == Some("") {
                    // An empty fallback means no address at all: NODATA
                    // (PowerDNS 4.9 and later).
                    Output::Many(Vec::new())
                } else {
                    Output::Text(fallback.clone().unwrap_or_else(|| {
                        if query.env.rtype == types::AAAA {
                            Ipv6Addr::UNSPECIFIED.to_string()
                        } else {
                            Ipv4Addr::UNSPECIFIED.to_string()
                        }
                    }))
                }
            }
            Kind::Literal(text) => Output::Text(text.clone()),
        })
    }

    /// Runs the call and renders a single result as text.
    fn run_text(&self, query: &mut Query<'_>) -> Result<String, RunError> {
        Ok(match self.run(query)? {
            Output::One(index) => self.candidates[index].text.to_string(),
            Output::Many(indexes) => indexes
                .first()
                .map(|index| self.candidates[*index].text.to_string())
                .unwrap_or_default(),
            Output::All => self
                .candidates
                .first()
                .map(|candidate| candidate.text.to_string())
                .unwrap_or_default(),
            Output::Text(text) => text,
            Output::Bool(value) => value.to_string(),
        })
    }
}

fn geo_code(query: &mut Query<'_>, field: GeoField) -> Option<String> {
    let client = query.bestwho();
    let geo = query.env.geo.as_ref()?;
    match field {
        GeoField::Country => geo
            .country(client)
            .map(|code| String::from_utf8_lossy(&code).into_owned()),
        GeoField::Continent => geo
            .continent(client)
            .map(|code| String::from_utf8_lossy(&code).into_owned()),
        GeoField::Region => geo.lookup(client).region,
        GeoField::Asn => geo.asn(client).map(|asn| asn.to_string()),
    }
}

/// `geoiplookup`: attribute numbers as PowerDNS's GeoIPQueryAttribute.
fn geoip_attribute(query: &Query<'_>, address: IpAddr, attribute: u8) -> String {
    let Some(geo) = query.env.geo.as_ref() else {
        return "unknown".into();
    };
    let geo = geo.lookup(address);
    let value = match attribute {
        0 => geo.asn.map(|asn| asn.to_string()),
        1 => geo.city.map(|city| city.to_lowercase()),
        2 => geo.continent,
        3 | 4 => geo.country,
        5 => geo.as_org.map(|org| org.to_lowercase()),
        6 => geo.region,
        _ => geo.location.map(|(lat, lon)| names::latlon_text(lat, lon)),
    };
    value.unwrap_or_else(|| "unknown".into())
}

fn string(value: &Value) -> Option<&str> {
    match value {
        Value::Str(text) => Some(text),
        _ => None,
    }
}

fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => Some(*n),
        Value::Str(text) => text.trim().parse().ok(),
        _ => None,
    }
}

fn string_list(value: &Value, env: &Env) -> Result<Vec<Candidate>, String> {
    match value {
        Value::Table(table) => table
            .items
            .iter()
            .map(|item| {
                scalar_text(item)
                    .map(|text| candidate(&text, env))
                    .ok_or_else(|| "list entries must be strings".to_string())
            })
            .collect(),
        Value::Str(text) => Ok(vec![candidate(text, env)]),
        Value::Nil => Err("a list is required".into()),
        _ => Err("expects a list of strings".into()),
    }
}

pub fn netmask_list(value: &Value) -> Result<Vec<Netmask>, String> {
    let parse = |item: &Value| -> Result<Netmask, String> {
        let text = string(item).ok_or("netmasks must be strings")?;
        text.parse::<Netmask>()
            .map_err(|_| format!("{text:?} is not a netmask"))
    };
    match value {
        Value::Table(Table { items, .. }) => items.iter().map(parse).collect(),
        Value::Str(_) => Ok(vec![parse(value)?]),
        _ => Err("expects a list of netmasks".into()),
    }
}
