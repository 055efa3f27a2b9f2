//! The HTTP listener: health, readiness, metrics, health checks, and the
//! registrar routes.
//!
//! [`router`] builds the whole application from an [`AppState`], so tests
//! can drive it without a socket and `serve` mounts it on one. `/healthz`,
//! `/readyz` and `/metrics` are open; every `/api/` route takes an API key
//! (see [`auth`]).

pub mod auth;
pub mod health;
pub mod registrar;

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRef, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;

use crate::api::auth::ApiKeys;
use crate::catalog::SharedCatalog;
use crate::config::RegistrarConfig;
use crate::health::HealthChecker;
use crate::loader::LoadStatus;
use crate::metrics::Metrics;
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
    /// `[registrars.<name>]`.
    pub registrars: Arc<BTreeMap<String, RegistrarConfig>>,
    /// The health checks behind LUA records.
    pub health: HealthChecker,
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
        .route("/metrics", get(metrics))
        .route("/api/v1/health-checks", get(health::list))
        .route("/api/v1/registrar/{registrar}/validate", post(registrar::validate))
        .route("/api/v1/registrar/{registrar}/set-ns", post(registrar::set_ns))
        .with_state(state)
}

/// Liveness: the process answers HTTP.
async fn healthz() -> &'static str {
    "ok\n"
}

/// Readiness: the store answers, every stored zone was loaded.
async fn readyz(State(state): State<AppState>) -> (StatusCode, String) {
    if !state.status.is_loaded() {
        return (StatusCode::SERVICE_UNAVAILABLE, "zones not loaded yet\n".into());
    }
    match tokio::time::timeout(STORE_PING_TIMEOUT, state.store.ping()).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => return (StatusCode::SERVICE_UNAVAILABLE, format!("store unavailable: {error}\n")),
        Err(_) => return (StatusCode::SERVICE_UNAVAILABLE, "store did not answer in time\n".into()),
    }
    let failures = state.status.failures();
    if !failures.is_empty() {
        let mut body = String::from("zones not served:\n");
        for (zone, reason) in failures {
            let _ = writeln!(body, "{zone}: {reason}");
        }
        return (StatusCode::SERVICE_UNAVAILABLE, body);
    }
    (StatusCode::OK, format!("ready: {} zones\n", state.catalog.load().len()))
}

/// Prometheus text exposition.
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let catalog = state.catalog.load();
    let records: usize = catalog.zones().map(|snapshot| snapshot.zone.record_count()).sum();
    let mut extra = String::new();
    extra.push_str("# HELP pooldns_zones Zones being served.\n# TYPE pooldns_zones gauge\n");
    let _ = writeln!(extra, "pooldns_zones {}", catalog.len());
    extra.push_str("# HELP pooldns_records Records in the zones being served.\n# TYPE pooldns_records gauge\n");
    let _ = writeln!(extra, "pooldns_records {records}");
    extra.push_str(
        "# HELP pooldns_zones_failed Stored zones that could not be loaded.\n# TYPE pooldns_zones_failed gauge\n",
    );
    let _ = writeln!(extra, "pooldns_zones_failed {}", state.status.failures().len());
    extra.push_str(&state.rolls.render());
    state.health.render_metrics(&mut extra);
    let (native, script, broken) = catalog
        .zones()
        .filter_map(|snapshot| snapshot.programs.as_ref())
        .map(|programs| programs.counts())
        .fold((0, 0, 0), |total, counts| {
            (total.0 + counts.0, total.1 + counts.1, total.2 + counts.2)
        });
    extra.push_str(
        "# HELP pooldns_lua_records LUA records served, by how they run (broken ones answer SERVFAIL).\n# TYPE pooldns_lua_records gauge\n",
    );
    let _ = writeln!(extra, "pooldns_lua_records{{kind=\"native\"}} {native}");
    let _ = writeln!(extra, "pooldns_lua_records{{kind=\"script\"}} {script}");
    let _ = writeln!(extra, "pooldns_lua_records{{kind=\"broken\"}} {broken}");
    extra.push_str(
        "# HELP pooldns_lua_failures_total LUA evaluations that failed (answered SERVFAIL).\n# TYPE pooldns_lua_failures_total counter\n",
    );
    let _ = writeln!(extra, "pooldns_lua_failures_total {}", crate::lua::failures());
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        state.metrics.render(&extra),
    )
}
