//! Delegations, glue and the outcomes of provider calls, built from checked names
//! ([`crate::names`]) and DS data ([`crate::ds`]).

use std::fmt;
use std::net::IpAddr;

use crate::ds::DsRecord;
use crate::names::NameserverName;

/// Addresses the parent publishes for a nameserver that lies inside the delegated domain.
///
/// The address list is taken as given; adapters check it against the provider's glue limits
/// (Namecheap: one IPv4 address).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Glue {
    /// The nameserver host, inside the delegated domain.
    pub host: NameserverName,
    /// Its IPv4 and IPv6 addresses.
    pub addresses: Vec<IpAddr>,
}

/// A domain's delegation as the provider's API reports it (or as it is wanted).
///
/// `ds` is `None` when the provider cannot report DS records; as a wanted state `None` means
/// "leave DS alone". `Some(vec![])` means "no DS", an unsigned delegation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Delegation {
    /// The NS set, in the order the provider lists it.
    pub nameservers: Vec<NameserverName>,
    /// The DS set, when known.
    pub ds: Option<Vec<DsRecord>>,
}

/// A provider's handle for an operation that finishes later (OVH task id, GoDaddy action).
///
/// Opaque to callers: store it and hand it back to [`crate::DelegationProvider::poll`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct OperationId(String);

impl OperationId {
    /// Wraps a provider's operation handle.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// Returns the handle as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OperationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a mutating call did.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ChangeOutcome {
    /// The provider already had the wanted state; nothing was sent.
    AlreadyInSync,
    /// The change was accepted and is effective at the provider (the registry may lag).
    Applied,
    /// The change was accepted and runs asynchronously; poll the operation.
    ///
    /// Also returned when an identical operation was already open at the provider, so a
    /// retry does not queue a second one.
    Pending {
        /// The handle to poll.
        operation_id: OperationId,
    },
}

/// The result of comparing the provider's state with a wanted delegation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verification {
    /// The NS sets are equal, ignoring order.
    pub nameservers_match: bool,
    /// The DS sets are equal, ignoring order; `None` when DS was not asked about or the
    /// provider cannot report it.
    pub ds_match: Option<bool>,
    /// What the provider reported.
    pub observed: Delegation,
}

impl Verification {
    /// Compares an observed delegation with the wanted one.
    pub fn compare(observed: Delegation, wanted: &Delegation) -> Self {
        let nameservers_match = same_set(&observed.nameservers, &wanted.nameservers);
        let ds_match = match (&observed.ds, &wanted.ds) {
            (Some(have), Some(want)) => Some(same_set(have, want)),
            _ => None,
        };
        Self {
            nameservers_match,
            ds_match,
            observed,
        }
    }

    /// Returns `true` when nothing checked was found to differ.
    pub fn is_in_sync(&self) -> bool {
        self.nameservers_match && self.ds_match != Some(false)
    }
}

/// Compares two lists as sets (order and repeats ignored).
pub(crate) fn same_set<T: Ord>(left: &[T], right: &[T]) -> bool {
    let mut left: Vec<&T> = left.iter().collect();
    let mut right: Vec<&T> = right.iter().collect();
    left.sort();
    left.dedup();
    right.sort();
    right.dedup();
    left == right
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses a nameserver name that the test knows to be valid.
    fn ns(name: &str) -> NameserverName {
        NameserverName::new(name).expect("valid nameserver")
    }

    /// An ECDSA P-256 key-signing key's DS; tag checked with ldns-key2ds.
    const ECDSA_DS: &str = "2371 13 2 c988ec423e3880eb8dd8a46fe06ca230ee23f35b578d64e78b29c3e1c83d245a";

    #[test]
    fn verification_compares_sets() {
        let ds: DsRecord = ECDSA_DS.parse().expect("valid DS");
        let observed = Delegation {
            nameservers: vec![ns("ns2.example.net"), ns("ns1.example.net")],
            ds: Some(vec![ds.clone()]),
        };
        let wanted = Delegation {
            nameservers: vec![ns("ns1.example.net"), ns("ns2.example.net")],
            ds: Some(vec![ds]),
        };
        let check = Verification::compare(observed.clone(), &wanted);
        assert!(check.nameservers_match);
        assert_eq!(check.ds_match, Some(true));
        assert!(check.is_in_sync());

        let unsigned = Delegation {
            ds: Some(vec![]),
            ..wanted.clone()
        };
        let check = Verification::compare(observed.clone(), &unsigned);
        assert_eq!(check.ds_match, Some(false));
        assert!(!check.is_in_sync());

        let unknown = Delegation { ds: None, ..observed };
        let check = Verification::compare(unknown, &wanted);
        assert_eq!(check.ds_match, None);
        assert!(check.is_in_sync());
    }
}
