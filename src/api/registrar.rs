//! `POST /api/v1/registrar/{name}/validate` and `.../set-ns`: the
//! pool-domain-manager registrar routes, with the same paths, fields,
//! token formats and status codes, plus what PDM lacks: an API key is
//! required, the name servers must be pooldns's own unless the key allows
//! any, a domain whose registrar publishes DS records pooldns cannot
//! satisfy is not flipped (it would turn bogus), and one it can is flipped
//! without a moment of failed validation: both DS sets first, then the
//! name servers, the old DS only once the old servers are out of caches.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use registrars::{
    provider_from_token, AnyProvider, ChangeOutcome, DelegationProvider, DomainName, DsRecord, DsSpec, NameserverName,
    ProviderKind,
};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::Caller;
use super::AppState;
use crate::pool::delegation::ds_specs;

/// `{domain, token}`.
#[derive(Deserialize)]
pub struct ValidateRequest {
    #[serde(default)]
    domain: String,
    #[serde(default)]
    token: String,
}

/// `{domain, token, nameservers}`.
#[derive(Deserialize)]
pub struct SetNsRequest {
    #[serde(default)]
    domain: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    nameservers: Vec<String>,
}

/// An error reply in PDM's shape: `{error, detail, registrar?, domain?}`.
pub struct RouteError {
    status: StatusCode,
    body: Value,
}

impl RouteError {
    fn new(status: StatusCode, error: &str, detail: impl Into<String>) -> RouteError {
        RouteError {
            status,
            body: json!({ "error": error, "detail": detail.into() }),
        }
    }

    /// A provider's error, mapped once onto PDM's codes.
    fn provider(error: registrars::Error, registrar: &str, domain: &str) -> RouteError {
        let status = StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        // The adapters' messages never hold credentials; provider text is
        // still kept out of 500s, as PDM does.
        let detail = if status == StatusCode::INTERNAL_SERVER_ERROR {
            "the registrar rejected the request".to_string()
        } else {
            error.to_string()
        };
        let mut body = json!({ "error": error.code(), "detail": detail, "registrar": registrar, "domain": domain });
        if let registrars::Error::UnknownProvider { .. } = error {
            body["supported"] = json!(supported());
        }
        RouteError { status, body }
    }
}

impl IntoResponse for RouteError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

/// Registrar calls made for API callers that failed, by registrar, in
/// [`ProviderKind::ALL`]'s order.
static FAILED_CALLS: [AtomicU64; ProviderKind::ALL.len()] = [const { AtomicU64::new(0) }; ProviderKind::ALL.len()];

/// Each registrar's failed calls from the registrar routes, for `/metrics`.
pub fn failed_calls() -> impl Iterator<Item = (&'static str, u64)> {
    ProviderKind::ALL
        .iter()
        .zip(&FAILED_CALLS)
        .map(|(kind, count)| (kind.as_str(), count.load(Ordering::Relaxed)))
}

/// A registrar call's error, counted.
fn call_failed(error: registrars::Error, kind: ProviderKind, domain: &str) -> RouteError {
    if let Some(index) = ProviderKind::ALL.iter().position(|known| *known == kind) {
        FAILED_CALLS[index].fetch_add(1, Ordering::Relaxed);
    }
    RouteError::provider(error, kind.as_str(), domain)
}

/// The supported registrar names, sorted.
fn supported() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = ProviderKind::ALL.iter().map(|kind| kind.as_str()).collect();
    names.sort_unstable();
    names
}

/// The adapter for `registrar` with the caller's token, after PDM's checks
/// in PDM's order: registrar, body, fields.
fn adapter(
    state: &AppState,
    registrar: &str,
    domain: &str,
    token: &str,
) -> Result<(ProviderKind, AnyProvider, DomainName), RouteError> {
    let kind: ProviderKind = registrar
        .parse()
        .map_err(|error| RouteError::provider(error, registrar, domain))?;
    if domain.trim().is_empty() {
        return Err(RouteError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "missing-domain",
            "domain is required",
        ));
    }
    if token.is_empty() {
        return Err(RouteError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "missing-token",
            "token is required",
        ));
    }
    let domain_name = DomainName::new(domain).map_err(|error| RouteError::provider(error, kind.as_str(), domain))?;
    let base_url = state
        .registrars
        .get(kind.as_str())
        .and_then(|config| config.base_url.clone());
    let provider = provider_from_token(kind.as_str(), token, base_url)
        .map_err(|error| RouteError::provider(error, kind.as_str(), domain))?;
    Ok((kind, provider, domain_name))
}

/// Rejects a body that is not the expected JSON, as PDM does.
fn body<T>(payload: Result<Json<T>, JsonRejection>) -> Result<T, RouteError> {
    payload.map(|Json(body)| body).map_err(|_| {
        RouteError::new(
            StatusCode::BAD_REQUEST,
            "invalid-body",
            "the body must be a JSON object",
        )
    })
}

