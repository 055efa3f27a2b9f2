//! A mock of Namecheap's XML API: one `xml.response` endpoint dispatching on `Command`.
//!
//! Checks `ApiUser`/`ApiKey`/`UserName`/`ClientIp` and a whitelist that must hold both the
//! `ClientIp` parameter and the connection's real source address; answers with the
//! `ApiResponse` envelope (HTTP 200, `Status="ERROR"` and numbered errors on failure);
//! throttles with HTTP 405; keeps registry host objects for `domains.ns.*` and refuses an
//! `IP` longer than 15 characters.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::{host, serve, Control, SharedControl};

/// The API user.
pub const USER: &str = "nc-user";
/// The API key.
pub const KEY: &str = "nc0123456789abcdef0123456789abcd";
/// A well-formed key Namecheap does not know.
pub const BAD_KEY: &str = "ncffffffffffffffffffffffffffffff";
/// The whitelisted client address.
pub const CLIENT_IP: &str = "198.51.100.7";

/// A domain in the mock's registry.
#[derive(Clone, Debug)]
struct Domain {
    /// Owning user.
    owner: String,
    /// NS set.
    nameservers: Vec<String>,
}

/// The mock's state.
#[derive(Debug, Default)]
struct Data {
    /// Domains by name.
    domains: HashMap<String, Domain>,
    /// Registry host objects: host name to address.
    hosts: HashMap<String, String>,
    /// Raw query strings received, to check no key travels in a URL.
    queries: Vec<String>,
}

/// The Namecheap mock.
#[derive(Clone, Debug)]
pub struct NamecheapMock {
    /// Knobs and observations.
    pub control: SharedControl,
    /// State.
    data: Arc<Mutex<Data>>,
    /// The endpoint URL.
    pub base_url: String,
}

impl NamecheapMock {
    /// Starts a mock where `nc-user` owns `example.com` (NS `ns1/ns2.old-host.net`) and
    /// another user owns `someone-else.com`.
    pub async fn start() -> Self {
        let mut data = Data::default();
        let old = vec!["ns1.old-host.net".to_owned(), "ns2.old-host.net".to_owned()];
        data.domains.insert(
            "example.com".into(),
            Domain {
                owner: USER.into(),
                nameservers: old.clone(),
            },
        );
        data.domains.insert(
            "someone-else.com".into(),
            Domain {
                owner: "other-user".into(),
                nameservers: old,
            },
        );
        let mock = Self {
            control: Arc::new(Control::default()),
            data: Arc::new(Mutex::new(data)),
            base_url: String::new(),
        };
        let router = Router::new()
            .route("/xml.response", get(endpoint).post(endpoint))
            .with_state(mock.clone());
        let address = serve(router).await;
        Self {
            base_url: format!("http://{address}/xml.response"),
            ..mock
        }
    }

    /// Returns the NS set of `domain`, sorted.
    pub fn nameservers(&self, domain: &str) -> Vec<String> {
        let state = self.data.lock().expect("not poisoned");
        let mut names = state
            .domains
            .get(domain)
            .map(|d| d.nameservers.clone())
            .unwrap_or_default();
        names.sort();
        names
    }

    /// Returns the address of a registry host object.
    pub fn host_address(&self, name: &str) -> Option<String> {
        self.data.lock().expect("not poisoned").hosts.get(name).cloned()
    }

    /// Returns every raw query string received.
    pub fn queries(&self) -> Vec<String> {
        self.data.lock().expect("not poisoned").queries.clone()
    }
}

/// Wraps a command result in the success envelope.
fn ok(command: &str, result: &str) -> Response {
    xml(format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<ApiResponse Status="OK" xmlns="http://api.namecheap.com/xml.response">
  <Errors /><Warnings /><RequestedCommand>{command}</RequestedCommand>
  <CommandResponse Type="{command}">{result}</CommandResponse>
  <Server>MOCK01</Server><GMTTimeDifference>--5:00</GMTTimeDifference><ExecutionTime>0.01</ExecutionTime>
</ApiResponse>"#
    ))
}

/// Builds the error envelope (still HTTP 200).
fn fail(number: &str, message: &str) -> Response {
    xml(format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<ApiResponse Status="ERROR" xmlns="http://api.namecheap.com/xml.response">
  <Errors><Error Number="{number}">{message}</Error></Errors>
  <Warnings /><RequestedCommand /><Server>MOCK01</Server><GMTTimeDifference>--5:00</GMTTimeDifference><ExecutionTime>0</ExecutionTime>
</ApiResponse>"#
    ))
}

/// An XML answer.
fn xml(body: String) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
        body,
    )
        .into_response()
}

