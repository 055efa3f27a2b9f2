//! Cloudflare as the host of the *parent* zone: delegation by NS (and DS) records.
//!
//! To delegate `pool.example.com` from a zone `example.com` hosted at Cloudflare, the
//! adapter writes NS records named `pool.example.com` into that zone, A/AAAA glue for
//! nameservers inside the delegated name, and DS records next to the NS records. The zone
//! is found by name (longest suffix of the domain that is a zone the credentials can see).
//!
//! A domain that is itself a zone at Cloudflare (its apex) is read-only here: its NS set is
//! a registrar matter, and a domain registered at Cloudflare Registrar cannot be pointed at
//! other nameservers through the API at all. Changes go through the batch endpoint, so each
//! mutating call is one database transaction at Cloudflare (deletes before creates).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::credentials::{CloudflareCredentials, Credentials, ProviderConfig};
use crate::ds::{DsRecord, DsSpec};
use crate::error::{Error, Result};
use crate::http::{Http, Reply, Retry};
use crate::names::{DomainName, NameserverName};
use crate::plan::{plan_ds, plan_nameservers, DsPlan, NsPlan};
use crate::provider::{DelegationProvider, ProviderKind};
use crate::types::{ChangeOutcome, Delegation, Glue, OperationId};

/// The production API.
pub const CLOUDFLARE_API: &str = "https://api.cloudflare.com/client/v4";

/// TTL of the records the adapter writes.
const TTL: u32 = 3600;

/// Records asked for per page when listing.
const PER_PAGE: u32 = 100;

/// The Cloudflare adapter (parent-zone role).
#[derive(Debug)]
pub struct Cloudflare {
    /// HTTP client, limits and retries.
    http: Http,
    /// How requests authenticate.
    auth: CloudflareCredentials,
    /// Zones found so far, by the domain they were looked up for.
    zones: Mutex<HashMap<DomainName, Zone>>,
}

/// A zone at Cloudflare that holds (or is) a domain's delegation.
#[derive(Clone, Debug)]
struct Zone {
    /// The zone id.
    id: String,
    /// The zone name.
    name: String,
    /// `true` when the domain is the zone itself rather than a name below it.
    apex: bool,
    /// The nameservers Cloudflare assigned to the zone.
    name_servers: Vec<String>,
    /// The owning account, for the registrar look-up.
    account_id: Option<String>,
}

/// The response envelope of every call.
#[derive(Debug, Deserialize)]
struct Envelope<T> {
    /// Whether the call succeeded.
    #[serde(default)]
    success: bool,
    /// Errors, when it did not.
    #[serde(default)]
    errors: Vec<ApiError>,
    /// The payload.
    result: Option<T>,
    /// Paging information of list calls.
    result_info: Option<ResultInfo>,
}

/// One entry of `errors[]`.
#[derive(Debug, Deserialize)]
struct ApiError {
    /// Cloudflare's error code.
    #[serde(default)]
    code: i64,
    /// Its text.
    #[serde(default)]
    message: String,
    /// Nested causes.
    #[serde(default)]
    error_chain: Vec<ApiError>,
}

impl ApiError {
    /// Returns this code and every nested code.
    fn codes(&self) -> Vec<i64> {
        std::iter::once(self.code)
            .chain(self.error_chain.iter().flat_map(ApiError::codes))
            .collect()
    }
}

/// Paging information.
#[derive(Debug, Deserialize)]
struct ResultInfo {
    /// This page's number.
    #[serde(default)]
    page: u32,
    /// How many pages there are.
    #[serde(default)]
    total_pages: u32,
}

/// A zone as listed by `GET /zones`.
#[derive(Debug, Deserialize)]
struct ApiZone {
    /// Zone id.
    id: String,
    /// Zone name.
    name: String,
    /// Assigned nameservers.
    #[serde(default)]
    name_servers: Vec<String>,
    /// Owning account.
    account: Option<ApiAccount>,
}

/// The account a zone belongs to.
#[derive(Debug, Deserialize)]
struct ApiAccount {
    /// Account id.
    id: String,
}

