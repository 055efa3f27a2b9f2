//! The pool-domain-manager routes: `/api/v1/reserved` and
//! `/api/v1/pool/{domain}/check|reserve|commit|renew|release|list`, with
//! PDM's paths, JSON field names, status codes and `{error, detail}`
//! bodies, plus what PDM lacks: an API key on every route (read-only keys
//! for the reads), tokens that never leave the reserve answer, 422 for a
//! reserved label, idempotent commits, IPv6 and multi-region commits,
//! renewals, releases that finish, and an audit entry per mutation
//! (`/api/v1/audit`).

use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::auth::{AuthError, Caller};
use super::AppState;
use crate::change::ChangeError;
use crate::pool::records::Region;
use crate::pool::{CommitRequest, PoolError, Released};
use crate::store::{Allocation, AuditEntry, Failure};

/// The largest request body the pool routes read.
pub const MAX_BODY: usize = 64 * 1024;

/// An error reply: `{error, detail}`.
pub struct RouteError {
    status: StatusCode,
    error: &'static str,
    detail: String,
}

impl RouteError {
    fn new(status: StatusCode, error: &'static str, detail: impl Into<String>) -> RouteError {
        RouteError {
            status,
            error,
            detail: detail.into(),
        }
    }
}

impl IntoResponse for RouteError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.error, "detail": self.detail }))).into_response()
    }
}

impl From<AuthError> for RouteError {
    fn from(error: AuthError) -> RouteError {
        match error {
            AuthError::ReadOnly => {
                RouteError::new(StatusCode::FORBIDDEN, "read-only-key", "this API key may only read")
            }
            _ => RouteError::new(StatusCode::UNAUTHORIZED, "unauthorized", "missing or wrong API key"),
        }
    }
}

impl From<PoolError> for RouteError {
    fn from(error: PoolError) -> RouteError {
        let detail = error.to_string();
        let (status, code) = match &error {
            PoolError::InvalidFormat(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid-format"),
            PoolError::UnsupportedPool(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unsupported-pool"),
            PoolError::Reserved(_) => (StatusCode::UNPROCESSABLE_ENTITY, "reserved"),
            PoolError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            PoolError::NotFound(_) => (StatusCode::NOT_FOUND, "not-found"),
            PoolError::TokenMismatch => (StatusCode::FORBIDDEN, "token-mismatch"),
            PoolError::Expired(_) => (StatusCode::GONE, "reservation-expired"),
            PoolError::AlreadyActive(_) => (StatusCode::CONFLICT, "already-active"),
            PoolError::Releasing(_) => (StatusCode::CONFLICT, "releasing"),
            PoolError::InvalidAddress(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid-ip"),
            PoolError::MissingAddress => (StatusCode::UNPROCESSABLE_ENTITY, "missing-lb-ip"),
            PoolError::InvalidRegions(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid-regions"),
            PoolError::FqdnMismatch { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "fqdn-mismatch"),
            PoolError::Store(_) | PoolError::Change(_) | PoolError::Keys(_) => {
                tracing::error!(%error, "pool request failed");
                let failure = match &error {
                    PoolError::Store(store) | PoolError::Change(ChangeError::Store(store)) => store.failure(),
                    _ => Failure::Other,
                };
                return match failure {
                    Failure::Full => RouteError::new(
                        StatusCode::INSUFFICIENT_STORAGE,
                        "store-full",
                        "the store's disk is full; nothing changed",
                    ),
                    Failure::Unavailable => RouteError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "store-unavailable",
                        "the store is unavailable; nothing changed",
                    ),
                    Failure::Other => RouteError::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "internal",
                        "the request could not be stored; nothing changed (details are in the server log)",
                    ),
                };
            }
        };
        RouteError::new(status, code, detail)
    }
}

/// Reads a JSON body, refusing what is not one with PDM's 400 and what is
/// too large or of another type with 413 and 415.
fn body<T>(payload: Result<Json<T>, JsonRejection>) -> Result<T, RouteError> {
    payload
        .map(|Json(body)| body)
        .map_err(|rejection| match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => RouteError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body-too-large",
                format!("the body must be at most {MAX_BODY} octets"),
            ),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => RouteError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "send the body as Content-Type: application/json",
            ),
            _ => RouteError::new(
                StatusCode::BAD_REQUEST,
                "invalid-body",
                format!("invalid JSON body: {}", rejection.body_text()),
            ),
        })
}

/// Unix seconds as RFC 3339, as PDM writes times.
pub(super) fn rfc3339(seconds: i64) -> String {
    let (year, month, day, hour, minute, second) = base::time::civil(seconds);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z")
}

