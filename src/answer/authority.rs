//! The authority section: the SOA of a negative answer (RFC 2308 §3), or
//! the NS records of a referral (RFC 1034 §4.3.2 step 3b) with, in a
//! DNSSEC answer, the DS RRset or the proof there is none (RFC 4035
//! §3.1.4).

use base::types;

use super::sections::Sections;
use super::writer::Full;
use super::{Outcome, Resolution};
use crate::zone::soa_minimum;

/// Writes the authority section for `outcome`.
pub(super) fn write<'a>(
    outcome: &Outcome<'a>,
    resolution: &mut Resolution<'a>,
    sections: &mut Sections<'_, '_, 'a>,
) -> Result<(), Full> {
    match outcome {
        Outcome::NoData | Outcome::NxDomain => {
            let apex = resolution.zone.apex_node();
            if let Some(soa) = apex.rrset(types::SOA) {
                // RFC 2308 §3: the SOA of a negative answer carries the
                // negative-caching TTL, min(SOA TTL, SOA MINIMUM).
                let ttl = soa
                    .first()
                    .and_then(soa_minimum)
                    .map_or(soa.ttl, |minimum| minimum.min(soa.ttl));
                sections.put_rrset(apex.name_wire(), apex, soa, ttl)?;
            }
        }
        Outcome::Referral(cut) => {
            if let Some(ns) = cut.rrset(types::NS) {
                // The parent side's NS set is not authoritative data and
                // not signed (RFC 4035 §2.2).
                for rdata in ns.rdata() {
                    sections.put_unsigned(cut.name_wire(), types::NS, ns.ttl, rdata)?;
                }
            }
            sections.delegation(cut)?;
        }
        Outcome::Answer | Outcome::YxDomain | Outcome::Failed => {}
    }
    Ok(())
}
