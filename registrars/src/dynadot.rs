//! Dynadot API3: `get_ns` / `add_ns` / `set_ns` for the NS set, `server_list` /
//! `register_ns` / `set_ns_ip` for glue, `get_dnssec` / `set_dnssec` / `clear_dnssec` for DS.
//!
//! API3 takes only `GET` requests with everything, the key included, in the query string,
//! so this adapter never logs a URL and strips URLs and the key from transport errors. The
//! regular tier allows one request in flight per key; all adapters built for the same key
//! share one budget that enforces it. Answers are XML with HTTP 200 even on errors; the
//! header's `SuccessCode` or `ResponseCode` (the name differs between commands) is `0` on
//! success, and errors are only text, classified by a few exact phrases.
//!
//! A host must be known to the account before `set_ns` can use it: the adapter registers
//! missing hosts with `add_ns` first. `set_dnssec` takes one DS record per domain.

use std::net::IpAddr;

use crate::credentials::{Credentials, DynadotCredentials, ProviderConfig};
use crate::ds::{DsRecord, DsSpec};
use crate::error::{Error, Result};
use crate::http::{Http, Reply, Retry};
use crate::names::{DomainName, NameserverName};
use crate::plan::{plan_ds, plan_nameservers, DsPlan, NsPlan};
use crate::provider::{DelegationProvider, ProviderKind};
use crate::types::{ChangeOutcome, Delegation, Glue, OperationId};
use crate::xml;

/// The production API3 endpoint (XML).
pub const DYNADOT_API: &str = "https://api.dynadot.com/api3.xml";
/// The sandbox endpoint; also selected by the base URL `"sandbox"`.
pub const DYNADOT_SANDBOX: &str = "https://api-sandbox.dynadot.com/api3.xml";

/// The Dynadot adapter.
#[derive(Debug)]
pub struct Dynadot {
    /// HTTP client, limits and retries.
    http: Http,
    /// The account's credentials.
    creds: DynadotCredentials,
}

/// What a command's answer header said.
#[derive(Debug)]
enum Outcome {
    /// Success; the full XML text.
    Ok(String),
    /// Failure, with Dynadot's error text.
    Failed(String),
}

/// A host registered in the account.
#[derive(Debug)]
struct Server {
    /// Dynadot's id for it.
    id: String,
    /// Its name.
    name: String,
    /// Its glue addresses.
    addresses: Vec<IpAddr>,
}

impl Dynadot {
    /// Builds the adapter; `config.credentials` must be Dynadot credentials.
    pub fn new(config: &ProviderConfig) -> Result<Self> {
        let Credentials::Dynadot(creds) = &config.credentials else {
            return Err(crate::credentials::wrong_credentials(
                ProviderKind::Dynadot,
                &config.credentials,
            ));
        };
        Ok(Self {
            http: Http::new(
                ProviderKind::Dynadot,
                config,
                DYNADOT_API,
                &[("sandbox", DYNADOT_SANDBOX), ("production", DYNADOT_API)],
            )?,
            creds: creds.clone(),
        })
    }

    /// Reads the answer header of a reply.
    fn outcome(&self, reply: &Reply) -> Result<Outcome> {
        let text = reply.text();
        let doc = xml::parse(&text).ok_or_else(|| self.http.unexpected("Dynadot", reply))?;
        let root = doc.root_element();
        let header = root
            .descendants()
            .find(|node| node.is_element() && node.tag_name().name().ends_with("Header"))
            .unwrap_or(root);
        let code = xml::text_of(header, "SuccessCode").or_else(|| xml::text_of(header, "ResponseCode"));
        let status = xml::text_of(header, "Status").unwrap_or_default();
        let error = xml::text_of(header, "Error").or_else(|| xml::text_of(root, "Error"));
        let success = match code.as_deref() {
            Some(code) => code == "0",
            None => status.eq_ignore_ascii_case("success"),
        };
        if success && error.is_none() {
            Ok(Outcome::Ok(text.clone()))
        } else {
            Ok(Outcome::Failed(error.unwrap_or_else(|| format!("status {status:?}"))))
        }
    }

