//! A mock of Dynadot's API3 (`GET /api3.xml?key=...&command=...`).
//!
//! Checks the key ("invalid key"), answers in the XML shapes of the real API (a
//! `<Command>Header` with `SuccessCode` on some commands and `ResponseCode` on others; HTTP
//! 200 even on errors; errors only as text such as "could not find ... in your account" or
//! "already exists"), keeps the account's host registry (`add_ns`, `register_ns`,
//! `set_ns_ip`, `server_list`) and one DS record per domain, and enforces one request in
//! flight per key: a concurrent request is refused and counted.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::{host, serve, Control, SharedControl};

/// The API key.
pub const KEY: &str = "dyn-key-8c7b6a5d4e3f2a1b";
/// A well-formed key Dynadot does not know.
pub const BAD_KEY: &str = "dyn-key-0000000000000000";

/// A host registered in the account.
#[derive(Clone, Debug)]
struct Server {
    /// Dynadot's id.
    id: u32,
    /// Host name.
    name: String,
    /// Glue addresses.
    ips: Vec<String>,
}

/// The mock's state.
#[derive(Debug, Default)]
struct Data {
    /// NS set per domain in the account.
    domains: HashMap<String, Vec<String>>,
    /// DS record per domain: tag, algorithm, digest type, digest.
    ds: HashMap<String, (String, String, String, String)>,
    /// The account's hosts.
    servers: Vec<Server>,
}

/// The Dynadot mock.
#[derive(Clone, Debug)]
pub struct DynadotMock {
    /// Knobs and observations.
    pub control: SharedControl,
    /// State.
    data: Arc<Mutex<Data>>,
    /// Requests being served now.
    in_flight: Arc<AtomicUsize>,
    /// Requests refused because another was in flight.
    pub refused_concurrent: Arc<AtomicUsize>,
    /// How long each request is held, to make overlaps visible.
    hold: Arc<Mutex<Duration>>,
    /// The endpoint URL.
    pub base_url: String,
}

impl DynadotMock {
    /// Starts a mock whose account holds `example.com` (NS `ns1/ns2.old-host.net`, both
    /// hosts registered in the account).
    pub async fn start() -> Self {
        let mut data = Data::default();
        data.domains.insert(
            "example.com".into(),
            vec!["ns1.old-host.net".into(), "ns2.old-host.net".into()],
        );
        for (id, name) in [(0, "ns1.old-host.net"), (1, "ns2.old-host.net")] {
            data.servers.push(Server {
                id,
                name: name.into(),
                ips: Vec::new(),
            });
        }
        let mock = Self {
            control: Arc::new(Control::default()),
            data: Arc::new(Mutex::new(data)),
            in_flight: Arc::new(AtomicUsize::new(0)),
            refused_concurrent: Arc::new(AtomicUsize::new(0)),
            hold: Arc::new(Mutex::new(Duration::ZERO)),
            base_url: String::new(),
        };
        let router = Router::new().route("/api3.xml", get(endpoint)).with_state(mock.clone());
        let address = serve(router).await;
        Self {
            base_url: format!("http://{address}/api3.xml"),
            ..mock
        }
    }

    /// Registers a host in the account (as an earlier `add_ns` would have).
    pub fn register_host(&self, name: &str) {
        let mut data = self.data.lock().expect("not poisoned");
        let id = data.servers.iter().map(|s| s.id + 1).max().unwrap_or(0);
        data.servers.push(Server {
            id,
            name: name.into(),
            ips: Vec::new(),
        });
    }

    /// Holds every request for `hold` before answering.
    pub fn hold_requests(&self, hold: Duration) {
        *self.hold.lock().expect("not poisoned") = hold;
    }

    /// Returns the NS set of `domain`, sorted.
    pub fn nameservers(&self, domain: &str) -> Vec<String> {
        let mut names = self
            .data
            .lock()
            .expect("not poisoned")
            .domains
            .get(domain)
            .cloned()
            .unwrap_or_default();
        names.sort();
        names
    }

