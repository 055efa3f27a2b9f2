//! DNSSEC keys and signatures: signing keys, their DNSKEY records, and private keys at rest.
//!
//! Two algorithms sign: ECDSA P-256 with SHA-256 and Ed25519, the two that
//! RFC 8624 §3.1 asks signers to use. Private keys live in PKCS#8 documents
//! (RFC 5958), the form the `ring` crate generates and reads; kept in the
//! store, a document is sealed with AES-256-GCM under a key-encryption key
//! that lives outside the store ([`KeyEncryptionKey`]).
//!
//! Nothing here formats key material into errors or debug output.

use std::fmt;
use std::str::FromStr;

use base::dnskey::{key_tag, PROTOCOL as DNSKEY_PROTOCOL};
use data_encoding::{BASE64, BASE64_NOPAD, HEXLOWER_PERMISSIVE};
use ring::aead;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, UnparsedPublicKey};

/// Why a key, signature or sealed secret could not be made or used.
///
/// Messages name what went wrong and never include key material.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// An algorithm name that [`Algorithm::from_str`] does not know.
    #[error("unknown DNSSEC algorithm {0:?}; use ECDSAP256SHA256 (or ecdsa256, 13) or ED25519 (or 15)")]
    UnknownAlgorithm(String),
    /// A DNSKEY of an algorithm this crate cannot verify.
    #[error("DNSSEC algorithm {0} is not supported; only 13 (ECDSAP256SHA256) and 15 (ED25519) are")]
    UnsupportedAlgorithm(u8),
    /// DNSKEY RDATA that does not have the shape RFC 4034 §2.1 and the algorithm's RFC give it.
    #[error("malformed DNSKEY: {0}")]
    MalformedDnskey(&'static str),
    /// The system's random number generator failed.
    #[error("the system random number generator failed")]
    Random,
    /// A PKCS#8 document that is not a private key of the expected algorithm.
    #[error("not a valid {algorithm} private key in PKCS#8 form ({reason})")]
    InvalidPrivateKey {
        /// The algorithm the key was expected to have.
        algorithm: Algorithm,
        /// What `ring` objected to, such as "WrongAlgorithm" or "InvalidEncoding".
        reason: String,
    },
    /// Signing failed; for ECDSA this means no random nonce could be had.
    #[error("signing with a {0} key failed")]
    Signing(Algorithm),
    /// The signature is not one the key made over the data.
    #[error("signature does not verify")]
    BadSignature,
    /// The key-encryption key file does not hold a usable key.
    #[error(
        "key-encryption key {problem}; it must be 32 random octets written as 64 hex digits or as base64, \
         such as the output of `head -c 32 /dev/urandom | base64`"
    )]
    BadKeyEncryptionKey {
        /// What is wrong with it, without its contents.
        problem: String,
    },
    /// Encryption failed; only an input of many gigabytes makes AES-GCM refuse.
    #[error("encrypting the private key failed")]
    Sealing,
    /// Text that is not in the `v1:<base64>` form [`KeyEncryptionKey::seal`] writes.
    #[error("sealed private key is not in the \"v1:<base64>\" form")]
    MalformedSealed,
    /// Decryption failed: another key-encryption key, another context, or altered text.
    #[error(
        "sealed private key cannot be decrypted: the key-encryption key is not the one it was sealed with, \
         it was sealed for another zone or key, or it was altered"
    )]
    Undecryptable,
}

/// DNSSEC algorithms we sign with (RFC 8624 §3.1 "MUST/RECOMMENDED").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    /// ECDSA on curve P-256 with SHA-256, number 13 (RFC 6605).
    EcdsaP256Sha256,
    /// Ed25519, number 15 (RFC 8080).
    Ed25519,
}

impl Algorithm {
    /// The number in DNSKEY, RRSIG and DS records (IANA "DNS Security Algorithm Numbers").
    pub fn number(self) -> u8 {
        match self {
            Algorithm::EcdsaP256Sha256 => 13,
            Algorithm::Ed25519 => 15,
        }
    }

