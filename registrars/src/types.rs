//! Validated values exchanged with providers: names, DS and DNSKEY data, outcomes.
//!
//! Every type here is checked when it is built, so adapters and the planning code can rely
//! on normalised input: names are lower-case ASCII without a trailing dot, DS digests are
//! bytes (so hex case never matters), and DNSKEY/DS pairs are known to belong together.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use base::dnskey::{self, DigestType};
use data_encoding::{BASE64, HEXLOWER_PERMISSIVE, HEXUPPER};

use crate::error::{shorten, Error};

/// A domain whose delegation is managed, for example `example.com` or `pool.example.com`.
///
/// Same rules as [`NameserverName`]: letters, digits and hyphens, at least two labels,
/// lower-cased, one trailing dot removed, surrounding whitespace ignored. Internationalised
/// names must be given in their punycode (`xn--`) form.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DomainName(String);

impl DomainName {
    /// Validates and normalises a domain name.
    pub fn new(input: &str) -> Result<Self, Error> {
        parse_hostname(input, "domain").map(Self)
    }

    /// Returns the normalised name, without a trailing dot.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The host name of a nameserver, for example `ns1.pool-dns.net`.
///
/// Rules: labels of 1 to 63 letters, digits or hyphens, not starting or ending with a
/// hyphen; at most 253 characters; at least two labels; the last label not all digits (so
/// an IPv4 address is refused). The stored form is lower-case without the trailing dot,
/// which is what every provider API expects (GoDaddy rejects the dot).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NameserverName(String);

impl NameserverName {
    /// Validates and normalises a nameserver host name.
    pub fn new(input: &str) -> Result<Self, Error> {
        parse_hostname(input, "nameserver").map(Self)
    }

