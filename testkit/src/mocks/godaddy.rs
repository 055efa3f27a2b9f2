//! A mock of GoDaddy's Domains API, v1 and v2.
//!
//! Parses `Authorization: sso-key KEY:SECRET` (401 `UNABLE_TO_AUTHENTICATE` for unknown
//! keys, 403 `ACCESS_DENIED` for an account below the API access threshold); v1
//! `GET`/`PATCH /v1/domains/{domain}`; v2 `PUT .../nameServers` answering 202 and creating
//! an action that goes `ACCEPTED` → `PENDING` → `SUCCESS`/`FAILED` (finished by a test
//! hook); `PATCH`/`DELETE .../dnssecRecords` as `DNSSEC_CREATE`/`DNSSEC_DELETE` actions;
//! 422 for fewer than two nameservers or trailing dots; 429 with `retryAfterSec`.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::{serve, Control, SharedControl};

/// The API key.
pub const KEY: &str = "gd-key-3f2a1b0c9d8e";
/// The API secret.
pub const SECRET: &str = "gd-secret-77aa55cc33ee";
/// The customer id for v2 calls.
pub const CUSTOMER: &str = "cust-4242";
/// Key of an account that is not allowed production API access.
pub const SMALL_KEY: &str = "gd-small-account-key";
/// Secret of [`SMALL_KEY`].
pub const SMALL_SECRET: &str = "gd-small-account-secret";

/// One action.
#[derive(Clone, Debug)]
struct Action {
    /// Action type.
    kind: String,
    /// Current status.
    status: String,
    /// The request id sent with it.
    request_id: Option<String>,
    /// What applying it does.
    change: Change,
}

/// The state change an action makes when it succeeds.
#[derive(Clone, Debug)]
enum Change {
    /// Replace the NS set.
    Nameservers(Vec<String>),
    /// Add DS records.
    AddDs(Vec<Value>),
    /// Remove DS records.
    RemoveDs(Vec<Value>),
}

/// A domain.
#[derive(Clone, Debug, Default)]
struct Domain {
    /// NS set.
    nameservers: Vec<String>,
    /// DS records as GoDaddy shows them.
    dnssec: Vec<Value>,
    /// Actions, oldest first.
    actions: Vec<Action>,
}

/// The GoDaddy mock.
#[derive(Clone, Debug)]
pub struct GoDaddyMock {
    /// Knobs and observations.
    pub control: SharedControl,
    /// Domains by name.
    domains: Arc<Mutex<HashMap<String, Domain>>>,
    /// The base URL.
    pub base_url: String,
}

impl GoDaddyMock {
    /// Starts a mock whose account holds `example.com` with NS `ns1/ns2.old-host.net`.
    pub async fn start() -> Self {
        let mut domains = HashMap::new();
        domains.insert(
            "example.com".to_owned(),
            Domain {
                nameservers: vec!["ns1.old-host.net".into(), "ns2.old-host.net".into()],
                ..Domain::default()
            },
        );
        let mock = Self {
            control: Arc::new(Control::default()),
            domains: Arc::new(Mutex::new(domains)),
            base_url: String::new(),
        };
        let router = Router::new()
            .route("/v1/domains/{domain}", get(v1_get).patch(v1_patch))
            .route("/v2/customers/{customer}/domains/{domain}", get(v2_get))
            .route(
                "/v2/customers/{customer}/domains/{domain}/nameServers",
                put(v2_nameservers),
            )
            .route(
                "/v2/customers/{customer}/domains/{domain}/actions/{kind}",
                get(v2_action),
            )
            .route(
                "/v2/customers/{customer}/domains/{domain}/dnssecRecords",
                axum::routing::patch(v2_ds_add).delete(v2_ds_remove),
            )
            .with_state(mock.clone());
        let address = serve(router).await;
        Self {
            base_url: format!("http://{address}"),
            ..mock
        }
    }

    /// Returns the NS set of `domain`, sorted.
    pub fn nameservers(&self, domain: &str) -> Vec<String> {
        let domains = self.domains.lock().expect("not poisoned");
        let mut names = domains.get(domain).map(|d| d.nameservers.clone()).unwrap_or_default();
        names.sort();
        names
    }

