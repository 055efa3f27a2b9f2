//! `GET /api/v1/health-checks`: every health check behind `ifportup`,
//! `ifurlup` and `ifurlextup`, its state, last probe and recent
//! transitions. PowerDNS has no such view (its issue #15998).
//!
//! A read route: it takes an API key, or none from loopback when no key
//! is configured (see [`super::auth`]). Header values of HTTP checks are
//! never shown, only their names.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use super::auth::Caller;
use super::AppState;

/// `{"checks": [...]}`, sorted by target.
pub async fn list(_caller: Caller, State(state): State<AppState>) -> Json<Value> {
    Json(json!({ "checks": state.health.list() }))
}
