//! Provider credentials and the configuration an adapter is built from.
//!
//! Credentials come either from a configuration file (they deserialise with serde) or from
//! the per-call token string that pool-domain-manager clients send, parsed with
//! [`Credentials::from_token`]. Every secret part is a [`Secret`], so `Debug` output of a
//! credential never shows it, and parse errors describe the expected shape without echoing
//! the input.

use std::net::Ipv4Addr;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::provider::ProviderKind;
use crate::retry::Backoff;
use crate::secret::Secret;

/// Credentials for one provider account.
///
/// In a configuration file the variant is named after the provider, for example
/// `{"godaddy": {"key": "...", "secret": "..."}}`.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum Credentials {
    /// Cloudflare API token or legacy global key.
    Cloudflare(CloudflareCredentials),
    /// Namecheap API user, key and whitelisted client address.
    Namecheap(NamecheapCredentials),
    /// GoDaddy key and secret.
    GoDaddy(GoDaddyCredentials),
    /// OVHcloud application key, application secret and consumer key.
    Ovh(OvhCredentials),
    /// Dynadot API key.
    Dynadot(DynadotCredentials),
}

/// How to authenticate to Cloudflare.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum CloudflareCredentials {
    /// An API token (`Authorization: Bearer`), with `Zone:Zone:Read` and `Zone:DNS:Edit`
    /// on the parent zone.
    ApiToken {
        /// The token.
        api_token: Secret,
    },
    /// The legacy global API key with the account's e-mail address.
    GlobalKey {
        /// The account's e-mail address.
        email: String,
        /// The global API key.
        api_key: Secret,
    },
}

/// Namecheap API credentials.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamecheapCredentials {
    /// The API user (`ApiUser`).
    pub api_user: String,
    /// The API key (`ApiKey`).
    pub api_key: Secret,
    /// The user acted for (`UserName`); the API user when absent.
    #[serde(default)]
    pub user_name: Option<String>,
    /// This server's public IPv4 address as whitelisted at Namecheap (`ClientIp`).
    pub client_ip: Ipv4Addr,
}

/// GoDaddy API credentials.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoDaddyCredentials {
    /// The API key.
    pub key: Secret,
    /// The API secret.
    pub secret: Secret,
    /// The customer id the v2 API needs; without it nameservers are changed through v1 and
    /// DS records cannot be managed.
    #[serde(default)]
    pub customer_id: Option<String>,
}

/// OVHcloud API credentials (application key/secret and a validated consumer key).
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OvhCredentials {
    /// The application key (`X-Ovh-Application`).
    pub application_key: Secret,
    /// The application secret, used only to sign requests.
    pub application_secret: Secret,
    /// The consumer key (`X-Ovh-Consumer`).
    pub consumer_key: Secret,
}

/// Dynadot API3 credentials.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DynadotCredentials {
    /// The API key.
    pub api_key: Secret,
    /// The API secret; accepted for the REST API's signatures, unused by API3.
    #[serde(default)]
    pub api_secret: Option<Secret>,
}

/// The token shapes accepted by [`Credentials::from_token`], per provider.
const CLOUDFLARE_SHAPE: &str = "an API token, or \"email:global-api-key\"";
/// See [`CLOUDFLARE_SHAPE`].
const NAMECHEAP_SHAPE: &str =
    "\"apiUser:apiKey:clientIp\" or \"apiUser:apiKey:userName:clientIp\" (clientIp: this server's whitelisted IPv4 address)";
/// See [`CLOUDFLARE_SHAPE`].
const GODADDY_SHAPE: &str = "\"key:secret\" or \"key:secret:customerId\"";
/// See [`CLOUDFLARE_SHAPE`].
const OVH_SHAPE: &str = "\"applicationKey:applicationSecret:consumerKey\"";
/// See [`CLOUDFLARE_SHAPE`].
const DYNADOT_SHAPE: &str = "\"apiKey\" or \"apiKey:apiSecret\"";

/// The longest token accepted, in bytes.
const MAX_TOKEN_LEN: usize = 1024;

impl Credentials {
    /// Returns the provider these credentials are for.
    pub fn kind(&self) -> ProviderKind {
        match self {
            Self::Cloudflare(_) => ProviderKind::Cloudflare,
            Self::Namecheap(_) => ProviderKind::Namecheap,
            Self::GoDaddy(_) => ProviderKind::GoDaddy,
            Self::Ovh(_) => ProviderKind::Ovh,
            Self::Dynadot(_) => ProviderKind::Dynadot,
        }
    }

