//! The read-compare step shared by every adapter: decide whether a write is needed at all.
//!
//! The functions here are pure. An adapter reads the provider's state, asks for a plan, and
//! only talks to the provider again when the plan says something must change; that is what
//! makes every mutating call safe to repeat.

use crate::ds::{DsRecord, DsSpec};
use crate::error::{Error, Result};
use crate::names::{DomainName, NameserverName};
use crate::provider::Capabilities;
use crate::types::{same_set, Glue};

/// What to do about a domain's NS set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NsPlan {
    /// The provider already has exactly the wanted set (in any order).
    AlreadyInSync,
    /// Send this list as the full replacement; it keeps the caller's order.
    Replace(Vec<NameserverName>),
}

/// Compares the current NS set with the wanted one and checks it against the provider.
///
/// Names are already normalised by [`NameserverName`] (case, trailing dot), and the sets
/// are compared without regard to order. Fails with [`Error::InvalidRequest`] when `wanted`
/// is empty, names a server twice, or has fewer than `caps.min_nameservers` or more than
/// `caps.max_nameservers` entries, and with [`Error::ReadOnly`] or [`Error::Unsupported`]
/// when the provider cannot change nameservers. Repeats in `current` (as read from the
/// provider) are tolerated.
pub fn plan_nameservers(current: &[NameserverName], wanted: &[NameserverName], caps: &Capabilities) -> Result<NsPlan> {
    caps.require(caps.nameservers, "set nameservers")?;
    if wanted.is_empty() {
        return Err(Error::invalid(
            "the nameserver list is empty; removing a delegation is not a nameserver change",
        ));
    }
    if let Some(name) = first_repeat(wanted) {
        return Err(Error::invalid(format!("nameserver {name} is listed twice")));
    }
    if wanted.len() < caps.min_nameservers {
        return Err(Error::invalid(format!(
            "{} nameserver(s) given; this provider needs at least {}",
            wanted.len(),
            caps.min_nameservers
        )));
    }
    if wanted.len() > caps.max_nameservers {
        return Err(Error::invalid(format!(
            "{} nameservers given; this provider accepts at most {}",
            wanted.len(),
            caps.max_nameservers
        )));
    }
    if same_set(current, wanted) {
        Ok(NsPlan::AlreadyInSync)
    } else {
        Ok(NsPlan::Replace(wanted.to_vec()))
    }
}

/// What to do about a domain's DS set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DsPlan {
    /// The provider already has exactly the wanted set (in any order).
    AlreadyInSync,
    /// The sets differ.
    ///
    /// Providers that replace the whole set (OVH, Dynadot) send `wanted`; providers that
    /// add and delete single records (Cloudflare, GoDaddy) use `add` and `remove`, adding
    /// first so the domain is never left without a DS it still needs.
    Replace {
        /// The full wanted set, in the caller's order; may be empty (remove all).
        wanted: Vec<DsSpec>,
        /// Entries of `wanted` the provider does not have yet.
        add: Vec<DsSpec>,
        /// Records the provider has that are not wanted.
        remove: Vec<DsRecord>,
    },
}

/// Compares the current DS set with the wanted one and checks it against the provider.
///
/// DS records are compared as values (the digest as bytes, so hex case never matters) and
/// without regard to order. An empty `wanted` is valid and means "unsigned delegation".
/// Fails with [`Error::InvalidRequest`] when a DS record is listed twice, when there are
/// more than `caps.max_ds` entries, or when the provider needs DNSKEYs
/// (`caps.ds_requires_dnskey`) and an entry has none; fails with [`Error::ReadOnly`] or
/// [`Error::Unsupported`] when the provider cannot change DS records.
///
/// Providers that report DNSKEYs instead of DS records convert what they read into DS
/// records for the child's name before planning.
pub fn plan_ds(current: &[DsRecord], wanted: &[DsSpec], caps: &Capabilities) -> Result<DsPlan> {
    caps.require(caps.ds, "set DS")?;
    let wanted_ds: Vec<DsRecord> = wanted.iter().map(|spec| spec.ds().clone()).collect();
    if let Some(ds) = first_repeat(&wanted_ds) {
        return Err(Error::invalid(format!("DS {ds} is listed twice")));
    }
    if let Some(max) = caps.max_ds {
        if wanted.len() > max {
            return Err(Error::invalid(format!(
                "{} DS entries given; this provider accepts at most {max}",
                wanted.len()
            )));
        }
    }
    if caps.ds_requires_dnskey {
        if let Some(spec) = wanted.iter().find(|spec| spec.dnskey().is_none()) {
            return Err(Error::invalid(format!(
                "this provider publishes DNSKEYs, not digests: give the DNSKEY for DS {}",
                spec.ds()
            )));
        }
    }
    if same_set(current, &wanted_ds) {
        return Ok(DsPlan::AlreadyInSync);
    }
    let add = wanted
        .iter()
        .filter(|spec| !current.contains(spec.ds()))
        .cloned()
        .collect();
    let mut remove: Vec<DsRecord> = current.iter().filter(|ds| !wanted_ds.contains(ds)).cloned().collect();
    remove.sort();
    remove.dedup();
    Ok(DsPlan::Replace {
        wanted: wanted.to_vec(),
        add,
        remove,
    })
}

