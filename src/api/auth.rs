//! API keys: who may call the HTTP API, and what they may ask for.
//!
//! A key travels as `X-API-Key: <key>` (PowerDNS style) or
//! `Authorization: Bearer <key>`; both are accepted on every route. With
//! no key configured the API still answers reads from loopback, so a fresh
//! installation can be inspected, and refuses every write with a message
//! that says how to configure a key.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use subtle::ConstantTimeEq;

use crate::config::{ConfiguredKey, FAILED_KEYS_PER_MINUTE};

/// One configured API key and what it allows.
#[derive(Clone)]
pub struct ApiKey {
    /// Shown in logs instead of the key.
    pub name: String,
    secret: String,
    /// Whether set-ns may point a domain at name servers other than the
    /// configured pooldns ones.
    pub any_nameservers: bool,
    /// Whether the key may only read.
    pub read_only: bool,
    /// The zones (and zones below them) the key may use; empty: all.
    pub zones: Vec<String>,
    /// Requests a second the key may make; 0: no limit.
    rate: u32,
    /// The second of the key's last request (since the key was made) and
    /// the requests left in it.
    used: Arc<Mutex<(u64, u32)>>,
    made: Instant,
}

impl ApiKey {
    /// A key named `name` with the secret `secret`.
    pub fn new(name: impl Into<String>, secret: impl Into<String>, any_nameservers: bool) -> ApiKey {
        ApiKey {
            name: name.into(),
            secret: secret.into(),
            any_nameservers,
            read_only: false,
            zones: Vec::new(),
            rate: 0,
            used: Arc::new(Mutex::new((0, 0))),
            made: Instant::now(),
        }
    }

    /// The same key, allowed `rate` requests a second (0: no limit).
    pub fn with_rate(mut self, rate: u32) -> ApiKey {
        self.rate = rate;
        self
    }

    /// Takes one request from the key's budget for this second.
    fn take_request(&self) -> bool {
        if self.rate == 0 {
            return true;
        }
        let second = self.made.elapsed().as_secs() + 1;
        let mut used = self.used.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if used.0 != second {
            *used = (second, self.rate);
        }
        if used.1 == 0 {
            return false;
        }
        used.1 -= 1;
        true
    }

    /// The same key, limited to `zones` and the zones below them.
    pub fn for_zones(mut self, zones: Vec<String>) -> ApiKey {
        self.zones = zones;
        self
    }

    /// The same key, allowed to read only.
    pub fn read_only(mut self) -> ApiKey {
        self.read_only = true;
        self
    }
}

impl From<ConfiguredKey> for ApiKey {
    fn from(key: ConfiguredKey) -> ApiKey {
        let api_key = ApiKey::new(key.name, key.secret.expose(), key.any_nameservers)
            .for_zones(key.zones)
            .with_rate(key.requests_per_second);
        if key.read_only {
            api_key.read_only()
        } else {
            api_key
        }
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKey")
            .field("name", &self.name)
            .field("any_nameservers", &self.any_nameservers)
            .field("read_only", &self.read_only)
            .field("zones", &self.zones)
            .field("rate", &self.rate)
            .finish_non_exhaustive()
    }
}

/// Sources whose failures are counted at once: a fixed bound on memory
/// whatever the number of addresses that try.
const MAX_SOURCES: usize = 4096;

/// Wrong keys by source (an IPv4 address, an IPv6 /64) in the current
/// minute.
#[derive(Debug)]
struct Failures {
    /// Wrong keys a source may present in a minute; 0: no limit.
    limit: u32,
    counts: Mutex<HashMap<IpAddr, (u64, u32)>>,
    started: Instant,
}

impl Default for Failures {
    fn default() -> Failures {
        Failures::new(FAILED_KEYS_PER_MINUTE)
    }
}

impl Failures {
    fn new(limit: u32) -> Failures {
        Failures {
            limit,
            counts: Mutex::new(HashMap::new()),
            started: Instant::now(),
        }
    }

    /// The minute now, and the seconds left in it.
    fn minute(&self) -> (u64, u64) {
        let elapsed = self.started.elapsed().as_secs();
        (elapsed / 60, 60 - elapsed % 60)
    }

