//! What an allocation puts into DNS: the child zone's skeleton, the
//! parent's delegation, and the records a commit points at the Sovereign.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::health::validate_url;
use crate::store::StoredRecord;

/// TTL of the child's SOA and NS records and of the parent's delegation
/// (PDM's 3600).
pub const ZONE_TTL: i64 = 3600;

/// One region of a multi-region commit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Region {
    pub name: String,
    pub ips: Vec<String>,
    #[serde(rename = "healthUrl")]
    pub health_url: String,
}

/// Whether `label` is an allocatable subdomain as PDM defines it: 1-63
/// characters of `a-z0-9-`, not starting with a digit or hyphen, not
/// ending with a hyphen.
pub fn valid_label(label: &str) -> bool {
    let bytes = label.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes[0].is_ascii_lowercase()
        && bytes[bytes.len() - 1] != b'-'
        && bytes
            .iter()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || *byte == b'-')
}

/// The zone of an allocation: `<subdomain>.<pool>.`.
pub fn child_zone(pool: &str, subdomain: &str) -> String {
    format!("{subdomain}.{pool}.")
}

/// The records a new child zone starts with: SOA and NS. The serial
/// starts at the current Unix time, so a zone deleted and allocated again
/// never goes back in serial.
pub fn skeleton(zone: &str, pool: &str, nameservers: &[String], now: i64) -> Vec<StoredRecord> {
    let primary = nameservers.first().map_or("localhost.", String::as_str);
    let mut records = vec![StoredRecord {
        name: zone.to_string(),
        rtype: "SOA".into(),
        ttl: ZONE_TTL,
        content: format!("{primary} hostmaster.{pool}. {} 3600 900 1209600 300", now as u32),
    }];
    records.extend(delegation(zone, nameservers));
    records
}

/// The NS records of `zone`, at its apex or in its parent.
pub fn delegation(zone: &str, nameservers: &[String]) -> Vec<StoredRecord> {
    nameservers
        .iter()
        .map(|host| StoredRecord {
            name: zone.to_string(),
            rtype: "NS".into(),
            ttl: ZONE_TTL,
            content: host.clone(),
        })
        .collect()
}

/// The owner names of the committed records: `@` is the apex, `*` the
/// wildcard, others labels below the apex.
pub fn owners(zone: &str, names: &[String]) -> Vec<String> {
    names
        .iter()
        .map(|name| match name.as_str() {
            "@" => zone.to_string(),
            other => format!("{}.{zone}", other.trim_end_matches('.').to_ascii_lowercase()),
        })
        .collect()
}

/// The types a commit writes at each owner; a new commit replaces them.
pub const COMMITTED_TYPES: [&str; 3] = ["A", "AAAA", "LUA"];

/// The records a commit writes at each owner: A or AAAA for a single
/// address; with regions, LUA records that answer with the closest
/// region whose health URL answers (all regions when none does).
pub fn committed(owners: &[String], ttl: u32, address: Option<IpAddr>, regions: &[Region]) -> Vec<StoredRecord> {
    let mut contents: Vec<(&str, String)> = Vec::new();
    if regions.is_empty() {
        match address {
            Some(IpAddr::V4(v4)) => contents.push(("A", v4.to_string())),
            Some(IpAddr::V6(v6)) => contents.push(("AAAA", v6.to_string())),
            None => {}
        }
    } else {
        for (family, v4) in [("A", true), ("AAAA", false)] {
            let pairs: Vec<String> = regions
                .iter()
                .flat_map(|region| {
                    region
                        .ips
                        .iter()
                        .filter_map(|ip| ip.parse::<IpAddr>().ok())
                        .filter(move |ip| ip.is_ipv4() == v4)
                        .map(move |ip| format!("['{ip}']='{}'", region.health_url))
                })
                .collect();
            if !pairs.is_empty() {
                let code = format!(
                    "ifurlextup({{{{{}}}}}, {{selector='pickclosest', backupSelector='all'}})",
                    pairs.join(", ")
                );
                contents.push(("LUA", format!("{family} \"{code}\"")));
            }
        }
    }
    owners
        .iter()
        .flat_map(|owner| {
            contents.iter().map(move |(rtype, content)| StoredRecord {
                name: owner.clone(),
                rtype: rtype.to_string(),
                ttl: i64::from(ttl),
                content: content.clone(),
            })
        })
        .collect()
}

/// Checks the regions of a commit; the message says what is wrong.
pub fn check_regions(regions: &[Region]) -> Result<(), String> {
    for region in regions {
        if !valid_label(&region.name) {
            return Err(format!("region name {:?} must be a DNS label", region.name));
        }
        if region.ips.is_empty() {
            return Err(format!("region {} has no ips", region.name));
        }
        for ip in &region.ips {
            ip.parse::<IpAddr>()
                .map_err(|_| format!("region {}: {ip:?} is not an IP address", region.name))?;
        }
        // The URL goes into Lua source between single quotes.
        if region.health_url.contains(['\'', '\\', '"']) {
            return Err(format!("region {}: healthUrl contains quotes", region.name));
        }
        validate_url(&region.health_url).map_err(|error| format!("region {}: healthUrl: {error}", region.name))?;
    }
    let mut names: Vec<&str> = regions.iter().map(|region| region.name.as_str()).collect();
    names.sort_unstable();
    if names.windows(2).any(|pair| pair[0] == pair[1]) {
        return Err("region names must be unique".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_follow_pdm() {
        for good in ["a", "omantel", "a-1", "x9"] {
            assert!(valid_label(good), "{good}");
        }
        for bad in ["", "1abc", "-a", "a-", "A", "a.b", "a_b", &"a".repeat(64)] {
            assert!(!valid_label(bad), "{bad}");
        }
    }

    #[test]
    fn regions_become_one_lua_record_per_family() {
        let owners = owners("s.pool.test.", &["@".into(), "console".into()]);
        assert_eq!(owners, ["s.pool.test.", "console.s.pool.test."]);
        let regions = vec![
            Region {
                name: "fsn".into(),
                ips: vec!["192.0.2.1".into(), "2001:db8::1".into()],
                health_url: "http://fsn.example/healthz".into(),
            },
            Region {
                name: "hel".into(),
                ips: vec!["192.0.2.2".into()],
                health_url: "http://hel.example/healthz".into(),
            },
        ];
        check_regions(&regions).expect("valid");
        let records = committed(&owners, 60, None, &regions);
        assert_eq!(records.len(), 4);
        assert_eq!(
            records[0].content,
            "A \"ifurlextup({{['192.0.2.1']='http://fsn.example/healthz', ['192.0.2.2']='http://hel.example/healthz'}}, \
             {selector='pickclosest', backupSelector='all'})\""
        );
        assert!(records[1].content.starts_with("AAAA \"ifurlextup({{['2001:db8::1']="));
        let plain = committed(&owners, 300, Some("2001:db8::5".parse().expect("ip")), &[]);
        assert_eq!(plain[0].rtype, "AAAA");
        assert_eq!(plain[0].content, "2001:db8::5");
    }
}