    /// Returns the DS records of `domain` as `tag digest` pairs.
    pub fn ds(&self, domain: &str) -> Vec<String> {
        let domains = self.domains.lock().expect("not poisoned");
        let mut list: Vec<String> = domains
            .get(domain)
            .map(|d| {
                d.dnssec
                    .iter()
                    .map(|r| format!("{} {}", r["keyTag"], r["digest"].as_str().unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default();
        list.sort();
        list
    }

    /// Returns the request ids of the actions of `domain`.
    pub fn request_ids(&self, domain: &str) -> Vec<Option<String>> {
        let domains = self.domains.lock().expect("not poisoned");
        domains
            .get(domain)
            .map(|d| d.actions.iter().map(|a| a.request_id.clone()).collect())
            .unwrap_or_default()
    }

    /// Finishes every open action: success, or failure when the control says so.
    pub fn complete_actions(&self) {
        let fail = self.control.fail_tasks.load(Ordering::SeqCst);
        let mut domains = self.domains.lock().expect("not poisoned");
        for domain in domains.values_mut() {
            let mut changes = Vec::new();
            for action in domain
                .actions
                .iter_mut()
                .filter(|a| matches!(a.status.as_str(), "ACCEPTED" | "PENDING"))
            {
                if fail {
                    action.status = "FAILED".into();
                } else {
                    action.status = "SUCCESS".into();
                    changes.push(action.change.clone());
                }
            }
            for change in changes {
                match change {
                    Change::Nameservers(list) => domain.nameservers = list,
                    Change::AddDs(records) => domain.dnssec.extend(records),
                    Change::RemoveDs(records) => domain.dnssec.retain(|r| {
                        !records
                            .iter()
                            .any(|gone| gone["keyTag"] == r["keyTag"] && same_digest(&gone["digest"], &r["digest"]))
                    }),
                }
            }
        }
    }
}

/// Compares two hex digests without regard to case.
fn same_digest(left: &Value, right: &Value) -> bool {
    left.as_str()
        .unwrap_or_default()
        .eq_ignore_ascii_case(right.as_str().unwrap_or_default())
}

/// Builds an error answer.
fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({"code": code, "message": message}))).into_response()
}

/// Checks throttling and the `sso-key` header.
fn authenticate(mock: &GoDaddyMock, headers: &HeaderMap) -> Result<(), Response> {
    if mock.control.throttle() {
        return Err((
            StatusCode::TOO_MANY_REQUESTS,
            Json(json!({"code": "TOO_MANY_REQUESTS", "message": "Too many requests",
                        "retryAfterSec": mock.control.retry_after_secs()})),
        )
            .into_response());
    }
    if mock.control.unavailable() {
        return Err(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "INTERNAL_SERVER_ERROR",
            "Service unavailable",
        ));
    }
    let header = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let Some((key, secret)) = header.strip_prefix("sso-key ").and_then(|rest| rest.split_once(':')) else {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "UNABLE_TO_AUTHENTICATE",
            "Unauthorized : Could not authenticate API key/secret",
        ));
    };
    match (key, secret) {
        (KEY, SECRET) => Ok(()),
        (SMALL_KEY, SMALL_SECRET) => Err(error(
            StatusCode::FORBIDDEN,
            "ACCESS_DENIED",
            "Authenticated user is not allowed access",
        )),
        _ => Err(error(
            StatusCode::UNAUTHORIZED,
            "UNABLE_TO_AUTHENTICATE",
            "Unauthorized : Could not authenticate API key/secret",
        )),
    }
}

/// Checks authentication, the customer id and that the domain is in the account.
fn access(mock: &GoDaddyMock, headers: &HeaderMap, customer: Option<&str>, domain: &str) -> Result<(), Response> {
    authenticate(mock, headers)?;
    if customer.is_some_and(|customer| customer != CUSTOMER) {
        return Err(error(
            StatusCode::FORBIDDEN,
            "ACCESS_DENIED",
            "Customer does not match the credentials",
        ));
    }
    if !mock.domains.lock().expect("not poisoned").contains_key(domain) {
        return Err(error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "The given domain is not registered, or does not have a zone file",
        ));
    }
    Ok(())
}