/// PDM's allocation object, without the token, plus `regions` and the
/// state of a provider delegation.
fn allocation_json(allocation: &Allocation, delegated_by_provider: bool) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("poolDomain".into(), json!(allocation.pool_domain));
    out.insert("subdomain".into(), json!(allocation.subdomain));
    out.insert("state".into(), json!(allocation.state));
    out.insert("reservedAt".into(), json!(rfc3339(allocation.reserved_at)));
    out.insert("createdBy".into(), json!(allocation.created_by));
    if let Some(at) = allocation.expires_at {
        out.insert("expiresAt".into(), json!(rfc3339(at)));
    }
    if let Some(fqdn) = &allocation.sovereign_fqdn {
        out.insert("sovereignFQDN".into(), json!(fqdn));
    }
    if let Some(ip) = &allocation.load_balancer_ip {
        out.insert("loadBalancerIP".into(), json!(ip));
    }
    if let Some(regions) = allocation
        .regions
        .as_deref()
        .and_then(|json| serde_json::from_str::<Value>(json).ok())
    {
        out.insert("regions".into(), regions);
    }
    let delegation = match (delegated_by_provider, allocation.delegated) {
        (false, _) => "local",
        (true, true) => "provider",
        (true, false) => "pending",
    };
    out.insert("delegation".into(), json!(delegation));
    out
}

pub(super) fn view(state: &AppState, allocation: &Allocation) -> Map<String, Value> {
    let by_provider = state.pools.settings().registrars.contains_key(&allocation.pool_domain);
    allocation_json(allocation, by_provider)
}

/// Writes the audit entry of a mutation; a failure to write it is logged,
/// not answered (the change itself is done).
async fn audit<T>(
    state: &AppState,
    caller: &Caller,
    route: &str,
    subject: &str,
    result: &Result<T, RouteError>,
    ok: StatusCode,
) {
    let (status, outcome) = match result {
        Ok(_) => (ok, "ok"),
        Err(error) => (error.status, error.error),
    };
    if let Err(error) = state
        .store
        .audit(&caller.name, route, subject, status.as_u16(), outcome)
        .await
    {
        tracing::error!(%error, route, subject, "audit entry not written");
    }
}

/// `GET /api/v1/reserved`.
pub async fn reserved(_caller: Caller, State(state): State<AppState>) -> Json<Value> {
    Json(json!({ "reserved": state.pools.reserved() }))
}

/// `?sub=`.
#[derive(Deserialize)]
pub struct SubQuery {
    #[serde(default)]
    sub: String,
}

/// `GET /api/v1/pool/{domain}/check?sub=`: always 200, read `available`.
pub async fn check(
    _caller: Caller,
    State(state): State<AppState>,
    Path(domain): Path<String>,
    Query(query): Query<SubQuery>,
) -> Result<Json<Value>, RouteError> {
    let check = state.pools.check(&domain, &query.sub).await?;
    let mut out = Map::new();
    out.insert("available".into(), json!(check.available));
    if let Some(reason) = check.reason {
        out.insert("reason".into(), json!(reason));
    }
    if let Some(detail) = check.detail {
        out.insert("detail".into(), json!(detail));
    }
    if let Some(fqdn) = check.fqdn {
        out.insert("fqdn".into(), json!(fqdn));
    }
    Ok(Json(Value::Object(out)))
}

/// `{subdomain, createdBy?}`.
#[derive(Deserialize)]
pub struct ReserveRequest {
    #[serde(default)]
    subdomain: String,
    #[serde(default, rename = "createdBy")]
    created_by: Option<String>,
}

/// `POST /api/v1/pool/{domain}/reserve`: 201 with the token, shown once.
pub async fn reserve(
    caller: Caller,
    State(state): State<AppState>,
    Path(domain): Path<String>,
    payload: Result<Json<ReserveRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), RouteError> {
    let mut subject = domain.clone();
    let result = async {
        let request = body(payload)?;
        subject = format!("{}.{domain}", request.subdomain.trim().to_ascii_lowercase());
        caller.require_write()?;
        let created_by = request
            .created_by
            .filter(|by| !by.trim().is_empty())
            .unwrap_or_else(|| "catalyst-api".into());
        let (allocation, token) = state.pools.reserve(&domain, &request.subdomain, &created_by).await?;
        let mut out = view(&state, &allocation);
        out.insert("reservationToken".into(), json!(token));
        Ok((StatusCode::CREATED, Json(Value::Object(out))))
    }
    .await;
    audit(&state, &caller, "reserve", &subject, &result, StatusCode::CREATED).await;
    result
}

/// `{subdomain, reservationToken, sovereignFQDN, loadBalancerIP, regions?}`.
#[derive(Deserialize)]
pub struct CommitBody {
    #[serde(default)]
    subdomain: String,
    #[serde(default, rename = "reservationToken")]
    token: String,
    #[serde(default, rename = "sovereignFQDN")]
    sovereign_fqdn: String,
    #[serde(default, rename = "loadBalancerIP")]
    load_balancer_ip: String,
    #[serde(default)]
    regions: Vec<Region>,
}

/// `POST /api/v1/pool/{domain}/commit`.
pub async fn commit(
    caller: Caller,
    State(state): State<AppState>,
    Path(domain): Path<String>,
    payload: Result<Json<CommitBody>, JsonRejection>,
) -> Result<Json<Value>, RouteError> {
    let mut subject = domain.clone();
    let result = async {
        let request = body(payload)?;
        subject = format!("{}.{domain}", request.subdomain.trim().to_ascii_lowercase());
        caller.require_write()?;
        let commit = CommitRequest {
            token: request.token,
            sovereign_fqdn: request.sovereign_fqdn,
            load_balancer_ip: request.load_balancer_ip,
            regions: request.regions,
        };
        let allocation = state.pools.commit(&domain, &request.subdomain, &commit).await?;
        Ok(Json(Value::Object(view(&state, &allocation))))
    }
    .await;
    audit(&state, &caller, "commit", &subject, &result, StatusCode::OK).await;
    result
}

