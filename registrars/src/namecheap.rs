//! Namecheap: `domains.dns.getList` / `domains.dns.setCustom` for the NS set and
//! `domains.ns.getInfo` / `create` / `update` for glue.
//!
//! Every call is a `POST` of an `application/x-www-form-urlencoded` body to the single
//! `xml.response` endpoint, so the API key travels in the body and never in a URL (which
//! proxies and access logs record). Answers are XML with HTTP 200 even on errors; the
//! `Status` attribute and `Errors/Error@Number` say what happened. Namecheap has no DNSSEC
//! command: DS records can only be managed in its control panel.
//!
//! A registered domain is split into `SLD` (its first label) and `TLD` (the rest):
//! `example.co.uk` is `example` + `co.uk`. That is exact for the domains a registrar holds;
//! a name below one (`pool.example.com`) is not a registered domain, and Namecheap answers
//! that it is not in the account.

use std::net::{IpAddr, Ipv4Addr};

use crate::credentials::{Credentials, NamecheapCredentials, ProviderConfig};
use crate::ds::DsSpec;
use crate::error::{Error, Result};
use crate::http::{Http, Reply, Retry};
use crate::names::{DomainName, NameserverName};
use crate::plan::{plan_nameservers, NsPlan};
use crate::provider::{DelegationProvider, ProviderKind};
use crate::types::{ChangeOutcome, Delegation, Glue, OperationId};
use crate::xml;

/// The production endpoint.
pub const NAMECHEAP_API: &str = "https://api.namecheap.com/xml.response";
/// The sandbox endpoint (a separate account at sandbox.namecheap.com); also selected by the
/// base URL `"sandbox"`.
pub const NAMECHEAP_SANDBOX: &str = "https://api.sandbox.namecheap.com/xml.response";

/// Error numbers meaning the credentials (or the account's API access) are not usable.
const CREDENTIAL_ERRORS: &[&str] = &[
    "1010101", "1010102", "1010104", "1010105", "1011102", "1011105", "1016103", "1017101", "1017103", "1017105",
    "1017150", "1017411", "1019103",
];
/// Error numbers meaning the domain is not in the account.
const NOT_IN_ACCOUNT_ERRORS: &[&str] = &["2016166", "2019166"];

/// The Namecheap adapter.
#[derive(Debug)]
pub struct Namecheap {
    /// HTTP client, limits and retries.
    http: Http,
    /// The account's credentials.
    creds: NamecheapCredentials,
}

/// One `<Error>` of a reply.
#[derive(Debug)]
struct ApiError {
    /// The error number.
    number: String,
    /// The text.
    message: String,
}

/// Returns the errors of a reply with `Status="ERROR"`, or `None` for a successful reply.
fn reply_errors(reply: &Reply) -> Option<Vec<ApiError>> {
    let text = reply.text();
    let doc = xml::parse(&text)?;
    let root = doc.root_element();
    if xml::attribute(root, "Status").is_some_and(|status| status.eq_ignore_ascii_case("OK")) {
        return None;
    }
    let errors = xml::find_all(root, "Error")
        .into_iter()
        .map(|node| ApiError {
            number: xml::attribute(node, "Number").unwrap_or_default().to_owned(),
            message: xml::text(node),
        })
        .collect();
    Some(errors)
}

impl Namecheap {
    /// Builds the adapter; `config.credentials` must be Namecheap credentials.
    pub fn new(config: &ProviderConfig) -> Result<Self> {
        let Credentials::Namecheap(creds) = &config.credentials else {
            return Err(crate::credentials::wrong_credentials(
                ProviderKind::Namecheap,
                &config.credentials,
            ));
        };
        Ok(Self {
            http: Http::new(
                ProviderKind::Namecheap,
                config,
                NAMECHEAP_API,
                &[("sandbox", NAMECHEAP_SANDBOX), ("production", NAMECHEAP_API)],
            )?,
            creds: creds.clone(),
        })
    }