/// Validates a `{"nameServers": [...]}` body.
fn nameservers_body(body: &Bytes) -> Result<Vec<String>, Response> {
    let value: Value = serde_json::from_slice(body).map_err(|_| {
        error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_BODY",
            "Request body doesn't fulfill schema, see details in `fields`",
        )
    })?;
    let list: Vec<String> = value["nameServers"]
        .as_array()
        .map(|list| list.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    if list.len() < 2 {
        return Err((
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"code": "INVALID_BODY", "message": "Request body doesn't fulfill schema, see details in `fields`",
                        "fields": [{"code": "MISMATCH_FORMAT", "message": "at least 2 nameservers", "path": "nameServers"}]})),
        )
            .into_response());
    }
    if list.iter().any(|ns| ns.ends_with('.') || !ns.contains('.')) {
        return Err(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "FAILED_NAME_SERVER_VALIDATION",
            "Nameserver is invalid",
        ));
    }
    Ok(list.into_iter().map(|ns| ns.to_ascii_lowercase()).collect())
}

/// `GET /v1/domains/{domain}`.
async fn v1_get(State(mock): State<GoDaddyMock>, headers: HeaderMap, Path(domain): Path<String>) -> Response {
    if let Err(response) = access(&mock, &headers, None, &domain) {
        return response;
    }
    let domains = mock.domains.lock().expect("not poisoned");
    let found = &domains[&domain];
    Json(json!({"domain": domain, "status": "ACTIVE", "locked": true, "nameServers": found.nameservers}))
        .into_response()
}

/// `PATCH /v1/domains/{domain}`.
async fn v1_patch(
    State(mock): State<GoDaddyMock>,
    headers: HeaderMap,
    Path(domain): Path<String>,
    body: Bytes,
) -> Response {
    mock.control.record("PATCH /v1/domains");
    if let Err(response) = access(&mock, &headers, None, &domain) {
        return response;
    }
    let list = match nameservers_body(&body) {
        Ok(list) => list,
        Err(response) => return response,
    };
    if let Some(found) = mock.domains.lock().expect("not poisoned").get_mut(&domain) {
        found.nameservers = list;
    }
    mock.control.changed().await;
    StatusCode::NO_CONTENT.into_response()
}

/// `GET /v2/customers/{customer}/domains/{domain}`.
async fn v2_get(
    State(mock): State<GoDaddyMock>,
    headers: HeaderMap,
    Path((customer, domain)): Path<(String, String)>,
) -> Response {
    if let Err(response) = access(&mock, &headers, Some(&customer), &domain) {
        return response;
    }
    let domains = mock.domains.lock().expect("not poisoned");
    let found = &domains[&domain];
    let actions: Vec<Value> = found
        .actions
        .iter()
        .map(|a| json!({"type": a.kind, "status": a.status}))
        .collect();
    Json(
        json!({"domain": domain, "status": "ACTIVE", "nameServers": found.nameservers,
                "dnssecRecords": found.dnssec, "actions": actions}),
    )
    .into_response()
}

/// Opens an action unless one of the same type is still open.
async fn open_action(
    mock: &GoDaddyMock,
    domain: &str,
    kind: &str,
    request_id: Option<String>,
    change: Change,
) -> Response {
    {
        let mut domains = mock.domains.lock().expect("not poisoned");
        let Some(found) = domains.get_mut(domain) else {
            return error(StatusCode::NOT_FOUND, "NOT_FOUND", "Domain not found");
        };
        if found
            .actions
            .iter()
            .any(|a| a.kind == kind && matches!(a.status.as_str(), "ACCEPTED" | "PENDING"))
        {
            return error(
                StatusCode::CONFLICT,
                "CONFLICTING_STATUS",
                "An action of this type is already in progress",
            );
        }
        found.actions.push(Action {
            kind: kind.into(),
            status: "ACCEPTED".into(),
            request_id,
            change,
        });
    }
    mock.control.changed().await;
    StatusCode::ACCEPTED.into_response()
}

