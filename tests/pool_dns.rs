//! What pool allocations look like from outside: a committed Sovereign
//! validates from the pool zone's trust anchor (delv), a multi-region
//! commit fails over when a region's health endpoint stops answering, and
//! a pool whose zone is hosted at Cloudflare (the local mock) gets each
//! allocation's NS and DS records there.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use testkit::delv::{anchor_file, validates};
use testkit::mocks::cloudflare::CloudflareMock;
use testkit::pool::{wait_until, PoolOptions, PoolServer, OPERATOR_KEY};

const WAIT: Duration = Duration::from_secs(20);

#[test]
fn committed_sovereign_validates_from_the_pool_anchor() {
    let pools = PoolServer::start(
        "delv",
        PoolOptions {
            serve_parent: true,
            ..PoolOptions::default()
        },
    );
    let pool = pools.pool.clone();
    wait_until("the pool zone to be signed", WAIT, || {
        pools
            .dig_short(&pool, "DNSKEY")
            .iter()
            .any(|key| key.starts_with("257 "))
    });
    let anchors = anchor_file(pools.server.dns, &pool, pools.dir());
    let token = pools.reserve("omantel");
    pools.commit("omantel", &token, "192.0.2.44");
    let console = format!("console.omantel.{pool}");
    wait_until("console to answer", WAIT, || {
        pools.dig_short(&console, "A") == ["192.0.2.44"]
    });
    let mut last = String::new();
    let validated = |last: &mut String| match validates(pools.server.dns, &anchors, &pool, &console) {
        Ok(text) => {
            *last = text;
            last.contains("192.0.2.44")
        }
        Err(text) => {
            *last = text;
            false
        }
    };
    let deadline = std::time::Instant::now() + WAIT;
    while !validated(&mut last) {
        assert!(std::time::Instant::now() < deadline, "delv did not validate:\n{last}");
        std::thread::sleep(Duration::from_millis(200));
    }
    // A forged DS would break the chain: the child's DNSKEY must match the
    // parent's DS, which delv just checked; and the parent signs that DS.
    let ds = pools.dig(&format!("omantel.{pool}"), "DS", &["+dnssec"]);
    assert!(ds.contains("RRSIG\tDS 13"), "{ds}");
}

/// An HTTP health endpoint that answers 200 while `up`, 503 otherwise.
fn health_endpoint() -> (String, Arc<AtomicBool>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/healthz", listener.local_addr().expect("address"));
    let up = Arc::new(AtomicBool::new(true));
    let flag = up.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buffer = [0u8; 2048];
            let _ = stream.read(&mut buffer);
            let reply = if flag.load(Ordering::Relaxed) {
                "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"
            } else {
                "HTTP/1.0 503 Service Unavailable\r\nContent-Length: 4\r\n\r\ndown"
            };
            let _ = stream.write_all(reply.as_bytes());
        }
    });
    (url, up)
}