    /// Seconds until `source` may try again, when it is refused now.
    fn refused(&self, source: IpAddr) -> Option<u64> {
        if self.limit == 0 {
            return None;
        }
        let (minute, left) = self.minute();
        let counts = self.counts.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        counts
            .get(&source)
            .filter(|&&(at, count)| at == minute && count >= self.limit)
            .map(|_| left)
    }

    fn record(&self, source: IpAddr) {
        if self.limit == 0 {
            return;
        }
        let (minute, _) = self.minute();
        let mut counts = self.counts.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if counts.len() >= MAX_SOURCES && !counts.contains_key(&source) {
            counts.retain(|_, (at, _)| *at == minute);
            if counts.len() >= MAX_SOURCES {
                return;
            }
        }
        let entry = counts.entry(source).or_insert((minute, 0));
        if entry.0 != minute {
            *entry = (minute, 0);
        }
        entry.1 += 1;
        if entry.1 == self.limit {
            tracing::warn!(%source, "wrong API keys: the source is refused for the rest of the minute");
        }
    }
}

/// Where a request comes from, for counting its failures: IPv6 clients
/// hold a /64 each.
fn source(parts: &Parts) -> Option<IpAddr> {
    let ConnectInfo(peer) = parts.extensions.get::<ConnectInfo<SocketAddr>>()?;
    Some(match peer.ip() {
        IpAddr::V6(address) => IpAddr::V6((u128::from(address) & !(u128::MAX >> 64)).into()),
        address => address,
    })
}

/// Every configured key.
#[derive(Clone, Debug, Default)]
pub struct ApiKeys {
    keys: Arc<Vec<ApiKey>>,
    failures: Arc<Failures>,
}

impl ApiKeys {
    /// The keys the API accepts; none means loopback reads only.
    pub fn new(keys: Vec<ApiKey>) -> ApiKeys {
        ApiKeys {
            keys: Arc::new(keys),
            failures: Arc::default(),
        }
    }

    /// The same keys, with `limit` wrong keys a minute allowed to one
    /// source (0: no limit).
    pub fn with_failure_limit(self, limit: u32) -> ApiKeys {
        ApiKeys {
            failures: Arc::new(Failures::new(limit)),
            ..self
        }
    }

    /// Whether `headers` carry one of the keys: only then is a request's
    /// body worth reading, since every route that takes one needs a key.
    pub fn accepts(&self, headers: &HeaderMap) -> bool {
        presented_key(headers).is_some_and(|presented| self.find(&presented).is_some())
    }

    /// The key matching `presented`. Every key is compared, each in
    /// constant time over SHA-256 digests, so neither where a difference
    /// lies nor the keys' lengths show in the time taken.
    fn find(&self, presented: &str) -> Option<&ApiKey> {
        let presented = digest(presented);
        let mut found = None;
        for key in self.keys.iter() {
            if bool::from(digest(&key.secret).ct_eq(&presented)) {
                found = Some(key);
            }
        }
        found
    }
}

/// The authenticated caller of a request.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The key's name, or `loopback` for unauthenticated loopback reads.
    pub name: String,
    pub any_nameservers: bool,
    /// Unauthenticated loopback reads and read-only keys.
    pub read_only: bool,
    /// The zones (and zones below them) the caller may use; empty: all.
    pub zones: Vec<String>,
}

impl Caller {
    /// Whether the caller may use `zone` (absolute or not, any case).
    pub fn may_use_zone(&self, zone: &str) -> bool {
        let zone = zone.trim_end_matches('.').to_ascii_lowercase();
        self.zones.is_empty()
            || self.zones.iter().any(|allowed| {
                let allowed = allowed.trim_end_matches('.').to_ascii_lowercase();
                zone == allowed || zone.ends_with(&format!(".{allowed}"))
            })
    }

    /// Refuses a caller that may only read.
    pub fn require_write(&self) -> Result<(), AuthError> {
        if self.read_only {
            Err(AuthError::ReadOnly)
        } else {
            Ok(())
        }
    }
}