    /// Returns the normalised name, without a trailing dot.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Returns `true` when this host is `domain` itself or lies below it.
    ///
    /// Such an "in-bailiwick" nameserver needs glue at the parent before it can be used in
    /// the domain's NS set; a nameserver outside the domain must not get glue there.
    pub fn is_within(&self, domain: &DomainName) -> bool {
        match self.0.strip_suffix(domain.as_str()) {
            Some("") => true,
            Some(prefix) => prefix.ends_with('.'),
            None => false,
        }
    }
}

/// Implements the string conversions shared by the two name types.
macro_rules! name_conversions {
    ($name:ident) => {
        impl FromStr for $name {
            type Err = Error;

            fn from_str(input: &str) -> Result<Self, Error> {
                Self::new(input)
            }
        }

        impl TryFrom<String> for $name {
            type Error = Error;

            fn try_from(input: String) -> Result<Self, Error> {
                Self::new(&input)
            }
        }

        impl From<$name> for String {
            fn from(name: $name) -> String {
                name.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

name_conversions!(DomainName);
name_conversions!(NameserverName);

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
        DsRecord::new(self.key_tag(), self.algorithm, digest_type, rdata[4..].to_vec())
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

/// Addresses the parent publishes for a nameserver that lies inside the delegated domain.
///
/// The address list is taken as given; adapters check it against the provider's glue limits
/// (Namecheap: one IPv4 address).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Glue {
    /// The nameserver host, inside the delegated domain.
    pub host: NameserverName,
    /// Its IPv4 and IPv6 addresses.
    pub addresses: Vec<IpAddr>,
}

/// A domain's delegation as the provider's API reports it (or as it is wanted).
///
/// `ds` is `None` when the provider cannot report DS records; as a wanted state `None` means
/// "leave DS alone". `Some(vec![])` means "no DS", an unsigned delegation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Delegation {
    /// The NS set, in the order the provider lists it.
    pub nameservers: Vec<NameserverName>,
    /// The DS set, when known.
    pub ds: Option<Vec<DsRecord>>,
}

/// A provider's handle for an operation that finishes later (OVH task id, GoDaddy action).
///
/// Opaque to callers: store it and hand it back to [`crate::DelegationProvider::poll`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct OperationId(String);

impl OperationId {
    /// Wraps a provider's operation handle.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// Returns the handle as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OperationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a mutating call did.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ChangeOutcome {
    /// The provider already had the wanted state; nothing was sent.
    AlreadyInSync,
    /// The change was accepted and is effective at the provider (the registry may lag).
    Applied,
    /// The change was accepted and runs asynchronously; poll the operation.
    ///
    /// Also returned when an identical operation was already open at the provider, so a
    /// retry does not queue a second one.
    Pending {
        /// The handle to poll.
        operation_id: OperationId,
    },
}

/// The result of comparing the provider's state with a wanted delegation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verification {
    /// The NS sets are equal, ignoring order.
    pub nameservers_match: bool,
    /// The DS sets are equal, ignoring order; `None` when DS was not asked about or the
    /// provider cannot report it.
    pub ds_match: Option<bool>,
    /// What the provider reported.
    pub observed: Delegation,
}

impl Verification {
    /// Compares an observed delegation with the wanted one.
    pub fn compare(observed: Delegation, wanted: &Delegation) -> Self {
        let nameservers_match = same_set(&observed.nameservers, &wanted.nameservers);
        let ds_match = match (&observed.ds, &wanted.ds) {
            (Some(have), Some(want)) => Some(same_set(have, want)),
            _ => None,
        };
        Self {
            nameservers_match,
            ds_match,
            observed,
        }
    }

    /// Returns `true` when nothing checked was found to differ.
    pub fn is_in_sync(&self) -> bool {
        self.nameservers_match && self.ds_match != Some(false)
    }
}

/// Compares two lists as sets (order and repeats ignored).
pub(crate) fn same_set<T: Ord>(left: &[T], right: &[T]) -> bool {
    let mut left: Vec<&T> = left.iter().collect();
    let mut right: Vec<&T> = right.iter().collect();
    left.sort();
    left.dedup();
    right.sort();
    right.dedup();
    left == right
}

/// Encodes a normalised host name (no trailing dot) in DNS wire form, lower-case.
pub(crate) fn wire_name(name: &str) -> Vec<u8> {
    let mut wire = Vec::with_capacity(name.len() + 2);
    for label in name.split('.').filter(|label| !label.is_empty()) {
        let bytes = label.as_bytes();
        wire.push(u8::try_from(bytes.len()).unwrap_or(63).min(63));
        wire.extend(bytes.iter().take(63).map(u8::to_ascii_lowercase));
    }
    wire.push(0);
    wire
}

/// Validates a host name and returns its normalised form; `what` names it in messages.
fn parse_hostname(input: &str, what: &str) -> Result<String, Error> {
    let trimmed = input.trim();
    let bad = |why: String| Error::invalid(format!("{what} {:?} {why}", shorten(trimmed, 80)));
    if trimmed.is_empty() {
        return Err(Error::invalid(format!("{what} is empty")));
    }
    let name = trimmed.strip_suffix('.').unwrap_or(trimmed);
    if name.is_empty() {
        return Err(bad("is the root, not a host name".into()));
    }
    let name = name.to_ascii_lowercase();
    let mut labels = 0;
    for label in name.split('.') {
        labels += 1;
        if label.is_empty() {
            return Err(bad("has an empty label (a leading dot or two dots in a row)".into()));
        }
        if let Some(c) = label.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-')) {
            return Err(bad(if c.is_ascii() {
                format!("contains {c:?}; only letters, digits and '-' are allowed")
            } else {
                format!("contains {c:?}; write internationalised names in punycode (xn--...)")
            }));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(bad(format!("has label {label:?} starting or ending with '-'")));
        }
        if label.len() > 63 {
            return Err(bad(format!("has label {label:?} longer than 63 characters")));
        }
    }
    if name.len() > 253 {
        return Err(bad("is longer than 253 characters".into()));
    }
    if labels < 2 {
        return Err(bad("needs at least two labels, like example.com".into()));
    }
    if name
        .rsplit('.')
        .next()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad(
            "ends in an all-digit label; an IP address is not a host name".into()
        ));
    }
    Ok(name)
}

