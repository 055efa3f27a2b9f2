//! The operator page at `/ui`: a read-only view of the server drawn in the
//! browser from `/api/v1/overview`. Its three files are compiled into the
//! binary and need nothing from elsewhere; they carry no data, so they are
//! served without a key — the page asks for one when the API wants it.

use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

/// Only this server's own files, no inline code, no framing.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
     img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, content_type),
            (CONTENT_SECURITY_POLICY, POLICY),
            (X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
}

/// The page's routes.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(
            "/ui",
            get(|| async { asset("text/html; charset=utf-8", include_str!("index.html")) }),
        )
        .route(
            "/ui/ui.js",
            get(|| async { asset("text/javascript; charset=utf-8", include_str!("ui.js")) }),
        )
        .route(
            "/ui/ui.css",
            get(|| async { asset("text/css; charset=utf-8", include_str!("ui.css")) }),
        )
}
