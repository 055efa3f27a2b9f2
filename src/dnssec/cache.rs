//! Signatures shared by every snapshot of the process, and kept across
//! restarts.
//!
//! A zone snapshot is rebuilt on every change to the zone, but most of its
//! RRsets are the same as before. The cache is keyed by a SHA-256 digest of
//! exactly what a signature covers — the RRSIG fields (key tag, algorithm,
//! validity window, signer) and the canonical RRset — so an unchanged RRset
//! signed with the same key in the same week is signed once, however many
//! snapshots, zones or LUA evaluations produce it. ECDSA signatures are
//! randomised; reuse also keeps what clients see stable.
//!
//! With a directory, new signatures are also appended, by the week of
//! their validity window, to `signatures-<week>.bin` there (flushed by the
//! loader after each build), and read back when the server starts: a
//! restart signs only what changed, not every RRset again. Each entry is
//! the digest, the signature's length, the signature and a check of the
//! three (8 octets of SHA-256), so a torn or damaged entry is dropped, and
//! with it the rest of its file. Files of weeks whose signatures are no
//! longer served are deleted.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ring::digest::{digest, SHA256};

/// Octets of an entry's check value.
const CHECK_LEN: usize = 8;

/// Signatures by digest of the signed data. The digest covers the
/// validity window, so signatures of past weeks are never hit again and
/// give way to current ones as the cache evicts its least useful entries.
pub struct SignatureCache {
    entries: moka::sync::Cache<[u8; 32], Box<[u8]>>,
    disk: Option<Disk>,
}

/// Where new signatures go before and after [`SignatureCache::flush`].
struct Disk {
    dir: PathBuf,
    /// Entries not yet written, by week.
    pending: Mutex<HashMap<u64, Vec<u8>>>,
}

impl SignatureCache {
    /// A cache in memory, holding at most about `capacity` signatures.
    pub fn new(capacity: u64) -> SignatureCache {
        SignatureCache {
            entries: moka::sync::Cache::new(capacity.max(1)),
            disk: None,
        }
    }

    /// A cache kept in `dir` too (created if missing), filled with the
    /// signatures stored there for weeks from `week - 1` on; older files
    /// are deleted. Returns the cache and how many signatures it read.
    pub fn persistent(capacity: u64, dir: &Path, week: u64) -> io::Result<(SignatureCache, usize)> {
        std::fs::create_dir_all(dir)?;
        let cache = SignatureCache {
            disk: Some(Disk {
                dir: dir.to_path_buf(),
                pending: Mutex::new(HashMap::new()),
            }),
            ..SignatureCache::new(capacity)
        };
        let mut read = 0;
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            let Some(file_week) = file_week(&path) else {
                continue;
            };
            if file_week + 1 < week {
                std::fs::remove_file(&path)?;
                continue;
            }
            read += cache.read_file(&path)?;
        }
        Ok((cache, read))
    }

    /// The signature over `data`, made with `sign` unless the cache has it;
    /// `week` is the signature's validity window.
    pub fn get_or_sign<E>(
        &self,
        week: u64,
        data: &[u8],
        sign: impl FnOnce() -> Result<Vec<u8>, E>,
    ) -> Result<Box<[u8]>, E> {
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
        if let Some(disk) = &self.disk {
            let mut pending = disk.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            encode_entry(pending.entry(week).or_default(), &key, &signature);
        }
        Ok(signature)
    }

    /// Appends the signatures made since the last flush to their files.
    pub fn flush(&self) -> io::Result<()> {
        let Some(disk) = &self.disk else {
            return Ok(());
        };
        let pending = std::mem::take(&mut *disk.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
        for (week, bytes) in pending {
            let path = disk.dir.join(format!("signatures-{week}.bin"));
            let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&path)?;
            file.write_all(&bytes)?;
        }
        Ok(())
    }

    /// Reads the entries of one file into the cache; a damaged entry ends
    /// the file, which is cut there so that later entries append cleanly.
    fn read_file(&self, path: &Path) -> io::Result<usize> {
        let mut bytes = Vec::new();
        std::fs::File::open(path)?.read_to_end(&mut bytes)?;
        let mut pos = 0;
        let mut read = 0;
        while let Some((key, signature, next)) = decode_entry(&bytes, pos) {
            self.entries.insert(key, signature.into());
            pos = next;
            read += 1;
        }
        if pos < bytes.len() {
            tracing::warn!(file = %path.display(), at = pos, "signature cache file damaged; its rest is dropped");
            std::fs::OpenOptions::new()
                .write(true)
                .open(path)?
                .set_len(pos as u64)?;
        }
        Ok(read)
    }
}