#[test]
fn regions_fail_over_when_a_health_endpoint_stops_answering() {
    let pools = PoolServer::start(
        "regions",
        PoolOptions {
            serve_parent: true,
            ..PoolOptions::default()
        },
    );
    let (fsn_url, fsn_up) = health_endpoint();
    let (hel_url, _hel_up) = health_endpoint();
    let token = pools.reserve("multi");
    let (status, body) = pools.call(
        "POST",
        &pools.route("commit"),
        Some(OPERATOR_KEY),
        Some(&json!({
            "subdomain": "multi", "reservationToken": token,
            "regions": [
                {"name": "fsn", "ips": ["192.0.2.1", "2001:db8::1"], "healthUrl": fsn_url},
                {"name": "hel", "ips": ["192.0.2.2"], "healthUrl": hel_url},
            ],
        })),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["regions"].as_array().map(Vec::len), Some(2));
    let console = format!("console.multi.{}", pools.pool);
    let fsn_or_hel = |answers: &[String]| {
        !answers.is_empty()
            && answers
                .iter()
                .all(|answer| answer == "192.0.2.1" || answer == "192.0.2.2")
    };
    wait_until("answers from the healthy regions", WAIT, || {
        fsn_or_hel(&pools.dig_short(&console, "A"))
    });
    assert_eq!(pools.dig_short(&console, "AAAA"), ["2001:db8::1"]);

    // The checks' states, by URL, as the API reports them.
    let statuses = |url: &str| -> Vec<String> {
        let (_, body) = pools.call("GET", "/api/v1/health-checks", Some(OPERATOR_KEY), None);
        body["checks"]
            .as_array()
            .map(|checks| {
                checks
                    .iter()
                    .filter(|check| check["url"] == url && check["in_use"] == true)
                    .map(|check| check["status"].as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    let all = |url: &str, status: &str| {
        let list = statuses(url);
        !list.is_empty() && list.iter().all(|got| got == status)
    };
    wait_until("both regions' checks to be up", WAIT, || {
        all(&fsn_url, "up") && all(&hel_url, "up")
    });
    fsn_up.store(false, Ordering::Relaxed);
    wait_until("fsn's check to go down", WAIT, || all(&fsn_url, "down"));
    for _ in 0..10 {
        assert_eq!(pools.dig_short(&console, "A"), ["192.0.2.2"]);
    }
    fsn_up.store(true, Ordering::Relaxed);
    wait_until("fsn's check to come back", WAIT, || all(&fsn_url, "up"));
    assert!(fsn_or_hel(&pools.dig_short(&console, "A")));

    // Bad regions are refused and change nothing.
    for (regions, why) in [
        (json!([{"name": "x", "ips": [], "healthUrl": hel_url}]), "no ips"),
        (
            json!([{"name": "x", "ips": ["300.1.1.1"], "healthUrl": hel_url}]),
            "bad ip",
        ),
        (
            json!([{"name": "x", "ips": ["192.0.2.9"], "healthUrl": "ftp://x/"}]),
            "bad url",
        ),
        (
            json!([{"name": "x", "ips": ["192.0.2.9"], "healthUrl": "http://x/'); os.exit() --"}]),
            "quote",
        ),
    ] {
        let (status, body) = pools.call(
            "POST",
            &pools.route("commit"),
            Some(OPERATOR_KEY),
            Some(&json!({"subdomain": "multi", "reservationToken": token, "regions": regions})),
        );
        assert_eq!(
            (status, body["error"].as_str()),
            (422, Some("invalid-regions")),
            "{why}: {body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn pool_hosted_at_cloudflare_gets_ns_and_ds_there() {
    let mock = CloudflareMock::start().await;
    let base_url = mock.base_url.clone();
    let pools = tokio::task::spawn_blocking(move || {
        PoolServer::start(
            "cf",
            PoolOptions {
                cloudflare: Some(base_url),
                ..PoolOptions::default()
            },
        )
    })
    .await
    .expect("server");
    let pools = Arc::new(pools);
    let server = pools.clone();
    let (token, reservation) = tokio::task::spawn_blocking(move || {
        let (status, body) = server.call(
            "POST",
            &server.route("reserve"),
            Some(OPERATOR_KEY),
            Some(&json!({"subdomain": "acme"})),
        );
        assert_eq!(status, 201, "{body}");
        (body["reservationToken"].as_str().expect("token").to_string(), body)
    })
    .await
    .expect("reserve");
    assert_eq!(reservation["delegation"], "provider", "{reservation}");
    assert_eq!(
        mock.contents("NS", "acme.example.com"),
        ["ns1.example.com", "ns2.example.com"]
    );
    let ds = mock.contents("DS", "acme.example.com");
    assert_eq!(ds.len(), 1, "{ds:?}");
    let server = pools.clone();
    let ours = tokio::task::spawn_blocking(move || server.server.cli_ok(&["zone", "ds", "acme.example.com"]))
        .await
        .expect("zone ds");
    let digest = ds[0].rsplit(' ').next().expect("digest");
    assert!(ours.to_ascii_uppercase().contains(digest), "{ours} vs {ds:?}");

    let server = pools.clone();
    tokio::task::spawn_blocking(move || {
        server.commit("acme", &token, "192.0.2.80");
        let (status, body) = server.call(
            "DELETE",
            &server.route("release"),
            Some(OPERATOR_KEY),
            Some(&json!({"subdomain": "acme"})),
        );
        assert_eq!(status, 200, "{body}");
        assert!(!server.zones().contains(&"acme.example.com.".to_string()));
    })
    .await
    .expect("release");
    assert!(mock.contents("NS", "acme.example.com").is_empty());
    assert!(mock.contents("DS", "acme.example.com").is_empty());
    // The parent's other records are untouched.
    assert_eq!(mock.contents("A", "www.example.com"), ["192.0.2.80"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_release_cloudflare_refuses_is_finished_later_never_404() {
    let mock = CloudflareMock::start().await;
    let base_url = mock.base_url.clone();
    let pools = tokio::task::spawn_blocking(move || {
        PoolServer::start(
            "cfdown",
            PoolOptions {
                cloudflare: Some(base_url),
                ..PoolOptions::default()
            },
        )
    })
    .await
    .expect("server");
    let pools = Arc::new(pools);
    let server = pools.clone();
    tokio::task::spawn_blocking(move || server.reserve("flaky"))
        .await
        .expect("reserve");
    assert_eq!(mock.contents("NS", "flaky.example.com").len(), 2);

    // Cloudflare answers 503 to everything: the release is accepted and
    // pending, and asking again says so again.
    mock.control.unavailable_after(0, u32::MAX);
    let server = pools.clone();
    let answers = tokio::task::spawn_blocking(move || {
        (0..2)
            .map(|_| {
                server.call(
                    "DELETE",
                    &format!("{}?sub=flaky", server.route("release")),
                    Some(OPERATOR_KEY),
                    None,
                )
            })
            .collect::<Vec<_>>()
    })
    .await
    .expect("releases");
    for (status, body) in &answers {
        assert_eq!(*status, 202, "{body}");
        assert_eq!(body["warning"], "release-pending");
        assert_eq!(body["freed"]["state"], "releasing");
    }
    assert_eq!(mock.contents("NS", "flaky.example.com").len(), 2, "nothing removed yet");

    // Cloudflare recovers: the reconciler finishes the release.
    mock.control.unavailable_after(0, 0);
    let server = pools.clone();
    let view = mock.clone();
    tokio::task::spawn_blocking(move || {
        wait_until("the reconciler to finish the release", Duration::from_secs(60), || {
            view.contents("NS", "flaky.example.com").is_empty()
                && !server.zones().contains(&"flaky.example.com.".to_string())
        });
        let (_, list) = server.call("GET", &server.route("list"), Some(OPERATOR_KEY), None);
        assert_eq!(list["allocations"], json!([]));
        let (status, _) = server.call(
            "DELETE",
            &format!("{}?sub=flaky", server.route("release")),
            Some(OPERATOR_KEY),
            None,
        );
        assert_eq!(status, 404, "once DNS is clean the allocation is gone");
    })
    .await
    .expect("finished");
    assert!(mock.contents("DS", "flaky.example.com").is_empty());
}
