//! DNSKEY key tags and DS digests (RFC 4034 §5 and Appendix B).
//!
//! The one implementation the signer, the `zone ds` command, the roller's
//! check of a parent's DS set and the registrar adapters all use.

use std::fmt;
use std::str::FromStr;

use ring::digest;

/// The DNSKEY protocol field, always 3 (RFC 4034 §2.1.2).
pub const PROTOCOL: u8 = 3;

/// DNSKEY flags of a zone-signing key: the Zone Key bit (RFC 4034 §2.1.1).
pub const ZSK_FLAGS: u16 = 256;

/// DNSKEY flags of a key-signing key: Zone Key and Secure Entry Point
/// bits (RFC 4034 §2.1.1, RFC 3757).
pub const KSK_FLAGS: u16 = 257;

/// RFC 4034 Appendix B key tag of DNSKEY RDATA.
///
/// A ones'-complement-like sum of the RDATA taken as 16-bit words. For the
/// long-deprecated algorithm 1 (RSA/MD5) the tag is instead the 16 bits
/// before the last octet of the modulus (RFC 4034 Appendix B.1).
pub fn key_tag(dnskey_rdata: &[u8]) -> u16 {
    if dnskey_rdata.get(3) == Some(&1) {
        return match dnskey_rdata
            .len()
            .checked_sub(3)
            .and_then(|start| dnskey_rdata.get(start..start + 2))
        {
            Some(&[high, low]) => u16::from_be_bytes([high, low]),
            _ => 0,
        };
    }
    let mut sum: u64 = 0;
    for (index, &octet) in dnskey_rdata.iter().enumerate() {
        sum += if index % 2 == 0 {
            u64::from(octet) << 8
        } else {
            u64::from(octet)
        };
    }
    sum += (sum >> 16) & 0xffff;
    (sum & 0xffff) as u16
}

/// Digest algorithms of DS records (RFC 4034 §5.1.3, RFC 4509, RFC 6605 §2).
///
/// RFC 8624 §3.3 makes SHA-256 the one to publish; SHA-1 is here to read
/// and compare DS sets that others published.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DigestType {
    /// SHA-1, number 1 (RFC 4034 §5.1.4); not to be created.
    Sha1,
    /// SHA-256, number 2 (RFC 4509).
    Sha256,
    /// SHA-384, number 4 (RFC 6605 §2).
    Sha384,
}

impl DigestType {
    /// The number in DS records (IANA "Delegation Signer (DS) Resource
    /// Record (RR) Type Digest Algorithms").
    pub fn number(self) -> u8 {
        match self {
            DigestType::Sha1 => 1,
            DigestType::Sha256 => 2,
            DigestType::Sha384 => 4,
        }
    }

    /// The digest type with this number, if known.
    pub fn from_number(number: u8) -> Option<Self> {
        match number {
            1 => Some(DigestType::Sha1),
            2 => Some(DigestType::Sha256),
            4 => Some(DigestType::Sha384),
            _ => None,
        }
    }

    /// Octets in a digest of this type.
    pub fn digest_len(self) -> usize {
        self.ring_algorithm().output_len()
    }

    /// The IANA mnemonic: "SHA-1", "SHA-256" or "SHA-384".
    pub fn mnemonic(self) -> &'static str {
        match self {
            DigestType::Sha1 => "SHA-1",
            DigestType::Sha256 => "SHA-256",
            DigestType::Sha384 => "SHA-384",
        }
    }

    fn ring_algorithm(self) -> &'static digest::Algorithm {
        match self {
            DigestType::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
            DigestType::Sha256 => &digest::SHA256,
            DigestType::Sha384 => &digest::SHA384,
        }
    }
}

/// A digest name [`DigestType::from_str`] does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown DS digest type {0:?}; use SHA256 (or sha-256, 2) or SHA384 (or sha-384, 4)")]
pub struct UnknownDigestType(pub String);