/// `PUT /v2/customers/{customer}/domains/{domain}/nameServers`.
async fn v2_nameservers(
    State(mock): State<GoDaddyMock>,
    headers: HeaderMap,
    Path((customer, domain)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    mock.control.record("PUT /v2/customers/domains/nameServers");
    if let Err(response) = access(&mock, &headers, Some(&customer), &domain) {
        return response;
    }
    let list = match nameservers_body(&body) {
        Ok(list) => list,
        Err(response) => return response,
    };
    let request_id = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    open_action(
        &mock,
        &domain,
        "DOMAIN_UPDATE_NAME_SERVERS",
        request_id,
        Change::Nameservers(list),
    )
    .await
}

/// `GET /v2/customers/{customer}/domains/{domain}/actions/{kind}`.
async fn v2_action(
    State(mock): State<GoDaddyMock>,
    headers: HeaderMap,
    Path((customer, domain, kind)): Path<(String, String, String)>,
) -> Response {
    if let Err(response) = access(&mock, &headers, Some(&customer), &domain) {
        return response;
    }
    let mut domains = mock.domains.lock().expect("not poisoned");
    let Some(action) = domains
        .get_mut(&domain)
        .and_then(|d| d.actions.iter_mut().rev().find(|a| a.kind == kind))
    else {
        return error(StatusCode::NOT_FOUND, "NOT_FOUND", "No action of that type");
    };
    if action.status == "ACCEPTED" {
        action.status = "PENDING".into();
    }
    let mut body = json!({"type": action.kind, "origination": "USER", "status": action.status,
                          "createdAt": "2026-01-01T00:00:00Z", "requestId": action.request_id});
    if action.status == "FAILED" {
        body["reason"] = json!({"code": "REGISTRY_REJECTED", "message": "The registry refused the change"});
    }
    Json(body).into_response()
}

/// Validates a DS list body.
fn ds_body(body: &Bytes) -> Result<Vec<Value>, Response> {
    let list: Vec<Value> = serde_json::from_slice(body).map_err(|_| {
        error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_BODY",
            "Request body doesn't fulfill schema, see details in `fields`",
        )
    })?;
    let algorithms = [
        "RSASHA256",
        "RSASHA512",
        "ECDSAP256SHA256",
        "ECDSAP384SHA384",
        "ED25519",
        "ED448",
        "RSASHA1",
    ];
    let digests = ["SHA1", "SHA256", "SHA384"];
    for record in &list {
        let ok = record["algorithm"].as_str().is_some_and(|a| algorithms.contains(&a))
            && record["digestType"].as_str().is_some_and(|d| digests.contains(&d))
            && record["keyTag"].is_u64()
            && record["digest"].as_str().is_some_and(|d| !d.is_empty());
        if !ok {
            return Err(error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "INVALID_BODY",
                "DNSSEC record does not fulfill schema",
            ));
        }
    }
    if list.is_empty() {
        return Err(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_BODY",
            "At least one record is required",
        ));
    }
    Ok(list)
}

/// `PATCH .../dnssecRecords`.
async fn v2_ds_add(
    State(mock): State<GoDaddyMock>,
    headers: HeaderMap,
    Path((customer, domain)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    mock.control.record("PATCH /v2/customers/domains/dnssecRecords");
    if let Err(response) = access(&mock, &headers, Some(&customer), &domain) {
        return response;
    }
    match ds_body(&body) {
        Ok(list) => open_action(&mock, &domain, "DNSSEC_CREATE", None, Change::AddDs(list)).await,
        Err(response) => response,
    }
}

/// `DELETE .../dnssecRecords`.
async fn v2_ds_remove(
    State(mock): State<GoDaddyMock>,
    headers: HeaderMap,
    Path((customer, domain)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    mock.control.record("DELETE /v2/customers/domains/dnssecRecords");
    if let Err(response) = access(&mock, &headers, Some(&customer), &domain) {
        return response;
    }
    match ds_body(&body) {
        Ok(list) => open_action(&mock, &domain, "DNSSEC_DELETE", None, Change::RemoveDs(list)).await,
        Err(response) => response,
    }
}
