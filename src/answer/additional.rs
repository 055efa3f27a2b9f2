//! The additional section: glue for a referral, and the addresses of the
//! names NS, MX and SRV records point at (RFC 1035 §3.3.9 and §3.3.11,
//! RFC 2782, RFC 9471).

use base::types;
use base::NameBuf;

use super::sections::Sections;
use super::writer::Full;
use super::{Outcome, Resolution};
use crate::zone::Node;

/// Writes the additional section for `outcome`. Glue below a referral's
/// cut is required: if it does not fit, the reply is truncated (RFC 9471
/// §3.1). Other addresses are added while room is left.
pub(super) fn write<'a>(
    outcome: &Outcome<'a>,
    resolution: &mut Resolution<'a>,
    sections: &mut Sections<'_, '_, 'a>,
) -> Result<(), Full> {
    if let Outcome::Referral(cut) = outcome {
        glue(cut, resolution, sections)?;
    }
    target_addresses(resolution, sections);
    Ok(())
}

/// Addresses of the referral's name servers below the cut; the names of
/// the others are noted as targets.
fn glue<'a>(cut: &'a Node, resolution: &mut Resolution<'a>, sections: &mut Sections<'_, '_, 'a>) -> Result<(), Full> {
    let Some(ns) = cut.rrset(types::NS) else {
        return Ok(());
    };
    for rdata in ns.rdata() {
        let target = NameBuf::lowercase(rdata);
        if !target.ends_with(cut.name_wire()) {
            resolution.targets.note(rdata);
            continue;
        }
        let Some(node) = resolution.zone.node(target.as_wire()) else {
            continue;
        };
        for rrset in [types::A, types::AAAA]
            .into_iter()
            .filter_map(|rtype| node.rrset(rtype))
        {
            // Each RRset whole or not at all.
            let mark = sections.writer().mark();
            let written = rrset
                .rdata()
                .try_for_each(|rdata| sections.put_unsigned(node.name_wire(), rrset.rtype, rrset.ttl, rdata));
            if written.is_err() {
                sections.writer().rollback(mark);
                return written;
            }
        }
    }
    Ok(())
}

/// Addresses of noted target names that this zone holds with authority,
/// as long as they fit; what does not fit is left out.
fn target_addresses<'a>(resolution: &Resolution<'a>, sections: &mut Sections<'_, '_, 'a>) {
    for target in resolution.targets.iter() {
        let Some(node) = resolution.zone.node(NameBuf::lowercase(target).as_wire()) else {
            continue;
        };
        if !resolution.zone.is_authoritative(node) {
            continue;
        }
        for rrset in [types::A, types::AAAA]
            .into_iter()
            .filter_map(|rtype| node.rrset(rtype))
        {
            if sections.put_additional(node.name_wire(), node, rrset).is_err() {
                return;
            }
        }
    }
}
