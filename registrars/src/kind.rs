//! The providers this crate has adapters for, by name.

use std::fmt;
use std::str::FromStr;

use crate::error::{shorten, Error, Result};

/// The providers this crate has adapters for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "&'static str")]
pub enum ProviderKind {
    /// Cloudflare DNS hosting the parent zone.
    Cloudflare,
    /// Namecheap registrar.
    Namecheap,
    /// GoDaddy registrar.
    GoDaddy,
    /// OVHcloud registrar.
    Ovh,
    /// Dynadot registrar.
    Dynadot,
}

impl ProviderKind {
    /// Every provider, in a stable order.
    pub const ALL: [Self; 5] = [
        Self::Cloudflare,
        Self::Namecheap,
        Self::GoDaddy,
        Self::Ovh,
        Self::Dynadot,
    ];

    /// Returns the lower-case name used in URLs and configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cloudflare => "cloudflare",
            Self::Namecheap => "namecheap",
            Self::GoDaddy => "godaddy",
            Self::Ovh => "ovh",
            Self::Dynadot => "dynadot",
        }
    }

    /// Returns a human hint for how long a nameserver change takes to be seen.
    pub fn propagation_hint(self) -> &'static str {
        match self {
            Self::Cloudflare => "minutes / up to 24h",
            Self::Namecheap => "1-2h / up to 48h",
            Self::GoDaddy => "1-4h / up to 48h",
            Self::Ovh => "async task queue, 1-4h",
            Self::Dynadot => "30-60 min",
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ProviderKind {
    type Err = Error;

    /// Parses a provider name, ignoring case and surrounding whitespace.
    fn from_str(input: &str) -> Result<Self> {
        let name = input.trim();
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str().eq_ignore_ascii_case(name))
            .ok_or_else(|| unknown_provider(name))
    }
}

impl TryFrom<String> for ProviderKind {
    type Error = Error;

    fn try_from(input: String) -> Result<Self> {
        input.parse()
    }
}

impl From<ProviderKind> for &'static str {
    fn from(kind: ProviderKind) -> &'static str {
        kind.as_str()
    }
}

/// The error for a provider name this crate does not know.
pub(crate) fn unknown_provider(name: &str) -> Error {
    let supported: Vec<&str> = ProviderKind::ALL.iter().map(|kind| kind.as_str()).collect();
    Error::UnknownProvider {
        name: shorten(name, 64),
        supported: supported.join(", "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_names_list_the_supported_ones() {
        assert_eq!(
            unknown_provider("Route53").to_string(),
            "unknown provider \"Route53\"; supported: cloudflare, namecheap, godaddy, ovh, dynadot"
        );
        let Error::UnknownProvider { name, .. } = unknown_provider(&"x".repeat(1000)) else {
            panic!("wrong variant");
        };
        assert_eq!(name.chars().count(), 65);
    }
}
