//! Configuration: a TOML file, then environment overrides, validated once.
//!
//! Without a file the embedded defaults apply, which serve the example
//! zones on 127.0.0.1:5300 from `data/pooldns.db`. Unknown keys are an
//! error that names the key: a typo must not silently fall back to a
//! default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// The whole configuration.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub dns: DnsConfig,
    pub api: ApiConfig,
    pub store: StoreConfig,
    pub zones: ZonesConfig,
    pub dnssec: DnssecConfig,
    pub pool: PoolConfig,
    pub lua: LuaConfig,
    pub health: HealthConfig,
    pub geoip: GeoipConfig,
    pub registrars: std::collections::BTreeMap<String, RegistrarConfig>,
    /// `[[tsig]]`: keys that sign UPDATE messages.
    pub tsig: Vec<TsigConfig>,
    pub update: UpdateConfig,
    pub transfer: TransferConfig,
    pub catalog: CatalogConfig,
    pub secondary: SecondaryConfig,
}

/// `[secondary]`: zones kept by zone transfer from other primaries.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecondaryConfig {
    /// `[[secondary.catalogs]]`: catalog zones (RFC 9432) of primaries;
    /// every member becomes a secondary zone of the same primaries.
    pub catalogs: Vec<CatalogSource>,
}

/// A primary's catalog zone, and where to transfer it and its members.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogSource {
    pub zone: String,
    /// "address" or "address:port" (port 53 by default).
    pub primaries: Vec<String>,
    /// A TSIG key (`[[tsig]]` or `pooldns tsig add`) that signs transfers.
    pub tsig_key: Option<String>,
}

/// `[catalog]`: a catalog zone (RFC 9432) listing every zone served.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CatalogConfig {
    /// The catalog zone's name ("catalog.invalid"); none: no catalog.
    pub zone: Option<String>,
}

/// `[transfer]`: zone transfers out (AXFR, IXFR) and NOTIFY.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TransferConfig {
    /// Networks that may transfer every zone without TSIG ("192.0.2.0/24",
    /// "2001:db8::1"); zones add their own with ALLOW-AXFR-FROM metadata.
    pub allow: Vec<String>,
    /// TSIG keys that may transfer every zone; zones add their own with
    /// `master_tsig_key_ids` (TSIG-ALLOW-AXFR).
    pub tsig_keys: Vec<String>,
    /// Secondaries told of every change of every zone (RFC 1996); zones
    /// add their own with ALSO-NOTIFY metadata.
    pub notify: Vec<SocketAddr>,
}

/// `[[tsig]]`: one TSIG key (RFC 8945).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TsigConfig {
    pub name: String,
    /// `hmac-sha256`, `hmac-sha512`, or `hmac-sha1` for old clients.
    pub algorithm: String,
    /// The secret, base64 (prefer `secret_file`).
    pub secret: Option<Secret>,
    /// A file holding the base64 secret.
    pub secret_file: Option<PathBuf>,
}

/// `[update]`: RFC 2136 UPDATE.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpdateConfig {
    /// What each key may change; no grant, no change.
    pub grants: Vec<GrantConfig>,
}

/// `[[update.grants]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantConfig {
    /// A key's name: of `[[tsig]]`, or made with `pooldns tsig add`.
    pub key: String,
    pub zone: String,
    /// Owner patterns relative to the zone: `@` the apex, `*` one or more
    /// labels (`_acme-challenge.*`); default: any name.
    #[serde(default = "any_name")]
    pub names: Vec<String>,
    /// Types; empty means any but SOA, apex NS and DNSSEC types.
    #[serde(default)]
    pub types: Vec<String>,
}

fn any_name() -> Vec<String> {
    vec!["@".into(), "*".into()]
}

