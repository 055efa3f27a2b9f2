//! Delegation providers: change a domain's parent-side delegation through a registrar or
//! DNS-host API.
//!
//! A *delegation* is what the parent zone says about a child: the NS set, glue addresses for
//! nameservers that live inside the child, and the DS set that links the child's DNSSEC keys
//! to the parent. A [`DelegationProvider`] reads and changes that data for one domain through
//! one provider's API (Cloudflare as the parent zone's host, or the registrars Namecheap,
//! GoDaddy, OVH and Dynadot).
//!
//! # Flow
//!
//! Adding or changing a delegation runs in this order:
//!
//! 1. [`DelegationProvider::read`] the current state (this also proves the credentials work
//!    and the domain is in the account);
//! 2. [`DelegationProvider::ensure_glue`] for nameservers inside the domain, because a
//!    registry refuses an NS host that has no address yet;
//! 3. [`DelegationProvider::set_nameservers`];
//! 4. wait until the parent's servers answer with the new NS set, then
//!    [`DelegationProvider::set_ds`];
//! 5. [`DelegationProvider::poll`] any [`ChangeOutcome::Pending`] operation until it is
//!    applied, and [`DelegationProvider::verify`] the result.
//!
//! Removal runs backwards: DS first (an empty set), then nameservers, then glue.
//!
//! Every mutating call reads first, compares and writes only on a difference, so repeating a
//! call after a timeout or a crash is safe: the second call answers
//! [`ChangeOutcome::AlreadyInSync`]. The comparison rules live in [`plan`] and are shared by
//! all adapters. A provider's answer is its API's view only; whether the delegation is live
//! must still be checked with DNS queries against the parent's servers.
//!
//! # Adapters
//!
//! | provider | NS | glue | DS | asynchronous |
//! |---|---|---|---|---|
//! | [`Cloudflare`] (parent zone's host) | NS records | A/AAAA records | DS records (after NS) | no |
//! | [`Namecheap`] | `dns.setCustom` | `ns.create`/`ns.update`, one IPv4 | control panel only | no |
//! | [`GoDaddy`] | v1 `PATCH` or v2 `PUT` | control panel only | v2 `dnssecRecords` | v2 actions |
//! | [`Ovh`] | `nameServers/update` | `glueRecord` | `dsRecord` from DNSKEYs | tasks |
//! | [`Dynadot`] | `add_ns` + `set_ns` | `register_ns`/`set_ns_ip` | `set_dnssec`, one record | no |
//!
//! Build one at run time with [`provider_from_config`] or [`provider_from_token`]; both
//! return an [`AnyProvider`]. Requests are paced by a per-account budget ([`RateLimit`]),
//! and rate limits and server errors are retried with [`Backoff`], honouring `Retry-After`.
//!
//! # Modules
//!
//! - [`types`]: validated names, DS/DNSKEY data and outcomes;
//! - [`provider`]: the trait, per-provider [`Capabilities`] and [`ProviderKind`];
//! - [`plan`]: the pure read-compare step behind every mutating call;
//! - [`retry`]: backoff with full jitter that honours `Retry-After`;
//! - [`error`]: one [`Error`] type with stable codes and HTTP statuses;
//! - [`secret`]: a string wrapper that never prints its value;
//! - [`credentials`]: per-provider credentials, token parsing and [`ProviderConfig`];
//! - [`dns`]: checking the delegation at the parent's servers ([`verify_delegation`]);
//! - [`cloudflare`], [`namecheap`], [`godaddy`], [`ovh`], [`dynadot`]: the adapters.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod any;
pub mod cloudflare;
pub mod credentials;
pub mod dns;
pub mod ds;
pub mod dynadot;
pub mod error;
pub mod godaddy;
mod http;
mod kind;
pub mod namecheap;
pub mod names;
pub mod ovh;
pub mod plan;
pub mod provider;
pub mod retry;
pub mod secret;
pub mod types;
mod xml;

pub use any::{parse_nameservers, provider_from_config, provider_from_token, AnyProvider};
pub use cloudflare::Cloudflare;
pub use credentials::RateLimit;
pub use credentials::{
    CloudflareCredentials, Credentials, DynadotCredentials, GoDaddyCredentials, NamecheapCredentials, OvhCredentials,
    ProviderConfig,
};
pub use dns::{
    find_parent_servers, verify_delegation, verify_delegation_with, DelegationCheck, ServerView, VerifyOptions,
};
pub use ds::{Dnskey, DsRecord, DsSpec};
pub use dynadot::Dynadot;
pub use error::{Error, Result};
pub use godaddy::GoDaddy;
pub use namecheap::Namecheap;
pub use names::{DomainName, NameserverName};
pub use ovh::Ovh;
pub use plan::{plan_ds, plan_nameservers, DsPlan, NsPlan};
pub use provider::{capabilities, Capabilities, DelegationProvider, ProviderKind, Support};
pub use retry::{Backoff, RandomSource, SplitMix64};
pub use secret::Secret;
pub use types::{ChangeOutcome, Delegation, Glue, OperationId, Verification};
