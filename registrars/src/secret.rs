//! A credential string that never appears in logs, error messages or debug output.

use std::borrow::Cow;
use std::fmt;

/// An API key, token or password.
///
/// `Debug` and `Display` both print `***`; the value is only reachable through
/// [`Secret::expose`], which makes every use greppable. It can be deserialised (from a
/// configuration file or a request body) but deliberately not serialised, so it cannot be
/// written back out by accident. There is no `PartialEq`: compare exposed values explicitly
/// when a test needs to.
#[derive(Clone, Default, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a credential.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// Returns the credential, for building a request header or signature.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Returns `true` when the credential is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Replaces every occurrence of the credential in `text` with `***`.
    ///
    /// Use it on provider or transport text before putting it into an [`crate::Error`]:
    /// APIs that take the key as a query parameter (Namecheap, Dynadot) echo it inside URLs
    /// in their error strings. An empty secret leaves `text` untouched. Only the literal
    /// value is found, not a percent-encoded form of it.
    pub fn scrub<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if self.0.is_empty() || !text.contains(self.0.as_str()) {
            Cow::Borrowed(text)
        } else {
            Cow::Owned(text.replace(self.0.as_str(), "***"))
        }
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A credential that must never show up in output.
    const VALUE: &str = "sk-live-0123456789abcdef";

    #[test]
    fn debug_and_display_hide_the_value() {
        let secret = Secret::new(VALUE);
        assert_eq!(format!("{secret:?}"), "***");
        assert_eq!(format!("{secret}"), "***");
        assert_eq!(format!("{secret:#?}"), "***");
        assert!(!format!("{:?}", Some(&secret)).contains(VALUE));
    }

    #[test]
    fn containing_structs_do_not_leak() {
        /// A typical adapter configuration.
        #[derive(Debug)]
        #[allow(dead_code)] // only read through `Debug`
        struct Credentials {
            user: String,
            key: Secret,
        }
        let creds = Credentials {
            user: "alice".into(),
            key: Secret::from(VALUE),
        };
        let shown = format!("{creds:?} {creds:#?}");
        assert!(!shown.contains(VALUE));
        assert!(shown.contains("alice"));
    }

    #[test]
    fn expose_returns_the_value() {
        assert_eq!(Secret::from(VALUE.to_owned()).expose(), VALUE);
        assert!(Secret::default().is_empty());
    }

    #[test]
    fn scrub_removes_every_occurrence() {
        let secret = Secret::new(VALUE);
        let text = format!("GET https://api.example/?key={VALUE}&x=1 failed; key {VALUE}");
        let clean = secret.scrub(&text);
        assert!(!clean.contains(VALUE));
        assert_eq!(clean, "GET https://api.example/?key=***&x=1 failed; key ***");
        assert!(matches!(secret.scrub("no key here"), Cow::Borrowed(_)));
        assert_eq!(Secret::default().scrub("abc"), "abc");
    }

    #[test]
    fn deserialises_from_a_plain_string() {
        let secret: Secret = serde_json::from_str(&format!("\"{VALUE}\"")).expect("valid JSON");
        assert_eq!(secret.expose(), VALUE);
    }
}