    /// The algorithm with this number, if we sign with it.
    pub fn from_number(number: u8) -> Option<Self> {
        match number {
            13 => Some(Algorithm::EcdsaP256Sha256),
            15 => Some(Algorithm::Ed25519),
            _ => None,
        }
    }

    /// The IANA mnemonic: "ECDSAP256SHA256" or "ED25519".
    pub fn mnemonic(self) -> &'static str {
        match self {
            Algorithm::EcdsaP256Sha256 => "ECDSAP256SHA256",
            Algorithm::Ed25519 => "ED25519",
        }
    }
}

impl FromStr for Algorithm {
    type Err = CryptoError;

    /// Accepts "ecdsap256sha256", "ecdsa256", "13", "ed25519" and "15", in any case.
    fn from_str(text: &str) -> Result<Self, CryptoError> {
        match text.to_ascii_lowercase().as_str() {
            "ecdsap256sha256" | "ecdsa256" | "13" => Ok(Algorithm::EcdsaP256Sha256),
            "ed25519" | "15" => Ok(Algorithm::Ed25519),
            _ => Err(CryptoError::UnknownAlgorithm(text.to_owned())),
        }
    }
}

impl fmt::Display for Algorithm {
    /// The mnemonic.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.mnemonic())
    }
}

/// A private key able to sign; Debug prints only algorithm, flags and key tag.
///
/// The DNSKEY RDATA and key tag are computed once, when the key is made.
pub struct SigningKey {
    /// The algorithm, matching `pair`.
    algorithm: Algorithm,
    /// DNSKEY flags (RFC 4034 §2.1.1).
    flags: u16,
    /// The key pair itself.
    pair: Pair,
    /// DNSKEY RDATA of the public half.
    dnskey: Vec<u8>,
    /// Key tag of `dnskey`.
    key_tag: u16,
    /// Source of ECDSA nonces.
    rng: SystemRandom,
}

/// A `ring` key pair of one of the supported algorithms.
enum Pair {
    /// ECDSA P-256 producing fixed-length r || s signatures.
    Ecdsa(EcdsaKeyPair),
    /// Ed25519.
    Ed25519(Ed25519KeyPair),
}

impl SigningKey {
    /// New random key; returns it and its PKCS#8 document (the form we store).
    pub fn generate(algorithm: Algorithm, flags: u16) -> Result<(SigningKey, Vec<u8>), CryptoError> {
        let rng = SystemRandom::new();
        let pkcs8 = match algorithm {
            Algorithm::EcdsaP256Sha256 => {
                EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            }
            Algorithm::Ed25519 => Ed25519KeyPair::generate_pkcs8(&rng),
        }
        .map_err(|_| CryptoError::Random)?;
        let key = SigningKey::from_pkcs8(algorithm, flags, pkcs8.as_ref())?;
        Ok((key, pkcs8.as_ref().to_vec()))
    }

