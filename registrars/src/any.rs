//! Choosing a provider at run time: [`AnyProvider`] and the constructors the server uses.

use crate::cloudflare::Cloudflare;
use crate::credentials::wrong_credentials;
use crate::credentials::{Credentials, ProviderConfig};
use crate::ds::DsSpec;
use crate::dynadot::Dynadot;
use crate::error::Result;
use crate::godaddy::GoDaddy;
use crate::namecheap::Namecheap;
use crate::names::{DomainName, NameserverName};
use crate::ovh::Ovh;
use crate::provider::{Capabilities, DelegationProvider, ProviderKind};
use crate::types::{ChangeOutcome, Delegation, Glue, OperationId, Verification};

/// One of the five adapters, chosen at run time.
///
/// [`DelegationProvider`] returns `impl Future`, so it cannot be used as `dyn`; this enum
/// dispatches to the concrete adapter instead.
#[derive(Debug)]
pub enum AnyProvider {
    /// Cloudflare as the parent zone's host.
    Cloudflare(Cloudflare),
    /// Namecheap.
    Namecheap(Namecheap),
    /// GoDaddy.
    GoDaddy(GoDaddy),
    /// OVHcloud.
    Ovh(Ovh),
    /// Dynadot.
    Dynadot(Dynadot),
}

/// Builds the adapter for `kind` from `config`.
///
/// Fails with [`Error::InvalidRequest`] when the credentials are for another provider or
/// the base URL is not a URL; nothing is sent to the provider.
pub fn provider_from_config(kind: ProviderKind, config: &ProviderConfig) -> Result<AnyProvider> {
    if config.credentials.kind() != kind {
        return Err(wrong_credentials(kind, &config.credentials));
    }
    Ok(match kind {
        ProviderKind::Cloudflare => AnyProvider::Cloudflare(Cloudflare::new(config)?),
        ProviderKind::Namecheap => AnyProvider::Namecheap(Namecheap::new(config)?),
        ProviderKind::GoDaddy => AnyProvider::GoDaddy(GoDaddy::new(config)?),
        ProviderKind::Ovh => AnyProvider::Ovh(Ovh::new(config)?),
        ProviderKind::Dynadot => AnyProvider::Dynadot(Dynadot::new(config)?),
    })
}

/// Builds an adapter from a provider name and a pool-domain-manager style token.
///
/// `name` is matched without regard to case; an unknown name fails with
/// [`Error::UnknownProvider`], which lists the supported names. The token shapes are
/// described at [`Credentials::from_token`].
pub fn provider_from_token(name: &str, token: &str, base_url: Option<String>) -> Result<AnyProvider> {
    let kind: ProviderKind = name.parse()?;
    let mut config = ProviderConfig::new(Credentials::from_token(kind, token)?);
    config.base_url = base_url;
    provider_from_config(kind, &config)
}

/// Parses nameserver names given as text, failing on the first invalid one.
pub fn parse_nameservers<S: AsRef<str>>(names: &[S]) -> Result<Vec<NameserverName>> {
    names.iter().map(|name| NameserverName::new(name.as_ref())).collect()
}

/// Forwards a call to the adapter inside an [`AnyProvider`].
macro_rules! dispatch {
    ($self:ident, $provider:ident => $call:expr) => {
        match $self {
            AnyProvider::Cloudflare($provider) => $call,
            AnyProvider::Namecheap($provider) => $call,
            AnyProvider::GoDaddy($provider) => $call,
            AnyProvider::Ovh($provider) => $call,
            AnyProvider::Dynadot($provider) => $call,
        }
    };
}

impl DelegationProvider for AnyProvider {
    fn kind(&self) -> ProviderKind {
        dispatch!(self, provider => provider.kind())
    }

    fn capabilities(&self) -> Capabilities {
        dispatch!(self, provider => provider.capabilities())
    }

    async fn read(&self, domain: &DomainName) -> Result<Delegation> {
        dispatch!(self, provider => provider.read(domain).await)
    }

    async fn set_nameservers(&self, domain: &DomainName, wanted: &[NameserverName]) -> Result<ChangeOutcome> {
        dispatch!(self, provider => provider.set_nameservers(domain, wanted).await)
    }

    async fn ensure_glue(&self, domain: &DomainName, glue: &[Glue]) -> Result<ChangeOutcome> {
        dispatch!(self, provider => provider.ensure_glue(domain, glue).await)
    }

    async fn set_ds(&self, domain: &DomainName, wanted: &[DsSpec]) -> Result<ChangeOutcome> {
        dispatch!(self, provider => provider.set_ds(domain, wanted).await)
    }

    async fn poll(&self, domain: &DomainName, operation: &OperationId) -> Result<ChangeOutcome> {
        dispatch!(self, provider => provider.poll(domain, operation).await)
    }

    async fn verify(&self, domain: &DomainName, wanted: &Delegation) -> Result<Verification> {
        dispatch!(self, provider => provider.verify(domain, wanted).await)
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn unknown_provider_names_the_supported_ones() {
        let error = provider_from_token("route53", "token", None).expect_err("unknown");
        assert_eq!(error.code(), "unsupported-registrar");
        assert!(error
            .to_string()
            .contains("cloudflare, namecheap, godaddy, ovh, dynadot"));
    }

    #[test]
    fn constructors_check_their_input() {
        let error = provider_from_token("GoDaddy", "no-secret-part", None).expect_err("malformed");
        assert_eq!(error.code(), "invalid-token");
        let creds = Credentials::from_token(ProviderKind::Dynadot, "key").expect("valid");
        let error = provider_from_config(ProviderKind::Ovh, &ProviderConfig::new(creds.clone())).expect_err("mismatch");
        assert!(error.to_string().contains("for dynadot, not ovh"), "{error}");
        let config = ProviderConfig::new(creds).with_base_url("not a url");
        let error = provider_from_config(ProviderKind::Dynadot, &config).expect_err("bad URL");
        assert_eq!(error.code(), "invalid-request");
        let provider = provider_from_token("dynadot", "key", Some("sandbox".into())).expect("valid");
        assert_eq!(provider.kind(), ProviderKind::Dynadot);
    }

    #[test]
    fn nameserver_lists_parse() {
        assert_eq!(
            parse_nameservers(&["NS1.example.net.", "ns2.example.net"])
                .expect("valid")
                .len(),
            2
        );
        assert_eq!(
            parse_nameservers(&["ns1.example.net", ""]).expect_err("empty").code(),
            "invalid-request"
        );
        assert!(parse_nameservers(&["bad_name.example"]).is_err());
    }
}
