//! DS and DNSKEY data published at the parent: parsed, printed and checked to belong
//! together. Digests are held as bytes, so hex case never matters.

use std::fmt;
use std::str::FromStr;

use base::dnskey::{self, DigestType};
use data_encoding::{BASE64, HEXLOWER_PERMISSIVE, HEXUPPER};

use crate::error::{shorten, Error};
use crate::names::{wire_name, DomainName};

/// One DS record: the parent's pointer to a key of the child zone.
///
/// Printed and parsed in presentation form, `key_tag algorithm digest_type digest`, for
/// example `60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118`. The digest is held as bytes,
/// so records read back from an API in lower-case hex compare equal to upper-case input.
/// The digest length is checked for the known digest types (SHA-1, SHA-256, GOST, SHA-384,
/// SM3) only; other types just need a non-empty digest.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DsRecord {
    /// The key tag of the DNSKEY pointed to.
    key_tag: u16,
    /// The DNSSEC algorithm number.
    algorithm: u8,
    /// The digest type number.
    digest_type: u8,
    /// The digest bytes.
    digest: Vec<u8>,
}

impl DsRecord {
    /// Builds a DS record, checking the algorithm, digest type and digest length.
    pub fn new(key_tag: u16, algorithm: u8, digest_type: u8, digest: Vec<u8>) -> Result<Self, Error> {
        if algorithm == 0 {
            return Err(Error::invalid("DS algorithm 0 is reserved"));
        }
        if digest_type == 0 {
            return Err(Error::invalid("DS digest type 0 is reserved"));
        }
        let expected = match digest_type {
            1 => Some(20),
            2 | 3 | 6 => Some(32),
            4 => Some(48),
            _ => None,
        };
        match expected {
            Some(len) if digest.len() != len => Err(Error::invalid(format!(
                "DS digest type {digest_type} needs a {len}-byte digest ({} hex digits), got {} bytes",
                len * 2,
                digest.len()
            ))),
            None if digest.is_empty() => Err(Error::invalid("DS digest is empty")),
            _ => Ok(Self {
                key_tag,
                algorithm,
                digest_type,
                digest,
            }),
        }
    }

    /// Reads DS RDATA in wire form (RFC 4034 §5.1).
    pub fn from_rdata(rdata: &[u8]) -> Result<Self, Error> {
        match rdata {
            [tag_high, tag_low, algorithm, digest_type, digest @ ..] => Self::new(
                u16::from_be_bytes([*tag_high, *tag_low]),
                *algorithm,
                *digest_type,
                digest.to_vec(),
            ),
            _ => Err(Error::invalid("DS RDATA is shorter than 5 bytes")),
        }
    }

    /// The RDATA in wire form.
    pub fn rdata(&self) -> Vec<u8> {
        let mut rdata = Vec::with_capacity(4 + self.digest.len());
        rdata.extend_from_slice(&self.key_tag.to_be_bytes());
        rdata.extend_from_slice(&[self.algorithm, self.digest_type]);
        rdata.extend_from_slice(&self.digest);
        rdata
    }

    /// Returns the key tag of the DNSKEY this record points to.
    pub fn key_tag(&self) -> u16 {
        self.key_tag
    }

    /// Returns the DNSSEC algorithm number (13 = ECDSA P-256 with SHA-256).
    pub fn algorithm(&self) -> u8 {
        self.algorithm
    }

    /// Returns the digest type number (2 = SHA-256).
    pub fn digest_type(&self) -> u8 {
        self.digest_type
    }

    /// Returns the digest bytes.
    pub fn digest(&self) -> &[u8] {
        &self.digest
    }

    /// Returns the digest as upper-case hex.
    pub fn digest_hex(&self) -> String {
        HEXUPPER.encode(&self.digest)
    }
}

impl FromStr for DsRecord {
    type Err = Error;