    /// The key in a PKCS#8 document, which must be of `algorithm`.
    ///
    /// ECDSA documents must include the public key, as those from `ring` and
    /// OpenSSL do; `ring` then checks that it matches the private key. For
    /// Ed25519 both PKCS#8 v1 (the seed alone, as OpenSSL writes) and v2 (with
    /// the public key, as `ring` writes, then checked) are accepted.
    pub fn from_pkcs8(algorithm: Algorithm, flags: u16, pkcs8: &[u8]) -> Result<SigningKey, CryptoError> {
        let rng = SystemRandom::new();
        let rejected = |error: ring::error::KeyRejected| CryptoError::InvalidPrivateKey {
            algorithm,
            reason: error.to_string(),
        };
        let (pair, public_key) = match algorithm {
            Algorithm::EcdsaP256Sha256 => {
                let pair = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8, &rng)
                    .map_err(rejected)?;
                // `ring` gives the uncompressed point 0x04 || X || Y (SEC 1 §2.3.3); DNSSEC drops the 0x04.
                let public_key = match pair.public_key().as_ref() {
                    [0x04, point @ ..] if point.len() == 64 => point.to_vec(),
                    _ => {
                        return Err(CryptoError::InvalidPrivateKey {
                            algorithm,
                            reason: "unexpected public key encoding".to_owned(),
                        })
                    }
                };
                (Pair::Ecdsa(pair), public_key)
            }
            Algorithm::Ed25519 => {
                let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8).map_err(rejected)?;
                let public_key = pair.public_key().as_ref().to_vec();
                (Pair::Ed25519(pair), public_key)
            }
        };
        let mut dnskey = Vec::with_capacity(4 + public_key.len());
        dnskey.extend_from_slice(&flags.to_be_bytes());
        dnskey.push(DNSKEY_PROTOCOL);
        dnskey.push(algorithm.number());
        dnskey.extend_from_slice(&public_key);
        Ok(SigningKey {
            algorithm,
            flags,
            pair,
            key_tag: key_tag(&dnskey),
            dnskey,
            rng,
        })
    }

    /// The algorithm of the key.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The DNSKEY flags given when the key was made or loaded.
    pub fn flags(&self) -> u16 {
        self.flags
    }

    /// DNSKEY RDATA (RFC 4034 §2.1): flags, protocol 3, algorithm, public key.
    ///
    /// The public key is X || Y, 64 octets, for P-256 (RFC 6605 §4) and the
    /// 32-octet point for Ed25519 (RFC 8080 §3).
    pub fn dnskey_rdata(&self) -> Vec<u8> {
        self.dnskey.clone()
    }

    /// The key tag of [`SigningKey::dnskey_rdata`] (RFC 4034 Appendix B).
    ///
    /// It depends on the flags too: the same key pair has another tag as a KSK than as a ZSK.
    pub fn key_tag(&self) -> u16 {
        self.key_tag
    }

    /// Signature over `data` in DNSSEC wire form, 64 octets for both algorithms.
    ///
    /// ECDSA signatures are r || s (RFC 6605 §4) with a random nonce, so they
    /// differ on every call. Ed25519 signatures (RFC 8080 §4) are deterministic
    /// (RFC 8032 §5.1.6): the same data always gives the same signature.
    pub fn sign(&self, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
        match &self.pair {
            Pair::Ecdsa(pair) => pair
                .sign(&self.rng, data)
                .map(|signature| signature.as_ref().to_vec())
                .map_err(|_| CryptoError::Signing(self.algorithm)),
            Pair::Ed25519(pair) => Ok(pair.sign(data).as_ref().to_vec()),
        }
    }
}

impl fmt::Debug for SigningKey {
    /// Algorithm, flags and key tag; nothing of the key itself.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("algorithm", &self.algorithm)
            .field("flags", &self.flags)
            .field("key_tag", &self.key_tag)
            .finish_non_exhaustive()
    }
}

/// Verifies a signature (used by tests and by a self-check after loading a key).
///
/// Only the algorithms of [`Algorithm`] are known; the flags are not looked at.
pub fn verify(dnskey_rdata: &[u8], data: &[u8], signature: &[u8]) -> Result<(), CryptoError> {
    let [_, _, protocol, algorithm, public_key @ ..] = dnskey_rdata else {
        return Err(CryptoError::MalformedDnskey("shorter than 4 octets"));
    };
    if *protocol != DNSKEY_PROTOCOL {
        return Err(CryptoError::MalformedDnskey("protocol is not 3"));
    }
    let checked = match Algorithm::from_number(*algorithm) {
        Some(Algorithm::EcdsaP256Sha256) => {
            if public_key.len() != 64 {
                return Err(CryptoError::MalformedDnskey("ECDSA P-256 public key is not 64 octets"));
            }
            let mut point = Vec::with_capacity(65);
            point.push(0x04);
            point.extend_from_slice(public_key);
            UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point).verify(data, signature)
        }
        Some(Algorithm::Ed25519) => {
            if public_key.len() != 32 {
                return Err(CryptoError::MalformedDnskey("Ed25519 public key is not 32 octets"));
            }
            UnparsedPublicKey::new(&signature::ED25519, public_key).verify(data, signature)
        }
        None => return Err(CryptoError::UnsupportedAlgorithm(*algorithm)),
    };
    checked.map_err(|_| CryptoError::BadSignature)
}

