//! `[[tsig]]`, `[update]`, `[transfer]`, `[catalog]` and `[secondary]`: the
//! TSIG keys, and how zones are changed by UPDATE and exchanged with other
//! servers.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

use super::Secret;

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