/// `[lua]`: LUA records.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LuaConfig {
    /// Whether LUA records are answered; when off they are ignored as if
    /// absent (they are still stored and exported).
    pub enabled: bool,
    /// Lua VM instructions one evaluation of a scripted record may run
    /// (PowerDNS's lua-records-exec-limit); 0 = no limit. Records that are
    /// one call with literal arguments run natively and are not counted.
    pub exec_limit: u32,
    /// Megabytes the Lua state of one worker thread may hold.
    pub memory_limit_mb: usize,
}

impl Default for LuaConfig {
    fn default() -> Self {
        LuaConfig {
            enabled: true,
            exec_limit: 1000,
            memory_limit_mb: 16,
        }
    }
}

/// `[health]`: defaults of the health checks behind ifportup, ifurlup and
/// ifurlextup; a record's `interval` and `timeout` options override them.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthConfig {
    /// Seconds between two probes of a check (PowerDNS's
    /// lua-health-checks-interval).
    pub interval: u64,
    /// Seconds one probe may take, connection and transfer together.
    pub timeout: u64,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            interval: 5,
            timeout: 2,
        }
    }
}

/// `[geoip]`: databases for pickclosest, country() and the other
/// geographic LUA functions.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GeoipConfig {
    /// MaxMind DB files (GeoLite2/GeoIP2 City, Country, ASN), tried in
    /// order; per attribute the first file with a value wins.
    pub mmdb: Vec<PathBuf>,
}

/// `[dnssec]`: signing and key rollovers.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DnssecConfig {
    /// A file holding the secret that encrypts private keys at rest: 32
    /// random octets, base64 or hex (`head -c 32 /dev/urandom | base64`).
    /// Without it, private keys are stored unencrypted.
    pub key_encryption_key_file: Option<PathBuf>,
    /// Seconds a change takes to reach every server of the zone
    /// (RFC 7583 Dprp); added to each rollover wait.
    pub propagation_delay: u64,
    /// Resolver that finds the servers of a parent zone not served here,
    /// whose DS set KSK and CSK rollovers wait for; default: the first
    /// nameserver of /etc/resolv.conf. The DS set itself is asked of each
    /// of the parent's servers, never of the resolver.
    pub parent_resolver: Option<SocketAddr>,
    /// The port the parent's servers are asked on.
    pub parent_port: u16,
    /// Where signatures are kept across restarts; default: `signatures`
    /// beside a SQLite store, none with PostgreSQL (each node signs on
    /// start).
    pub signature_cache_dir: Option<PathBuf>,
}

impl Default for DnssecConfig {
    fn default() -> Self {
        DnssecConfig {
            key_encryption_key_file: None,
            propagation_delay: 300,
            parent_resolver: None,
            parent_port: 53,
            signature_cache_dir: None,
        }
    }
}

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
    /// Concurrent TCP connections; more wait in the accept backlog.
    pub tcp_max_connections: usize,
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
}

/// A secret from the configuration: never printed.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

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

/// `[pool]`: the pool domains whose subdomains the pool API allocates,
/// and the name servers they are delegated to.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PoolConfig {
    /// The managed pool domains (`omani.works`); `<sub>.<domain>` is
    /// allocated below each.
    pub domains: Vec<String>,
    /// The pooldns name servers: the NS set of every allocated zone, and
    /// the only name servers set-ns accepts unless the caller's key allows
    /// any.
    pub nameservers: Vec<String>,
    /// Labels that are never allocated (PDM's 21 by default).
    pub reserved: Vec<String>,
    /// Names a commit points at the Sovereign: `@` is the zone's apex,
    /// `*` its wildcard, others are labels below it.
    pub records: Vec<String>,
    /// Seconds a reservation holds before it lapses, unless renewed.
    pub reservation_ttl: u64,
    /// TTL of the committed records.
    pub record_ttl: u32,
    /// Whether allocated zones are signed (one ECDSA P-256 CSK, NSEC).
    pub dnssec: bool,
    /// Seconds between reconciler runs.
    pub reconcile_interval: u64,
    /// How each pool domain's delegations are made; without an entry, in
    /// the pool domain's zone served here.
    pub delegation: std::collections::BTreeMap<String, PoolDelegation>,
    /// Seconds the registrar keeps a domain's old DS records beside ours
    /// after set-ns moved it here: the parent's NS TTL (two days at most
    /// TLDs), during which resolvers may still follow the old servers.
    pub ds_retire_delay: u64,
}