/// The secret that encrypts private keys at rest: AES-256-GCM (ring::aead).
///
/// Sealed text is `v1:` and the base64 of a 12-octet random nonce followed by
/// the ciphertext and its 16-octet tag. With random nonces one key should seal
/// fewer than 2^32 messages (NIST SP 800-38D §8.3), far more keys than any
/// deployment makes.
pub struct KeyEncryptionKey {
    /// The AES-256-GCM key.
    key: aead::LessSafeKey,
    /// Source of nonces.
    rng: SystemRandom,
}

/// What every sealed text starts with; names the format so that it can change.
const SEALED_PREFIX: &str = "v1:";

/// Octets in a key-encryption key.
const KEY_ENCRYPTION_KEY_LEN: usize = 32;

impl KeyEncryptionKey {
    /// Reads the key file at `path` (`[dnssec] key_encryption_key_file`);
    /// errors name the file, never its contents.
    pub fn load(path: &std::path::Path) -> Result<Self, CryptoError> {
        let text = std::fs::read_to_string(path).map_err(|error| CryptoError::BadKeyEncryptionKey {
            problem: format!("file {} cannot be read ({error})", path.display()),
        })?;
        Self::from_file_contents(&text).map_err(|error| match error {
            CryptoError::BadKeyEncryptionKey { problem } => CryptoError::BadKeyEncryptionKey {
                problem: format!("in {} {problem}", path.display()),
            },
            other => other,
        })
    }

    /// From a key file's contents: 32 random octets as 64 hex digits or base64, surrounding whitespace ignored.
    ///
    /// Base64 may come with or without padding. Anything else is an error that
    /// says how to make a key: `head -c 32 /dev/urandom | base64`.
    pub fn from_file_contents(text: &str) -> Result<Self, CryptoError> {
        let bad = |problem: &str| CryptoError::BadKeyEncryptionKey {
            problem: problem.to_owned(),
        };
        let text = text.trim().as_bytes();
        if text.is_empty() {
            return Err(bad("is empty"));
        }
        let decoded = if text.len() == 2 * KEY_ENCRYPTION_KEY_LEN && text.iter().all(u8::is_ascii_hexdigit) {
            HEXLOWER_PERMISSIVE.decode(text)
        } else {
            BASE64.decode(text).or_else(|_| BASE64_NOPAD.decode(text))
        };
        let octets = decoded.map_err(|_| bad("is neither 64 hex digits nor base64"))?;
        if octets.len() != KEY_ENCRYPTION_KEY_LEN {
            return Err(CryptoError::BadKeyEncryptionKey {
                problem: format!("is {} octets long, not {KEY_ENCRYPTION_KEY_LEN}", octets.len()),
            });
        }
        let key = aead::UnboundKey::new(&aead::AES_256_GCM, &octets).map_err(|_| bad("was refused by AES-256-GCM"))?;
        Ok(KeyEncryptionKey {
            key: aead::LessSafeKey::new(key),
            rng: SystemRandom::new(),
        })
    }