    /// Parses `key_tag algorithm digest_type digest`; the digest may be split by whitespace
    /// and use either hex case.
    fn from_str(input: &str) -> Result<Self, Error> {
        let mut fields = input.split_ascii_whitespace();
        let (Some(tag), Some(alg), Some(kind)) = (fields.next(), fields.next(), fields.next()) else {
            return Err(Error::invalid(format!(
                "DS {:?}: expected \"key_tag algorithm digest_type digest\"",
                shorten(input, 80)
            )));
        };
        let key_tag = parse_number(tag, "DS key tag")?;
        let algorithm = parse_number(alg, "DS algorithm")?;
        let digest_type = parse_number(kind, "DS digest type")?;
        let hex: String = fields.collect();
        let digest = HEXLOWER_PERMISSIVE.decode(hex.as_bytes()).map_err(|_| {
            Error::invalid(format!(
                "DS digest {:?} is not an even number of hex digits",
                shorten(&hex, 80)
            ))
        })?;
        Self::new(key_tag, algorithm, digest_type, digest)
    }
}

impl fmt::Display for DsRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {}",
            self.key_tag,
            self.algorithm,
            self.digest_type,
            self.digest_hex()
        )
    }
}

impl TryFrom<String> for DsRecord {
    type Error = Error;

    fn try_from(input: String) -> Result<Self, Error> {
        input.parse()
    }
}

impl From<DsRecord> for String {
    fn from(ds: DsRecord) -> String {
        ds.to_string()
    }
}

/// A DNSKEY record of the child zone, for providers that want the key instead of a digest.
///
/// Printed and parsed in presentation form, `flags protocol algorithm base64-key`, for
/// example `257 3 13 mdsswUyr...`. OVH only accepts DNSKEYs; GoDaddy and Dynadot accept one
/// optionally. The protocol field must be 3.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Dnskey {
    /// The flags field (257 for a key-signing key).
    flags: u16,
    /// The DNSSEC algorithm number.
    algorithm: u8,
    /// The public key bytes.
    public_key: Vec<u8>,
}

impl Dnskey {
    /// The "zone key" flag bit; only zone keys may be referenced by a DS record.
    pub const ZONE_KEY: u16 = 0x0100;
    /// The "secure entry point" flag bit, set on key-signing keys (flags 257).
    pub const SECURE_ENTRY_POINT: u16 = 0x0001;
    /// The only valid protocol value.
    pub const PROTOCOL: u8 = 3;

    /// Builds a DNSKEY, checking the protocol, algorithm and key.
    pub fn new(flags: u16, protocol: u8, algorithm: u8, public_key: Vec<u8>) -> Result<Self, Error> {
        if protocol != Self::PROTOCOL {
            return Err(Error::invalid(format!("DNSKEY protocol must be 3, got {protocol}")));
        }
        if algorithm == 0 {
            return Err(Error::invalid("DNSKEY algorithm 0 is reserved"));
        }
        if public_key.is_empty() {
            return Err(Error::invalid("DNSKEY public key is empty"));
        }
        Ok(Self {
            flags,
            algorithm,
            public_key,
        })
    }

    /// Reads DNSKEY RDATA (RFC 4034 §2.1): flags, protocol, algorithm, public key.
    pub fn from_rdata(rdata: &[u8]) -> Result<Self, Error> {
        let [flags_high, flags_low, protocol, algorithm, public_key @ ..] = rdata else {
            return Err(Error::invalid("DNSKEY RDATA is shorter than 4 octets"));
        };
        Self::new(
            u16::from_be_bytes([*flags_high, *flags_low]),
            *protocol,
            *algorithm,
            public_key.to_vec(),
        )
    }

    /// Returns the flags (257 for a key-signing key, 256 for a zone-signing key).
    pub fn flags(&self) -> u16 {
        self.flags
    }

    /// Returns the DNSSEC algorithm number.
    pub fn algorithm(&self) -> u8 {
        self.algorithm
    }

    /// Returns the public key bytes.
    pub fn public_key(&self) -> &[u8] {
        &self.public_key
    }

    /// Returns the public key in base64, as provider APIs take it.
    pub fn public_key_base64(&self) -> String {
        BASE64.encode(&self.public_key)
    }