/// A DNS record as listed.
#[derive(Clone, Debug, Deserialize)]
struct ApiRecord {
    /// Record id.
    id: String,
    /// Record type.
    #[serde(rename = "type")]
    kind: String,
    /// Presentation-form content.
    #[serde(default)]
    content: String,
    /// Structured data (DS records).
    data: Option<DsData>,
}

/// The structured data of a DS record.
#[derive(Clone, Debug, Deserialize)]
struct DsData {
    /// Key tag.
    key_tag: u16,
    /// Algorithm number.
    algorithm: u8,
    /// Digest type number.
    digest_type: u8,
    /// Digest in hex.
    digest: String,
}

impl ApiRecord {
    /// Parses the record as a DS record.
    fn ds(&self) -> Option<DsRecord> {
        match &self.data {
            Some(data) => format!(
                "{} {} {} {}",
                data.key_tag, data.algorithm, data.digest_type, data.digest
            )
            .parse()
            .ok(),
            None => self.content.parse().ok(),
        }
    }

    /// Parses the record content as a host name.
    fn host(&self) -> Option<NameserverName> {
        NameserverName::new(&self.content).ok()
    }

    /// Parses the record content as an address.
    fn address(&self) -> Option<IpAddr> {
        self.content.trim().parse().ok()
    }
}

/// Record changes sent in one batch.
#[derive(Debug, Default)]
struct Batch {
    /// Ids of records to delete.
    deletes: Vec<String>,
    /// Records to create.
    posts: Vec<Value>,
}

impl Batch {
    /// Returns `true` when there is nothing to send.
    fn is_empty(&self) -> bool {
        self.deletes.is_empty() && self.posts.is_empty()
    }
}

impl Cloudflare {
    /// Builds the adapter; `config.credentials` must be Cloudflare credentials.
    pub fn new(config: &ProviderConfig) -> Result<Self> {
        let Credentials::Cloudflare(auth) = &config.credentials else {
            return Err(crate::credentials::wrong_credentials(
                ProviderKind::Cloudflare,
                &config.credentials,
            ));
        };
        Ok(Self {
            http: Http::new(ProviderKind::Cloudflare, config, CLOUDFLARE_API, &[])?,
            auth: auth.clone(),
            zones: Mutex::new(HashMap::new()),
        })
    }

    /// Adds the authentication headers.
    fn authorise(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.auth {
            CloudflareCredentials::ApiToken { api_token } => request.bearer_auth(api_token.expose()),
            CloudflareCredentials::GlobalKey { email, api_key } => request
                .header("X-Auth-Email", email.as_str())
                .header("X-Auth-Key", api_key.expose()),
        }
    }

    /// Turns an error reply into an [`Error`].
    fn check(&self, reply: &Reply) -> Result<()> {
        if reply.is_success() {
            return Ok(());
        }
        if let Some(error) = self.http.common_status_error(reply) {
            return Err(error);
        }
        let envelope: Option<Envelope<Value>> = serde_json::from_slice(&reply.body).ok();
        let errors = envelope.map(|envelope| envelope.errors).unwrap_or_default();
        let codes: Vec<i64> = errors.iter().flat_map(ApiError::codes).collect();
        let text = errors
            .iter()
            .map(|error| format!("{} {}", error.code, error.message))
            .collect::<Vec<_>>()
            .join("; ");
        // 6003/6103/6111: malformed or missing auth headers; 10000: authentication error.
        let bad_credentials = codes.iter().any(|code| matches!(code, 6003 | 6100..=6199 | 10000));
        match reply.status {
            401 => Err(Error::InvalidCredentials),
            400 | 403 if bad_credentials => Err(Error::InvalidCredentials),
            403 => Err(Error::PermissionDenied {
                detail: self.http.scrub(&format!(
                    "Cloudflare answered 403 ({text}); the token needs Zone:Zone:Read and Zone:DNS:Edit on the zone"
                )),
            }),
            _ if text.is_empty() => Err(self.http.unexpected("Cloudflare", reply)),
            _ => Err(self.http.rejected(&format!("Cloudflare: {text}"))),
        }
    }

