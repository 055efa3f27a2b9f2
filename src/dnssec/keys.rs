//! Zone keys: creating them for `zone secure`, and loading them from the
//! store for signing.
//!
//! Private keys are stored as PKCS#8, sealed with AES-256-GCM under the
//! configured key-encryption key (`[dnssec] key_encryption_key_file`) and
//! bound to their zone's name; without that key they are stored in the
//! clear, protected only by the store's own access control.

use std::fmt;
use std::str::FromStr;

use data_encoding::BASE64;

use super::crypto::{Algorithm, CryptoError, KeyEncryptionKey, SigningKey};
use crate::store::{NewKey, StoredKey};
use base::name::Name;

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

/// Creates the first keys of a zone: one CSK, or a KSK and a ZSK when
/// `split`. All are published and active at once: a zone being secured has
/// no DS yet, so there is nothing to roll over from.
pub fn new_keys(
    zone: &Name,
    algorithm: Algorithm,
    split: bool,
    kek: Option<&KeyEncryptionKey>,
) -> Result<Vec<NewKey>, KeyError> {
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
) -> Result<NewKey, KeyError> {
    let (key, pkcs8) = SigningKey::generate(algorithm, role.flags())?;
    Ok(NewKey {
        role: role.as_str().to_string(),
        algorithm: i64::from(algorithm.number()),
        dnskey: BASE64.encode(&key.dnskey_rdata()),
        private_key: seal(zone, &pkcs8, kek)?,
        published,
        active,
        ds,
    })
}

/// Loads and decrypts a zone's keys, checking each private key against its
/// published DNSKEY.
pub fn load_keys(zone: &Name, stored: &[StoredKey], kek: Option<&KeyEncryptionKey>) -> Result<Vec<ZoneKey>, KeyError> {
    stored
        .iter()
        .map(|row| {
            let role: KeyRole = row.role.parse().map_err(|_| KeyError::Corrupt {
                id: row.id,
                detail: format!("unknown role {:?}", row.role),
            })?;
            let algorithm = u8::try_from(row.algorithm)
                .ok()
                .and_then(Algorithm::from_number)
                .ok_or(KeyError::BadAlgorithm {
                    id: row.id,
                    algorithm: row.algorithm,
                })?;
            let pkcs8 = open(zone, row.id, &row.private_key, kek)?;
            let key = SigningKey::from_pkcs8(algorithm, role.flags(), &pkcs8).map_err(|error| KeyError::Corrupt {
                id: row.id,
                detail: error.to_string(),
            })?;
            let published = row.dnskey_rdata().map_err(|error| KeyError::Corrupt {
                id: row.id,
                detail: error.to_string(),
            })?;
            if published != key.dnskey_rdata() {
                return Err(KeyError::Mismatch { id: row.id });
            }
            Ok(ZoneKey {
                id: row.id,
                role,
                key,
                published: row.published,
                active: row.active,
                ds: row.ds,
            })
        })
        .collect()
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

    fn stored(keys: Vec<NewKey>) -> Vec<StoredKey> {
        keys.into_iter()
            .enumerate()
            .map(|(i, key)| StoredKey {
                id: i as i64 + 1,
                role: key.role,
                algorithm: key.algorithm,
                dnskey: key.dnskey,
                private_key: key.private_key,
                published: key.published,
                active: key.active,
                ds: key.ds,
                created_at: 0,
            })
            .collect()
    }

    #[test]
    fn keys_round_trip_sealed_and_plain() {
        let zone: Name = "example.test.".parse().expect("name");
        let kek = KeyEncryptionKey::from_file_contents(&"ab".repeat(32)).expect("kek");
        let sealed = stored(new_keys(&zone, Algorithm::EcdsaP256Sha256, true, Some(&kek)).expect("keys"));
        assert!(sealed.iter().all(|key| key.private_key.starts_with("v1:")));
        let loaded = load_keys(&zone, &sealed, Some(&kek)).expect("loads");
        assert_eq!(
            loaded.iter().map(|k| k.role).collect::<Vec<_>>(),
            [KeyRole::Ksk, KeyRole::Zsk]
        );
        assert!(matches!(
            load_keys(&zone, &sealed, None),
            Err(KeyError::NoKeyEncryptionKey { id: 1 })
        ));
        let other: Name = "other.test.".parse().expect("name");
        assert!(matches!(
            load_keys(&other, &sealed, Some(&kek)),
            Err(KeyError::Undecryptable { .. })
        ));

        let plain = stored(new_keys(&zone, Algorithm::Ed25519, false, None).expect("keys"));
        assert!(plain[0].private_key.starts_with(PLAIN_PREFIX));
        let loaded = load_keys(&zone, &plain, None).expect("loads");
        assert_eq!(loaded[0].role, KeyRole::Csk);
        assert_eq!(loaded[0].key.flags(), 257);
    }

    #[test]
    fn a_key_that_does_not_match_its_dnskey_is_refused() {
        let zone: Name = "example.test.".parse().expect("name");
        let mut keys = stored(new_keys(&zone, Algorithm::EcdsaP256Sha256, true, None).expect("keys"));
        keys[1].dnskey = keys[0].dnskey.clone();
        assert!(matches!(
            load_keys(&zone, &keys, None),
            Err(KeyError::Mismatch { id: 2 })
        ));
    }
}
