//! `GET /api/v1/overview`: everything the operator page shows, in one
//! read — the zones as served (serial, records, keys, rollover, last
//! change), the health checks with their transitions, the LUA records
//! and what each answers now, the pool allocations, the latest audit
//! entries and the query counters.
//!
//! A read route like the others (see [`super::auth`]). Private keys,
//! reservation tokens and health-check header values are never part of it.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use base::name::Name;
use base::rdata::{format_rdata, list};
use base::types;
use serde_json::{json, Value};

use super::auth::Caller;
use super::pool::{audit_json, rfc3339, view};
use super::AppState;
use crate::catalog::{Catalog, Snapshot};
use crate::lua::{split_rdata, Client};
use crate::store::{KeyState, LastChange, StoreError};

/// LUA records evaluated per overview: each may run a script, and the
/// page is polled.
const MAX_LUA_RECORDS: usize = 500;

/// Audit entries shown.
const AUDIT_ENTRIES: i64 = 25;

/// The overview, or 503 when the store does not answer (the page says so;
/// DNS answers go on from the snapshots).
pub async fn overview(
    _caller: Caller,
    State(state): State<AppState>,
) -> Result<Json<Value>, (StatusCode, Json<Value>)> {
    let unavailable = |error: StoreError| {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "error": "store-unavailable", "detail": error.to_string() })),
        )
    };
    let keys = state.store.key_states().await.map_err(unavailable)?;
    let changes = state.store.last_changes().await.map_err(unavailable)?;
    let audit = state.store.audit_entries(AUDIT_ENTRIES).await.map_err(unavailable)?;
    let mut pools = Vec::new();
    for domain in &state.pools.settings().domains {
        let allocations = state.store.allocations(domain).await.map_err(unavailable)?;
        let items: Vec<Value> = allocations
            .iter()
            .map(|allocation| Value::Object(view(&state, allocation)))
            .collect();
        pools.push(json!({ "domain": domain, "allocations": items }));
    }

    let catalog = state.catalog.load_full();
    let failures: BTreeMap<String, String> = state.status.failures().into_iter().collect();
    let zones = zones(&catalog, &keys, &changes, &state, &failures);
    let snapshots: Vec<Arc<Snapshot>> = catalog.zones().filter(|s| s.programs.is_some()).cloned().collect();
    let lua = tokio::task::spawn_blocking(move || lua_records(&snapshots))
        .await
        .unwrap_or_default();

    let totals = state.metrics.totals();
    let mut by_rcode: BTreeMap<&str, u64> = BTreeMap::new();
    for (rcode, _, count) in &totals.queries {
        *by_rcode.entry(rcode).or_default() += count;
    }
    Ok(Json(json!({
        "server": {
            "version": env!("CARGO_PKG_VERSION"),
            "uptime_seconds": state.metrics.uptime().as_secs(),
            "loaded": state.status.is_loaded(),
            "now": rfc3339(base::time::unix_now() as i64),
        },
        "queries": {
            "total": by_rcode.values().sum::<u64>(),
            "by_rcode": by_rcode,
            "dropped": totals.dropped,
            "rate_limited": totals.rate_limited.iter().sum::<u64>(),
        },
        "zones": zones,
        "failures": failures,
        "checks": state.health.list(),
        "lua": lua,
        "pools": pools,
        "audit": audit.iter().map(audit_json).collect::<Vec<_>>(),
    })))
}

