//! The one error type every provider returns, with stable codes for API clients.

use std::borrow::Cow;
use std::time::Duration;

/// Shorthand for results in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a provider call failed, named for the fault rather than for the provider's wording.
///
/// Messages never contain credentials: no variant holds a [`crate::Secret`], and adapters run
/// provider text through [`crate::Secret::scrub`] before putting it into a `detail`. Details
/// are meant for operators; API responses should carry [`Error::code`] and may leave the
/// detail out, as raw provider text can be long or confusing.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The provider did not accept the credentials (wrong, expired, revoked or malformed).
    #[error("the provider rejected the credentials")]
    InvalidCredentials,

    /// The credential string does not have the shape this provider's credentials have, so
    /// nothing was sent.
    ///
    /// The message names the expected shape and never repeats the input.
    #[error("malformed {provider} credentials: expected {expected}")]
    MalformedCredentials {
        /// The provider the credentials were meant for.
        provider: &'static str,
        /// The expected shape, for example `"key:secret"`.
        expected: &'static str,
    },

    /// The credentials are valid but may not do this (token scope, IP allow-list, account
    /// not eligible for API access).
    ///
    /// Reported with the same code and status as [`Error::InvalidCredentials`]: either way
    /// the fix is a different credential.
    #[error("the credentials are not allowed to do this: {detail}")]
    PermissionDenied {
        /// What the provider said, credentials removed.
        detail: String,
    },

    /// The domain does not exist in the account the credentials belong to.
    #[error("domain {domain} is not in this account")]
    DomainNotInAccount {
        /// The domain that was asked about.
        domain: String,
    },

    /// The provider is throttling requests.
    #[error("rate limited by the provider{}", retry_hint(.retry_after))]
    RateLimited {
        /// How long the provider asked to wait, when it said.
        retry_after: Option<Duration>,
    },

    /// The provider's API could not be reached or answered with a server error.
    #[error("provider API unavailable: {detail}")]
    Unavailable {
        /// Transport or server error text, credentials removed.
        detail: String,
    },

    /// The provider's API did not answer in time.
    ///
    /// The request may still have been applied; read before retrying.
    #[error("provider API did not answer in time")]
    Timeout,

    /// The provider understood the request and refused it (validation, registry policy, an
    /// unexpected answer).
    #[error("provider rejected the request: {detail}")]
    Rejected {
        /// What the provider said, credentials removed.
        detail: String,
    },

    /// An asynchronous operation finished unsuccessfully.
    #[error("operation {operation_id} failed: {detail}")]
    OperationFailed {
        /// The provider's handle for the operation.
        operation_id: String,
        /// What the provider said, credentials removed.
        detail: String,
    },

    /// The provider can only read delegations for this domain or with these credentials.
    #[error("the provider is read-only here: {reason}")]
    ReadOnly {
        /// Why, for example "Cloudflare Registrar domains must use Cloudflare DNS".
        reason: Cow<'static, str>,
    },

    /// The provider cannot do this one operation through its API.
    #[error("{operation} is not supported: {reason}")]
    Unsupported {
        /// The operation, for example "set DS".
        operation: &'static str,
        /// Why, for example "only possible in the provider's control panel".
        reason: Cow<'static, str>,
    },

    /// The request itself is invalid (bad name, too few nameservers, duplicate DS...).
    #[error("invalid request: {detail}")]
    InvalidRequest {
        /// What is wrong and, where possible, how to fix it.
        detail: String,
    },

    /// A provider name that this crate does not know.
    #[error("unknown provider {name:?}; supported: {supported}")]
    UnknownProvider {
        /// The name that was given, shortened when long.
        name: String,
        /// The names this crate knows, comma-separated.
        supported: String,
    },
}

impl Error {
    /// Returns the stable kebab-case code for API responses.
    ///
    /// The five provider faults use the pool-domain-manager codes (`invalid-token`,
    /// `domain-not-in-account`, `rate-limited`, `api-unavailable`, `registrar-error`) and an
    /// unknown provider uses its `unsupported-registrar`; the remaining variants have codes
    /// of their own.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidCredentials | Self::MalformedCredentials { .. } | Self::PermissionDenied { .. } => {
                "invalid-token"
            }
            Self::DomainNotInAccount { .. } => "domain-not-in-account",
            Self::RateLimited { .. } => "rate-limited",
            Self::Unavailable { .. } | Self::Timeout => "api-unavailable",
            Self::Rejected { .. } | Self::OperationFailed { .. } => "registrar-error",
            Self::ReadOnly { .. } => "read-only",
            Self::Unsupported { .. } => "unsupported-operation",
            Self::InvalidRequest { .. } => "invalid-request",
            Self::UnknownProvider { .. } => "unsupported-registrar",
        }
    }

    /// Returns the HTTP status an API should answer with for this error.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::InvalidCredentials | Self::MalformedCredentials { .. } | Self::PermissionDenied { .. } => 401,
            Self::DomainNotInAccount { .. } => 403,
            Self::RateLimited { .. } => 429,
            Self::Unavailable { .. } | Self::Timeout => 502,
            Self::Rejected { .. } | Self::OperationFailed { .. } => 500,
            Self::ReadOnly { .. } | Self::Unsupported { .. } | Self::InvalidRequest { .. } => 422,
            Self::UnknownProvider { .. } => 404,
        }
    }

    /// Returns `true` when repeating the same call later may succeed.
    ///
    /// Safe to act on only because every mutating call reads before it writes.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::RateLimited { .. } | Self::Unavailable { .. } | Self::Timeout
        )
    }

    /// Returns the wait the provider asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after } => *retry_after,
            _ => None,
        }
    }

    /// Builds an [`Error::InvalidRequest`].
    pub fn invalid(detail: impl Into<String>) -> Self {
        Self::InvalidRequest { detail: detail.into() }
    }
}

