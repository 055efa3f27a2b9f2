//! Zone keys: creating them for `zone secure` and rollovers, and opening
//! them for signing.
//!
//! Private keys are stored as PKCS#8, sealed with AES-256-GCM under the
//! configured key-encryption key (`[dnssec] key_encryption_key_file`) and
//! bound to their zone's name; without that key they are stored in the
//! clear, protected only by the store's own access control.

use std::fmt;
use std::str::FromStr;

use base::Name;
use data_encoding::BASE64;

use super::crypto::{Algorithm, CryptoError, KeyEncryptionKey, SigningKey};
use crate::store::NewKey;

/// Prefix of a private key stored without encryption.
const PLAIN_PREFIX: &str = "plain:";

/// What a key signs (RFC 6781 §3.1, RFC 9499 "CSK").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyRole {
    /// Combined signing key: signs everything (flags 257).
    Csk,
    /// Key-signing key: signs DNSKEY, CDS and CDNSKEY (flags 257).
    Ksk,
    /// Zone-signing key: signs everything else (flags 256).
    Zsk,
}

impl KeyRole {
    /// The DNSKEY flags: SEP bit for keys the parent's DS points at.
    pub fn flags(self) -> u16 {
        match self {
            KeyRole::Csk | KeyRole::Ksk => 257,
            KeyRole::Zsk => 256,
        }
    }

    /// Whether this key signs the DNSKEY, CDS and CDNSKEY RRsets.
    pub fn signs_keys(self) -> bool {
        matches!(self, KeyRole::Csk | KeyRole::Ksk)
    }

    /// Whether this key signs the zone's other RRsets.
    pub fn signs_data(self) -> bool {
        matches!(self, KeyRole::Csk | KeyRole::Zsk)
    }

    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyRole::Csk => "csk",
            KeyRole::Ksk => "ksk",
            KeyRole::Zsk => "zsk",
        }
    }
}

impl FromStr for KeyRole {
    type Err = KeyError;

    fn from_str(text: &str) -> Result<KeyRole, KeyError> {
        match text {
            "csk" => Ok(KeyRole::Csk),
            "ksk" => Ok(KeyRole::Ksk),
            "zsk" => Ok(KeyRole::Zsk),
            other => Err(KeyError::BadRole(other.to_string())),
        }
    }
}

impl fmt::Display for KeyRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_str().to_uppercase())
    }
}

/// A key of a zone, ready to sign.
#[derive(Debug)]
pub struct ZoneKey {
    pub id: i64,
    pub role: KeyRole,
    pub key: SigningKey,
    pub published: bool,
    pub active: bool,
    /// Whether CDS, CDNSKEY and the parent's DS point at this key.
    pub ds: bool,
}

/// Why keys could not be made or loaded. Never contains key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("unknown key role {0:?} (expected csk, ksk or zsk)")]
    BadRole(String),
    #[error("key {id}: unsupported algorithm {algorithm}")]
    BadAlgorithm { id: i64, algorithm: i64 },
    #[error("key {id}: private key is encrypted but no [dnssec] key_encryption_key_file is configured")]
    NoKeyEncryptionKey { id: i64 },
    #[error("key {id}: private key cannot be decrypted with the configured key-encryption key: {source}")]
    Undecryptable { id: i64, source: CryptoError },
    #[error("key {id}: private key is not readable: {detail}")]
    Corrupt { id: i64, detail: String },
    #[error("key {id}: private key does not match its published DNSKEY")]
    Mismatch { id: i64 },
    #[error("{0}")]
    Crypto(#[from] CryptoError),
}

/// A zone key as it is kept at rest: the public half in the clear, the
/// private half sealed (see [`seal`]). Debug output leaves the private
/// half out.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedKey {
    pub role: KeyRole,
    pub algorithm: Algorithm,
    /// DNSKEY RDATA.
    pub dnskey: Vec<u8>,
    /// The PKCS#8 document, sealed or marked as stored in the clear.
    pub private_key: String,
    pub published: bool,
    pub active: bool,
    /// Whether CDS, CDNSKEY and the parent's DS point at this key.
    pub ds: bool,
}

impl SealedKey {
    /// The key as a store row.
    pub fn row(&self) -> NewKey {
        NewKey {
            role: self.role.as_str().to_string(),
            algorithm: i64::from(self.algorithm.number()),
            dnskey: BASE64.encode(&self.dnskey),
            private_key: self.private_key.clone(),
            published: self.published,
            active: self.active,
            ds: self.ds,
        }
    }
}

impl fmt::Debug for SealedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedKey")
            .field("role", &self.role)
            .field("algorithm", &self.algorithm)
            .field("published", &self.published)
            .field("active", &self.active)
            .field("ds", &self.ds)
            .finish_non_exhaustive()
    }
}

/// Creates the first keys of a zone: one CSK, or a KSK and a ZSK when
/// `split`. All are published and active at once: a zone being secured has
/// no DS yet, so there is nothing to roll over from.
pub fn new_keys(
    zone: &Name,
    algorithm: Algorithm,
    split: bool,
    kek: Option<&KeyEncryptionKey>,
) -> Result<Vec<SealedKey>, KeyError> {
    let roles: &[KeyRole] = if split {
        &[KeyRole::Ksk, KeyRole::Zsk]
    } else {
        &[KeyRole::Csk]
    };
    roles
        .iter()
        .map(|&role| new_key(zone, algorithm, role, (true, true, role.signs_keys()), kek))
        .collect()
}

