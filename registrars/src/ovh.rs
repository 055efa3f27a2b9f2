//! OVHcloud: signed API requests; NS, glue and DS changes run as registry tasks.
//!
//! Every request carries the application key, the consumer key, a timestamp and
//! `X-Ovh-Signature: "$1$" + hex(SHA1(secret+consumer+METHOD+URL+BODY+timestamp))` (joined
//! with `+`), computed over the exact URL and body bytes sent. The timestamp uses the
//! server's clock: the offset is read once from the unauthenticated `/auth/time`.
//!
//! A domain on OVH's own DNS (`nameServerType: hosted`) is switched to `external` before
//! its NS set is replaced. Changes answer with a task (`DomainDnsUpdate`, `DomainHostCreate`,
//! `DomainHostUpdate`, `DomainDsUpdate`); the adapter returns it as
//! [`ChangeOutcome::Pending`] and, while one of the same kind is still open, hands that one
//! back instead of starting another. DS records are published from DNSKEYs (OVH computes the
//! digest), at most four. Whether glue and DNSSEC are possible depends on the domain's
//! registry (`hostSupported`, `dnssecSupported`), which the adapter checks first.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::OnceCell;

use crate::credentials::{Credentials, OvhCredentials, ProviderConfig};
use crate::ds::{Dnskey, DsRecord, DsSpec};
use crate::error::{Error, Result};
use crate::http::{Http, Reply, Retry};
use crate::names::{DomainName, NameserverName};
use crate::plan::{plan_ds, plan_nameservers, DsPlan, NsPlan};
use crate::provider::{Capabilities, DelegationProvider, ProviderKind, Support};
use crate::types::{ChangeOutcome, Delegation, Glue, OperationId};

/// The European endpoint (the default); also `"ovh-eu"`.
pub const OVH_EU: &str = "https://eu.api.ovh.com/1.0";
/// The Canadian endpoint; also `"ovh-ca"`.
pub const OVH_CA: &str = "https://ca.api.ovh.com/1.0";
/// The US endpoint; also `"ovh-us"`.
pub const OVH_US: &str = "https://api.us.ovhcloud.com/1.0";

/// The task that replaces the NS set.
const NS_TASK: &str = "DomainDnsUpdate";
/// The tasks that create and update glue.
const GLUE_TASKS: &[&str] = &["DomainHostCreate", "DomainHostUpdate"];
/// The task that replaces the DS set.
const DS_TASK: &str = "DomainDsUpdate";

/// The OVHcloud adapter.
#[derive(Debug)]
pub struct Ovh {
    /// HTTP client, limits and retries.
    http: Http,
    /// The account's credentials.
    creds: OvhCredentials,
    /// Server time minus local time, in seconds, once known.
    clock_offset: OnceCell<i64>,
}

/// What `GET /domain/{domain}` says about a domain.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DomainFacts {
    /// `hosted` (OVH's DNS) or `external`.
    #[serde(default)]
    name_server_type: String,
    /// Whether the registry takes DNSSEC keys.
    #[serde(default)]
    dnssec_supported: bool,
    /// Whether the registry takes host objects (glue).
    #[serde(default)]
    host_supported: bool,
    /// Whether glue may carry IPv6 addresses.
    #[serde(default)]
    glue_record_ipv6_supported: bool,
    /// Whether glue may carry several addresses.
    #[serde(default)]
    glue_record_multi_ip_supported: bool,
}

/// One NS entry.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiNameServer {
    /// The host.
    host: String,
    /// Marked for removal by a running task.
    #[serde(default)]
    to_delete: bool,
}

/// One glue record.
#[derive(Debug, Deserialize)]
struct ApiGlue {
    /// Its addresses.
    #[serde(default)]
    ips: Vec<String>,
}

/// One published key.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiKey {
    /// Algorithm number.
    algorithm: u8,
    /// DNSKEY flags.
    flags: u16,
    /// Base64 public key.
    public_key: String,
}

/// A task.
#[derive(Debug, Deserialize)]
struct ApiTask {
    /// Task id.
    id: u64,
    /// `todo`, `doing`, `done`, `error` or `cancelled`.
    #[serde(default)]
    status: String,
    /// OVH's comment, set on errors.
    comment: Option<String>,
}

/// OVH's error body (auth layer and API layer).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiError {
    /// Auth-layer code such as `INVALID_SIGNATURE`.
    #[serde(default)]
    error_code: String,
    /// API-layer class such as `Client::NotFound`.
    #[serde(default)]
    class: String,
    /// Human text.
    #[serde(default)]
    message: String,
}