/// Returns the first value that occurs more than once.
fn first_repeat<T: Ord>(values: &[T]) -> Option<&T> {
    let mut sorted: Vec<&T> = values.iter().collect();
    sorted.sort();
    sorted.windows(2).find(|pair| pair[0] == pair[1]).map(|pair| pair[0])
}

/// Checks glue requests against the domain and the provider's glue limits.
pub(crate) fn check_glue(domain: &DomainName, glue: &[Glue], caps: &Capabilities) -> Result<()> {
    for (index, entry) in glue.iter().enumerate() {
        if !entry.host.is_within(domain) {
            return Err(Error::invalid(format!(
                "{} is not inside {domain}; only nameservers inside the domain get glue",
                entry.host
            )));
        }
        if glue[..index].iter().any(|earlier| earlier.host == entry.host) {
            return Err(Error::invalid(format!("glue for {} is listed twice", entry.host)));
        }
        if entry.addresses.is_empty() {
            return Err(Error::invalid(format!("glue for {} has no address", entry.host)));
        }
        if let Some(address) = entry
            .addresses
            .iter()
            .enumerate()
            .find(|(position, address)| entry.addresses[..*position].contains(address))
            .map(|(_, address)| address)
        {
            return Err(Error::invalid(format!("glue for {} lists {address} twice", entry.host)));
        }
        if !caps.glue_ipv6 && entry.addresses.iter().any(|address| address.is_ipv6()) {
            return Err(Error::invalid(format!(
                "glue for {}: this provider accepts IPv4 glue only",
                entry.host
            )));
        }
        if !caps.glue_multiple_addresses && entry.addresses.len() > 1 {
            return Err(Error::invalid(format!(
                "glue for {}: this provider accepts one address per host, got {}",
                entry.host,
                entry.addresses.len()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;
    /// The domain of the glue tests.
    fn domain() -> DomainName {
        DomainName::new("example.com").expect("valid")
    }

    /// Builds a glue entry.
    fn glue(host: &str, addresses: &[&str]) -> Glue {
        Glue {
            host: NameserverName::new(host).expect("valid"),
            addresses: addresses
                .iter()
                .map(|address| address.parse::<IpAddr>().expect("valid address"))
                .collect(),
        }
    }

    /// Returns the detail of an expected invalid-request error.
    fn glue_detail(result: Result<()>) -> String {
        match result {
            Err(Error::InvalidRequest { detail }) => detail,
            other => panic!("expected InvalidRequest, got {other:?}"),
        }
    }

    #[test]
    fn glue_checks() {
        let ovh = capabilities(ProviderKind::Ovh);
        let namecheap = capabilities(ProviderKind::Namecheap);
        let good = [glue("ns1.example.com", &["192.0.2.1", "2001:db8::1"])];
        assert!(check_glue(&domain(), &good, &ovh).is_ok());
        assert!(glue_detail(check_glue(&domain(), &good, &namecheap)).contains("IPv4 glue only"));
        let two_v4 = [glue("ns1.example.com", &["192.0.2.1", "192.0.2.2"])];
        assert!(glue_detail(check_glue(&domain(), &two_v4, &namecheap)).contains("one address"));
        let outside = [glue("ns1.example.net", &["192.0.2.1"])];
        assert!(glue_detail(check_glue(&domain(), &outside, &ovh)).contains("not inside"));
        let empty = [glue("ns1.example.com", &[])];
        assert!(glue_detail(check_glue(&domain(), &empty, &ovh)).contains("no address"));
        let repeated = [glue("ns1.example.com", &["192.0.2.1", "192.0.2.1"])];
        assert!(glue_detail(check_glue(&domain(), &repeated, &ovh)).contains("twice"));
        let twice = [
            glue("ns1.example.com", &["192.0.2.1"]),
            glue("ns1.example.com", &["192.0.2.2"]),
        ];
        assert!(glue_detail(check_glue(&domain(), &twice, &ovh)).contains("listed twice"));
    }

    use crate::provider::{capabilities, ProviderKind, Support};

    use crate::ds::Dnskey;

    /// An ECDSA P-256 key-signing key.
    const KEY: &str =
        "257 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==";
    /// The SHA-256 DS of [`KEY`].
    const KEY_DS: &str = "2371 13 2 c988ec423e3880eb8dd8a46fe06ca230ee23f35b578d64e78b29c3e1c83d245a";
    /// An unrelated DS record (RFC 4034 example).
    const OTHER_DS: &str = "60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118";

    /// Parses nameserver names that the test knows to be valid.
    fn names(list: &[&str]) -> Vec<NameserverName> {
        list.iter()
            .map(|name| NameserverName::new(name).expect("valid nameserver"))
            .collect()
    }

    /// Parses a DS record that the test knows to be valid.
    fn ds(text: &str) -> DsRecord {
        text.parse().expect("valid DS")
    }

    /// Returns the detail of an expected [`Error::InvalidRequest`].
    fn invalid(result: Result<impl std::fmt::Debug>) -> String {
        match result {
            Err(Error::InvalidRequest { detail }) => detail,
            other => panic!("expected InvalidRequest, got {other:?}"),
        }
    }

    /// Capabilities of a typical registrar: 2 to 13 nameservers, DS by digest, no DS limit.
    fn dynadot() -> Capabilities {
        Capabilities {
            max_ds: None,
            ..capabilities(ProviderKind::Dynadot)
        }
    }

    #[test]
    fn equal_sets_are_in_sync_regardless_of_case_dot_and_order() {
        let current = names(&["ns2.pool-dns.net", "ns1.pool-dns.net"]);
        let wanted = names(&["NS1.Pool-DNS.net.", "ns2.pool-dns.net."]);
        assert_eq!(
            plan_nameservers(&current, &wanted, &dynadot()).ok(),
            Some(NsPlan::AlreadyInSync)
        );
    }

    #[test]
    fn repeats_in_the_current_set_are_tolerated() {
        let current = names(&["ns1.pool-dns.net", "ns1.pool-dns.net", "ns2.pool-dns.net"]);
        let wanted = names(&["ns1.pool-dns.net", "ns2.pool-dns.net"]);
        assert_eq!(
            plan_nameservers(&current, &wanted, &dynadot()).ok(),
            Some(NsPlan::AlreadyInSync)
        );
    }

    #[test]
    fn a_difference_replaces_in_the_callers_order() {
        let current = names(&["ns1.old-host.net", "ns2.old-host.net"]);
        let wanted = names(&["ns2.pool-dns.net", "ns1.pool-dns.net"]);
        assert_eq!(
            plan_nameservers(&current, &wanted, &dynadot()).ok(),
            Some(NsPlan::Replace(wanted.clone()))
        );
        let subset = names(&["ns1.old-host.net", "ns2.old-host.net", "ns3.old-host.net"]);
        assert!(matches!(
            plan_nameservers(&current, &subset, &dynadot()),
            Ok(NsPlan::Replace(_))
        ));
        assert!(matches!(
            plan_nameservers(&[], &wanted, &dynadot()),
            Ok(NsPlan::Replace(_))
        ));
    }

    #[test]
    fn empty_list_is_rejected() {
        let current = names(&["ns1.old-host.net", "ns2.old-host.net"]);
        assert!(invalid(plan_nameservers(&current, &[], &dynadot())).contains("empty"));
    }

    #[test]
    fn duplicates_are_rejected() {
        let wanted = names(&["ns1.pool-dns.net", "NS1.POOL-DNS.NET.", "ns2.pool-dns.net"]);
        let detail = invalid(plan_nameservers(&[], &wanted, &dynadot()));
        assert_eq!(detail, "nameserver ns1.pool-dns.net is listed twice");
    }

    #[test]
    fn minimum_depends_on_the_provider() {
        let one = names(&["ns1.pool-dns.net"]);
        let detail = invalid(plan_nameservers(&[], &one, &dynadot()));
        assert!(detail.contains("needs at least 2"), "{detail}");
        assert!(plan_nameservers(&[], &one, &capabilities(ProviderKind::Cloudflare)).is_ok());
    }

    #[test]
    fn maximum_depends_on_the_provider() {
        let thirteen: Vec<String> = (0..13).map(|i| format!("ns{i}.pool-dns.net")).collect();
        let thirteen: Vec<&str> = thirteen.iter().map(String::as_str).collect();
        let wanted = names(&thirteen);
        assert!(plan_nameservers(&[], &wanted, &dynadot()).is_ok());
        let detail = invalid(plan_nameservers(&[], &wanted, &capabilities(ProviderKind::Namecheap)));
        assert!(detail.contains("at most 12"), "{detail}");
    }

    #[test]
    fn providers_that_cannot_set_nameservers_refuse() {
        let wanted = names(&["ns1.pool-dns.net", "ns2.pool-dns.net"]);
        let locked = Capabilities::read_only("registrar domains must use the provider's DNS");
        let error = plan_nameservers(&[], &wanted, &locked).expect_err("read-only");
        assert_eq!(error.code(), "read-only");

        let manual = Capabilities {
            nameservers: Support::ManualOnly,
            ..dynadot()
        };
        let error = plan_nameservers(&[], &wanted, &manual).expect_err("manual only");
        assert_eq!(error.code(), "unsupported-operation");
    }

    #[test]
    fn ds_in_sync_ignores_order_and_hex_case() {
        let current = vec![ds(OTHER_DS), ds(KEY_DS)];
        let wanted = [DsSpec::from(ds(&KEY_DS.to_uppercase())), DsSpec::from(ds(OTHER_DS))];
        assert_eq!(plan_ds(&current, &wanted, &dynadot()).ok(), Some(DsPlan::AlreadyInSync));
        assert_eq!(plan_ds(&[], &[], &dynadot()).ok(), Some(DsPlan::AlreadyInSync));
    }

    #[test]
    fn ds_difference_lists_additions_and_removals() {
        let current = vec![ds(OTHER_DS)];
        let wanted = [DsSpec::from(ds(KEY_DS))];
        assert_eq!(
            plan_ds(&current, &wanted, &dynadot()).ok(),
            Some(DsPlan::Replace {
                wanted: wanted.to_vec(),
                add: wanted.to_vec(),
                remove: vec![ds(OTHER_DS)],
            })
        );
    }

    #[test]
    fn empty_ds_set_removes_everything() {
        let current = vec![ds(KEY_DS), ds(OTHER_DS)];
        let Ok(DsPlan::Replace { wanted, add, remove }) = plan_ds(&current, &[], &dynadot()) else {
            panic!("expected a replacement");
        };
        assert!(wanted.is_empty() && add.is_empty());
        assert_eq!(remove, vec![ds(KEY_DS), ds(OTHER_DS)]);
    }

    #[test]
    fn duplicate_ds_is_rejected() {
        let wanted = [DsSpec::from(ds(KEY_DS)), DsSpec::from(ds(&KEY_DS.to_uppercase()))];
        let detail = invalid(plan_ds(&[], &wanted, &dynadot()));
        assert!(detail.contains("listed twice"), "{detail}");
    }

    #[test]
    fn ds_limits_and_dnskey_requirement() {
        let ovh = capabilities(ProviderKind::Ovh);
        let bare = [DsSpec::from(ds(KEY_DS))];
        let detail = invalid(plan_ds(&[], &bare, &ovh));
        assert!(detail.contains("give the DNSKEY"), "{detail}");

        let key: Dnskey = KEY.parse().expect("valid DNSKEY");
        let paired = [DsSpec::with_dnskey(ds(KEY_DS), key).expect("matching pair")];
        assert!(matches!(plan_ds(&[], &paired, &ovh), Ok(DsPlan::Replace { .. })));

        let five: Vec<DsSpec> = (1..=5)
            .map(|tag| DsSpec::from(ds(&format!("{tag} 13 2 {}", "ab".repeat(32)))))
            .collect();
        let limited = Capabilities {
            ds_requires_dnskey: false,
            ..ovh
        };
        let detail = invalid(plan_ds(&[], &five, &limited));
        assert!(detail.contains("at most 4"), "{detail}");
    }

    #[test]
    fn providers_without_ds_support_refuse() {
        let error = plan_ds(&[], &[], &capabilities(ProviderKind::Namecheap)).expect_err("manual");
        assert_eq!(error.code(), "unsupported-operation");
    }
}
