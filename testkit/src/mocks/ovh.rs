//! A mock of OVHcloud's `/1.0` API for domains.
//!
//! Serves `/auth/time` from a clock that is deliberately off from the local one, verifies
//! `X-Ovh-Signature` with the documented formula over the exact URL and body received,
//! matches the consumer key's access rules (403 "This call has not been granted"), and
//! keeps domain objects (`nameServerType`, `hostSupported`, `dnssecSupported`), NS entries,
//! glue records, DNSSEC keys (at most four) and tasks that go `todo` → `done`/`error` when
//! a test finishes them.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::{host, serve, Control, SharedControl};

/// The application key.
pub const APP_KEY: &str = "ovh-app-key-1a2b3c";
/// The application secret.
pub const APP_SECRET: &str = "ovh-app-secret-9z8y7x6w";
/// A consumer key with every domain right.
pub const CONSUMER: &str = "ovh-consumer-full-5q4r3s";
/// A consumer key that may only read.
pub const READ_ONLY_CONSUMER: &str = "ovh-consumer-read-only-2p";
/// How far the mock's clock is ahead of the local clock, in seconds.
pub const CLOCK_AHEAD: i64 = 7_200;

/// One NS entry.
#[derive(Clone, Debug)]
struct NameServer {
    /// Entry id.
    id: u64,
    /// Host.
    host: String,
}

/// One DNSSEC key.
#[derive(Clone, Debug)]
struct Key {
    /// Entry id.
    id: u64,
    /// The key as OVH shows it.
    value: Value,
}

/// One task.
#[derive(Clone, Debug)]
struct Task {
    /// Task id.
    id: u64,
    /// Function, such as `DomainDnsUpdate`.
    function: String,
    /// Status.
    status: String,
    /// What it changes when done.
    change: Change,
}

/// What a task changes.
#[derive(Clone, Debug)]
enum Change {
    /// Replace the NS set.
    Nameservers(Vec<String>),
    /// Create or update a glue record.
    Glue(String, Vec<String>),
    /// Replace the keys.
    Keys(Vec<Value>),
}

/// A domain.
#[derive(Clone, Debug)]
struct Domain {
    /// `hosted` or `external`.
    name_server_type: String,
    /// Registry takes host objects.
    host_supported: bool,
    /// Registry takes DNSSEC keys.
    dnssec_supported: bool,
    /// NS entries.
    nameservers: Vec<NameServer>,
    /// Glue records.
    glue: BTreeMap<String, Vec<String>>,
    /// DNSSEC keys.
    keys: Vec<Key>,
    /// Tasks.
    tasks: Vec<Task>,
}

/// The mock's state.
#[derive(Debug, Default)]
struct Data {
    /// Domains by name.
    domains: BTreeMap<String, Domain>,
    /// Next id for entries and tasks.
    next_id: u64,
}

impl Data {
    /// Returns a fresh id.
    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }
}

/// The OVHcloud mock.
#[derive(Clone, Debug)]
pub struct OvhMock {
    /// Knobs and observations.
    pub control: SharedControl,
    /// State.
    data: Arc<Mutex<Data>>,
    /// The base URL (`http://127.0.0.1:port/1.0`).
    pub base_url: String,
}

impl OvhMock {
    /// Starts a mock with `example.com` (external DNS, glue and DNSSEC supported, NS
    /// `ns1/ns2.old-host.net`), `hosted.example` (on OVH's DNS) and `noglue.example` (a
    /// registry without host objects or DNSSEC).
    pub async fn start() -> Self {
        let mut data = Data {
            next_id: 1000,
            ..Data::default()
        };
        for (name, kind, capable) in [
            ("example.com", "external", true),
            ("hosted.example", "hosted", true),
            ("noglue.example", "external", false),
        ] {
            let nameservers = ["ns1.old-host.net", "ns2.old-host.net"]
                .iter()
                .map(|host| NameServer {
                    id: data.id(),
                    host: (*host).into(),
                })
                .collect();
            data.domains.insert(
                name.into(),
                Domain {
                    name_server_type: kind.into(),
                    host_supported: capable,
                    dnssec_supported: capable,
                    nameservers,
                    glue: BTreeMap::new(),
                    keys: Vec::new(),
                    tasks: Vec::new(),
                },
            );
        }
        let mock = Self {
            control: Arc::new(Control::default()),
            data: Arc::new(Mutex::new(data)),
            base_url: String::new(),
        };
        let router = Router::new().fallback(handle).with_state(mock.clone());
        let address = serve(router).await;
        Self {
            base_url: format!("http://{address}/1.0"),
            ..mock
        }
    }