/// Formats the `Retry-After` suffix of [`Error::RateLimited`].
fn retry_hint(retry_after: &Option<Duration>) -> String {
    match retry_after {
        Some(wait) => format!("; retry after {}s", wait.as_secs_f64().ceil()),
        None => String::new(),
    }
}

/// Returns at most `max` characters of `text`, marking a cut with `…`.
pub(crate) fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Secret;

    #[test]
    fn codes_and_statuses() {
        let table: Vec<(Error, &str, u16)> = vec![
            (Error::InvalidCredentials, "invalid-token", 401),
            (Error::PermissionDenied { detail: "scope".into() }, "invalid-token", 401),
            (
                Error::MalformedCredentials {
                    provider: "godaddy",
                    expected: "key:secret",
                },
                "invalid-token",
                401,
            ),
            (
                Error::DomainNotInAccount {
                    domain: "example.com".into(),
                },
                "domain-not-in-account",
                403,
            ),
            (Error::RateLimited { retry_after: None }, "rate-limited", 429),
            (Error::Unavailable { detail: "503".into() }, "api-unavailable", 502),
            (Error::Timeout, "api-unavailable", 502),
            (Error::Rejected { detail: "no".into() }, "registrar-error", 500),
            (
                Error::OperationFailed {
                    operation_id: "42".into(),
                    detail: "registry said no".into(),
                },
                "registrar-error",
                500,
            ),
            (
                Error::ReadOnly {
                    reason: "registrar domain".into(),
                },
                "read-only",
                422,
            ),
            (
                Error::Unsupported {
                    operation: "set DS",
                    reason: "panel only".into(),
                },
                "unsupported-operation",
                422,
            ),
            (Error::invalid("empty"), "invalid-request", 422),
            (
                Error::UnknownProvider {
                    name: "route53".into(),
                    supported: "ovh".into(),
                },
                "unsupported-registrar",
                404,
            ),
        ];
        for (error, code, status) in table {
            assert_eq!(error.code(), code, "{error:?}");
            assert_eq!(error.http_status(), status, "{error:?}");
        }
    }

    #[test]
    fn retry_classification() {
        let limited = Error::RateLimited {
            retry_after: Some(Duration::from_secs(30)),
        };
        assert!(limited.is_retryable());
        assert_eq!(limited.retry_after(), Some(Duration::from_secs(30)));
        assert!(Error::Timeout.is_retryable());
        assert!(!Error::InvalidCredentials.is_retryable());
        assert_eq!(Error::Timeout.retry_after(), None);
    }

    #[test]
    fn messages() {
        let limited = Error::RateLimited {
            retry_after: Some(Duration::from_millis(29_100)),
        };
        assert_eq!(limited.to_string(), "rate limited by the provider; retry after 30s");
        assert_eq!(
            Error::DomainNotInAccount {
                domain: "example.com".into(),
            }
            .to_string(),
            "domain example.com is not in this account"
        );
    }

    #[test]
    fn long_text_is_shortened() {
        assert_eq!(shorten(&"x".repeat(1000), 64).chars().count(), 65);
        assert!(shorten(&"x".repeat(1000), 64).ends_with('…'));
        assert_eq!(shorten("ünï", 3), "ünï");
    }

    #[test]
    fn scrubbed_details_do_not_carry_credentials() {
        let key = Secret::new("k3y-value");
        let transport = "error sending request for url (https://api.example/api3.xml?key=k3y-value&command=get_ns)";
        let error = Error::Unavailable {
            detail: key.scrub(transport).into_owned(),
        };
        assert!(!error.to_string().contains(key.expose()));
        assert!(!format!("{error:?}").contains(key.expose()));
    }

    #[test]
    fn is_send_sync_static() {
        fn check<T: Send + Sync + 'static + std::error::Error>() {}
        check::<Error>();
    }
}