    /// Encrypts `plaintext` to the text `v1:<base64(nonce || ciphertext || tag)>`, with a fresh random nonce.
    ///
    /// `context` (such as the zone name and key id) is authenticated as
    /// associated data, so a sealed key moved to another zone's row fails to
    /// open. It is not stored: [`KeyEncryptionKey::open`] must be given it again.
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> Result<String, CryptoError> {
        let mut nonce = [0u8; aead::NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(|_| CryptoError::Random)?;
        let mut sealed = Vec::with_capacity(aead::NONCE_LEN + plaintext.len() + aead::MAX_TAG_LEN);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(plaintext);
        let tag = self
            .key
            .seal_in_place_separate_tag(
                aead::Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(context),
                &mut sealed[aead::NONCE_LEN..],
            )
            .map_err(|_| CryptoError::Sealing)?;
        sealed.extend_from_slice(tag.as_ref());
        Ok(format!("{SEALED_PREFIX}{}", BASE64.encode(&sealed)))
    }

    /// Decrypts text made by [`KeyEncryptionKey::seal`] with the same `context`.
    ///
    /// Another key, another context or any altered octet gives
    /// [`CryptoError::Undecryptable`]; text not in the sealed form at all
    /// (no `v1:`, not base64, too short) gives [`CryptoError::MalformedSealed`].
    pub fn open(&self, sealed: &str, context: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let encoded = sealed
            .trim()
            .strip_prefix(SEALED_PREFIX)
            .ok_or(CryptoError::MalformedSealed)?;
        let mut octets = BASE64
            .decode(encoded.as_bytes())
            .map_err(|_| CryptoError::MalformedSealed)?;
        if octets.len() < aead::NONCE_LEN + self.key.algorithm().tag_len() {
            return Err(CryptoError::MalformedSealed);
        }
        let (nonce, ciphertext) = octets.split_at_mut(aead::NONCE_LEN);
        let nonce = aead::Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError::MalformedSealed)?;
        let plaintext = self
            .key
            .open_in_place(nonce, aead::Aad::from(context), ciphertext)
            .map_err(|_| CryptoError::Undecryptable)?;
        Ok(plaintext.to_vec())
    }
}

impl fmt::Debug for KeyEncryptionKey {
    /// Always `KeyEncryptionKey(***)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyEncryptionKey(***)")
    }
}

#[cfg(test)]
mod tests {
    use base::dnskey::{KSK_FLAGS, ZSK_FLAGS};

    use super::*;

    /// DNSKEY RDATA from its flags, algorithm and base64 public key.
    fn dnskey(flags: u16, algorithm: u8, public_key: &str) -> Vec<u8> {
        let mut rdata = flags.to_be_bytes().to_vec();
        rdata.extend_from_slice(&[3, algorithm]);
        rdata.extend_from_slice(&BASE64.decode(public_key.as_bytes()).unwrap());
        rdata
    }

    /// RFC 6605 §6.1 public key of example.net.
    const RFC6605_PUBLIC: &str =
        "GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edbkrSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA==";

    /// RFC 6605 §6.1 private key (the scalar, as in a BIND private key file).
    const RFC6605_PRIVATE: &str = "GU6SnQ/Ou+xC5RumuIUIuJZteXT2z0O/ok1s38Et6mQ=";

    /// RFC 8080 §6.1 public key of example.com.
    const RFC8080_PUBLIC: &str = "l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=";

    /// RFC 8080 §6.1 private key (the seed).
    const RFC8080_PRIVATE: &str = "ODIyNjAzODQ2MjgwODAxMjI2NDUxOTAyMDQxNDIyNjI=";

    /// PKCS#8 v1 holding an Ed25519 seed (RFC 8410 §7).
    fn ed25519_pkcs8(seed_base64: &str) -> Vec<u8> {
        let mut document = b"\x30\x2e\x02\x01\x00\x30\x05\x06\x03\x2b\x65\x70\x04\x22\x04\x20".to_vec();
        document.extend_from_slice(&BASE64.decode(seed_base64.as_bytes()).unwrap());
        document
    }

