//! The PowerDNS Authoritative HTTP API (v1) as its clients use it:
//! external-dns's `pdns` provider, cert-manager-webhook-pdns, octoDNS's
//! PowerDNS provider.
//!
//! | module          | routes                                                  |
//! |-----------------|---------------------------------------------------------|
//! | `zones.rs`      | zones: list, create, get, PATCH, PUT, DELETE, export    |
//! | `metadata.rs`   | `zones/{zone}/metadata[/{kind}]`                        |
//! | `cryptokeys.rs` | `zones/{zone}/cryptokeys[/{id}]`, on keys and rollovers |
//! | `search.rs`     | `search-data` and `statistics`                          |
//!
//! Every change goes through the one change path, bumping the serial per
//! the zone's SOA-EDIT-API and journalled. Errors are PowerDNS's:
//! `{"error": "..."}` with its status codes.

pub mod cryptokeys;
pub mod metadata;
pub mod search;
mod shape;
pub mod zones;

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base::name::Name;
use serde_json::{json, Value};

use super::auth::Caller;
use super::AppState;
use crate::change::ChangeError;
use crate::store::{Failure, ZoneSummary};

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
                match error.failure() {
                    Failure::Full => PdnsError::new(507, "the store's disk is full; nothing changed"),
                    Failure::Unavailable => PdnsError::new(503, "the store is unavailable; nothing changed"),
                    Failure::Other => PdnsError::new(500, "the store failed; nothing changed"),
                }
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

/// The zone row of `apex`, locked in `writer`'s transaction.
pub(super) async fn locked(
    writer: &mut crate::store::Writer,
    apex: &str,
) -> Result<crate::store::LockedZone, PdnsError> {
    writer
        .lock_zone(apex)
        .await?
        .ok_or_else(|| PdnsError::new(404, format!("Could not find domain '{apex}'")))
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

fn unix_time() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64)
}