/// PDM's reserved labels.
pub const DEFAULT_RESERVED: [&str; 21] = [
    "admin", "api", "app", "catalyst", "console", "docs", "flux", "gitea", "harbor", "imap", "k8s", "keycloak", "mail",
    "openbao", "openova", "smtp", "status", "system", "vault", "vpn", "www",
];

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            domains: Vec::new(),
            nameservers: Vec::new(),
            reserved: DEFAULT_RESERVED.iter().map(|label| label.to_string()).collect(),
            records: ["@", "*", "console", "api", "gitea", "harbor"]
                .iter()
                .map(|name| name.to_string())
                .collect(),
            reservation_ttl: 600,
            record_ttl: 300,
            dnssec: true,
            reconcile_interval: 30,
            delegation: std::collections::BTreeMap::new(),
            ds_retire_delay: 172_800,
        }
    }
}

/// `[pool.delegation."<pool domain>"]`: a pool domain whose zone is hosted
/// elsewhere, where each allocation's NS and DS records are written
/// through the provider's API.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolDelegation {
    /// The provider hosting the pool domain's zone; `cloudflare` is the one
    /// whose API writes NS and DS records below a zone.
    pub registrar: String,
    /// A file holding the provider credential, in the same form as the
    /// registrar routes' `token`.
    pub credential_file: PathBuf,
}

/// `[registrars.<name>]`: settings of one registrar adapter.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistrarConfig {
    /// The API's base URL, for sandboxes and tests.
    pub base_url: Option<String>,
}

/// `[store]`: where zones live.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// `sqlite://PATH` (relative to the working directory) or `postgres://...`.
    pub url: String,
    /// Milliseconds between checks for changed zones.
    pub poll_interval_ms: u64,
}

/// `[zones]`: zones imported on first start.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ZonesConfig {
    /// Every `*.zone` file here is imported when the store has no zone.
    pub directory: PathBuf,
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            listen: vec![SocketAddr::from(([127, 0, 0, 1], 5300))],
            udp_workers: 0,
            max_udp_payload: 1232,
            tcp_idle_timeout: 10,
            tcp_max_connections: 1024,
            ecs: false,
            resolver: None,
            identity: None,
            version: None,
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
        }
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            url: "sqlite://data/pooldns.db".into(),
            poll_interval_ms: 250,
        }
    }
}

impl Default for ZonesConfig {
    fn default() -> Self {
        ZonesConfig {
            directory: PathBuf::from("zones"),
        }
    }
}

/// Why the configuration is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("config file {path}: {message}")]
    Parse { path: String, message: String },
    #[error("environment variable {name}: {message}")]
    Env { name: &'static str, message: String },
    #[error("{0}")]
    Invalid(String),
}

