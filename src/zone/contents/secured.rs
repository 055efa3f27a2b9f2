//! Securing a built zone: the denial chain and the signature slots.

use std::sync::Arc;

use super::{Node, RRset, RRsetEncoder, Zone, NONE};
use crate::dnssec::cache::SignatureCache;
use crate::dnssec::denial::{nsec_rdata, Nsec3Chain, Nsec3Params, NsecOrder};
use crate::dnssec::signer::ZoneSigner;
use crate::dnssec::window::Window;
use crate::dnssec::ZoneKey;
use base::types;

use crate::zone::soa_minimum;

/// The DNSSEC state of a secured zone snapshot.
pub struct Secured {
    signer: ZoneSigner,
    denial: Denial,
    /// TTL of NSEC and NSEC3 records: min(SOA TTL, SOA MINIMUM) (RFC 9077 §3).
    negative_ttl: u32,
}

/// How the zone proves that names and types do not exist.
pub enum Denial {
    /// NSEC records sit in the nodes; this is their order.
    Nsec(NsecOrder),
    /// NSEC3 records, and the signature slot of the first one.
    Nsec3 { chain: Nsec3Chain, first_slot: u32 },
}

/// Which denial a zone uses.
pub enum DenialKind {
    Nsec,
    Nsec3(Nsec3Params),
}

impl Secured {
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
}

impl Zone {
    /// Turns a built zone into a secured one: adds the NSEC records (or
    /// builds the NSEC3 chain) and numbers every RRset for signing.
    ///
    /// The zone must already hold its DNSKEY, CDS, CDNSKEY (and NSEC3PARAM)
    /// records; see [`crate::dnssec::prepare_records`].
    pub fn secure(&mut self, keys: Vec<ZoneKey>, denial: DenialKind, window: Window, cache: Arc<SignatureCache>) {
        let soa_ttl = self.soa().map_or(0, |soa| soa.ttl);
        let minimum = self
            .soa()
            .and_then(|soa| soa.first())
            .and_then(soa_minimum)
            .unwrap_or(soa_ttl);
        let negative_ttl = soa_ttl.min(minimum);
        let denial = match denial {
            DenialKind::Nsec => Denial::Nsec(self.add_nsec_records(negative_ttl)),
            DenialKind::Nsec3(params) => {
                let names = self.nsec3_names(params.opt_out);
                Denial::Nsec3 {
                    chain: Nsec3Chain::build(self.apex.as_wire(), names, params),
                    first_slot: 0,
                }
            }
        };
        let mut slots = 0u32;
        for node in &mut self.nodes {
            node.first_slot = slots;
            slots += node.rrsets().count() as u32;
        }
        let denial = match denial {
            Denial::Nsec3 { chain, .. } => {
                let first_slot = slots;
                slots += chain.entries().len() as u32;
                Denial::Nsec3 { chain, first_slot }
            }
            nsec => nsec,
        };
        let signer = ZoneSigner::new(self.apex.as_wire(), keys, window, slots as usize, cache);
        self.secured = Some(Box::new(Secured {
            signer,
            denial,
            negative_ttl,
        }));
    }

    /// The DNSSEC state, when the zone is secured.
    pub fn secured(&self) -> Option<&Secured> {
        self.secured.as_deref()
    }

    /// The RRSIGs of an RRset of `node` (its stored owner is signed), as
    /// made by [`ZoneSigner::rrsigs`]; empty when the zone is not secured.
    pub fn rrsigs(&self, node: &Node, rrset: RRset<'_>) -> &[u8] {
        match &self.secured {
            Some(secured) => secured.signer.rrsigs(
                (node.first_slot + u32::from(rrset.index)) as usize,
                node.name_wire(),
                rrset.rtype,
                rrset.ttl,
                || rrset.rdata(),
            ),
            None => &[],
        }
    }

    /// The RRSIGs of NSEC3 record `index` of the chain.
    pub fn nsec3_rrsigs(&self, index: usize) -> &[u8] {
        let Some(secured) = &self.secured else {
            return &[];
        };
        let Denial::Nsec3 { chain, first_slot } = &secured.denial else {
            return &[];
        };
        let Some(entry) = chain.entries().get(index) else {
            return &[];
        };
        secured.signer.rrsigs(
            *first_slot as usize + index,
            &entry.owner,
            types::NSEC3,
            secured.negative_ttl,
            || std::iter::once(&entry.rdata[..]),
        )
    }

