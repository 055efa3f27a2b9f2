//! What the listing commands print, as text for people or as JSON for
//! programs (`--output json`), and how errors, completions and the manual
//! page are printed.

use base::dnskey;
use base::name::Name;
use clap::CommandFactory;
use serde_json::{json, Value};

use super::Cli;
use crate::dnssec::crypto::Algorithm;
use crate::store::Store;

/// How a listing is printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    Text,
    Json,
}

fn print_json(value: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// `zone list`: zones, their record counts, and where secondary zones
/// come from.
pub(super) async fn zones(store: &Store, output: Output) -> anyhow::Result<()> {
    let secondaries = store.secondary_zones().await?;
    let mut listed = Vec::new();
    for (name, records) in store.list_zones().await? {
        let secondary = secondaries.iter().find(|zone| zone.name == name);
        match output {
            Output::Json => listed.push(json!({
                "name": name,
                "records": records,
                "secondary": secondary.map(|zone| json!({ "primaries": zone.primaries, "expired": zone.expired })),
            })),
            Output::Text => match secondary {
                Some(zone) => {
                    let state = if zone.expired { ", expired" } else { "" };
                    println!(
                        "{name}\t{records} records\tsecondary of {}{state}",
                        zone.primaries.join(" ")
                    );
                }
                None => println!("{name}\t{records} records"),
            },
        }
    }
    match output {
        Output::Json => print_json(&Value::Array(listed)),
        Output::Text => Ok(()),
    }
}

/// `key list`: a zone's keys, and any rollover in progress.
pub(super) async fn keys(store: &Store, apex: &Name, output: Output) -> anyhow::Result<()> {
    let id = store.zone_id(&apex.to_string()).await?;
    let keys = store.zone_keys(id).await?;
    let rolls: Vec<_> = store
        .rolls()
        .await?
        .into_iter()
        .filter(|roll| roll.zone_id == id)
        .collect();
    let mut listed = Vec::new();
    if keys.is_empty() && output == Output::Text {
        println!("{apex} is not secured");
        return Ok(());
    }
    if output == Output::Text {
        println!("ID\tROLE\tALGORITHM\tTAG\tFLAGS\tSTATE");
    }
    for key in &keys {
        let dnskey = key.dnskey_rdata()?;
        let algorithm = u8::try_from(key.algorithm)
            .ok()
            .and_then(Algorithm::from_number)
            .map_or_else(
                || key.algorithm.to_string(),
                |algorithm| algorithm.mnemonic().to_string(),
            );
        let flags = dnskey.get(..2).map_or(0, |f| u16::from_be_bytes([f[0], f[1]]));
        let tag = dnskey::key_tag(&dnskey);
        match output {
            Output::Json => listed.push(json!({
                "id": key.id,
                "role": key.role,
                "algorithm": algorithm,
                "tag": tag,
                "flags": flags,
                "published": key.published,
                "active": key.active,
                "ds": key.ds,
            })),
            Output::Text => {
                let state = match (key.published, key.active) {
                    (true, true) => "published, active",
                    (true, false) => "published, inactive",
                    (false, true) => "unpublished, active",
                    (false, false) => "unpublished, inactive",
                };
                let ds = if key.ds { ", DS" } else { "" };
                println!(
                    "{}\t{}\t{algorithm}\t{tag}\t{flags}\t{state}{ds}",
                    key.id,
                    key.role.to_uppercase()
                );
            }
        }
    }
    let waiting_for_ds = |roll: &crate::store::StoredRoll| roll.phase == "ds-wait" && roll.ds_seen_at.is_none();
    if output == Output::Json {
        let rolls: Vec<Value> = rolls
            .iter()
            .map(|roll| {
                json!({
                    "role": roll.role,
                    "old_key": roll.old_key_id,
                    "new_key": roll.new_key_id,
                    "phase": roll.phase,
                    "next_at": roll.next_at,
                    "waiting_for_ds": waiting_for_ds(roll),
                })
            })
            .collect();
        return print_json(&json!({
            "zone": apex.to_string(),
            "secured": !keys.is_empty(),
            "keys": listed,
            "rolls": rolls,
        }));
    }
    for roll in &rolls {
        let waiting = if waiting_for_ds(roll) {
            "waiting for the parent's DS".to_string()
        } else {
            format!("next step at {} (Unix time)", roll.next_at)
        };
        println!(
            "roll: {} key {} -> key {}, phase {}, {waiting}",
            roll.role.to_uppercase(),
            roll.old_key_id,
            roll.new_key_id,
            roll.phase
        );
    }
    Ok(())
}

/// `tsig list`: stored TSIG keys, names and algorithms (never secrets).
pub(super) async fn tsig_keys(store: &Store, output: Output) -> anyhow::Result<()> {
    let keys = store.tsig_keys().await?;
    match output {
        Output::Json => print_json(&Value::Array(
            keys.iter()
                .map(|key| json!({ "name": key.name, "algorithm": key.algorithm }))
                .collect(),
        )),
        Output::Text => {
            for key in keys {
                println!("{}\t{}", key.name, key.algorithm);
            }
            Ok(())
        }
    }
}

/// `pool list`: the allocations of `domains` (never their tokens).
pub(super) async fn pool(store: &Store, domains: &[String], output: Output) -> anyhow::Result<()> {
    let mut listed = Vec::new();
    for domain in domains {
        for allocation in store.allocations(domain).await? {
            let name = format!("{}.{}", allocation.subdomain, allocation.pool_domain);
            match output {
                Output::Json => {
                    let regions: Option<Value> = allocation
                        .regions
                        .as_deref()
                        .and_then(|regions| serde_json::from_str(regions).ok());
                    listed.push(json!({
                        "name": name,
                        "pool": allocation.pool_domain,
                        "subdomain": allocation.subdomain,
                        "state": allocation.state,
                        "created_by": allocation.created_by,
                        "reserved_at": allocation.reserved_at,
                        "expires_at": allocation.expires_at,
                        "committed_at": allocation.committed_at,
                        "sovereign_fqdn": allocation.sovereign_fqdn,
                        "load_balancer_ip": allocation.load_balancer_ip,
                        "regions": regions,
                        "delegated": allocation.delegated,
                        "last_error": allocation.last_error,
                    }));
                }
                Output::Text => {
                    let error = allocation
                        .last_error
                        .as_deref()
                        .map_or(String::new(), |error| format!("\terror: {error}"));
                    println!(
                        "{name}\t{}\t{}\t{}{error}",
                        allocation.state,
                        allocation.sovereign_fqdn.as_deref().unwrap_or("-"),
                        allocation.load_balancer_ip.as_deref().unwrap_or("-"),
                    );
                }
            }
        }
    }
    match output {
        Output::Json => print_json(&Value::Array(listed)),
        Output::Text => Ok(()),
    }
}

/// An error and its causes on one line, each said once: a cause whose text
/// the message already holds (errors that print their source) is left out.
pub fn error_text(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

/// Writes the completion script for `shell` to standard output.
pub fn print_completions(shell: clap_complete::Shell) {
    clap_complete::generate(shell, &mut Cli::command(), "pooldns", &mut std::io::stdout());
}

/// Writes the manual page (roff) to standard output.
pub fn print_man() -> std::io::Result<()> {
    clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("{0}")]
    struct Repeats(#[source] std::io::Error);

    #[test]
    fn each_cause_is_said_once() {
        let inner = std::io::Error::other("zone.txt:3: unknown type FOO");
        let error = anyhow::Error::new(Repeats(inner)).context("importing zone.txt");
        assert_eq!(error_text(&error), "importing zone.txt: zone.txt:3: unknown type FOO");
        let plain = anyhow::anyhow!("no such zone").context("key list");
        assert_eq!(error_text(&plain), "key list: no such zone");
    }
}
