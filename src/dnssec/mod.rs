//! DNSSEC: keys, online signing, and authenticated denial of existence.
//!
//! Signing is online but off the answer path: the RRSIGs of a secured
//! zone snapshot are made while it is built and kept beside the RRsets
//! they cover (from a cache keyed by key and RRset content, so unchanged
//! RRsets are not signed again), and answers copy them. A zone signed
//! elsewhere is served with its own RRSIGs ([`presigned`]). The denial
//! chain (NSEC, or NSEC3 per RFC 5155 with RFC 9276 parameters) is
//! computed when the snapshot is built. Signatures share one validity window per week (see [`window`]),
//! and the loader rebuilds secured zones when the window moves.
//!
//! ```text
//! store keys ─keys::load─> ZoneKey ─┐
//! zone records ─prepare_records─────┴─> Zone::build + Zone::secure ─> answers with RRSIG/NSEC
//! ```

pub mod cache;
pub mod canonical;
pub mod crypto;
pub mod denial;
pub mod keys;
pub mod nsec3;
pub mod presigned;
pub mod roll;
pub mod signed;
pub mod signer;
pub mod window;

pub use crypto::KeyEncryptionKey;
pub use keys::{KeyRole, ZoneKey};
pub use signed::{Denial, DenialKind, SignedZone};
pub use signer::ZoneSigner;

use base::dnskey::{ds_rdata, DigestType};
use base::name::Name;
use base::types;
use denial::Nsec3Params;

use crate::config::DnssecConfig;
use crate::zone::Record;

/// The key-encryption key `[dnssec] key_encryption_key_file` names, if
/// one is configured.
pub fn key_encryption_key(config: &DnssecConfig) -> Result<Option<KeyEncryptionKey>, crypto::CryptoError> {
    config
        .key_encryption_key_file
        .as_deref()
        .map(KeyEncryptionKey::load)
        .transpose()
}

/// Record types a secured zone derives from its keys and chain; stored
/// copies are replaced by what the keys say.
const DERIVED_TYPES: [u16; 7] = [
    types::DNSKEY,
    types::CDS,
    types::CDNSKEY,
    types::NSEC3PARAM,
    types::RRSIG,
    types::NSEC,
    types::NSEC3,
];

/// Makes a secured zone's records: drops stored DNSSEC records and adds
/// the DNSKEY RRset of the published keys, CDS and CDNSKEY for the keys
/// the parent's DS should point at (RFC 7344 §4), and NSEC3PARAM for NSEC3
/// zones (RFC 5155 §4). All take the SOA's TTL.
pub fn prepare_records(apex: &Name, records: &mut Vec<Record>, keys: &[ZoneKey], nsec3: Option<&Nsec3Params>) {
    records.retain(|record| !DERIVED_TYPES.contains(&record.rtype));
    let ttl = records
        .iter()
        .find(|record| record.rtype == types::SOA)
        .map_or(3600, |soa| soa.ttl);
    let mut add = |rtype, rdata| {
        records.push(Record {
            owner: apex.clone(),
            ttl,
            rtype,
            rdata,
        })
    };
    for key in keys.iter().filter(|key| key.published) {
        let dnskey = key.key.dnskey_rdata();
        if key.ds {
            add(types::CDS, ds_rdata(apex.as_wire(), &dnskey, DigestType::Sha256));
            add(types::CDNSKEY, dnskey.clone());
        }
        add(types::DNSKEY, dnskey);
    }
    if let Some(params) = nsec3 {
        add(
            types::NSEC3PARAM,
            nsec3::nsec3param_rdata(params.iterations, &params.salt),
        );
    }
}

/// Keeps the DS RRsets at delegations to secured child zones in step with
/// the children's published key-signing keys: for each `(child, DNSKEY
/// RDATAs)` that this zone delegates (NS at the child's apex), the stored
/// DS records are replaced by SHA-256 DS records of those keys, with the
/// delegation's NS TTL.
pub fn sync_child_ds(records: &mut Vec<Record>, children: &[(Name, Vec<Vec<u8>>)]) {
    for (child, dnskeys) in children {
        let Some(ttl) = records
            .iter()
            .find(|record| record.rtype == types::NS && record.owner.eq_ignore_case(child))
            .map(|ns| ns.ttl)
        else {
            continue;
        };
        records.retain(|record| !(record.rtype == types::DS && record.owner.eq_ignore_case(child)));
        for dnskey in dnskeys {
            records.push(Record {
                owner: child.clone(),
                ttl,
                rtype: types::DS,
                rdata: ds_rdata(child.as_wire(), dnskey, DigestType::Sha256),
            });
        }
    }
}
