//! Zone metadata: `zones/{zone}/metadata[/{kind}]`, with PowerDNS's kinds
//! and rules. Values are kept with the zone; SOA-EDIT-API and NSEC3PARAM
//! are shown from the zone's settings, which the zone object changes.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use base::netmask::Netmask;
use serde_json::{json, Value};

use super::{body, check_server, find_zone, locked, require_write, shape, PdnsError};
use crate::api::auth::Caller;
use crate::api::AppState;
use crate::config::server_address;
use crate::store::ZoneSummary;

/// The kinds PowerDNS 4.7 accepts; `X-` kinds are free.
const KINDS: &[&str] = &[
    "ALLOW-AXFR-FROM",
    "AXFR-SOURCE",
    "ALLOW-DNSUPDATE-FROM",
    "TSIG-ALLOW-DNSUPDATE",
    "FORWARD-DNSUPDATE",
    "SOA-EDIT-DNSUPDATE",
    "NOTIFY-DNSUPDATE",
    "ALSO-NOTIFY",
    "AXFR-MASTER-TSIG",
    "GSS-ALLOW-AXFR-PRINCIPAL",
    "GSS-ACCEPTOR-PRINCIPAL",
    "IXFR",
    "LUA-AXFR-SCRIPT",
    "NSEC3NARROW",
    "NSEC3PARAM",
    "PRESIGNED",
    "PUBLISH-CDNSKEY",
    "PUBLISH-CDS",
    "SLAVE-RENOTIFY",
    "SOA-EDIT",
    "TSIG-ALLOW-AXFR",
];

/// Kinds that are read here but set through the zone object
/// (`nsec3param`, `master_tsig_key_ids`) or not at all.
const READ_ONLY: &[&str] = &[
    "AXFR-MASTER-TSIG",
    "LUA-AXFR-SCRIPT",
    "NSEC3NARROW",
    "NSEC3PARAM",
    "PRESIGNED",
    "TSIG-ALLOW-AXFR",
];

/// Refuses a kind PowerDNS does not know, or (for writes) one it does not
/// let the API set.
fn check_kind(kind: &str, write: bool) -> Result<(), PdnsError> {
    let known = kind.starts_with("X-") || KINDS.contains(&kind);
    if known && !(write && READ_ONLY.contains(&kind)) {
        Ok(())
    } else {
        Err(PdnsError::new(422, format!("Unsupported metadata kind '{kind}'")))
    }
}

/// Refuses values the server could not use: ALLOW-AXFR-FROM takes
/// addresses and networks (or AUTO-NS), ALSO-NOTIFY addresses with an
/// optional port.
fn check_values(kind: &str, values: &[String]) -> Result<(), PdnsError> {
    let bad = |value: &str, what: &str| PdnsError::new(422, format!("{kind} value '{value}' is not {what}"));
    for value in values {
        match kind {
            "ALLOW-AXFR-FROM" if value != "AUTO-NS" && value.parse::<Netmask>().is_err() => {
                return Err(bad(value, "an address or a network"))
            }
            "ALSO-NOTIFY" if server_address(value).is_none() => {
                return Err(bad(value, "an address, with or without a port"))
            }
            _ => {}
        }
    }
    Ok(())
}

/// The metadata of a zone as shown: stored kinds, plus those that come
/// from the zone's settings; sorted by kind.
async fn shown(state: &AppState, summary: &ZoneSummary) -> Result<Vec<(String, Vec<String>)>, PdnsError> {
    let mut kinds = state.store.zone_metadata(&summary.name).await?;
    kinds.push((
        "SOA-EDIT-API".into(),
        vec![shape::soa_edit_api(&summary.serial_policy).to_string()],
    ));
    let nsec3param = shape::nsec3param(summary.dnssec.as_ref());
    if !nsec3param.is_empty() {
        kinds.push(("NSEC3PARAM".into(), vec![nsec3param]));
    }
    kinds.sort();
    Ok(kinds)
}

fn object(kind: &str, values: &[String]) -> Value {
    json!({ "type": "Metadata", "kind": kind, "metadata": values })
}

/// The `metadata` array of a request body.
fn values(request: &Value) -> Result<Vec<String>, PdnsError> {
    let list = request
        .get("metadata")
        .and_then(Value::as_array)
        .ok_or_else(|| PdnsError::new(422, "metadata is not specified or not an array"))?;
    list.iter()
        .map(|value| {
            value
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| PdnsError::new(422, "metadata must be strings"))
        })
        .collect()
}

/// Stores `values` as the whole of `kind`.
async fn store(state: &AppState, zone: &str, kind: &str, values: &[String]) -> Result<(), PdnsError> {
    let mut writer = state.store.writer().await?;
    let locked = locked(&mut writer, zone).await?;
    writer.set_metadata(&locked, kind, values).await?;
    writer.commit().await?;
    Ok(())
}

