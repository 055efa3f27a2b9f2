//! DNSSEC keys: `zones/{zone}/cryptokeys[/{id}]`, mapped onto pooldns's
//! keys and rollovers. Adding a key to an unsigned zone secures it (a CSK,
//! or a KSK with its ZSK); adding one to a signed zone starts a rollover
//! of that key type, which the roller carries through as for `pooldns key
//! roll`. Private keys never leave the server.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use base::dnskey::{ds_rdata, key_tag, DigestType};
use serde_json::{json, Value};

use super::{body, check_server, find_zone, require_write, PdnsError};
use crate::api::auth::Caller;
use crate::api::AppState;
use crate::dnssec::crypto::Algorithm;
use crate::dnssec::keys::new_keys;
use crate::dnssec::KeyRole;
use crate::roller::{start_roll, StartRollError};
use crate::store::{DnssecSettings, StoreError, StoredKey};

/// A key as PowerDNS shows it, without the private part.
fn object(zone: &str, key: &StoredKey) -> Result<Value, PdnsError> {
    let dnskey = key.dnskey_rdata()?;
    let flags = u16::from_be_bytes([dnskey[0], dnskey[1]]);
    let algorithm = u8::try_from(key.algorithm).ok().and_then(Algorithm::from_number);
    let tag = key_tag(&dnskey);
    let owner = base::name::Name::parse(zone, None)
        .map_err(|error| PdnsError::new(500, error.to_string()))?
        .to_lowercase();
    let ds = |digest: DigestType| {
        let rdata = ds_rdata(owner.as_wire(), &dnskey, digest);
        format!(
            "{tag} {} {} {}",
            key.algorithm,
            digest.number(),
            data_encoding::HEXLOWER.encode(&rdata[4..])
        )
    };
    Ok(json!({
        "type": "Cryptokey",
        "id": key.id,
        "keytype": key.role,
        "active": key.active,
        "published": key.published,
        "dnskey": format!("{flags} 3 {} {}", key.algorithm, data_encoding::BASE64.encode(&dnskey[4..])),
        "ds": [ds(DigestType::Sha256), ds(DigestType::Sha384)],
        "cds": [ds(DigestType::Sha256)],
        "flags": flags,
        "algorithm": algorithm.map_or_else(|| key.algorithm.to_string(), |algorithm| algorithm.mnemonic().to_string()),
        "bits": 256,
    }))
}

/// The keys of the zone, by id.
async fn keys(state: &AppState, zone: &str) -> Result<Vec<StoredKey>, PdnsError> {
    let id = state.store.zone_id(zone).await?;
    let mut keys = state.store.zone_keys(id).await?;
    keys.sort_by_key(|key| key.id);
    Ok(keys)
}

/// `GET .../cryptokeys`.
pub async fn list(
    caller: Caller,
    State(state): State<AppState>,
    Path((server, id)): Path<(String, String)>,
) -> Result<Json<Value>, PdnsError> {
    check_server(&server)?;
    let (_, summary) = find_zone(&state, &caller, &id).await?;
    let keys = keys(&state, &summary.name).await?;
    let objects = keys
        .iter()
        .map(|key| object(&summary.name, key))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(Value::Array(objects)))
}

/// `GET .../cryptokeys/{id}`.
pub async fn get(
    caller: Caller,
    State(state): State<AppState>,
    Path((server, id, key_id)): Path<(String, String, String)>,
) -> Result<Json<Value>, PdnsError> {
    check_server(&server)?;
    let (_, summary) = find_zone(&state, &caller, &id).await?;
    let keys = keys(&state, &summary.name).await?;
    let key = keys
        .iter()
        .find(|key| key.id.to_string() == key_id)
        .ok_or_else(|| PdnsError::new(404, "Could not find key"))?;
    Ok(Json(object(&summary.name, key)?))
}

