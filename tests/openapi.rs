//! `/api/v1/openapi.json` against the server that serves it: the routes
//! the router mounts and the document's operations are the same set, every
//! documented operation answers with a documented status, and schemathesis
//! (PyPI) finds no 5xx and no answer that contradicts the document. The
//! registrar routes talk to the local mocks, never to a real registrar.

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::Value;
use testkit::mocks::{cloudflare::CloudflareMock, dynadot::DynadotMock, godaddy::GoDaddyMock};
use testkit::mocks::{namecheap::NamecheapMock, ovh::OvhMock};
use testkit::pool::{PoolOptions, PoolServer, OPERATOR_KEY};

/// (method, path) of every `.route(...)` in the router's source.
fn mounted_routes() -> BTreeSet<(String, String)> {
    let source = include_str!("../src/api/mod.rs");
    let mut routes = BTreeSet::new();
    for (start, _) in source.match_indices(".route(") {
        // The call's text, up to its closing parenthesis.
        let mut depth = 0;
        let mut end = start;
        for (offset, c) in source[start..].char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        end = start + offset;
                        break;
                    }
                }
                _ => {}
            }
        }
        let call = &source[start..end];
        let path = call.split('"').nth(1).expect("path").to_string();
        let handlers = call.split_once(',').map_or("", |(_, rest)| rest);
        for method in ["get", "post", "put", "patch", "delete"] {
            if handlers.contains(&format!("{method}(")) {
                routes.insert((method.to_string(), path.clone()));
            }
        }
    }
    routes
}

fn documented(document: &Value) -> BTreeSet<(String, String)> {
    let mut operations = BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            operations.insert((method.clone(), path.clone()));
        }
    }
    operations
}

async fn start_server() -> PoolServer {
    let cloudflare = CloudflareMock::start().await;
    let dynadot = DynadotMock::start().await;
    let godaddy = GoDaddyMock::start().await;
    let namecheap = NamecheapMock::start().await;
    let ovh = OvhMock::start().await;
    let mut extra = String::new();
    for (name, url) in [
        ("cloudflare", &cloudflare.base_url),
        ("dynadot", &dynadot.base_url),
        ("godaddy", &godaddy.base_url),
        ("namecheap", &namecheap.base_url),
        ("ovh", &ovh.base_url),
    ] {
        extra.push_str(&format!("[registrars.{name}]\nbase_url = \"{url}\"\n"));
    }
    // The mocks live as long as the test's runtime.
    std::mem::forget((cloudflare, dynadot, godaddy, namecheap, ovh));
    tokio::task::spawn_blocking(move || {
        PoolServer::start(
            "openapi",
            PoolOptions {
                serve_parent: true,
                // Schemathesis tries wrong keys by the hundred and wants
                // 401 for each; the limit has its own test.
                api: "failed_keys_per_minute = 0\n".into(),
                extra,
                ..PoolOptions::default()
            },
        )
    })
    .await
    .expect("server")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_document_describes_every_route_and_the_server_keeps_to_it() {
    let pools = start_server().await;
    tokio::task::spawn_blocking(move || {
        let (status, document) = pools.call("GET", "/api/v1/openapi.json", None, None);
        assert_eq!(status, 200);
        assert_eq!(document["openapi"], "3.0.3");
        assert_eq!(
            document["components"]["parameters"]["PoolDomain"]["schema"]["enum"],
            serde_json::json!([pools.pool]),
            "the document names this server's pool domains"
        );

        // The router and the document list the same operations.
        let mounted = mounted_routes();
        assert!(mounted.len() >= 15, "{mounted:?}");
        assert_eq!(mounted, documented(&document));

        // Each operation answers with one of its documented statuses, and a
        // method its path does not document is 405.
        for (method, path) in documented(&document) {
            let concrete = path
                .replace("{domain}", &pools.pool)
                .replace("{registrar}", "godaddy")
                .replace("{server}", "localhost")
                .replace("{zone}", &format!("{}.", pools.pool));
            let (status, body) = pools.call(
                &method.to_ascii_uppercase(),
                &concrete,
                Some(OPERATOR_KEY),
                Some(&serde_json::json!({})),
            );
            let responses = &document["paths"][&path][&method]["responses"];
            assert!(
                responses.get(status.to_string()).is_some(),
                "{method} {path} answered {status} ({body}), documented: {responses}"
            );
            let item = document["paths"][&path].as_object().expect("path item");
            if let Some(other) = ["patch", "put", "post", "delete", "get"]
                .into_iter()
                .find(|method| !item.contains_key(*method))
            {
                let (status, _) = pools.call(&other.to_ascii_uppercase(), &concrete, Some(OPERATOR_KEY), None);
                assert_eq!(status, 405, "{other} {path}");
            }
        }

        // schemathesis: no 5xx, nothing that contradicts the document.
        let schemathesis = testkit::require("schemathesis", "(none: PyPI schemathesis, which .ci/run installs)");
        let url = format!("http://{}/api/v1/openapi.json", pools.server.api);
        let output = Command::new(schemathesis)
            .args(["run", &url, "-H", &format!("X-API-Key: {OPERATOR_KEY}")])
            .args([
                "--checks",
                "not_a_server_error,status_code_conformance,content_type_conformance,\
                 response_schema_conformance,response_headers_conformance,negative_data_rejection,\
                 ignored_auth,unsupported_method",
                "--max-examples",
                "40",
                "--seed",
                "7",
                "--no-color",
            ])
            .output()
            .expect("schemathesis runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(output.status.success(), "schemathesis found problems:\n{text}");
        assert!(
            text.contains("Fuzzing") && !text.contains("Tested: 0"),
            "operations were tried:\n{text}"
        );
    })
    .await
    .expect("checks");
}
