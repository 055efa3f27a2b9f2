//! Health-checked selection: `ifportup`, `ifurlup`, `ifurlextup` and
//! `pickselfweighted`.
//!
//! The checks are registered with the process's health checker when the
//! call is compiled, i.e. when the zone snapshot is built, so they are
//! probing before the first query. A query only reads their states.
//!
//! Selection follows PowerDNS 5.1: the first group with an address up
//! answers through `selector`; when none is up, `backupSelector` picks
//! from the first non-empty group.

use std::net::IpAddr;
use std::ops::Range;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::candidate::{candidate, closest, scalar_text, Candidate, Output};
use super::literal::{Table, Value};
use super::{hash, libc, random, Env, Query, MAX_HELD_CHECKS};
use crate::health::{self, Check, CheckSpec, HttpProbe, Probe, Status, Timing};

/// A health-checked call.
#[derive(Debug)]
pub struct Checked {
    /// Candidate ranges, in preference order.
    groups: Vec<Range<usize>>,
    /// The check of each candidate; empty when compiled without a checker
    /// (import-time validation).
    checks: Vec<Check>,
    selector: Selector,
    backup: Selector,
    fail_on_incomplete: bool,
    /// pickselfweighted: the probe's body is the weight.
    self_weighted: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Selector {
    Random,
    Hashed,
    Closest,
    All,
    Empty,
}

pub enum CheckedError {
    /// `failOnIncompleteCheck` and no check has completed.
    Incomplete,
    /// pickselfweighted found no candidate with a weight.
    AllZero,
}

/// PowerDNS's probe User-Agent, kept so health endpoints that filter on it
/// keep working.
const DEFAULT_USER_AGENT: &str = "PowerDNS Authoritative Server";

impl Checked {
    /// Compiles the arguments of `function`, appending its addresses to
    /// `candidates`.
    pub fn compile(
        function: &str,
        args: &[Value],
        env: &Env,
        candidates: &mut Vec<Candidate>,
    ) -> Result<Checked, String> {
        let arg = |index: usize| args.get(index).unwrap_or(&Value::Nil);
        let (options, probes): (&Value, Vec<Vec<(IpAddr, ProbeTarget)>>) = match function {
            "ifportup" => {
                let port = match arg(0) {
                    Value::Number(n) if n.fract() == 0.0 && (0.0..=65535.0).contains(n) => *n as u16,
                    Value::Str(text) => text
                        .parse::<u16>()
                        .map_err(|_| format!("port {text:?} is out of range"))?,
                    other => return Err(format!("port {other:?} is not a number from 0 to 65535")),
                };
                let groups = address_groups(arg(1))?;
                let groups = groups
                    .into_iter()
                    .map(|group| group.into_iter().map(|a| (a, ProbeTarget::Port(port))).collect())
                    .collect();
                (arg(2), groups)
            }
            "ifurlup" | "pickselfweighted" => {
                let url = match arg(0) {
                    Value::Str(url) => url.clone(),
                    _ => return Err("the first argument must be a URL".into()),
                };
                validate_url(&url)?;
                let groups = address_groups(arg(1))?;
                let groups = groups
                    .into_iter()
                    .map(|group| {
                        group
                            .into_iter()
                            .map(|a| (a, ProbeTarget::Url(url.clone(), true)))
                            .collect()
                    })
                    .collect();
                (arg(2), groups)
            }
            "ifurlextup" => {
                let Value::Table(groups) = arg(0) else {
                    return Err("expects a list of {address = URL} tables".into());
                };
                let mut compiled = Vec::new();
                for group in &groups.items {
                    let Value::Table(group) = group else {
                        return Err("expects a list of {address = URL} tables".into());
                    };
                    let mut members = Vec::new();
                    for (key, value) in &group.keyed {
                        let (Value::Str(address), Value::Str(url)) = (key, value) else {
                            return Err("expects a list of {address = URL} tables".into());
                        };
                        let address =
                            libc::parse_address(address).ok_or_else(|| format!("{address:?} is not an IP address"))?;
                        validate_url(url)?;
                        members.push((address, ProbeTarget::Url(url.clone(), false)));
                    }
                    // Lua tables have no order; keep answers stable.
                    members.sort_by_key(|(address, _)| *address);
                    compiled.push(members);
                }
                (arg(1), compiled)
            }
            _ => return Err(format!("{function} is not health-checked")),
        };
        let options = Options::parse(options, env)?;
        if probes.iter().all(Vec::is_empty) {
            return Err("no address to check".into());
        }
        let mut groups = Vec::new();
        let mut checks = Vec::new();
        for group in probes {
            let start = candidates.len();
            for (address, target) in group {
                candidates.push(candidate(&address.to_string(), env));
                if let Some(health) = &env.health {
                    let spec = options.spec(address, target);
                    let check = if env.checks_full.load(Ordering::Relaxed) {
                        health.existing(spec).ok_or_else(|| {
                            format!(
                                "{function}: the record already checks {MAX_HELD_CHECKS} targets; it starts no more"
                            )
                        })?
                    } else {
                        health.register(spec)
                    };
                    checks.push(check);
                }
            }
            groups.push(start..candidates.len());
        }
        Ok(Checked {
            groups,
            checks,
            selector: options.selector,
            backup: options.backup,
            fail_on_incomplete: options.fail_on_incomplete,
            self_weighted: function == "pickselfweighted",
        })
    }