/// `POST .../cryptokeys`: secures an unsigned zone, or starts a rollover
/// of the key type asked for.
pub async fn create(
    caller: Caller,
    State(state): State<AppState>,
    Path((server, id)): Path<(String, String)>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<(StatusCode, Json<Value>), PdnsError> {
    check_server(&server)?;
    require_write(&caller)?;
    let request = body(&headers, &bytes)?;
    let (zone, summary) = find_zone(&state, &caller, &id).await?;
    let keytype = request
        .get("keytype")
        .and_then(Value::as_str)
        .ok_or_else(|| PdnsError::new(422, "Key 'keytype' not present or not a String"))?;
    let role: KeyRole = keytype
        .to_ascii_lowercase()
        .parse()
        .map_err(|_| PdnsError::new(422, format!("Invalid keytype {keytype}")))?;
    let algorithm = match request.get("algorithm") {
        None | Some(Value::Null) => None,
        Some(value) => {
            let text = value.as_str().map_or_else(|| value.to_string(), str::to_string);
            Some(
                text.parse::<Algorithm>()
                    .map_err(|_| PdnsError::new(422, format!("Unknown algorithm: {text}")))?,
            )
        }
    };
    if request.get("privatekey").is_some_and(|key| !key.is_null()) {
        return Err(PdnsError::new(
            422,
            "Importing private keys is not supported: keys are made by the server",
        ));
    }
    let new_id = if summary.dnssec.is_none() {
        let split = match role {
            KeyRole::Csk => false,
            KeyRole::Ksk => true,
            KeyRole::Zsk => {
                return Err(PdnsError::new(
                    422,
                    format!("Zone '{zone}' is not signed: add a csk (or a ksk, which brings its zsk) first"),
                ))
            }
        };
        let algorithm = algorithm.unwrap_or(Algorithm::EcdsaP256Sha256);
        let keys = new_keys(&zone, algorithm, split, state.kek.as_deref())
            .map_err(|error| PdnsError::new(500, format!("cannot make keys: {error}")))?;
        let rows: Vec<_> = keys.iter().map(|key| key.row()).collect();
        let settings = DnssecSettings {
            denial: "nsec".into(),
            nsec3_opt_out: false,
        };
        state.store.secure_zone(&summary.name, &settings, &rows).await?;
        let keys = self::keys(&state, &summary.name).await?;
        keys.iter()
            .find(|key| key.role == role.as_str())
            .map(|key| key.id)
            .ok_or_else(|| PdnsError::new(500, "the new key was not stored"))?
    } else {
        let started = start_roll(
            &state.store,
            &zone,
            Some(role),
            state.propagation_delay,
            state.kek.as_deref(),
        )
        .await
        .map_err(|error| match error {
            StartRollError::Store(error @ StoreError::RollInProgress { .. }) => PdnsError::new(422, error.to_string()),
            StartRollError::Store(error) => error.into(),
            StartRollError::Keys(error) => PdnsError::new(500, format!("cannot make keys: {error}")),
            other => PdnsError::new(422, other.to_string()),
        })?;
        started.new_key_id
    };
    tracing::info!(caller = %caller.name, zone = %zone, key = new_id, "key added through the PowerDNS API");
    let keys = keys(&state, &summary.name).await?;
    let key = keys
        .iter()
        .find(|key| key.id == new_id)
        .ok_or_else(|| PdnsError::new(500, "the new key was not stored"))?;
    Ok((StatusCode::CREATED, Json(object(&summary.name, key)?)))
}

/// `DELETE .../cryptokeys/{id}`: a key no longer needed. The keys a zone
/// signs with, and those in a rollover, stay.
pub async fn delete(
    caller: Caller,
    State(state): State<AppState>,
    Path((server, id, key_id)): Path<(String, String, String)>,
) -> Result<StatusCode, PdnsError> {
    check_server(&server)?;
    require_write(&caller)?;
    let (_, summary) = find_zone(&state, &caller, &id).await?;
    let key_id: i64 = key_id.parse().map_err(|_| PdnsError::new(404, "Could not find key"))?;
    match state.store.remove_key(&summary.name, key_id).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(StoreError::NoSuchKey { .. }) => Err(PdnsError::new(404, "Could not find key")),
        Err(error @ StoreError::KeyInUse { .. }) => Err(PdnsError::new(422, error.to_string())),
        Err(error) => Err(error.into()),
    }
}
