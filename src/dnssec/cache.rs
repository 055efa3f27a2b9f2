//! Signatures shared by every snapshot of the process.
//!
//! A zone snapshot is rebuilt on every change to the zone, but most of its
//! RRsets are the same as before. The cache is keyed by a SHA-256 digest of
//! exactly what a signature covers — the RRSIG fields (key tag, algorithm,
//! validity window, signer) and the canonical RRset — so an unchanged RRset
//! signed with the same key in the same week is signed once, however many
//! snapshots, zones or LUA evaluations produce it. ECDSA signatures are
//! randomised; reuse also keeps what clients see stable.

use ring::digest::{digest, SHA256};

/// Signatures by digest of the signed data. The digest covers the
/// validity window, so signatures of past weeks are never hit again and
/// give way to current ones as the cache evicts its least useful entries.
pub struct SignatureCache {
    entries: moka::sync::Cache<[u8; 32], Box<[u8]>>,
}

impl SignatureCache {
    /// A cache holding at most about `capacity` signatures.
    pub fn new(capacity: u64) -> SignatureCache {
        SignatureCache {
            entries: moka::sync::Cache::new(capacity.max(1)),
        }
    }

    /// The signature over `data`, made with `sign` unless the cache has it.
    pub fn get_or_sign<E>(&self, data: &[u8], sign: impl FnOnce() -> Result<Vec<u8>, E>) -> Result<Box<[u8]>, E> {
        let mut key = [0u8; 32];
        // SHA-256 digests are 32 octets.
        key.copy_from_slice(digest(&SHA256, data).as_ref());
        if let Some(signature) = self.entries.get(&key) {
            return Ok(signature);
        }
        // Signing takes tens of microseconds; two threads may both sign
        // new data, and either signature is valid.
        let signature: Box<[u8]> = sign()?.into_boxed_slice();
        self.entries.insert(key, signature.clone());
        Ok(signature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_once_per_content_and_stays_bounded() {
        let cache = SignatureCache::new(2);
        let signed = std::cell::Cell::new(0);
        let sign = |data: &[u8]| -> Result<Vec<u8>, ()> {
            signed.set(signed.get() + 1);
            Ok(data.to_vec())
        };
        assert_eq!(&*cache.get_or_sign(b"a", || sign(b"a")).expect("signed"), b"a");
        assert_eq!(&*cache.get_or_sign(b"a", || sign(b"a")).expect("cached"), b"a");
        assert_eq!(signed.get(), 1);
        for data in [b"b", b"c", b"d", b"e"] {
            cache.get_or_sign(data, || sign(data)).expect("signed");
        }
        cache.entries.run_pending_tasks();
        assert!(cache.entries.entry_count() <= 2, "bounded, entry by entry");
    }
}