/// Creates one key of `role` with the given (published, active, ds) flags.
pub fn new_key(
    zone: &Name,
    algorithm: Algorithm,
    role: KeyRole,
    (published, active, ds): (bool, bool, bool),
    kek: Option<&KeyEncryptionKey>,
) -> Result<SealedKey, KeyError> {
    let (key, pkcs8) = SigningKey::generate(algorithm, role.flags())?;
    Ok(SealedKey {
        role,
        algorithm,
        dnskey: key.dnskey_rdata(),
        private_key: seal(zone, &pkcs8, kek)?,
        published,
        active,
        ds,
    })
}

/// Opens the sealed key `id` of `zone`, checking its private key against
/// its published DNSKEY.
pub fn open_key(zone: &Name, id: i64, sealed: &SealedKey, kek: Option<&KeyEncryptionKey>) -> Result<ZoneKey, KeyError> {
    let pkcs8 = open(zone, id, &sealed.private_key, kek)?;
    let key =
        SigningKey::from_pkcs8(sealed.algorithm, sealed.role.flags(), &pkcs8).map_err(|error| KeyError::Corrupt {
            id,
            detail: error.to_string(),
        })?;
    if sealed.dnskey != key.dnskey_rdata() {
        return Err(KeyError::Mismatch { id });
    }
    Ok(ZoneKey {
        id,
        role: sealed.role,
        key,
        published: sealed.published,
        active: sealed.active,
        ds: sealed.ds,
    })
}

/// The text stored for a private key.
fn seal(zone: &Name, pkcs8: &[u8], kek: Option<&KeyEncryptionKey>) -> Result<String, KeyError> {
    match kek {
        Some(kek) => Ok(kek.seal(pkcs8, context(zone).as_bytes())?),
        None => Ok(format!("{PLAIN_PREFIX}{}", BASE64.encode(pkcs8))),
    }
}

/// The PKCS#8 document from its stored text.
fn open(zone: &Name, id: i64, stored: &str, kek: Option<&KeyEncryptionKey>) -> Result<Vec<u8>, KeyError> {
    if let Some(encoded) = stored.strip_prefix(PLAIN_PREFIX) {
        return BASE64.decode(encoded.as_bytes()).map_err(|error| KeyError::Corrupt {
            id,
            detail: format!("not base64: {error}"),
        });
    }
    let kek = kek.ok_or(KeyError::NoKeyEncryptionKey { id })?;
    kek.open(stored, context(zone).as_bytes())
        .map_err(|source| KeyError::Undecryptable { id, source })
}

/// What a sealed key is bound to: its zone, so a sealed key copied into
/// another zone's row fails to open.
fn context(zone: &Name) -> String {
    format!("pooldns dnssec key for {}", zone.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open_all(zone: &Name, keys: &[SealedKey], kek: Option<&KeyEncryptionKey>) -> Result<Vec<ZoneKey>, KeyError> {
        keys.iter()
            .enumerate()
            .map(|(i, key)| open_key(zone, i as i64 + 1, key, kek))
            .collect()
    }

    #[test]
    fn keys_round_trip_sealed_and_plain() {
        let zone: Name = "example.test.".parse().expect("name");
        let kek = KeyEncryptionKey::from_file_contents(&"ab".repeat(32)).expect("kek");
        let sealed = new_keys(&zone, Algorithm::EcdsaP256Sha256, true, Some(&kek)).expect("keys");
        assert!(sealed.iter().all(|key| key.private_key.starts_with("v1:")));
        let loaded = open_all(&zone, &sealed, Some(&kek)).expect("loads");
        assert_eq!(
            loaded.iter().map(|k| k.role).collect::<Vec<_>>(),
            [KeyRole::Ksk, KeyRole::Zsk]
        );
        assert!(matches!(
            open_all(&zone, &sealed, None),
            Err(KeyError::NoKeyEncryptionKey { id: 1 })
        ));
        let other: Name = "other.test.".parse().expect("name");
        assert!(matches!(
            open_all(&other, &sealed, Some(&kek)),
            Err(KeyError::Undecryptable { .. })
        ));

        let plain = new_keys(&zone, Algorithm::Ed25519, false, None).expect("keys");
        assert!(plain[0].private_key.starts_with(PLAIN_PREFIX));
        let loaded = open_all(&zone, &plain, None).expect("loads");
        assert_eq!(loaded[0].role, KeyRole::Csk);
        assert_eq!(loaded[0].key.flags(), 257);
    }

    #[test]
    fn a_key_that_does_not_match_its_dnskey_is_refused() {
        let zone: Name = "example.test.".parse().expect("name");
        let mut keys = new_keys(&zone, Algorithm::EcdsaP256Sha256, true, None).expect("keys");
        keys[1].dnskey = keys[0].dnskey.clone();
        assert!(matches!(
            open_all(&zone, &keys, None),
            Err(KeyError::Mismatch { id: 2 })
        ));
    }
}
