//! Zones signed elsewhere: a primary's signed zone taken by transfer, or a
//! signed zone file imported as it is.
//!
//! Such a zone holds its RRSIG, NSEC or NSEC3, and DNSKEY records as data
//! and no keys here. [`secure`] builds its snapshot as a secured one: the
//! RRSIGs are put beside the RRsets they cover, the NSEC records stay in
//! their nodes and the NSEC3 records form the chain, so that answers carry
//! them exactly as for a zone signed here. Nothing is signed: what the
//! primary did not sign stays unsigned.

use std::collections::HashMap;
use std::sync::Arc;

use base::name::Name;
use base::rdata::list;
use base::types;
use data_encoding::BASE32HEX_NOPAD;

use super::cache::SignatureCache;
use super::denial::{Nsec3Chain, Nsec3Params, NsecOrder};
use super::signed::SignedZone;
use super::window::Window;
use crate::zone::{Record, Zone};

/// Whether `records` (a zone not signed here) were signed elsewhere: they
/// hold RRSIGs.
pub fn is_presigned(records: &[Record]) -> bool {
    records.iter().any(|record| record.rtype == types::RRSIG)
}

/// The snapshot of the zone at `apex` made of `records`, signed elsewhere.
pub fn secure(apex: &Name, records: Vec<Record>) -> (Zone, SignedZone) {
    let mut rrsigs: HashMap<(Vec<u8>, u16), Vec<Vec<u8>>> = HashMap::new();
    let mut nsec3 = Vec::new();
    let mut data = Vec::with_capacity(records.len());
    for record in records {
        match record.rtype {
            types::RRSIG if record.rdata.len() >= 2 => {
                let covered = u16::from_be_bytes([record.rdata[0], record.rdata[1]]);
                let owner = record.owner.to_lowercase().as_wire().to_vec();
                rrsigs.entry((owner, covered)).or_default().push(record.rdata);
            }
            types::NSEC3 => nsec3.push(record),
            _ => data.push(record),
        }
    }
    let zone = Zone::build(apex, data);
    let (denial, negative_ttl) = match nsec3.first() {
        Some(first) => {
            let ttl = first.ttl;
            (
                nsec3_chain(nsec3).map_or_else(nsec_order_of(&zone), super::Denial::Nsec3),
                ttl,
            )
        }
        None => {
            let ttl = zone
                .nodes()
                .find_map(|node| node.rrset(types::NSEC))
                .map_or(0, |nsec| nsec.ttl);
            (nsec_order_of(&zone)(), ttl)
        }
    };
    // No keys: nothing is signed here, and what the primary left unsigned
    // stays so.
    let signed = SignedZone::presigned(
        apex.as_wire(),
        denial,
        negative_ttl,
        Window::now(),
        Arc::new(SignatureCache::new(1)),
    );
    for node in zone.nodes() {
        let mut signatures = Vec::new();
        for rrset in node.rrsets() {
            let mut segment = Vec::new();
            for rdata in rrsigs
                .get(&(node.name_wire().to_vec(), rrset.rtype))
                .into_iter()
                .flatten()
            {
                list::push(&mut segment, rdata);
            }
            signatures.extend_from_slice(&(segment.len() as u16).to_be_bytes());
            signatures.extend_from_slice(&segment);
        }
        let _ = node.signatures().set(Box::new(signatures.into_boxed_slice()));
    }
    if let super::Denial::Nsec3(chain) = signed.denial() {
        for entry in chain.entries() {
            let mut segment = Vec::new();
            for rdata in rrsigs.get(&(entry.owner.to_vec(), types::NSEC3)).into_iter().flatten() {
                list::push(&mut segment, rdata);
            }
            let _ = entry.signatures().set(Box::new(segment.into_boxed_slice()));
        }
    }
    (zone, signed)
}

/// The NSEC chain of the nodes holding NSEC records.
fn nsec_order_of(zone: &Zone) -> impl FnOnce() -> super::Denial + '_ {
    move || {
        let members = zone
            .indexed_nodes()
            .filter(|(_, node)| node.rrset(types::NSEC).is_some())
            .map(|(index, _)| index)
            .collect();
        super::Denial::Nsec(NsecOrder::new(members, |index| zone.node_at(index).name_wire()))
    }
}

/// The NSEC3 chain of the stored NSEC3 records, with the parameters of
/// the first (RFC 5155 §3.2); `None` when one is malformed.
fn nsec3_chain(records: Vec<Record>) -> Option<Nsec3Chain> {
    let first = &records.first()?.rdata;
    let salt_len = usize::from(*first.get(4)?);
    let params = Nsec3Params {
        iterations: u16::from_be_bytes([*first.get(2)?, *first.get(3)?]),
        salt: first.get(5..5 + salt_len)?.to_vec(),
        opt_out: first.get(1)? & 1 == 1,
    };
    let mut entries = Vec::with_capacity(records.len());
    for record in records {
        let owner = record.owner.to_lowercase();
        let wire = owner.as_wire();
        let label = wire.get(1..1 + usize::from(*wire.first()?))?;
        let hash: [u8; 20] = BASE32HEX_NOPAD
            .decode(&label.to_ascii_uppercase())
            .ok()?
            .try_into()
            .ok()?;
        entries.push((hash, wire.into(), record.rdata.into_boxed_slice()));
    }
    Some(Nsec3Chain::from_records(entries, params))
}