    /// PKCS#8 v1 holding a P-256 ECPrivateKey (RFC 5915) with its public key, as `ring` requires.
    fn p256_pkcs8(scalar_base64: &str, point_base64: &str) -> Vec<u8> {
        let mut document = HEXLOWER_PERMISSIVE
            .decode(b"308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420")
            .unwrap();
        document.extend_from_slice(&BASE64.decode(scalar_base64.as_bytes()).unwrap());
        document.extend_from_slice(b"\xa1\x44\x03\x42\x00\x04");
        document.extend_from_slice(&BASE64.decode(point_base64.as_bytes()).unwrap());
        document
    }

    #[test]
    fn rfc6605_section_6_1_ecdsa_key() {
        let published = dnskey(257, 13, RFC6605_PUBLIC);
        // `ring` checks that the private scalar matches the public point.
        let pkcs8 = p256_pkcs8(RFC6605_PRIVATE, RFC6605_PUBLIC);
        let key = SigningKey::from_pkcs8(Algorithm::EcdsaP256Sha256, 257, &pkcs8).expect("RFC 6605 key");
        assert_eq!(key.dnskey_rdata(), published);
        assert_eq!(key.key_tag(), 55648);
        let signature = key.sign(b"data").expect("signs");
        verify(&published, b"data", &signature).expect("verifies with the published key");
        let mismatched = p256_pkcs8(RFC6605_PRIVATE, &BASE64.encode(&[7; 64]));
        assert!(matches!(
            SigningKey::from_pkcs8(Algorithm::EcdsaP256Sha256, 257, &mismatched),
            Err(CryptoError::InvalidPrivateKey { .. })
        ));
    }

    #[test]
    fn rfc8080_section_6_ed25519_keys() {
        let published = dnskey(257, 15, RFC8080_PUBLIC);
        let key = SigningKey::from_pkcs8(Algorithm::Ed25519, 257, &ed25519_pkcs8(RFC8080_PRIVATE)).expect("key");
        assert_eq!(key.dnskey_rdata(), published);
        // The second example key of §6.
        let second = SigningKey::from_pkcs8(
            Algorithm::Ed25519,
            257,
            &ed25519_pkcs8("DSSF3o0s0f+ElWzj9E/Osxw8hLpk55chkmx0LYN5WiY="),
        )
        .expect("key");
        assert_eq!(
            second.dnskey_rdata(),
            dnskey(257, 15, "zPnZ/QwEe7S8C5SPz2OfS5RR40ATk2/rYnE9xHIEijs=")
        );
        assert_eq!(second.key_tag(), 35217);
    }

    #[test]
    fn generated_keys_sign_and_verify() {
        for (algorithm, public_len) in [(Algorithm::EcdsaP256Sha256, 64), (Algorithm::Ed25519, 32)] {
            let (key, pkcs8) = SigningKey::generate(algorithm, ZSK_FLAGS).expect("generates");
            let rdata = key.dnskey_rdata();
            assert_eq!(rdata.len(), 4 + public_len);
            assert_eq!(rdata[..4], [1, 0, 3, algorithm.number()]);
            assert_eq!((key.algorithm(), key.flags()), (algorithm, ZSK_FLAGS));
            assert_eq!(key.key_tag(), key_tag(&rdata));
            let signature = key.sign(b"some RRset").expect("signs");
            assert_eq!(signature.len(), 64);
            verify(&rdata, b"some RRset", &signature).expect("verifies");
            assert!(matches!(
                verify(&rdata, b"another RRset", &signature),
                Err(CryptoError::BadSignature)
            ));

            let reloaded = SigningKey::from_pkcs8(algorithm, KSK_FLAGS, &pkcs8).expect("reloads");
            assert_eq!(reloaded.dnskey_rdata()[4..], rdata[4..]);
            assert_eq!(reloaded.dnskey_rdata()[..2], [1, 1]);
            assert_ne!(reloaded.key_tag(), key.key_tag());
            verify(&rdata, b"x", &reloaded.sign(b"x").expect("signs")).expect("same key pair");

            let other = match algorithm {
                Algorithm::EcdsaP256Sha256 => Algorithm::Ed25519,
                Algorithm::Ed25519 => Algorithm::EcdsaP256Sha256,
            };
            assert!(matches!(
                SigningKey::from_pkcs8(other, ZSK_FLAGS, &pkcs8),
                Err(CryptoError::InvalidPrivateKey { .. })
            ));
        }
        assert!(SigningKey::from_pkcs8(Algorithm::Ed25519, 256, b"not a key").is_err());
    }

