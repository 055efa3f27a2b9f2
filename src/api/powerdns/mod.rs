//! The PowerDNS Authoritative HTTP API (v1) as its clients use it:
//! external-dns's `pdns` provider, cert-manager-webhook-pdns, octoDNS's
//! PowerDNS provider. Server object, zones list, create, get, PATCH
//! (REPLACE, DELETE, EXTEND, PRUNE), DELETE, export, and the rectify and
//! notify calls (accepted: zones here are always rectified, and NOTIFY
//! comes with zone transfers). Every change goes through the one change
//! path, bumping the serial per the zone's SOA-EDIT-API and journalled.
//! Errors are PowerDNS's: `{"error": "..."}` with its status codes.

mod json;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base::name::Name;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::Caller;
use super::AppState;
use crate::change::{ChangeError, ChangeSet, ZoneChange};
use crate::dnssec::crypto::Algorithm;
use crate::dnssec::keys::new_keys;
use crate::store::{DnssecSettings, StoredRecord, ZoneSummary};

/// The largest request body: a PATCH may carry a whole zone.
pub const MAX_BODY: usize = 16 * 1024 * 1024;

/// The only server id, as in PowerDNS.
const SERVER_ID: &str = "localhost";

/// An error answer in PowerDNS's shape.
pub struct PdnsError(StatusCode, String);

impl PdnsError {
    fn new(status: u16, message: impl Into<String>) -> PdnsError {
        PdnsError(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            message.into(),
        )
    }
}

impl IntoResponse for PdnsError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

impl From<(u16, String)> for PdnsError {
    fn from((status, message): (u16, String)) -> PdnsError {
        PdnsError::new(status, message)
    }
}

impl From<ChangeError> for PdnsError {
    fn from(error: ChangeError) -> PdnsError {
        match error {
            ChangeError::ZoneExists(zone) => PdnsError::new(409, format!("Domain '{zone}' already exists")),
            ChangeError::NoSuchZone(zone) => PdnsError::new(404, format!("Could not find domain '{zone}'")),
            ChangeError::Invalid { message, .. } => PdnsError::new(422, message),
            ChangeError::Store(error) => {
                tracing::error!(%error, "PowerDNS API request failed");
                PdnsError::new(500, "the store failed; nothing changed")
            }
        }
    }
}

impl From<crate::store::StoreError> for PdnsError {
    fn from(error: crate::store::StoreError) -> PdnsError {
        ChangeError::Store(error).into()
    }
}

fn check_server(server: &str) -> Result<(), PdnsError> {
    if server == SERVER_ID {
        Ok(())
    } else {
        Err(PdnsError::new(404, "Not Found"))
    }
}

/// A zone id or name as a canonical zone name (lowercase, trailing dot).
fn zone_name(id: &str) -> Result<Name, PdnsError> {
    let absolute = if id.ends_with('.') {
        id.to_string()
    } else {
        format!("{id}.")
    };
    Name::parse(&absolute, None)
        .map(|name| name.to_lowercase())
        .map_err(|error| PdnsError::new(422, format!("Zone name '{id}' is invalid: {error}")))
}

/// Reads a JSON body as PowerDNS does: 400 for what does not parse.
fn body(headers: &HeaderMap, bytes: &Bytes) -> Result<Value, PdnsError> {
    let json_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_none_or(|value| value.starts_with("application/json"));
    if !json_type {
        return Err(PdnsError::new(415, "Content-Type must be application/json"));
    }
    serde_json::from_slice(bytes).map_err(|error| PdnsError::new(400, format!("JSON parse error: {error}")))
}

fn require_write(caller: &Caller) -> Result<(), PdnsError> {
    caller
        .require_write()
        .map_err(|_| PdnsError::new(403, "this API key may only read"))
}

/// Refuses a zone outside the caller's scope; as PowerDNS would for a
/// zone it does not have, the answer does not say whether it exists.
fn require_zone(caller: &Caller, zone: &Name) -> Result<(), PdnsError> {
    if caller.may_use_zone(&zone.to_string()) {
        Ok(())
    } else {
        Err(PdnsError::new(404, format!("Could not find domain '{zone}'")))
    }
}

