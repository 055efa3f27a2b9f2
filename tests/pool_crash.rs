//! SIGKILL at any step of reserve, commit or release, then a restart,
//! converges: no orphan zone, no delegation without a zone, no lost or
//! duplicated allocation. A client drives allocations through their life
//! cycle while the server is killed at pseudo-random moments; afterwards
//! the store and DNS must agree with every answer the client received.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use testkit::mocks::cloudflare::CloudflareMock;
use testkit::pool::{wait_until, PoolOptions, PoolServer, OPERATOR_KEY};

const LABELS: [&str; 6] = ["ka", "kb", "kc", "kd", "ke", "kf"];

/// What the client last heard about a label.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Known {
    Free,
    Reserved(String),
    Active(String),
    /// A request was cut off: either outcome is possible.
    Unsure,
}

fn request(api: SocketAddr, method: &str, path: &str, body: &Value) -> Option<(u16, Value)> {
    let body = body.to_string();
    let headers = [("X-API-Key", OPERATOR_KEY), ("Content-Type", "application/json")];
    let response = testkit::http_request(api, method, path, &headers, body.as_bytes()).ok()?;
    (response.status != 0).then(|| {
        (
            response.status,
            serde_json::from_str(&response.body).unwrap_or(Value::Null),
        )
    })
}

/// Moves each label one step through reserve, commit and release until
/// `stop`, recording what each answer says.
fn drive(api: SocketAddr, pool: &str, stop: &AtomicBool, cut: &AtomicUsize, known: &Mutex<BTreeMap<String, Known>>) {
    let mut step = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let label = LABELS[step % LABELS.len()];
        step += 1;
        let state = known.lock().expect("lock").get(label).cloned().unwrap_or(Known::Free);
        let (method, action, body) = match &state {
            Known::Free => ("POST", "reserve", json!({"subdomain": label})),
            Known::Reserved(token) => (
                "POST",
                "commit",
                json!({"subdomain": label, "reservationToken": token, "loadBalancerIP": "192.0.2.99"}),
            ),
            Known::Active(_) | Known::Unsure => ("DELETE", "release", json!({"subdomain": label})),
        };
        let answer = request(api, method, &format!("/api/v1/pool/{pool}/{action}"), &body);
        if answer.is_none() && stop.load(Ordering::Relaxed) {
            break;
        }
        let next = match (action, answer) {
            ("reserve", Some((201, body))) => {
                Known::Reserved(body["reservationToken"].as_str().unwrap_or_default().into())
            }
            ("commit", Some((200, _))) => match state {
                Known::Reserved(token) => Known::Active(token),
                other => other,
            },
            ("release", Some((200 | 404, _))) => Known::Free,
            (_, Some((409, _))) => Known::Unsure,
            (_, None) => {
                // Cut off, or refused while the server was down: whatever
                // was asked may or may not have happened.
                cut.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
                Known::Unsure
            }
            (_, Some(_)) => Known::Unsure,
        };
        known.lock().expect("lock").insert(label.to_string(), next);
    }
}

/// Runs `rounds` kill-and-restart rounds under load; returns what the
/// client knows, the kills, and the requests that got no answer.
fn kill_loop(pools: &mut PoolServer, rounds: usize) -> (BTreeMap<String, Known>, usize, usize) {
    let stop = Arc::new(AtomicBool::new(false));
    let cut = Arc::new(AtomicUsize::new(0));
    let known = Arc::new(Mutex::new(BTreeMap::new()));
    let api = pools.server.api;
    let pool = pools.pool.clone();
    let client = {
        let (stop, cut, known) = (stop.clone(), cut.clone(), known.clone());
        std::thread::spawn(move || drive(api, &pool, &stop, &cut, &known))
    };
    // A fixed pseudo-random sequence of delays, 5 to 400 ms.
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..rounds {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(5 + seed % 396));
        pools.server.kill();
        pools.server.restart();
    }
    stop.store(true, Ordering::Relaxed);
    client.join().expect("client");
    let known = known.lock().expect("lock").clone();
    (known, rounds, cut.load(Ordering::Relaxed))
}

