//! The HTTP plumbing shared by the adapters: client-side rate limits, retries with backoff,
//! and turning transport failures into [`Error`]s without leaking credentials.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use reqwest::header::HeaderMap;
use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;

use crate::credentials::{ProviderConfig, RateLimit};
use crate::error::{shorten, Error, Result};
use crate::provider::ProviderKind;
use crate::retry::Backoff;
use crate::secret::Secret;

/// The token-bucket state of a [`Limiter`].
#[derive(Debug)]
struct Bucket {
    /// Requests that may be sent now (fractional while refilling).
    tokens: f64,
    /// When `tokens` was last brought up to date.
    updated: Instant,
}

/// Enforces one [`RateLimit`]; shared by every adapter built for the same account.
#[derive(Debug)]
pub(crate) struct Limiter {
    /// The budget.
    limit: RateLimit,
    /// The token bucket.
    bucket: tokio::sync::Mutex<Bucket>,
    /// Permits for requests in flight.
    in_flight: Semaphore,
}

/// Key of the process-wide limiter registry: provider, base URL and credential fingerprint.
type LimiterKey = (ProviderKind, String, [u8; 32]);

impl Limiter {
    /// Creates a limiter with a full bucket.
    pub(crate) fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            bucket: tokio::sync::Mutex::new(Bucket {
                tokens: f64::from(limit.requests.max(1)),
                updated: Instant::now(),
            }),
            in_flight: Semaphore::new(limit.max_in_flight.max(1)),
        }
    }

    /// Returns the limiter for one account at one API, creating it on first use.
    ///
    /// Rate limits are per account at the provider, so adapters built per call from the
    /// same token must share one budget; the registry keys on a fingerprint, never on the
    /// credentials themselves, and forgets limiters nobody holds any more.
    fn shared(key: LimiterKey, limit: RateLimit) -> Arc<Self> {
        static REGISTRY: OnceLock<Mutex<HashMap<LimiterKey, Weak<Limiter>>>> = OnceLock::new();
        let registry = REGISTRY.get_or_init(Default::default);
        let mut map = registry.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(existing) = map.get(&key).and_then(Weak::upgrade) {
            return existing;
        }
        map.retain(|_, weak| weak.strong_count() > 0);
        let limiter = Arc::new(Self::new(limit));
        map.insert(key, Arc::downgrade(&limiter));
        limiter
    }

    /// Waits for a slot and a token; the slot is held until the permit is dropped.
    pub(crate) async fn acquire(&self) -> SemaphorePermit<'_> {
        // The semaphore is never closed, so acquiring only fails in theory; fall back to
        // proceeding without a permit-guard would break the in-flight cap, so wait forever.
        let permit = loop {
            match self.in_flight.acquire().await {
                Ok(permit) => break permit,
                Err(_) => tokio::time::sleep(Duration::from_secs(1)).await,
            }
        };
        let capacity = f64::from(self.limit.requests.max(1));
        let rate = capacity / self.limit.per.as_secs_f64().max(1e-3);
        loop {
            let wait = {
                let mut bucket = self.bucket.lock().await;
                let now = Instant::now();
                let elapsed = now.duration_since(bucket.updated).as_secs_f64();
                bucket.tokens = (bucket.tokens + elapsed * rate).min(capacity);
                bucket.updated = now;
                if bucket.tokens >= 1.0 {
                    bucket.tokens -= 1.0;
                    return permit;
                }
                Duration::from_secs_f64((1.0 - bucket.tokens) / rate)
            };
            tracing::debug!(
                wait_ms = wait.as_millis() as u64,
                "client-side rate limit reached; waiting"
            );
            tokio::time::sleep(wait).await;
        }
    }
}

/// Whether a request may be sent again after it failed.
///
/// A rate-limit refusal means the request was not processed, so it is always retried. A
/// write that timed out is never repeated here: it may have been applied, and the caller's
/// next read-compare-write call finds out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Retry {
    /// Reads: retry on rate limits, server errors and timeouts.
    Read,
    /// Full replacements (the same request twice leaves the same state): retry on rate
    /// limits and server errors.
    Replace,
    /// Creations (records, tasks, actions, relative updates): retry on rate limits only.
    Create,
}

impl Retry {
    /// Returns `true` when `error` may be retried under this policy.
    fn allows(self, error: &Error) -> bool {
        match error {
            Error::RateLimited { .. } => true,
            Error::Unavailable { .. } => self != Self::Create,
            Error::Timeout => self == Self::Read,
            _ => false,
        }
    }
}

/// A provider's answer, read in full.
#[derive(Debug)]
pub(crate) struct Reply {
    /// The HTTP status code.
    pub status: u16,
    /// The response headers.
    pub headers: HeaderMap,
    /// The response body.
    pub body: Vec<u8>,
}

impl Reply {
    /// Returns `true` for a 2xx status.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// Returns the body as text, replacing invalid UTF-8.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Returns the `Retry-After` header in seconds, when present and numeric.
    pub fn retry_after(&self) -> Option<Duration> {
        self.headers
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<f64>().ok())
            .filter(|seconds| seconds.is_finite() && *seconds >= 0.0)
            .map(|seconds| Duration::from_secs_f64(seconds.min(86_400.0)))
    }
}

