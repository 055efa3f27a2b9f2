//! The DNSSEC half of a zone snapshot: its denial chain and the
//! signatures of its RRsets.
//!
//! [`SignedZone::new`] turns a built [`Zone`] into a secured one: it adds
//! the NSEC records to the zone's nodes (or builds the NSEC3 chain beside
//! it) and sizes one signature slot per RRset. [`SignedZone::presign`]
//! then fills every slot before the snapshot is served, so answers only
//! copy signatures.

use std::sync::Arc;

use base::rdata::lua;
use base::types;

use super::cache::SignatureCache;
use super::denial::{nsec_rdata, Nsec3Chain, Nsec3Params, NsecOrder};
use super::signer::ZoneSigner;
use super::window::Window;
use super::ZoneKey;
use crate::zone::{soa_minimum, Node, RRset, Zone};

/// The DNSSEC state of a secured zone snapshot.
pub struct SignedZone {
    signer: ZoneSigner,
    denial: Denial,
    /// TTL of NSEC and NSEC3 records: min(SOA TTL, SOA MINIMUM) (RFC 9077 §3).
    negative_ttl: u32,
}

/// How the zone proves that names and types do not exist.
pub enum Denial {
    /// NSEC records sit in the zone's nodes; this is their order.
    Nsec(NsecOrder),
    /// NSEC3 records, and the signature slot of the first one.
    Nsec3 { chain: Nsec3Chain, first_slot: u32 },
}

/// Which denial a zone uses.
pub enum DenialKind {
    Nsec,
    Nsec3(Nsec3Params),
}

impl SignedZone {
    /// Secures `zone`: adds its NSEC records (or builds the NSEC3 chain)
    /// and prepares a signature slot for every RRset.
    ///
    /// The zone must already hold its DNSKEY, CDS, CDNSKEY (and
    /// NSEC3PARAM) records; see [`super::prepare_records`]. With
    /// `computed` says which records the answer path computes: LUA
    /// records count in denial records as the types they produce, or as
    /// nothing when LUA is off; ALIAS names have A and AAAA when ALIAS
    /// records are resolved.
    pub fn new(
        zone: &mut Zone,
        keys: Vec<ZoneKey>,
        denial: DenialKind,
        computed: Computed,
        window: Window,
        cache: Arc<SignatureCache>,
    ) -> SignedZone {
        let soa_ttl = zone.soa().map_or(0, |soa| soa.ttl);
        let minimum = zone
            .soa()
            .and_then(|soa| soa.first())
            .and_then(soa_minimum)
            .unwrap_or(soa_ttl);
        let negative_ttl = soa_ttl.min(minimum);
        let denial = match denial {
            DenialKind::Nsec => Denial::Nsec(add_nsec_records(zone, computed, negative_ttl)),
            DenialKind::Nsec3(params) => {
                let names = nsec3_names(zone, computed, params.opt_out);
                let chain = Nsec3Chain::build(zone.apex().as_wire(), names, params);
                Denial::Nsec3 {
                    first_slot: zone.rrset_count() as u32,
                    chain,
                }
            }
        };
        let slots = match &denial {
            Denial::Nsec(_) => zone.rrset_count(),
            Denial::Nsec3 { chain, .. } => zone.rrset_count() + chain.entries().len(),
        };
        SignedZone {
            signer: ZoneSigner::new(zone.apex().as_wire(), keys, window, slots, cache),
            denial,
            negative_ttl,
        }
    }

    /// The signer of this snapshot.
    pub fn signer(&self) -> &ZoneSigner {
        &self.signer
    }

    /// The denial chain.
    pub fn denial(&self) -> &Denial {
        &self.denial
    }

    /// TTL of the zone's NSEC or NSEC3 records.
    pub fn negative_ttl(&self) -> u32 {
        self.negative_ttl
    }

    /// The RRSIGs of an RRset of `node` (its stored owner is signed), as
    /// made by [`ZoneSigner::rrsigs`].
    pub fn rrsigs(&self, node: &Node, rrset: RRset<'_>) -> &[u8] {
        self.signer.rrsigs(
            node.rrset_number(&rrset),
            node.name_wire(),
            rrset.rtype,
            rrset.ttl,
            || rrset.rdata(),
        )
    }

    /// The RRSIGs of NSEC3 record `index` of the chain.
    pub fn nsec3_rrsigs(&self, index: usize) -> &[u8] {
        let Denial::Nsec3 { chain, first_slot } = &self.denial else {
            return &[];
        };
        let Some(entry) = chain.entries().get(index) else {
            return &[];
        };
        self.signer.rrsigs(
            *first_slot as usize + index,
            &entry.owner,
            types::NSEC3,
            self.negative_ttl,
            || std::iter::once(&entry.rdata[..]),
        )
    }