    /// Turns a reply into an error, by HTTP status and then by error number.
    fn check(&self, domain: &DomainName, reply: &Reply) -> Result<()> {
        if reply.status == 405 {
            // Namecheap's throttle answers HTTP 405 without a body worth reading.
            return Err(Error::RateLimited {
                retry_after: reply.retry_after(),
            });
        }
        if let Some(error) = self.http.common_status_error(reply) {
            return Err(error);
        }
        if !reply.is_success() {
            return Err(self.http.unexpected("Namecheap", reply));
        }
        let Some(errors) = reply_errors(reply) else {
            return Ok(());
        };
        let has = |numbers: &[&str]| errors.iter().any(|error| numbers.contains(&error.number.as_str()));
        let text = errors
            .iter()
            .map(|error| format!("{} {}", error.number, error.message))
            .collect::<Vec<_>>()
            .join("; ");
        if has(CREDENTIAL_ERRORS) {
            return Err(Error::InvalidCredentials);
        }
        if has(&["1011150"]) {
            return Err(Error::PermissionDenied {
                detail: format!(
                    "Namecheap refused the request address (1011150): whitelist {} (and this server's egress \
                     address) under Profile > Tools > API Access",
                    self.creds.client_ip
                ),
            });
        }
        if has(NOT_IN_ACCOUNT_ERRORS) {
            return Err(Error::DomainNotInAccount {
                domain: domain.to_string(),
            });
        }
        if has(&["500000"]) || text.to_ascii_lowercase().contains("too many requests") {
            return Err(Error::RateLimited { retry_after: None });
        }
        if errors.is_empty() {
            return Err(self.http.unexpected("Namecheap", reply));
        }
        Err(self.http.rejected(&format!("Namecheap: {text}")))
    }

    /// Calls `command` with `params` and returns the reply's text once it is `Status="OK"`.
    async fn call(
        &self,
        domain: &DomainName,
        command: &str,
        params: &[(&str, String)],
        retry: Retry,
    ) -> Result<String> {
        let user_name = self
            .creds
            .user_name
            .clone()
            .unwrap_or_else(|| self.creds.api_user.clone());
        let client_ip = self.creds.client_ip.to_string();
        let mut form: Vec<(&str, &str)> = vec![
            ("ApiUser", self.creds.api_user.as_str()),
            ("ApiKey", self.creds.api_key.expose()),
            ("UserName", user_name.as_str()),
            ("ClientIp", client_ip.as_str()),
            ("Command", command),
        ];
        form.extend(params.iter().map(|(name, value)| (*name, value.as_str())));
        let url = self.http.base().to_owned();
        let reply = self
            .http
            .send(
                command,
                retry,
                |client| client.post(&url).form(&form),
                |reply| self.check(domain, reply),
            )
            .await?;
        Ok(reply.text())
    }

    /// Returns the `SLD` and `TLD` parameters for `domain`.
    fn split(domain: &DomainName) -> Vec<(&'static str, String)> {
        let (sld, tld) = domain.as_str().split_once('.').unwrap_or((domain.as_str(), ""));
        vec![("SLD", sld.to_owned()), ("TLD", tld.to_owned())]
    }