/// Parses one numeric field of a presentation-format record.
fn parse_number<T: FromStr>(text: &str, what: &str) -> Result<T, Error> {
    text.parse()
        .map_err(|_| Error::invalid(format!("{what} {:?} is not a number in range", shorten(text, 20))))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses a nameserver name that the test knows to be valid.
    fn ns(name: &str) -> NameserverName {
        NameserverName::new(name).expect("valid nameserver")
    }

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
    fn names_are_normalised() {
        assert_eq!(ns("NS1.Pool-DNS.net.").as_str(), "ns1.pool-dns.net");
        assert_eq!(ns("  ns1.example.com \n").as_str(), "ns1.example.com");
        assert_eq!(ns("ns1.xn--bcher-kva.example").as_str(), "ns1.xn--bcher-kva.example");
        assert_eq!(
            DomainName::new("Example.COM.").expect("valid").to_string(),
            "example.com"
        );
        assert_eq!("a.b".parse::<DomainName>().expect("valid").as_str(), "a.b");
    }

    #[test]
    fn names_are_rejected_with_a_reason() {
        let cases = [
            ("", "is empty"),
            ("   ", "is empty"),
            (".", "is the root"),
            ("localhost", "at least two labels"),
            ("localhost.", "at least two labels"),
            ("ns1..example.com", "empty label"),
            (".example.com", "empty label"),
            ("ns1.example.com..", "empty label"),
            ("ns_1.example.com", "contains '_'"),
            ("ns 1.example.com", "contains ' '"),
            ("ns1.bücher.example", "punycode"),
            ("-ns1.example.com", "starting or ending with '-'"),
            ("ns1-.example.com", "starting or ending with '-'"),
            ("192.0.2.1", "all-digit label"),
            ("ns1.example.123", "all-digit label"),
        ];
        for (input, reason) in cases {
            let message = detail(NameserverName::new(input));
            assert!(message.contains(reason), "{input:?}: {message}");
            assert!(message.starts_with("nameserver"), "{message}");
        }
        assert!(detail(DomainName::new("com")).starts_with("domain \"com\""));
    }

    #[test]
    fn name_length_limits() {
        let label63 = "a".repeat(63);
        assert!(NameserverName::new(&format!("{label63}.example")).is_ok());
        let message = detail(NameserverName::new(&format!("{}.example", "a".repeat(64))));
        assert!(message.contains("longer than 63"), "{message}");

        // 4 x 63 + 3 dots = 255; trim to exactly 253 and 254.
        let long = [label63.as_str(); 4].join(".");
        assert!(NameserverName::new(&long[..253]).is_ok());
        assert!(NameserverName::new(&format!("{}.", &long[..253])).is_ok());
        let message = detail(NameserverName::new(&long[..254]));
        assert!(message.contains("longer than 253"), "{message}");
        assert!(message.contains('…'), "long input is shortened in the message");
    }

    #[test]
    fn bailiwick() {
        let domain = DomainName::new("pool.example.com").expect("valid");
        assert!(ns("ns1.pool.example.com").is_within(&domain));
        assert!(ns("pool.example.com").is_within(&domain));
        assert!(!ns("ns1.otherpool.example.com").is_within(&domain));
        assert!(!ns("ns1.example.com").is_within(&domain));
        assert!(!ns("ns1.pool-dns.net").is_within(&domain));
    }

    #[test]
    fn names_serde_validates() {
        let parsed: Vec<NameserverName> =
            serde_json::from_str(r#"["NS1.Example.com.", "ns2.example.com"]"#).expect("valid");
        assert_eq!(parsed, vec![ns("ns1.example.com"), ns("ns2.example.com")]);
        assert_eq!(
            serde_json::to_string(&parsed).expect("serialises"),
            r#"["ns1.example.com","ns2.example.com"]"#
        );
        let error = serde_json::from_str::<NameserverName>(r#""bad_name.com""#)
            .expect_err("invalid")
            .to_string();
        assert!(error.contains("only letters, digits"), "{error}");
    }

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

    #[test]
    fn verification_compares_sets() {
        let ds: DsRecord = ECDSA_DS.parse().expect("valid DS");
        let observed = Delegation {
            nameservers: vec![ns("ns2.example.net"), ns("ns1.example.net")],
            ds: Some(vec![ds.clone()]),
        };
        let wanted = Delegation {
            nameservers: vec![ns("ns1.example.net"), ns("ns2.example.net")],
            ds: Some(vec![ds]),
        };
        let check = Verification::compare(observed.clone(), &wanted);
        assert!(check.nameservers_match);
        assert_eq!(check.ds_match, Some(true));
        assert!(check.is_in_sync());

        let unsigned = Delegation {
            ds: Some(vec![]),
            ..wanted.clone()
        };
        let check = Verification::compare(observed.clone(), &unsigned);
        assert_eq!(check.ds_match, Some(false));
        assert!(!check.is_in_sync());

        let unknown = Delegation { ds: None, ..observed };
        let check = Verification::compare(unknown, &wanted);
        assert_eq!(check.ds_match, None);
        assert!(check.is_in_sync());
    }
}