/// Checks that the token works and the domain is in its account.
pub async fn validate(
    caller: Caller,
    State(state): State<AppState>,
    Path(registrar): Path<String>,
    payload: Result<Json<ValidateRequest>, JsonRejection>,
) -> Result<Json<Value>, RouteError> {
    let registrar = registrar.trim().to_ascii_lowercase();
    // Registrar first, like PDM: an unknown name is 404 whatever the body.
    let _: ProviderKind = registrar
        .parse()
        .map_err(|error| RouteError::provider(error, &registrar, ""))?;
    let request = body(payload)?;
    let domain = request.domain.trim().to_ascii_lowercase();
    let (kind, provider, domain_name) = adapter(&state, &registrar, &domain, &request.token)?;
    let outcome = provider.read(&domain_name).await;
    tracing::info!(caller = %caller.name, registrar = %kind, %domain, ok = outcome.is_ok(), "registrar validate");
    outcome.map_err(|error| call_failed(error, kind, &domain))?;
    Ok(Json(
        json!({ "valid": true, "registrar": kind.as_str(), "domain": domain }),
    ))
}

/// Points a domain at name servers, keeping DNSSEC intact; each call is
/// audited.
pub async fn set_ns(
    caller: Caller,
    State(state): State<AppState>,
    Path(registrar): Path<String>,
    payload: Result<Json<SetNsRequest>, JsonRejection>,
) -> Result<Json<Value>, RouteError> {
    let subject = match &payload {
        Ok(Json(request)) => request.domain.trim().to_ascii_lowercase(),
        Err(_) => String::new(),
    };
    let result = match caller.require_write() {
        Ok(()) => set_ns_checked(&caller, &state, registrar, payload).await,
        Err(_) => Err(RouteError::new(
            StatusCode::FORBIDDEN,
            "read-only-key",
            "this API key may only read",
        )),
    };
    let (status, outcome) = match &result {
        Ok(_) => (200, "ok".to_string()),
        Err(error) => (
            error.status.as_u16(),
            error.body["error"].as_str().unwrap_or("error").to_string(),
        ),
    };
    if let Err(error) = state
        .store
        .audit(&caller.name, "set-ns", &subject, status, &outcome)
        .await
    {
        tracing::error!(%error, "audit entry not written");
    }
    result
}

