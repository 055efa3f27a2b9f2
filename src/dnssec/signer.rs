//! RRSIGs for one zone snapshot, each made once and then copied.

use std::sync::{Arc, OnceLock};

use base::rdata::list;
use base::types;

use super::cache::SignatureCache;
use super::canonical::{rrsig_labels, signed_data, RrsigHeader};
use super::keys::ZoneKey;
use super::window::Window;

/// Signs the RRsets of one zone snapshot.
///
/// The RRSIGs of a node's RRsets are kept in the node (see
/// [`super::signed`]); those of the NSEC3 records of the snapshot in the
/// signer's slots, slot `i` for record `i` of the chain. The loader fills
/// them before the snapshot is served; a slot still empty is filled on
/// first use (two threads racing for it wait for one signing).
pub struct ZoneSigner {
    apex: Box<[u8]>,
    keys: Arc<[ZoneKey]>,
    window: Window,
    slots: Box<[OnceLock<Box<[u8]>>]>,
    cache: Arc<SignatureCache>,
}

impl ZoneSigner {
    /// A signer for the zone at `apex` (lowercased wire name) using the
    /// active ones of `keys`, with `slots` slots for NSEC3 signatures.
    /// Signatures come from `cache` when an identical RRset was signed
    /// with the same key in the same week before.
    pub fn new(
        apex: &[u8],
        keys: Vec<ZoneKey>,
        window: Window,
        slots: usize,
        cache: Arc<SignatureCache>,
    ) -> ZoneSigner {
        ZoneSigner {
            apex: apex.into(),
            keys: keys.into_iter().filter(|key| key.active).collect(),
            window,
            slots: (0..slots).map(|_| OnceLock::new()).collect(),
            cache,
        }
    }

    /// A signer with the same keys and window, and no slots: for the next
    /// snapshot of an NSEC zone, which differs from this one's by a change.
    pub fn for_change(&self) -> ZoneSigner {
        ZoneSigner {
            apex: self.apex.clone(),
            keys: self.keys.clone(),
            window: self.window,
            slots: Box::default(),
            cache: self.cache.clone(),
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

    /// The RRSIG RDATAs of an RRset as an RDATA list
    /// ([`base::rdata::list`]), signing it on first use. `owner` is the lowercased owner the
    /// RRset is stored under (for a wildcard, the `*` name); `rdatas`
    /// yields the RRset's records.
    pub fn rrsigs<'s, I>(
        &'s self,
        slot: usize,
        owner: &[u8],
        rtype: u16,
        ttl: u32,
        rdatas: impl FnOnce() -> I,
    ) -> &'s [u8]
    where
        I: Iterator,
        I::Item: AsRef<[u8]>,
    {
        match self.slots.get(slot) {
            Some(cell) => cell.get_or_init(|| {
                let records: Vec<I::Item> = rdatas().collect();
                let records: Vec<&[u8]> = records.iter().map(AsRef::as_ref).collect();
                let mut out = Vec::new();
                self.sign_into(owner, rtype, ttl, &records, &mut out);
                out.into_boxed_slice()
            }),
            None => &[],
        }
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
