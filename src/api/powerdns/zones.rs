//! Zones: list, create, get, PATCH, PUT, DELETE, export, and the
//! rectify and notify calls (accepted: zones here are always rectified,
//! and NOTIFY comes with zone transfers).

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{
    body, check_server, find_zone, locked, require_write, require_zone, shape, summary, unix_time, zone_name, PdnsError,
};
use crate::api::auth::Caller;
use crate::api::AppState;
use crate::change::{ChangeSet, ZoneChange};
use crate::dnssec::crypto::Algorithm;
use crate::dnssec::keys::new_keys;
use crate::store::{DnssecSettings, LockedZone, StoredRecord, Writer, ZoneSummary};
use base::name::Name;

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
    let metadata = state.store.all_zone_metadata().await?;
    let zones: Vec<Value> = state
        .store
        .zone_summaries()
        .await?
        .iter()
        .filter(|summary| wanted.as_ref().is_none_or(|wanted| *wanted == summary.name))
        .filter(|summary| caller.may_use_zone(&summary.name))
        .map(|summary| {
            let kinds = metadata.get(&summary.name).map_or(&[][..], Vec::as_slice);
            let mut zone = shape::zone_object(summary, kinds);
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
    let filter = (query.rrset_name.as_deref(), query.rrset_type.as_deref());
    Ok(Json(zone_with_rrsets(&state, &summary, query.rrsets, filter).await?))
}

/// The zone object, with its RRsets when `rrsets` (only those of a name,
/// and type, when `filter` says so).
async fn zone_with_rrsets(
    state: &AppState,
    summary: &ZoneSummary,
    rrsets: bool,
    (name, rtype): (Option<&str>, Option<&str>),
) -> Result<Value, PdnsError> {
    let metadata = state.store.zone_metadata(&summary.name).await?;
    let mut object = shape::zone_object(summary, &metadata);
    if rrsets {
        let records = state.store.zone_records_by_name(&summary.name).await?;
        let comments = state.store.zone_comments(&summary.name).await?;
        let sets = shape::rrsets(&records, &comments, name, rtype);
        object.insert("rrsets".into(), Value::Array(sets));
    }
    Ok(Value::Object(object))
}

/// `POST /api/v1/servers/localhost/zones`: kind Native or Master, with
/// `nameservers` and/or `rrsets` (comments included), and the settings
/// [`apply_settings`] reads.
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
    if check_kind(&request)? {
        let primaries = secondary_primaries(&state, &request)
            .await?
            .ok_or_else(|| PdnsError::new(422, "A zone of kind Slave needs 'masters'"))?;
        crate::secondary::create(&state.store, &apex, primaries, &format!("api:{}", caller.name)).await?;
        tracing::info!(caller = %caller.name, zone = %apex, "secondary zone created through the PowerDNS API");
        let summary = summary(&state, &zone).await?;
        let object = zone_with_rrsets(&state, &summary, true, (None, None)).await?;
        return Ok((StatusCode::CREATED, Json(object)));
    }
    let policy = shape::serial_policy(request.get("soa_edit_api").and_then(Value::as_str).unwrap_or("DEFAULT"))?;
    let mut records: Vec<StoredRecord> = Vec::new();
    let mut comments = Vec::new();
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
        let patch = shape::patch(&with_changetype, &zone, state.lua_enabled, unix_time())?;
        comments = patch.comments;
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
    let locked = locked(&mut writer, &apex).await?;
    apply_settings(&state, &mut writer, &zone, &locked, None, &request).await?;
    for (name, rtype, comments) in &comments {
        writer.set_comments(&locked, name, rtype, comments).await?;
    }
    writer.commit().await?;
    tracing::info!(caller = %caller.name, zone = %apex, "zone created through the PowerDNS API");
    let summary = summary(&state, &zone).await?;
    let object = zone_with_rrsets(&state, &summary, true, (None, None)).await?;
    Ok((StatusCode::CREATED, Json(object)))
}

/// Whether the body's `kind` is a secondary one (Slave, Secondary);
/// refuses kinds other than those and Native, Master, Primary.
fn check_kind(request: &Value) -> Result<bool, PdnsError> {
    let kind = request.get("kind").and_then(Value::as_str).unwrap_or("Native");
    let is = |names: &[&str]| names.iter().any(|name| kind.eq_ignore_ascii_case(name));
    if is(&["native", "master", "primary"]) {
        Ok(false)
    } else if is(&["slave", "secondary"]) {
        Ok(true)
    } else {
        Err(PdnsError::new(
            422,
            format!("Zone kind '{kind}' is not supported here (Native, Master or Slave)"),
        ))
    }
}