    /// The check of each candidate.
    pub fn checks(&self) -> &[Check] {
        &self.checks
    }

    /// Picks among `candidates` by the current check states.
    pub fn run(&self, candidates: &[Candidate], query: &mut Query<'_>) -> Result<Output, CheckedError> {
        if self.checks.is_empty() {
            // Compiled for validation only: nothing is known to be up.
            return Ok(self.apply(self.backup, self.first_group(), candidates, query));
        }
        if self.self_weighted {
            return self.run_self_weighted(query);
        }
        let mut up = Vec::new();
        let mut all_unknown = true;
        for group in &self.groups {
            up.clear();
            for index in group.clone() {
                match self.checks[index].status() {
                    Status::Up => up.push(index),
                    Status::Down => all_unknown = false,
                    Status::Unknown => {}
                }
            }
            if !up.is_empty() {
                return Ok(self.apply(self.selector, up, candidates, query));
            }
        }
        if all_unknown && self.fail_on_incomplete {
            return Err(CheckedError::Incomplete);
        }
        Ok(self.apply(self.backup, self.first_group(), candidates, query))
    }

    fn first_group(&self) -> Vec<usize> {
        self.groups
            .iter()
            .find(|group| !group.is_empty())
            .map(|group| group.clone().collect())
            .unwrap_or_default()
    }

    /// pickselfweighted: a client-hashed pick weighted by each target's
    /// reported weight; with no weight reported anywhere, a random pick
    /// (as PowerDNS documents; its code fails the query instead).
    fn run_self_weighted(&self, query: &mut Query<'_>) -> Result<Output, CheckedError> {
        let all: Vec<usize> = self.groups.iter().flat_map(Clone::clone).collect();
        let weights: Vec<i32> = all
            .iter()
            .map(|&index| match self.checks[index].status() {
                Status::Up => self.checks[index].weight().map_or(1, |w| w.min(i32::MAX as u32) as i32),
                _ => 0,
            })
            .collect();
        match hash::pick_selfweighted(query.bestwho(), &weights) {
            Some(position) => Ok(Output::One(all[position])),
            None if all.is_empty() => Err(CheckedError::AllZero),
            None => Ok(Output::One(all[random::below(all.len())])),
        }
    }