    #[test]
    fn signatures_differ_for_ecdsa_and_repeat_for_ed25519() {
        let (ecdsa, _) = SigningKey::generate(Algorithm::EcdsaP256Sha256, ZSK_FLAGS).expect("generates");
        assert_ne!(ecdsa.sign(b"x").unwrap(), ecdsa.sign(b"x").unwrap());
        let (ed25519, _) = SigningKey::generate(Algorithm::Ed25519, ZSK_FLAGS).expect("generates");
        assert_eq!(ed25519.sign(b"x").unwrap(), ed25519.sign(b"x").unwrap());
    }

    #[test]
    fn verify_rejects_malformed_and_unknown_keys() {
        let ed25519 = dnskey(257, 15, RFC8080_PUBLIC);
        let signature = [0u8; 64];
        assert!(matches!(
            verify(&ed25519[..3], b"", &signature),
            Err(CryptoError::MalformedDnskey(_))
        ));
        assert!(matches!(
            verify(&ed25519[..35], b"", &signature),
            Err(CryptoError::MalformedDnskey(_))
        ));
        let mut protocol_2 = ed25519.clone();
        protocol_2[2] = 2;
        assert!(matches!(
            verify(&protocol_2, b"", &signature),
            Err(CryptoError::MalformedDnskey(_))
        ));
        let mut rsa = ed25519.clone();
        rsa[3] = 8;
        assert!(matches!(
            verify(&rsa, b"", &signature),
            Err(CryptoError::UnsupportedAlgorithm(8))
        ));
        assert!(matches!(
            verify(&ed25519, b"", &signature[..63]),
            Err(CryptoError::BadSignature)
        ));
        let p256 = dnskey(257, 13, RFC6605_PUBLIC);
        assert!(matches!(
            verify(&p256[..67], b"", &signature),
            Err(CryptoError::MalformedDnskey(_))
        ));
        assert!(matches!(verify(&p256, b"", &signature), Err(CryptoError::BadSignature)));
    }

    #[test]
    fn debug_shows_no_key_material() {
        let key = SigningKey::from_pkcs8(Algorithm::Ed25519, 257, &ed25519_pkcs8(RFC8080_PRIVATE)).expect("key");
        assert_eq!(
            format!("{key:?}"),
            "SigningKey { algorithm: Ed25519, flags: 257, key_tag: 3613, .. }"
        );
        let kek = KeyEncryptionKey::from_file_contents(&"0f".repeat(32)).expect("kek");
        assert_eq!(format!("{kek:?}"), "KeyEncryptionKey(***)");
    }

    #[test]
    fn parses_algorithm_names() {
        for text in ["ECDSAP256SHA256", "ecdsap256sha256", "ECDSA256", "13"] {
            assert_eq!(text.parse::<Algorithm>().unwrap(), Algorithm::EcdsaP256Sha256, "{text}");
        }
        for text in ["ED25519", "ed25519", "15"] {
            assert_eq!(text.parse::<Algorithm>().unwrap(), Algorithm::Ed25519, "{text}");
        }
        let error = "rsasha256".parse::<Algorithm>().unwrap_err().to_string();
        assert!(error.contains("\"rsasha256\"") && error.contains("ECDSAP256SHA256") && error.contains("ED25519"));
        for algorithm in [Algorithm::EcdsaP256Sha256, Algorithm::Ed25519] {
            assert_eq!(Algorithm::from_number(algorithm.number()), Some(algorithm));
            assert_eq!(algorithm.mnemonic().parse::<Algorithm>().unwrap(), algorithm);
            assert_eq!(algorithm.to_string(), algorithm.mnemonic());
        }
        assert_eq!(Algorithm::from_number(8), None);
    }