    /// Sends a request and decodes the envelope's `result`.
    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        label: &str,
        retry: Retry,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<(T, Option<ResultInfo>)> {
        let reply = self
            .http
            .send(
                label,
                retry,
                |client| self.authorise(build(client)),
                |reply| self.check(reply),
            )
            .await?;
        let envelope: Envelope<T> = self.http.json("Cloudflare", &reply)?;
        if !envelope.success {
            let text = envelope
                .errors
                .iter()
                .map(|error| format!("{} {}", error.code, error.message))
                .collect::<Vec<_>>()
                .join("; ");
            return Err(self.http.rejected(&format!("Cloudflare: {text}")));
        }
        let result = envelope
            .result
            .ok_or_else(|| self.http.unexpected("Cloudflare", &reply))?;
        Ok((result, envelope.result_info))
    }

    /// Finds the zone holding `domain`: the domain itself, or its longest parent that is a
    /// zone the credentials can see.
    ///
    /// A 403 for one candidate (zone-scoped tokens) means "not this one"; a rejected token
    /// is reported at once.
    async fn zone(&self, domain: &DomainName) -> Result<Zone> {
        if let Some(zone) = self.zones.lock().ok().and_then(|zones| zones.get(domain).cloned()) {
            return Ok(zone);
        }
        let name = domain.as_str();
        let candidates: Vec<&str> = name
            .char_indices()
            .filter(|(_, c)| *c == '.')
            .map(|(index, _)| &name[index + 1..])
            .filter(|suffix| suffix.contains('.'))
            .collect();
        for candidate in std::iter::once(name).chain(candidates) {
            let url = format!("{}/zones", self.http.base());
            let found = self
                .call::<Vec<ApiZone>>("GET /zones", Retry::Read, |client| {
                    client.get(&url).query(&[("name", candidate)])
                })
                .await;
            let zones = match found {
                Ok((zones, _)) => zones,
                Err(Error::PermissionDenied { .. }) => continue,
                Err(error) => return Err(error),
            };
            if let Some(zone) = zones.into_iter().find(|zone| zone.name.eq_ignore_ascii_case(candidate)) {
                let zone = Zone {
                    id: zone.id,
                    name: zone.name,
                    apex: candidate == name,
                    name_servers: zone.name_servers,
                    account_id: zone.account.map(|account| account.id),
                };
                if let Ok(mut zones) = self.zones.lock() {
                    zones.insert(domain.clone(), zone.clone());
                }
                return Ok(zone);
            }
        }
        Err(Error::DomainNotInAccount {
            domain: domain.to_string(),
        })
    }

    /// Returns the read-only error for a domain that is a zone apex here.
    async fn apex_error(&self, zone: &Zone) -> Error {
        let registered_here = match &zone.account_id {
            Some(account) => {
                let url = format!(
                    "{}/accounts/{account}/registrar/domains/{}",
                    self.http.base(),
                    zone.name
                );
                self.call::<Value>("GET /accounts/registrar/domains", Retry::Read, |client| {
                    client.get(&url)
                })
                .await
                .is_ok()
            }
            None => false,
        };
        let reason = if registered_here {
            format!(
                "{} is registered at Cloudflare Registrar, which only allows Cloudflare's own nameservers; \
                 its nameservers cannot be changed through the API (transfer the domain to another registrar first)",
                zone.name
            )
        } else {
            format!(
                "{} is a zone hosted at Cloudflare; its own nameservers are set at its registrar, not in the zone \
                 (use the registrar's adapter, or delegate a name below it such as pool.{})",
                zone.name, zone.name
            )
        };
        Error::ReadOnly { reason: reason.into() }
    }

    /// Lists every record named `name` in the zone.
    async fn records(&self, zone: &Zone, name: &str) -> Result<Vec<ApiRecord>> {
        let url = format!("{}/zones/{}/dns_records", self.http.base(), zone.id);
        let mut records = Vec::new();
        let mut page = 1u32;
        loop {
            let page_text = page.to_string();
            let per_page = PER_PAGE.to_string();
            let (batch, info) = self
                .call::<Vec<ApiRecord>>("GET /zones/dns_records", Retry::Read, |client| {
                    client
                        .get(&url)
                        .query(&[("name", name), ("per_page", &per_page), ("page", &page_text)])
                })
                .await?;
            records.extend(batch);
            match info {
                Some(info) if info.page < info.total_pages && page < 1000 => page += 1,
                _ => return Ok(records),
            }
        }
    }