async fn summary(state: &AppState, zone: &Name) -> Result<ZoneSummary, PdnsError> {
    let name = zone.to_string();
    state
        .store
        .zone_summary(&name)
        .await?
        .ok_or_else(|| PdnsError::new(404, format!("Could not find domain '{name}'")))
}

/// The zone a request's `{zone}` names: valid, in the caller's scope, and
/// served here.
async fn find_zone(state: &AppState, caller: &Caller, id: &str) -> Result<(Name, ZoneSummary), PdnsError> {
    let zone = zone_name(id)?;
    require_zone(caller, &zone)?;
    let summary = summary(state, &zone).await?;
    Ok((zone, summary))
}

/// `GET /api/v1/servers`.
pub async fn servers(_caller: Caller) -> Json<Value> {
    Json(json!([server_object()]))
}

/// `GET /api/v1/servers/{server}`.
pub async fn server(_caller: Caller, Path(server): Path<String>) -> Result<Json<Value>, PdnsError> {
    check_server(&server)?;
    Ok(Json(server_object()))
}

fn server_object() -> Value {
    json!({
        "type": "Server",
        "id": SERVER_ID,
        "daemon_type": "authoritative",
        "version": concat!("pooldns ", env!("CARGO_PKG_VERSION")),
        "url": "/api/v1/servers/localhost",
        "config_url": "/api/v1/servers/localhost/config{/config_setting}",
        "zones_url": "/api/v1/servers/localhost/zones{/zone}",
    })
}

/// `?zone=&dnssec=`.
#[derive(Deserialize)]
pub struct ListQuery {
    zone: Option<String>,
    #[serde(default = "yes")]
    dnssec: bool,
}

fn yes() -> bool {
    true
}