    #[test]
    fn key_encryption_key_file_formats() {
        let hex = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";
        let from_hex = KeyEncryptionKey::from_file_contents(&format!("  {hex}\n")).expect("hex");
        let base64 = BASE64.encode(&HEXLOWER_PERMISSIVE.decode(hex.as_bytes()).unwrap());
        let from_base64 = KeyEncryptionKey::from_file_contents(&format!("{base64}\n")).expect("base64");
        let from_unpadded = KeyEncryptionKey::from_file_contents(base64.trim_end_matches('=')).expect("no padding");
        let sealed = from_hex.seal(b"secret", b"ctx").expect("seals");
        assert_eq!(from_base64.open(&sealed, b"ctx").unwrap(), b"secret");
        assert_eq!(from_unpadded.open(&sealed, b"ctx").unwrap(), b"secret");

        for (text, problem) in [
            ("", "is empty"),
            (" \n", "is empty"),
            ("not a key!", "neither"),
            ("00112233", "is 6 octets long"),
            (&BASE64.encode(&[1; 16]), "is 16 octets long, not 32"),
            (&"abcd".repeat(12), "is 36 octets long"),
        ] {
            let error = KeyEncryptionKey::from_file_contents(text).unwrap_err().to_string();
            assert!(error.contains(problem), "{text:?}: {error}");
            assert!(error.contains("head -c 32 /dev/urandom | base64"), "{error}");
        }
    }

    #[test]
    fn seal_and_open() {
        let kek = KeyEncryptionKey::from_file_contents(&"42".repeat(32)).expect("kek");
        let (_, pkcs8) = SigningKey::generate(Algorithm::Ed25519, KSK_FLAGS).expect("generates");
        let context = b"example.com. key 1";
        let sealed = kek.seal(&pkcs8, context).expect("seals");
        assert!(sealed.starts_with("v1:"));
        assert_eq!(kek.open(&sealed, context).expect("opens"), pkcs8);
        assert_eq!(kek.open(&format!("{sealed}\n"), context).expect("opens"), pkcs8);
        assert_ne!(kek.seal(&pkcs8, context).unwrap(), sealed, "fresh nonce each time");
        assert_eq!(kek.open(&kek.seal(b"", b"").unwrap(), b"").unwrap(), b"");

        assert!(matches!(
            kek.open(&sealed, b"example.org. key 1"),
            Err(CryptoError::Undecryptable)
        ));
        let other = KeyEncryptionKey::from_file_contents(&"43".repeat(32)).expect("kek");
        assert!(matches!(other.open(&sealed, context), Err(CryptoError::Undecryptable)));
        let body = sealed.strip_prefix("v1:").expect("sealed text has its prefix");
        let mut octets = BASE64.decode(body.as_bytes()).unwrap();
        for index in [0, aead::NONCE_LEN, octets.len() - 1] {
            octets[index] ^= 1;
            let tampered = format!("v1:{}", BASE64.encode(&octets));
            assert!(
                matches!(kek.open(&tampered, context), Err(CryptoError::Undecryptable)),
                "{index}"
            );
            octets[index] ^= 1;
        }

        for malformed in ["", "v2:AAAA", "v1:not base64!", "v1:AAAA", body] {
            assert!(
                matches!(kek.open(malformed, context), Err(CryptoError::MalformedSealed)),
                "{malformed}"
            );
        }
    }
}