/// The TSIG key names of the body's list `field`, each of a key that
/// exists.
async fn tsig_keys(state: &AppState, request: &Value, field: &str) -> Result<Vec<String>, PdnsError> {
    let mut keys = Vec::new();
    for id in request.get(field).and_then(Value::as_array).into_iter().flatten() {
        let id = id
            .as_str()
            .ok_or_else(|| PdnsError::new(422, format!("{field} must be strings")))?;
        let name = crate::update::tsig::key_name(id).map_err(|error| PdnsError::new(422, error))?;
        if !state.keyring.has_key(&name).await {
            let bare = id.trim_end_matches('.');
            return Err(PdnsError::new(
                422,
                format!("A TSIG key with the name '{bare}' does not exist"),
            ));
        }
        keys.push(name.to_string());
    }
    Ok(keys)
}

/// The body's `masters` and `slave_tsig_key_ids`, checked; `None` when
/// there are no masters.
async fn secondary_primaries(state: &AppState, request: &Value) -> Result<Option<crate::store::Primaries>, PdnsError> {
    let mut addresses = Vec::new();
    for master in request.get("masters").and_then(Value::as_array).into_iter().flatten() {
        let text = master
            .as_str()
            .ok_or_else(|| PdnsError::new(422, "masters must be strings"))?;
        let address = crate::config::server_address(text).ok_or_else(|| {
            PdnsError::new(
                422,
                format!("Master '{text}' is not an IP address (with an optional port)"),
            )
        })?;
        addresses.push(address.to_string());
    }
    if addresses.is_empty() {
        return Ok(None);
    }
    let tsig_key = tsig_keys(state, request, "slave_tsig_key_ids").await?.pop();
    Ok(Some(crate::store::Primaries {
        addresses,
        tsig_key,
        learned_from: None,
    }))
}

