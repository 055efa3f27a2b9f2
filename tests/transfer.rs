//! Zone transfers out, with real secondaries: Knot takes the AXFR (signed
//! with TSIG, several messages), hears of changes by NOTIFY and follows
//! them by IXFR, and serves the same answers; a signed zone transferred to
//! Knot validates with delv; access by address and key, and what is
//! refused.

use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use serde_json::{json, Value};
use testkit::delv::{anchor_file, validates};
use testkit::pool::wait_until;
use testkit::{
    decode, encode_query, http_request, next_id, parse_name, tcp_exchange, udp_exchange, Knotd, Pooldns,
    PooldnsOptions, QueryOptions,
};

const KEY: &str = "transfer-operator-key";
const SECRET: &str = "eGZyLXhmci14ZnIteGZyLXhmci14ZnIteGZyLXhmci0=";
const WAIT: Duration = Duration::from_secs(30);

/// A zone big enough that its transfer takes several messages.
fn zone_text(origin: &str, hosts: usize) -> String {
    let mut text = format!(
        "$ORIGIN {origin}.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 900 1209600 300\n@ NS ns1\nns1 A 192.0.2.53\n\
         www A 192.0.2.1\nmail MX 10 www\nsub NS ns.sub\nns.sub A 192.0.2.99\n"
    );
    for i in 0..hosts {
        text.push_str(&format!("host{i} A 10.0.{}.{}\n", i / 250, i % 250));
    }
    text
}

fn serve(zones: &[(&str, String)], transfer: &str) -> (Pooldns, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text) in zones {
        std::fs::write(dir.path().join(format!("{name}.zone")), text).expect("zone file");
    }
    let mut options = PooldnsOptions::new(dir.path());
    options.extra_config = format!(
        "\n[[api.keys]]\nname = \"operator\"\nkey = \"{KEY}\"\n\
         [[tsig]]\nname = \"xfr\"\nalgorithm = \"hmac-sha256\"\nsecret = \"{SECRET}\"\n\
         [transfer]\n{transfer}\n"
    );
    (Pooldns::start_with(options), dir)
}

fn call(server: &Pooldns, method: &str, path: &str, body: &Value) -> u16 {
    let text = body.to_string();
    let headers = [("X-API-Key", KEY), ("Content-Type", "application/json")];
    http_request(server.api, method, path, &headers, text.as_bytes())
        .expect("HTTP")
        .status
}

/// A free loopback address for a secondary.
fn local() -> std::net::SocketAddr {
    ([127, 0, 0, 1], testkit::free_port()).into()
}

/// The answer lines of `dig +short` at `server`.
fn short(server: std::net::SocketAddr, name: &str, qtype: &str) -> Vec<String> {
    testkit::dig::short(server, name, qtype)
}

/// The RCODE of an unsigned transfer request over TCP.
fn transfer_rcode(server: std::net::SocketAddr, zone: &str, qtype: RecordType) -> ResponseCode {
    let query = encode_query(next_id(), &parse_name(zone), qtype, &QueryOptions::tcp());
    decode(&tcp_exchange(server, &query).expect("TCP answer")).response_code
}