    fn apply(&self, selector: Selector, set: Vec<usize>, candidates: &[Candidate], query: &mut Query<'_>) -> Output {
        if set.is_empty() {
            return Output::Many(set);
        }
        match selector {
            Selector::Random => Output::One(set[random::below(set.len())]),
            Selector::Hashed => Output::One(set[hash::pick_hashed(query.bestwho(), set.len()).unwrap_or(0)]),
            Selector::Closest => Output::One(closest(candidates, set.iter().copied(), query)),
            Selector::All => Output::Many(set),
            Selector::Empty => Output::Many(Vec::new()),
        }
    }
}

/// What one candidate's check probes.
enum ProbeTarget {
    Port(u16),
    /// A URL, and whether the connection is pinned to the candidate.
    Url(String, bool),
}

/// The options table of a health-checked call.
struct Options {
    selector: Selector,
    backup: Selector,
    fail_on_incomplete: bool,
    timing: Timing,
    stringmatch: Option<String>,
    httpcode: u16,
    useragent: String,
    byteslimit: u64,
    headers: Vec<(String, String)>,
    /// `None`: verified when the probe carries credentials.
    verify_tls: Option<bool>,
}

impl Options {
    fn parse(value: &Value, env: &Env) -> Result<Options, String> {
        let mut options = Options {
            selector: Selector::Random,
            backup: Selector::Random,
            fail_on_incomplete: false,
            timing: Timing {
                timeout: env.settings.health_check_timeout,
                interval: env.settings.health_check_interval,
                minimum_failures: 1,
                minimum_successes: 1,
                source: None,
            },
            stringmatch: None,
            httpcode: 200,
            useragent: DEFAULT_USER_AGENT.into(),
            byteslimit: 0,
            headers: Vec::new(),
            verify_tls: None,
        };
        let table = match value {
            Value::Nil => return Ok(options),
            Value::Table(table) => table,
            _ => return Err("options must be a table".into()),
        };
        if !table.items.is_empty() {
            return Err("options must be name = value pairs".into());
        }
        for (key, value) in &table.keyed {
            let Value::Str(key) = key else {
                return Err("option names must be strings".into());
            };
            let text = || scalar_text(value).ok_or_else(|| format!("option {key} must be a string or number"));
            let whole = |max: u64| -> Result<u64, String> {
                let text = text()?;
                text.trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n <= max)
                    .ok_or_else(|| format!("option {key} = {text:?} is not a whole number up to {max}"))
            };
            match key.as_str() {
                "selector" => options.selector = selector(&text()?)?,
                "backupSelector" => options.backup = selector(&text()?)?,
                "timeout" => options.timing.timeout = Duration::from_secs(whole(3600)?.max(1)),
                "interval" => options.timing.interval = Duration::from_secs(whole(86_400)?.max(1)),
                "minimumFailures" => options.timing.minimum_failures = whole(1000)?.max(1) as u32,
                "minimumSuccesses" => options.timing.minimum_successes = whole(1000)?.max(1) as u32,
                "failOnIncompleteCheck" => options.fail_on_incomplete = truth(value, key)?,
                "verifyTLS" => options.verify_tls = Some(truth(value, key)?),
                "source" => {
                    let text = text()?;
                    options.timing.source = Some(
                        text.parse()
                            .map_err(|_| format!("option source = {text:?} is not an IP address"))?,
                    );
                }
                "stringmatch" => options.stringmatch = Some(text()?),
                "httpcode" => options.httpcode = whole(999)? as u16,
                "useragent" => options.useragent = text()?,
                "byteslimit" => options.byteslimit = whole(u64::MAX)?,
                "headers" => {
                    let Value::Table(Table { keyed, .. }) = value else {
                        return Err("option headers must be a table of name = value".into());
                    };
                    for (name, value) in keyed {
                        let (Value::Str(name), Some(value)) = (name, scalar_text(value)) else {
                            return Err("option headers must be a table of name = value".into());
                        };
                        // Lua identifiers cannot hold '-': PowerDNS maps '_'.
                        let name = name.replace('_', "-");
                        health::validate_header(&name, &value)?;
                        options.headers.push((name, value));
                    }
                    options.headers.sort();
                }
                other => return Err(format!("unknown option {other}")),
            }
        }
        Ok(options)
    }

    fn spec(&self, address: IpAddr, target: ProbeTarget) -> CheckSpec {
        let probe = match target {
            ProbeTarget::Port(port) => Probe::Tcp { port },
            ProbeTarget::Url(url, pinned) => Probe::Http(HttpProbe {
                verify_tls: verify_tls(self.verify_tls, &self.headers, &url),
                url,
                pinned,
                stringmatch: self.stringmatch.clone(),
                httpcode: self.httpcode,
                useragent: self.useragent.clone(),
                byteslimit: self.byteslimit,
                headers: self.headers.clone(),
            }),
        };
        CheckSpec {
            address,
            probe,
            timing: self.timing.clone(),
        }
    }
}

