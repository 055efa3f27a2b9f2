//! Signatures shared by every snapshot of the process.
//!
//! A zone snapshot is rebuilt on every change to the zone, but most of its
//! RRsets are the same as before. The cache is keyed by a SHA-256 digest of
//! exactly what a signature covers — the RRSIG fields (key tag, algorithm,
//! validity window, signer) and the canonical RRset — so an unchanged RRset
//! signed with the same key in the same week is signed once, however many
//! snapshots, zones or LUA evaluations produce it. ECDSA signatures are
//! randomised; reuse also keeps what clients see stable.

use std::collections::HashMap;
use std::sync::Mutex;

use ring::digest::{digest, SHA256};

/// Signatures by digest of the signed data.
pub struct SignatureCache {
    capacity: usize,
    entries: Mutex<Entries>,
}

struct Entries {
    /// The signature week the entries belong to; a newer week clears them.
    week: u64,
    map: HashMap<[u8; 32], Box<[u8]>>,
}

impl SignatureCache {
    /// A cache holding at most `capacity` signatures; when full it starts
    /// over, as PowerDNS's does.
    pub fn new(capacity: usize) -> SignatureCache {
        SignatureCache {
            capacity: capacity.max(1),
            entries: Mutex::new(Entries {
                week: 0,
                map: HashMap::new(),
            }),
        }
    }

    /// The signature over `data` in signature week `week`, made with `sign`
    /// unless the cache has it.
    pub fn get_or_sign<E>(
        &self,
        week: u64,
        data: &[u8],
        sign: impl FnOnce() -> Result<Vec<u8>, E>,
    ) -> Result<Box<[u8]>, E> {
        let mut key = [0u8; 32];
        // SHA-256 digests are 32 octets.
        key.copy_from_slice(digest(&SHA256, data).as_ref());
        {
            let entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if entries.week == week {
                if let Some(signature) = entries.map.get(&key) {
                    return Ok(signature.clone());
                }
            }
        }
        // Signing takes tens of microseconds: not under the lock.
        let signature: Box<[u8]> = sign()?.into_boxed_slice();
        let mut entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if entries.week != week {
            if week < entries.week {
                return Ok(signature);
            }
            entries.week = week;
            entries.map.clear();
        }
        if entries.map.len() >= self.capacity {
            entries.map.clear();
        }
        entries.map.insert(key, signature.clone());
        Ok(signature)
    }

    /// How many signatures are cached.
    pub fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .map
            .len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_once_per_content_and_week() {
        let cache = SignatureCache::new(2);
        let signed = std::cell::Cell::new(0);
        let sign = |data: &[u8]| -> Result<Vec<u8>, ()> {
            signed.set(signed.get() + 1);
            Ok(data.to_vec())
        };
        assert_eq!(&*cache.get_or_sign(1, b"a", || sign(b"a")).expect("signed"), b"a");
        assert_eq!(&*cache.get_or_sign(1, b"a", || sign(b"a")).expect("cached"), b"a");
        assert_eq!(signed.get(), 1);
        cache.get_or_sign(2, b"a", || sign(b"a")).expect("new week");
        assert_eq!(signed.get(), 2);
        cache.get_or_sign(2, b"b", || sign(b"b")).expect("b");
        cache.get_or_sign(2, b"c", || sign(b"c")).expect("full: starts over");
        assert_eq!(cache.len(), 1);
    }
}
