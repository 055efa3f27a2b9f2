//! The HTTP listener: health, readiness, metrics, health checks, the
//! registrar routes, the pool routes, the OpenAPI document and the
//! operator page.
//!
//! [`router`] builds the whole application from an [`AppState`], so tests
//! can drive it without a socket and `serve` mounts it on one. `/healthz`,
//! `/readyz` and `/metrics` are open (`/readyz` says why it is not ready in
//! detail only to a caller with an API key); every `/api/` route takes an
//! API key (see [`auth`]).

pub mod auth;
pub mod health;
pub mod listener;
mod metrics;
mod overview;
pub mod pool;
pub mod powerdns;
pub mod registrar;
pub mod tls;
mod ui;

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post, put};
use axum::Router;

use crate::api::auth::{ApiKeys, AuthError, Caller};
use crate::catalog::SharedCatalog;
use crate::config::RegistrarConfig;
use crate::health::HealthChecker;
use crate::loader::LoadStatus;
use crate::metrics::Metrics;
use crate::pool::Pools;
use crate::roller::RollStatus;
use crate::store::Store;

/// How long `/readyz` waits for the database.
const STORE_PING_TIMEOUT: Duration = Duration::from_secs(2);

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub catalog: SharedCatalog,
    pub metrics: Arc<Metrics>,
    pub status: Arc<LoadStatus>,
    pub rolls: Arc<RollStatus>,
    pub keys: ApiKeys,
    /// `[pool] nameservers`.
    pub nameservers: Arc<Vec<String>>,
    /// `[pool] ds_retire_delay`.
    pub ds_retire_delay: Duration,
    /// `[registrars.<name>]`.
    pub registrars: Arc<BTreeMap<String, RegistrarConfig>>,
    /// The health checks behind LUA records.
    pub health: HealthChecker,
    /// The pool allocator.
    pub pools: Pools,
    /// `[lua] enabled`: whether LUA records may be written.
    pub lua_enabled: bool,
    /// Seals the private keys of zones secured through the API.
    pub kek: Option<Arc<crate::dnssec::crypto::KeyEncryptionKey>>,
    /// ALIAS targets, when `[dns] resolver` is set.
    pub aliases: Option<crate::alias::Aliases>,
    /// `[dnssec] propagation_delay`, for rollovers started through the API.
    pub propagation_delay: u64,
    /// The server's TSIG keys (shared with UPDATE and transfers).
    pub keyring: Arc<crate::update::Keyring>,
    /// Where a zone's secondaries are told to transfer it again.
    pub notify: Option<crate::transfer::notify::Changes>,
}

impl FromRef<AppState> for ApiKeys {
    fn from_ref(state: &AppState) -> ApiKeys {
        state.keys.clone()
    }
}

/// The HTTP application.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics::render))
        .route("/api/v1/health-checks", get(health::list))
        .route("/api/v1/overview", get(overview::overview))
        .route("/api/v1/registrar/{registrar}/validate", post(registrar::validate))
        .route("/api/v1/registrar/{registrar}/set-ns", post(registrar::set_ns))
        .route("/api/v1/reserved", get(pool::reserved))
        .route("/api/v1/pool/{domain}/check", get(pool::check))
        .route("/api/v1/pool/{domain}/reserve", post(pool::reserve))
        .route("/api/v1/pool/{domain}/commit", post(pool::commit))
        .route("/api/v1/pool/{domain}/renew", post(pool::renew))
        .route("/api/v1/pool/{domain}/release", delete(pool::release))
        .route("/api/v1/pool/{domain}/list", get(pool::list))
        .route("/api/v1/audit", get(pool::audit_log))
        .route("/api/v1/openapi.json", get(openapi))
        .layer(DefaultBodyLimit::max(pool::MAX_BODY))
        .merge(powerdns_routes())
        .merge(ui::routes())
        .with_state(state)
}