fn selector(name: &str) -> Result<Selector, String> {
    Ok(match name {
        "random" => Selector::Random,
        "hashed" => Selector::Hashed,
        "pickclosest" => Selector::Closest,
        "all" => Selector::All,
        "empty" => Selector::Empty,
        other => {
            return Err(format!(
                "unknown selector {other:?} (random, hashed, pickclosest, all, empty)"
            ))
        }
    })
}

fn truth(value: &Value, key: &str) -> Result<bool, String> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::Str(text) if text == "true" => Ok(true),
        Value::Str(text) if text == "false" => Ok(false),
        _ => Err(format!("option {key} must be true or false")),
    }
}

/// Addresses as a flat list (one group) or a list of groups.
fn address_groups(value: &Value) -> Result<Vec<Vec<IpAddr>>, String> {
    let Value::Table(table) = value else {
        return Err("expects a list of addresses or of address groups".into());
    };
    let parse = |item: &Value| -> Result<IpAddr, String> {
        match item {
            Value::Str(text) => libc::parse_address(text).ok_or_else(|| format!("{text:?} is not an IP address")),
            _ => Err("addresses must be strings".into()),
        }
    };
    if table.items.iter().all(|item| matches!(item, Value::Table(_))) && !table.items.is_empty() {
        table
            .items
            .iter()
            .map(|group| match group {
                Value::Table(group) => group.items.iter().map(parse).collect(),
                _ => unreachable!("checked above"),
            })
            .collect()
    } else {
        Ok(vec![table.items.iter().map(parse).collect::<Result<_, _>>()?])
    }
}

/// Health-check URLs: http or https with a host, as the prober takes
/// them. Errors leave the URL out: it may carry credentials.
fn validate_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or("a health-check URL is not http:// or https://")?;
    if rest.starts_with('/') {
        return Err("a health-check URL has no host".into());
    }
    health::validate_url(url).map_err(|error| format!("bad health-check URL: {error}"))
}

/// Whether a probe verifies TLS: as told by `verifyTLS`, else when it
/// carries credentials (headers, URL user information), which go only to
/// a verified peer.
fn verify_tls(told: Option<bool>, headers: &[(String, String)], url: &str) -> bool {
    told.unwrap_or_else(|| !headers.is_empty() || health::url_has_credentials(url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_go_to_verified_peers_unless_told() {
        let token = [("X-Token".to_string(), "s3cret".to_string())];
        assert!(!verify_tls(None, &[], "https://example.com/"));
        assert!(verify_tls(None, &token, "https://example.com/"));
        assert!(verify_tls(None, &[], "https://ops:pw@example.com/"));
        assert!(!verify_tls(Some(false), &token, "https://example.com/"));
        assert!(verify_tls(Some(true), &[], "https://example.com/"));
    }

    #[test]
    fn urls_must_be_web_urls() {
        for good in [
            "http://example.com/",
            "https://example.com:8443/health?x=1",
            "http://[2001:db8::1]:80/",
            "http://192.0.2.1",
        ] {
            assert_eq!(validate_url(good), Ok(()), "{good}");
        }
        for bad in [
            "ftp://example.com/",
            "https:///x",
            "http://example.com:99999/",
            "example.com",
        ] {
            assert!(validate_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn groups_flat_and_nested() {
        let addresses = |items: &[&str]| {
            Value::Table(Table {
                items: items.iter().map(|a| Value::Str(a.to_string())).collect(),
                keyed: vec![],
            })
        };
        assert_eq!(
            address_groups(&addresses(&["192.0.2.1", "::1"])).expect("flat").len(),
            1
        );
        let nested = Value::Table(Table {
            items: vec![addresses(&["192.0.2.1"]), addresses(&["192.0.2.2", "192.0.2.3"])],
            keyed: vec![],
        });
        let groups = address_groups(&nested).expect("nested");
        assert_eq!(groups.iter().map(Vec::len).collect::<Vec<_>>(), [1, 2]);
        assert!(address_groups(&addresses(&["www.example.com"])).is_err());
    }
}
