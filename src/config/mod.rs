//! Configuration: a TOML file, then environment overrides, validated once.
//! The sections are defined by what they configure: `listeners` (`[dns]`,
//! `[api]`), `store` (`[store]`, `[zones]`), `answers` (`[lua]`,
//! `[health]`, `[geoip]`, `[dnssec]`), `transfer` (`[[tsig]]`, `[update]`,
//! `[transfer]`, `[catalog]`, `[secondary]`) and `pool` (`[pool]`,
//! `[registrars]`); loading and the checks across sections are here.
//!
//! Without a file the embedded defaults apply, which serve the example
//! zones on 127.0.0.1:5300 from `data/pooldns.db`. Unknown keys are an
//! error that names the key: a typo must not silently fall back to a
//! default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

mod answers;
mod listeners;
mod pool;
mod store;
mod transfer;

pub use answers::{DnssecConfig, GeoipConfig, HealthConfig, LuaConfig};
pub use listeners::{
    server_address, ApiConfig, ApiKeyConfig, ConfiguredKey, DnsConfig, RrlConfig, Secret, FAILED_KEYS_PER_MINUTE,
};
pub use pool::{PoolConfig, PoolDelegation, RegistrarConfig};
pub use store::{StoreConfig, ZonesConfig};
pub use transfer::{
    CatalogConfig, CatalogSource, GrantConfig, SecondaryConfig, TransferConfig, TsigConfig, UpdateConfig,
};

/// The whole configuration.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub dns: DnsConfig,
    pub rrl: RrlConfig,
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
    pub log: LogConfig,
}

/// `[log]`: how log lines are written (to standard error; `POOLDNS_LOG`
/// filters them).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub format: LogFormat,
}

/// `text` for people, `json` (one object a line) for log pipelines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
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

    /// The secret of `[dns] cookie_secret_file`, when one is set.
    pub fn cookie_secret(&self) -> Result<Option<[u8; 16]>, ConfigError> {
        let Some(path) = &self.dns.cookie_secret_file else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        data_encoding::HEXLOWER_PERMISSIVE
            .decode(text.trim().as_bytes())
            .ok()
            .and_then(|bytes| <[u8; 16]>::try_from(bytes).ok())
            .map(Some)
            .ok_or_else(|| {
                ConfigError::Invalid(format!(
                    "[dns] cookie_secret_file {}: it must hold 32 hexadecimal digits (16 bytes), \
                     such as `openssl rand -hex 16` prints",
                    path.display()
                ))
            })
    }

    /// Checks values that parse but cannot work.
    fn validate(&self) -> Result<(), ConfigError> {
        self.cookie_secret()?;
        if self.api.tls_cert_file.is_some() != self.api.tls_key_file.is_some() {
            return Err(ConfigError::Invalid(
                "[api] tls_cert_file and tls_key_file go together: set both to serve the API over TLS, or neither"
                    .into(),
            ));
        }
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
        for (name, value) in [
            ("tcp_max_connections", self.dns.tcp_max_connections),
            (
                "tcp_max_connections_per_source",
                self.dns.tcp_max_connections_per_source,
            ),
            ("tcp_max_queries", self.dns.tcp_max_queries),
            ("tcp_max_connection_time", self.dns.tcp_max_connection_time as usize),
        ] {
            if value == 0 {
                return Err(ConfigError::Invalid(format!("[dns] {name} must be at least 1")));
            }
        }
        if self.dns.tcp_idle_timeout == 0 {
            return Err(ConfigError::Invalid(
                "[dns] tcp_idle_timeout must be at least 1 second".into(),
            ));
        }
        for network in &self.rrl.exempt {
            if network.parse::<base::netmask::Netmask>().is_err() {
                return Err(ConfigError::Invalid(format!(
                    "[rrl] exempt: {network:?} is not an address or a network (10.0.0.0/8, 2001:db8::/32)"
                )));
            }
        }
        if self.rrl.slip > 10 {
            return Err(ConfigError::Invalid(format!(
                "[rrl] slip = {} is above 10: send every 1st to 10th limited response truncated, or 0 for none",
                self.rrl.slip
            )));
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
                requests_per_second: self.api.requests_per_second,
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
                requests_per_second: entry.requests_per_second.unwrap_or(self.api.requests_per_second),
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