/// The allocations the server lists: label -> state.
fn listed(pools: &PoolServer) -> BTreeMap<String, String> {
    let (status, body) = pools.call("GET", &pools.route("list"), Some(OPERATOR_KEY), None);
    assert_eq!(status, 200, "{body}");
    body["allocations"]
        .as_array()
        .expect("allocations")
        .iter()
        .map(|allocation| {
            (
                allocation["subdomain"].as_str().unwrap_or_default().to_string(),
                allocation["state"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Checks that the listed allocations agree with what the client heard.
fn agrees_with_client(listed: &BTreeMap<String, String>, known: &BTreeMap<String, Known>) {
    for (label, state) in known {
        match state {
            Known::Free => assert!(!listed.contains_key(label), "{label} was released but is listed"),
            Known::Reserved(_) => assert_eq!(listed.get(label).map(String::as_str), Some("reserved"), "{label}"),
            Known::Active(_) => assert_eq!(listed.get(label).map(String::as_str), Some("active"), "{label}"),
            Known::Unsure => {}
        }
    }
}

/// The labels with a zone below the pool.
fn child_zones(pools: &PoolServer) -> BTreeSet<String> {
    let suffix = format!(".{}.", pools.pool);
    pools
        .zones()
        .iter()
        .filter_map(|zone| zone.strip_suffix(&suffix).map(str::to_string))
        .collect()
}

#[test]
fn killed_at_any_step_a_local_pool_converges() {
    local_pool_converges(None);
    if let Some(url) = testkit::postgres_url("pool crash tests") {
        local_pool_converges(Some(url));
    }
}

fn local_pool_converges(store_url: Option<String>) {
    let backend = if store_url.is_some() { "PostgreSQL" } else { "SQLite" };
    let mut pools = PoolServer::start(
        "kill",
        PoolOptions {
            serve_parent: true,
            store_url,
            ..PoolOptions::default()
        },
    );
    let (known, kills, cut) = kill_loop(&mut pools, 40);
    eprintln!("local pool on {backend}: {kills} kills, {cut} requests without an answer");
    let listed = listed(&pools);
    agrees_with_client(&listed, &known);
    let labels: BTreeSet<String> = listed.keys().cloned().collect();
    wait_until("zones to match allocations", Duration::from_secs(20), || {
        child_zones(&pools) == labels
    });
    // The parent delegates exactly the allocated zones.
    let export = pools.server.cli_ok(&["zone", "export", &pools.pool]);
    let delegated: BTreeSet<String> = export
        .lines()
        .filter(|line| line.contains(" IN NS "))
        .filter_map(|line| line.split('.').next())
        .filter(|label| LABELS.contains(label))
        .map(str::to_string)
        .collect();
    assert_eq!(delegated, labels, "{export}");
    for (label, state) in &listed {
        let zone = format!("{label}.{}", pools.pool);
        let console = format!("console.{zone}");
        let wanted: &[&str] = if state == "active" { &["192.0.2.99"] } else { &[] };
        wait_until(
            &format!("{zone} to be served signed, as {state}"),
            Duration::from_secs(20),
            || {
                pools
                    .dig_short(&zone, "DNSKEY")
                    .iter()
                    .any(|key| key.starts_with("257 "))
                    && pools.dig_short(&console, "A") == wanted
            },
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_at_any_step_a_cloudflare_pool_converges() {
    let mock = CloudflareMock::start().await;
    let base_url = mock.base_url.clone();
    let (known, listed, kills, cut, pools) = tokio::task::spawn_blocking(move || {
        let mut pools = PoolServer::start(
            "cfkill",
            PoolOptions {
                cloudflare: Some(base_url),
                ..PoolOptions::default()
            },
        );
        let (known, kills, cut) = kill_loop(&mut pools, 25);
        let labels = listed(&pools);
        (known, labels, kills, cut, pools)
    })
    .await
    .expect("kill loop");
    eprintln!("Cloudflare pool: {kills} kills, {cut} requests without an answer");
    agrees_with_client(&listed, &known);
    let pools = Arc::new(pools);
    // Releases cut off half-way are finished by the reconciler.
    let server = pools.clone();
    let mock_view = mock.clone();
    tokio::task::spawn_blocking(move || {
        wait_until(
            "zones and Cloudflare to match the allocations",
            Duration::from_secs(30),
            || {
                let (all, settled) = listed_now(&server);
                let delegated: BTreeSet<String> = LABELS
                    .iter()
                    .filter(|label| !mock_view.contents("NS", &format!("{label}.example.com")).is_empty())
                    .map(|label| label.to_string())
                    .collect();
                all == settled && child_zones(&server) == settled && delegated == settled
            },
        );
    })
    .await
    .expect("converged");
    let (_, now) = listed_now(&pools);
    for label in &now {
        let name = format!("{label}.example.com");
        assert_eq!(
            mock.contents("NS", &name),
            ["ns1.example.com", "ns2.example.com"],
            "{name}"
        );
        assert_eq!(mock.contents("DS", &name).len(), 1, "{name} has its DS");
    }
    for label in LABELS.iter().filter(|label| !now.contains(**label)) {
        assert!(mock.contents("DS", &format!("{label}.example.com")).is_empty());
    }
}

/// Every listed label, and those not being released.
fn listed_now(pools: &PoolServer) -> (BTreeSet<String>, BTreeSet<String>) {
    let listed = listed(pools);
    let settled = listed
        .iter()
        .filter(|(_, state)| *state != "releasing")
        .map(|(label, _)| label.clone())
        .collect();
    (listed.into_keys().collect(), settled)
}
