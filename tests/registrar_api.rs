//! The PDM-compatible registrar routes of a running `pooldns serve`,
//! driven over HTTP against the local GoDaddy mock: authentication, the
//! name-server policy, the DS safety check, and PDM's error codes, with the
//! mock's record of mutating requests proving what did and did not change.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use mocks::godaddy::{GoDaddyMock, CUSTOMER, KEY, SECRET};
use registrars::{provider_from_token, DelegationProvider, Dnskey, DomainName, DsSpec};
use serde_json::{json, Value};
use testkit::mocks;
use testkit::{Pooldns, PooldnsOptions};

const OPERATOR_KEY: &str = "operator-key-9f8e7d";
const CLIENT_KEY: &str = "catalyst-key-1a2b3c";
const READER_KEY: &str = "reader-key-4d5e6f";

/// POSTs JSON with an optional API key; returns (status, body).
fn post(api: SocketAddr, path: &str, key: Option<&str>, body: &str) -> (u16, Value) {
    let mut stream = TcpStream::connect(api).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
    let key_header = key.map_or(String::new(), |key| format!("X-API-Key: {key}\r\n"));
    write!(
        stream,
        "POST {path} HTTP/1.0\r\nHost: localhost\r\nContent-Type: application/json\r\n{key_header}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// A pooldns whose registrar adapters talk to `mock`.
fn start(mock: &GoDaddyMock, zones: &std::path::Path) -> Pooldns {
    let mut options = PooldnsOptions::new(zones);
    options.extra_config = format!(
        "\n[[api.keys]]\nname = \"operator\"\nkey = \"{OPERATOR_KEY}\"\nany_nameservers = true\n\
         [[api.keys]]\nname = \"catalyst\"\nkey = \"{CLIENT_KEY}\"\n\
         [[api.keys]]\nname = \"reader\"\nkey = \"{READER_KEY}\"\nread_only = true\n\
         [pool]\nnameservers = [\"ns1.pooldns.test\", \"ns2.pooldns.test.\"]\nds_retire_delay = 3\n\
         [registrars.godaddy]\nbase_url = \"{}\"\n",
        mock.base_url
    );
    Pooldns::start_with(options)
}

#[tokio::test(flavor = "multi_thread")]
async fn registrar_routes_follow_pdm_and_refuse_what_would_break() {
    let mock = GoDaddyMock::start().await;
    // GoDaddy finishes v2 actions on its own schedule; here, promptly.
    let finisher = {
        let mock = mock.clone();
        tokio::spawn(async move {
            loop {
                mock.complete_actions();
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let zones = tempfile::tempdir().expect("temp dir");
    let server = tokio::task::spawn_blocking({
        let mock = mock.clone();
        let zones = zones.path().to_path_buf();
        move || start(&mock, &zones)
    })
    .await
    .expect("server started");
    let api = server.api;
    let token = format!("{KEY}:{SECRET}:{CUSTOMER}");
    let call = move |path: &'static str, key: Option<&'static str>, body: Value| {
        tokio::task::spawn_blocking(move || post(api, path, key, &body.to_string()))
    };
    let validate = "/api/v1/registrar/godaddy/validate";
    let set_ns = "/api/v1/registrar/godaddy/set-ns";

    // Authentication first: no key, a wrong key.
    let (status, body) = call(validate, None, json!({"domain": "example.com", "token": token}))
        .await
        .expect("call");
    assert_eq!((status, body["error"].as_str()), (401, Some("unauthorized")), "{body}");
    let (status, _) = call(validate, Some("nope"), json!({"domain": "example.com", "token": token}))
        .await
        .expect("call");
    assert_eq!(status, 401);

    // PDM's validate contract.
    let (status, body) = call(
        validate,
        Some(CLIENT_KEY),
        json!({"domain": "Example.COM", "token": token}),
    )
    .await
    .expect("call");
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"valid": true, "registrar": "godaddy", "domain": "example.com"})
    );
    let (status, body) = call(
        validate,
        Some(CLIENT_KEY),
        json!({"domain": "example.com", "token": "wrong:creds"}),
    )
    .await
    .expect("call");
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid-token")), "{body}");
    assert!(!body.to_string().contains("wrong:creds"), "token echoed: {body}");
    let (status, body) = call(
        validate,
        Some(CLIENT_KEY),
        json!({"domain": "not-mine.com", "token": token}),
    )
    .await
    .expect("call");
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("domain-not-in-account")),
        "{body}"
    );
    let (status, body) = call("/api/v1/registrar/acme/validate", Some(CLIENT_KEY), json!({}))
        .await
        .expect("call");
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("unsupported-registrar")),
        "{body}"
    );
    assert_eq!(
        body["supported"],
        json!(["cloudflare", "dynadot", "godaddy", "namecheap", "ovh"])
    );
    // The two calls GoDaddy refused are counted; the unknown registrar was
    // never called.
    let metrics = server.http_get("/metrics").body;
    assert!(
        metrics.contains("pooldns_registrar_call_errors_total{registrar=\"godaddy\"} 2\n"),
        "{metrics}"
    );
    let (status, body) = call(validate, Some(CLIENT_KEY), json!({"token": token}))
        .await
        .expect("call");
    assert_eq!(
        (status, body["error"].as_str()),
        (422, Some("missing-domain")),
        "{body}"
    );
    let (status, body) = tokio::task::spawn_blocking(move || post(api, validate, Some(CLIENT_KEY), "{not json"))
        .await
        .expect("call");
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid-body")), "{body}");

    // set-ns: only pooldns's name servers for a key that may not set others.
    let (status, body) = call(
        set_ns,
        Some(CLIENT_KEY),
        json!({"domain": "example.com", "token": token, "nameservers": ["ns1.elsewhere.net", "ns2.elsewhere.net"]}),
    )
    .await
    .expect("call");
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("nameservers-not-allowed")),
        "{body}"
    );
    // A read-only key may not change a delegation; each attempt is audited.
    let mutations = mock.control.mutations().len();
    let (status, body) = call(
        set_ns,
        Some(READER_KEY),
        json!({"domain": "example.com", "token": token, "nameservers": ["ns1.pooldns.test"]}),
    )
    .await
    .expect("call");
    assert_eq!((status, body["error"].as_str()), (403, Some("read-only-key")), "{body}");
    assert_eq!(
        mock.control.mutations().len(),
        mutations,
        "nothing was sent to the registrar"
    );
    let audit = tokio::task::spawn_blocking(move || {
        testkit::http_request(api, "GET", "/api/v1/audit", &[("X-API-Key", OPERATOR_KEY)], b"").expect("audit")
    })
    .await
    .expect("audit");
    let entries: Value = serde_json::from_str(&audit.body).expect("JSON");
    let seen: Vec<(String, String, i64)> = entries["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|entry| entry["route"] == "set-ns" && entry["subject"] == "example.com")
        .map(|entry| {
            (
                entry["key"].as_str().unwrap_or_default().to_string(),
                entry["outcome"].as_str().unwrap_or_default().to_string(),
                entry["status"].as_i64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("reader".to_string(), "read-only-key".to_string(), 403),
            ("catalyst".to_string(), "nameservers-not-allowed".to_string(), 403),
        ],
        "{entries}"
    );
    assert!(
        !audit.body.contains(&token),
        "the registrar token reached the audit log"
    );

    let (status, body) = call(
        set_ns,
        Some(CLIENT_KEY),
        json!({"domain": "example.com", "token": token, "nameservers": ["bad name!"]}),
    )
    .await
    .expect("call");
    assert_eq!(
        (status, body["error"].as_str()),
        (422, Some("invalid-nameservers")),
        "{body}"
    );
    let (status, body) = call(
        set_ns,
        Some(CLIENT_KEY),
        json!({"domain": "example.com", "token": token, "nameservers": []}),
    )
    .await
    .expect("call");
    assert_eq!(
        (status, body["error"].as_str()),
        (422, Some("missing-nameservers")),
        "{body}"
    );
    assert!(
        mock.control.mutations().is_empty(),
        "refused calls changed nothing: {:?}",
        mock.control.mutations()
    );

    // A DS at the registrar that pooldns cannot satisfy blocks the flip.
    let adapter = provider_from_token("godaddy", &token, Some(mock.base_url.clone())).expect("adapter");
    let domain = DomainName::new("example.com").expect("domain");
    let foreign: Dnskey =
        "257 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ=="
            .parse()
            .expect("DNSKEY");
    let spec = DsSpec::from_dnskey(&domain, foreign, 2).expect("DS");
    adapter
        .set_ds(&domain, &[spec])
        .await
        .expect("DS published at the registrar");
    for _ in 0..100 {
        if !mock.ds("example.com").is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(mock.ds("example.com").len(), 1, "the registrar holds a DS");
    let before = mock.control.mutations().len();
    let flip =
        json!({"domain": "example.com", "token": token, "nameservers": ["ns1.pooldns.test", "ns2.pooldns.test"]});
    let (status, body) = call(set_ns, Some(CLIENT_KEY), flip.clone()).await.expect("call");
    assert_eq!((status, body["error"].as_str()), (409, Some("ds-conflict")), "{body}");
    assert_eq!(mock.control.mutations().len(), before, "nothing changed");

    // Once pooldns signs the zone, the flip keeps DNSSEC valid throughout.
    let zone_file = zones.path().join("example.com.zone");
    std::fs::write(&zone_file, "$ORIGIN example.com.\n$TTL 300\n@ SOA ns1.pooldns.test. h.example.com. 1 3600 600 86400 60\n@ NS ns1.pooldns.test.\n@ NS ns2.pooldns.test.\n").expect("zone");
    let cli = |args: Vec<String>| {
        let output = server
            .cli_command(&args.iter().map(String::as_str).collect::<Vec<_>>())
            .output()
            .expect("cli");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).to_string()
    };
    cli(vec!["zone".into(), "import".into(), zone_file.display().to_string()]);
    cli(vec!["zone".into(), "secure".into(), "example.com".into()]);
    let ours = cli(vec!["zone".into(), "ds".into(), "example.com".into()]);
    let our_tag = ours.split_whitespace().nth(4).expect("key tag").to_string();
    let theirs = mock.ds("example.com");

    // A name server change that fails leaves the registrar's DS as it was.
    let (status, body) = call(
        set_ns,
        Some(CLIENT_KEY),
        json!({"domain": "example.com", "token": token, "nameservers": ["ns1.pooldns.test"]}),
    )
    .await
    .expect("call");
    assert_eq!(status, 422, "GoDaddy wants two name servers: {body}");
    assert_eq!(mock.ds("example.com"), theirs, "DS restored");
    assert!(
        mock.control
            .mutations()
            .iter()
            .any(|call| call.contains("dnssecRecords")),
        "both DS sets were published before the name server step: {:?}",
        mock.control.mutations()
    );

    // Both DS sets while resolvers may follow either server set, then NS.
    let (status, body) = call(set_ns, Some(CLIENT_KEY), flip.clone()).await.expect("call");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["success"], json!(true));
    assert_eq!(body["nameservers"], json!(["ns1.pooldns.test", "ns2.pooldns.test"]));
    assert!(body["propagation"].as_str().is_some_and(|hint| !hint.is_empty()));
    assert_eq!(
        mock.nameservers("example.com"),
        ["ns1.pooldns.test", "ns2.pooldns.test"]
    );
    let ds = mock.ds("example.com");
    assert_eq!(ds.len(), 2, "theirs and ours: {ds:?}");
    assert!(ds.contains(&theirs[0]), "{ds:?}");
    // After the parent's NS TTL (3 s here) only ours remain.
    let mut ds = Vec::new();
    for _ in 0..100 {
        ds = mock.ds("example.com");
        if ds.len() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(ds.len(), 1, "{ds:?}");
    assert!(
        ds[0].starts_with(&format!("{our_tag} ")),
        "our DS replaced theirs: {ds:?} vs {our_tag}"
    );

    // Asking again changes nothing at the registrar.
    let settled = mock.control.mutations().len();
    let (status, _) = call(set_ns, Some(CLIENT_KEY), flip).await.expect("call");
    assert_eq!(status, 200);
    assert_eq!(
        mock.control.mutations().len(),
        settled,
        "idempotent: {:?}",
        mock.control.mutations()
    );

    // The operator's key may point a domain anywhere.
    let (status, body) = call(
        set_ns,
        Some(OPERATOR_KEY),
        json!({"domain": "example.com", "token": token, "nameservers": ["ns1.elsewhere.net", "ns2.elsewhere.net"]}),
    )
    .await
    .expect("call");
    assert_eq!(status, 200, "{body}");

    finisher.abort();

    // No secret reached the server's log.
    let log = server.log_text();
    for secret in [KEY, SECRET, OPERATOR_KEY, CLIENT_KEY] {
        assert!(!log.contains(secret), "{secret} in the log");
    }
}

#[test]
fn delegation_verify_asks_the_parent_servers() {
    let zones = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        zones.path().join("parent.test.zone"),
        "$ORIGIN parent.test.\n$TTL 60\n@ SOA ns1 h 1 3600 600 86400 60\n@ NS ns1\nns1 A 192.0.2.1\n\
         kid NS ns1.pooldns.test.\nkid NS ns2.pooldns.test.\n",
    )
    .expect("zone");
    std::fs::write(
        zones.path().join("kid.parent.test.zone"),
        "$ORIGIN kid.parent.test.\n$TTL 60\n@ SOA ns1.pooldns.test. h 1 3600 600 86400 60\n@ NS ns1.pooldns.test.\n@ NS ns2.pooldns.test.\n",
    )
    .expect("zone");
    let server = Pooldns::start(zones.path());
    let parent = server.dns.to_string();
    let verify = |extra: &[&str]| {
        let mut args = vec![
            "delegation",
            "verify",
            "kid.parent.test",
            "--parent-server",
            &parent,
            "--timeout",
            "3",
        ];
        args.extend_from_slice(extra);
        server.cli(&args)
    };
    let ok = verify(&["--ns", "ns1.pooldns.test", "--ns", "ns2.pooldns.test"]);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("delegation in place"));
    let wrong = verify(&["--ns", "ns1.elsewhere.net", "--ns", "ns2.elsewhere.net"]);
    assert!(!wrong.status.success());
    assert!(
        String::from_utf8_lossy(&wrong.stdout).contains("differs"),
        "{}",
        String::from_utf8_lossy(&wrong.stdout)
    );

    // With the child secured, the parent served here carries its DS.
    server.cli_ok(&["zone", "secure", "kid.parent.test"]);
    let mut seen = false;
    for _ in 0..30 {
        if verify(&["--ns", "ns1.pooldns.test", "--ns", "ns2.pooldns.test", "--ds"])
            .status
            .success()
        {
            seen = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(seen, "the parent shows the child's DS");
}

#[test]
fn without_an_api_key_writes_are_refused_with_advice() {
    let zones = tempfile::tempdir().expect("temp dir");
    let server = Pooldns::start(zones.path());
    let (status, body) = post(
        server.api,
        "/api/v1/registrar/godaddy/validate",
        None,
        r#"{"domain":"example.com","token":"a:b"}"#,
    );
    assert_eq!(status, 401, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|detail| detail.contains("api_key_file")),
        "{body}"
    );
}
