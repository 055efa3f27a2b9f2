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
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use ring::digest::{digest, SHA256};

/// Octets of an entry's check value.
const CHECK_LEN: usize = 8;

/// Shards of the table, so that answers signing LUA results on several
/// threads rarely wait for each other.
const SHARDS: usize = 16;

/// Signatures by digest of the signed data. The digest covers the
/// validity window, so signatures of past weeks are never hit again and
/// give way to current ones as the cache evicts what was not used lately;
/// so do the signatures of RRsets a change replaced, once the cache is
/// fitted to what is served ([`SignatureCache::fit`]).
pub struct SignatureCache {
    shards: Box<[Mutex<Generations>]>,
    /// Entries each shard's current generation holds before it becomes the
    /// previous one.
    generation_size: AtomicUsize,
    /// The capacity `fit` never goes past.
    max_capacity: usize,
    disk: Option<Disk>,
    /// The signatures kept on disk and whether they are read yet, for a
    /// persistent cache; woken when they are.
    stored: Option<(Mutex<Stored>, Condvar)>,
}

/// Where the reading of the signatures kept on disk stands.
enum Stored {
    /// Not started: the file is read when a signature is first missed,
    /// which at a start is once the zones are served, so that the reading
    /// does not hold back their builds.
    Unread(PathBuf),
    Reading,
    Read,
}

/// One shard: a two-generation cache, whose entries are kept while used
/// within the last two generations; at most twice the generation size.
/// Inserting and finding cost one hash probe, which matters for the
/// millions of entries a restart reads back (a general-purpose cache
/// takes microseconds per insert).
#[derive(Default)]
struct Generations {
    current: HashMap<[u8; 32], Box<[u8]>, foldhash::fast::RandomState>,
    previous: HashMap<[u8; 32], Box<[u8]>, foldhash::fast::RandomState>,
}

impl Generations {
    fn get(&mut self, key: &[u8; 32], generation_size: usize) -> Option<Box<[u8]>> {
        if let Some(signature) = self.current.get(key) {
            return Some(signature.clone());
        }
        let signature = self.previous.remove(key)?;
        self.insert(*key, signature.clone(), generation_size);
        Some(signature)
    }

    fn insert(&mut self, key: [u8; 32], signature: Box<[u8]>, generation_size: usize) {
        if self.current.len() >= generation_size {
            self.previous = std::mem::take(&mut self.current);
        }
        self.current.insert(key, signature);
    }

    fn len(&self) -> usize {
        self.current.len() + self.previous.len()
    }
}

/// Where new signatures go before and after [`SignatureCache::flush`].
struct Disk {
    dir: PathBuf,
    /// Entries not yet written, by week.
    pending: Mutex<HashMap<u64, Vec<u8>>>,
}

impl SignatureCache {
    /// A cache in memory that keeps about the last `capacity` signatures
    /// used, and holds at most twice that, until it is fitted.
    pub fn new(capacity: u64) -> SignatureCache {
        SignatureCache {
            shards: (0..SHARDS).map(|_| Mutex::new(Generations::default())).collect(),
            generation_size: AtomicUsize::new(generation_size(capacity as usize)),
            max_capacity: capacity as usize,
            disk: None,
            stored: None,
        }
    }

    /// Sizes the cache to the zones served: `signed_records` records in
    /// secured zones have at most as many RRsets, as many NSEC or NSEC3
    /// records again, and twice the signatures while a key rolls; one
    /// generation holds all that, so a signature still served is not
    /// evicted and made again differently (ECDSA is randomised). The
    /// signatures of RRsets replaced by changes are evicted within two
    /// generations instead of accumulating up to the initial capacity;
    /// `MIN_CAPACITY` is kept for answers signed on the fly (LUA records).
    pub fn fit(&self, signed_records: usize) {
        let capacity = signed_records
            .saturating_mul(4)
            .clamp(MIN_CAPACITY, self.max_capacity.max(MIN_CAPACITY));
        self.generation_size.store(generation_size(capacity), Ordering::Relaxed);
    }

    fn generation_size(&self) -> usize {
        self.generation_size.load(Ordering::Relaxed)
    }

