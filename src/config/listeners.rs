//! `[dns]`, `[rrl]` and `[api]`: the DNS listeners, their response rate
//! limiting, the HTTP API and its keys.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

/// `[dns]`: the DNS listeners.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DnsConfig {
    /// Addresses to answer on, UDP and TCP each.
    pub listen: Vec<SocketAddr>,
    /// UDP worker threads per address; 0 means one per CPU.
    pub udp_workers: usize,
    /// Largest UDP response, also advertised in OPT (RFC 6891 §6.2.5).
    /// 1232 avoids IP fragmentation on common paths (DNS Flag Day 2020).
    pub max_udp_payload: u16,
    /// Seconds a TCP connection may sit idle (RFC 7766 §6.2.3).
    pub tcp_idle_timeout: u64,
    /// Concurrent TCP connections per listening address. When they are
    /// all open, idle ones are closed to make room (RFC 7766 §6.2.3).
    pub tcp_max_connections: usize,
    /// Concurrent TCP connections from one address (IPv6: one /64).
    pub tcp_max_connections_per_source: usize,
    /// Queries answered on one TCP connection before it is closed.
    pub tcp_max_queries: usize,
    /// Seconds after which a TCP connection is closed, once its current
    /// message (a zone transfer included) is answered.
    pub tcp_max_connection_time: u64,
    /// Honour EDNS Client Subnet (RFC 7871): LUA records see the client's
    /// subnet, and answers carry the option back with its scope.
    pub ecs: bool,
    /// Recursive resolver that ALIAS targets are resolved through
    /// (`"192.0.2.53"` or `"192.0.2.53:5353"`). Without one, ALIAS names
    /// answer A and AAAA queries with no data, as PowerDNS does without
    /// `expand-alias`.
    #[serde(deserialize_with = "resolver_address")]
    pub resolver: Option<SocketAddr>,
    /// The node's identity, answered to NSID (RFC 5001) and CH TXT
    /// `id.server` / `hostname.bind`; default the host name, "" for none.
    pub identity: Option<String>,
    /// What CH TXT `version.server` / `version.bind` answer; default none
    /// (REFUSED).
    pub version: Option<String>,
    /// A file holding the secret of the server cookies (RFC 7873, RFC
    /// 9018) as 32 hexadecimal digits. Nodes behind one anycast address
    /// share it, so a cookie one gave is valid at the others; without it
    /// each process makes its own.
    pub cookie_secret_file: Option<PathBuf>,
}

/// A resolver address, the port defaulting to 53.
/// A DNS server's address as operators write it: `192.0.2.53`,
/// `192.0.2.53:5353` or `[2001:db8::53]:53`; the port defaults to 53.
pub fn server_address(text: &str) -> Option<SocketAddr> {
    text.parse::<SocketAddr>()
        .ok()
        .or_else(|| text.parse::<std::net::IpAddr>().ok().map(|ip| SocketAddr::new(ip, 53)))
}

fn resolver_address<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<SocketAddr>, D::Error> {
    let text = String::deserialize(deserializer)?;
    server_address(&text).map(Some).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "resolver {text:?} is not an address (192.0.2.53 or 192.0.2.53:53)"
        ))
    })
}

/// Wrong API keys one client address may present in a minute, by default:
/// guessing a key takes forever, and a client that made a mistake waits at
/// most a minute.
pub const FAILED_KEYS_PER_MINUTE: u32 = 20;

/// `[api]`: the HTTP listener and who may use it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    pub listen: SocketAddr,
    /// The operator's key, inline (prefer `api_key_file`). It may point
    /// domains at any name servers.
    pub api_key: Option<Secret>,
    /// A file holding the operator's key (surrounding whitespace ignored).
    pub api_key_file: Option<PathBuf>,
    /// Further keys, each with its own permissions.
    pub keys: Vec<ApiKeyConfig>,
    /// Requests a second each key may make; more get 429. 0: no limit.
    /// A key may set its own.
    pub requests_per_second: u32,
    /// Wrong keys one client address (an IPv6 /64) may present in a
    /// minute; past that, its requests get 429 until the minute ends.
    /// 0: no limit.
    pub failed_keys_per_minute: u32,
    /// Serve the API over TLS with this certificate chain (PEM)...
    pub tls_cert_file: Option<PathBuf>,
    /// ...and this private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub tls_key_file: Option<PathBuf>,
}

/// `[[api.keys]]`: one client's key.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    /// Shown in logs instead of the key.
    pub name: String,
    pub key: Option<Secret>,
    pub key_file: Option<PathBuf>,
    /// Whether this key may point domains at name servers other than
    /// `[pool] nameservers`.
    #[serde(default)]
    pub any_nameservers: bool,
    /// Whether this key may only read: every write route answers 403.
    #[serde(default)]
    pub read_only: bool,
    /// The zones (and the zones below them) this key may see and change
    /// through the PowerDNS API; empty means every zone.
    #[serde(default)]
    pub zones: Vec<String>,
    /// Requests a second this key may make; default `[api]
    /// requests_per_second`.
    pub requests_per_second: Option<u32>,
}

/// One API key as configured, its secret read from its file.
#[derive(Clone, Debug)]
pub struct ConfiguredKey {
    /// Shown in logs instead of the key.
    pub name: String,
    pub secret: Secret,
    /// Whether the key may point domains at any name servers.
    pub any_nameservers: bool,
    /// Whether the key may only read.
    pub read_only: bool,
    /// The zones (and the zones below them) the key may use; empty: all.
    pub zones: Vec<String>,
    /// Requests a second the key may make; 0: no limit.
    pub requests_per_second: u32,
}

/// A secret from the configuration: never printed.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub(super) String);

impl Secret {
    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// `[rrl]`: response rate limiting of UDP answers (see `server::rrl`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RrlConfig {
    /// Responses a second per client prefix (/24, /56) and kind of
    /// response; 0 turns rate limiting off.
    pub rate: u32,
    /// Every `slip`-th limited response goes out truncated, so that real
    /// resolvers retry over TCP; the others are dropped. 0: all dropped.
    pub slip: u32,
    /// Networks never limited ("10.0.0.0/8", "2001:db8::/32").
    pub exempt: Vec<String>,
    /// Count the responses that would be limited, limit none.
    pub log_only: bool,
}

impl Default for RrlConfig {
    fn default() -> Self {
        RrlConfig {
            rate: 0,
            slip: 2,
            exempt: Vec::new(),
            log_only: false,
        }
    }
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            listen: vec![SocketAddr::from(([127, 0, 0, 1], 5300))],
            udp_workers: 0,
            max_udp_payload: 1232,
            tcp_idle_timeout: 10,
            tcp_max_connections: 1024,
            tcp_max_connections_per_source: 64,
            tcp_max_queries: 1000,
            tcp_max_connection_time: 300,
            ecs: false,
            resolver: None,
            identity: None,
            version: None,
            cookie_secret_file: None,
        }
    }
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8081)),
            api_key: None,
            api_key_file: None,
            keys: Vec::new(),
            requests_per_second: 0,
            failed_keys_per_minute: FAILED_KEYS_PER_MINUTE,
            tls_cert_file: None,
            tls_key_file: None,
        }
    }
}