/// The HTTP client of one adapter: base URL, credentials to scrub, limits and retries.
#[derive(Debug)]
pub(crate) struct Http {
    /// The provider, for logs.
    kind: ProviderKind,
    /// The API base URL without a trailing slash.
    base: String,
    /// The pooled client.
    client: reqwest::Client,
    /// The retry policy.
    backoff: Backoff,
    /// The account's shared budget.
    limiter: Arc<Limiter>,
    /// Every credential part, removed from any text that ends up in an error or a log.
    secrets: Vec<Secret>,
}

/// The default request timeout.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The largest reply read from a registrar; their replies are a few kB.
const MAX_REPLY: usize = 4 << 20;

impl Http {
    /// Builds the client for `config`, with `default_base` when no URL is configured and
    /// `aliases` mapping short names (such as `"sandbox"`) to URLs.
    pub(crate) fn new(
        kind: ProviderKind,
        config: &ProviderConfig,
        default_base: &str,
        aliases: &[(&str, &str)],
    ) -> Result<Self> {
        let configured = config.base_url.as_deref().map(str::trim).filter(|url| !url.is_empty());
        let base = match configured {
            None => default_base.to_owned(),
            Some(name) => match aliases.iter().find(|(alias, _)| alias.eq_ignore_ascii_case(name)) {
                Some((_, url)) => (*url).to_owned(),
                None => name.to_owned(),
            },
        };
        let parsed = reqwest::Url::parse(&base)
            .map_err(|_| Error::invalid(format!("{kind} base URL {:?} is not a URL", shorten(&base, 100))))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.query().is_some() {
            return Err(Error::invalid(format!(
                "{kind} base URL {:?} must be http(s) without a query",
                shorten(&base, 100)
            )));
        }
        let client = reqwest::Client::builder()
            .timeout(config.timeout.unwrap_or(DEFAULT_TIMEOUT))
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("pooldns-registrars/", env!("CARGO_PKG_VERSION")))
            // A redirect would carry the credentials to wherever it points.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| Error::Unavailable {
                detail: format!("cannot build the HTTP client: {}", error.without_url()),
            })?;
        let limit = config.rate_limit.unwrap_or_else(|| RateLimit::for_provider(kind));
        let base = base.trim_end_matches('/').to_owned();
        let limiter = Limiter::shared((kind, base.clone(), config.credentials.fingerprint()), limit);
        Ok(Self {
            kind,
            base,
            client,
            backoff: config.backoff.unwrap_or_default(),
            limiter,
            secrets: config.credentials.secrets(),
        })
    }

    /// Returns the base URL, without a trailing slash.
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// Removes every credential from `text` and shortens it for an error message.
    pub(crate) fn scrub(&self, text: &str) -> String {
        let mut clean = text.to_owned();
        for secret in &self.secrets {
            clean = secret.scrub(&clean).into_owned();
        }
        shorten(clean.trim(), 300)
    }

    /// Sends a request, retrying as `retry` allows, and returns the reply once `check`
    /// accepts it.
    ///
    /// `build` is called for every attempt (so signatures and timestamps are fresh).
    /// `check` turns a reply into the provider's error; retryable errors
    /// ([`Error::is_retryable`]) are retried with [`Backoff`], honouring the provider's
    /// `Retry-After`. `label` names the call in logs, for example `"GET /zones"`; it must
    /// not contain credentials (so never a full URL with query parameters).
    pub(crate) async fn send(
        &self,
        label: &str,
        retry: Retry,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
        check: impl Fn(&Reply) -> Result<()>,
    ) -> Result<Reply> {
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let outcome = {
                let _permit = self.limiter.acquire().await;
                let started = Instant::now();
                let outcome = self.attempt(build(&self.client), &check).await;
                let status = outcome.as_ref().map(|reply| reply.status).ok();
                tracing::debug!(
                    provider = %self.kind,
                    call = label,
                    attempt,
                    status,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "provider request"
                );
                outcome
            };
            let error = match outcome {
                Ok(reply) => return Ok(reply),
                Err(error) => error,
            };
            let delay = if retry.allows(&error) {
                self.backoff.next_delay(attempt, error.retry_after())
            } else {
                None
            };
            match delay {
                Some(delay) => {
                    tracing::warn!(
                        provider = %self.kind,
                        call = label,
                        attempt,
                        delay_ms = delay.as_millis() as u64,
                        error = %error,
                        "provider request failed; retrying"
                    );
                    tokio::time::sleep(delay).await;
                }
                None => {
                    tracing::warn!(provider = %self.kind, call = label, attempt, error = %error, "provider request failed");
                    return Err(error);
                }
            }
        }
    }

    /// Sends one attempt and reads the whole reply.
    async fn attempt(&self, request: reqwest::RequestBuilder, check: &impl Fn(&Reply) -> Result<()>) -> Result<Reply> {
        let response = request.send().await.map_err(|error| self.transport_error(error))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = self.read_body(response).await?;
        let reply = Reply { status, headers, body };
        check(&reply)?;
        Ok(reply)
    }

    /// Reads a reply body of at most [`MAX_REPLY`] bytes.
    async fn read_body(&self, mut response: reqwest::Response) -> Result<Vec<u8>> {
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|error| self.transport_error(error))? {
            if body.len() + chunk.len() > MAX_REPLY {
                return Err(Error::Unavailable {
                    detail: format!("{} sent a reply larger than {MAX_REPLY} bytes", self.kind),
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// Maps a transport failure to [`Error::Timeout`] or [`Error::Unavailable`], with the
    /// URL (which may carry a key in its query) and every credential removed.
    pub(crate) fn transport_error(&self, error: reqwest::Error) -> Error {
        if error.is_timeout() {
            return Error::Timeout;
        }
        let error = error.without_url();
        let mut text = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        Error::Unavailable {
            detail: self.scrub(&text),
        }
    }

    /// Maps the generic HTTP statuses every provider shares: 429 to [`Error::RateLimited`]
    /// and 5xx to [`Error::Unavailable`]. Returns `None` for other statuses.
    pub(crate) fn common_status_error(&self, reply: &Reply) -> Option<Error> {
        match reply.status {
            429 => Some(Error::RateLimited {
                retry_after: reply.retry_after(),
            }),
            500..=599 => Some(Error::Unavailable {
                detail: format!("HTTP {}: {}", reply.status, self.scrub(&reply.text())),
            }),
            _ => None,
        }
    }

    /// Builds [`Error::Rejected`] from provider text, scrubbed.
    pub(crate) fn rejected(&self, text: &str) -> Error {
        Error::Rejected {
            detail: self.scrub(text),
        }
    }

    /// Builds [`Error::Rejected`] for a reply the adapter could not understand.
    pub(crate) fn unexpected(&self, what: &str, reply: &Reply) -> Error {
        Error::Rejected {
            detail: format!(
                "unexpected {what} answer (HTTP {}): {}",
                reply.status,
                self.scrub(&shorten(&reply.text(), 200))
            ),
        }
    }

    /// Decodes a JSON body.
    pub(crate) fn json<T: serde::de::DeserializeOwned>(&self, what: &str, reply: &Reply) -> Result<T> {
        serde_json::from_slice(&reply.body).map_err(|_| self.unexpected(what, reply))
    }
}

/// Returns a random version-4 UUID in text form, for request ids.
pub(crate) fn request_id() -> String {
    use crate::retry::{RandomSource, SplitMix64};
    let mut random = SplitMix64::from_entropy();
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&random.next_u64().to_be_bytes());
    bytes[8..].copy_from_slice(&random.next_u64().to_be_bytes());
    bytes[6] = (bytes[6] & 0x0F) | 0x40;
    bytes[8] = (bytes[8] & 0x3F) | 0x80;
    let hex = data_encoding::HEXLOWER.encode(&bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn bucket_spaces_requests_after_a_burst() {
        let limiter = Limiter::new(RateLimit {
            requests: 2,
            per: Duration::from_secs(10),
            max_in_flight: 4,
        });
        let start = Instant::now();
        drop(limiter.acquire().await);
        drop(limiter.acquire().await);
        assert!(start.elapsed() < Duration::from_millis(1), "burst passes at once");
        drop(limiter.acquire().await);
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_secs(5) && waited < Duration::from_secs(6),
            "{waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn in_flight_cap_serialises_requests() {
        let limiter = Arc::new(Limiter::new(RateLimit {
            requests: 100,
            per: Duration::from_secs(1),
            max_in_flight: 1,
        }));
        let first = limiter.acquire().await;
        let waiter = {
            let limiter = limiter.clone();
            tokio::spawn(async move {
                let _permit = limiter.acquire().await;
                Instant::now()
            })
        };
        tokio::time::sleep(Duration::from_secs(2)).await;
        let released = Instant::now();
        drop(first);
        let acquired = waiter.await.expect("task ran");
        assert!(acquired >= released);
    }

    #[test]
    fn limiters_are_shared_per_account_and_api() {
        let limit = RateLimit::for_provider(ProviderKind::Dynadot);
        let key = |base: &str, id: u8| (ProviderKind::Dynadot, base.to_owned(), [id; 32]);
        let one = Limiter::shared(key("http://a", 1), limit);
        let again = Limiter::shared(key("http://a", 1), limit);
        let other_account = Limiter::shared(key("http://a", 2), limit);
        let other_api = Limiter::shared(key("http://b", 1), limit);
        assert!(Arc::ptr_eq(&one, &again));
        assert!(!Arc::ptr_eq(&one, &other_account));
        assert!(!Arc::ptr_eq(&one, &other_api));
    }

    #[test]
    fn request_ids_are_uuid_v4() {
        let id = request_id();
        assert_eq!(id.len(), 36);
        assert_eq!(id.as_bytes()[14], b'4');
        assert_ne!(id, request_id());
    }
}