    /// Returns the glue addresses of a registered host.
    pub fn glue(&self, name: &str) -> Option<Vec<String>> {
        let data = self.data.lock().expect("not poisoned");
        data.servers.iter().find(|s| s.name == name).map(|s| s.ips.clone())
    }

    /// Returns the registered host names.
    pub fn hosts(&self) -> Vec<String> {
        self.data
            .lock()
            .expect("not poisoned")
            .servers
            .iter()
            .map(|s| s.name.clone())
            .collect()
    }

    /// Returns the DS key tag of `domain`, if one is set.
    pub fn ds_tag(&self, domain: &str) -> Option<String> {
        self.data
            .lock()
            .expect("not poisoned")
            .ds
            .get(domain)
            .map(|ds| ds.0.clone())
    }
}

/// Turns `set_ns` into `SetNs`.
fn camel(command: &str) -> String {
    command
        .split('_')
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// An XML answer.
fn xml(body: String) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/xml")], body).into_response()
}

/// A success answer; `code_name` is `SuccessCode` or `ResponseCode`.
fn success(command: &str, code_name: &str, content: &str) -> Response {
    let name = camel(command);
    xml(format!(
        "<{name}Response><{name}Header><{code_name}>0</{code_name}><Status>success</Status></{name}Header>{content}</{name}Response>"
    ))
}

/// An error answer of a command.
fn failure(command: &str, message: &str) -> Response {
    let name = camel(command);
    xml(format!(
        "<{name}Response><{name}Header><SuccessCode>-1</SuccessCode><Status>error</Status><Error>{message}</Error></{name}Header></{name}Response>"
    ))
}

/// The generic error answer (bad key, throttling).
fn generic_failure(message: &str) -> Response {
    xml(format!(
        "<Response><ResponseHeader><ResponseCode>-1</ResponseCode><Error>{message}</Error></ResponseHeader></Response>"
    ))
}