#[test]
fn knot_takes_the_zone_by_axfr_with_tsig_then_follows_by_ixfr() {
    let (server, _dir) = serve(&[("xfr.test", zone_text("xfr.test", 800))], "tsig_keys = [\"xfr\"]");
    let knot = Knotd::secondary(
        local(),
        &["xfr.test"],
        None,
        server.dns,
        Some(("xfr", "hmac-sha256", SECRET)),
    );
    for (name, qtype) in [
        ("xfr.test", "SOA"),
        ("www.xfr.test", "A"),
        ("host0.xfr.test", "A"),
        ("host799.xfr.test", "A"),
        ("mail.xfr.test", "MX"),
        ("ns.sub.xfr.test", "A"),
    ] {
        assert_eq!(
            short(knot.addr, name, qtype),
            short(server.dns, name, qtype),
            "{name} {qtype}"
        );
    }
    assert!(!short(knot.addr, "host799.xfr.test", "A").is_empty());

    // Told by NOTIFY (the zone's ALSO-NOTIFY), Knot follows by IXFR.
    let metadata = json!({"kind": "ALSO-NOTIFY", "metadata": [knot.addr.to_string()]});
    assert_eq!(
        call(
            &server,
            "POST",
            "/api/v1/servers/localhost/zones/xfr.test./metadata",
            &metadata
        ),
        201
    );
    let patch = json!({"rrsets": [
        {"name": "www.xfr.test.", "type": "A", "ttl": 300, "changetype": "REPLACE",
         "records": [{"content": "192.0.2.2", "disabled": false}]},
        {"name": "host5.xfr.test.", "type": "A", "changetype": "DELETE"},
        {"name": "new.xfr.test.", "type": "TXT", "ttl": 60, "changetype": "REPLACE",
         "records": [{"content": "\"added\"", "disabled": false}]}]});
    assert_eq!(
        call(&server, "PATCH", "/api/v1/servers/localhost/zones/xfr.test.", &patch),
        204
    );
    wait_until("Knot to follow the change", WAIT, || {
        short(knot.addr, "www.xfr.test", "A") == ["192.0.2.2"]
    });
    assert_eq!(short(knot.addr, "new.xfr.test", "TXT"), ["\"added\""]);
    assert!(short(knot.addr, "host5.xfr.test", "A").is_empty());
    assert_eq!(
        short(knot.addr, "xfr.test", "SOA"),
        short(server.dns, "xfr.test", "SOA")
    );
    let log = knot.log_tail();
    assert!(log.contains("IXFR, incoming"), "Knot used IXFR:\n{log}");
    let metrics = server.http_get("/metrics").body;
    assert!(
        metric(&metrics, "pooldns_transfers_total{answer=\"axfr\"}") >= 1,
        "{metrics}"
    );
    assert!(
        metric(&metrics, "pooldns_transfers_total{answer=\"ixfr\"}") >= 1,
        "{metrics}"
    );
    assert!(
        metric(&metrics, "pooldns_notify_total{result=\"answered\"}") >= 1,
        "{metrics}"
    );
}

/// The value of one sample of the Prometheus text `metrics`.
fn metric(metrics: &str, sample: &str) -> u64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(sample)?.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_signed_zone_validates_at_the_secondary() {
    let (server, _dir) = serve(&[("sig.test", zone_text("sig.test", 50))], "allow = [\"127.0.0.1\"]");
    server.cli_ok(&["zone", "secure", "sig.test", "--nsec3"]);
    wait_until("the zone to be signed", WAIT, || {
        !short(server.dns, "sig.test", "DNSKEY").is_empty()
    });
    let knot = Knotd::secondary(local(), &["sig.test"], None, server.dns, None);
    let anchors = anchor_file(server.dns, "sig.test", server.dir());
    for name in ["www.sig.test", "host7.sig.test"] {
        let result = validates(knot.addr, &anchors, "sig.test", name);
        assert!(result.is_ok(), "{name} at Knot: {result:?}");
    }
    // delv reports a proven NXDOMAIN as a failed resolution, after
    // saying it validated.
    let (Ok(denial) | Err(denial)) =
        testkit::delv::validates_type(knot.addr, &anchors, "sig.test", "nothere.sig.test", "A");
    assert!(denial.contains("; negative response, fully validated"), "{denial}");
}