impl Ovh {
    /// Builds the adapter; `config.credentials` must be OVHcloud credentials.
    pub fn new(config: &ProviderConfig) -> Result<Self> {
        let Credentials::Ovh(creds) = &config.credentials else {
            return Err(crate::credentials::wrong_credentials(
                ProviderKind::Ovh,
                &config.credentials,
            ));
        };
        let aliases = [
            ("ovh-eu", OVH_EU),
            ("ovh-ca", OVH_CA),
            ("ovh-us", OVH_US),
            ("eu", OVH_EU),
            ("ca", OVH_CA),
            ("us", OVH_US),
        ];
        Ok(Self {
            http: Http::new(ProviderKind::Ovh, config, OVH_EU, &aliases)?,
            creds: creds.clone(),
            clock_offset: OnceCell::new(),
        })
    }

    /// Returns OVH's clock minus ours, asking `/auth/time` the first time.
    async fn offset(&self) -> Result<i64> {
        self.clock_offset
            .get_or_try_init(|| async {
                let url = format!("{}/auth/time", self.http.base());
                let reply = self
                    .http
                    .send(
                        "GET /auth/time",
                        Retry::Read,
                        |client| client.get(&url),
                        |reply| match self.http.common_status_error(reply) {
                            Some(error) => Err(error),
                            None if reply.is_success() => Ok(()),
                            None => Err(self.http.unexpected("OVH /auth/time", reply)),
                        },
                    )
                    .await?;
                let server: i64 = reply
                    .text()
                    .trim()
                    .parse()
                    .map_err(|_| self.http.unexpected("OVH /auth/time", &reply))?;
                Ok(server - unix_now())
            })
            .await
            .copied()
    }

