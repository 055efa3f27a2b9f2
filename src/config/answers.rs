//! `[lua]`, `[health]`, `[geoip]` and `[dnssec]`: what computed answers
//! run with, and how zones are signed.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

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
