//! A mock of Cloudflare's v4 API: zones, DNS records (list, create, update, delete, batch)
//! and the registrar domain look-up.
//!
//! Reproduces the envelope with `result_info`, bearer-token scopes (403 9109 for zones a
//! token cannot see, 403 10000 for an unknown token, 400 6003/6111 for a malformed header),
//! the legacy `X-Auth-Email`/`X-Auth-Key` pair, 81057 for duplicates, the rule that DS needs
//! NS at the same name and that NS shares a name with nothing but DS, and 429 with
//! `Retry-After` and `Ratelimit` headers.

use std::collections::{HashMap, HashSet};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::{host, serve, Control, SharedControl};

/// The token with DNS edit rights on `example.com` and `registered.example`.
pub const TOKEN: &str = "cf-test-token-7f3a9c1e5b2d";
/// A well-formed token Cloudflare does not know.
pub const BAD_TOKEN: &str = "cf-revoked-token-000000000";
/// A token scoped to `other.example` only.
pub const SCOPED_TOKEN: &str = "cf-scoped-token-5e5e5e5e";
/// The legacy global key and its e-mail address.
pub const GLOBAL_EMAIL: &str = "ops@example.com";
/// See [`GLOBAL_EMAIL`].
pub const GLOBAL_KEY: &str = "0123456789abcdef0123456789abcdef01234";

/// One zone.
#[derive(Clone, Debug)]
struct Zone {
    /// Zone id.
    id: String,
    /// Zone name.
    name: String,
    /// Assigned nameservers.
    name_servers: Vec<String>,
}

/// One record.
#[derive(Clone, Debug)]
pub struct Rec {
    /// Record id.
    pub id: String,
    /// Zone id.
    pub zone: String,
    /// Type.
    pub kind: String,
    /// Owner name.
    pub name: String,
    /// Presentation content.
    pub content: String,
    /// Structured DS data.
    pub data: Option<Value>,
}

impl Rec {
    /// The record as the API shows it.
    fn json(&self) -> Value {
        let mut value = json!({
            "id": self.id, "zone_id": self.zone, "type": self.kind, "name": self.name,
            "content": self.content, "ttl": 3600, "proxied": false,
        });
        if let Some(data) = &self.data {
            value["data"] = data.clone();
        }
        value
    }
}

/// The mock's state.
#[derive(Debug, Default)]
struct Data {
    /// Zones.
    zones: Vec<Zone>,
    /// Records of all zones.
    records: Vec<Rec>,
    /// Names registered at Cloudflare Registrar.
    registrar: HashSet<String>,
    /// Zone ids each token may use.
    scopes: HashMap<String, Vec<String>>,
    /// Next record id.
    next_id: u64,
}

/// The Cloudflare mock.
#[derive(Clone, Debug)]
pub struct CloudflareMock {
    /// Knobs and observations.
    pub control: SharedControl,
    /// State.
    data: Arc<Mutex<Data>>,
    /// The base URL (`http://127.0.0.1:port/client/v4`).
    pub base_url: String,
}

impl CloudflareMock {
    /// Starts a mock holding zone `example.com` (with `pool.example.com` delegated to
    /// `ns1/ns2.old-host.net`), zone `registered.example` (a Cloudflare Registrar domain)
    /// and zone `other.example`.
    pub async fn start() -> Self {
        let mut data = Data::default();
        for (id, name) in [
            ("zone-example", "example.com"),
            ("zone-registered", "registered.example"),
            ("zone-other", "other.example"),
        ] {
            data.zones.push(Zone {
                id: id.into(),
                name: name.into(),
                name_servers: vec!["ada.ns.cloudflare.com".into(), "bob.ns.cloudflare.com".into()],
            });
        }
        data.registrar.insert("registered.example".into());
        data.scopes
            .insert(TOKEN.into(), vec!["zone-example".into(), "zone-registered".into()]);
        data.scopes.insert(SCOPED_TOKEN.into(), vec!["zone-other".into()]);
        let mock = Self {
            control: Arc::new(Control::default()),
            data: Arc::new(Mutex::new(data)),
            base_url: String::new(),
        };
        for (name, content) in [
            ("pool.example.com", "ns1.old-host.net"),
            ("pool.example.com", "ns2.old-host.net"),
            ("www.example.com", "192.0.2.80"),
        ] {
            let kind = if content.parse::<Ipv4Addr>().is_ok() { "A" } else { "NS" };
            mock.insert("zone-example", kind, name, content, None);
        }
        let router = Router::new()
            .route("/client/v4/zones", get(list_zones))
            .route(
                "/client/v4/zones/{zone}/dns_records",
                get(list_records).post(create_record),
            )
            .route("/client/v4/zones/{zone}/dns_records/batch", post(batch))
            .route(
                "/client/v4/zones/{zone}/dns_records/{id}",
                put(change_record).patch(change_record).delete(delete_record),
            )
            .route(
                "/client/v4/accounts/{account}/registrar/domains/{domain}",
                get(registrar_domain),
            )
            .with_state(mock.clone());
        let address = serve(router).await;
        Self {
            base_url: format!("http://{address}/client/v4"),
            ..mock
        }
    }