#[test]
fn transfers_need_an_allowed_address_or_key() {
    let (server, _dir) = serve(&[("acl.test", zone_text("acl.test", 3))], "tsig_keys = [\"xfr\"]");
    assert_eq!(
        transfer_rcode(server.dns, "acl.test", RecordType::AXFR),
        ResponseCode::Refused
    );
    assert_eq!(
        transfer_rcode(server.dns, "other.test", RecordType::AXFR),
        ResponseCode::NotAuth
    );
    let key = format!("hmac-sha256:xfr:{SECRET}");
    let signed = testkit::dig::output(server.dns, &["-y", &key, "acl.test", "AXFR"]);
    assert!(signed.contains("XFR size: 11 records"), "{signed}");
    let bad = testkit::dig::output(
        server.dns,
        &[
            "-y",
            "hmac-sha256:xfr:b3RoZXItb3RoZXItb3RoZXItb3RoZXItb3RoZXItMTI=",
            "acl.test",
            "AXFR",
        ],
    );
    assert!(bad.contains("Transfer failed"), "{bad}");

    // The zone's ALLOW-AXFR-FROM lets an address in without a key.
    let metadata = json!({"kind": "ALLOW-AXFR-FROM", "metadata": ["127.0.0.0/8"]});
    assert_eq!(
        call(
            &server,
            "POST",
            "/api/v1/servers/localhost/zones/acl.test./metadata",
            &metadata
        ),
        201
    );
    assert_eq!(
        transfer_rcode(server.dns, "acl.test", RecordType::AXFR),
        ResponseCode::NoError
    );
    let axfr = testkit::dig::output(server.dns, &["acl.test", "AXFR"]);
    assert!(axfr.contains("XFR size: 11 records"), "{axfr}");

    // IXFR: nothing newer, one SOA; a serial the journal does not reach,
    // the whole zone.
    let current = testkit::dig::output(server.dns, &["acl.test", "IXFR=1", "+tcp"]);
    assert!(current.contains("XFR size: 1 records"), "{current}");
    let old = testkit::dig::output(server.dns, &["acl.test", "IXFR=0", "+tcp"]);
    assert!(old.contains("XFR size: 11 records"), "an AXFR-style answer: {old}");
    // Over UDP a transfer is refused.
    let query = encode_query(
        next_id(),
        &parse_name("acl.test"),
        RecordType::AXFR,
        &QueryOptions::udp(),
    );
    let reply = udp_exchange(server.dns, &query, Duration::from_secs(2))
        .expect("UDP")
        .expect("an answer");
    assert_eq!(decode(&reply).response_code, ResponseCode::Refused);
    let metrics = server.http_get("/metrics").body;
    assert!(
        metric(&metrics, "pooldns_transfers_total{answer=\"refused\"}") >= 3,
        "{metrics}"
    );
}