/// The served zones, by name, with their keys, rollover and last change.
fn zones(
    catalog: &Catalog,
    keys: &[KeyState],
    changes: &[LastChange],
    state: &AppState,
    failures: &BTreeMap<String, String>,
) -> Vec<Value> {
    let rolls = state.rolls.rolls();
    let mut keys_of: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for key in keys {
        keys_of.entry(&key.zone).or_default().push(key_json(key));
    }
    let change_of: BTreeMap<&str, &LastChange> = changes.iter().map(|change| (change.zone.as_str(), change)).collect();
    let mut zones: Vec<(String, Value)> = catalog
        .zones()
        .map(|snapshot| {
            // Stored zone names are written as names print: with the final dot.
            let name = snapshot.zone.apex().to_string();
            let roll = rolls.iter().find(|roll| roll.zone == name).map(|roll| {
                json!({
                    "role": roll.role,
                    "phase": roll.phase,
                    "started": rfc3339(roll.started_at),
                    "next_step": rfc3339(roll.next_at),
                })
            });
            let change = change_of.get(name.as_str()).map(|change| {
                json!({ "kind": change.kind, "serial": change.serial, "author": change.author, "at": rfc3339(change.at) })
            });
            let signed = snapshot.signed.as_ref();
            let expires = signed
                .and_then(|signed| signed.signatures_expire())
                .map(|expiration| rfc3339(i64::from(expiration)));
            let value = json!({
                "name": name,
                "serial": snapshot.zone.serial(),
                "records": snapshot.zone.record_count(),
                "loading": snapshot.loading,
                "failure": failures.get(&name),
                "signed": signed.is_some(),
                "signatures_expire": expires,
                "lua_records": snapshot.programs.as_ref().map_or(0, |programs| {
                    let (native, script, broken) = programs.counts();
                    native + script + broken
                }),
                "keys": keys_of.remove(name.as_str()).unwrap_or_default(),
                "roll": roll,
                "last_change": change,
            });
            (name, value)
        })
        .collect();
    zones.sort_by(|a, b| a.0.cmp(&b.0));
    zones.into_iter().map(|(_, value)| value).collect()
}

fn key_json(key: &KeyState) -> Value {
    let tag = key.dnskey_rdata().ok().map(|rdata| base::dnskey::key_tag(&rdata));
    json!({
        "id": key.id,
        "role": key.role,
        "algorithm": key.algorithm,
        "tag": tag,
        "published": key.published,
        "active": key.active,
        "ds": key.ds,
        "created": rfc3339(key.created_at),
    })
}

/// Each LUA record with what it answers now, for a client that tells
/// nothing about itself (as zone transfers see it), or why it fails.
fn lua_records(snapshots: &[Arc<Snapshot>]) -> Vec<Value> {
    let client = Client::anonymous();
    let mut out = Vec::new();
    for snapshot in snapshots {
        let Some(programs) = &snapshot.programs else {
            continue;
        };
        let zone = snapshot.zone.apex().to_string();
        let mut owners: Vec<&[u8]> = programs.owners().collect();
        owners.sort_unstable();
        for owner in owners {
            let Some(rrset) = snapshot.zone.node(owner).and_then(|node| node.rrset(types::LUA)) else {
                continue;
            };
            let owner_text = Name::from_wire(owner).map_or_else(|_| String::new(), |name| name.to_string());
            // A node's programs start with its LUA records, in their order.
            for (rdata, program) in rrset.rdata().zip(programs.at(owner)) {
                if out.len() == MAX_LUA_RECORDS {
                    return out;
                }
                let (rtype, code) = split_rdata(rdata).unwrap_or((0, ""));
                let mut wire = Vec::new();
                let answer = match program.evaluate(owner, &client, programs, &mut wire) {
                    Ok(_) => json!({ "answers": rdata_list(program.rtype(), &wire) }),
                    Err(error) => json!({ "error": error.to_string() }),
                };
                let mut record = json!({
                    "zone": zone,
                    "owner": owner_text,
                    "type": types::type_to_string(rtype),
                    "code": code,
                });
                if let (Value::Object(record), Value::Object(answer)) = (&mut record, answer) {
                    record.extend(answer);
                }
                out.push(record);
            }
        }
    }
    out
}

/// An RDATA list (each with a 2-octet length) as presentation text.
fn rdata_list(rtype: u16, wire: &[u8]) -> Vec<String> {
    list::iter(wire)
        .map(|rdata| format_rdata(rtype, rdata).unwrap_or_else(|_| "(unprintable)".into()))
        .collect()
}