async fn set_ns_checked(
    caller: &Caller,
    state: &AppState,
    registrar: String,
    payload: Result<Json<SetNsRequest>, JsonRejection>,
) -> Result<Json<Value>, RouteError> {
    let registrar = registrar.trim().to_ascii_lowercase();
    let _: ProviderKind = registrar
        .parse()
        .map_err(|error| RouteError::provider(error, &registrar, ""))?;
    let request = body(payload)?;
    let domain = request.domain.trim().to_ascii_lowercase();
    if request.nameservers.iter().all(|name| name.trim().is_empty()) {
        return Err(RouteError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "missing-nameservers",
            "nameservers is required",
        ));
    }
    let (kind, provider, domain_name) = adapter(state, &registrar, &domain, &request.token)?;
    let mut wanted: Vec<NameserverName> = Vec::with_capacity(request.nameservers.len());
    for name in &request.nameservers {
        let name = NameserverName::new(name.trim()).map_err(|error| {
            RouteError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-nameservers",
                error.to_string(),
            )
        })?;
        if !wanted.contains(&name) {
            wanted.push(name);
        }
    }
    if !caller.any_nameservers {
        let allowed: Vec<String> = state.nameservers.iter().map(|name| normalize(name)).collect();
        if let Some(other) = wanted.iter().find(|name| !allowed.contains(&normalize(name.as_str()))) {
            let detail = if allowed.is_empty() {
                format!("{other} is not a pooldns name server: no [pool] nameservers are configured, and this API key may not set others")
            } else {
                format!(
                    "{other} is not one of the pooldns name servers ({}); this API key may not set others",
                    allowed.join(", ")
                )
            };
            return Err(RouteError::new(
                StatusCode::FORBIDDEN,
                "nameservers-not-allowed",
                detail,
            ));
        }
    }
    let fail = |error| call_failed(error, kind, &domain);
    // RFC 4035 §5: a DS at the parent that no key of the serving name
    // servers matches makes the domain bogus. Resolvers follow the old
    // servers (signing with the old keys) until the parent's NS TTL has
    // passed, the new ones sign with ours: the parent holds both DS sets
    // over the change (RFC 6781 §4.3.5.1), the old ones go afterwards. A
    // DS pooldns has no keys for refuses the change.
    let current = provider.read(&domain_name).await.map_err(fail)?;
    let theirs: Vec<DsRecord> = current.ds.clone().unwrap_or_default();
    let mut union_published = false;
    let mut retire = None;
    if !theirs.is_empty() {
        let Some(ours) = ds_specs(&state.store, domain_name.as_str())
            .await
            .filter(|ours| !ours.is_empty())
        else {
            tracing::info!(caller = %caller.name, registrar = %kind, %domain, outcome = "ds-conflict", "registrar set-ns");
            return Err(RouteError::new(
                StatusCode::CONFLICT,
                "ds-conflict",
                format!(
                    "{domain} has DS records at {kind}; pointing it at name servers that do not sign it with a matching key would make it fail DNSSEC validation. Secure the zone on pooldns (pooldns zone secure {domain}) or remove the DS records at the registrar first"
                ),
            ));
        };
        let missing: Vec<&DsSpec> = ours.iter().filter(|spec| !theirs.contains(spec.ds())).collect();
        if !missing.is_empty() {
            let mut union: Vec<DsSpec> = theirs.iter().cloned().map(DsSpec::from).collect();
            union.extend(missing.into_iter().cloned());
            let outcome = provider.set_ds(&domain_name, &union).await.map_err(fail)?;
            wait_until_applied(&provider, &domain_name, outcome)
                .await
                .map_err(fail)?;
            union_published = true;
        }
        if theirs.iter().any(|ds| !ours.iter().any(|spec| spec.ds() == ds)) {
            retire = Some(ours);
        }
    }
    let changed = async {
        let outcome = provider.set_nameservers(&domain_name, &wanted).await?;
        wait_until_applied(&provider, &domain_name, outcome).await
    };
    if let Err(error) = changed.await {
        if union_published {
            // The old servers still serve: put back the DS set they match.
            let restore: Vec<DsSpec> = theirs.iter().cloned().map(DsSpec::from).collect();
            let restored = async {
                let outcome = provider.set_ds(&domain_name, &restore).await?;
                wait_until_applied(&provider, &domain_name, outcome).await
            };
            if let Err(restore_error) = restored.await {
                tracing::error!(registrar = %kind, %domain, error = %restore_error, "the registrar's DS set could not be restored after a failed name server change; it holds both DS sets");
            }
        }
        tracing::info!(caller = %caller.name, registrar = %kind, %domain, outcome = "failed", "registrar set-ns");
        return Err(fail(error));
    }
    let nameservers: Vec<String> = match provider.read(&domain_name).await {
        Ok(delegation) => delegation
            .nameservers
            .iter()
            .map(|name| name.as_str().to_string())
            .collect(),
        // A failed read-back is not a failed change (PDM does the same).
        Err(_) => wanted.iter().map(|name| name.as_str().to_string()).collect(),
    };
    tracing::info!(caller = %caller.name, registrar = %kind, %domain, outcome = "applied", "registrar set-ns");
    if let Some(ours) = retire {
        retire_old_ds_later(provider, domain_name, wanted, ours, state.ds_retire_delay);
    }
    Ok(Json(json!({
        "success": true,
        "registrar": kind.as_str(),
        "domain": domain,
        "nameservers": nameservers,
        "propagation": kind.propagation_hint(),
    })))
}

/// Once resolvers can no longer follow the old name servers (after
/// `delay`, the parent's NS TTL), leaves only our DS records at the
/// registrar, if the delegation is still the one set here. A restart
/// before then leaves both DS sets, which validates all the same.
fn retire_old_ds_later(
    provider: AnyProvider,
    domain: DomainName,
    nameservers: Vec<NameserverName>,
    ours: Vec<DsSpec>,
    delay: std::time::Duration,
) {
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let retired = async {
            let now = provider.read(&domain).await?;
            let mut current = now.nameservers.clone();
            let mut set = nameservers.clone();
            current.sort();
            set.sort();
            if current != set {
                tracing::info!(%domain, "the delegation changed since set-ns; its DS records are left as they are");
                return Ok(());
            }
            let outcome = provider.set_ds(&domain, &ours).await?;
            wait_until_applied(&provider, &domain, outcome).await?;
            tracing::info!(%domain, "the old DS records were removed at the registrar");
            Ok::<(), registrars::Error>(())
        };
        if let Err(error) = retired.await {
            tracing::warn!(%domain, %error, "the old DS records could not be removed at the registrar; both DS sets stay");
        }
    });
}

/// Polls an asynchronous change until the provider reports it done.
async fn wait_until_applied(
    provider: &AnyProvider,
    domain: &DomainName,
    outcome: ChangeOutcome,
) -> Result<(), registrars::Error> {
    let ChangeOutcome::Pending { operation_id } = outcome else {
        return Ok(());
    };
    for _ in 0..30 {
        match provider.poll(domain, &operation_id).await? {
            ChangeOutcome::Pending { .. } => tokio::time::sleep(std::time::Duration::from_secs(1)).await,
            _ => return Ok(()),
        }
    }
    Err(registrars::Error::Timeout)
}

/// A host name without case or trailing dot.
fn normalize(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}