    /// Signs every RRset of `zone` (the zone this was made for) that
    /// answers can carry, so that answers copy signatures instead of
    /// making them. The loader runs it before a snapshot is published, on
    /// every core: signing a large zone from nothing takes a while, and
    /// even finding a million signatures in the cache takes seconds.
    pub fn presign(&self, zone: &Zone) {
        let nodes = zone.nodes();
        // Threads pay off for large zones only; a fleet has many small ones.
        let threads = if nodes.len() < 10_000 {
            1
        } else {
            std::thread::available_parallelism().map_or(1, usize::from)
        };
        let chunk = nodes.len().div_ceil(threads).max(1);
        let nsec3 = match &self.denial {
            Denial::Nsec3 { chain, .. } => chain.entries().len(),
            _ => 0,
        };
        let nsec3_chunk = nsec3.div_ceil(threads).max(1);
        let sign_part = |part: usize| {
            let nodes = nodes
                .get(part * chunk..((part + 1) * chunk).min(nodes.len()))
                .unwrap_or_default();
            for node in nodes.iter().filter(|node| zone.owns(node)) {
                for rrset in node.rrsets() {
                    // At a cut only DS and NSEC belong to this zone.
                    if node.is_cut() && !matches!(rrset.rtype, types::DS | types::NSEC) {
                        continue;
                    }
                    self.rrsigs(node, rrset);
                }
            }
            let first = part * nsec3_chunk;
            for index in first..(first + nsec3_chunk).min(nsec3) {
                self.nsec3_rrsigs(index);
            }
        };
        if threads == 1 {
            return sign_part(0);
        }
        std::thread::scope(|scope| {
            for part in 0..threads {
                let sign_part = &sign_part;
                scope.spawn(move || sign_part(part));
            }
        });
    }

    /// The node of `zone` whose NSEC matches or covers `name` (NSEC zones
    /// only).
    pub fn nsec_covering<'z>(&self, zone: &'z Zone, name: &[u8]) -> Option<&'z Node> {
        let Denial::Nsec(order) = &self.denial else {
            return None;
        };
        let nodes = zone.nodes();
        order
            .covering(name, |index| nodes[index as usize].name_wire())
            .map(|index| &nodes[index as usize])
    }
}

/// Which records the answer path computes per query.
#[derive(Clone, Copy, Debug, Default)]
pub struct Computed {
    /// LUA records are answered.
    pub lua: bool,
    /// ALIAS records answer A and AAAA queries.
    pub aliases: bool,
}

/// The types present at a node as a denial record shows them: at a cut
/// only NS and DS; LUA records as the types they produce, or nothing when
/// LUA records are not answered; ALIAS with A and AAAA when answered.
fn present_types(node: &Node, computed: Computed) -> Vec<u16> {
    let mut present = Vec::new();
    for rrset in node.rrsets() {
        if node.is_cut() && !matches!(rrset.rtype, types::NS | types::DS) {
            continue;
        }
        if rrset.rtype == types::LUA {
            // `LUA LUA` snippets produce nothing.
            if computed.lua {
                present.extend(
                    rrset
                        .rdata()
                        .filter_map(lua::produced_type)
                        .filter(|&t| t != types::LUA),
                );
            }
        } else {
            present.push(rrset.rtype);
            if rrset.rtype == types::ALIAS && computed.aliases {
                present.extend([types::A, types::AAAA]);
            }
        }
    }
    present.sort_unstable();
    present.dedup();
    present
}

/// Adds an NSEC RRset (RFC 4034 §4) to every name of `zone` with data,
/// in canonical order; returns that order.
fn add_nsec_records(zone: &mut Zone, computed: Computed, ttl: u32) -> NsecOrder {
    let nodes = zone.nodes();
    let members: Vec<u32> = (0..nodes.len() as u32)
        .filter(|&index| {
            let node = &nodes[index as usize];
            zone.owns(node) && node.rrsets().next().is_some()
        })
        .collect();
    let order = NsecOrder::new(members, |index| nodes[index as usize].name_wire());
    let chain = order.nodes();
    let additions: Vec<(usize, u16, u32, Vec<u8>)> = chain
        .iter()
        .enumerate()
        .map(|(position, &index)| {
            let next = chain[(position + 1) % chain.len()];
            let mut present = present_types(&nodes[index as usize], computed);
            present.extend([types::NSEC, types::RRSIG]);
            let rdata = nsec_rdata(nodes[next as usize].name_wire(), present);
            (index as usize, types::NSEC, ttl, rdata)
        })
        .collect();
    zone.add_rrsets(additions);
    order
}

/// Names of the NSEC3 chain with their types (RFC 5155 §7.1): every
/// authoritative name and empty non-terminal, and delegations unless
/// opt-out leaves out those without DS.
fn nsec3_names(zone: &Zone, computed: Computed, opt_out: bool) -> Vec<(Vec<u8>, Vec<u16>)> {
    zone.nodes()
        .iter()
        .filter(|node| zone.owns(node))
        .filter_map(|node| {
            let mut present = present_types(node, computed);
            let unsigned_cut = node.is_cut() && !present.contains(&types::DS);
            if unsigned_cut && opt_out {
                return None;
            }
            if !present.is_empty() && !unsigned_cut {
                present.push(types::RRSIG);
            }
            Some((node.name_wire().to_vec(), present))
        })
        .collect()
}
