//! The set of zones being served, replaced whole on every change.
//!
//! Each zone is served from a [`Snapshot`]: its data, and the DNSSEC and
//! LUA parts the loader built from them. The answer path reads a
//! [`Catalog`] through an [`arc_swap::ArcSwap`]: no lock is taken and a
//! reader keeps the catalog it started with until it lets go, however many
//! zones are swapped meanwhile.

use std::sync::Arc;

use arc_swap::ArcSwap;
use base::name::Name;
use base::types;
use foldhash::{HashMap, HashMapExt};

use base::name::wire::canonical_cmp;
use base::rdata::list;

use crate::dnssec::{Denial, SignedZone};
use crate::lua::ZonePrograms;
use crate::zone::{Node, Zone};

/// The catalog as shared between the loader and the listeners.
pub type SharedCatalog = Arc<ArcSwap<Catalog>>;

/// What is served for one zone, immutable once built.
pub struct Snapshot {
    /// The zone's records and their lookup.
    pub zone: Zone,
    /// Signatures and the denial chain, when the zone is secured.
    pub signed: Option<SignedZone>,
    /// The compiled LUA records, when the zone has any and LUA records
    /// are answered.
    pub programs: Option<Arc<ZonePrograms>>,
    /// The zone is not built yet: it is loading, or its last build failed
    /// (`/readyz` says why). It is answered SERVFAIL until a real snapshot
    /// replaces this one.
    pub loading: bool,
}

impl Snapshot {
    /// A snapshot serving `zone` as it is: unsigned, no LUA records.
    pub fn plain(zone: Zone) -> Snapshot {
        Snapshot {
            zone,
            signed: None,
            programs: None,
            loading: false,
        }
    }

    /// A stand-in for zone `apex` while it loads, so that its queries get
    /// SERVFAIL rather than REFUSED, and other zones need not wait.
    pub fn loading(apex: &Name) -> Snapshot {
        Snapshot {
            loading: true,
            ..Snapshot::plain(Zone::build(apex, Vec::new()))
        }
    }

    /// Visits every record of the zone as a transfer or a signed export
    /// carries it, owners in canonical order (RFC 4034 §6.1): the data,
    /// glue included, and when the zone is signed its RRSIGs and its NSEC
    /// or NSEC3 records. `visit(owner, type, TTL, RDATA)`, wire forms.
    pub fn for_each_record(&self, mut visit: impl FnMut(&[u8], u16, u32, &[u8])) {
        let zone = &self.zone;
        let mut nodes: Vec<&Node> = zone.nodes().collect();
        nodes.sort_by(|a, b| canonical_cmp(a.name_wire(), b.name_wire()));
        for node in nodes {
            let authoritative = zone.owns(node);
            for rrset in node.rrsets() {
                for rdata in rrset.rdata() {
                    visit(node.name_wire(), rrset.rtype, rrset.ttl, rdata);
                }
                // At a cut only DS and NSEC are the parent's to sign; glue never.
                let parent_side = !node.is_cut() || matches!(rrset.rtype, types::DS | types::NSEC);
                if let Some(signed) = self.signed.as_ref().filter(|_| authoritative && parent_side) {
                    for rrsig in list::iter(signed.rrsigs(node, rrset)) {
                        visit(node.name_wire(), types::RRSIG, rrset.ttl, rrsig);
                    }
                }
            }
        }
        if let Some(signed) = &self.signed {
            if let Denial::Nsec3(chain) = signed.denial() {
                let ttl = signed.negative_ttl();
                for (index, entry) in chain.entries().iter().enumerate() {
                    visit(&entry.owner, types::NSEC3, ttl, &entry.rdata);
                    for rrsig in list::iter(signed.nsec3_rrsigs(index)) {
                        visit(&entry.owner, types::RRSIG, ttl, rrsig);
                    }
                }
            }
        }
    }
}

/// Snapshots by lowercased apex.
#[derive(Clone, Default)]
pub struct Catalog {
    zones: HashMap<Box<[u8]>, Arc<Snapshot>>,
}

impl Catalog {
    /// A catalog serving no zone.
    pub fn new() -> Catalog {
        Catalog { zones: HashMap::new() }
    }

    /// A copy with `zone` added or replacing the zone of the same name.
    pub fn with_zone(&self, snapshot: Arc<Snapshot>) -> Catalog {
        let mut next = self.clone();
        next.zones.insert(snapshot.zone.apex().as_wire().into(), snapshot);
        next
    }

    /// A copy with every snapshot of `snapshots` added, in one copy.
    pub fn with_zones(&self, snapshots: impl IntoIterator<Item = Arc<Snapshot>>) -> Catalog {
        let mut next = self.clone();
        for snapshot in snapshots {
            next.zones.insert(snapshot.zone.apex().as_wire().into(), snapshot);
        }
        next
    }

    /// A copy without the zone named `apex`.
    pub fn without_zone(&self, apex: &Name) -> Catalog {
        let mut next = self.clone();
        next.zones.remove(apex.to_lowercase().as_wire());
        next
    }

    /// The zone named `apex`, if served.
    pub fn zone(&self, apex: &Name) -> Option<&Arc<Snapshot>> {
        self.zones.get(apex.to_lowercase().as_wire())
    }

    /// Every zone served, in no particular order.
    pub fn zones(&self) -> impl Iterator<Item = &Arc<Snapshot>> {
        self.zones.values()
    }

    /// How many zones are served.
    pub fn len(&self) -> usize {
        self.zones.len()
    }

    /// Whether no zone is served.
    pub fn is_empty(&self) -> bool {
        self.zones.is_empty()
    }

    /// The zone to answer `qname_lower` from: the one with the longest
    /// matching apex.
    ///
    /// A DS query for the apex of a zone is answered from the parent zone
    /// when that is served too, since DS lives on the parent side of the
    /// cut (RFC 4035 §3.1.4.1).
    pub fn find(&self, qname_lower: &[u8], qtype: u16) -> Option<&Snapshot> {
        let mut offset = 0;
        let mut ds_fallback = None;
        loop {
            let suffix = &qname_lower[offset..];
            if let Some(zone) = self.zones.get(suffix) {
                if qtype == types::DS && offset == 0 && suffix.len() > 1 {
                    ds_fallback = Some(zone.as_ref());
                } else {
                    return Some(zone);
                }
            }
            match suffix.first() {
                Some(&label) if label > 0 => offset += label as usize + 1,
                _ => return ds_fallback,
            }
        }
    }
}
