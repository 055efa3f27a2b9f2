//! RRSIGs for one zone snapshot, each made once and then copied.

use std::sync::Arc;

use base::rdata::list;
use base::types;

use super::cache::SignatureCache;
use super::canonical::{rrsig_labels, signed_data, RrsigHeader};
use super::keys::ZoneKey;
use super::window::Window;

/// Signs the RRsets of one zone snapshot. The RRSIGs themselves are kept
/// with what they sign, in the zone's nodes and NSEC3 records (see
/// [`super::signed`]).
#[derive(Clone)]
pub struct ZoneSigner {
    apex: Box<[u8]>,
    keys: Arc<[ZoneKey]>,
    window: Window,
    cache: Arc<SignatureCache>,
}

impl ZoneSigner {
    /// A signer for the zone at `apex` (lowercased wire name) using the
    /// active ones of `keys`. Signatures come from `cache` when an
    /// identical RRset was signed with the same key in the same week before.
    pub fn new(apex: &[u8], keys: Vec<ZoneKey>, window: Window, cache: Arc<SignatureCache>) -> ZoneSigner {
        ZoneSigner {
            apex: apex.into(),
            keys: keys.into_iter().filter(|key| key.active).collect(),
            window,
            cache,
        }
    }

    /// The window the signatures of this snapshot carry.
    pub fn window(&self) -> Window {
        self.window
    }

    /// The keys, active ones only.
    pub fn keys(&self) -> &[ZoneKey] {
        &self.keys
    }

    /// Signs an RRset with every key whose role covers its type, appending
    /// each RRSIG RDATA with a 2-octet length to `out`.
    pub fn sign_into(&self, owner: &[u8], rtype: u16, ttl: u32, rdatas: &[&[u8]], out: &mut Vec<u8>) {
        let signs_keys = matches!(rtype, types::DNSKEY | types::CDS | types::CDNSKEY);
        let mut data = Vec::with_capacity(512);
        for zone_key in self.keys.iter() {
            let wanted = if signs_keys {
                zone_key.role.signs_keys()
            } else {
                zone_key.role.signs_data()
            };
            if !wanted {
                continue;
            }
            let header = RrsigHeader {
                type_covered: rtype,
                algorithm: zone_key.key.algorithm().number(),
                labels: rrsig_labels(owner),
                original_ttl: ttl,
                expiration: self.window.expiration,
                inception: self.window.inception,
                key_tag: zone_key.key.key_tag(),
                signer: &self.apex,
            };
            data.clear();
            signed_data(&header, owner, rtype, rdatas, &mut data);
            let signature = match self
                .cache
                .get_or_sign(self.window.week, &data, || zone_key.key.sign(&data))
            {
                Ok(signature) => signature,
                Err(error) => {
                    tracing::error!(key = zone_key.id, %error, "signing failed");
                    continue;
                }
            };
            let mut rdata = Vec::with_capacity(32 + self.apex.len() + signature.len());
            header.write(&mut rdata);
            rdata.extend_from_slice(&signature);
            list::push(out, &rdata);
        }
    }
}