    /// Returns the NS set of `domain`, sorted.
    pub fn nameservers(&self, domain: &str) -> Vec<String> {
        let data = self.data.lock().expect("not poisoned");
        let mut names: Vec<String> = data.domains[domain]
            .nameservers
            .iter()
            .map(|ns| ns.host.clone())
            .collect();
        names.sort();
        names
    }

    /// Returns the `nameServerType` of `domain`.
    pub fn name_server_type(&self, domain: &str) -> String {
        self.data.lock().expect("not poisoned").domains[domain]
            .name_server_type
            .clone()
    }

    /// Returns the glue records of `domain`.
    pub fn glue(&self, domain: &str) -> BTreeMap<String, Vec<String>> {
        self.data.lock().expect("not poisoned").domains[domain].glue.clone()
    }

    /// Returns the public keys published for `domain`.
    pub fn keys(&self, domain: &str) -> Vec<String> {
        let data = self.data.lock().expect("not poisoned");
        data.domains[domain]
            .keys
            .iter()
            .map(|key| key.value["publicKey"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Finishes every open task: `done` (applied) or, when the control says so, `error`.
    pub fn complete_tasks(&self) {
        let fail = self.control.fail_tasks.load(Ordering::SeqCst);
        let mut data = self.data.lock().expect("not poisoned");
        let mut fresh_ids = Vec::new();
        for _ in 0..64 {
            fresh_ids.push(data.id());
        }
        for domain in data.domains.values_mut() {
            let mut changes = Vec::new();
            for task in domain
                .tasks
                .iter_mut()
                .filter(|t| t.status == "todo" || t.status == "doing")
            {
                if fail {
                    task.status = "error".into();
                } else {
                    task.status = "done".into();
                    changes.push(task.change.clone());
                }
            }
            for change in changes {
                match change {
                    Change::Nameservers(hosts) => {
                        domain.nameservers = hosts
                            .into_iter()
                            .map(|host| NameServer {
                                id: fresh_ids.pop().unwrap_or(1),
                                host,
                            })
                            .collect();
                    }
                    Change::Glue(host, ips) => {
                        domain.glue.insert(host, ips);
                    }
                    Change::Keys(keys) => {
                        domain.keys = keys
                            .into_iter()
                            .map(|value| Key {
                                id: fresh_ids.pop().unwrap_or(1),
                                value,
                            })
                            .collect();
                    }
                }
            }
        }
    }
}

/// Returns the mock's clock.
fn mock_now() -> i64 {
    let local = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    local + CLOCK_AHEAD
}

/// Builds an auth-layer error.
fn auth_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"errorCode": code, "httpCode": status.to_string(), "message": message})),
    )
        .into_response()
}

/// Builds an API-layer error.
fn api_error(status: StatusCode, class: &str, message: &str) -> Response {
    (status, Json(json!({"class": class, "message": message}))).into_response()
}

/// Returns `true` when `path` matches a rule pattern where `*` matches anything.
fn glob(pattern: &str, path: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == path,
        Some((prefix, rest)) => {
            path.starts_with(prefix)
                && (0..=path.len() - prefix.len()).any(|skip| glob(rest, &path[prefix.len() + skip..]))
        }
    }
}

/// Access rules of each consumer key.
fn rules(consumer: &str) -> Option<Vec<(&'static str, &'static str)>> {
    match consumer {
        CONSUMER => Some(vec![
            ("GET", "/domain/*"),
            ("PUT", "/domain/*"),
            ("POST", "/domain/*"),
            ("DELETE", "/domain/*"),
        ]),
        READ_ONLY_CONSUMER => Some(vec![("GET", "/domain/*")]),
        _ => None,
    }
}