/// The week of a `signatures-<week>.bin` file.
fn file_week(path: &Path) -> Option<u64> {
    path.file_name()?
        .to_str()?
        .strip_prefix("signatures-")?
        .strip_suffix(".bin")?
        .parse()
        .ok()
}

fn encode_entry(out: &mut Vec<u8>, key: &[u8; 32], signature: &[u8]) {
    let start = out.len();
    out.extend_from_slice(key);
    out.extend_from_slice(&(signature.len() as u16).to_be_bytes());
    out.extend_from_slice(signature);
    let check = digest(&SHA256, &out[start..]);
    out.extend_from_slice(&check.as_ref()[..CHECK_LEN]);
}

/// The entry at `pos`, and where the next one starts; `None` at the end
/// or at a damaged entry.
fn decode_entry(bytes: &[u8], pos: usize) -> Option<([u8; 32], &[u8], usize)> {
    let key: [u8; 32] = bytes.get(pos..pos + 32)?.try_into().ok()?;
    let length = usize::from(u16::from_be_bytes(bytes.get(pos + 32..pos + 34)?.try_into().ok()?));
    let end = pos + 34 + length;
    let check = bytes.get(end..end + CHECK_LEN)?;
    if digest(&SHA256, &bytes[pos..end]).as_ref()[..CHECK_LEN] != *check {
        return None;
    }
    Some((key, &bytes[pos + 34..end], end + CHECK_LEN))
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
        assert_eq!(&*cache.get_or_sign(1, b"a", || sign(b"a")).expect("signed"), b"a");
        assert_eq!(&*cache.get_or_sign(1, b"a", || sign(b"a")).expect("cached"), b"a");
        assert_eq!(signed.get(), 1);
        for data in [b"b", b"c", b"d", b"e"] {
            cache.get_or_sign(1, data, || sign(data)).expect("signed");
        }
        cache.entries.run_pending_tasks();
        assert!(cache.entries.entry_count() <= 2, "bounded, entry by entry");
    }

    #[test]
    fn signatures_survive_a_restart_and_damage_is_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let sign = |data: &[u8]| -> Result<Vec<u8>, ()> { Ok(data.to_vec()) };
        let (cache, read) = SignatureCache::persistent(100, dir.path(), 10).unwrap();
        assert_eq!(read, 0);
        for data in [b"a", b"b", b"c"] {
            cache.get_or_sign(10, data, || sign(data)).unwrap();
        }
        cache.get_or_sign(11, b"next week", || sign(b"next week")).unwrap();
        cache.flush().unwrap();
        std::fs::write(dir.path().join("signatures-3.bin"), b"old").unwrap();

        let (cache, read) = SignatureCache::persistent(100, dir.path(), 10).unwrap();
        assert_eq!(read, 4);
        assert!(!dir.path().join("signatures-3.bin").exists(), "old weeks are deleted");
        let fresh = cache.get_or_sign(10, b"b", || Err::<Vec<u8>, ()>(()));
        assert_eq!(&*fresh.expect("read back, not signed"), b"b");

        // A torn last entry is dropped, the others kept.
        let path = dir.path().join("signatures-10.bin");
        let length = std::fs::metadata(&path).unwrap().len();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(length - 3)
            .unwrap();
        let (_, read) = SignatureCache::persistent(100, dir.path(), 10).unwrap();
        assert_eq!(read, 3);
        let (_, read) = SignatureCache::persistent(100, dir.path(), 10).unwrap();
        assert_eq!(read, 3, "the file was cut at the damage");
    }
}