    /// Computes the `X-Ovh-Signature` value.
    fn signature(&self, method: &str, url: &str, body: &str, timestamp: i64) -> String {
        let payload = format!(
            "{}+{}+{method}+{url}+{body}+{timestamp}",
            self.creds.application_secret.expose(),
            self.creds.consumer_key.expose()
        );
        let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, payload.as_bytes());
        format!("$1${}", data_encoding::HEXLOWER.encode(digest.as_ref()))
    }

    /// Turns an error reply into an [`Error`].
    fn check(&self, domain: &DomainName, reply: &Reply) -> Result<()> {
        if reply.is_success() {
            return Ok(());
        }
        let error: ApiError = serde_json::from_slice(&reply.body).unwrap_or_default();
        let message = self.http.scrub(&error.message);
        let lower = message.to_ascii_lowercase();
        match (reply.status, error.error_code.as_str()) {
            (_, "INVALID_SIGNATURE" | "INVALID_CREDENTIAL" | "INVALID_KEY" | "NOT_CREDENTIAL") => {
                Err(Error::InvalidCredentials)
            }
            (401, _) => Err(Error::InvalidCredentials),
            (403, _) if lower.contains("not been granted") => Err(Error::PermissionDenied {
                detail: format!(
                    "OVHcloud: {message}; the consumer key needs GET/PUT /domain/*, POST /domain/*/nameServers/update, \
                     POST /domain/*/glueRecord*, POST /domain/*/dsRecord"
                ),
            }),
            (403, _) if lower.contains("application") || lower.contains("credential") => Err(Error::InvalidCredentials),
            (404, _) => Err(Error::DomainNotInAccount {
                domain: domain.to_string(),
            }),
            _ => match self.http.common_status_error(reply) {
                Some(error) => Err(error),
                None if error.class.is_empty() && message.is_empty() => Err(self.http.unexpected("OVHcloud", reply)),
                None => Err(self
                    .http
                    .rejected(&format!("OVHcloud {} {}: {message}", reply.status, error.class))),
            },
        }
    }

    /// Sends a signed request and decodes the JSON answer.
    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        domain: &DomainName,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        retry: Retry,
    ) -> Result<T> {
        let offset = self.offset().await?;
        let url = reqwest::Url::parse(&format!("{}{path}", self.http.base()))
            .map_err(|_| Error::invalid(format!("cannot build an OVHcloud URL for {path}")))?;
        let body = body.map(Value::to_string).unwrap_or_default();
        let label = format!("{method} {}", path.split('?').next().unwrap_or(path));
        let reply = self
            .http
            .send(
                &label,
                retry,
                |client| {
                    let timestamp = unix_now() + offset;
                    let signature = self.signature(method.as_str(), url.as_str(), &body, timestamp);
                    let mut request = client
                        .request(method.clone(), url.clone())
                        .header("X-Ovh-Application", self.creds.application_key.expose())
                        .header("X-Ovh-Consumer", self.creds.consumer_key.expose())
                        .header("X-Ovh-Timestamp", timestamp.to_string())
                        .header("X-Ovh-Signature", signature)
                        .header(reqwest::header::ACCEPT, "application/json");
                    if !body.is_empty() {
                        request = request
                            .header(reqwest::header::CONTENT_TYPE, "application/json;charset=utf-8")
                            .body(body.clone());
                    }
                    request
                },
                |reply| self.check(domain, reply),
            )
            .await?;
        if reply.body.is_empty() || reply.body == b"null" {
            return serde_json::from_value(Value::Null).map_err(|_| self.http.unexpected("OVHcloud", &reply));
        }
        self.http.json("OVHcloud", &reply)
    }

    /// Reads the domain's registry facts.
    async fn facts(&self, domain: &DomainName) -> Result<DomainFacts> {
        self.call(
            domain,
            reqwest::Method::GET,
            &format!("/domain/{domain}"),
            None,
            Retry::Read,
        )
        .await
    }

    /// Reads the NS set, skipping entries a running task is removing.
    async fn nameservers(&self, domain: &DomainName) -> Result<Vec<NameserverName>> {
        let path = format!("/domain/{domain}/nameServer");
        let ids: Vec<u64> = self
            .call(domain, reqwest::Method::GET, &path, None, Retry::Read)
            .await?;
        let mut names = Vec::new();
        for id in ids {
            let entry: ApiNameServer = self
                .call(domain, reqwest::Method::GET, &format!("{path}/{id}"), None, Retry::Read)
                .await?;
            if !entry.to_delete {
                if let Ok(name) = NameserverName::new(&entry.host) {
                    names.push(name);
                }
            }
        }
        Ok(names)
    }

    /// Reads the published keys.
    async fn keys(&self, domain: &DomainName) -> Result<Vec<Dnskey>> {
        let path = format!("/domain/{domain}/dsRecord");
        let ids: Vec<u64> = self
            .call(domain, reqwest::Method::GET, &path, None, Retry::Read)
            .await?;
        let mut keys = Vec::new();
        for id in ids {
            let key: ApiKey = self
                .call(domain, reqwest::Method::GET, &format!("{path}/{id}"), None, Retry::Read)
                .await?;
            let parsed: Result<Dnskey> = format!("{} 3 {} {}", key.flags, key.algorithm, key.public_key).parse();
            keys.push(parsed.map_err(|_| self.http.rejected("OVHcloud returned an unreadable DNSSEC key"))?);
        }
        Ok(keys)
    }

    /// Returns the ids of open (`todo` or `doing`) tasks of the given functions.
    async fn open_tasks(&self, domain: &DomainName, functions: &[&str]) -> Result<Vec<u64>> {
        let mut ids = Vec::new();
        for function in functions {
            for status in ["todo", "doing"] {
                let path = format!("/domain/{domain}/task?function={function}&status={status}");
                let found: Vec<u64> = self
                    .call(domain, reqwest::Method::GET, &path, None, Retry::Read)
                    .await?;
                ids.extend(found);
            }
        }
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    }

    /// Submits a change that answers with a task (not repeated blindly: each call would
    /// queue another task).
    async fn submit(&self, domain: &DomainName, path: &str, body: &Value) -> Result<ApiTask> {
        self.call(domain, reqwest::Method::POST, path, Some(body), Retry::Create)
            .await
    }

    /// Returns the capabilities narrowed to what this domain's registry allows.
    fn narrowed(facts: &DomainFacts) -> Capabilities {
        let mut caps = crate::provider::capabilities(ProviderKind::Ovh);
        if !facts.host_supported {
            caps.glue = Support::No;
        }
        if !facts.dnssec_supported {
            caps.ds = Support::No;
        }
        caps.glue_ipv6 = facts.glue_record_ipv6_supported;
        caps.glue_multiple_addresses = facts.glue_record_multi_ip_supported;
        caps
    }
}

/// Returns the outcome for submitted or still-open tasks.
fn pending(ids: &[u64]) -> ChangeOutcome {
    let list: Vec<String> = ids.iter().map(u64::to_string).collect();
    ChangeOutcome::Pending {
        operation_id: OperationId::new(list.join(",")),
    }
}