    /// Signs every RRset of a secured zone that answers can carry, so that
    /// answers copy signatures instead of making them. The loader runs it
    /// before a snapshot is published.
    pub fn presign(&self) {
        let Some(secured) = &self.secured else {
            return;
        };
        for (index, node) in self.nodes.iter().enumerate() {
            if !self.in_chain(index as u32) {
                continue;
            }
            for rrset in node.rrsets() {
                // At a cut only DS and NSEC belong to this zone.
                if node.is_cut && !matches!(rrset.rtype, types::DS | types::NSEC) {
                    continue;
                }
                self.rrsigs(node, rrset);
            }
        }
        if let Denial::Nsec3 { chain, .. } = &secured.denial {
            for index in 0..chain.entries().len() {
                self.nsec3_rrsigs(index);
            }
        }
    }

    /// The node whose NSEC matches or covers `name` (NSEC zones only).
    pub fn nsec_covering(&self, name: &[u8]) -> Option<&Node> {
        let Some(Secured {
            denial: Denial::Nsec(order),
            ..
        }) = self.secured.as_deref()
        else {
            return None;
        };
        order
            .covering(name, |index| self.nodes[index as usize].name_wire())
            .map(|index| &self.nodes[index as usize])
    }

    /// Whether `index` holds data this zone is authoritative for, or is
    /// a delegation point (whose NS and DS the parent side holds).
    fn in_chain(&self, index: u32) -> bool {
        let node = &self.nodes[index as usize];
        node.interrupt == NONE || node.interrupt == index || !self.nodes[node.interrupt as usize].is_cut
    }

    /// The types present at a node as a denial record shows them: at a
    /// cut only NS and DS; LUA records as the types they produce, or
    /// nothing when LUA records are not answered.
    fn present_types(&self, node: &Node) -> Vec<u16> {
        let mut present = Vec::new();
        for rrset in node.rrsets() {
            if node.is_cut && !matches!(rrset.rtype, types::NS | types::DS) {
                continue;
            }
            if rrset.rtype == types::LUA {
                // The types LUA records produce, when they are answered;
                // `LUA LUA` snippets produce nothing.
                if self.lua_answered {
                    present.extend(
                        rrset
                            .rdata()
                            .filter_map(|rdata| rdata.get(..2))
                            .map(|t| u16::from_be_bytes([t[0], t[1]]))
                            .filter(|&t| t != types::LUA),
                    );
                }
            } else {
                present.push(rrset.rtype);
            }
        }
        present
    }

    /// Adds an NSEC RRset (RFC 4034 §4) to every name with data, in
    /// canonical order; returns that order.
    fn add_nsec_records(&mut self, ttl: u32) -> NsecOrder {
        let members: Vec<u32> = (0..self.nodes.len() as u32)
            .filter(|&index| self.in_chain(index) && self.nodes[index as usize].rrsets().next().is_some())
            .collect();
        let order = NsecOrder::new(members, |index| self.nodes[index as usize].name_wire());
        let chain = order.nodes().to_vec();
        for (position, &index) in chain.iter().enumerate() {
            let next = chain[(position + 1) % chain.len()];
            let mut present = self.present_types(&self.nodes[index as usize]);
            present.extend([types::NSEC, types::RRSIG]);
            let rdata = nsec_rdata(self.nodes[next as usize].name_wire(), present);
            self.nodes[index as usize].insert_rrset(types::NSEC, ttl, &rdata);
        }
        order
    }

    /// Names of the NSEC3 chain with their types (RFC 5155 §7.1): every
    /// authoritative name and empty non-terminal, and delegations unless
    /// opt-out leaves out those without DS.
    fn nsec3_names(&self, opt_out: bool) -> Vec<(Vec<u8>, Vec<u16>)> {
        (0..self.nodes.len() as u32)
            .filter(|&index| self.in_chain(index))
            .filter_map(|index| {
                let node = &self.nodes[index as usize];
                let mut present = self.present_types(node);
                let unsigned_cut = node.is_cut && !present.contains(&types::DS);
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
}

impl Node {
    /// Inserts one single-record RRset, keeping RRsets sorted by type.
    fn insert_rrset(&mut self, rtype: u16, ttl: u32, rdata: &[u8]) {
        let mut at = self.name_len as usize;
        for rrset in self.rrsets().take_while(|rrset| rrset.rtype < rtype) {
            at += super::RRSET_HEADER + rrset.records.len();
        }
        let mut encoded = Vec::with_capacity(super::RRSET_HEADER + 2 + rdata.len());
        let mut encoder = RRsetEncoder::start(&mut encoded, rtype, ttl);
        encoder.push(&mut encoded, rdata);
        let mut data = Vec::with_capacity(self.data.len() + encoded.len());
        data.extend_from_slice(&self.data[..at]);
        data.extend_from_slice(&encoded);
        data.extend_from_slice(&self.data[at..]);
        self.data = data.into_boxed_slice();
    }
}
