//! Several pooldns nodes on one PostgreSQL store: a change made through
//! either node is answered by both (LISTEN/NOTIFY wakes the other at
//! once: the nodes here poll only once a minute), a killed node
//! leaves the other answering and taking writes, and it catches up when
//! it comes back; a node cut off from the database keeps answering from
//! its snapshots, says so in `/readyz` and `/metrics`, and catches up at
//! once when the database is back; work done once (NOTIFY, transfers into
//! secondary zones) is done by one node, and taken over when it dies.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use testkit::pool::wait_until;
use testkit::{http_request, Pooldns, PooldnsOptions};

const KEY: &str = "fleet-operator-key";

/// The tests run one at a time: work done once per database (NOTIFY, the
/// reconciler) goes to one of all the nodes sharing it, and one test's
/// nodes must not take it from another's.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
const WAIT: Duration = Duration::from_secs(20);

/// A node on the store at `url`. It polls the store only once a minute:
/// what it learns sooner, it learns from PostgreSQL's notifications.
fn node(url: &str, zones: &std::path::Path) -> Pooldns {
    node_with(url, zones, "")
}

/// A [`node`] with `extra` TOML.
fn node_with(url: &str, zones: &std::path::Path, extra: &str) -> Pooldns {
    let mut options = PooldnsOptions::new(zones);
    options.store_url = Some(url.to_string());
    options.store_poll_ms = Some(60_000);
    options.extra_config = format!("\n[[api.keys]]\nname = \"operator\"\nkey = \"{KEY}\"\n{extra}\n");
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
    let _one = one_at_a_time();
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

/// A TCP relay to PostgreSQL that can be cut: every connection through it
/// is closed and new ones are refused, as when the network to the
/// database fails.
struct Relay {
    address: std::net::SocketAddr,
    cut: std::sync::Arc<std::sync::atomic::AtomicBool>,
    open: std::sync::Arc<std::sync::Mutex<Vec<std::net::TcpStream>>>,
}

impl Relay {
    fn start(target: std::net::SocketAddr) -> Relay {
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("relay listens");
        let relay = Relay {
            address: listener.local_addr().expect("relay address"),
            cut: Default::default(),
            open: Default::default(),
        };
        let (cut, open) = (relay.cut.clone(), relay.open.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if cut.load(Ordering::SeqCst) {
                    continue;
                }
                let Ok(server) = std::net::TcpStream::connect(target) else {
                    continue;
                };
                let mut list = open.lock().unwrap();
                for stream in [&client, &server] {
                    list.push(stream.try_clone().expect("clone stream"));
                }
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        relay
    }

    /// Closes every connection and refuses new ones until [`Relay::mend`].
    fn cut(&self) {
        self.cut.store(true, std::sync::atomic::Ordering::SeqCst);
        for stream in self.open.lock().unwrap().drain(..) {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    }

    fn mend(&self) {
        self.cut.store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

#[test]
fn a_node_that_loses_the_database_keeps_answering_and_catches_up() {
    let Some(url) = testkit::postgres_url("a_node_that_loses_the_database_keeps_answering_and_catches_up") else {
        return;
    };
    let _one = one_at_a_time();
    // postgres://USER@HOST:PORT/DB: node A reaches it through the relay.
    let (head, rest) = url.split_once('@').expect("a user in the URL");
    let (host, tail) = rest.split_once('/').expect("a database in the URL");
    let target = std::net::ToSocketAddrs::to_socket_addrs(host)
        .expect("database address")
        .next()
        .expect("one address");
    let relay = Relay::start(target);
    let relayed = format!("{head}@{}/{tail}", relay.address);
    let zones = tempfile::tempdir().expect("temp dir");
    let a = node(&relayed, zones.path());
    let b = node(&url, zones.path());
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_nanos();
    let zone = format!("cut-{}-{nanos}.test.", std::process::id());
    let name = zone.trim_end_matches('.').to_string();
    let host = format!("www.{name}");
    let path = format!("/api/v1/servers/localhost/zones/{zone}");
    let create = json!({"name": zone, "kind": "Native", "nameservers": [format!("ns1.{zone}")]});
    assert_eq!(call(&b, "POST", "/api/v1/servers/localhost/zones", Some(&create)), 201);
    let _cleanup = Cleanup {
        node: &b,
        zone: zone.clone(),
    };
    assert_eq!(call(&b, "PATCH", &path, Some(&www(&zone, "192.0.2.20"))), 204);
    wait_until("node A to answer", WAIT, || {
        testkit::dig::short(a.dns, &host, "A") == ["192.0.2.20"]
    });

    // The database goes away for A: it keeps answering, and says so.
    relay.cut();
    wait_until("node A to report the store unavailable", WAIT, || {
        let ready = a.http_get("/readyz");
        ready.status == 503 && ready.body.contains("store unavailable")
    });
    assert!(a.http_get("/metrics").body.contains("pooldns_store_reachable 0"));
    assert_eq!(
        testkit::dig::short(a.dns, &host, "A"),
        ["192.0.2.20"],
        "served from its snapshot"
    );
    // Writes through A fail, saying why, and change nothing.
    assert_eq!(call(&a, "PATCH", &path, Some(&www(&zone, "192.0.2.99"))), 503);
    assert_eq!(call(&b, "PATCH", &path, Some(&www(&zone, "192.0.2.21"))), 204);

    // Back: A catches up on what it missed, and is ready again.
    relay.mend();
    wait_until("node A to catch up", WAIT, || {
        testkit::dig::short(a.dns, &host, "A") == ["192.0.2.21"]
    });
    wait_until("node A to be ready again", WAIT, || a.http_get("/readyz").status == 200);
}

/// Waits for a NOTIFY of `zone` on `socket`, answering each NOTIFY so
/// that none is sent again; false when none came within `limit`.
fn notified(socket: &std::net::UdpSocket, zone: &str, limit: Duration) -> bool {
    let wire: Vec<u8> = zone
        .trim_end_matches('.')
        .split('.')
        .flat_map(|label| std::iter::once(label.len() as u8).chain(label.bytes()))
        .chain([0])
        .collect();
    let deadline = std::time::Instant::now() + limit;
    let mut buffer = [0u8; 512];
    while std::time::Instant::now() < deadline {
        let Ok((length, from)) = socket.recv_from(&mut buffer) else {
            continue;
        };
        let message = &buffer[..length];
        if length < 12 || message[2] & 0xf8 != 0x20 {
            continue;
        }
        let mut answer = message.to_vec();
        answer[2] |= 0x80;
        let _ = socket.send_to(&answer, from);
        if message[12..].starts_with(&wire) {
            return true;
        }
    }
    false
}

#[test]
fn notify_moves_to_the_other_node_when_the_one_sending_it_dies() {
    let Some(url) = testkit::postgres_url("notify_moves_to_the_other_node_when_the_one_sending_it_dies") else {
        return;
    };
    let _one = one_at_a_time();
    let secondary = std::net::UdpSocket::bind("127.0.0.1:0").expect("a secondary's socket");
    secondary.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let extra = format!("[transfer]\nnotify = [\"{}\"]", secondary.local_addr().unwrap());
    let zones = tempfile::tempdir().expect("temp dir");
    let mut a = node_with(&url, zones.path(), &extra);
    let mut b = node_with(&url, zones.path(), &extra);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_nanos();
    let zone = format!("duty-{}-{nanos}.test.", std::process::id());
    let path = format!("/api/v1/servers/localhost/zones/{zone}");
    let create = json!({"name": zone, "kind": "Native", "nameservers": [format!("ns1.{zone}")]});
    assert_eq!(call(&a, "POST", "/api/v1/servers/localhost/zones", Some(&create)), 201);
    assert!(notified(&secondary, &zone, WAIT), "NOTIFY of the new zone");

    // Exactly one node sends NOTIFY; when it dies, the other takes over.
    let sends = |node: &Pooldns| node.log_text().contains("this node now runs NOTIFY to secondaries");
    assert!(sends(&a) != sends(&b), "one node holds the duty");
    let (dead, survivor) = if sends(&a) { (&mut a, &mut b) } else { (&mut b, &mut a) };
    dead.kill();
    let _cleanup = Cleanup {
        node: survivor,
        zone: zone.clone(),
    };
    assert_eq!(call(survivor, "PATCH", &path, Some(&www(&zone, "192.0.2.30"))), 204);
    assert!(notified(&secondary, &zone, WAIT), "NOTIFY from the surviving node");
    assert!(sends(survivor), "the survivor took the duty over");
}

#[test]
fn a_secondary_zone_is_kept_once_for_the_whole_fleet() {
    let Some(url) = testkit::postgres_url("a_secondary_zone_is_kept_once_for_the_whole_fleet") else {
        return;
    };
    let _one = one_at_a_time();
    let zones = tempfile::tempdir().expect("temp dir");
    let a = node(&url, zones.path());
    let b = node(&url, zones.path());
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_nanos();
    let zone = format!("copy-{}-{nanos}.test.", std::process::id());
    let name = zone.trim_end_matches('.').to_string();
    let file = zones.path().join("primary.zone");
    std::fs::write(
        &file,
        format!("$ORIGIN {zone}\n$TTL 60\n@ SOA ns1 hostmaster 1 3600 600 86400 60\n@ NS ns1\nns1 A 192.0.2.53\nwww A 192.0.2.40\n"),
    )
    .expect("zone file");
    // Knot tells node B of its changes; the zone is created through A.
    let knot = testkit::Knotd::primary(&[(&zone, &file)], b.dns, None);
    let create = json!({"name": zone, "kind": "Slave", "masters": [knot.addr.to_string()]});
    assert_eq!(call(&a, "POST", "/api/v1/servers/localhost/zones", Some(&create)), 201);
    let _cleanup = Cleanup {
        node: &a,
        zone: zone.clone(),
    };
    let host = format!("www.{name}");
    for node in [&a, &b] {
        testkit::dig::wait_short(node.dns, &host, "A", &["192.0.2.40"]);
    }
    knot.knotc(&["zone-begin", &zone]);
    knot.knotc(&["zone-set", &zone, "www", "60", "A", "192.0.2.41"]);
    knot.knotc(&["zone-unset", &zone, "www", "A", "192.0.2.40"]);
    knot.knotc(&["zone-commit", &zone]);
    for node in [&a, &b] {
        wait_until("every node to follow the primary", WAIT, || {
            testkit::dig::short(node.dns, &host, "A") == ["192.0.2.41"]
        });
    }
    let transfers = |node: &Pooldns| {
        node.log_text()
            .contains("this node now runs zone transfers into secondary zones")
    };
    assert!(transfers(&a) != transfers(&b), "one node does the transfers");
}