/// Returns the local Unix time in seconds.
fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Turns published keys into DS records, using the digest of a matching wanted entry so
/// equal keys compare equal, and SHA-256 otherwise.
fn keys_as_ds(domain: &DomainName, keys: &[Dnskey], wanted: &[DsSpec]) -> Result<Vec<DsRecord>> {
    keys.iter()
        .map(|key| match wanted.iter().find(|spec| spec.dnskey() == Some(key)) {
            Some(spec) => Ok(spec.ds().clone()),
            None => key.to_ds(domain, 2),
        })
        .collect()
}

impl DelegationProvider for Ovh {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Ovh
    }

    async fn read(&self, domain: &DomainName) -> Result<Delegation> {
        let facts = self.facts(domain).await?;
        let nameservers = self.nameservers(domain).await?;
        let ds = if facts.dnssec_supported {
            let keys = self.keys(domain).await?;
            Some(keys_as_ds(domain, &keys, &[])?)
        } else {
            None
        };
        Ok(Delegation { nameservers, ds })
    }

    async fn set_nameservers(&self, domain: &DomainName, wanted: &[NameserverName]) -> Result<ChangeOutcome> {
        let caps = self.capabilities();
        plan_nameservers(&[], wanted, &caps)?;
        let facts = self.facts(domain).await?;
        let current = self.nameservers(domain).await?;
        let NsPlan::Replace(list) = plan_nameservers(&current, wanted, &caps)? else {
            return Ok(ChangeOutcome::AlreadyInSync);
        };
        let open = self.open_tasks(domain, &[NS_TASK]).await?;
        if !open.is_empty() {
            tracing::info!(provider = "ovh", %domain, "nameserver task already open");
            return Ok(pending(&open));
        }
        if facts.name_server_type != "external" {
            tracing::info!(provider = "ovh", %domain, "switching to external nameservers");
            self.call::<Value>(
                domain,
                reqwest::Method::PUT,
                &format!("/domain/{domain}"),
                Some(&json!({"nameServerType": "external"})),
                Retry::Replace,
            )
            .await?;
        }
        let hosts: Vec<Value> = list.iter().map(|host| json!({"host": host.as_str()})).collect();
        tracing::info!(provider = "ovh", %domain, count = hosts.len(), "replacing nameservers");
        let task = self
            .submit(
                domain,
                &format!("/domain/{domain}/nameServers/update"),
                &json!({"nameServers": hosts}),
            )
            .await?;
        Ok(pending(&[task.id]))
    }

    async fn ensure_glue(&self, domain: &DomainName, glue: &[Glue]) -> Result<ChangeOutcome> {
        let caps = self.capabilities();
        crate::plan::check_glue(domain, glue, &caps)?;
        let facts = self.facts(domain).await?;
        let caps = Self::narrowed(&facts);
        if caps.glue != Support::Yes {
            return Err(Error::Unsupported {
                operation: "ensure glue",
                reason: "this domain's registry takes no host objects through OVHcloud (hostSupported is false)".into(),
            });
        }
        crate::plan::check_glue(domain, glue, &caps)?;
        if glue.is_empty() {
            return Ok(ChangeOutcome::AlreadyInSync);
        }
        let path = format!("/domain/{domain}/glueRecord");
        let existing: Vec<String> = self
            .call(domain, reqwest::Method::GET, &path, None, Retry::Read)
            .await?;
        let mut changes: Vec<(&Glue, bool)> = Vec::new();
        for entry in glue {
            let exists = existing
                .iter()
                .any(|host| host.eq_ignore_ascii_case(entry.host.as_str()));
            if exists {
                let current: ApiGlue = self
                    .call(
                        domain,
                        reqwest::Method::GET,
                        &format!("{path}/{}", entry.host),
                        None,
                        Retry::Read,
                    )
                    .await?;
                let mut have: Vec<std::net::IpAddr> = current.ips.iter().filter_map(|ip| ip.parse().ok()).collect();
                let mut want = entry.addresses.clone();
                have.sort_unstable();
                want.sort_unstable();
                if have == want {
                    continue;
                }
            }
            changes.push((entry, exists));
        }
        if changes.is_empty() {
            return Ok(ChangeOutcome::AlreadyInSync);
        }
        let open = self.open_tasks(domain, GLUE_TASKS).await?;
        if !open.is_empty() {
            tracing::info!(provider = "ovh", %domain, "glue task already open");
            return Ok(pending(&open));
        }
        let mut tasks = Vec::new();
        for (entry, exists) in changes {
            let ips: Vec<String> = entry.addresses.iter().map(ToString::to_string).collect();
            tracing::info!(provider = "ovh", host = %entry.host, update = exists, "writing glue");
            let task = if exists {
                self.submit(domain, &format!("{path}/{}/update", entry.host), &json!({"ips": ips}))
                    .await?
            } else {
                self.submit(domain, &path, &json!({"host": entry.host.as_str(), "ips": ips}))
                    .await?
            };
            tasks.push(task.id);
        }
        Ok(pending(&tasks))
    }

    async fn set_ds(&self, domain: &DomainName, wanted: &[DsSpec]) -> Result<ChangeOutcome> {
        let caps = self.capabilities();
        plan_ds(&[], wanted, &caps)?;
        let facts = self.facts(domain).await?;
        let caps = Self::narrowed(&facts);
        if caps.ds != Support::Yes {
            return Err(Error::Unsupported {
                operation: "set DS",
                reason: "this domain's registry takes no DNSSEC keys through OVHcloud (dnssecSupported is false)"
                    .into(),
            });
        }
        let keys = self.keys(domain).await?;
        let current = keys_as_ds(domain, &keys, wanted)?;
        let DsPlan::Replace { wanted, .. } = plan_ds(&current, wanted, &caps)? else {
            return Ok(ChangeOutcome::AlreadyInSync);
        };
        let open = self.open_tasks(domain, &[DS_TASK]).await?;
        if !open.is_empty() {
            tracing::info!(provider = "ovh", %domain, "DS task already open");
            return Ok(pending(&open));
        }
        let keys: Vec<Value> = wanted
            .iter()
            .filter_map(|spec| spec.dnskey())
            .map(|key| {
                json!({
                    "algorithm": key.algorithm(), "flags": key.flags(),
                    "publicKey": key.public_key_base64(), "tag": key.key_tag(),
                })
            })
            .collect();
        tracing::info!(provider = "ovh", %domain, count = keys.len(), "replacing DNSSEC keys");
        let task = self
            .submit(domain, &format!("/domain/{domain}/dsRecord"), &json!({"keys": keys}))
            .await?;
        Ok(pending(&[task.id]))
    }

    async fn poll(&self, domain: &DomainName, operation: &OperationId) -> Result<ChangeOutcome> {
        let ids: Vec<u64> = operation
            .as_str()
            .split(',')
            .map(|id| id.trim().parse())
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| Error::invalid(format!("{operation} is not a list of OVHcloud task ids")))?;
        let mut open = false;
        for id in ids {
            let task: ApiTask = self
                .call(
                    domain,
                    reqwest::Method::GET,
                    &format!("/domain/{domain}/task/{id}"),
                    None,
                    Retry::Read,
                )
                .await?;
            match task.status.as_str() {
                "done" => {}
                "todo" | "doing" => open = true,
                status => {
                    return Err(Error::OperationFailed {
                        operation_id: operation.to_string(),
                        detail: self.http.scrub(&format!(
                            "task {id} ended {status}: {}",
                            task.comment.unwrap_or_default()
                        )),
                    })
                }
            }
        }
        if open {
            Ok(ChangeOutcome::Pending {
                operation_id: operation.clone(),
            })
        } else {
            Ok(ChangeOutcome::Applied)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_follows_the_documented_formula() {
        let config = ProviderConfig::new(Credentials::Ovh(OvhCredentials {
            application_key: "ak".into(),
            application_secret: "secret".into(),
            consumer_key: "consumer".into(),
        }));
        let ovh = Ovh::new(&config).expect("valid config");
        let signature = ovh.signature("GET", "https://eu.api.ovh.com/1.0/domain", "", 1_700_000_000);
        let expected = ring::digest::digest(
            &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
            b"secret+consumer+GET+https://eu.api.ovh.com/1.0/domain++1700000000",
        );
        assert_eq!(
            signature,
            format!("$1${}", data_encoding::HEXLOWER.encode(expected.as_ref()))
        );
        assert_eq!(signature.len(), 3 + 40);
    }

    #[test]
    fn region_names_select_endpoints() {
        let creds = Credentials::from_token(ProviderKind::Ovh, "a:b:c").expect("valid");
        for (name, url) in [("ovh-ca", OVH_CA), ("US", OVH_US), ("ovh-eu", OVH_EU)] {
            let ovh = Ovh::new(&ProviderConfig::new(creds.clone()).with_base_url(name)).expect("valid");
            assert_eq!(ovh.http.base(), url);
        }
    }
}