    /// Returns the record data in wire form: flags, protocol, algorithm, public key.
    pub fn rdata(&self) -> Vec<u8> {
        let mut rdata = Vec::with_capacity(4 + self.public_key.len());
        rdata.extend_from_slice(&self.flags.to_be_bytes());
        rdata.push(Self::PROTOCOL);
        rdata.push(self.algorithm);
        rdata.extend_from_slice(&self.public_key);
        rdata
    }

    /// Computes the DS record that points to this key when it is published at `owner`
    /// (RFC 4034 section 5.1.4, RFC 4509, RFC 6605).
    ///
    /// `digest_type` is 1 (SHA-1), 2 (SHA-256) or 4 (SHA-384); other types are refused.
    pub fn to_ds(&self, owner: &DomainName, digest_type: u8) -> Result<DsRecord, Error> {
        let digest = DigestType::from_number(digest_type).ok_or_else(|| {
            Error::invalid(format!(
                "cannot compute a DS with digest type {digest_type}; use 1, 2 or 4"
            ))
        })?;
        let rdata = dnskey::ds_rdata(&wire_name(owner.as_str()), &self.rdata(), digest);
        DsRecord::from_rdata(&rdata)
    }

    /// Computes the key tag (RFC 4034, appendix B) that DS records use to name this key.
    pub fn key_tag(&self) -> u16 {
        dnskey::key_tag(&self.rdata())
    }
}

impl FromStr for Dnskey {
    type Err = Error;

    /// Parses `flags protocol algorithm base64-key`; the key may be split by whitespace.
    fn from_str(input: &str) -> Result<Self, Error> {
        let mut fields = input.split_ascii_whitespace();
        let (Some(flags), Some(protocol), Some(alg)) = (fields.next(), fields.next(), fields.next()) else {
            return Err(Error::invalid(format!(
                "DNSKEY {:?}: expected \"flags protocol algorithm public-key\"",
                shorten(input, 80)
            )));
        };
        let flags = parse_number(flags, "DNSKEY flags")?;
        let protocol = parse_number(protocol, "DNSKEY protocol")?;
        let algorithm = parse_number(alg, "DNSKEY algorithm")?;
        let key: String = fields.collect();
        let public_key = BASE64
            .decode(key.as_bytes())
            .map_err(|_| Error::invalid(format!("DNSKEY public key {:?} is not valid base64", shorten(&key, 80))))?;
        Self::new(flags, protocol, algorithm, public_key)
    }
}

impl fmt::Display for Dnskey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {}",
            self.flags,
            Self::PROTOCOL,
            self.algorithm,
            self.public_key_base64()
        )
    }
}

impl TryFrom<String> for Dnskey {
    type Error = Error;

    fn try_from(input: String) -> Result<Self, Error> {
        input.parse()
    }
}

impl From<Dnskey> for String {
    fn from(key: Dnskey) -> String {
        key.to_string()
    }
}

/// One trust anchor to publish at the parent: a DS record and, when known, its DNSKEY.
///
/// Providers with [`crate::Capabilities::ds_requires_dnskey`] (OVH) need the key. When both
/// are given they are checked to belong together (same algorithm and key tag, zone-key flag
/// set); the digest itself is not recomputed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DsSpec {
    /// The DS record.
    ds: DsRecord,
    /// The DNSKEY it points to, when known.
    dnskey: Option<Dnskey>,
}

impl DsSpec {
    /// Builds a spec from a DS record and the DNSKEY it points to.
    pub fn with_dnskey(ds: DsRecord, dnskey: Dnskey) -> Result<Self, Error> {
        if dnskey.flags() & Dnskey::ZONE_KEY == 0 {
            return Err(Error::invalid(format!(
                "DNSKEY with flags {} is not a zone key; a DS record cannot point to it",
                dnskey.flags()
            )));
        }
        if dnskey.algorithm() != ds.algorithm() || dnskey.key_tag() != ds.key_tag() {
            return Err(Error::invalid(format!(
                "DS {} does not belong to DNSKEY with algorithm {} and key tag {}",
                ds,
                dnskey.algorithm(),
                dnskey.key_tag()
            )));
        }
        Ok(Self {
            ds,
            dnskey: Some(dnskey),
        })
    }