    /// Parses the per-call token a pool-domain-manager client sends for `kind`.
    ///
    /// Shapes (parts separated by `:`):
    ///
    /// | provider | token |
    /// |---|---|
    /// | cloudflare | `apiToken`, or `email:globalApiKey` |
    /// | namecheap | `apiUser:apiKey:clientIp` or `apiUser:apiKey:userName:clientIp` |
    /// | godaddy | `key:secret`, optionally `:customerId` for the v2 API |
    /// | ovh | `applicationKey:applicationSecret:consumerKey` |
    /// | dynadot | `apiKey`, optionally `:apiSecret` |
    ///
    /// Namecheap's two-part form is refused: the API checks `ClientIp` against a
    /// whitelist, and guessing it would only move the failure to the provider. Fails with
    /// [`Error::MalformedCredentials`], which never contains the token.
    pub fn from_token(kind: ProviderKind, token: &str) -> Result<Self> {
        let token = token.trim();
        let malformed = |expected| Error::MalformedCredentials {
            provider: kind.as_str(),
            expected,
        };
        let shape = match kind {
            ProviderKind::Cloudflare => CLOUDFLARE_SHAPE,
            ProviderKind::Namecheap => NAMECHEAP_SHAPE,
            ProviderKind::GoDaddy => GODADDY_SHAPE,
            ProviderKind::Ovh => OVH_SHAPE,
            ProviderKind::Dynadot => DYNADOT_SHAPE,
        };
        if token.is_empty() || token.len() > MAX_TOKEN_LEN || token.chars().any(|c| !c.is_ascii_graphic()) {
            return Err(malformed(shape));
        }
        let parts: Vec<&str> = token.split(':').collect();
        if parts.iter().any(|part| part.is_empty()) {
            return Err(malformed(shape));
        }
        let credentials = match (kind, parts.as_slice()) {
            (ProviderKind::Cloudflare, [token]) => Self::Cloudflare(CloudflareCredentials::ApiToken {
                api_token: Secret::new(*token),
            }),
            (ProviderKind::Cloudflare, [email, key]) if email.contains('@') => {
                Self::Cloudflare(CloudflareCredentials::GlobalKey {
                    email: (*email).to_owned(),
                    api_key: Secret::new(*key),
                })
            }
            (ProviderKind::Namecheap, [user, key, ip]) => Self::Namecheap(NamecheapCredentials {
                api_user: (*user).to_owned(),
                api_key: Secret::new(*key),
                user_name: None,
                client_ip: ip.parse().map_err(|_| malformed(shape))?,
            }),
            (ProviderKind::Namecheap, [user, key, name, ip]) => Self::Namecheap(NamecheapCredentials {
                api_user: (*user).to_owned(),
                api_key: Secret::new(*key),
                user_name: Some((*name).to_owned()),
                client_ip: ip.parse().map_err(|_| malformed(shape))?,
            }),
            (ProviderKind::GoDaddy, [key, secret]) => Self::GoDaddy(GoDaddyCredentials {
                key: Secret::new(*key),
                secret: Secret::new(*secret),
                customer_id: None,
            }),
            (ProviderKind::GoDaddy, [key, secret, customer]) => Self::GoDaddy(GoDaddyCredentials {
                key: Secret::new(*key),
                secret: Secret::new(*secret),
                customer_id: Some((*customer).to_owned()),
            }),
            (ProviderKind::Ovh, [application_key, application_secret, consumer_key]) => Self::Ovh(OvhCredentials {
                application_key: Secret::new(*application_key),
                application_secret: Secret::new(*application_secret),
                consumer_key: Secret::new(*consumer_key),
            }),
            (ProviderKind::Dynadot, [key]) => Self::Dynadot(DynadotCredentials {
                api_key: Secret::new(*key),
                api_secret: None,
            }),
            (ProviderKind::Dynadot, [key, secret]) => Self::Dynadot(DynadotCredentials {
                api_key: Secret::new(*key),
                api_secret: Some(Secret::new(*secret)),
            }),
            _ => return Err(malformed(shape)),
        };
        Ok(credentials)
    }

    /// Returns every secret part, so transport and provider text can be scrubbed of them.
    pub(crate) fn secrets(&self) -> Vec<Secret> {
        match self {
            Self::Cloudflare(CloudflareCredentials::ApiToken { api_token }) => vec![api_token.clone()],
            Self::Cloudflare(CloudflareCredentials::GlobalKey { api_key, .. }) => vec![api_key.clone()],
            Self::Namecheap(creds) => vec![creds.api_key.clone()],
            Self::GoDaddy(creds) => vec![creds.key.clone(), creds.secret.clone()],
            Self::Ovh(creds) => vec![
                creds.application_key.clone(),
                creds.application_secret.clone(),
                creds.consumer_key.clone(),
            ],
            Self::Dynadot(creds) => std::iter::once(creds.api_key.clone())
                .chain(creds.api_secret.clone())
                .collect(),
        }
    }

