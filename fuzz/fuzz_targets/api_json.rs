//! The HTTP API's JSON bodies: a random body to each route that takes one
//! (PowerDNS zones, RRset PATCHes, metadata, keys, TSIG keys, the pool
//! routes) through the whole router onto a real SQLite store. No panic,
//! and bad input is the client's error (4xx), never the server's (5xx).
//!
//! Input: one byte choosing the route, then the body.

#![no_main]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::Router;
use libfuzzer_sys::fuzz_target;
use pooldns::api::auth::{ApiKey, ApiKeys};
use pooldns::api::AppState;
use pooldns_fuzz::StoreFixture;
use tower::ServiceExt;

const KEY: &str = "fuzz-api-key";
const ZONE: &str = "/api/v1/servers/localhost/zones/example.test.";

/// The routes that read a body: method and path.
const ROUTES: &[(&str, &str)] = &[
    ("PATCH", ZONE),
    ("POST", "/api/v1/servers/localhost/zones"),
    ("PUT", ZONE),
    ("POST", "/api/v1/servers/localhost/zones/example.test./metadata"),
    (
        "PUT",
        "/api/v1/servers/localhost/zones/example.test./metadata/ALSO-NOTIFY",
    ),
    ("POST", "/api/v1/servers/localhost/zones/example.test./cryptokeys"),
    ("POST", "/api/v1/pool/pool.example.test/reserve"),
    ("POST", "/api/v1/pool/pool.example.test/commit"),
    ("POST", "/api/v1/pool/pool.example.test/renew"),
];

static FIXTURE: LazyLock<(StoreFixture, Router)> = LazyLock::new(|| {
    let fixture = StoreFixture::new();
    // A zone to change, and the parent of the pool's allocations.
    for name in ["example.test.", "pool.example.test."] {
        let text = "$TTL 300\n@ SOA ns1.example.test. hostmaster 1 7200 3600 1209600 300\n@ NS ns1.example.test.\n";
        fixture.create(name, StoreFixture::zone(name, text));
    }
    let store = fixture.store.clone();
    let router = fixture.runtime.block_on(async {
        let mut config = pooldns::config::Config::default();
        config.pool.domains = vec!["pool.example.test".into()];
        config.pool.nameservers = vec!["ns1.example.test.".into()];
        let pools = pooldns::pool::Pools::new(
            store.clone(),
            pooldns::pool::Settings::from_config(&config).expect("pool settings"),
            None,
        );
        let health = pooldns::health::HealthChecker::new(None, Duration::from_secs(5))
            .await
            .expect("health checker");
        pooldns::api::router(AppState {
            store: store.clone(),
            catalog: Arc::new(arc_swap::ArcSwap::from_pointee(pooldns::catalog::Catalog::new())),
            metrics: pooldns::metrics::Metrics::new(),
            status: Arc::new(pooldns::loader::LoadStatus::default()),
            rolls: Arc::new(pooldns::roller::RollStatus::default()),
            keys: ApiKeys::new(vec![ApiKey::new("fuzz", KEY, true)]),
            nameservers: Arc::new(vec!["ns1.example.test.".into()]),
            ds_retire_delay: Duration::from_secs(172_800),
            registrars: Arc::new(BTreeMap::new()),
            health,
            pools,
            lua_enabled: true,
            kek: None,
            aliases: None,
            propagation_delay: 300,
            keyring: Arc::new(pooldns::update::Keyring::new(store, Vec::new(), None)),
            notify: None,
        })
    });
    (fixture, router)
});

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let (method, path) = ROUTES[usize::from(pick) % ROUTES.len()];
    let (fixture, router) = &*FIXTURE;
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("X-API-Key", KEY)
        .header("Content-Type", "application/json")
        .body(Body::from(body.to_vec()))
        .expect("request");
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
    let response = fixture
        .runtime
        .block_on(router.clone().oneshot(request))
        .expect("infallible");
    let status = response.status();
    if status.is_server_error() {
        let body = fixture
            .runtime
            .block_on(axum::body::to_bytes(response.into_body(), 1 << 20))
            .unwrap_or_default();
        panic!(
            "{method} {path} answered {status} to {:?}: {}",
            String::from_utf8_lossy(data.get(1..).unwrap_or_default()),
            String::from_utf8_lossy(&body)
        );
    }
});
