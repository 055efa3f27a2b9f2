//! `[store]` and `[zones]`: where zones live, and which are imported on
//! first start.

use std::path::PathBuf;

use serde::Deserialize;

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