    /// Returns a SHA-256 fingerprint of the account identity, to share rate limits between
    /// adapters built from the same credentials without keeping the credentials as a key.
    pub(crate) fn fingerprint(&self) -> [u8; 32] {
        let mut context = ring::digest::Context::new(&ring::digest::SHA256);
        context.update(self.kind().as_str().as_bytes());
        for secret in self.secrets() {
            context.update(&[0]);
            context.update(secret.expose().as_bytes());
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(context.finish().as_ref());
        out
    }
}

/// Everything needed to build an adapter.
#[derive(Clone, Debug)]
pub struct ProviderConfig {
    /// The API base URL; `None` uses the provider's production URL.
    ///
    /// Besides a URL, some providers take a short name: `"sandbox"` for Namecheap and
    /// Dynadot, `"ote"` for GoDaddy, `"ovh-eu"`, `"ovh-ca"` and `"ovh-us"` for OVHcloud.
    pub base_url: Option<String>,
    /// The account's credentials.
    pub credentials: Credentials,
    /// How long one HTTP request may take; 30 seconds when `None`.
    pub timeout: Option<Duration>,
    /// The retry policy for refused and failed requests; [`Backoff::default`] when `None`.
    pub backoff: Option<Backoff>,
    /// The client-side request budget; the provider's documented limit when `None`.
    pub rate_limit: Option<RateLimit>,
}

impl ProviderConfig {
    /// Returns a configuration with the production URL and default policies.
    pub fn new(credentials: Credentials) -> Self {
        Self {
            base_url: None,
            credentials,
            timeout: None,
            backoff: None,
            rate_limit: None,
        }
    }

    /// Sets the base URL (a mock server, a sandbox name or another region).
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = Some(base_url.into());
        self
    }
}

/// A client-side request budget: a token bucket plus a cap on concurrent requests.
///
/// `requests` may be sent at once after a quiet period, and the budget refills evenly over
/// `per`. `max_in_flight` limits requests that are waiting for an answer at the same time
/// (Dynadot's regular tier allows one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// The bucket size: requests allowed in a burst.
    pub requests: u32,
    /// The time in which a full bucket refills.
    pub per: Duration,
    /// The most requests in flight at once.
    pub max_in_flight: usize,
}

impl RateLimit {
    /// Returns the documented (or, where undocumented, fair-use) limit of `kind`.
    ///
    /// Cloudflare 1200 per 5 minutes; Namecheap 20 per minute; GoDaddy 60 per minute (per
    /// endpoint at GoDaddy, applied to all endpoints together here); OVHcloud about 60 per
    /// minute; Dynadot 60 per minute with one request in flight.
    pub fn for_provider(kind: ProviderKind) -> Self {
        let (requests, seconds, max_in_flight) = match kind {
            ProviderKind::Cloudflare => (1200, 300, 8),
            ProviderKind::Namecheap => (20, 60, 4),
            ProviderKind::GoDaddy => (60, 60, 4),
            ProviderKind::Ovh => (60, 60, 4),
            ProviderKind::Dynadot => (60, 60, 1),
        };
        Self {
            requests,
            per: Duration::from_secs(seconds),
            max_in_flight,
        }
    }
}

