//! The HTTP listener: hyper serving the API router, with the limits an
//! exposed server needs. A client gets `HEADER_TIME` to send a request's
//! headers and `BODY_TIME` for its body (slow clients are dropped or told
//! 408, not held), bodies are read whole up to the largest any route takes
//! before a handler runs — and only from a client with an API key, since
//! every route that takes a body needs one — and at most `MAX_CONNECTIONS`
//! are served at once; more wait in the backlog. A client without a key
//! thus never makes the server hold more than its headers. With TLS, the
//! handshake must end within `HEADER_TIME` too.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use super::auth::ApiKeys;

/// Time a client has to send the headers of each request.
const HEADER_TIME: Duration = Duration::from_secs(10);

/// Time a client has to send a request's body.
const BODY_TIME: Duration = Duration::from_secs(10);

/// Largest body read, whatever the route; routes take smaller ones.
const MAX_BODY: usize = super::powerdns::MAX_BODY;

/// Connections served at once.
const MAX_CONNECTIONS: usize = 512;

/// How long requests in progress may take to finish after `shutdown`.
const DRAIN_TIME: Duration = Duration::from_secs(10);

/// Serves `app` on `listener` (over TLS with `tls`) until `shutdown`
/// resolves, then lets the requests in progress finish. Handlers see the
/// peer's address as [`ConnectInfo`].
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: Router,
    keys: ApiKeys,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "HTTP accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let (app, keys) = (app.clone(), keys.clone());
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let app = app.clone();
            let keyed = keys.accepts(request.headers());
            async move {
                let (mut parts, body) = request.into_parts();
                parts.extensions.insert(ConnectInfo::<SocketAddr>(peer));
                if !keyed {
                    // The route refuses the request for want of a key; what
                    // the client sends after its headers is not kept.
                    return app.oneshot(hyper::Request::from_parts(parts, Body::empty())).await;
                }
                let body = match tokio::time::timeout(BODY_TIME, Limited::new(body, MAX_BODY).collect()).await {
                    Ok(Ok(body)) => body.to_bytes(),
                    Ok(Err(error)) if error.is::<LengthLimitError>() => {
                        return Ok(refusal(StatusCode::PAYLOAD_TOO_LARGE, "request body too large"));
                    }
                    Ok(Err(_)) => return Ok(refusal(StatusCode::BAD_REQUEST, "request body not readable")),
                    Err(_) => {
                        return Ok(refusal(
                            StatusCode::REQUEST_TIMEOUT,
                            "request body not received in time",
                        ))
                    }
                };
                app.oneshot(hyper::Request::from_parts(parts, Body::from(body))).await
            }
        });
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new()).header_read_timeout(HEADER_TIME);
        let watcher = graceful.watcher();
        let tls = tls.clone();
        tokio::spawn(async move {
            let served = match tls {
                None => {
                    watcher
                        .watch(http.serve_connection(TokioIo::new(stream), service))
                        .await
                }
                Some(tls) => match tokio::time::timeout(HEADER_TIME, tls.accept(stream)).await {
                    Ok(Ok(stream)) => {
                        watcher
                            .watch(http.serve_connection(TokioIo::new(stream), service))
                            .await
                    }
                    Ok(Err(error)) => {
                        tracing::debug!(%error, %peer, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "TLS handshake not done in time");
                        return;
                    }
                },
            };
            if let Err(error) = served {
                tracing::debug!(%error, %peer, "HTTP connection ended");
            }
            drop(permit);
        });
    }
    if tokio::time::timeout(DRAIN_TIME, graceful.shutdown()).await.is_err() {
        tracing::warn!("HTTP requests still in progress at shutdown were cut");
    }
}

/// An error response in the API's JSON shape.
fn refusal(status: StatusCode, detail: &str) -> Response {
    let error = status
        .canonical_reason()
        .unwrap_or("error")
        .to_lowercase()
        .replace(' ', "-");
    (status, Json(serde_json::json!({ "error": error, "detail": detail }))).into_response()
}