impl FromStr for DigestType {
    type Err = UnknownDigestType;

    /// Accepts "sha256", "sha-256", "2", "sha384", "sha-384" and "4", in
    /// any case: the digests worth creating.
    fn from_str(text: &str) -> Result<Self, UnknownDigestType> {
        match text.to_ascii_lowercase().as_str() {
            "sha256" | "sha-256" | "2" => Ok(DigestType::Sha256),
            "sha384" | "sha-384" | "4" => Ok(DigestType::Sha384),
            _ => Err(UnknownDigestType(text.to_owned())),
        }
    }
}

impl fmt::Display for DigestType {
    /// The mnemonic.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.mnemonic())
    }
}

/// DS RDATA (RFC 4034 §5.1.4) for the DNSKEY RDATA `dnskey` published at
/// `owner` (uncompressed wire form; lowercased here, as the digest wants
/// it in canonical form).
///
/// The RDATA is key tag, algorithm (copied from the DNSKEY), digest type
/// and the digest over owner || DNSKEY RDATA. The same RDATA is a CDS
/// (RFC 7344 §3.1).
pub fn ds_rdata(owner: &[u8], dnskey: &[u8], digest_type: DigestType) -> Vec<u8> {
    let mut context = digest::Context::new(digest_type.ring_algorithm());
    let mut lowered = [0u8; 255];
    let owner = &owner[..owner.len().min(lowered.len())];
    lowered[..owner.len()].copy_from_slice(owner);
    lowered[..owner.len()].make_ascii_lowercase();
    context.update(&lowered[..owner.len()]);
    context.update(dnskey);
    let digest = context.finish();
    let mut rdata = Vec::with_capacity(4 + digest.as_ref().len());
    rdata.extend_from_slice(&key_tag(dnskey).to_be_bytes());
    rdata.push(dnskey.get(3).copied().unwrap_or(0));
    rdata.push(digest_type.number());
    rdata.extend_from_slice(digest.as_ref());
    rdata
}

#[cfg(test)]
mod tests {
    use data_encoding::{BASE64, HEXLOWER_PERMISSIVE};

    use super::*;
    use crate::Name;

    /// DNSKEY RDATA from its presentation fields.
    fn dnskey(flags: u16, algorithm: u8, public_key: &str) -> Vec<u8> {
        let mut rdata = flags.to_be_bytes().to_vec();
        rdata.extend_from_slice(&[3, algorithm]);
        rdata.extend_from_slice(&BASE64.decode(public_key.as_bytes()).expect("base64"));
        rdata
    }

    /// DS RDATA from its presentation fields.
    fn ds(key_tag: u16, algorithm: u8, digest_type: u8, digest_hex: &str) -> Vec<u8> {
        let mut rdata = key_tag.to_be_bytes().to_vec();
        rdata.extend_from_slice(&[algorithm, digest_type]);
        rdata.extend_from_slice(&HEXLOWER_PERMISSIVE.decode(digest_hex.as_bytes()).expect("hex"));
        rdata
    }

    fn owner(text: &str) -> Vec<u8> {
        text.parse::<Name>().expect("valid test name").as_wire().to_vec()
    }