/// The error for credentials that belong to another provider.
pub(crate) fn wrong_credentials(kind: ProviderKind, credentials: &Credentials) -> Error {
    Error::invalid(format!(
        "the configured credentials are for {}, not {kind}",
        credentials.kind()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Returns the error of a token that must not parse, checking it does not echo input.
    fn refused(kind: ProviderKind, token: &str) -> Error {
        let error = Credentials::from_token(kind, token).expect_err("malformed");
        assert_eq!(error.code(), "invalid-token");
        assert_eq!(error.http_status(), 401);
        for part in token.split(':').filter(|part| part.len() > 3) {
            assert!(!error.to_string().contains(part), "{error} echoes {part}");
        }
        error
    }

    #[test]
    fn pdm_token_shapes() {
        let Credentials::Namecheap(nc) =
            Credentials::from_token(ProviderKind::Namecheap, "alice:k3y:bob:198.51.100.7").expect("valid")
        else {
            panic!("wrong provider");
        };
        assert_eq!(nc.api_user, "alice");
        assert_eq!(nc.user_name.as_deref(), Some("bob"));
        assert_eq!(nc.client_ip, Ipv4Addr::new(198, 51, 100, 7));
        assert!(matches!(
            Credentials::from_token(ProviderKind::Namecheap, "alice:k3y:198.51.100.7"),
            Ok(Credentials::Namecheap(NamecheapCredentials { user_name: None, .. }))
        ));
        assert!(matches!(
            Credentials::from_token(ProviderKind::GoDaddy, " key:secret "),
            Ok(Credentials::GoDaddy(GoDaddyCredentials { customer_id: None, .. }))
        ));
        let Ok(Credentials::GoDaddy(gd)) = Credentials::from_token(ProviderKind::GoDaddy, "key:secret:cust-1") else {
            panic!("valid GoDaddy token");
        };
        assert_eq!(gd.customer_id.as_deref(), Some("cust-1"));
        assert_eq!(gd.secret.expose(), "secret");
        assert!(matches!(
            Credentials::from_token(ProviderKind::Ovh, "ak:as:ck"),
            Ok(Credentials::Ovh(_))
        ));
        assert!(matches!(
            Credentials::from_token(ProviderKind::Dynadot, "key"),
            Ok(Credentials::Dynadot(DynadotCredentials { api_secret: None, .. }))
        ));
        assert!(matches!(
            Credentials::from_token(ProviderKind::Dynadot, "key:secret"),
            Ok(Credentials::Dynadot(DynadotCredentials {
                api_secret: Some(_),
                ..
            }))
        ));
        assert!(matches!(
            Credentials::from_token(ProviderKind::Cloudflare, "abcDEF_123-xyz"),
            Ok(Credentials::Cloudflare(CloudflareCredentials::ApiToken { .. }))
        ));
        assert!(matches!(
            Credentials::from_token(ProviderKind::Cloudflare, "ops@example.com:0123abcd"),
            Ok(Credentials::Cloudflare(CloudflareCredentials::GlobalKey { .. }))
        ));
    }

    #[test]
    fn malformed_tokens_are_refused_without_echo() {
        refused(ProviderKind::Namecheap, "alice:secretkey");
        refused(ProviderKind::Namecheap, "alice:secretkey:not-an-ip");
        refused(ProviderKind::Namecheap, "alice:secretkey:2001:db8::1");
        refused(ProviderKind::GoDaddy, "justonesecretpart");
        refused(ProviderKind::GoDaddy, "kkkk::zzzz");
        refused(ProviderKind::Ovh, "appkey:appsecret");
        refused(ProviderKind::Dynadot, "a:b:c");
        refused(ProviderKind::Cloudflare, "token with spaces");
        refused(ProviderKind::Cloudflare, "notanemail:secretvalue");
        refused(ProviderKind::Cloudflare, "");
        refused(ProviderKind::Cloudflare, &"x".repeat(2000));
        let error = refused(ProviderKind::GoDaddy, "onlyone");
        assert_eq!(
            error.to_string(),
            "malformed godaddy credentials: expected \"key:secret\" or \"key:secret:customerId\""
        );
    }

    #[test]
    fn debug_output_hides_secrets() {
        let creds = Credentials::from_token(ProviderKind::Ovh, "app-key-1:app-secret-2:consumer-3").expect("valid");
        let shown = format!("{creds:?}");
        for secret in ["app-key-1", "app-secret-2", "consumer-3"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert_eq!(creds.secrets().len(), 3);
        assert_eq!(creds.kind(), ProviderKind::Ovh);
    }

    #[test]
    fn fingerprints_differ_per_account() {
        let one = Credentials::from_token(ProviderKind::Dynadot, "key-one").expect("valid");
        let two = Credentials::from_token(ProviderKind::Dynadot, "key-two").expect("valid");
        assert_ne!(one.fingerprint(), two.fingerprint());
        assert_eq!(one.fingerprint(), one.clone().fingerprint());
    }

    #[test]
    fn deserialises_from_configuration() {
        let creds: Credentials =
            serde_json::from_str(r#"{"godaddy": {"key": "k", "secret": "s", "customer_id": "c"}}"#).expect("valid");
        assert_eq!(creds.kind(), ProviderKind::GoDaddy);
        let creds: Credentials = serde_json::from_str(r#"{"cloudflare": {"api_token": "t"}}"#).expect("valid");
        assert!(matches!(
            creds,
            Credentials::Cloudflare(CloudflareCredentials::ApiToken { .. })
        ));
        let creds: Credentials =
            serde_json::from_str(r#"{"namecheap": {"api_user": "u", "api_key": "k", "client_ip": "192.0.2.1"}}"#)
                .expect("valid");
        assert_eq!(creds.kind(), ProviderKind::Namecheap);
        assert!(serde_json::from_str::<Credentials>(r#"{"route53": {}}"#).is_err());
    }
}