/// The PowerDNS API, whose PATCHes may carry whole zones.
fn powerdns_routes() -> Router<AppState> {
    use powerdns::{cryptokeys, metadata, search, zones};
    Router::new()
        .route("/api/v1/servers", get(powerdns::servers))
        .route("/api/v1/servers/{server}", get(powerdns::server))
        .route(
            "/api/v1/servers/{server}/zones",
            get(zones::list_zones).post(zones::create_zone),
        )
        .route(
            "/api/v1/servers/{server}/zones/{zone}",
            get(zones::get_zone)
                .patch(zones::patch_zone)
                .put(zones::put_zone)
                .delete(zones::delete_zone),
        )
        .route("/api/v1/servers/{server}/zones/{zone}/rectify", put(zones::rectify))
        .route("/api/v1/servers/{server}/zones/{zone}/notify", put(zones::notify))
        .route(
            "/api/v1/servers/{server}/zones/{zone}/axfr-retrieve",
            put(zones::axfr_retrieve),
        )
        .route("/api/v1/servers/{server}/zones/{zone}/export", get(zones::export))
        .route(
            "/api/v1/servers/{server}/zones/{zone}/metadata",
            get(metadata::list).post(metadata::add),
        )
        .route(
            "/api/v1/servers/{server}/zones/{zone}/metadata/{kind}",
            get(metadata::get).put(metadata::replace).delete(metadata::delete),
        )
        .route(
            "/api/v1/servers/{server}/zones/{zone}/cryptokeys",
            get(cryptokeys::list).post(cryptokeys::create),
        )
        .route(
            "/api/v1/servers/{server}/zones/{zone}/cryptokeys/{id}",
            get(cryptokeys::get).delete(cryptokeys::delete),
        )
        .route("/api/v1/servers/{server}/search-data", get(search::search_data))
        .route("/api/v1/servers/{server}/statistics", get(search::statistics))
        .layer(DefaultBodyLimit::max(powerdns::MAX_BODY))
}

/// The OpenAPI document of every route, with this server's pool domains
/// as the values the `domain` parameter takes.
async fn openapi(State(state): State<AppState>) -> axum::Json<serde_json::Value> {
    let mut document: serde_json::Value =
        serde_json::from_str(include_str!("openapi.json")).expect("the embedded OpenAPI document is JSON");
    let domains = &state.pools.settings().domains;
    if !domains.is_empty() {
        document["components"]["parameters"]["PoolDomain"]["schema"]["enum"] = serde_json::json!(domains);
    }
    axum::Json(document)
}

/// Liveness: the process answers HTTP.
async fn healthz() -> &'static str {
    "ok\n"
}

/// Readiness: the store answers, every stored zone was loaded. The status
/// comes with a one-line reason; the details (store errors, which zones
/// failed and why) only to a caller the API would answer.
async fn readyz(State(state): State<AppState>, caller: Result<Caller, AuthError>) -> (StatusCode, String) {
    let detailed = caller.is_ok();
    if !state.status.is_loaded() {
        return (StatusCode::SERVICE_UNAVAILABLE, "zones not loaded yet\n".into());
    }
    match tokio::time::timeout(STORE_PING_TIMEOUT, state.store.ping()).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) if detailed => {
            return (StatusCode::SERVICE_UNAVAILABLE, format!("store unavailable: {error}\n"))
        }
        Ok(Err(_)) => return (StatusCode::SERVICE_UNAVAILABLE, "store unavailable\n".into()),
        Err(_) => return (StatusCode::SERVICE_UNAVAILABLE, "store did not answer in time\n".into()),
    }
    let failures = state.status.failures();
    if !failures.is_empty() {
        let mut body = format!("zones not served: {}\n", failures.len());
        if detailed {
            for (zone, reason) in failures {
                let _ = writeln!(body, "{zone}: {reason}");
            }
        }
        return (StatusCode::SERVICE_UNAVAILABLE, body);
    }
    (StatusCode::OK, format!("ready: {} zones\n", state.catalog.load().len()))
}