/// Applies the settings of a create or PUT body: `kind` (checked),
/// `soa_edit_api`, `soa_edit`, `api_rectify`, `master_tsig_key_ids` (the
/// keys that may transfer the zone, TSIG-ALLOW-AXFR), `dnssec` and
/// `nsec3param`. `current` is how the zone is secured now.
async fn apply_settings(
    state: &AppState,
    writer: &mut Writer,
    zone: &Name,
    locked: &LockedZone,
    current: Option<&DnssecSettings>,
    request: &Value,
) -> Result<(), PdnsError> {
    if request.get("kind").is_some() && check_kind(request)? != locked.secondary {
        return Err(PdnsError::new(
            422,
            "A zone's kind cannot change between primary (Native, Master) and secondary (Slave)",
        ));
    }
    if locked.secondary {
        if let Some(mut primaries) = secondary_primaries(state, request).await? {
            primaries.learned_from = state
                .store
                .zone_primaries(&locked.name)
                .await?
                .and_then(|current| current.learned_from);
            writer.set_primaries(locked, &primaries).await?;
        }
    }
    if let Some(value) = request.get("soa_edit_api").and_then(Value::as_str) {
        writer
            .set_serial_policy(locked, shape::serial_policy(value)?.as_str())
            .await?;
    }
    if let Some(value) = request.get("soa_edit").and_then(Value::as_str) {
        let values: Vec<String> = Some(value.to_string())
            .filter(|value| !value.is_empty())
            .into_iter()
            .collect();
        writer.set_metadata(locked, "SOA-EDIT", &values).await?;
    }
    if let Some(value) = request.get("api_rectify").and_then(Value::as_bool) {
        let values = if value { vec!["1".to_string()] } else { Vec::new() };
        writer.set_metadata(locked, "API-RECTIFY", &values).await?;
    }
    if request.get("master_tsig_key_ids").is_some_and(|ids| !ids.is_null()) {
        let keys = tsig_keys(state, request, "master_tsig_key_ids").await?;
        writer.set_metadata(locked, "TSIG-ALLOW-AXFR", &keys).await?;
    }
    let apex = zone.to_string();
    let secure = request
        .get("dnssec")
        .and_then(Value::as_bool)
        .unwrap_or(current.is_some());
    let denial = match request.get("nsec3param").and_then(Value::as_str) {
        Some(text) if !text.is_empty() && !secure => {
            return Err(PdnsError::new(
                422,
                format!("NSEC3PARAM value provided for zone '{apex}', but zone is not DNSSEC secured."),
            ))
        }
        Some(text) => Some(shape::denial(text)?),
        None => None,
    };
    match (current, secure) {
        (None, true) => {
            let keys = new_keys(zone, Algorithm::EcdsaP256Sha256, false, state.kek.as_deref())
                .map_err(|error| PdnsError::new(500, format!("cannot make keys: {error}")))?;
            let rows: Vec<_> = keys.iter().map(|key| key.row()).collect();
            let settings = denial.unwrap_or_else(|| DnssecSettings {
                denial: "nsec".into(),
                nsec3_opt_out: false,
            });
            writer.secure_zone(locked, &settings, &rows).await?;
        }
        (Some(_), false) => writer.unsecure_zone(locked).await?,
        (Some(current), true) => {
            if let Some(settings) = denial.filter(|settings| settings != current) {
                writer.set_denial(locked, &settings).await?;
            }
        }
        (None, false) => {}
    }
    Ok(())
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
    let apex = zone.to_string();
    let patch = shape::patch(&request, &zone, state.lua_enabled, unix_time())?;
    let mut writer = state.store.writer().await?;
    ChangeSet::new(
        apex.clone(),
        ZoneChange::Edit {
            remove: patch.remove,
            add: patch.add,
        },
        format!("api:{}", caller.name),
    )
    .apply(&mut writer)
    .await?;
    if !patch.comments.is_empty() {
        let locked = locked(&mut writer, &apex).await?;
        for (name, rtype, comments) in &patch.comments {
            writer.set_comments(&locked, name, rtype, comments).await?;
        }
    }
    writer.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /api/v1/servers/localhost/zones/{zone}`: the zone's settings (see
/// [`apply_settings`]), in one transaction; other fields are ignored.
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
    let (zone, summary) = find_zone(&state, &caller, &id).await?;
    let mut writer = state.store.writer().await?;
    let locked = locked(&mut writer, &summary.name).await?;
    apply_settings(&state, &mut writer, &zone, &locked, summary.dnssec.as_ref(), &request).await?;
    writer.commit().await?;
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

/// `PUT .../rectify`: zones here are always rectified (their denial
/// records are made with every snapshot); the answer says so.
pub async fn rectify(
    caller: Caller,
    State(state): State<AppState>,
    Path((server, id)): Path<(String, String)>,
) -> Result<Json<Value>, PdnsError> {
    check_server(&server)?;
    find_zone(&state, &caller, &id).await?;
    Ok(Json(json!({ "result": "Rectified" })))
}

/// `PUT .../notify`: the zone's secondaries are told (again) of its
/// current serial.
pub async fn notify(
    caller: Caller,
    State(state): State<AppState>,
    Path((server, id)): Path<(String, String)>,
) -> Result<Json<Value>, PdnsError> {
    check_server(&server)?;
    let (zone, _) = find_zone(&state, &caller, &id).await?;
    let serial = state.catalog.load().zone(&zone).map(|snapshot| snapshot.zone.serial());
    match (&state.notify, serial) {
        (Some(changes), Some(serial)) if changes.send((zone, serial)).is_ok() => {
            Ok(Json(json!({ "result": "Notification queued" })))
        }
        _ => Err(PdnsError::new(500, "the zone's secondaries cannot be notified now")),
    }
}

/// `PUT .../axfr-retrieve`: a secondary zone is checked against its
/// primaries at once; a primary zone has nothing to retrieve.
pub async fn axfr_retrieve(
    caller: Caller,
    State(state): State<AppState>,
    Path((server, id)): Path<(String, String)>,
) -> Result<Json<Value>, PdnsError> {
    check_server(&server)?;
    let (zone, summary) = find_zone(&state, &caller, &id).await?;
    let Some(primary) = summary.primaries.first() else {
        return Err(PdnsError::new(
            422,
            format!("Domain '{zone}' is not a slave domain (or has no master defined)"),
        ));
    };
    state.store.mark_notified(&zone.to_string()).await?;
    Ok(Json(json!({
        "result": format!("Added retrieval request for '{zone}' from primary {primary}")
    })))
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