/// `{subdomain, reservationToken}`.
#[derive(Deserialize)]
pub struct RenewBody {
    #[serde(default)]
    subdomain: String,
    #[serde(default, rename = "reservationToken")]
    token: String,
}

/// `POST /api/v1/pool/{domain}/renew`: the reservation holds for another
/// reservation TTL from now.
pub async fn renew(
    caller: Caller,
    State(state): State<AppState>,
    Path(domain): Path<String>,
    payload: Result<Json<RenewBody>, JsonRejection>,
) -> Result<Json<Value>, RouteError> {
    let mut subject = domain.clone();
    let result = async {
        let request = body(payload)?;
        subject = format!("{}.{domain}", request.subdomain.trim().to_ascii_lowercase());
        caller.require_write()?;
        let allocation = state.pools.renew(&domain, &request.subdomain, &request.token).await?;
        Ok(Json(Value::Object(view(&state, &allocation))))
    }
    .await;
    audit(&state, &caller, "renew", &subject, &result, StatusCode::OK).await;
    result
}

/// `{subdomain}`.
#[derive(Deserialize)]
pub struct ReleaseBody {
    #[serde(default)]
    subdomain: String,
}

/// `DELETE /api/v1/pool/{domain}/release`: `{subdomain}` in a JSON body,
/// or `?sub=` when the body is not JSON (PDM's fallback). 200 once the
/// allocation and its DNS are gone; 202 while a provider still holds the
/// delegation (call again, or let the reconciler finish).
pub async fn release(
    caller: Caller,
    State(state): State<AppState>,
    Path(domain): Path<String>,
    Query(query): Query<SubQuery>,
    payload: Bytes,
) -> Result<(StatusCode, Json<Value>), RouteError> {
    let mut subject = domain.clone();
    let result = async {
        if payload.len() > MAX_BODY {
            return Err(RouteError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body-too-large",
                format!("the body must be at most {MAX_BODY} octets"),
            ));
        }
        let subdomain = serde_json::from_slice::<ReleaseBody>(&payload)
            .map(|body| body.subdomain)
            .ok()
            .filter(|sub| !sub.trim().is_empty())
            .unwrap_or(query.sub);
        subject = format!("{}.{domain}", subdomain.trim().to_ascii_lowercase());
        caller.require_write()?;
        match state.pools.release(&domain, &subdomain).await? {
            Released::Freed(allocation) => Ok((
                StatusCode::OK,
                Json(json!({ "freed": Value::Object(view(&state, &allocation)) })),
            )),
            Released::Pending(allocation, detail) => Ok((
                StatusCode::ACCEPTED,
                Json(json!({
                    "warning": "release-pending",
                    "detail": format!("{detail}; the reconciler retries, and so does repeating the release"),
                    "freed": Value::Object(view(&state, &allocation)),
                })),
            )),
        }
    }
    .await;
    let ok = match &result {
        Ok((status, _)) => *status,
        Err(_) => StatusCode::OK,
    };
    audit(&state, &caller, "release", &subject, &result, ok).await;
    result
}

/// `GET /api/v1/pool/{domain}/list`: every allocation, never a token.
pub async fn list(
    _caller: Caller,
    State(state): State<AppState>,
    Path(domain): Path<String>,
) -> Result<Json<Value>, RouteError> {
    let allocations = state.pools.list(&domain).await?;
    let pool = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    let items: Vec<Value> = allocations
        .iter()
        .map(|allocation| Value::Object(view(&state, allocation)))
        .collect();
    Ok(Json(json!({ "poolDomain": pool, "allocations": items })))
}

/// `?limit=`.
#[derive(Deserialize)]
pub struct AuditQuery {
    #[serde(default = "default_audit_limit")]
    limit: i64,
}

fn default_audit_limit() -> i64 {
    100
}

/// `GET /api/v1/audit?limit=`: the latest mutations, newest first.
pub async fn audit_log(
    _caller: Caller,
    State(state): State<AppState>,
    Query(query): Query<AuditQuery>,
) -> Result<Json<Value>, RouteError> {
    let entries = state
        .store
        .audit_entries(query.limit.clamp(1, 1000))
        .await
        .map_err(PoolError::from)?;
    let items: Vec<Value> = entries.iter().map(audit_json).collect();
    Ok(Json(json!({ "entries": items })))
}

/// An audit entry as `/api/v1/audit` shows it.
pub(super) fn audit_json(entry: &AuditEntry) -> Value {
    json!({
        "id": entry.id,
        "at": rfc3339(entry.at),
        "key": entry.key_name,
        "route": entry.route,
        "subject": entry.subject,
        "status": entry.status,
        "outcome": entry.outcome,
    })
}