    /// Classifies Dynadot's error text; `None` means "not a generic error".
    fn classify(&self, domain: &DomainName, message: &str) -> Option<Error> {
        let lower = message.to_ascii_lowercase();
        if lower.contains("invalid key") || lower.contains("invalid api key") || lower.contains("key is invalid") {
            return Some(Error::InvalidCredentials);
        }
        if lower.contains("not in your account")
            || (lower.contains("could not find") && lower.contains("in your account"))
        {
            return Some(Error::DomainNotInAccount {
                domain: domain.to_string(),
            });
        }
        if lower.contains("too many requests") || lower.contains("rate limit") || lower.contains("concurrent") {
            return Some(Error::RateLimited { retry_after: None });
        }
        if lower.contains("ip address") && lower.contains("not allowed") {
            return Some(Error::PermissionDenied {
                detail: format!("Dynadot: {}", self.http.scrub(message)),
            });
        }
        None
    }

    /// Sends `command` and returns its outcome; generic failures are errors.
    async fn command(
        &self,
        domain: &DomainName,
        command: &str,
        params: &[(&str, String)],
        retry: Retry,
    ) -> Result<Outcome> {
        let mut query: Vec<(&str, &str)> = vec![("key", self.creds.api_key.expose()), ("command", command)];
        query.extend(params.iter().map(|(name, value)| (*name, value.as_str())));
        let url = self.http.base().to_owned();
        let reply = self
            .http
            .send(
                command,
                retry,
                |client| client.get(&url).query(&query),
                |reply| {
                    if let Some(error) = self.http.common_status_error(reply) {
                        return Err(error);
                    }
                    if !reply.is_success() {
                        return Err(self.http.unexpected("Dynadot", reply));
                    }
                    match self.outcome(reply)? {
                        Outcome::Failed(message) => match self.classify(domain, &message) {
                            Some(error) => Err(error),
                            None => Ok(()),
                        },
                        Outcome::Ok(_) => Ok(()),
                    }
                },
            )
            .await?;
        self.outcome(&reply)
    }

    /// Sends `command` and fails on any error.
    async fn expect_ok(
        &self,
        domain: &DomainName,
        command: &str,
        params: &[(&str, String)],
        retry: Retry,
    ) -> Result<String> {
        match self.command(domain, command, params, retry).await? {
            Outcome::Ok(text) => Ok(text),
            Outcome::Failed(message) => Err(self.http.rejected(&format!("Dynadot {command}: {message}"))),
        }
    }

    /// Lists the hosts registered in the account.
    async fn servers(&self, domain: &DomainName) -> Result<Vec<Server>> {
        let text = self.expect_ok(domain, "server_list", &[], Retry::Read).await?;
        let doc = xml::parse(&text).ok_or_else(|| self.http.rejected("Dynadot: unreadable server_list answer"))?;
        let servers = doc
            .root_element()
            .descendants()
            .filter(|node| {
                node.children()
                    .any(|child| child.tag_name().name().eq_ignore_ascii_case("ServerName"))
            })
            .map(|node| Server {
                id: xml::text_of(node, "ServerId").unwrap_or_default(),
                name: xml::text_of(node, "ServerName")
                    .unwrap_or_default()
                    .to_ascii_lowercase(),
                addresses: node
                    .children()
                    .filter(|child| {
                        let name = child.tag_name().name().to_ascii_lowercase();
                        child.is_element() && (name.starts_with("serverip") || name.starts_with("ip"))
                    })
                    .filter_map(|child| xml::text(child).parse().ok())
                    .collect(),
            })
            .collect();
        Ok(servers)
    }