    /// Sends record changes as one batch (deletes run before creates).
    async fn apply(&self, zone: &Zone, batch: Batch) -> Result<ChangeOutcome> {
        if batch.is_empty() {
            return Ok(ChangeOutcome::AlreadyInSync);
        }
        let url = format!("{}/zones/{}/dns_records/batch", self.http.base(), zone.id);
        let body = json!({
            "deletes": batch.deletes.iter().map(|id| json!({"id": id})).collect::<Vec<_>>(),
            "posts": batch.posts,
        });
        tracing::info!(
            provider = "cloudflare",
            zone = %zone.name,
            deletes = batch.deletes.len(),
            creates = batch.posts.len(),
            "changing records"
        );
        self.call::<Value>("POST /zones/dns_records/batch", Retry::Create, |client| {
            client.post(&url).json(&body)
        })
        .await?;
        Ok(ChangeOutcome::Applied)
    }

    /// Removes the delegation of `domain` from the parent zone: its NS and
    /// DS records, DS first in the same batch (deletes run in order), so
    /// no resolver sees a DS without the NS it belongs to.
    pub async fn remove_delegation(&self, domain: &DomainName) -> Result<ChangeOutcome> {
        let zone = self.writable_zone(domain).await?;
        let records = self.records(&zone, domain.as_str()).await?;
        let mut batch = Batch::default();
        for kind in ["DS", "NS"] {
            batch.deletes.extend(
                records
                    .iter()
                    .filter(|record| record.kind == kind)
                    .map(|record| record.id.clone()),
            );
        }
        self.apply(&zone, batch).await
    }

    /// Returns the zone holding `domain`, failing for an apex (read-only) domain.
    async fn writable_zone(&self, domain: &DomainName) -> Result<Zone> {
        let zone = self.zone(domain).await?;
        if zone.apex {
            return Err(self.apex_error(&zone).await);
        }
        Ok(zone)
    }
}

/// Fails when records of other types share the delegated name, which Cloudflare refuses.
fn refuse_other_types(domain: &DomainName, records: &[ApiRecord]) -> Result<()> {
    let mut others: Vec<&str> = records
        .iter()
        .map(|record| record.kind.as_str())
        .filter(|kind| !matches!(*kind, "NS" | "DS"))
        .collect();
    others.sort_unstable();
    others.dedup();
    if others.is_empty() {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "{domain} already has {} record(s) in the parent zone; a delegation point may only hold NS and DS \
             records, so remove them first",
            others.join("/")
        )))
    }
}

