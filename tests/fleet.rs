//! Several pooldns nodes on one PostgreSQL store: a change made through
//! either node is answered by both (LISTEN/NOTIFY wakes the other at
//! once: the nodes here poll only once a minute), a killed node
//! leaves the other answering and taking writes, and it catches up when
//! it comes back.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use testkit::pool::wait_until;
use testkit::{http_request, Pooldns, PooldnsOptions};

const KEY: &str = "fleet-operator-key";
const WAIT: Duration = Duration::from_secs(20);

/// A node on the store at `url`. It polls the store only once a minute:
/// what it learns sooner, it learns from PostgreSQL's notifications.
fn node(url: &str, zones: &std::path::Path) -> Pooldns {
    let mut options = PooldnsOptions::new(zones);
    options.store_url = Some(url.to_string());
    options.store_poll_ms = Some(60_000);
    options.extra_config = format!("\n[[api.keys]]\nname = \"operator\"\nkey = \"{KEY}\"\n");
    Pooldns::start_with(options)
}

fn call(node: &Pooldns, method: &str, path: &str, body: Option<&Value>) -> u16 {
    let text = body.map(Value::to_string).unwrap_or_default();
    let mut headers = vec![("X-API-Key", KEY)];
    if body.is_some() {
        headers.push(("Content-Type", "application/json"));
    }
    http_request(node.api, method, path, &headers, text.as_bytes()).map_or(0, |response| response.status)
}

/// Deletes the test's zone from the shared database through `node`,
/// whatever happens.
struct Cleanup<'a> {
    node: &'a Pooldns,
    zone: String,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let path = format!("/api/v1/servers/localhost/zones/{}", self.zone);
        call(self.node, "DELETE", &path, None);
    }
}

fn www(zone: &str, address: &str) -> Value {
    json!({"rrsets": [{"name": format!("www.{zone}"), "type": "A", "ttl": 60, "changetype": "REPLACE",
                       "records": [{"content": address, "disabled": false}]}]})
}

#[test]
fn two_nodes_on_one_postgresql_answer_every_change() {
    let Some(url) = testkit::postgres_url("two_nodes_on_one_postgresql_answer_every_change") else {
        return;
    };
    let zones = tempfile::tempdir().expect("temp dir");
    let mut a = node(&url, zones.path());
    let b = node(&url, zones.path());
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_nanos();
    let zone = format!("fleet-{}-{nanos}.test.", std::process::id());
    let name = zone.trim_end_matches('.').to_string();
    let path = format!("/api/v1/servers/localhost/zones/{zone}");

    // Created through A, answered by B.
    let create = json!({"name": zone, "kind": "Native", "nameservers": [format!("ns1.{zone}")]});
    assert_eq!(call(&a, "POST", "/api/v1/servers/localhost/zones", Some(&create)), 201);
    let _cleanup = Cleanup {
        node: &b,
        zone: zone.clone(),
    };
    wait_until("node B to serve the zone created on A", WAIT, || {
        !testkit::dig::short(b.dns, &name, "SOA").is_empty()
    });

    // Changed through B, answered by A.
    assert_eq!(call(&b, "PATCH", &path, Some(&www(&zone, "192.0.2.10"))), 204);
    let host = format!("www.{name}");
    wait_until("node A to answer B's change", WAIT, || {
        testkit::dig::short(a.dns, &host, "A") == ["192.0.2.10"]
    });

    // A is killed: B answers and takes writes; A catches up when back.
    a.kill();
    assert_eq!(testkit::dig::short(b.dns, &host, "A"), ["192.0.2.10"]);
    assert_eq!(call(&b, "PATCH", &path, Some(&www(&zone, "192.0.2.11"))), 204);
    testkit::dig::wait_short(b.dns, &host, "A", &["192.0.2.11"]);
    a.restart();
    testkit::dig::wait_short(a.dns, &host, "A", &["192.0.2.11"]);
    assert_eq!(
        testkit::dig::short(a.dns, &name, "SOA"),
        testkit::dig::short(b.dns, &name, "SOA"),
        "the same serial on both"
    );
    for node in [&a, &b] {
        let metrics = node.http_get("/metrics").body;
        assert!(metrics.contains("pooldns_store_reachable 1"), "{metrics}");
    }
}