    /// Inserts a record directly.
    pub fn insert(&self, zone: &str, kind: &str, name: &str, content: &str, data: Option<Value>) {
        let mut state = self.data.lock().expect("not poisoned");
        state.next_id += 1;
        let id = format!("rec{:04}", state.next_id);
        state.records.push(Rec {
            id,
            zone: zone.into(),
            kind: kind.into(),
            name: name.into(),
            content: content.into(),
            data,
        });
    }

    /// Returns the contents of the records of `kind` at `name`, sorted.
    pub fn contents(&self, kind: &str, name: &str) -> Vec<String> {
        let state = self.data.lock().expect("not poisoned");
        let mut contents: Vec<String> = state
            .records
            .iter()
            .filter(|record| record.kind == kind && record.name == name)
            .map(|record| record.content.clone())
            .collect();
        contents.sort();
        contents
    }
}

/// Builds a Cloudflare envelope answer.
fn envelope(status: StatusCode, result: Value, errors: Value) -> Response {
    let success = status.is_success();
    (
        status,
        Json(json!({"success": success, "errors": errors, "messages": [], "result": result})),
    )
        .into_response()
}

/// Builds an error answer with one error.
fn error(status: StatusCode, code: u32, message: &str, chain: Value) -> Response {
    envelope(
        status,
        Value::Null,
        json!([{"code": code, "message": message, "error_chain": chain}]),
    )
}

/// Who a request authenticated as.
enum Caller {
    /// A token with these zone ids.
    Scoped(Vec<String>),
    /// The global key: every zone.
    Everything,
}

/// Checks throttling and authentication; `Err` is the answer to send.
fn authenticate(mock: &CloudflareMock, headers: &HeaderMap) -> Result<Caller, Response> {
    if mock.control.throttle() {
        let wait = mock.control.retry_after_secs();
        let mut response = error(
            StatusCode::TOO_MANY_REQUESTS,
            971,
            "Please wait and consider throttling your request speed",
            json!([]),
        );
        let headers = response.headers_mut();
        headers.insert("Retry-After", wait.to_string().parse().expect("header"));
        headers.insert(
            "Ratelimit",
            format!("\"default\";r=0;t={wait}").parse().expect("header"),
        );
        headers.insert("Ratelimit-Policy", "\"burst\";q=100;w=60".parse().expect("header"));
        return Err(response);
    }
    if mock.control.unavailable() {
        return Err(error(
            StatusCode::SERVICE_UNAVAILABLE,
            10001,
            "Service unavailable",
            json!([]),
        ));
    }
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    if let (Some(email), Some(key)) = (header("x-auth-email"), header("x-auth-key")) {
        if header("authorization").is_some() {
            return Err(error(
                StatusCode::BAD_REQUEST,
                6003,
                "Invalid request headers",
                json!([]),
            ));
        }
        if key.len() != 37 || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(error(
                StatusCode::BAD_REQUEST,
                6003,
                "Invalid request headers",
                json!([{"code": 6103, "message": "Invalid format for X-Auth-Key header"}]),
            ));
        }
        if email == GLOBAL_EMAIL && key == GLOBAL_KEY {
            return Ok(Caller::Everything);
        }
        return Err(error(
            StatusCode::FORBIDDEN,
            9103,
            "Unknown X-Auth-Key or X-Auth-Email",
            json!([]),
        ));
    }
    let Some(token) = header("authorization").and_then(|value| value.strip_prefix("Bearer ")) else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            6003,
            "Invalid request headers",
            json!([{"code": 6111, "message": "Invalid format for Authorization header"}]),
        ));
    };
    let state = mock.data.lock().expect("not poisoned");
    match state.scopes.get(token) {
        Some(zones) => Ok(Caller::Scoped(zones.clone())),
        None => Err(error(StatusCode::FORBIDDEN, 10000, "Authentication error", json!([]))),
    }
}

impl Caller {
    /// Returns `true` when the caller may use `zone`.
    fn may_use(&self, zone: &str) -> bool {
        match self {
            Self::Scoped(zones) => zones.iter().any(|id| id == zone),
            Self::Everything => true,
        }
    }
}