    /// Reads a glue host's address, or `None` when the registry has no such host.
    async fn glue_address(&self, domain: &DomainName, host: &NameserverName) -> Result<Option<String>> {
        let mut params = Self::split(domain);
        params.push(("Nameserver", host.as_str().to_owned()));
        match self
            .call(domain, "namecheap.domains.ns.getInfo", &params, Retry::Read)
            .await
        {
            Ok(text) => {
                let doc =
                    xml::parse(&text).ok_or_else(|| self.http.rejected("Namecheap: unreadable ns.getInfo answer"))?;
                let address = xml::find(doc.root_element(), "DomainNSInfoResult")
                    .and_then(|node| xml::attribute(node, "IP"))
                    .map(str::to_owned);
                Ok(address)
            }
            // Namecheap documents no number for "no such host"; any provider-side refusal
            // that is not about credentials, the domain or throttling means it is absent.
            Err(Error::Rejected { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }
}

impl DelegationProvider for Namecheap {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Namecheap
    }

    async fn read(&self, domain: &DomainName) -> Result<Delegation> {
        let text = self
            .call(
                domain,
                "namecheap.domains.dns.getList",
                &Self::split(domain),
                Retry::Read,
            )
            .await?;
        let doc = xml::parse(&text).ok_or_else(|| self.http.rejected("Namecheap: unreadable dns.getList answer"))?;
        let result = xml::find(doc.root_element(), "DomainDNSGetListResult")
            .ok_or_else(|| self.http.rejected("Namecheap: dns.getList answer without a result"))?;
        let nameservers = xml::find_all(result, "Nameserver")
            .into_iter()
            .filter_map(|node| NameserverName::new(&xml::text(node)).ok())
            .collect();
        Ok(Delegation { nameservers, ds: None })
    }

    async fn set_nameservers(&self, domain: &DomainName, wanted: &[NameserverName]) -> Result<ChangeOutcome> {
        let caps = self.capabilities();
        plan_nameservers(&[], wanted, &caps)?;
        let current = self.read(domain).await?;
        let NsPlan::Replace(list) = plan_nameservers(&current.nameservers, wanted, &caps)? else {
            return Ok(ChangeOutcome::AlreadyInSync);
        };
        let mut params = Self::split(domain);
        let joined = list.iter().map(NameserverName::as_str).collect::<Vec<_>>().join(",");
        tracing::info!(provider = "namecheap", %domain, nameservers = %joined, "replacing nameservers");
        params.push(("Nameservers", joined));
        // setCustom replaces the whole list, so repeating it is harmless.
        self.call(domain, "namecheap.domains.dns.setCustom", &params, Retry::Replace)
            .await?;
        Ok(ChangeOutcome::Applied)
    }

    async fn ensure_glue(&self, domain: &DomainName, glue: &[Glue]) -> Result<ChangeOutcome> {
        let caps = self.capabilities();
        caps.require(caps.glue, "ensure glue")?;
        crate::plan::check_glue(domain, glue, &caps)?;
        let mut outcome = ChangeOutcome::AlreadyInSync;
        for entry in glue {
            let Some(IpAddr::V4(address)) = entry.addresses.first().copied() else {
                return Err(Error::invalid(format!(
                    "glue for {} needs one IPv4 address",
                    entry.host
                )));
            };
            let current = self.glue_address(domain, &entry.host).await?;
            let mut params = Self::split(domain);
            params.push(("Nameserver", entry.host.as_str().to_owned()));
            match current {
                Some(ip) if ip.trim().parse::<Ipv4Addr>().ok() == Some(address) => continue,
                Some(old) => {
                    params.push(("OldIP", old));
                    params.push(("IP", address.to_string()));
                    tracing::info!(provider = "namecheap", host = %entry.host, "updating glue");
                    // Not repeated blindly: after a lost answer OldIP no longer matches.
                    self.call(domain, "namecheap.domains.ns.update", &params, Retry::Create)
                        .await?;
                }
                None => {
                    params.push(("IP", address.to_string()));
                    tracing::info!(provider = "namecheap", host = %entry.host, "creating glue");
                    self.call(domain, "namecheap.domains.ns.create", &params, Retry::Create)
                        .await?;
                }
            }
            outcome = ChangeOutcome::Applied;
        }
        Ok(outcome)
    }

    async fn set_ds(&self, _domain: &DomainName, _wanted: &[DsSpec]) -> Result<ChangeOutcome> {
        let caps = self.capabilities();
        caps.require(caps.ds, "set DS")?;
        Err(Error::Unsupported {
            operation: "set DS",
            reason: "Namecheap has no DNSSEC API command".into(),
        })
    }

    async fn poll(&self, _domain: &DomainName, _operation: &OperationId) -> Result<ChangeOutcome> {
        Ok(ChangeOutcome::Applied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sandbox_alias_and_sld_split() {
        let creds = Credentials::from_token(ProviderKind::Namecheap, "user:key:192.0.2.1").expect("valid");
        let sandbox = Namecheap::new(&ProviderConfig::new(creds.clone()).with_base_url("sandbox")).expect("valid");
        assert_eq!(sandbox.http.base(), NAMECHEAP_SANDBOX);
        let production = Namecheap::new(&ProviderConfig::new(creds)).expect("valid");
        assert_eq!(production.http.base(), NAMECHEAP_API);
        let split = Namecheap::split(&DomainName::new("example.co.uk").expect("valid"));
        assert_eq!(split, [("SLD", "example".to_owned()), ("TLD", "co.uk".to_owned())]);
    }
}