impl Config {
    /// Loads `path` (or `POOLDNS_CONFIG`, or nothing) and applies the
    /// environment overrides.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let env_path = std::env::var_os("POOLDNS_CONFIG").map(PathBuf::from);
        let mut config = match path.map(Path::to_path_buf).or(env_path) {
            Some(path) => Config::from_file(&path)?,
            None => Config::default(),
        };
        config.apply_env(|name| std::env::var(name).ok())?;
        config.validate()?;
        Ok(config)
    }

    /// Parses one file, without environment overrides.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: shown.clone(),
            source,
        })?;
        Config::from_toml(&text).map_err(|message| ConfigError::Parse { path: shown, message })
    }

    /// Parses TOML text.
    pub fn from_toml(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|error| error.to_string().trim_end().to_string())
    }

    /// Applies `POOLDNS_*` overrides read through `get`.
    fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        if let Some(value) = get("POOLDNS_DNS_LISTEN") {
            self.dns.listen = value
                .split(',')
                .map(|addr| addr.trim().parse::<SocketAddr>())
                .collect::<Result<_, _>>()
                .map_err(|error| ConfigError::Env {
                    name: "POOLDNS_DNS_LISTEN",
                    message: error.to_string(),
                })?;
        }
        if let Some(value) = get("POOLDNS_API_LISTEN") {
            self.api.listen = value
                .trim()
                .parse()
                .map_err(|error: std::net::AddrParseError| ConfigError::Env {
                    name: "POOLDNS_API_LISTEN",
                    message: error.to_string(),
                })?;
        }
        if let Some(value) = get("POOLDNS_STORE_URL") {
            self.store.url = value;
        }
        if let Some(value) = get("POOLDNS_API_KEY") {
            self.api.api_key = Some(Secret(value));
        }
        Ok(())
    }

    /// Checks values that parse but cannot work.
    fn validate(&self) -> Result<(), ConfigError> {
        if self.dns.listen.is_empty() {
            return Err(ConfigError::Invalid(
                "[dns] listen is empty: nothing would answer queries".into(),
            ));
        }
        if self.dns.max_udp_payload < 512 {
            return Err(ConfigError::Invalid(format!(
                "[dns] max_udp_payload = {} is below 512, the minimum every client accepts (RFC 1035 §4.2.1)",
                self.dns.max_udp_payload
            )));
        }
        if self.dns.tcp_idle_timeout == 0 {
            return Err(ConfigError::Invalid(
                "[dns] tcp_idle_timeout must be at least 1 second".into(),
            ));
        }
        if self.api.api_key.is_some() && self.api.api_key_file.is_some() {
            return Err(ConfigError::Invalid(
                "[api] set api_key or api_key_file, not both".into(),
            ));
        }
        for key in &self.api.keys {
            if key.key.is_some() == key.key_file.is_some() {
                return Err(ConfigError::Invalid(format!(
                    "[[api.keys]] {}: set exactly one of key and key_file",
                    key.name
                )));
            }
        }
        for name in self.registrars.keys() {
            if name.parse::<registrars::ProviderKind>().is_err() {
                return Err(ConfigError::Invalid(format!(
                    "[registrars.{name}]: unknown registrar (supported: cloudflare, dynadot, godaddy, namecheap, ovh)"
                )));
            }
        }
        if self.health.interval == 0 || self.health.timeout == 0 {
            return Err(ConfigError::Invalid(
                "[health] interval and timeout must be at least 1 second".into(),
            ));
        }
        self.validate_pool()?;
        self.validate_transfer()?;
        for key in &self.tsig {
            if key.secret.is_some() == key.secret_file.is_some() {
                return Err(ConfigError::Invalid(format!(
                    "[[tsig]] {}: set exactly one of secret and secret_file",
                    key.name
                )));
            }
        }
        if self.store.poll_interval_ms == 0 {
            return Err(ConfigError::Invalid(
                "[store] poll_interval_ms must be at least 1".into(),
            ));
        }
        Ok(())
    }

    /// `[transfer]` and `[catalog]`: what `serve` would refuse to start
    /// with, refused by `check-config` too.
    fn validate_transfer(&self) -> Result<(), ConfigError> {
        for network in &self.transfer.allow {
            if network.parse::<base::netmask::Netmask>().is_err() {
                return Err(ConfigError::Invalid(format!(
                    "[transfer] allow: {network:?} is not an address or a network (192.0.2.0/24, 2001:db8::53)"
                )));
            }
        }
        for source in &self.secondary.catalogs {
            if source.primaries.is_empty() {
                return Err(ConfigError::Invalid(format!(
                    "[[secondary.catalogs]] {}: primaries is empty",
                    source.zone
                )));
            }
            if let Some(primary) = source
                .primaries
                .iter()
                .find(|primary| server_address(primary).is_none())
            {
                return Err(ConfigError::Invalid(format!(
                    "[[secondary.catalogs]] {}: primary {primary:?} is not an address (192.0.2.1 or 192.0.2.1:53)",
                    source.zone
                )));
            }
        }
        let names = self
            .transfer
            .tsig_keys
            .iter()
            .map(|key| ("[transfer] tsig_keys", key))
            .chain(self.catalog.zone.iter().map(|zone| ("[catalog] zone", zone)))
            .chain(self.secondary.catalogs.iter().flat_map(|source| {
                std::iter::once(("[[secondary.catalogs]] zone", &source.zone)).chain(
                    source
                        .tsig_key
                        .iter()
                        .map(|key| ("[[secondary.catalogs]] tsig_key", key)),
                )
            }));
        for (key, name) in names {
            let absolute = if name.ends_with('.') {
                name.clone()
            } else {
                format!("{name}.")
            };
            if let Err(error) = base::name::Name::parse(&absolute, None) {
                return Err(ConfigError::Invalid(format!(
                    "{key}: {name:?} is not a domain name: {error}"
                )));
            }
        }
        Ok(())
    }

    fn validate_pool(&self) -> Result<(), ConfigError> {
        let pool = &self.pool;
        if !pool.domains.is_empty() && pool.nameservers.is_empty() {
            return Err(ConfigError::Invalid(
                "[pool] domains are set but nameservers is empty: allocated zones need NS records".into(),
            ));
        }
        if pool.reservation_ttl == 0 || pool.reconcile_interval == 0 {
            return Err(ConfigError::Invalid(
                "[pool] reservation_ttl and reconcile_interval must be at least 1 second".into(),
            ));
        }
        for name in &pool.records {
            let valid = name == "@"
                || name == "*"
                || (!name.is_empty() && name.split('.').all(|label| !label.is_empty() && label.len() <= 63));
            if !valid {
                return Err(ConfigError::Invalid(format!("[pool] records: {name:?} is not a name")));
            }
        }
        for (domain, delegation) in &pool.delegation {
            let normalized = domain.trim_end_matches('.').to_ascii_lowercase();
            if !pool
                .domains
                .iter()
                .any(|pool_domain| pool_domain.trim_end_matches('.').eq_ignore_ascii_case(&normalized))
            {
                return Err(ConfigError::Invalid(format!(
                    "[pool.delegation.\"{domain}\"]: {domain} is not in [pool] domains"
                )));
            }
            if delegation.registrar != "cloudflare" {
                return Err(ConfigError::Invalid(format!(
                    "[pool.delegation.\"{domain}\"]: registrar {:?} cannot hold records below a zone; use cloudflare, \
                     or serve {domain} here",
                    delegation.registrar
                )));
            }
        }
        Ok(())
    }

    /// The API keys: the operator's key (allowed any name servers) and
    /// every `[[api.keys]]` entry, read from their files.
    pub fn api_keys(&self) -> Result<Vec<ConfiguredKey>, ConfigError> {
        let read = |path: &Path| {
            std::fs::read_to_string(path)
                .map(|text| Secret(text.trim().to_string()))
                .map_err(|source| ConfigError::Read {
                    path: path.display().to_string(),
                    source,
                })
        };
        let mut keys = Vec::new();
        let operator = match (&self.api.api_key, &self.api.api_key_file) {
            (Some(key), _) => Some(key.clone()),
            (None, Some(path)) => Some(read(path)?),
            (None, None) => None,
        };
        if let Some(secret) = operator {
            keys.push(ConfiguredKey {
                name: "operator".into(),
                secret,
                any_nameservers: true,
                read_only: false,
                zones: Vec::new(),
            });
        }
        for entry in &self.api.keys {
            let secret = match (&entry.key, &entry.key_file) {
                (Some(key), _) => key.clone(),
                (None, Some(path)) => read(path)?,
                (None, None) => continue,
            };
            keys.push(ConfiguredKey {
                name: entry.name.clone(),
                secret,
                any_nameservers: entry.any_nameservers,
                read_only: entry.read_only,
                zones: entry.zones.clone(),
            });
        }
        if keys.iter().any(|key| key.secret.expose().is_empty()) {
            return Err(ConfigError::Invalid("an API key is empty".into()));
        }
        Ok(keys)
    }

    /// The default health check interval as a duration.
    pub fn health_check_interval(&self) -> Duration {
        Duration::from_secs(self.health.interval)
    }

    /// The default health check timeout as a duration.
    pub fn health_check_timeout(&self) -> Duration {
        Duration::from_secs(self.health.timeout)
    }

    /// `[dns] identity`, or the host name when it is not set.
    pub fn identity(&self) -> String {
        match &self.dns.identity {
            Some(identity) => identity.clone(),
            None => std::fs::read_to_string("/proc/sys/kernel/hostname")
                .or_else(|_| std::fs::read_to_string("/etc/hostname"))
                .map(|name| name.trim().to_string())
                .unwrap_or_default(),
        }
    }

    /// `[dnssec] signature_cache_dir`, or `signatures` beside a SQLite
    /// store.
    pub fn signature_cache_dir(&self) -> Option<PathBuf> {
        self.dnssec.signature_cache_dir.clone().or_else(|| {
            let path = self.store.url.strip_prefix("sqlite://")?;
            let file = Path::new(path.split_once('?').map_or(path, |(file, _)| file));
            Some(file.parent().unwrap_or(Path::new("")).join("signatures"))
        })
    }

    /// The TCP idle timeout as a duration.
    pub fn tcp_idle_timeout(&self) -> Duration {
        Duration::from_secs(self.dns.tcp_idle_timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_contract() {
        let config = Config::default();
        assert_eq!(config.dns.listen, vec!["127.0.0.1:5300".parse().expect("address")]);
        assert_eq!(config.api.listen, "127.0.0.1:8081".parse().expect("address"));
        assert_eq!(config.store.url, "sqlite://data/pooldns.db");
        assert_eq!(config.signature_cache_dir(), Some(PathBuf::from("data/signatures")));
        assert_eq!(config.health_check_interval(), Duration::from_secs(5));
    }

    #[test]
    fn health_check_defaults_are_read_and_checked() {
        let config = Config::from_toml("[health]\ninterval = 30\ntimeout = 4\n").expect("valid");
        assert_eq!(config.health_check_interval(), Duration::from_secs(30));
        assert_eq!(config.health_check_timeout(), Duration::from_secs(4));
        let config = Config::from_toml("[health]\ninterval = 0\n").expect("parses");
        assert!(matches!(config.validate(), Err(ConfigError::Invalid(_))));
    }

    #[test]
    fn unknown_keys_are_named() {
        let error = Config::from_toml("[dns]\nlisten = [\"127.0.0.1:53\"]\nlissen = 1\n").expect_err("unknown key");
        assert!(error.contains("lissen"), "{error}");
        let error = Config::from_toml("[dnz]\n").expect_err("unknown section");
        assert!(error.contains("dnz"), "{error}");
    }

    #[test]
    fn environment_overrides_the_file() {
        let mut config = Config::from_toml("[store]\nurl = \"sqlite://x.db\"\n").expect("valid");
        config
            .apply_env(|name| match name {
                "POOLDNS_DNS_LISTEN" => Some("127.0.0.1:53, [::1]:53".into()),
                "POOLDNS_STORE_URL" => Some("postgres://db/x".into()),
                _ => None,
            })
            .expect("valid overrides");
        assert_eq!(config.dns.listen.len(), 2);
        assert_eq!(config.store.url, "postgres://db/x");
        let bad = config.apply_env(|name| (name == "POOLDNS_API_LISTEN").then(|| "nowhere".into()));
        assert!(matches!(
            bad,
            Err(ConfigError::Env {
                name: "POOLDNS_API_LISTEN",
                ..
            })
        ));
    }
}