/// Decrements the in-flight counter when a request ends.
struct InFlight(Arc<AtomicUsize>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The endpoint.
async fn endpoint(State(mock): State<DynadotMock>, Query(params): Query<Vec<(String, String)>>) -> Response {
    let params: HashMap<String, String> = params.into_iter().collect();
    let get = |name: &str| params.get(name).cloned().unwrap_or_default();
    let command = get("command");
    if matches!(
        command.as_str(),
        "set_ns" | "add_ns" | "register_ns" | "set_ns_ip" | "set_dnssec" | "clear_dnssec" | "delete_ns"
    ) {
        mock.control.record(command.clone());
    }
    if mock.in_flight.fetch_add(1, Ordering::SeqCst) > 0 {
        mock.in_flight.fetch_sub(1, Ordering::SeqCst);
        mock.refused_concurrent.fetch_add(1, Ordering::SeqCst);
        return generic_failure("too many concurrent requests: wait for the previous response");
    }
    let _guard = InFlight(mock.in_flight.clone());
    let hold = *mock.hold.lock().expect("not poisoned");
    if !hold.is_zero() {
        tokio::time::sleep(hold).await;
    }
    if mock.control.throttle() {
        return generic_failure("too many requests, please slow down");
    }
    if get("key") != KEY {
        return generic_failure("invalid key");
    }
    let domain = host(&if command.contains("dnssec") {
        get("domain_name")
    } else {
        get("domain")
    });
    let owned = mock.data.lock().expect("not poisoned").domains.contains_key(&domain);
    match command.as_str() {
        "get_ns" | "set_ns" | "get_dnssec" | "set_dnssec" | "clear_dnssec" if !owned => {
            failure(&command, &format!("could not find {domain} in your account"))
        }
        "get_ns" => {
            let data = mock.data.lock().expect("not poisoned");
            let hosts: String = data.domains[&domain]
                .iter()
                .map(|ns| format!("<Host>{ns}</Host>"))
                .collect();
            success(&command, "SuccessCode", &format!("<NsContent>{hosts}</NsContent>"))
        }
        "set_ns" => {
            let list: Vec<String> = (0..13)
                .map(|index| host(&get(&format!("ns{index}"))))
                .filter(|ns| !ns.is_empty())
                .collect();
            {
                let mut data = mock.data.lock().expect("not poisoned");
                if let Some(unknown) = list.iter().find(|ns| !data.servers.iter().any(|s| &s.name == *ns)) {
                    return failure(&command, &format!("{unknown} is not a name server in your account"));
                }
                if list.len() < 2 {
                    return failure(&command, "at least two name servers are required");
                }
                data.domains.insert(domain.clone(), list);
            }
            mock.control.changed().await;
            success(&command, "SuccessCode", "")
        }
        "server_list" => {
            let data = mock.data.lock().expect("not poisoned");
            let servers: String = data
                .servers
                .iter()
                .map(|server| {
                    let ips: String = server
                        .ips
                        .iter()
                        .enumerate()
                        .map(|(index, ip)| format!("<ServerIp{index}>{ip}</ServerIp{index}>"))
                        .collect();
                    format!(
                        "<Server><ServerId>{}</ServerId><ServerName>{}</ServerName>{ips}</Server>",
                        server.id, server.name
                    )
                })
                .collect();
            success(
                &command,
                "ResponseCode",
                &format!("<ServerListContent>{servers}</ServerListContent>"),
            )
        }
        "add_ns" | "register_ns" => {
            let name = host(&get("host"));
            let ip = get("ip");
            let id = {
                let mut data = mock.data.lock().expect("not poisoned");
                if data.servers.iter().any(|s| s.name == name) {
                    return failure(&command, &format!("{name} already exists"));
                }
                if command == "register_ns" {
                    let parent_owned = data.domains.keys().any(|d| name.ends_with(&format!(".{d}")));
                    if !parent_owned || ip.parse::<std::net::IpAddr>().is_err() {
                        return failure(
                            &command,
                            "host must be under a domain in your account and have a valid ip",
                        );
                    }
                }
                let id = data.servers.iter().map(|s| s.id + 1).max().unwrap_or(0);
                let ips = if ip.is_empty() { Vec::new() } else { vec![ip] };
                data.servers.push(Server {
                    id,
                    name: name.clone(),
                    ips,
                });
                id
            };
            mock.control.changed().await;
            let content = camel(&command);
            success(
                &command,
                "SuccessCode",
                &format!("<{content}Content><Host>{name}</Host><ServerId>{id}</ServerId></{content}Content>"),
            )
        }
        "set_ns_ip" => {
            let ips: Vec<String> = (0..10)
                .map(|i| get(&format!("ip{i}")))
                .filter(|ip| !ip.is_empty())
                .collect();
            {
                let mut data = mock.data.lock().expect("not poisoned");
                let Some(server) = data.servers.iter_mut().find(|s| s.id.to_string() == get("server_id")) else {
                    return failure(&command, "could not find the name server");
                };
                server.ips = ips;
            }
            mock.control.changed().await;
            success(&command, "SuccessCode", "")
        }
        "get_dnssec" => {
            let data = mock.data.lock().expect("not poisoned");
            let content = data
                .ds
                .get(&domain)
                .map(|(tag, alg, dtype, digest)| {
                    format!(
                        "<DsRecord><KeyTag>{tag}</KeyTag><Algorithm>{alg}</Algorithm><DigestType>{dtype}</DigestType><Digest>{digest}</Digest></DsRecord>"
                    )
                })
                .unwrap_or_default();
            success(&command, "ResponseCode", &format!("<DnssecInfo>{content}</DnssecInfo>"))
        }
        "set_dnssec" => {
            let fields = [get("key_tag"), get("algorithm"), get("digest_type"), get("digest")];
            if fields.iter().any(String::is_empty) {
                return failure(&command, "key_tag, algorithm, digest_type and digest are required");
            }
            let [tag, alg, dtype, digest] = fields;
            mock.data
                .lock()
                .expect("not poisoned")
                .ds
                .insert(domain, (tag, alg, dtype, digest));
            mock.control.changed().await;
            success(&command, "ResponseCode", "")
        }
        "clear_dnssec" => {
            mock.data.lock().expect("not poisoned").ds.remove(&domain);
            mock.control.changed().await;
            success(&command, "ResponseCode", "")
        }
        _ => generic_failure("unknown command"),
    }
}