    /// Builds a spec from a DNSKEY alone, computing its DS for `owner` with `digest_type`
    /// (2, SHA-256, is what registries expect today).
    pub fn from_dnskey(owner: &DomainName, dnskey: Dnskey, digest_type: u8) -> Result<Self, Error> {
        let ds = dnskey.to_ds(owner, digest_type)?;
        Self::with_dnskey(ds, dnskey)
    }

    /// Returns the DS record.
    pub fn ds(&self) -> &DsRecord {
        &self.ds
    }

    /// Returns the DNSKEY, when one was given.
    pub fn dnskey(&self) -> Option<&Dnskey> {
        self.dnskey.as_ref()
    }
}

impl From<DsRecord> for DsSpec {
    fn from(ds: DsRecord) -> Self {
        Self { ds, dnskey: None }
    }
}

/// Parses one numeric field of a presentation-format record.
fn parse_number<T: FromStr>(text: &str, what: &str) -> Result<T, Error> {
    text.parse()
        .map_err(|_| Error::invalid(format!("{what} {:?} is not a number in range", shorten(text, 20))))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Returns the detail of an expected [`Error::InvalidRequest`].
    fn detail(result: Result<impl fmt::Debug, Error>) -> String {
        match result {
            Err(Error::InvalidRequest { detail }) => detail,
            other => panic!("expected InvalidRequest, got {other:?}"),
        }
    }

    /// RFC 4034 section 5.4 example key (flags 256, RSA/SHA-1).
    const RFC4034_KEY: &str = "256 3 5 AQOeiiR0GOMYkDshWoSKz9XzfwJr1AYtsmx3TGkJaNXVbfi/2pHm822aJ5iI9BMzNXxeYCmZDRD99WYwYqUSdjMmmAphXdvxegXd/M5+X7OrzKBaMbCVdFLUUh6DhweJBjEVv5f2wwjM9XzcnOf+EPbtG9DMBmADjFDc2w/rljwvFw==";
    const RFC4034_DS: &str = "60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118";
    /// An ECDSA P-256 key-signing key; tag checked with ldns-key2ds.
    const ECDSA_KEY: &str =
        "257 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==";
    const ECDSA_DS: &str = "2371 13 2 c988ec423e3880eb8dd8a46fe06ca230ee23f35b578d64e78b29c3e1c83d245a";

    #[test]
    fn ds_round_trip() {
        let ds: DsRecord = RFC4034_DS.parse().expect("valid DS");
        assert_eq!(ds.key_tag(), 60485);
        assert_eq!(ds.algorithm(), 5);
        assert_eq!(ds.digest_type(), 1);
        assert_eq!(ds.digest().len(), 20);
        assert_eq!(ds.to_string(), RFC4034_DS);

        let lower: DsRecord = ECDSA_DS.parse().expect("valid DS");
        let split: DsRecord = "2371 13 2 C988EC423E3880EB8DD8A46FE06CA230\n EE23F35B578D64E78B29C3E1C83D245A"
            .parse()
            .expect("valid DS");
        assert_eq!(lower, split, "hex case and whitespace do not matter");
        assert_eq!(
            serde_json::from_str::<DsRecord>(&serde_json::to_string(&lower).expect("serialises")).expect("parses"),
            lower
        );
    }

    #[test]
    fn ds_wire_form_round_trips() {
        let ds: DsRecord = RFC4034_DS.parse().expect("valid DS");
        assert_eq!(DsRecord::from_rdata(&ds.rdata()).expect("valid"), ds);
        assert!(DsRecord::from_rdata(&[0xEC, 0x45, 5, 1]).is_err());
    }

    #[test]
    fn ds_rejections() {
        let cases = [
            ("", "expected \"key_tag"),
            ("1 13", "expected \"key_tag"),
            ("65536 13 2 00", "key tag \"65536\""),
            ("1 x 2 00", "algorithm \"x\""),
            ("1 13 256 00", "digest type \"256\""),
            ("1 0 2 00", "algorithm 0"),
            ("1 13 0 00", "digest type 0"),
            ("1 13 2 ABC", "even number of hex"),
            ("1 13 2 ZZ", "even number of hex"),
            ("1 13 2 0011", "32-byte digest (64 hex digits), got 2"),
            ("1 13 1 0011", "20-byte digest"),
            ("1 13 4 0011", "48-byte digest"),
            ("1 13 99", "digest is empty"),
        ];
        for (input, reason) in cases {
            let message = detail(input.parse::<DsRecord>());
            assert!(message.contains(reason), "{input:?}: {message}");
        }
        assert!(
            "1 13 99 00".parse::<DsRecord>().is_ok(),
            "unknown types take any length"
        );
    }

    #[test]
    fn dnskey_key_tags() {
        let rsa: Dnskey = RFC4034_KEY.parse().expect("valid DNSKEY");
        assert_eq!(rsa.key_tag(), 60485);
        let ecdsa: Dnskey = ECDSA_KEY.parse().expect("valid DNSKEY");
        assert_eq!(ecdsa.key_tag(), 2371);
        assert_eq!(ecdsa.flags(), 257);
        assert_eq!(ecdsa.to_string(), ECDSA_KEY);
        assert_eq!(ecdsa.public_key().len(), 64);
        assert_eq!(Dnskey::from_rdata(&ecdsa.rdata()).expect("own RDATA"), ecdsa);
        assert!(Dnskey::from_rdata(&[1, 1, 3]).is_err());

        let md5 = Dnskey::new(256, 3, 1, vec![9, 0xAB, 0xCD, 0xEF]).expect("valid");
        assert_eq!(md5.key_tag(), 0xABCD);
    }

    #[test]
    fn dnskey_rejections() {
        let cases = [
            ("257 3", "expected \"flags"),
            ("257 2 13 AAAA", "protocol must be 3"),
            ("257 3 0 AAAA", "algorithm 0"),
            ("257 3 13 ***", "not valid base64"),
            ("257 3 13", "public key is empty"),
            ("70000 3 13 AAAA", "flags \"70000\""),
        ];
        for (input, reason) in cases {
            let message = detail(input.parse::<Dnskey>());
            assert!(message.contains(reason), "{input:?}: {message}");
        }
    }

    #[test]
    fn ds_from_dnskey_matches_the_rfc_examples() {
        let owner = DomainName::new("dskey.example.com").expect("valid");
        let key: Dnskey = RFC4034_KEY.parse().expect("valid DNSKEY");
        assert_eq!(key.to_ds(&owner, 1).expect("sha1").to_string(), RFC4034_DS);
        // RFC 4509 section 2.3: the same key with SHA-256.
        assert_eq!(
            key.to_ds(&owner, 2).expect("sha256").to_string(),
            "60485 5 2 D4B7D520E7BB5F0F67674A0CCEB1E3E0614B93C4F9E99B8383F6A1E4469DA50A"
        );
        assert_eq!(key.to_ds(&owner, 4).expect("sha384").digest().len(), 48);
        assert!(detail(key.to_ds(&owner, 3)).contains("digest type 3"));

        let spec = DsSpec::from_dnskey(&owner, key.clone(), 2).expect("pair");
        assert_eq!(spec.dnskey(), Some(&key));
        assert_eq!(spec.ds().key_tag(), 60485);
        assert_eq!(wire_name("Ab.c"), b"\x02ab\x01c\x00".to_vec());
    }

    #[test]
    fn ds_spec_pairs_must_match() {
        let ds: DsRecord = ECDSA_DS.parse().expect("valid DS");
        let key: Dnskey = ECDSA_KEY.parse().expect("valid DNSKEY");
        let spec = DsSpec::with_dnskey(ds.clone(), key.clone()).expect("matching pair");
        assert_eq!(spec.ds(), &ds);
        assert_eq!(spec.dnskey(), Some(&key));
        assert_eq!(DsSpec::from(ds.clone()).dnskey(), None);

        let other: DsRecord = RFC4034_DS.parse().expect("valid DS");
        assert!(detail(DsSpec::with_dnskey(other, key.clone())).contains("does not belong"));

        let not_zone = Dnskey::new(1, 3, 13, key.public_key().to_vec()).expect("valid");
        assert!(detail(DsSpec::with_dnskey(ds, not_zone)).contains("not a zone key"));
    }
}