/// `GET /api/v1/servers/localhost/zones`.
pub async fn list_zones(
    caller: Caller,
    State(state): State<AppState>,
    Path(server): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Value>, PdnsError> {
    check_server(&server)?;
    let wanted = query
        .zone
        .as_deref()
        .map(zone_name)
        .transpose()?
        .map(|name| name.to_string());
    let zones: Vec<Value> = state
        .store
        .zone_summaries()
        .await?
        .iter()
        .filter(|summary| wanted.as_ref().is_none_or(|wanted| *wanted == summary.name))
        .filter(|summary| caller.may_use_zone(&summary.name))
        .map(|summary| {
            let mut zone = json::zone_object(summary);
            if !query.dnssec {
                zone.remove("dnssec");
            }
            Value::Object(zone)
        })
        .collect();
    Ok(Json(Value::Array(zones)))
}

/// `?rrsets=&rrset_name=&rrset_type=`.
#[derive(Deserialize)]
pub struct ZoneQuery {
    #[serde(default = "yes")]
    rrsets: bool,
    rrset_name: Option<String>,
    rrset_type: Option<String>,
}

/// `GET /api/v1/servers/localhost/zones/{zone}`.
pub async fn get_zone(
    caller: Caller,
    State(state): State<AppState>,
    Path((server, id)): Path<(String, String)>,
    Query(query): Query<ZoneQuery>,
) -> Result<Json<Value>, PdnsError> {
    check_server(&server)?;
    let (_, summary) = find_zone(&state, &caller, &id).await?;
    let mut object = json::zone_object(&summary);
    if query.rrsets {
        let records = state.store.zone_records_by_name(&summary.name).await?;
        let sets = json::rrsets(&records, query.rrset_name.as_deref(), query.rrset_type.as_deref());
        object.insert("rrsets".into(), Value::Array(sets));
    }
    Ok(Json(Value::Object(object)))
}

/// `POST /api/v1/servers/localhost/zones`: kind Native or Master, with
/// `nameservers` and/or `rrsets`, `dnssec`, `soa_edit_api`.
pub async fn create_zone(
    caller: Caller,
    State(state): State<AppState>,
    Path(server): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<(StatusCode, Json<Value>), PdnsError> {
    check_server(&server)?;
    require_write(&caller)?;
    let request = body(&headers, &bytes)?;
    let name = request
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| PdnsError::new(422, "Key 'name' not present or not a String"))?;
    if !name.ends_with('.') {
        return Err(PdnsError::new(422, format!("DNS Name '{name}' is not canonical")));
    }
    let zone = zone_name(name)?;
    require_zone(&caller, &zone)?;
    let apex = zone.to_string();
    match request.get("kind").and_then(Value::as_str).unwrap_or("Native") {
        kind if kind.eq_ignore_ascii_case("native") || kind.eq_ignore_ascii_case("master") => {}
        other => {
            return Err(PdnsError::new(
                422,
                format!("Zone kind '{other}' is not supported here (Native or Master)"),
            ))
        }
    }
    let policy = json::serial_policy(request.get("soa_edit_api").and_then(Value::as_str).unwrap_or("DEFAULT"))?;
    let mut records: Vec<StoredRecord> = Vec::new();
    let nameservers: Vec<String> = request
        .get("nameservers")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default();
    for host in &nameservers {
        if !host.ends_with('.') {
            return Err(PdnsError::new(422, format!("Nameserver is not canonical: '{host}'")));
        }
        records.push(StoredRecord {
            name: apex.clone(),
            rtype: "NS".into(),
            ttl: 3600,
            content: host.to_ascii_lowercase(),
        });
    }
    if let Some(sets) = request.get("rrsets").filter(|sets| !sets.is_null()) {
        let mut with_changetype = json!({ "rrsets": [] });
        for set in sets.as_array().into_iter().flatten() {
            let mut set = set.clone();
            set["changetype"] = json!("REPLACE");
            with_changetype["rrsets"].as_array_mut().expect("array").push(set);
        }
        let soa_sets: Vec<Value> = with_changetype["rrsets"]
            .as_array()
            .expect("array")
            .iter()
            .filter(|set| {
                set["type"]
                    .as_str()
                    .is_some_and(|rtype| rtype.eq_ignore_ascii_case("SOA"))
            })
            .cloned()
            .collect();
        with_changetype["rrsets"].as_array_mut().expect("array").retain(|set| {
            !set["type"]
                .as_str()
                .is_some_and(|rtype| rtype.eq_ignore_ascii_case("SOA"))
        });
        let patch = json::patch(&with_changetype, &zone, state.lua_enabled)?;
        if !nameservers.is_empty()
            && patch
                .add
                .iter()
                .any(|record| record.rtype == "NS" && record.name == apex)
        {
            return Err(PdnsError::new(
                422,
                "Nameservers list MUST be empty if NS records are given in rrsets",
            ));
        }
        records.extend(patch.add);
        for set in soa_sets {
            let content = set["records"][0]["content"].as_str().unwrap_or_default();
            let wire = base::rdata::parse_rdata_text(base::types::SOA, content, &zone)
                .map_err(|error| PdnsError::new(422, format!("Record {apex}/SOA '{content}': {error}")))?;
            records.push(StoredRecord {
                name: apex.clone(),
                rtype: "SOA".into(),
                ttl: set["ttl"].as_i64().unwrap_or(3600),
                content: base::rdata::format_rdata(base::types::SOA, &wire)
                    .map_err(|error| PdnsError::new(422, error.to_string()))?,
            });
        }
    }
    if !records.iter().any(|record| record.rtype == "SOA") {
        // PowerDNS's default-soa-content, with its serial set by the policy.
        let primary = nameservers
            .first()
            .cloned()
            .unwrap_or_else(|| "a.misconfigured.dns.server.invalid.".into());
        let serial = policy.next(0, unix_time());
        records.insert(
            0,
            StoredRecord {
                name: apex.clone(),
                rtype: "SOA".into(),
                ttl: 3600,
                content: format!(
                    "{} hostmaster.{apex} {serial} 10800 3600 604800 3600",
                    primary.to_ascii_lowercase()
                ),
            },
        );
    }
    let dnssec = request.get("dnssec").and_then(Value::as_bool).unwrap_or(false);
    let mut writer = state.store.writer().await?;
    ChangeSet::new(
        apex.clone(),
        ZoneChange::Create {
            records,
            serial_policy: policy,
        },
        format!("api:{}", caller.name),
    )
    .apply(&mut writer)
    .await?;
    if dnssec {
        let keys = new_keys(&zone, Algorithm::EcdsaP256Sha256, false, state.kek.as_deref())
            .map_err(|error| PdnsError::new(500, format!("cannot make keys: {error}")))?;
        let rows: Vec<_> = keys.iter().map(|key| key.row()).collect();
        let locked = writer
            .lock_zone(&apex)
            .await?
            .ok_or_else(|| PdnsError::new(500, "zone vanished"))?;
        let settings = DnssecSettings {
            denial: "nsec".into(),
            nsec3_opt_out: false,
        };
        writer.secure_zone(&locked, &settings, &rows).await?;
    }
    writer.commit().await?;
    tracing::info!(caller = %caller.name, zone = %apex, "zone created through the PowerDNS API");
    let summary = summary(&state, &zone).await?;
    let mut object = json::zone_object(&summary);
    let stored = state.store.zone_records_by_name(&apex).await?;
    object.insert("rrsets".into(), Value::Array(json::rrsets(&stored, None, None)));
    Ok((StatusCode::CREATED, Json(Value::Object(object))))
}

/// `PATCH /api/v1/servers/localhost/zones/{zone}`: all RRsets or none.
pub async fn patch_zone(
    caller: Caller,
    State(state): State<AppState>,
    Path((server, id)): Path<(String, String)>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<StatusCode, PdnsError> {
    check_server(&server)?;
    require_write(&caller)?;
    let request = body(&headers, &bytes)?;
    let (zone, _) = find_zone(&state, &caller, &id).await?;
    let patch = json::patch(&request, &zone, state.lua_enabled)?;
    ChangeSet::new(
        zone.to_string(),
        ZoneChange::Edit {
            remove: patch.remove,
            add: patch.add,
        },
        format!("api:{}", caller.name),
    )
    .apply_alone(&state.store)
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /api/v1/servers/localhost/zones/{zone}`: zone metadata. Accepted
/// for the fields clients send; `soa_edit_api` changes the serial policy.
pub async fn put_zone(
    caller: Caller,
    State(state): State<AppState>,
    Path((server, id)): Path<(String, String)>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<StatusCode, PdnsError> {
    check_server(&server)?;
    require_write(&caller)?;
    let request = body(&headers, &bytes)?;
    if !request.is_object() {
        return Err(PdnsError::new(422, "the body must be a zone object"));
    }
    let (zone, _) = find_zone(&state, &caller, &id).await?;
    if let Some(kind) = request.get("soa_edit_api").and_then(Value::as_str) {
        let policy = json::serial_policy(kind)?;
        state
            .store
            .set_serial_policy(&zone.to_string(), policy.as_str())
            .await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/servers/localhost/zones/{zone}`.
pub async fn delete_zone(
    caller: Caller,
    State(state): State<AppState>,
    Path((server, id)): Path<(String, String)>,
) -> Result<StatusCode, PdnsError> {
    check_server(&server)?;
    require_write(&caller)?;
    let zone = zone_name(&id)?;
    require_zone(&caller, &zone)?;
    ChangeSet::new(zone.to_string(), ZoneChange::Delete, format!("api:{}", caller.name))
        .apply_alone(&state.store)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT .../rectify` and `PUT .../notify`: zones here are always
/// rectified; the answer says so.
pub async fn rectify(
    caller: Caller,
    State(state): State<AppState>,
    Path((server, id)): Path<(String, String)>,
) -> Result<Json<Value>, PdnsError> {
    check_server(&server)?;
    find_zone(&state, &caller, &id).await?;
    Ok(Json(json!({ "result": "Rectified" })))
}

/// `GET .../export`: the zone file.
pub async fn export(
    caller: Caller,
    State(state): State<AppState>,
    Path((server, id)): Path<(String, String)>,
) -> Result<Response, PdnsError> {
    check_server(&server)?;
    let (zone, _) = find_zone(&state, &caller, &id).await?;
    let rows = state.store.zone_records_by_name(&zone.to_string()).await?;
    let records = crate::import::from_rows(&zone, rows).map_err(|error| PdnsError::new(500, error.to_string()))?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain")],
        crate::import::export(&zone, &records),
    )
        .into_response())
}

fn unix_time() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64)
}