/// Fails unless the caller may use `zone` and the zone exists.
fn zone_access(mock: &CloudflareMock, caller: &Caller, zone: &str) -> Result<(), Response> {
    let exists = mock
        .data
        .lock()
        .expect("not poisoned")
        .zones
        .iter()
        .any(|z| z.id == zone);
    if !exists {
        return Err(error(
            StatusCode::NOT_FOUND,
            7003,
            "Could not route to /zones/..., perhaps your object identifier is invalid?",
            json!([]),
        ));
    }
    if !caller.may_use(zone) {
        return Err(error(
            StatusCode::FORBIDDEN,
            9109,
            "Unauthorized to access requested resource",
            json!([]),
        ));
    }
    Ok(())
}

/// `GET /zones?name=`.
async fn list_zones(
    State(mock): State<CloudflareMock>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let caller = match authenticate(&mock, &headers) {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let wanted = query.get("name").map(|name| host(name));
    let state = mock.data.lock().expect("not poisoned");
    let matching: Vec<&Zone> = state
        .zones
        .iter()
        .filter(|zone| wanted.as_ref().is_none_or(|name| &zone.name == name))
        .collect();
    if matching.iter().any(|zone| !caller.may_use(&zone.id)) {
        // Zone-scoped tokens get 403 for zones outside their scope.
        return error(
            StatusCode::FORBIDDEN,
            9109,
            "Unauthorized to access requested resource",
            json!([]),
        );
    }
    let result: Vec<Value> = matching
        .iter()
        .map(|zone| {
            json!({"id": zone.id, "name": zone.name, "status": "active", "name_servers": zone.name_servers,
                   "account": {"id": "acc1", "name": "Test"}})
        })
        .collect();
    let count = result.len();
    (
        StatusCode::OK,
        Json(json!({"success": true, "errors": [], "messages": [], "result": result,
                    "result_info": {"page": 1, "per_page": 50, "count": count, "total_count": count, "total_pages": 1}})),
    )
        .into_response()
}

/// `GET /zones/{zone}/dns_records` with `name`, `type`, `page`, `per_page`.
async fn list_records(
    State(mock): State<CloudflareMock>,
    headers: HeaderMap,
    Path(zone): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let caller = match authenticate(&mock, &headers) {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    if let Err(response) = zone_access(&mock, &caller, &zone) {
        return response;
    }
    let state = mock.data.lock().expect("not poisoned");
    let records: Vec<Value> = state
        .records
        .iter()
        .filter(|record| record.zone == zone)
        .filter(|record| query.get("name").is_none_or(|name| record.name == host(name)))
        .filter(|record| query.get("type").is_none_or(|kind| &record.kind == kind))
        .map(Rec::json)
        .collect();
    let per_page: usize = query
        .get("per_page")
        .and_then(|v| v.parse().ok())
        .unwrap_or(100)
        .clamp(1, 5000);
    let page: usize = query.get("page").and_then(|v| v.parse().ok()).unwrap_or(1).max(1);
    let total_pages = records.len().div_ceil(per_page).max(1);
    let slice: Vec<Value> = records
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .cloned()
        .collect();
    (
        StatusCode::OK,
        Json(json!({"success": true, "errors": [], "messages": [], "result": slice,
                    "result_info": {"page": page, "per_page": per_page, "count": slice.len(),
                                    "total_count": records.len(), "total_pages": total_pages}})),
    )
        .into_response()
}

/// Validates a record body and turns it into a record (without id).
fn parse_record(zone: &str, body: &Value) -> Result<Rec, Response> {
    let invalid = |message: &str| {
        error(
            StatusCode::BAD_REQUEST,
            1004,
            "DNS Validation Error",
            json!([{"code": 9000, "message": message}]),
        )
    };
    let kind = body["type"].as_str().unwrap_or_default().to_owned();
    let name = host(body["name"].as_str().unwrap_or_default());
    if name.is_empty() {
        return Err(invalid("name required"));
    }
    let (content, data) = match kind.as_str() {
        "A" => {
            let content = body["content"].as_str().unwrap_or_default();
            content
                .parse::<Ipv4Addr>()
                .map_err(|_| invalid("Content for A record is invalid."))?;
            (content.to_owned(), None)
        }
        "AAAA" => {
            let content = body["content"].as_str().unwrap_or_default();
            content
                .parse::<Ipv6Addr>()
                .map_err(|_| invalid("Content for AAAA record is invalid."))?;
            (content.to_owned(), None)
        }
        "NS" => {
            let content = host(body["content"].as_str().unwrap_or_default());
            if content.is_empty() || !content.contains('.') {
                return Err(invalid("Content for NS record is invalid."));
            }
            (content, None)
        }
        "DS" => {
            let data = &body["data"];
            let (Some(tag), Some(alg), Some(dtype), Some(digest)) = (
                data["key_tag"].as_u64(),
                data["algorithm"].as_u64(),
                data["digest_type"].as_u64(),
                data["digest"].as_str(),
            ) else {
                return Err(invalid("DS record data is incomplete."));
            };
            if digest.is_empty() || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(invalid("DS digest is not hex."));
            }
            (
                format!("{tag} {alg} {dtype} {}", digest.to_ascii_uppercase()),
                Some(json!({"key_tag": tag, "algorithm": alg, "digest_type": dtype, "digest": digest})),
            )
        }
        _ => return Err(invalid("Unsupported record type in this mock.")),
    };
    Ok(Rec {
        id: String::new(),
        zone: zone.into(),
        kind,
        name,
        content,
        data,
    })
}

/// Checks the zone-level rules a new record must follow against `records`.
fn admissible(records: &[Rec], new: &Rec) -> Result<(), Response> {
    let same_name: Vec<&Rec> = records
        .iter()
        .filter(|r| r.zone == new.zone && r.name == new.name)
        .collect();
    if same_name
        .iter()
        .any(|r| r.kind == new.kind && r.content.eq_ignore_ascii_case(&new.content))
    {
        return Err(error(
            StatusCode::BAD_REQUEST,
            81057,
            "Record already exists.",
            json!([]),
        ));
    }
    let has_ns = same_name.iter().any(|r| r.kind == "NS");
    match new.kind.as_str() {
        "DS" if !has_ns => Err(error(
            StatusCode::BAD_REQUEST,
            1004,
            "DNS Validation Error",
            json!([{"code": 9000, "message": "DS records require NS records at the same name."}]),
        )),
        "NS" if same_name.iter().any(|r| r.kind != "NS" && r.kind != "DS") => Err(error(
            StatusCode::BAD_REQUEST,
            1004,
            "DNS Validation Error",
            json!([{"code": 9000, "message": "An NS record cannot share a name with other records."}]),
        )),
        "NS" | "DS" => Ok(()),
        _ if has_ns => Err(error(
            StatusCode::BAD_REQUEST,
            81053,
            "A record with that host already exists.",
            json!([]),
        )),
        _ => Ok(()),
    }
}

/// Checks that no name keeps DS records without NS records.
fn ds_needs_ns(records: &[Rec]) -> Result<(), Response> {
    for ds in records.iter().filter(|r| r.kind == "DS") {
        if !records
            .iter()
            .any(|r| r.kind == "NS" && r.name == ds.name && r.zone == ds.zone)
        {
            return Err(error(
                StatusCode::BAD_REQUEST,
                1004,
                "DNS Validation Error",
                json!([{"code": 9000, "message": "Delete DS records before the NS records at the same name."}]),
            ));
        }
    }
    Ok(())
}

/// Parses a JSON body or answers 400.
fn body_json(body: &Bytes) -> Result<Value, Response> {
    serde_json::from_slice(body)
        .map_err(|_| error(StatusCode::BAD_REQUEST, 9207, "Request body is invalid.", json!([])))
}

/// `POST /zones/{zone}/dns_records`.
async fn create_record(
    State(mock): State<CloudflareMock>,
    headers: HeaderMap,
    Path(zone): Path<String>,
    body: Bytes,
) -> Response {
    mock.control.record("POST /zones/dns_records");
    let caller = match authenticate(&mock, &headers) {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    if let Err(response) = zone_access(&mock, &caller, &zone) {
        return response;
    }
    let result = (|| {
        let body = body_json(&body)?;
        let mut record = parse_record(&zone, &body)?;
        let mut state = mock.data.lock().expect("not poisoned");
        admissible(&state.records, &record)?;
        state.next_id += 1;
        record.id = format!("rec{:04}", state.next_id);
        state.records.push(record.clone());
        Ok::<_, Response>(record)
    })();
    match result {
        Ok(record) => {
            mock.control.changed().await;
            envelope(StatusCode::OK, record.json(), json!([]))
        }
        Err(response) => response,
    }
}

/// `PUT`/`PATCH /zones/{zone}/dns_records/{id}`.
async fn change_record(
    State(mock): State<CloudflareMock>,
    method: Method,
    headers: HeaderMap,
    Path((zone, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    mock.control.record(format!("{method} /zones/dns_records"));
    let caller = match authenticate(&mock, &headers) {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    if let Err(response) = zone_access(&mock, &caller, &zone) {
        return response;
    }
    let result = (|| {
        let body = body_json(&body)?;
        let mut state = mock.data.lock().expect("not poisoned");
        let Some(index) = state.records.iter().position(|r| r.id == id && r.zone == zone) else {
            return Err(error(StatusCode::NOT_FOUND, 81044, "Record does not exist.", json!([])));
        };
        let mut merged = state.records[index].json();
        if let (Some(target), Some(changes)) = (merged.as_object_mut(), body.as_object()) {
            for (key, value) in changes {
                target.insert(key.clone(), value.clone());
            }
        }
        let mut record = parse_record(&zone, &merged)?;
        record.id = id.clone();
        let mut others = state.records.clone();
        others.remove(index);
        admissible(&others, &record)?;
        state.records[index] = record.clone();
        Ok::<_, Response>(record)
    })();
    match result {
        Ok(record) => {
            mock.control.changed().await;
            envelope(StatusCode::OK, record.json(), json!([]))
        }
        Err(response) => response,
    }
}

/// `DELETE /zones/{zone}/dns_records/{id}`.
async fn delete_record(
    State(mock): State<CloudflareMock>,
    headers: HeaderMap,
    Path((zone, id)): Path<(String, String)>,
) -> Response {
    mock.control.record("DELETE /zones/dns_records");
    let caller = match authenticate(&mock, &headers) {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    if let Err(response) = zone_access(&mock, &caller, &zone) {
        return response;
    }
    let result = (|| {
        let mut state = mock.data.lock().expect("not poisoned");
        let Some(index) = state.records.iter().position(|r| r.id == id && r.zone == zone) else {
            return Err(error(StatusCode::NOT_FOUND, 81044, "Record does not exist.", json!([])));
        };
        let mut after = state.records.clone();
        after.remove(index);
        ds_needs_ns(&after)?;
        state.records = after;
        Ok::<_, Response>(())
    })();
    match result {
        Ok(()) => {
            mock.control.changed().await;
            (StatusCode::OK, Json(json!({"result": {"id": id}}))).into_response()
        }
        Err(response) => response,
    }
}

/// `POST /zones/{zone}/dns_records/batch`: deletes, patches, puts, posts in one transaction.
async fn batch(
    State(mock): State<CloudflareMock>,
    headers: HeaderMap,
    Path(zone): Path<String>,
    body: Bytes,
) -> Response {
    mock.control.record("POST /zones/dns_records/batch");
    let caller = match authenticate(&mock, &headers) {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    if let Err(response) = zone_access(&mock, &caller, &zone) {
        return response;
    }
    let result = (|| {
        let body = body_json(&body)?;
        let mut state = mock.data.lock().expect("not poisoned");
        let mut working = state.records.clone();
        let mut deleted = Vec::new();
        for delete in body["deletes"].as_array().cloned().unwrap_or_default() {
            let id = delete["id"].as_str().unwrap_or_default();
            let Some(index) = working.iter().position(|r| r.id == id && r.zone == zone) else {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    81044,
                    "Record does not exist.",
                    json!([]),
                ));
            };
            deleted.push(working.remove(index).json());
        }
        let mut posted = Vec::new();
        let mut next_id = state.next_id;
        for post in body["posts"].as_array().cloned().unwrap_or_default() {
            let mut record = parse_record(&zone, &post)?;
            admissible(&working, &record)?;
            next_id += 1;
            record.id = format!("rec{next_id:04}");
            posted.push(record.json());
            working.push(record);
        }
        ds_needs_ns(&working)?;
        state.records = working;
        state.next_id = next_id;
        Ok::<_, Response>(json!({"deletes": deleted, "patches": [], "puts": [], "posts": posted}))
    })();
    match result {
        Ok(result) => {
            mock.control.changed().await;
            envelope(StatusCode::OK, result, json!([]))
        }
        Err(response) => response,
    }
}

/// `GET /accounts/{account}/registrar/domains/{domain}`.
async fn registrar_domain(
    State(mock): State<CloudflareMock>,
    headers: HeaderMap,
    Path((_account, domain)): Path<(String, String)>,
) -> Response {
    if let Err(response) = authenticate(&mock, &headers) {
        return response;
    }
    let registered = mock
        .data
        .lock()
        .expect("not poisoned")
        .registrar
        .contains(&host(&domain));
    if registered {
        envelope(
            StatusCode::OK,
            json!({"name": domain, "auto_renew": true, "locked": true, "registrar": "Cloudflare"}),
            json!([]),
        )
    } else {
        error(StatusCode::NOT_FOUND, 10006, "Domain not found in registrar", json!([]))
    }
}
