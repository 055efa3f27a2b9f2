//! The delegation-provider contract and what each provider can do.

use std::borrow::Cow;
use std::future::Future;

use crate::ds::DsSpec;
use crate::error::{Error, Result};
pub use crate::kind::ProviderKind;
use crate::names::{DomainName, NameserverName};
use crate::types::{ChangeOutcome, Delegation, Glue, OperationId, Verification};

/// Reads and changes one domain's parent-side delegation through one provider's API.
///
/// Every mutating method reads the current state first, compares it with the wanted state
/// using [`crate::plan`], and only writes on a difference. A repeated call therefore answers
/// [`ChangeOutcome::AlreadyInSync`], and a provider with asynchronous operations hands back
/// the operation that is already open rather than queueing a second one. Callers may retry
/// any method after a timeout.
///
/// The methods return `impl Future + Send` so implementations can use plain `async fn` and
/// their futures can be spawned on a multi-threaded runtime. The trait is not object-safe;
/// to choose a provider at run time, wrap the concrete adapters in an enum.
pub trait DelegationProvider: Send + Sync {
    /// Returns which provider this is.
    fn kind(&self) -> ProviderKind;

    /// Returns what this provider can do; by default the table from [`capabilities`].
    ///
    /// Adapters narrow it when the account or domain allows less (an OVH domain without
    /// `hostSupported`, a Cloudflare Registrar domain that is read-only).
    fn capabilities(&self) -> Capabilities {
        capabilities(self.kind())
    }

    /// Reads the current NS set and, where the provider reports it, the DS set.
    ///
    /// A successful read also proves that the credentials work and that the domain is in
    /// the account, so it doubles as a credential check.
    fn read(&self, domain: &DomainName) -> impl Future<Output = Result<Delegation>> + Send;

    /// Replaces the NS set with `wanted` (order is not significant).
    ///
    /// Nameservers inside `domain` need their glue first; see [`Self::ensure_glue`].
    fn set_nameservers(
        &self,
        domain: &DomainName,
        wanted: &[NameserverName],
    ) -> impl Future<Output = Result<ChangeOutcome>> + Send;

    /// Makes sure each listed host exists at the registry with exactly these addresses.
    ///
    /// Creates or updates the listed hosts and never deletes hosts that are not listed.
    /// Every host must lie inside `domain`.
    fn ensure_glue(&self, domain: &DomainName, glue: &[Glue]) -> impl Future<Output = Result<ChangeOutcome>> + Send;

    /// Replaces the DS set with `wanted`; an empty slice removes all DS records.
    ///
    /// Publish DS only once the parent serves the new NS set, and remove it before moving
    /// the NS set away, or validating resolvers will fail the domain.
    fn set_ds(&self, domain: &DomainName, wanted: &[DsSpec]) -> impl Future<Output = Result<ChangeOutcome>> + Send;

    /// Checks an operation returned as [`ChangeOutcome::Pending`].
    ///
    /// Answers `Pending` while it runs, `Applied` once it is done, and
    /// [`Error::OperationFailed`] if the provider reports failure. Providers without
    /// asynchronous operations answer `Applied`.
    fn poll(&self, domain: &DomainName, operation: &OperationId) -> impl Future<Output = Result<ChangeOutcome>> + Send;

    /// Reads the delegation and compares it with `wanted`.
    ///
    /// This is the provider API's view; whether the parent's servers already answer with
    /// it must be checked separately with DNS queries. `wanted.ds == None` skips the DS
    /// comparison.
    fn verify(&self, domain: &DomainName, wanted: &Delegation) -> impl Future<Output = Result<Verification>> + Send {
        async move {
            let observed = self.read(domain).await?;
            Ok(Verification::compare(observed, wanted))
        }
    }
}

/// How far a provider supports one kind of change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Support {
    /// Possible through the API.
    Yes,
    /// Possible only by hand in the provider's control panel or through its support.
    ManualOnly,
    /// Not possible at this provider.
    No,
}