/// Every request: time, throttling, authentication, signature, rules, then dispatch.
async fn handle(State(mock): State<OvhMock>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let path = uri.path().strip_prefix("/1.0").unwrap_or(uri.path()).to_owned();
    let mutating = method != Method::GET;
    if mutating {
        mock.control.record(format!("{method} {path}"));
    }
    if mock.control.throttle() {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            Json(json!({"message": "Too many requests"})),
        )
            .into_response();
    }
    if path == "/auth/time" && method == Method::GET {
        return mock_now().to_string().into_response();
    }
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    if header("x-ovh-application") != APP_KEY {
        return auth_error(StatusCode::FORBIDDEN, "INVALID_KEY", "Invalid application key");
    }
    let consumer = header("x-ovh-consumer");
    let Some(allowed) = rules(&consumer) else {
        return auth_error(
            StatusCode::FORBIDDEN,
            "INVALID_CREDENTIAL",
            "This credential is not valid",
        );
    };
    let timestamp: i64 = header("x-ovh-timestamp").parse().unwrap_or(0);
    if (timestamp - mock_now()).abs() > 30 {
        return auth_error(StatusCode::BAD_REQUEST, "QUERY_TIME_OUT", "Query out of time");
    }
    let full_url = format!(
        "http://{}{}",
        header("host"),
        uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")
    );
    let payload = format!(
        "{APP_SECRET}+{consumer}+{method}+{full_url}+{}+{timestamp}",
        String::from_utf8_lossy(&body)
    );
    let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, payload.as_bytes());
    let expected = format!("$1${}", data_encoding::HEXLOWER.encode(digest.as_ref()));
    if header("x-ovh-signature") != expected {
        return auth_error(StatusCode::BAD_REQUEST, "INVALID_SIGNATURE", "Invalid signature");
    }
    if !allowed
        .iter()
        .any(|(m, pattern)| *m == method.as_str() && glob(pattern, &path))
    {
        return auth_error(
            StatusCode::FORBIDDEN,
            "NOT_GRANTED_CALL",
            "This call has not been granted",
        );
    }
    let body: Value = if body.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(&body) {
            Ok(value) => value,
            Err(_) => return api_error(StatusCode::BAD_REQUEST, "Client::BadRequest", "Invalid JSON body"),
        }
    };
    let query: Vec<(String, String)> = serde_urlencoded::from_str(uri.query().unwrap_or_default()).unwrap_or_default();
    let (response, changed) = dispatch(&mock, &method, &path, &query, body);
    if changed {
        mock.control.changed().await;
    }
    response
}