#[test]
fn a_knot_secondary_of_the_catalog_zone_serves_zones_created_later() {
    let knot_addr = local();
    let transfer =
        format!("allow = [\"127.0.0.1\"]\nnotify = [\"{knot_addr}\"]\n[catalog]\nzone = \"catalog.invalid\"");
    let (server, _dir) = serve(&[("first.test", zone_text("first.test", 2))], &transfer);
    assert_eq!(short(server.dns, "version.catalog.invalid", "TXT"), ["\"2\""]);
    assert_eq!(
        short(server.dns, "catalog.invalid", "PTR").len(),
        0,
        "members are below zones."
    );
    let knot = Knotd::secondary(knot_addr, &[], Some("catalog.invalid"), server.dns, None);
    let served = || short(knot.addr, "www.first.test", "A") == ["192.0.2.1"];
    let deadline = std::time::Instant::now() + WAIT;
    while !served() {
        assert!(
            std::time::Instant::now() < deadline,
            "Knot did not serve the member:\n{}",
            knot.log_tail()
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // A zone created later appears on the secondary by itself.
    let create = json!({"name": "later.test.", "kind": "Native", "nameservers": ["ns1.later.test."],
                        "rrsets": [{"name": "www.later.test.", "type": "A", "ttl": 300,
                                    "records": [{"content": "192.0.2.77", "disabled": false}]}]});
    assert_eq!(call(&server, "POST", "/api/v1/servers/localhost/zones", &create), 201);
    wait_until("Knot to serve the new zone", WAIT, || {
        short(knot.addr, "www.later.test", "A") == ["192.0.2.77"]
    });

    // And goes when it is deleted.
    assert_eq!(
        call(
            &server,
            "DELETE",
            "/api/v1/servers/localhost/zones/later.test.",
            &json!({})
        ),
        204
    );
    wait_until("Knot to drop the deleted zone", WAIT, || {
        short(knot.addr, "www.later.test", "A").is_empty()
    });
    assert_eq!(short(knot.addr, "www.first.test", "A"), ["192.0.2.1"]);
}

#[test]
fn nsd_takes_the_zone_by_axfr() {
    let (server, _dir) = serve(&[("nsd.test", zone_text("nsd.test", 300))], "allow = [\"127.0.0.1\"]");
    let nsd = testkit::nsd::Nsd::secondary(&["nsd.test"], server.dns);
    for (name, qtype) in [
        ("nsd.test", "SOA"),
        ("nsd.test", "NS"),
        ("www.nsd.test", "A"),
        ("host299.nsd.test", "A"),
        ("mail.nsd.test", "MX"),
    ] {
        assert_eq!(
            short(nsd.addr, name, qtype),
            short(server.dns, name, qtype),
            "{name} {qtype}"
        );
    }
}

#[test]
fn lua_records_reach_other_secondaries_as_their_current_answers() {
    let mut text = zone_text("lua.test", 2);
    text.push_str("dyn 120 LUA A \"pickrandom({'192.0.2.5'})\"\nboth LUA A \"pickrandom({'192.0.2.1', '192.0.2.1'})\"\nboth A 192.0.2.1\n");
    let (server, _dir) = serve(&[("lua.test", text)], "allow = [\"127.0.0.1\"]");
    assert_eq!(short(server.dns, "dyn.lua.test", "A"), ["192.0.2.5"]);
    let knot = Knotd::secondary(local(), &["lua.test"], None, server.dns, None);
    assert_eq!(short(knot.addr, "dyn.lua.test", "A"), ["192.0.2.5"]);
    assert_eq!(
        short(knot.addr, "both.lua.test", "A"),
        ["192.0.2.1"],
        "each record once"
    );
    let axfr = testkit::dig::output(server.dns, &["lua.test", "AXFR"]);
    assert!(!axfr.contains("TYPE65402") && !axfr.contains("LUA"), "{axfr}");
    assert!(axfr.contains("dyn.lua.test.\t\t120\tIN\tA\t192.0.2.5"), "{axfr}");
}

#[test]
fn a_health_change_reaches_other_secondaries_as_a_new_serial() {
    // Two backends up; when one stops, the LUA record's answer changes,
    // the serial moves on and Knot, told by NOTIFY, transfers it again.
    let port = testkit::free_port();
    let first = std::net::TcpListener::bind(("127.0.0.2", port)).expect("listen on 127.0.0.2");
    let _second = std::net::TcpListener::bind(("127.0.0.3", port)).expect("listen on 127.0.0.3");
    let mut text = zone_text("health.test", 2);
    text.push_str(&format!(
        "app LUA A \"ifportup({port}, {{'127.0.0.2', '127.0.0.3'}}, {{selector = 'all', interval = 1, timeout = 1, minimumFailures = 1}})\"\n"
    ));
    let knot_addr = local();
    let (server, _dir) = serve(
        &[("health.test", text)],
        &format!("allow = [\"127.0.0.1\"]\nnotify = [\"{knot_addr}\"]"),
    );
    wait_until("both backends up", WAIT, || {
        short(server.dns, "app.health.test", "A") == ["127.0.0.2", "127.0.0.3"]
    });
    let knot = Knotd::secondary(knot_addr, &["health.test"], None, server.dns, None);
    wait_until("Knot to hold both", WAIT, || {
        short(knot.addr, "app.health.test", "A") == ["127.0.0.2", "127.0.0.3"]
    });
    let serial = short(knot.addr, "health.test", "SOA");
    drop(first);
    wait_until("Knot to follow the health change", WAIT, || {
        short(knot.addr, "app.health.test", "A") == ["127.0.0.3"]
    });
    assert_ne!(short(knot.addr, "health.test", "SOA"), serial, "a new serial");
}