/// Why a request was not let in.
#[derive(Debug)]
pub enum AuthError {
    /// No key configured: writes are refused.
    NoKeyConfigured,
    /// No key configured and the read does not come from loopback.
    NotLoopback,
    /// A key is configured and the request carries none, or a wrong one.
    BadKey,
    /// A read-only key on a write route.
    ReadOnly,
    /// The key made more requests this second than it may.
    TooManyRequests,
    /// The source presented too many wrong keys this minute; it may try
    /// again after this many seconds.
    TooManyFailures(u64),
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let (status, error, detail, retry) = match self {
            AuthError::NoKeyConfigured => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "no API key is configured, so the API is read-only: set [api] api_key_file (or POOLDNS_API_KEY) and send it as X-API-Key".into(),
                None,
            ),
            AuthError::NotLoopback => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "no API key is configured, so the API answers loopback clients only".into(),
                None,
            ),
            AuthError::BadKey => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "missing or wrong API key (send X-API-Key: <key> or Authorization: Bearer <key>)".into(),
                None,
            ),
            AuthError::ReadOnly => (
                StatusCode::FORBIDDEN,
                "read-only-key",
                "this API key may only read".into(),
                None,
            ),
            AuthError::TooManyRequests => (
                StatusCode::TOO_MANY_REQUESTS,
                "too-many-requests",
                "this API key made more requests this second than [api] requests_per_second allows; retry in a second".into(),
                Some(1),
            ),
            AuthError::TooManyFailures(retry) => (
                StatusCode::TOO_MANY_REQUESTS,
                "too-many-failures",
                format!("too many wrong API keys from this address this minute ([api] failed_keys_per_minute); retry in {retry} s"),
                Some(retry),
            ),
        };
        let body = Json(serde_json::json!({ "error": error, "detail": detail }));
        match retry {
            Some(seconds) => (status, [(header::RETRY_AFTER, seconds.to_string())], body).into_response(),
            None => (status, body).into_response(),
        }
    }
}

impl<S> FromRequestParts<S> for Caller
where
    ApiKeys: axum::extract::FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Caller, AuthError> {
        let keys = <ApiKeys as axum::extract::FromRef<S>>::from_ref(state);
        let presented = presented_key(&parts.headers);
        if keys.keys.is_empty() {
            let write = !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
            if write {
                return Err(AuthError::NoKeyConfigured);
            }
            let loopback = parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .is_some_and(|ConnectInfo(peer)| peer.ip().is_loopback());
            return if loopback {
                Ok(Caller {
                    name: "loopback".into(),
                    any_nameservers: false,
                    read_only: true,
                    zones: Vec::new(),
                })
            } else {
                Err(AuthError::NotLoopback)
            };
        }
        let source = source(parts);
        if let Some(retry) = source.and_then(|source| keys.failures.refused(source)) {
            return Err(AuthError::TooManyFailures(retry));
        }
        let Some(key) = presented.and_then(|presented| keys.find(&presented)) else {
            if let Some(source) = source {
                keys.failures.record(source);
            }
            return Err(AuthError::BadKey);
        };
        if !key.take_request() {
            return Err(AuthError::TooManyRequests);
        }
        Ok(Caller {
            name: key.name.clone(),
            any_nameservers: key.any_nameservers,
            read_only: key.read_only,
            zones: key.zones.clone(),
        })
    }
}

/// The key a request carries, from `X-API-Key` or a bearer token.
fn presented_key(headers: &HeaderMap) -> Option<String> {
    if let Some(value) = headers.get("x-api-key").and_then(|value| value.to_str().ok()) {
        return Some(value.trim().to_string());
    }
    let authorization = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = authorization.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_string())
}

fn digest(secret: &str) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, secret.as_bytes());
    let mut out = [0; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_keys_exactly() {
        let keys = ApiKeys::new(vec![ApiKey::new("ops", "s3cret", true)]);
        assert!(keys.find("s3cret").is_some());
        assert!(keys.find("s3cre").is_none());
        assert!(keys.find("s3cret ").is_none());
        assert!(!format!("{keys:?}").contains("s3cret"));
    }
}
