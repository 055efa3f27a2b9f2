//! `[pool]` and `[registrars]`: pool domains, their delegations, and the
//! registrar adapters' settings.

use std::path::PathBuf;

use serde::Deserialize;

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