/// Routes an authenticated request; also returns whether the state changed.
fn dispatch(mock: &OvhMock, method: &Method, path: &str, query: &[(String, String)], body: Value) -> (Response, bool) {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let ["domain", name, rest @ ..] = segments.as_slice() else {
        return (
            api_error(
                StatusCode::NOT_FOUND,
                "Client::NotFound",
                "Got an invalid (or empty) URL",
            ),
            false,
        );
    };
    let name = host(name);
    let mut data = mock.data.lock().expect("not poisoned");
    if !data.domains.contains_key(&name) {
        let message = format!("The requested object (serviceName = {name}) does not exist");
        return (api_error(StatusCode::NOT_FOUND, "Client::NotFound", &message), false);
    }
    let mut task: Option<(String, Change)> = None;
    let mut answer: Option<Response> = None;
    {
        let domain = data.domains.get_mut(&name).expect("checked above");
        match (method.as_str(), rest) {
            ("GET", []) => {
                answer = Some(
                    Json(json!({"domain": name, "nameServerType": domain.name_server_type,
                                "dnssecSupported": domain.dnssec_supported, "hostSupported": domain.host_supported,
                                "glueRecordIpv6Supported": domain.host_supported,
                                "glueRecordMultiIpSupported": domain.host_supported,
                                "transferLockStatus": "locked"}))
                    .into_response(),
                );
            }
            ("PUT", []) => match body["nameServerType"].as_str() {
                Some(kind @ ("hosted" | "external")) => {
                    domain.name_server_type = kind.into();
                    answer = Some(Json(Value::Null).into_response());
                }
                _ => {
                    answer = Some(api_error(
                        StatusCode::BAD_REQUEST,
                        "Client::BadRequest",
                        "Invalid nameServerType",
                    ))
                }
            },
            ("GET", ["nameServer"]) => {
                let ids: Vec<u64> = domain.nameservers.iter().map(|ns| ns.id).collect();
                answer = Some(Json(json!(ids)).into_response());
            }
            ("GET", ["nameServer", id]) => {
                answer = Some(match domain.nameservers.iter().find(|ns| ns.id.to_string() == *id) {
                    Some(ns) => {
                        Json(json!({"id": ns.id, "host": ns.host, "ip": null, "isUsed": true, "toDelete": false}))
                            .into_response()
                    }
                    None => api_error(StatusCode::NOT_FOUND, "Client::NotFound", "Name server not found"),
                });
            }
            ("POST", ["nameServers", "update"]) => {
                let hosts: Vec<(String, bool)> = body["nameServers"]
                    .as_array()
                    .map(|list| {
                        list.iter()
                            .map(|entry| {
                                (
                                    host(entry["host"].as_str().unwrap_or_default()),
                                    entry["ip"].is_string(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                if domain.name_server_type != "external" {
                    answer = Some(api_error(
                        StatusCode::FORBIDDEN,
                        "Client::Forbidden",
                        "The domain uses OVHcloud DNS; set nameServerType to external first",
                    ));
                } else if hosts.len() < 2 || hosts.iter().any(|(h, _)| h.is_empty()) {
                    answer = Some(api_error(
                        StatusCode::BAD_REQUEST,
                        "Client::BadRequest",
                        "At least 2 name servers are required",
                    ));
                } else if let Some((missing, _)) = hosts
                    .iter()
                    .find(|(h, ip)| h.ends_with(&format!(".{name}")) && !ip && !domain.glue.contains_key(h))
                {
                    answer = Some(api_error(
                        StatusCode::BAD_REQUEST,
                        "Client::BadRequest",
                        &format!("Name server {missing} needs a glue record"),
                    ));
                } else {
                    task = Some((
                        "DomainDnsUpdate".into(),
                        Change::Nameservers(hosts.into_iter().map(|(h, _)| h).collect()),
                    ));
                }
            }
            ("GET", ["glueRecord"]) => {
                let hosts: Vec<&String> = domain.glue.keys().collect();
                answer = Some(Json(json!(hosts)).into_response());
            }
            ("GET", ["glueRecord", glue_host]) => {
                answer = Some(match domain.glue.get(&host(glue_host)) {
                    Some(ips) => Json(json!({"host": host(glue_host), "ips": ips})).into_response(),
                    None => api_error(StatusCode::NOT_FOUND, "Client::NotFound", "Glue record not found"),
                });
            }
            ("POST", ["glueRecord", rest @ ..]) => {
                let (glue_host, update) = match rest {
                    [] => (host(body["host"].as_str().unwrap_or_default()), false),
                    [glue_host, "update"] => (host(glue_host), true),
                    _ => (String::new(), false),
                };
                let ips: Vec<String> = body["ips"]
                    .as_array()
                    .map(|list| list.iter().filter_map(|ip| ip.as_str().map(str::to_owned)).collect())
                    .unwrap_or_default();
                if !domain.host_supported {
                    answer = Some(api_error(
                        StatusCode::FORBIDDEN,
                        "Client::Forbidden",
                        "Host records are not supported",
                    ));
                } else if glue_host.is_empty() || !glue_host.ends_with(&format!(".{name}")) || ips.is_empty() {
                    answer = Some(api_error(
                        StatusCode::BAD_REQUEST,
                        "Client::BadRequest",
                        "Invalid glue record",
                    ));
                } else if update != domain.glue.contains_key(&glue_host) {
                    answer = Some(api_error(
                        StatusCode::BAD_REQUEST,
                        "Client::BadRequest",
                        "Glue record state mismatch",
                    ));
                } else {
                    let function = if update { "DomainHostUpdate" } else { "DomainHostCreate" };
                    task = Some((function.into(), Change::Glue(glue_host, ips)));
                }
            }
            ("GET", ["dsRecord"]) => {
                let ids: Vec<u64> = domain.keys.iter().map(|key| key.id).collect();
                answer = Some(Json(json!(ids)).into_response());
            }
            ("GET", ["dsRecord", id]) => {
                answer = Some(match domain.keys.iter().find(|key| key.id.to_string() == *id) {
                    Some(key) => {
                        let mut value = key.value.clone();
                        value["id"] = json!(key.id);
                        value["status"] = json!("enabled");
                        Json(value).into_response()
                    }
                    None => api_error(StatusCode::NOT_FOUND, "Client::NotFound", "Key not found"),
                });
            }
            ("POST", ["dsRecord"]) => {
                let keys = body["keys"].as_array().cloned().unwrap_or_default();
                let valid = keys.iter().all(|key| {
                    key["algorithm"].is_u64()
                        && key["flags"].is_u64()
                        && key["tag"].is_u64()
                        && key["publicKey"].is_string()
                });
                if !domain.dnssec_supported {
                    answer = Some(api_error(
                        StatusCode::FORBIDDEN,
                        "Client::Forbidden::DomDoaForbidden",
                        "DNSSEC is not available for this domain",
                    ));
                } else if keys.len() > 4 || !valid {
                    answer = Some(api_error(
                        StatusCode::BAD_REQUEST,
                        "Client::BadRequest",
                        "Invalid keys (at most 4)",
                    ));
                } else {
                    task = Some(("DomainDsUpdate".into(), Change::Keys(keys)));
                }
            }
            ("GET", ["task"]) => {
                let wanted = |name: &str| {
                    query
                        .iter()
                        .find(|(key, _)| key == name)
                        .map(|(_, value)| value.as_str())
                };
                let ids: Vec<u64> = domain
                    .tasks
                    .iter()
                    .filter(|t| wanted("function").is_none_or(|f| f == t.function))
                    .filter(|t| wanted("status").is_none_or(|s| s == t.status))
                    .map(|t| t.id)
                    .collect();
                answer = Some(Json(json!(ids)).into_response());
            }
            ("GET", ["task", id]) => {
                answer = Some(match domain.tasks.iter().find(|t| t.id.to_string() == *id) {
                    Some(t) => {
                        let comment = (t.status == "error").then_some("Registry refused the operation");
                        Json(
                            json!({"id": t.id, "function": t.function, "status": t.status, "comment": comment,
                                    "canAccelerate": false, "canCancel": true, "canRelaunch": t.status == "error"}),
                        )
                        .into_response()
                    }
                    None => api_error(StatusCode::NOT_FOUND, "Client::NotFound", "Task not found"),
                });
            }
            _ => {
                answer = Some(api_error(
                    StatusCode::NOT_FOUND,
                    "Client::NotFound",
                    "Got an invalid (or empty) URL",
                ));
            }
        }
    }
    if let Some(answer) = answer {
        let changed = method == Method::PUT && answer.status().is_success();
        return (answer, changed);
    }
    let Some((function, change)) = task else {
        return (
            api_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Server::InternalServerError",
                "mock error",
            ),
            false,
        );
    };
    let id = data.id();
    if let Some(domain) = data.domains.get_mut(&name) {
        domain.tasks.push(Task {
            id,
            function: function.clone(),
            status: "todo".into(),
            change,
        });
    }
    let response = Json(
        json!({"id": id, "function": function, "status": "todo", "comment": null,
                               "canAccelerate": false, "canCancel": true, "canRelaunch": false}),
    )
    .into_response();
    (response, true)
}
