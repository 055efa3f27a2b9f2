//! GoDaddy: nameservers through v1 (synchronous `PATCH`) or v2 (asynchronous `PUT` plus
//! action polling), DS records through v2.
//!
//! The v2 API needs the account's customer id (give the token as `key:secret:customerId`);
//! without it the adapter changes nameservers with the v1 `PATCH /v1/domains/{domain}` and
//! cannot manage DS records. v2 changes answer `202 Accepted` and run as *actions*
//! (`DOMAIN_UPDATE_NAME_SERVERS`, `DNSSEC_CREATE`, `DNSSEC_DELETE`), polled at
//! `/actions/{type}`; while one is open, a repeated call hands back the same action instead
//! of submitting a second change.
//!
//! Glue (registry host objects) cannot be created through GoDaddy's published API, and
//! since 2024 production Domains API access needs an account with at least 10 domains or a
//! Discount Domain Club plan; the `403 ACCESS_DENIED` this causes is explained in the
//! error. The OTE test environment (base URL `"ote"`) has no such gate.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::credentials::{Credentials, GoDaddyCredentials, ProviderConfig};
use crate::ds::{DsRecord, DsSpec};
use crate::error::{Error, Result};
use crate::http::{request_id, Http, Reply, Retry};
use crate::names::{DomainName, NameserverName};
use crate::plan::{plan_ds, plan_nameservers, DsPlan, NsPlan};
use crate::provider::{DelegationProvider, ProviderKind};
use crate::types::{ChangeOutcome, Delegation, Glue, OperationId};

/// The production API.
pub const GODADDY_API: &str = "https://api.godaddy.com";
/// The OTE (test) API; also selected by the base URL `"ote"`.
pub const GODADDY_OTE: &str = "https://api.ote-godaddy.com";

/// The action that replaces nameservers.
const NS_ACTION: &str = "DOMAIN_UPDATE_NAME_SERVERS";
/// The action that adds DS records.
const DS_CREATE_ACTION: &str = "DNSSEC_CREATE";
/// The action that removes DS records.
const DS_DELETE_ACTION: &str = "DNSSEC_DELETE";

/// DNSSEC algorithm numbers and GoDaddy's names for them.
const ALGORITHMS: &[(u8, &str)] = &[
    (1, "RSAMD5"),
    (3, "DSA"),
    (5, "RSASHA1"),
    (6, "DSA_NSEC3_SHA1"),
    (7, "RSASHA1_NSEC3_SHA1"),
    (8, "RSASHA256"),
    (10, "RSASHA512"),
    (12, "ECC_GOST"),
    (13, "ECDSAP256SHA256"),
    (14, "ECDSAP384SHA384"),
    (15, "ED25519"),
    (16, "ED448"),
];
/// DS digest type numbers and GoDaddy's names for them.
const DIGEST_TYPES: &[(u8, &str)] = &[(1, "SHA1"), (2, "SHA256"), (3, "GOST"), (4, "SHA384")];

/// The GoDaddy adapter.
#[derive(Debug)]
pub struct GoDaddy {
    /// HTTP client, limits and retries.
    http: Http,
    /// The account's credentials.
    creds: GoDaddyCredentials,
}

/// GoDaddy's error body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiError {
    /// Short code such as `ACCESS_DENIED`.
    #[serde(default)]
    code: String,
    /// Human text.
    #[serde(default)]
    message: String,
    /// Per-field problems.
    #[serde(default)]
    fields: Vec<ApiField>,
    /// Seconds to wait, on 429.
    retry_after_sec: Option<f64>,
}

/// One field problem of an [`ApiError`].
#[derive(Debug, Deserialize)]
struct ApiField {
    /// The field's path.
    #[serde(default)]
    path: String,
    /// What is wrong.
    #[serde(default)]
    message: String,
}

/// A domain as `GET /v1/domains/{domain}` or the v2 equivalent returns it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiDomain {
    /// The NS set.
    #[serde(default)]
    name_servers: Vec<String>,
    /// The DS set (v2 with `includes=dnssecRecords`).
    dnssec_records: Option<Vec<ApiDnssec>>,
}

/// One DS record as GoDaddy lists it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiDnssec {
    /// Algorithm name or number.
    algorithm: Value,
    /// Key tag.
    key_tag: u16,
    /// Digest type name or number.
    digest_type: Value,
    /// Digest in hex.
    #[serde(default)]
    digest: String,
}