/// What a provider can do through its API.
///
/// [`capabilities`] gives the provider-wide values; some depend on the domain (OVH reports
/// glue and DNSSEC support per domain), and an adapter narrows them once it knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Capabilities {
    /// Whether the NS set can be replaced.
    pub nameservers: Support,
    /// Whether glue (registry host objects) can be created and updated.
    pub glue: Support,
    /// Whether glue may carry IPv6 addresses.
    pub glue_ipv6: bool,
    /// Whether a glue host may carry more than one address.
    pub glue_multiple_addresses: bool,
    /// Whether the DS set can be replaced.
    pub ds: Support,
    /// Whether the provider takes DNSKEYs instead of DS digests.
    pub ds_requires_dnskey: bool,
    /// The most DS entries the provider accepts, when it has a limit.
    pub max_ds: Option<usize>,
    /// Whether changes may come back as [`ChangeOutcome::Pending`].
    pub async_operations: bool,
    /// The fewest nameservers the provider accepts.
    pub min_nameservers: usize,
    /// The most nameservers the provider accepts.
    ///
    /// Providers without a documented limit use 13, which keeps a referral within one
    /// classic 512-byte response.
    pub max_nameservers: usize,
    /// Set when nothing can be changed here, with the reason.
    pub read_only: Option<&'static str>,
}

impl Capabilities {
    /// Returns capabilities that allow reading only, for the given reason.
    pub fn read_only(reason: &'static str) -> Self {
        Self {
            nameservers: Support::No,
            glue: Support::No,
            glue_ipv6: false,
            glue_multiple_addresses: false,
            ds: Support::No,
            ds_requires_dnskey: false,
            max_ds: None,
            async_operations: false,
            min_nameservers: 1,
            max_nameservers: 13,
            read_only: Some(reason),
        }
    }

    /// Returns `true` when the NS set can be changed through the API.
    pub fn can_set_nameservers(&self) -> bool {
        self.require(self.nameservers, "").is_ok()
    }

    /// Returns `true` when glue can be changed through the API.
    pub fn can_set_glue(&self) -> bool {
        self.require(self.glue, "").is_ok()
    }

    /// Returns `true` when the DS set can be changed through the API.
    pub fn can_set_ds(&self) -> bool {
        self.require(self.ds, "").is_ok()
    }

    /// Fails with [`Error::ReadOnly`] or [`Error::Unsupported`] unless `support` allows
    /// `operation` through the API.
    pub fn require(&self, support: Support, operation: &'static str) -> Result<()> {
        if let Some(reason) = self.read_only {
            return Err(Error::ReadOnly {
                reason: Cow::Borrowed(reason),
            });
        }
        let reason = match support {
            Support::Yes => return Ok(()),
            Support::ManualOnly => "only possible in the provider's control panel",
            Support::No => "not offered by this provider",
        };
        Err(Error::Unsupported {
            operation,
            reason: Cow::Borrowed(reason),
        })
    }
}