    /// Reads the DS set, or `None` when Dynadot would not say.
    async fn read_ds(&self, domain: &DomainName) -> Result<Option<Vec<DsRecord>>> {
        let params = [("domain_name", domain.as_str().to_owned())];
        let text = match self.command(domain, "get_dnssec", &params, Retry::Read).await? {
            Outcome::Ok(text) => text,
            Outcome::Failed(message) => {
                tracing::debug!(provider = "dynadot", %domain, error = %self.http.scrub(&message), "DS not readable");
                return Ok(None);
            }
        };
        let Some(doc) = xml::parse(&text) else {
            return Ok(None);
        };
        let records = doc
            .root_element()
            .descendants()
            .filter(|node| {
                node.is_element()
                    && node
                        .children()
                        .any(|child| child.tag_name().name().eq_ignore_ascii_case("KeyTag"))
            })
            .filter_map(|node| {
                let field = |name: &str| xml::text_of(node, name);
                format!(
                    "{} {} {} {}",
                    field("KeyTag")?,
                    field("Algorithm")?,
                    field("DigestType")?,
                    field("Digest")?
                )
                .parse()
                .ok()
            })
            .collect();
        Ok(Some(records))
    }
}

impl DelegationProvider for Dynadot {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Dynadot
    }

    async fn read(&self, domain: &DomainName) -> Result<Delegation> {
        let text = self
            .expect_ok(domain, "get_ns", &[("domain", domain.as_str().to_owned())], Retry::Read)
            .await?;
        let doc = xml::parse(&text).ok_or_else(|| self.http.rejected("Dynadot: unreadable get_ns answer"))?;
        let content = xml::find(doc.root_element(), "NsContent").unwrap_or(doc.root_element());
        let nameservers = content
            .children()
            .filter(|node| node.is_element() && node.tag_name().name().to_ascii_lowercase().starts_with("host"))
            .filter_map(|node| NameserverName::new(&xml::text(node)).ok())
            .collect();
        let ds = self.read_ds(domain).await?;
        Ok(Delegation { nameservers, ds })
    }

    async fn set_nameservers(&self, domain: &DomainName, wanted: &[NameserverName]) -> Result<ChangeOutcome> {
        let caps = self.capabilities();
        plan_nameservers(&[], wanted, &caps)?;
        let current = self.read(domain).await?;
        let NsPlan::Replace(list) = plan_nameservers(&current.nameservers, wanted, &caps)? else {
            return Ok(ChangeOutcome::AlreadyInSync);
        };
        let known = self.servers(domain).await?;
        for host in list
            .iter()
            .filter(|host| !known.iter().any(|server| server.name == host.as_str()))
        {
            tracing::info!(provider = "dynadot", host = %host, "registering nameserver host in the account");
            match self
                .command(domain, "add_ns", &[("host", host.as_str().to_owned())], Retry::Create)
                .await?
            {
                Outcome::Ok(_) => {}
                Outcome::Failed(message) if message.to_ascii_lowercase().contains("already exist") => {}
                Outcome::Failed(message) => {
                    return Err(self.http.rejected(&format!("Dynadot add_ns {host}: {message}")));
                }
            }
        }
        let mut params = vec![("domain", domain.as_str().to_owned())];
        const SLOTS: [&str; 13] = [
            "ns0", "ns1", "ns2", "ns3", "ns4", "ns5", "ns6", "ns7", "ns8", "ns9", "ns10", "ns11", "ns12",
        ];
        params.extend(
            SLOTS
                .iter()
                .zip(&list)
                .map(|(slot, host)| (*slot, host.as_str().to_owned())),
        );
        tracing::info!(provider = "dynadot", %domain, count = list.len(), "replacing nameservers");
        self.expect_ok(domain, "set_ns", &params, Retry::Replace).await?;
        Ok(ChangeOutcome::Applied)
    }

    async fn ensure_glue(&self, domain: &DomainName, glue: &[Glue]) -> Result<ChangeOutcome> {
        let caps = self.capabilities();
        caps.require(caps.glue, "ensure glue")?;
        crate::plan::check_glue(domain, glue, &caps)?;
        if let Some(entry) = glue.iter().find(|entry| entry.addresses.len() > 10) {
            return Err(Error::invalid(format!(
                "glue for {}: Dynadot takes at most 10 addresses per host",
                entry.host
            )));
        }
        if glue.is_empty() {
            return Ok(ChangeOutcome::AlreadyInSync);
        }
        const IP_SLOTS: [&str; 10] = ["ip0", "ip1", "ip2", "ip3", "ip4", "ip5", "ip6", "ip7", "ip8", "ip9"];
        let mut outcome = ChangeOutcome::AlreadyInSync;
        let mut servers = self.servers(domain).await?;
        for entry in glue {
            let mut want = entry.addresses.clone();
            want.sort_unstable();
            let position = servers.iter().position(|server| server.name == entry.host.as_str());
            let server = match position {
                Some(index) => &servers[index],
                None => {
                    let first = want.first().map(ToString::to_string).unwrap_or_default();
                    tracing::info!(provider = "dynadot", host = %entry.host, "registering glue host");
                    self.expect_ok(
                        domain,
                        "register_ns",
                        &[("host", entry.host.as_str().to_owned()), ("ip", first)],
                        Retry::Create,
                    )
                    .await?;
                    outcome = ChangeOutcome::Applied;
                    servers = self.servers(domain).await?;
                    match servers.iter().find(|server| server.name == entry.host.as_str()) {
                        Some(server) => server,
                        None if want.len() == 1 => continue,
                        None => {
                            return Err(self
                                .http
                                .rejected(&format!("Dynadot registered {} but does not list it", entry.host)))
                        }
                    }
                }
            };
            let mut have = server.addresses.clone();
            have.sort_unstable();
            if have == want {
                continue;
            }
            let mut params = vec![("server_id", server.id.clone())];
            params.extend(
                IP_SLOTS
                    .iter()
                    .zip(&want)
                    .map(|(slot, address)| (*slot, address.to_string())),
            );
            tracing::info!(provider = "dynadot", host = %entry.host, "setting glue addresses");
            self.expect_ok(domain, "set_ns_ip", &params, Retry::Replace).await?;
            outcome = ChangeOutcome::Applied;
        }
        Ok(outcome)
    }

    async fn set_ds(&self, domain: &DomainName, wanted: &[DsSpec]) -> Result<ChangeOutcome> {
        let caps = self.capabilities();
        plan_ds(&[], wanted, &caps)?;
        let current = self.read_ds(domain).await?;
        let plan = match &current {
            Some(current) => plan_ds(current, wanted, &caps)?,
            None => {
                tracing::warn!(provider = "dynadot", %domain, "current DS unknown; writing without comparing");
                plan_ds(&[], wanted, &caps).map(|_| DsPlan::Replace {
                    wanted: wanted.to_vec(),
                    add: wanted.to_vec(),
                    remove: Vec::new(),
                })?
            }
        };
        let DsPlan::Replace { wanted, .. } = plan else {
            return Ok(ChangeOutcome::AlreadyInSync);
        };
        let name = ("domain_name", domain.as_str().to_owned());
        match wanted.first() {
            None => {
                tracing::info!(provider = "dynadot", %domain, "clearing DS");
                self.expect_ok(domain, "clear_dnssec", &[name], Retry::Replace).await?;
            }
            Some(spec) => {
                let ds = spec.ds();
                let params = [
                    name,
                    ("key_tag", ds.key_tag().to_string()),
                    ("algorithm", ds.algorithm().to_string()),
                    ("digest_type", ds.digest_type().to_string()),
                    ("digest", ds.digest_hex()),
                ];
                tracing::info!(provider = "dynadot", %domain, "setting DS");
                self.expect_ok(domain, "set_dnssec", &params, Retry::Replace).await?;
            }
        }
        Ok(ChangeOutcome::Applied)
    }

    async fn poll(&self, _domain: &DomainName, _operation: &OperationId) -> Result<ChangeOutcome> {
        Ok(ChangeOutcome::Applied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sandbox_alias() {
        let creds = Credentials::from_token(ProviderKind::Dynadot, "key").expect("valid");
        let sandbox = Dynadot::new(&ProviderConfig::new(creds.clone()).with_base_url("SANDBOX")).expect("valid");
        assert_eq!(sandbox.http.base(), DYNADOT_SANDBOX);
        let custom =
            Dynadot::new(&ProviderConfig::new(creds).with_base_url("http://127.0.0.1:8080/api3.xml/")).expect("valid");
        assert_eq!(custom.http.base(), "http://127.0.0.1:8080/api3.xml");
    }
}
