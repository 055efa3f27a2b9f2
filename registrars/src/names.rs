//! Checked host names: the domains whose delegation is managed and their nameservers.
//!
//! Names are built checked, so adapters and the planning code can rely on normalised
//! input: lower-case ASCII without a trailing dot.

use std::fmt;
use std::str::FromStr;

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
}