    #[test]
    fn rfc4034_section_5_4_key_tag_and_ds() {
        let key = dnskey(
            256,
            5,
            "AQOeiiR0GOMYkDshWoSKz9XzfwJr1AYtsmx3TGkJaNXVbfi/2pHm822aJ5iI9BMzNXxeYCmZDRD99WYwYqUSdjMmmAphXdvx\
             egXd/M5+X7OrzKBaMbCVdFLUUh6DhweJBjEVv5f2wwjM9XzcnOf+EPbtG9DMBmADjFDc2w/rljwvFw==",
        );
        assert_eq!(key_tag(&key), 60485);
        let name = owner("dskey.example.com.");
        // The SHA-1 DS printed in the RFC checks what is hashed: owner, then DNSKEY RDATA.
        assert_eq!(
            ds_rdata(&name, &key, DigestType::Sha1),
            ds(60485, 5, 1, "2BB183AF5F22588179A53B0A98631FAD1A292118")
        );
        // The other digests as `ldns-key2ds -f -2` and `-4` give them.
        assert_eq!(
            ds_rdata(&name, &key, DigestType::Sha256),
            ds(
                60485,
                5,
                2,
                "d4b7d520e7bb5f0f67674a0cceb1e3e0614b93c4f9e99b8383f6a1e4469da50a"
            )
        );
        assert_eq!(
            ds_rdata(&owner("DSKEY.Example.COM."), &key, DigestType::Sha384),
            ds(
                60485,
                5,
                4,
                "ab64dbebe13c0b6bae558b78ccab93b836f8ada4cbed2d4484a8715a819de7b9e846315e70ea5d884b377394bdaf16a3"
            )
        );
    }

    #[test]
    fn rfc6605_and_rfc8080_keys() {
        let p256 = dnskey(
            257,
            13,
            "GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edbkrSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA==",
        );
        assert_eq!(key_tag(&p256), 55648);
        assert_eq!(
            ds_rdata(&owner("example.net."), &p256, DigestType::Sha256),
            ds(
                55648,
                13,
                2,
                "b4c8c1fe2e7477127b27115656ad6256f424625bf5c1e2770ce6d6e37df61d17"
            )
        );
        let ed25519 = dnskey(257, 15, "l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=");
        assert_eq!(key_tag(&ed25519), 3613);
        assert_eq!(
            ds_rdata(&owner("example.com."), &ed25519, DigestType::Sha256),
            ds(
                3613,
                15,
                2,
                "3aa5ab37efce57f737fc1627013fee07bdf241bd10f3b1964ab55c78e79a304b"
            )
        );
    }

    #[test]
    fn bind_keygen_tags() {
        // Two keys made by BIND's dnssec-keygen, which named them by key tag.
        for (public_key, expected) in [
            (
                "Q4fWtpssKkiIO4+qdQjU/r295tF+tir7v8+IeBP4JwbqHQ4DjnyoDC4UZPWnAngnHGC63LPB/8xL795xzG0xjw==",
                43837,
            ),
            (
                "hVqQgvnMcyKuY2iOc0pk7ehNgAUV6OiPKMz5CeTSg33mhrtIrRW+mDcqJwmovJGn/jBQ/D5wnL+w/JUIbj0V9A==",
                416,
            ),
        ] {
            assert_eq!(key_tag(&dnskey(257, 13, public_key)), expected);
        }
    }

    #[test]
    fn key_tag_edge_cases() {
        assert_eq!(key_tag(&[]), 0);
        assert_eq!(key_tag(&[1, 1, 3]), 0x0401);
        // Algorithm 1: the two octets before the last one.
        assert_eq!(key_tag(&[1, 0, 3, 1, 0xaa, 0x12, 0x34, 0x56]), 0x1234);
        assert_eq!(key_tag(&[1, 0, 3, 1]), 0x0003);
    }

    #[test]
    fn digest_names_and_numbers() {
        for text in ["sha256", "SHA-256", "2"] {
            assert_eq!(text.parse::<DigestType>(), Ok(DigestType::Sha256), "{text}");
        }
        for text in ["sha384", "SHA-384", "4"] {
            assert_eq!(text.parse::<DigestType>(), Ok(DigestType::Sha384), "{text}");
        }
        assert!("sha1".parse::<DigestType>().is_err());
        for digest in [DigestType::Sha1, DigestType::Sha256, DigestType::Sha384] {
            assert_eq!(DigestType::from_number(digest.number()), Some(digest));
        }
        assert_eq!(DigestType::from_number(3), None);
        assert_eq!(
            [DigestType::Sha1, DigestType::Sha256, DigestType::Sha384].map(DigestType::digest_len),
            [20, 32, 48]
        );
    }
}