/// The single endpoint: parameters come from the query string and/or the form body.
async fn endpoint(
    State(mock): State<NamecheapMock>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let mut params: HashMap<String, String> = HashMap::new();
    if let Some(query) = &query {
        mock.data.lock().expect("not poisoned").queries.push(query.clone());
        params.extend(serde_urlencoded::from_str::<Vec<(String, String)>>(query).unwrap_or_default());
    }
    params.extend(serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body).unwrap_or_default());
    let command = params.get("Command").cloned().unwrap_or_default();
    let mutating = matches!(
        command.as_str(),
        "namecheap.domains.dns.setCustom" | "namecheap.domains.ns.create" | "namecheap.domains.ns.update"
    );
    if mutating {
        mock.control.record(command.clone());
    }
    if mock.control.throttle() {
        return (StatusCode::METHOD_NOT_ALLOWED, "Too many requests").into_response();
    }
    let get = |name: &str| params.get(name).cloned().unwrap_or_default();
    if get("ApiUser").is_empty() {
        return fail("1010101", "Parameter APIUser is missing");
    }
    if get("ApiKey").is_empty() {
        return fail("1010102", "Parameter APIKey is missing");
    }
    if get("ApiUser") != USER || get("ApiKey") != KEY || get("UserName") != USER {
        return fail("1011102", "API Key is invalid or API access has not been enabled");
    }
    let whitelisted = [CLIENT_IP, "127.0.0.1"];
    if get("ClientIp").parse::<Ipv4Addr>().is_err() {
        return fail("1011105", "Parameter ClientIp is invalid");
    }
    if !whitelisted.contains(&get("ClientIp").as_str()) || !whitelisted.contains(&peer.ip().to_string().as_str()) {
        return fail("1011150", "Parameter RequestIP is invalid");
    }
    let domain = format!(
        "{}.{}",
        get("SLD").to_ascii_lowercase(),
        get("TLD").to_ascii_lowercase()
    );
    {
        let state = mock.data.lock().expect("not poisoned");
        match state.domains.get(&domain) {
            None if command.starts_with("namecheap.domains.") => {
                return fail("2019166", "Domain not found");
            }
            Some(found) if found.owner != USER => {
                return fail("2016166", "Domain is not associated with your account");
            }
            _ => {}
        }
    }
    match command.as_str() {
        "namecheap.domains.dns.getList" => {
            let state = mock.data.lock().expect("not poisoned");
            let list: String = state.domains[&domain]
                .nameservers
                .iter()
                .map(|ns| format!("<Nameserver>{ns}</Nameserver>"))
                .collect();
            ok(
                &command,
                &format!(
                    r#"<DomainDNSGetListResult Domain="{domain}" IsUsingOurDNS="false">{list}</DomainDNSGetListResult>"#
                ),
            )
        }
        "namecheap.domains.dns.setCustom" => {
            let list: Vec<String> = get("Nameservers")
                .split(',')
                .map(host)
                .filter(|n| !n.is_empty())
                .collect();
            if list.len() < 2 || list.len() > 12 || get("Nameservers").len() > 1200 {
                return fail("2011170", "Validation error: Nameservers must list 2 to 12 hosts");
            }
            {
                let mut state = mock.data.lock().expect("not poisoned");
                if let Some(missing) = list
                    .iter()
                    .find(|ns| ns.ends_with(&format!(".{domain}")) && !state.hosts.contains_key(*ns))
                {
                    return fail(
                        "3031510",
                        &format!("Error from Enom: nameserver {missing} is not registered"),
                    );
                }
                if let Some(entry) = state.domains.get_mut(&domain) {
                    entry.nameservers = list;
                }
            }
            mock.control.changed().await;
            ok(
                &command,
                &format!(r#"<DomainDNSSetCustomResult Domain="{domain}" Updated="true" />"#),
            )
        }
        "namecheap.domains.ns.getInfo" => {
            let name = host(&get("Nameserver"));
            let state = mock.data.lock().expect("not poisoned");
            match state.hosts.get(&name) {
                Some(ip) => ok(
                    &command,
                    &format!(
                        r#"<DomainNSInfoResult Domain="{domain}" Nameserver="{name}" IP="{ip}"><NameserverStatuses><Status>ok</Status></NameserverStatuses></DomainNSInfoResult>"#
                    ),
                ),
                None => fail("3031510", "Error from Enom: nameserver does not exist"),
            }
        }
        "namecheap.domains.ns.create" | "namecheap.domains.ns.update" => {
            let name = host(&get("Nameserver"));
            let ip = get("IP");
            if ip.len() > 15 || ip.parse::<Ipv4Addr>().is_err() {
                return fail("2011331", "Parameter IP is invalid");
            }
            if !name.ends_with(&format!(".{domain}")) {
                return fail("2011332", "Nameserver must be under the domain");
            }
            {
                let mut state = mock.data.lock().expect("not poisoned");
                let existing = state.hosts.get(&name).cloned();
                if command.ends_with("create") {
                    if existing.is_some() {
                        return fail("3031510", "Error from Enom: nameserver already exists");
                    }
                } else if existing.as_deref() != Some(get("OldIP").as_str()) {
                    return fail("3031510", "Error from Enom: OldIP does not match");
                }
                state.hosts.insert(name.clone(), ip);
            }
            mock.control.changed().await;
            let element = if command.ends_with("create") {
                "DomainNSCreateResult"
            } else {
                "DomainNSUpdateResult"
            };
            ok(
                &command,
                &format!(r#"<{element} Domain="{domain}" Nameserver="{name}" IsSuccess="true" />"#),
            )
        }
        _ => fail("3050900", "Unknown command"),
    }
}