/// An action, as polled.
#[derive(Debug, Deserialize)]
struct ApiAction {
    /// `ACCEPTED`, `PENDING`, `AWAITING`, `SUCCESS`, `FAILED` or `CANCELLED`.
    #[serde(default)]
    status: String,
    /// Why it failed.
    reason: Option<ApiReason>,
}

/// The reason of a failed action.
#[derive(Debug, Deserialize)]
struct ApiReason {
    /// Short code.
    #[serde(default)]
    code: String,
    /// Human text.
    #[serde(default)]
    message: String,
}

/// Maps a name or number from a GoDaddy enum to its number.
fn enum_number(value: &Value, table: &[(u8, &str)]) -> Option<u8> {
    match value {
        Value::Number(number) => number.as_u64().and_then(|n| u8::try_from(n).ok()),
        Value::String(text) => table
            .iter()
            .find(|(_, name)| name.eq_ignore_ascii_case(text))
            .map(|(number, _)| *number)
            .or_else(|| text.parse().ok()),
        _ => None,
    }
}

/// Returns GoDaddy's name for a number, failing for numbers it has no name for.
fn enum_name(number: u8, table: &[(u8, &'static str)], what: &str) -> Result<&'static str> {
    table
        .iter()
        .find(|(n, _)| *n == number)
        .map(|(_, name)| *name)
        .ok_or_else(|| Error::invalid(format!("GoDaddy has no name for {what} {number}")))
}

/// Builds the JSON GoDaddy takes for one DS record.
fn ds_json(ds: &DsRecord) -> Result<Value> {
    Ok(json!({
        "algorithm": enum_name(ds.algorithm(), ALGORITHMS, "DNSSEC algorithm")?,
        "keyTag": ds.key_tag(),
        "digestType": enum_name(ds.digest_type(), DIGEST_TYPES, "digest type")?,
        "digest": ds.digest_hex(),
    }))
}

/// GoDaddy customer ids are UUIDs (older accounts: shopper numbers). The id
/// becomes a URL path segment, so anything else (`/`, `..`, `?`) is refused
/// before it can point a request at another resource.
fn check_customer_id(customer: &str) -> Result<()> {
    let valid = !customer.is_empty()
        && customer.len() <= 64
        && customer
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-');
    if valid {
        Ok(())
    } else {
        Err(Error::invalid(
            "the GoDaddy customer id must be a UUID or shopper number (letters, digits and '-')",
        ))
    }
}

impl GoDaddy {
    /// Builds the adapter; `config.credentials` must be GoDaddy credentials.
    pub fn new(config: &ProviderConfig) -> Result<Self> {
        let Credentials::GoDaddy(creds) = &config.credentials else {
            return Err(crate::credentials::wrong_credentials(
                ProviderKind::GoDaddy,
                &config.credentials,
            ));
        };
        if let Some(customer) = &creds.customer_id {
            check_customer_id(customer)?;
        }
        Ok(Self {
            http: Http::new(
                ProviderKind::GoDaddy,
                config,
                GODADDY_API,
                &[("ote", GODADDY_OTE), ("production", GODADDY_API)],
            )?,
            creds: creds.clone(),
        })
    }

    /// Returns the customer id, or the error explaining that v2 needs one.
    fn customer(&self, operation: &str) -> Result<&str> {
        self.creds.customer_id.as_deref().ok_or_else(|| {
            Error::invalid(format!(
                "{operation} at GoDaddy needs the v2 API and the account's customer id; give the token as \
                 \"key:secret:customerId\""
            ))
        })
    }

    /// The v2 base path of `domain`.
    fn v2(&self, customer: &str, domain: &DomainName) -> String {
        format!("{}/v2/customers/{customer}/domains/{domain}", self.http.base())
    }

    /// Adds the `sso-key` header.
    fn authorise(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        request
            .header(
                reqwest::header::AUTHORIZATION,
                format!("sso-key {}:{}", self.creds.key.expose(), self.creds.secret.expose()),
            )
            .header(reqwest::header::ACCEPT, "application/json")
    }

    /// Turns an error reply into an [`Error`].
    fn check(&self, domain: &DomainName, reply: &Reply) -> Result<()> {
        if reply.is_success() {
            return Ok(());
        }
        let error: ApiError = serde_json::from_slice(&reply.body).unwrap_or_default();
        let message = self.http.scrub(&error.message);
        match reply.status {
            401 => Err(Error::InvalidCredentials),
            403 if error.code == "ACCESS_DENIED" => Err(Error::PermissionDenied {
                detail: format!(
                    "GoDaddy answered ACCESS_DENIED ({message}). Since 2024 GoDaddy opens the production Domains \
                     API only to accounts with at least 10 domains or a Discount Domain Club plan; OTE test keys \
                     are not limited"
                ),
            }),
            403 => Err(Error::PermissionDenied {
                detail: format!("GoDaddy answered 403 {}: {message}", error.code),
            }),
            404 => Err(Error::DomainNotInAccount {
                domain: domain.to_string(),
            }),
            429 => Err(Error::RateLimited {
                retry_after: error
                    .retry_after_sec
                    .filter(|seconds| seconds.is_finite() && *seconds >= 0.0)
                    .map(|seconds| std::time::Duration::from_secs_f64(seconds.min(86_400.0)))
                    .or_else(|| reply.retry_after()),
            }),
            _ => {
                if let Some(error) = self.http.common_status_error(reply) {
                    return Err(error);
                }
                let fields = error
                    .fields
                    .iter()
                    .map(|field| format!("{}: {}", field.path, field.message))
                    .collect::<Vec<_>>()
                    .join("; ");
                let detail = match (error.code.is_empty(), fields.is_empty()) {
                    (true, _) => return Err(self.http.unexpected("GoDaddy", reply)),
                    (false, true) => format!("GoDaddy {} {}: {message}", reply.status, error.code),
                    (false, false) => format!("GoDaddy {} {}: {message} ({fields})", reply.status, error.code),
                };
                Err(self.http.rejected(&detail))
            }
        }
    }

    /// Sends a request with authentication and the shared error mapping.
    async fn send(
        &self,
        domain: &DomainName,
        label: &str,
        retry: Retry,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<Reply> {
        self.http
            .send(
                label,
                retry,
                |client| self.authorise(build(client)),
                |reply| self.check(domain, reply),
            )
            .await
    }

    /// Reads the domain through v1, or through v2 (with DS records) when the customer id is
    /// known.
    async fn read_domain(&self, domain: &DomainName) -> Result<ApiDomain> {
        let reply = match self.creds.customer_id.as_deref() {
            Some(customer) => {
                let url = self.v2(customer, domain);
                self.send(domain, "GET /v2/customers/domains", Retry::Read, |client| {
                    client.get(&url).query(&[("includes", "actions,dnssecRecords")])
                })
                .await?
            }
            None => {
                let url = format!("{}/v1/domains/{domain}", self.http.base());
                self.send(domain, "GET /v1/domains", Retry::Read, |client| client.get(&url))
                    .await?
            }
        };
        self.http.json("GoDaddy domain", &reply)
    }

    /// Returns the latest action of `kind`, or `None` when there is none.
    async fn action(&self, customer: &str, domain: &DomainName, kind: &str) -> Result<Option<ApiAction>> {
        let url = format!("{}/actions/{kind}", self.v2(customer, domain));
        match self
            .send(domain, "GET /v2/customers/domains/actions", Retry::Read, |client| {
                client.get(&url)
            })
            .await
        {
            Ok(reply) => Ok(Some(self.http.json("GoDaddy action", &reply)?)),
            // A 404 here means no action of that type (the domain itself was read before).
            Err(Error::DomainNotInAccount { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Returns the open actions among `kinds`, as an operation id, when any is still running.
    async fn open_actions(&self, customer: &str, domain: &DomainName, kinds: &[&str]) -> Result<Option<OperationId>> {
        let mut open = Vec::new();
        for kind in kinds {
            if let Some(action) = self.action(customer, domain, kind).await? {
                if matches!(action.status.as_str(), "ACCEPTED" | "PENDING" | "AWAITING") {
                    open.push(*kind);
                }
            }
        }
        Ok((!open.is_empty()).then(|| OperationId::new(open.join("+"))))
    }
}

impl DelegationProvider for GoDaddy {
    fn kind(&self) -> ProviderKind {
        ProviderKind::GoDaddy
    }

    async fn read(&self, domain: &DomainName) -> Result<Delegation> {
        let found = self.read_domain(domain).await?;
        let nameservers = found
            .name_servers
            .iter()
            .filter_map(|name| NameserverName::new(name).ok())
            .collect();
        let ds = found.dnssec_records.map(|records| {
            records
                .iter()
                .filter_map(|record| {
                    let algorithm = enum_number(&record.algorithm, ALGORITHMS)?;
                    let digest_type = enum_number(&record.digest_type, DIGEST_TYPES)?;
                    format!("{} {algorithm} {digest_type} {}", record.key_tag, record.digest)
                        .parse()
                        .ok()
                })
                .collect()
        });
        Ok(Delegation { nameservers, ds })
    }

    async fn set_nameservers(&self, domain: &DomainName, wanted: &[NameserverName]) -> Result<ChangeOutcome> {
        let caps = self.capabilities();
        plan_nameservers(&[], wanted, &caps)?;
        let current = self.read(domain).await?;
        let NsPlan::Replace(list) = plan_nameservers(&current.nameservers, wanted, &caps)? else {
            return Ok(ChangeOutcome::AlreadyInSync);
        };
        let body = json!({ "nameServers": list.iter().map(NameserverName::as_str).collect::<Vec<_>>() });
        match self.creds.customer_id.as_deref() {
            Some(customer) => {
                if let Some(operation_id) = self.open_actions(customer, domain, &[NS_ACTION]).await? {
                    tracing::info!(provider = "godaddy", %domain, "nameserver change already in progress");
                    return Ok(ChangeOutcome::Pending { operation_id });
                }
                let url = format!("{}/nameServers", self.v2(customer, domain));
                let request = request_id();
                tracing::info!(provider = "godaddy", %domain, request_id = %request, "replacing nameservers (v2)");
                self.send(
                    domain,
                    "PUT /v2/customers/domains/nameServers",
                    Retry::Create,
                    |client| client.put(&url).header("X-Request-Id", request.as_str()).json(&body),
                )
                .await?;
                Ok(ChangeOutcome::Pending {
                    operation_id: OperationId::new(NS_ACTION),
                })
            }
            None => {
                let url = format!("{}/v1/domains/{domain}", self.http.base());
                tracing::info!(provider = "godaddy", %domain, "replacing nameservers (v1)");
                // A full replacement: repeating it after a lost answer is harmless.
                self.send(domain, "PATCH /v1/domains", Retry::Replace, |client| {
                    client.patch(&url).json(&body)
                })
                .await?;
                Ok(ChangeOutcome::Applied)
            }
        }
    }

    async fn ensure_glue(&self, _domain: &DomainName, _glue: &[Glue]) -> Result<ChangeOutcome> {
        let caps = self.capabilities();
        caps.require(caps.glue, "ensure glue")?;
        Err(Error::Unsupported {
            operation: "ensure glue",
            reason: "GoDaddy has no published API for host objects".into(),
        })
    }

    async fn set_ds(&self, domain: &DomainName, wanted: &[DsSpec]) -> Result<ChangeOutcome> {
        let caps = self.capabilities();
        plan_ds(&[], wanted, &caps)?;
        for spec in wanted {
            ds_json(spec.ds())?;
        }
        let customer = self.customer("Setting DS records")?;
        let current = self.read(domain).await?;
        let DsPlan::Replace { add, remove, .. } = plan_ds(&current.ds.unwrap_or_default(), wanted, &caps)? else {
            return Ok(ChangeOutcome::AlreadyInSync);
        };
        if let Some(operation_id) = self
            .open_actions(customer, domain, &[DS_CREATE_ACTION, DS_DELETE_ACTION])
            .await?
        {
            tracing::info!(provider = "godaddy", %domain, "DS change already in progress");
            return Ok(ChangeOutcome::Pending { operation_id });
        }
        let url = format!("{}/dnssecRecords", self.v2(customer, domain));
        let mut started = Vec::new();
        if !add.is_empty() {
            let body = add.iter().map(|spec| ds_json(spec.ds())).collect::<Result<Vec<_>>>()?;
            tracing::info!(provider = "godaddy", %domain, count = add.len(), "adding DS records");
            self.send(
                domain,
                "PATCH /v2/customers/domains/dnssecRecords",
                Retry::Create,
                |client| client.patch(&url).json(&body),
            )
            .await?;
            started.push(DS_CREATE_ACTION);
        }
        if !remove.is_empty() {
            let body = remove.iter().map(ds_json).collect::<Result<Vec<_>>>()?;
            tracing::info!(provider = "godaddy", %domain, count = remove.len(), "removing DS records");
            self.send(
                domain,
                "DELETE /v2/customers/domains/dnssecRecords",
                Retry::Create,
                |client| client.delete(&url).json(&body),
            )
            .await?;
            started.push(DS_DELETE_ACTION);
        }
        Ok(ChangeOutcome::Pending {
            operation_id: OperationId::new(started.join("+")),
        })
    }

    async fn poll(&self, domain: &DomainName, operation: &OperationId) -> Result<ChangeOutcome> {
        let Some(customer) = self.creds.customer_id.as_deref() else {
            // v1 changes are synchronous.
            return Ok(ChangeOutcome::Applied);
        };
        let mut pending = false;
        for kind in operation.as_str().split('+').filter(|kind| !kind.is_empty()) {
            if !kind.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') {
                return Err(Error::invalid(format!("{operation} is not a GoDaddy action")));
            }
            let Some(action) = self.action(customer, domain, kind).await? else {
                return Err(Error::OperationFailed {
                    operation_id: operation.to_string(),
                    detail: format!("GoDaddy has no {kind} action for {domain}"),
                });
            };
            match action.status.as_str() {
                "SUCCESS" => {}
                "ACCEPTED" | "PENDING" | "AWAITING" => pending = true,
                status => {
                    let reason = action
                        .reason
                        .map(|reason| format!(": {} {}", reason.code, reason.message))
                        .unwrap_or_default();
                    return Err(Error::OperationFailed {
                        operation_id: operation.to_string(),
                        detail: self.http.scrub(&format!("{kind} ended {status}{reason}")),
                    });
                }
            }
        }
        if pending {
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
    fn ote_alias() {
        let creds = Credentials::from_token(ProviderKind::GoDaddy, "key:secret").expect("valid");
        let ote = GoDaddy::new(&ProviderConfig::new(creds.clone()).with_base_url("ote")).expect("valid");
        assert_eq!(ote.http.base(), GODADDY_OTE);
        assert_eq!(
            GoDaddy::new(&ProviderConfig::new(creds)).expect("valid").http.base(),
            GODADDY_API
        );
    }

    #[test]
    fn customer_ids_cannot_leave_their_path_segment() {
        let adapter = |token: &str| {
            let creds = Credentials::from_token(ProviderKind::GoDaddy, token)
                .unwrap_or_else(|error| panic!("{token}: {error}"));
            GoDaddy::new(&ProviderConfig::new(creds))
        };
        assert!(adapter("key:secret:8f2c7a1e-0b4d-4c3e-9a57-1d2e3f4a5b6c").is_ok());
        assert!(adapter("key:secret:123456789").is_ok());
        for bad in ["..", "a/b", "x?y=1", "%2e%2e", "a#b"] {
            let error = adapter(&format!("key:secret:{bad}")).expect_err("refused");
            assert!(matches!(error, Error::InvalidRequest { .. }), "{bad}: {error}");
        }
    }

    #[test]
    fn enum_names_round_trip() {
        for (number, name) in ALGORITHMS.iter().chain(DIGEST_TYPES) {
            assert_eq!(
                enum_number(&json!(name), ALGORITHMS).or(enum_number(&json!(name), DIGEST_TYPES)),
                Some(*number)
            );
        }
        assert_eq!(enum_number(&json!(13), ALGORITHMS), Some(13));
        assert_eq!(enum_number(&json!("13"), ALGORITHMS), Some(13));
        assert_eq!(enum_number(&json!(null), ALGORITHMS), None);
        let ds: DsRecord = "2371 13 2 c988ec423e3880eb8dd8a46fe06ca230ee23f35b578d64e78b29c3e1c83d245a"
            .parse()
            .expect("valid");
        let body = ds_json(&ds).expect("known enums");
        assert_eq!(body["algorithm"], "ECDSAP256SHA256");
        assert_eq!(body["digestType"], "SHA256");
        let odd: DsRecord = "1 200 2 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
            .parse()
            .expect("valid");
        assert_eq!(ds_json(&odd).expect_err("no name").code(), "invalid-request");
    }
}