impl DelegationProvider for Cloudflare {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Cloudflare
    }

    async fn read(&self, domain: &DomainName) -> Result<Delegation> {
        let zone = self.zone(domain).await?;
        if zone.apex {
            let nameservers = zone
                .name_servers
                .iter()
                .filter_map(|name| NameserverName::new(name).ok())
                .collect();
            return Ok(Delegation { nameservers, ds: None });
        }
        let records = self.records(&zone, domain.as_str()).await?;
        let nameservers = records
            .iter()
            .filter(|record| record.kind == "NS")
            .filter_map(ApiRecord::host)
            .collect();
        let ds = records
            .iter()
            .filter(|record| record.kind == "DS")
            .filter_map(ApiRecord::ds)
            .collect();
        Ok(Delegation {
            nameservers,
            ds: Some(ds),
        })
    }

    async fn set_nameservers(&self, domain: &DomainName, wanted: &[NameserverName]) -> Result<ChangeOutcome> {
        let caps = self.capabilities();
        // Check the request before any call, so bad input never reaches the provider.
        plan_nameservers(&[], wanted, &caps)?;
        let zone = self.writable_zone(domain).await?;
        let records = self.records(&zone, domain.as_str()).await?;
        refuse_other_types(domain, &records)?;
        let ns_records: Vec<(&ApiRecord, Option<NameserverName>)> = records
            .iter()
            .filter(|record| record.kind == "NS")
            .map(|record| (record, record.host()))
            .collect();
        let current: Vec<NameserverName> = ns_records.iter().filter_map(|(_, host)| host.clone()).collect();
        let NsPlan::Replace(list) = plan_nameservers(&current, wanted, &caps)? else {
            return Ok(ChangeOutcome::AlreadyInSync);
        };
        let mut batch = Batch::default();
        for (record, host) in &ns_records {
            if !host.as_ref().is_some_and(|host| list.contains(host)) {
                batch.deletes.push(record.id.clone());
            }
        }
        for host in list.iter().filter(|host| !current.contains(host)) {
            batch.posts.push(json!({
                "type": "NS", "name": domain.as_str(), "content": host.as_str(), "ttl": TTL,
            }));
        }
        self.apply(&zone, batch).await
    }

    async fn ensure_glue(&self, domain: &DomainName, glue: &[Glue]) -> Result<ChangeOutcome> {
        let caps = self.capabilities();
        caps.require(caps.glue, "ensure glue")?;
        crate::plan::check_glue(domain, glue, &caps)?;
        if glue.is_empty() {
            return Ok(ChangeOutcome::AlreadyInSync);
        }
        let zone = self.writable_zone(domain).await?;
        let mut batch = Batch::default();
        for entry in glue {
            let records = self.records(&zone, entry.host.as_str()).await?;
            if let Some(other) = records
                .iter()
                .find(|record| !matches!(record.kind.as_str(), "A" | "AAAA"))
            {
                return Err(Error::invalid(format!(
                    "{} already has a {} record; glue needs plain A/AAAA records there",
                    entry.host, other.kind
                )));
            }
            let mut present = Vec::new();
            for record in &records {
                match record.address() {
                    Some(address) if entry.addresses.contains(&address) && !present.contains(&address) => {
                        present.push(address)
                    }
                    _ => batch.deletes.push(record.id.clone()),
                }
            }
            for address in entry.addresses.iter().filter(|address| !present.contains(address)) {
                let kind = if address.is_ipv4() { "A" } else { "AAAA" };
                batch.posts.push(json!({
                    "type": kind, "name": entry.host.as_str(), "content": address.to_string(),
                    "ttl": TTL, "proxied": false,
                }));
            }
        }
        self.apply(&zone, batch).await
    }

    async fn set_ds(&self, domain: &DomainName, wanted: &[DsSpec]) -> Result<ChangeOutcome> {
        let caps = self.capabilities();
        plan_ds(&[], wanted, &caps)?;
        let zone = self.writable_zone(domain).await?;
        let records = self.records(&zone, domain.as_str()).await?;
        let ds_records: Vec<(&ApiRecord, Option<DsRecord>)> = records
            .iter()
            .filter(|record| record.kind == "DS")
            .map(|record| (record, record.ds()))
            .collect();
        let current: Vec<DsRecord> = ds_records.iter().filter_map(|(_, ds)| ds.clone()).collect();
        let DsPlan::Replace { add, remove, .. } = plan_ds(&current, wanted, &caps)? else {
            return Ok(ChangeOutcome::AlreadyInSync);
        };
        if !add.is_empty() && !records.iter().any(|record| record.kind == "NS") {
            return Err(Error::invalid(format!(
                "{domain} has no NS records in zone {}; Cloudflare accepts DS records only next to NS records, \
                 so set the nameservers first",
                zone.name
            )));
        }
        let mut batch = Batch::default();
        for (record, ds) in &ds_records {
            if ds.as_ref().is_none_or(|ds| remove.contains(ds)) {
                batch.deletes.push(record.id.clone());
            }
        }
        for spec in &add {
            let ds = spec.ds();
            batch.posts.push(json!({
                "type": "DS", "name": domain.as_str(), "ttl": TTL,
                "data": {
                    "key_tag": ds.key_tag(), "algorithm": ds.algorithm(),
                    "digest_type": ds.digest_type(), "digest": ds.digest_hex(),
                },
            }));
        }
        self.apply(&zone, batch).await
    }

    async fn poll(&self, _domain: &DomainName, _operation: &OperationId) -> Result<ChangeOutcome> {
        Ok(ChangeOutcome::Applied)
    }
}