/// `GET .../metadata`.
pub async fn list(
    caller: Caller,
    State(state): State<AppState>,
    Path((server, id)): Path<(String, String)>,
) -> Result<Json<Value>, PdnsError> {
    check_server(&server)?;
    let (_, summary) = find_zone(&state, &caller, &id).await?;
    let kinds = shown(&state, &summary).await?;
    Ok(Json(Value::Array(
        kinds.iter().map(|(kind, values)| object(kind, values)).collect(),
    )))
}

/// `POST .../metadata`: values added to those of the kind.
pub async fn add(
    caller: Caller,
    State(state): State<AppState>,
    Path((server, id)): Path<(String, String)>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<(StatusCode, Json<Value>), PdnsError> {
    check_server(&server)?;
    require_write(&caller)?;
    let request = body(&headers, &bytes)?;
    let (_, summary) = find_zone(&state, &caller, &id).await?;
    let kind = request
        .get("kind")
        .and_then(Value::as_str)
        .ok_or_else(|| PdnsError::new(422, "kind is not specified or not a string"))?;
    let added = values(&request)?;
    check_kind(kind, true)?;
    check_values(kind, &added)?;
    let metadata = state.store.zone_metadata(&summary.name).await?;
    let mut all = shape::metadata_values(&metadata, kind).to_vec();
    for value in added {
        if !all.contains(&value) {
            all.push(value);
        }
    }
    store(&state, &summary.name, kind, &all).await?;
    Ok((StatusCode::CREATED, Json(object(kind, &all))))
}

/// `GET .../metadata/{kind}`.
pub async fn get(
    caller: Caller,
    State(state): State<AppState>,
    Path((server, id, kind)): Path<(String, String, String)>,
) -> Result<Json<Value>, PdnsError> {
    check_server(&server)?;
    let (_, summary) = find_zone(&state, &caller, &id).await?;
    check_kind(&kind, false)?;
    let kinds = shown(&state, &summary).await?;
    Ok(Json(object(&kind, shape::metadata_values(&kinds, &kind))))
}

/// `PUT .../metadata/{kind}`: the kind's values replaced.
pub async fn replace(
    caller: Caller,
    State(state): State<AppState>,
    Path((server, id, kind)): Path<(String, String, String)>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Json<Value>, PdnsError> {
    check_server(&server)?;
    require_write(&caller)?;
    let request = body(&headers, &bytes)?;
    let (_, summary) = find_zone(&state, &caller, &id).await?;
    let values = values(&request)?;
    check_kind(&kind, true)?;
    check_values(&kind, &values)?;
    store(&state, &summary.name, &kind, &values).await?;
    Ok(Json(object(&kind, &values)))
}

/// `DELETE .../metadata/{kind}`.
pub async fn delete(
    caller: Caller,
    State(state): State<AppState>,
    Path((server, id, kind)): Path<(String, String, String)>,
) -> Result<StatusCode, PdnsError> {
    check_server(&server)?;
    require_write(&caller)?;
    let (_, summary) = find_zone(&state, &caller, &id).await?;
    check_kind(&kind, true)?;
    store(&state, &summary.name, &kind, &[]).await?;
    Ok(StatusCode::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_values_as_powerdns_takes_them() {
        assert!(check_kind("ALLOW-AXFR-FROM", true).is_ok());
        assert!(check_kind("X-ANYTHING", true).is_ok());
        assert!(check_kind("TSIG-ALLOW-AXFR", false).is_ok());
        assert!(
            check_kind("TSIG-ALLOW-AXFR", true).is_err(),
            "set through master_tsig_key_ids"
        );
        assert!(check_kind("SOA-EDIT-API", false).is_err(), "a zone field, not metadata");
        assert!(check_kind("also-notify", true).is_err(), "kinds are case-sensitive");
        let ok = |kind, value: &str| check_values(kind, &[value.to_string()]).is_ok();
        assert!(ok("ALLOW-AXFR-FROM", "192.0.2.0/24") && ok("ALLOW-AXFR-FROM", "2001:db8::/32"));
        assert!(ok("ALLOW-AXFR-FROM", "AUTO-NS") && ok("ALLOW-AXFR-FROM", "198.51.100.7"));
        assert!(!ok("ALLOW-AXFR-FROM", "192.0.2.0/33") && !ok("ALLOW-AXFR-FROM", "not-an-ip"));
        assert!(ok("ALSO-NOTIFY", "192.0.2.7") && ok("ALSO-NOTIFY", "[2001:db8::7]:5300"));
        assert!(!ok("ALSO-NOTIFY", "ns1.example."));
        assert!(ok("X-FREE", "anything at all"));
    }
}
