//! What every registrar client does with a hostile or broken endpoint: a
//! redirect is not followed (it would carry the credentials wherever it
//! points), and a reply is read only up to a cap.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Router;
use registrars::{provider_from_token, DelegationProvider, DomainName};

fn domain() -> DomainName {
    DomainName::new("example.com").expect("valid")
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let hits = Arc::new(AtomicUsize::new(0));
    let elsewhere = {
        let hits = hits.clone();
        testkit::mocks::serve(Router::new().fallback(move || {
            hits.fetch_add(1, Ordering::SeqCst);
            async { "{}" }
        }))
        .await
    };
    let redirecting = testkit::mocks::serve(Router::new().fallback(move || async move {
        let target = format!("http://{elsewhere}/collect");
        (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, target)]).into_response()
    }))
    .await;
    let provider =
        provider_from_token("godaddy", "key:secret", Some(format!("http://{redirecting}"))).expect("adapter");
    let error = provider.read(&domain()).await.expect_err("a redirect is no answer");
    assert_eq!(hits.load(Ordering::SeqCst), 0, "the redirect was followed ({error})");
}

#[tokio::test]
async fn replies_are_read_up_to_a_cap() {
    let huge = testkit::mocks::serve(Router::new().fallback(|| async { "x".repeat(5 << 20) })).await;
    let provider = provider_from_token("godaddy", "key:secret", Some(format!("http://{huge}"))).expect("adapter");
    let error = provider.read(&domain()).await.expect_err("too large a reply");
    assert!(error.to_string().contains("larger than"), "{error}");
}
