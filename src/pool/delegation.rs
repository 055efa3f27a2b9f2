//! Delegations written through a provider's API, for pool domains whose
//! zone is hosted elsewhere: each allocation's NS records, then its DS
//! records, below the pool domain's zone at the provider.

use registrars::{
    provider_from_token, AnyProvider, ChangeOutcome, Cloudflare, DelegationProvider, Dnskey, DomainName, DsSpec,
    NameserverName,
};

use crate::config::PoolDelegation;
use crate::store::Store;

/// DS digest type SHA-256 (RFC 4509).
const SHA256_DIGEST: u8 = 2;

/// A provider holding a pool domain's zone.
#[derive(Clone)]
pub struct Registrar {
    name: String,
    /// The provider credential; never shown.
    token: String,
    base_url: Option<String>,
}

impl std::fmt::Debug for Registrar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registrar")
            .field("name", &self.name)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl Registrar {
    /// The provider of `[pool.delegation."<pool>"]`, its credential read
    /// from its file and checked for shape (nothing is sent yet).
    pub fn from_config(config: &PoolDelegation, base_url: Option<String>) -> Result<Registrar, String> {
        let token = std::fs::read_to_string(&config.credential_file)
            .map_err(|error| format!("cannot read {}: {error}", config.credential_file.display()))?
            .trim()
            .to_string();
        let registrar = Registrar {
            name: config.registrar.clone(),
            token,
            base_url,
        };
        registrar
            .cloudflare()
            .map_err(|error| format!("{}: {error}", config.credential_file.display()))?;
        Ok(registrar)
    }

    /// The provider's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn cloudflare(&self) -> Result<Cloudflare, registrars::Error> {
        match provider_from_token(&self.name, &self.token, self.base_url.clone())? {
            AnyProvider::Cloudflare(cloudflare) => Ok(cloudflare),
            _ => Err(registrars::Error::invalid(format!(
                "{} cannot hold records below a zone",
                self.name
            ))),
        }
    }

    /// Puts `child`'s NS records, then its DS records, into the pool
    /// domain's zone; a delegation already in place is left alone.
    pub async fn delegate(&self, child: &str, nameservers: &[String], ds: &[DsSpec]) -> Result<(), registrars::Error> {
        let provider = self.cloudflare()?;
        let domain = DomainName::new(child)?;
        let hosts: Vec<NameserverName> = nameservers
            .iter()
            .map(|host| NameserverName::new(host.trim_end_matches('.')))
            .collect::<Result<_, _>>()?;
        applied(provider.set_nameservers(&domain, &hosts).await?)?;
        applied(provider.set_ds(&domain, ds).await?)?;
        Ok(())
    }

    /// Takes `child`'s DS and NS records out of the pool domain's zone.
    pub async fn undelegate(&self, child: &str) -> Result<(), registrars::Error> {
        let provider = self.cloudflare()?;
        let domain = DomainName::new(child)?;
        applied(provider.remove_delegation(&domain).await?)
    }
}

/// Cloudflare applies record changes at once; anything else is a surprise.
fn applied(outcome: ChangeOutcome) -> Result<(), registrars::Error> {
    match outcome {
        ChangeOutcome::Pending { .. } => Err(registrars::Error::invalid("the provider queued the change")),
        _ => Ok(()),
    }
}

/// The DS set the parent needs for `domain` when pooldns signs it (empty
/// when the zone is served unsigned, `None` when it is not served here).
pub async fn ds_specs(store: &Store, domain: &str) -> Option<Vec<DsSpec>> {
    let domain = DomainName::new(domain.trim_end_matches('.')).ok()?;
    let apex = format!("{}.", domain.as_str().to_ascii_lowercase());
    let id = store.zone_id(&apex).await.ok()?;
    let keys = store.zone_keys(id).await.ok()?;
    let mut specs = Vec::new();
    for key in keys.iter().filter(|key| key.ds) {
        let dnskey = Dnskey::from_rdata(&key.dnskey_rdata().ok()?).ok()?;
        specs.push(DsSpec::from_dnskey(&domain, dnskey, SHA256_DIGEST).ok()?);
    }
    Some(specs)
}