/// Returns the provider-wide capabilities of `provider`.
///
/// Cloudflare here means Cloudflare hosting the *parent* zone (delegating a subdomain with
/// NS, glue and DS records); a domain registered at Cloudflare Registrar cannot be moved to
/// other nameservers at all, and its adapter reports [`Capabilities::read_only`].
pub fn capabilities(provider: ProviderKind) -> Capabilities {
    match provider {
        // DS records are accepted only where NS records already exist at the same name.
        ProviderKind::Cloudflare => Capabilities {
            nameservers: Support::Yes,
            glue: Support::Yes,
            glue_ipv6: true,
            glue_multiple_addresses: true,
            ds: Support::Yes,
            ds_requires_dnskey: false,
            max_ds: None,
            async_operations: false,
            min_nameservers: 1,
            max_nameservers: 13,
            read_only: None,
        },
        // One IPv4 address per glue host; DNSSEC exists in the control panel only.
        ProviderKind::Namecheap => Capabilities {
            nameservers: Support::Yes,
            glue: Support::Yes,
            glue_ipv6: false,
            glue_multiple_addresses: false,
            ds: Support::ManualOnly,
            ds_requires_dnskey: false,
            max_ds: None,
            async_operations: false,
            min_nameservers: 2,
            max_nameservers: 12,
            read_only: None,
        },
        // Host (glue) creation is not usable through the API; v2 changes are async actions.
        ProviderKind::GoDaddy => Capabilities {
            nameservers: Support::Yes,
            glue: Support::ManualOnly,
            glue_ipv6: false,
            glue_multiple_addresses: false,
            ds: Support::Yes,
            ds_requires_dnskey: false,
            max_ds: None,
            async_operations: true,
            min_nameservers: 2,
            max_nameservers: 13,
            read_only: None,
        },
        // Every change is a registry task; DS is published from DNSKEYs, at most four.
        ProviderKind::Ovh => Capabilities {
            nameservers: Support::Yes,
            glue: Support::Yes,
            glue_ipv6: true,
            glue_multiple_addresses: true,
            ds: Support::Yes,
            ds_requires_dnskey: true,
            max_ds: Some(4),
            async_operations: true,
            min_nameservers: 2,
            max_nameservers: 13,
            read_only: None,
        },
        // ns0-ns12 in one call; glue hosts take ip0-ip9; set_dnssec takes one DS record.
        ProviderKind::Dynadot => Capabilities {
            nameservers: Support::Yes,
            glue: Support::Yes,
            glue_ipv6: true,
            glue_multiple_addresses: true,
            ds: Support::Yes,
            ds_requires_dnskey: false,
            max_ds: Some(1),
            async_operations: false,
            min_nameservers: 2,
            max_nameservers: 13,
            read_only: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::ds::DsRecord;
    use crate::plan::{plan_ds, plan_nameservers, DsPlan, NsPlan};

    /// Parses a nameserver name that the test knows to be valid.
    fn ns(name: &str) -> NameserverName {
        NameserverName::new(name).expect("valid nameserver")
    }

    /// The one domain in the test account.
    fn domain() -> DomainName {
        DomainName::new("example.com").expect("valid domain")
    }

    #[test]
    fn provider_names_round_trip() {
        for kind in ProviderKind::ALL {
            assert_eq!(kind.to_string().parse::<ProviderKind>().ok(), Some(kind));
            assert_eq!(kind.as_str(), kind.as_str().to_ascii_lowercase());
        }
        assert_eq!(" GoDaddy ".parse::<ProviderKind>().ok(), Some(ProviderKind::GoDaddy));
        assert_eq!(ProviderKind::Ovh.to_string(), "ovh");
    }

    #[test]
    fn unknown_provider_lists_the_supported_names() {
        let error = "route53".parse::<ProviderKind>().expect_err("unknown");
        assert_eq!(error.code(), "unsupported-registrar");
        let message = error.to_string();
        for kind in ProviderKind::ALL {
            assert!(message.contains(kind.as_str()), "{message}");
        }
    }

    #[test]
    fn provider_kind_serde() {
        let kind: ProviderKind = serde_json::from_str("\"Dynadot\"").expect("known");
        assert_eq!(kind, ProviderKind::Dynadot);
        assert_eq!(serde_json::to_string(&kind).expect("serialises"), "\"dynadot\"");
        assert!(serde_json::from_str::<ProviderKind>("\"route53\"").is_err());
    }

    #[test]
    fn capability_table() {
        use ProviderKind::*;
        // (provider, NS, glue, DS, async, min, max)
        let table = [
            (Cloudflare, true, true, true, false, 1, 13),
            (Namecheap, true, true, false, false, 2, 12),
            (GoDaddy, true, false, true, true, 2, 13),
            (Ovh, true, true, true, true, 2, 13),
            (Dynadot, true, true, true, false, 2, 13),
        ];
        for (kind, set_ns, glue, ds, asynchronous, min, max) in table {
            let caps = capabilities(kind);
            assert_eq!(caps.can_set_nameservers(), set_ns, "{kind}");
            assert_eq!(caps.can_set_glue(), glue, "{kind}");
            assert_eq!(caps.can_set_ds(), ds, "{kind}");
            assert_eq!(caps.async_operations, asynchronous, "{kind}");
            assert_eq!(caps.min_nameservers, min, "{kind}");
            assert_eq!(caps.max_nameservers, max, "{kind}");
            assert_eq!(caps.read_only, None, "{kind}");
        }
        let ovh = capabilities(Ovh);
        assert!(ovh.ds_requires_dnskey);
        assert_eq!(ovh.max_ds, Some(4));
        let namecheap = capabilities(Namecheap);
        assert!(!namecheap.glue_ipv6 && !namecheap.glue_multiple_addresses);
        assert_eq!(namecheap.ds, Support::ManualOnly);
    }

    #[test]
    fn require_explains_why() {
        let namecheap = capabilities(ProviderKind::Namecheap);
        let error = namecheap.require(namecheap.ds, "set DS").expect_err("manual only");
        assert_eq!(
            error.to_string(),
            "set DS is not supported: only possible in the provider's control panel"
        );
        let locked = Capabilities::read_only("Cloudflare Registrar domains use Cloudflare DNS");
        assert!(!locked.can_set_nameservers());
        let error = locked.require(Support::Yes, "set nameservers").expect_err("read-only");
        assert_eq!(error.code(), "read-only");
    }

    /// The NS and DS sets of each domain in the [`Memory`] account.
    type Account = HashMap<DomainName, (Vec<NameserverName>, Vec<DsRecord>)>;

    /// An in-memory provider built on the shared planning code, as adapters will be.
    #[derive(Clone)]
    struct Memory {
        kind: ProviderKind,
        state: Arc<Mutex<Account>>,
        writes: Arc<Mutex<usize>>,
    }

    impl Memory {
        /// Creates an account holding [`domain`] with the given NS set and no DS.
        fn new(kind: ProviderKind, nameservers: &[&str]) -> Self {
            let current = nameservers.iter().map(|name| ns(name)).collect();
            Self {
                kind,
                state: Arc::new(Mutex::new(HashMap::from([(domain(), (current, Vec::new()))]))),
                writes: Arc::new(Mutex::new(0)),
            }
        }

        /// Returns how many changes were written.
        fn writes(&self) -> usize {
            *self.writes.lock().expect("not poisoned")
        }

        /// Returns a domain's NS and DS sets, or the not-in-account error.
        fn lookup(&self, domain: &DomainName) -> Result<(Vec<NameserverName>, Vec<DsRecord>)> {
            self.state
                .lock()
                .expect("not poisoned")
                .get(domain)
                .cloned()
                .ok_or_else(|| Error::DomainNotInAccount {
                    domain: domain.to_string(),
                })
        }
    }

    impl DelegationProvider for Memory {
        fn kind(&self) -> ProviderKind {
            self.kind
        }

        async fn read(&self, domain: &DomainName) -> Result<Delegation> {
            let (nameservers, ds) = self.lookup(domain)?;
            Ok(Delegation {
                nameservers,
                ds: Some(ds),
            })
        }

        async fn set_nameservers(&self, domain: &DomainName, wanted: &[NameserverName]) -> Result<ChangeOutcome> {
            let current = self.read(domain).await?;
            match plan_nameservers(&current.nameservers, wanted, &self.capabilities())? {
                NsPlan::AlreadyInSync => Ok(ChangeOutcome::AlreadyInSync),
                NsPlan::Replace(list) => {
                    if let Some(entry) = self.state.lock().expect("not poisoned").get_mut(domain) {
                        entry.0 = list;
                    }
                    *self.writes.lock().expect("not poisoned") += 1;
                    Ok(ChangeOutcome::Applied)
                }
            }
        }

        async fn ensure_glue(&self, _domain: &DomainName, _glue: &[Glue]) -> Result<ChangeOutcome> {
            let caps = self.capabilities();
            caps.require(caps.glue, "ensure glue")?;
            Ok(ChangeOutcome::AlreadyInSync)
        }

        async fn set_ds(&self, domain: &DomainName, wanted: &[DsSpec]) -> Result<ChangeOutcome> {
            let (_, current) = self.lookup(domain)?;
            match plan_ds(&current, wanted, &self.capabilities())? {
                DsPlan::AlreadyInSync => Ok(ChangeOutcome::AlreadyInSync),
                DsPlan::Replace { wanted, .. } => {
                    if let Some(entry) = self.state.lock().expect("not poisoned").get_mut(domain) {
                        entry.1 = wanted.iter().map(|spec| spec.ds().clone()).collect();
                    }
                    *self.writes.lock().expect("not poisoned") += 1;
                    Ok(ChangeOutcome::Applied)
                }
            }
        }

        async fn poll(&self, _domain: &DomainName, _operation: &OperationId) -> Result<ChangeOutcome> {
            Ok(ChangeOutcome::Applied)
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mutating_calls_are_idempotent_and_send() {
        let provider = Memory::new(ProviderKind::Dynadot, &["ns1.old-host.net", "ns2.old-host.net"]);
        let wanted = vec![ns("NS1.pool-dns.net."), ns("ns2.pool-dns.net")];

        let task = {
            let provider = provider.clone();
            let wanted = wanted.clone();
            tokio::spawn(async move { provider.set_nameservers(&domain(), &wanted).await })
        };
        let first = task.await.expect("task ran").expect("applied");
        assert_eq!(first, ChangeOutcome::Applied);

        let reversed: Vec<_> = wanted.iter().rev().cloned().collect();
        let second = provider.set_nameservers(&domain(), &reversed).await.expect("in sync");
        assert_eq!(second, ChangeOutcome::AlreadyInSync);
        assert_eq!(provider.writes(), 1);

        let ds: DsRecord = "2371 13 2 c988ec423e3880eb8dd8a46fe06ca230ee23f35b578d64e78b29c3e1c83d245a"
            .parse()
            .expect("valid DS");
        let specs = [DsSpec::from(ds.clone())];
        assert_eq!(
            provider.set_ds(&domain(), &specs).await.ok(),
            Some(ChangeOutcome::Applied)
        );
        assert_eq!(
            provider.set_ds(&domain(), &specs).await.ok(),
            Some(ChangeOutcome::AlreadyInSync)
        );
        assert_eq!(provider.writes(), 2);

        let check = provider
            .verify(
                &domain(),
                &Delegation {
                    nameservers: reversed,
                    ds: Some(vec![ds]),
                },
            )
            .await
            .expect("readable");
        assert!(check.is_in_sync());
    }

    #[tokio::test]
    async fn provider_limits_surface_as_errors() {
        let namecheap = Memory::new(ProviderKind::Namecheap, &["ns1.old-host.net", "ns2.old-host.net"]);
        let error = namecheap.set_ds(&domain(), &[]).await.expect_err("manual only");
        assert_eq!(error.code(), "unsupported-operation");

        let godaddy = Memory::new(ProviderKind::GoDaddy, &["ns1.old-host.net", "ns2.old-host.net"]);
        let error = godaddy.ensure_glue(&domain(), &[]).await.expect_err("manual only");
        assert_eq!(error.code(), "unsupported-operation");

        let other = DomainName::new("not-mine.example").expect("valid");
        let error = godaddy.read(&other).await.expect_err("not in account");
        assert_eq!(error.http_status(), 403);
        let error = godaddy
            .verify(&other, &Delegation::default())
            .await
            .expect_err("not in account");
        assert_eq!(error.code(), "domain-not-in-account");
    }
}