    fn shard(&self, key: &[u8; 32]) -> std::sync::MutexGuard<'_, Generations> {
        self.lock(&self.shards[usize::from(key[0]) % SHARDS])
    }

    fn insert(&self, key: [u8; 32], signature: Box<[u8]>) {
        self.shard(&key).insert(key, signature, self.generation_size());
    }

    /// A cache kept in `dir` too (created if missing). The signatures
    /// stored there for `week` are read when a signature is first missed;
    /// a signature missed meanwhile waits for the reading to end before it
    /// is made. Files of other weeks are deleted: a snapshot built now
    /// signs with this week's window.
    pub fn persistent(capacity: u64, dir: &Path, week: u64) -> io::Result<Arc<SignatureCache>> {
        std::fs::create_dir_all(dir)?;
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if file_week(&path).is_some_and(|file_week| file_week != week) {
                std::fs::remove_file(&path)?;
            }
        }
        Ok(Arc::new(SignatureCache {
            disk: Some(Disk {
                dir: dir.to_path_buf(),
                pending: Mutex::new(HashMap::new()),
            }),
            stored: Some((
                Mutex::new(Stored::Unread(dir.join(format!("signatures-{week}.bin")))),
                Condvar::new(),
            )),
            ..SignatureCache::new(capacity)
        }))
    }

    /// Returns once the signatures kept on disk are read: reads them on
    /// this thread if no other has started to.
    fn wait_for_reading(&self) {
        let Some((stored, done)) = &self.stored else {
            return;
        };
        let mut state = stored.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        loop {
            match &*state {
                Stored::Read => return,
                Stored::Reading => state = done.wait(state).unwrap_or_else(|poisoned| poisoned.into_inner()),
                Stored::Unread(_) => break,
            }
        }
        let Stored::Unread(path) = std::mem::replace(&mut *state, Stored::Reading) else {
            return;
        };
        drop(state);
        let started = std::time::Instant::now();
        match self.read_file(&path) {
            Ok(read) => {
                tracing::info!(file = %path.display(), signatures = read, elapsed = ?started.elapsed(), "signature cache read");
            }
            Err(error) => tracing::warn!(file = %path.display(), %error, "signature cache not read"),
        }
        *stored.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Stored::Read;
        done.notify_all();
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
        if let Some(signature) = self.shard(&key).get(&key, self.generation_size()) {
            return Ok(signature);
        }
        if self.stored.is_some() {
            self.wait_for_reading();
            if let Some(signature) = self.shard(&key).get(&key, self.generation_size()) {
                return Ok(signature);
            }
        }
        // Signing takes tens of microseconds, outside the lock; two threads
        // may both sign new data, and either signature is valid.
        let signature: Box<[u8]> = sign()?.into_boxed_slice();
        self.insert(key, signature.clone());
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
    /// A file holding many signatures twice (an RRset signed again after
    /// a restart that did not find its signature) is written again, each
    /// signature once. Returns how many signatures the cache holds.
    fn read_file(&self, path: &Path) -> io::Result<usize> {
        let mut bytes = Vec::new();
        match std::fs::File::open(path) {
            Ok(mut file) => file.read_to_end(&mut bytes)?,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(error) => return Err(error),
        };
        let mut pos = 0;
        let mut read = 0;
        while let Some((key, signature, next)) = decode_entry(&bytes, pos) {
            self.insert(key, signature.into());
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
        drop(bytes);
        let held: usize = self.shards.iter().map(|shard| self.lock(shard).len()).sum();
        if held < read * 3 / 4 {
            self.rewrite(path)?;
        }
        Ok(held)
    }

    /// Writes every signature held to `path`, replacing it.
    fn rewrite(&self, path: &Path) -> io::Result<()> {
        let temporary = path.with_extension("tmp");
        let mut file = io::BufWriter::new(std::fs::File::create(&temporary)?);
        let mut entry = Vec::new();
        for shard in self.shards.iter() {
            let shard = self.lock(shard);
            for (key, signature) in shard.previous.iter().chain(&shard.current) {
                entry.clear();
                encode_entry(&mut entry, key, signature);
                file.write_all(&entry)?;
            }
        }
        file.into_inner().map_err(io::IntoInnerError::into_error)?.sync_all()?;
        std::fs::rename(&temporary, path)
    }

    fn lock<'a>(&self, shard: &'a Mutex<Generations>) -> std::sync::MutexGuard<'a, Generations> {
        shard.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Signatures kept at least, for answers signed as they are made.
const MIN_CAPACITY: usize = 1024;

fn generation_size(capacity: usize) -> usize {
    (capacity / SHARDS).max(1)
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
        let cache = SignatureCache::new(SHARDS as u64);
        let signed = std::cell::Cell::new(0);
        let sign = |data: &[u8]| -> Result<Vec<u8>, ()> {
            signed.set(signed.get() + 1);
            Ok(data.to_vec())
        };
        assert_eq!(&*cache.get_or_sign(1, b"a", || sign(b"a")).expect("signed"), b"a");
        assert_eq!(&*cache.get_or_sign(1, b"a", || sign(b"a")).expect("cached"), b"a");
        assert_eq!(signed.get(), 1);
        for n in 0..1000u32 {
            let data = n.to_be_bytes();
            cache.get_or_sign(1, &data, || sign(&data)).expect("signed");
        }
        let held: usize = cache.shards.iter().map(|shard| shard.lock().unwrap().len()).sum();
        assert!(held <= 2 * SHARDS, "two generations of one entry per shard: {held}");
    }

    #[test]
    fn a_fitted_cache_lets_replaced_signatures_go() {
        let cache = SignatureCache::new(1_000_000);
        let sign = |data: &[u8]| -> Result<Vec<u8>, ()> { Ok(data.to_vec()) };
        let held =
            |cache: &SignatureCache| -> usize { cache.shards.iter().map(|shard| shard.lock().unwrap().len()).sum() };
        for n in 0..50_000u32 {
            cache
                .get_or_sign(1, &n.to_be_bytes(), || sign(&n.to_be_bytes()))
                .expect("signed");
        }
        assert_eq!(held(&cache), 50_000, "unfitted, the initial capacity holds them all");
        // Secured zones of 100 records: what changes replaced is evicted,
        // what is still used stays.
        cache.fit(100);
        let kept = 7u32.to_be_bytes();
        for n in 50_000..100_000u32 {
            cache
                .get_or_sign(1, &n.to_be_bytes(), || sign(&n.to_be_bytes()))
                .expect("signed");
            cache
                .get_or_sign(1, &kept, || -> Result<Vec<u8>, ()> {
                    panic!("a signature in use is kept")
                })
                .expect("cached");
        }
        assert!(held(&cache) <= 2 * MIN_CAPACITY, "{}", held(&cache));
        // A zone that grows widens it again.
        cache.fit(1_000_000);
        assert_eq!(cache.generation_size(), 1_000_000 / SHARDS);
    }

    #[test]
    fn signatures_survive_a_restart_and_damage_is_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let sign = |data: &[u8]| -> Result<Vec<u8>, ()> { Ok(data.to_vec()) };
        let open = || {
            let cache = SignatureCache::persistent(100, dir.path(), 10).unwrap();
            cache.wait_for_reading();
            cache
        };
        let held =
            |cache: &SignatureCache| -> usize { cache.shards.iter().map(|shard| shard.lock().unwrap().len()).sum() };
        let cache = open();
        assert_eq!(held(&cache), 0);
        for data in [b"a", b"b", b"c"] {
            cache.get_or_sign(10, data, || sign(data)).unwrap();
        }
        cache.flush().unwrap();
        std::fs::write(dir.path().join("signatures-3.bin"), b"old").unwrap();

        let cache = open();
        assert_eq!(held(&cache), 3);
        assert!(!dir.path().join("signatures-3.bin").exists(), "other weeks are deleted");
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
        assert_eq!(held(&open()), 2);
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            length * 2 / 3,
            "cut at the damage"
        );

        // Signatures made twice are written once when the file is read.
        let entries = std::fs::read(&path).unwrap();
        std::fs::write(&path, entries.repeat(3)).unwrap();
        assert_eq!(held(&open()), 2);
        assert_eq!(
            std::fs::read(&path).unwrap().len(),
            entries.len(),
            "written again, once each"
        );
    }
}
