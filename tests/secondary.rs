//! Secondary zones, with real primaries: pooldns takes a zone from Knot by
//! AXFR signed with TSIG, hears of Knot's changes by NOTIFY and follows
//! them by IXFR, answering what Knot answers; it stops answering a zone
//! whose primary is gone for the SOA expire interval; and a pooldns
//! secondary follows a pooldns primary's catalog zone, adding, changing
//! and removing zones as the primary does.

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use serde_json::{json, Value};
use testkit::pool::wait_until;
use testkit::{http_request, Knotd, Pooldns, PooldnsOptions};

const KEY: &str = "secondary-operator-key";
const SECRET: &str = "c2Vjb25kYXJ5LXNlY29uZGFyeS1zZWNvbmRhcnktMDE=";
const WAIT: Duration = Duration::from_secs(30);

fn zone_text(origin: &str, hosts: usize, expire: u32) -> String {
    let mut text = format!(
        "$ORIGIN {origin}.\n$TTL 300\n@ SOA ns1 hostmaster 1 5 5 {expire} 300\n@ NS ns1\nns1 A 192.0.2.53\n\
         www A 192.0.2.1\nmail MX 10 www\nalias CNAME www\ntxt TXT \"a b\" \"c\"\nsub NS ns.sub\nns.sub A 192.0.2.99\n"
    );
    for i in 0..hosts {
        text.push_str(&format!("host{i} A 10.0.{}.{}\n", i / 250, i % 250));
    }
    text
}

/// A pooldns with no zones of its own, the API key and TSIG key `xfr`,
/// and `extra` TOML.
fn serve(extra: &str) -> (Pooldns, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut options = PooldnsOptions::new(dir.path());
    options.extra_config = format!(
        "\n[[api.keys]]\nname = \"operator\"\nkey = \"{KEY}\"\n\
         [[tsig]]\nname = \"xfr\"\nalgorithm = \"hmac-sha256\"\nsecret = \"{SECRET}\"\n{extra}\n"
    );
    (Pooldns::start_with(options), dir)
}

fn call(server: &Pooldns, method: &str, path: &str, body: &Value) -> (u16, Value) {
    let text = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    let headers = [("X-API-Key", KEY), ("Content-Type", "application/json")];
    let response = http_request(server.api, method, path, &headers, text.as_bytes()).expect("HTTP");
    let value = serde_json::from_str(&response.body).unwrap_or(Value::Null);
    (response.status, value)
}

fn short(server: SocketAddr, name: &str, qtype: &str) -> Vec<String> {
    testkit::dig::short(server, name, qtype)
}

/// The SOA serial `server` answers for `zone`, if any.
fn serial(server: SocketAddr, zone: &str) -> Option<u32> {
    short(server, zone, "SOA")
        .first()
        .and_then(|soa| soa.split_whitespace().nth(2)?.parse().ok())
}

/// The RCODE `server` answers to `name` `qtype`, as dig prints it.
fn status(server: SocketAddr, name: &str, qtype: &str) -> String {
    let output = testkit::dig::output(server, &[name, qtype]);
    output
        .split("status: ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .unwrap_or("no answer")
        .to_string()
}

/// The records of a zone by AXFR, one line each without the final SOA,
/// sorted: two servers holding the same zone give the same lines.
fn axfr(server: SocketAddr, zone: &str) -> Vec<String> {
    let key = format!("hmac-sha256:xfr:{SECRET}");
    let output = testkit::dig::output(server, &["-y", &key, "AXFR", zone, "+nocmd", "+nostats", "+nocomments"]);
    let mut lines: Vec<String> = output
        .lines()
        .filter(|line| !line.starts_with(';') && !line.trim().is_empty())
        .filter(|line| line.split_whitespace().nth(3).is_none_or(|rtype| rtype != "TSIG"))
        .map(|line| {
            line.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_ascii_lowercase()
        })
        .collect();
    lines.sort();
    lines.dedup();
    lines
}

/// Sends NOTIFY for `zone` to `server` from `source`; the RCODE of the
/// answer.
fn notify(server: SocketAddr, source: &str, zone: &str) -> u8 {
    let socket = UdpSocket::bind((source, 0)).expect("bind the NOTIFY source");
    socket.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut message = vec![0x4e, 0x17, 0x20, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in zone.trim_end_matches('.').split('.') {
        message.push(label.len() as u8);
        message.extend_from_slice(label.as_bytes());
    }
    message.extend_from_slice(&[0, 0, 6, 0, 1]);
    socket.send_to(&message, server).expect("send NOTIFY");
    let mut answer = [0u8; 512];
    let (length, _) = socket.recv_from(&mut answer).expect("NOTIFY answered");
    assert!(
        length >= 12 && answer[0..2] == [0x4e, 0x17] && answer[2] & 0xf8 == 0xa0,
        "a NOTIFY answer"
    );
    answer[3] & 0x0f
}

#[test]
fn follows_a_knot_primary_by_axfr_then_ixfr_with_tsig() {
    let (server, _dir) = serve("[transfer]\nallow = [\"127.0.0.1/32\"]\n");
    let zones = tempfile::tempdir().expect("temp dir");
    let file = zones.path().join("sec.test.zone");
    std::fs::write(&file, zone_text("sec.test", 600, 1_209_600)).unwrap();
    let knot = Knotd::primary(&[("sec.test", &file)], server.dns, Some(("xfr", "hmac-sha256", SECRET)));

    let body = json!({"name": "sec.test.", "kind": "Slave", "masters": [knot.addr.to_string()],
                      "slave_tsig_key_ids": ["xfr"]});
    for (bad, why) in [
        (json!({"name": "sec.test.", "kind": "Slave"}), "needs 'masters'"),
        (
            json!({"name": "sec.test.", "kind": "Slave", "masters": ["ns1.example"]}),
            "is not an IP address",
        ),
        (
            json!({"name": "sec.test.", "kind": "Slave", "masters": ["192.0.2.1"], "slave_tsig_key_ids": ["nokey"]}),
            "does not exist",
        ),
    ] {
        let (code, refused) = call(&server, "POST", "/api/v1/servers/localhost/zones", &bad);
        assert_eq!(code, 422, "{refused}");
        assert!(refused["error"].as_str().unwrap_or_default().contains(why), "{refused}");
    }
    let (code, created) = call(&server, "POST", "/api/v1/servers/localhost/zones", &body);
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["kind"], "Slave");
    assert_eq!(created["masters"], json!([knot.addr.to_string()]));
    assert_eq!(created["slave_tsig_key_ids"], json!(["xfr."]));
    wait_until("the first transfer", WAIT, || serial(server.dns, "sec.test") == Some(1));
    let whole = axfr(knot.addr, "sec.test");
    assert!(whole.len() > 600, "{} records", whole.len());
    assert_eq!(axfr(server.dns, "sec.test"), whole, "the same zone as Knot's");
    for (name, qtype) in [
        ("www.sec.test", "A"),
        ("alias.sec.test", "A"),
        ("mail.sec.test", "MX"),
        ("txt.sec.test", "TXT"),
        ("ns.sub.sec.test", "A"),
        ("host599.sec.test", "A"),
    ] {
        assert_eq!(
            short(server.dns, name, qtype),
            short(knot.addr, name, qtype),
            "{name} {qtype}"
        );
    }
    assert_eq!(status(server.dns, "nothing.sec.test", "A"), "NXDOMAIN");

    // Knot changes the zone and sends NOTIFY; pooldns follows by IXFR.
    knot.knotc(&["zone-begin", "sec.test"]);
    knot.knotc(&["zone-set", "sec.test", "new", "300", "A", "192.0.2.77"]);
    knot.knotc(&["zone-unset", "sec.test", "host0", "A"]);
    knot.knotc(&["zone-commit", "sec.test"]);
    wait_until("the change by IXFR", WAIT, || serial(server.dns, "sec.test") == Some(2));
    assert_eq!(short(server.dns, "new.sec.test", "A"), ["192.0.2.77"]);
    assert_eq!(status(server.dns, "host0.sec.test", "A"), "NXDOMAIN");
    assert_eq!(axfr(server.dns, "sec.test"), axfr(knot.addr, "sec.test"));
    let log = server.log_text();
    assert!(log.contains("\"IXFR\""), "an IXFR was logged:\n{log}");
    let metrics = server.http_get("/metrics").body;
    for sample in [
        "pooldns_secondary_checks_total{result=\"axfr\"} 1",
        "pooldns_secondary_checks_total{result=\"ixfr\"} 1",
    ] {
        assert!(metrics.contains(sample), "{sample} in\n{metrics}");
    }

    // The zone is the primary's: writes here are refused, and NOTIFY is
    // taken only from a primary.
    let patch = json!({"rrsets": [{"name": "x.sec.test.", "type": "A", "ttl": 60, "changetype": "REPLACE",
                                   "records": [{"content": "192.0.2.9", "disabled": false}]}]});
    let (code, refused) = call(&server, "PATCH", "/api/v1/servers/localhost/zones/sec.test.", &patch);
    assert_eq!(code, 422, "{refused}");
    assert!(
        refused["error"].as_str().unwrap_or_default().contains("secondary"),
        "{refused}"
    );
    assert_eq!(
        notify(server.dns, "127.0.0.2", "sec.test"),
        5,
        "NOTIFY from elsewhere: REFUSED"
    );
    assert_eq!(
        notify(server.dns, "127.0.0.1", "sec.test"),
        0,
        "NOTIFY from the primary: NOERROR"
    );
    assert_eq!(
        notify(server.dns, "127.0.0.1", "other.test"),
        9,
        "NOTIFY of another zone: NOTAUTH"
    );
    // Malformed or wrongly signed NOTIFY: FORMERR, NOTAUTH (BADKEY).
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    socket
        .send_to(&[0x4e, 0x18, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0], server.dns)
        .unwrap();
    let mut answer = [0u8; 512];
    let (length, _) = socket
        .recv_from(&mut answer)
        .expect("NOTIFY without a question answered");
    assert_eq!((length, answer[3] & 0x0f), (12, 1), "FORMERR");
    let badkey = testkit::dig::output(
        server.dns,
        &[
            "-y",
            &format!("hmac-sha256:nokey:{SECRET}"),
            "+opcode=notify",
            "sec.test",
            "SOA",
        ],
    );
    assert!(
        badkey.contains("status: NOTAUTH") && badkey.contains("BADKEY"),
        "{badkey}"
    );
    assert_eq!(serial(server.dns, "sec.test"), Some(2), "still served");
    let (code, retrieved) = call(
        &server,
        "PUT",
        "/api/v1/servers/localhost/zones/sec.test./axfr-retrieve",
        &Value::Null,
    );
    assert_eq!(code, 200, "{retrieved}");
    // A secondary zone stays one: its kind cannot change.
    let (code, refused) = call(
        &server,
        "PUT",
        "/api/v1/servers/localhost/zones/sec.test.",
        &json!({"kind": "Native"}),
    );
    assert_eq!(code, 422, "{refused}");
}

#[test]
fn a_zone_whose_primary_is_gone_expires_and_comes_back_from_another() {
    let (server, _dir) = serve("");
    let zones = tempfile::tempdir().expect("temp dir");
    let file = zones.path().join("gone.test.zone");
    std::fs::write(&file, zone_text("gone.test", 3, 5)).unwrap();
    let knot = Knotd::primary(&[("gone.test", &file)], server.dns, None);
    // Added on the command line this time.
    let refused = server.cli(&["zone", "secondary", "gone.test", "--primary", "ns1.example"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("is not an address"));
    let refused = server.cli(&[
        "zone",
        "secondary",
        "gone.test",
        "--primary",
        "192.0.2.1",
        "--tsig-key",
        "nope",
    ]);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("TSIG key nope. does not exist"));
    server.cli_ok(&["zone", "secondary", "gone.test", "--primary", &knot.addr.to_string()]);
    wait_until("the first transfer", WAIT, || {
        serial(server.dns, "gone.test") == Some(1)
    });
    let listed = server.cli_ok(&["zone", "list"]);
    assert!(listed.contains(&format!("secondary of {}", knot.addr)), "{listed}");

    // SOA expire is 5 s: without its primary the zone is SERVFAIL.
    drop(knot);
    wait_until("the zone to expire", WAIT, || {
        status(server.dns, "www.gone.test", "A") == "SERVFAIL"
    });

    // Another primary, given by PUT, brings it back.
    let knot = Knotd::primary(&[("gone.test", &file)], server.dns, None);
    let (code, put) = call(
        &server,
        "PUT",
        "/api/v1/servers/localhost/zones/gone.test.",
        &json!({"masters": [knot.addr.to_string()]}),
    );
    assert_eq!(code, 204, "{put}");
    wait_until("the zone to be served again", WAIT, || {
        short(server.dns, "www.gone.test", "A") == ["192.0.2.1"]
    });
}

#[test]
fn a_pooldns_secondary_follows_a_pooldns_primary_through_its_catalog() {
    let zones = tempfile::tempdir().expect("temp dir");
    std::fs::write(zones.path().join("a.test.zone"), zone_text("a.test", 10, 1_209_600)).unwrap();
    let mut options = PooldnsOptions::new(zones.path());
    options.extra_config = format!(
        "\n[[api.keys]]\nname = \"operator\"\nkey = \"{KEY}\"\n\
         [[tsig]]\nname = \"xfr\"\nalgorithm = \"hmac-sha256\"\nsecret = \"{SECRET}\"\n\
         [catalog]\nzone = \"catalog.invalid\"\n"
    );
    let mut primary = Pooldns::start_with(options);
    let (secondary, _dir) = serve(&format!(
        "[transfer]\nallow = [\"127.0.0.1/32\"]\n[[secondary.catalogs]]\nzone = \"catalog.invalid\"\nprimaries = [\"{}\"]\n",
        primary.dns
    ));
    // The primary tells the secondary of every change and lets it transfer.
    let config = std::fs::read_to_string(primary.config_path()).unwrap();
    std::fs::write(
        primary.config_path(),
        format!(
            "{config}\n[transfer]\nallow = [\"127.0.0.1/32\"]\nnotify = [\"{}\"]\n",
            secondary.dns
        ),
    )
    .unwrap();
    primary.restart();

    wait_until("a.test from the catalog", WAIT, || {
        short(secondary.dns, "www.a.test", "A") == ["192.0.2.1"]
    });
    let (code, listed) = call(
        &secondary,
        "GET",
        "/api/v1/servers/localhost/zones/a.test.",
        &Value::Null,
    );
    assert_eq!((code, &listed["kind"]), (200, &json!("Slave")), "{listed}");

    // A zone created on the primary appears on the secondary.
    let body = json!({"name": "b.test.", "kind": "Native", "nameservers": ["ns1.b.test."],
                      "rrsets": [{"name": "www.b.test.", "type": "A", "ttl": 60, "changetype": "REPLACE",
                                  "records": [{"content": "192.0.2.20", "disabled": false}]}]});
    let (code, created) = call(&primary, "POST", "/api/v1/servers/localhost/zones", &body);
    assert_eq!(code, 201, "{created}");
    wait_until("b.test on the secondary", WAIT, || {
        short(secondary.dns, "www.b.test", "A") == ["192.0.2.20"]
    });

    // Its changes follow by IXFR.
    let patch = json!({"rrsets": [{"name": "new.b.test.", "type": "A", "ttl": 60, "changetype": "REPLACE",
                                   "records": [{"content": "192.0.2.21", "disabled": false}]}]});
    let (code, _) = call(&primary, "PATCH", "/api/v1/servers/localhost/zones/b.test.", &patch);
    assert_eq!(code, 204);
    wait_until("the change on the secondary", WAIT, || {
        short(secondary.dns, "new.b.test", "A") == ["192.0.2.21"]
    });
    // Changes in a burst, some NOTIFY arriving while the zone is being
    // checked: the last change arrives without waiting for the SOA refresh
    // (three hours).
    for last in 30..60 {
        let patch = json!({"rrsets": [{"name": "burst.b.test.", "type": "A", "ttl": 60, "changetype": "REPLACE",
                                       "records": [{"content": format!("192.0.2.{last}"), "disabled": false}]}]});
        let (code, _) = call(&primary, "PATCH", "/api/v1/servers/localhost/zones/b.test.", &patch);
        assert_eq!(code, 204);
        std::thread::sleep(Duration::from_millis(10));
    }
    wait_until("the last change of the burst", WAIT, || {
        short(secondary.dns, "burst.b.test", "A") == ["192.0.2.59"]
    });
    assert_eq!(serial(secondary.dns, "b.test"), serial(primary.dns, "b.test"));
    assert_eq!(axfr(secondary.dns, "b.test"), axfr(primary.dns, "b.test"));

    // Deleted on the primary, it leaves the secondary with its catalog entry.
    let (code, _) = call(
        &primary,
        "DELETE",
        "/api/v1/servers/localhost/zones/b.test.",
        &Value::Null,
    );
    assert_eq!(code, 204);
    wait_until("b.test to leave the secondary", WAIT, || {
        status(secondary.dns, "www.b.test", "A") == "REFUSED"
    });
    assert_eq!(short(secondary.dns, "www.a.test", "A"), ["192.0.2.1"]);
}

/// A "primary" on a loopback port that reads each transfer request and
/// writes back what `answer` makes of it (length prefixes included).
fn fake_primary(answer: impl Fn(&[u8]) -> Vec<u8> + Send + 'static) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
    let primary = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            use std::io::{Read, Write};
            let mut length = [0u8; 2];
            if stream.read_exact(&mut length).is_err() {
                continue;
            }
            let mut request = vec![0u8; usize::from(u16::from_be_bytes(length))];
            if stream.read_exact(&mut request).is_err() {
                continue;
            }
            let _ = stream.write_all(&answer(&request));
        }
    });
    primary
}

#[test]
fn a_primary_that_answers_garbage_changes_nothing() {
    // Every transfer is answered with a message shorter than a DNS header.
    let primary = fake_primary(|_| vec![0, 5, 1, 2, 3, 4, 5]);
    let (server, _dir) = serve("");
    let body = json!({"name": "bad.test.", "kind": "Slave", "masters": [primary.to_string()]});
    let (code, created) = call(&server, "POST", "/api/v1/servers/localhost/zones", &body);
    assert_eq!(code, 201, "{created}");
    wait_until("a failed check", WAIT, || {
        server
            .http_get("/metrics")
            .body
            .contains("pooldns_secondary_checks_total{result=\"failed\"} 1")
    });
    assert!(server.log_text().contains("shorter than its header"));
    assert_eq!(
        status(server.dns, "www.bad.test", "A"),
        "SERVFAIL",
        "nothing to serve yet"
    );
    let (code, zone) = call(
        &server,
        "GET",
        "/api/v1/servers/localhost/zones/bad.test.",
        &Value::Null,
    );
    assert_eq!(code, 200);
    assert_eq!(zone["rrsets"], json!([]), "nothing stored");
}

#[test]
fn a_transfer_of_a_zone_that_cannot_be_served_is_not_stored() {
    // A primary whose zone has no NS records at its apex: well formed on
    // the wire, yet no zone (RFC 1034 §4.2.1).
    let primary = fake_primary(|request| {
        let apex = b"\x06no-ns1\x04test\x00";
        let soa: &[u8] = b"\x00\x06\x00\x01\x00\x00\x01\x2c\x00\x1e\x02ns\xc0\x0c\x02hm\xc0\x0c\x00\x00\x00\x07\x00\x00\x0e\x10\x00\x00\x03\x84\x00\x09\x3a\x80\x00\x00\x01\x2c";
        let mut answer = request[..2].to_vec();
        answer.extend_from_slice(&[0x84, 0, 0, 1, 0, 3, 0, 0, 0, 0]);
        answer.extend_from_slice(apex);
        answer.extend_from_slice(&[0, 252, 0, 1]);
        answer.extend_from_slice(&[0xc0, 0x0c]);
        answer.extend_from_slice(soa);
        answer.extend_from_slice(b"\x03www\xc0\x0c\x00\x01\x00\x01\x00\x00\x01\x2c\x00\x04\xc0\x00\x02\x50");
        answer.extend_from_slice(&[0xc0, 0x0c]);
        answer.extend_from_slice(soa);
        let mut framed = (answer.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&answer);
        framed
    });
    let (server, _dir) = serve("");
    let body = json!({"name": "no-ns1.test.", "kind": "Slave", "masters": [primary.to_string()]});
    let (code, created) = call(&server, "POST", "/api/v1/servers/localhost/zones", &body);
    assert_eq!(code, 201, "{created}");
    wait_until("a failed check", WAIT, || {
        server
            .http_get("/metrics")
            .body
            .contains("pooldns_secondary_checks_total{result=\"failed\"} 1")
    });
    assert!(server.log_text().contains("no NS records"), "{}", server.log_text());
    let (code, zone) = call(
        &server,
        "GET",
        "/api/v1/servers/localhost/zones/no-ns1.test.",
        &Value::Null,
    );
    assert_eq!(code, 200);
    assert_eq!(zone["rrsets"], json!([]), "nothing stored");
}

/// A zone signed on a pooldns primary, with NSEC and with NSEC3, served by
/// a pooldns secondary with the primary's signatures: delv, trusting only
/// the primary's key, validates the secondary's answers, NXDOMAIN, NODATA
/// and wildcard answers included, and the secondary transfers the zone
/// onward as the primary does.
#[test]
fn a_signed_zone_is_served_by_a_secondary_with_its_signatures() {
    let zones = tempfile::tempdir().expect("temp dir");
    for zone in ["nsec.test", "nsec3.test"] {
        let text = format!("{}*.wild TXT \"wild\"\n", zone_text(zone, 5, 1_209_600));
        std::fs::write(zones.path().join(format!("{zone}.zone")), text).unwrap();
    }
    let mut options = PooldnsOptions::new(zones.path());
    options.extra_config = format!(
        "\n[[tsig]]\nname = \"xfr\"\nalgorithm = \"hmac-sha256\"\nsecret = \"{SECRET}\"\n\
         [transfer]\nallow = [\"127.0.0.1/32\"]\n"
    );
    let primary = Pooldns::start_with(options);
    primary.cli_ok(&["zone", "secure", "nsec.test"]);
    primary.cli_ok(&["zone", "secure", "nsec3.test", "--nsec3"]);
    let (secondary, _dir) = serve("[transfer]\nallow = [\"127.0.0.1/32\"]\n");
    let anchors_dir = tempfile::tempdir().expect("temp dir");
    for zone in ["nsec.test", "nsec3.test"] {
        wait_until("the primary signs", WAIT, || {
            testkit::dig::dnssec_answer(primary.dns, &format!("www.{zone}"), "A")
                .iter()
                .any(|line| line.contains("RRSIG"))
        });
        secondary.cli_ok(&["zone", "secondary", zone, "--primary", &primary.dns.to_string()]);
        wait_until("the secondary takes the signed zone", WAIT, || {
            serial(secondary.dns, zone).is_some() && serial(secondary.dns, zone) == serial(primary.dns, zone)
        });
        let www = format!("www.{zone}");
        assert_eq!(
            testkit::dig::dnssec_answer(secondary.dns, &www, "A"),
            testkit::dig::dnssec_answer(primary.dns, &www, "A"),
            "the primary's signatures"
        );
        let anchors = testkit::delv::anchor_file(primary.dns, zone, anchors_dir.path());
        for (name, qtype) in [
            (www.as_str(), "A"),
            (&format!("nothere.{zone}"), "A"),
            (www.as_str(), "TXT"),
            (&format!("x.wild.{zone}"), "TXT"),
            (zone, "DNSKEY"),
        ] {
            // delv reports a proven denial as a failed resolution, after
            // saying it validated.
            let (Ok(output) | Err(output)) = testkit::delv::validates_type(secondary.dns, &anchors, zone, name, qtype);
            assert!(
                output.contains("; fully validated") || output.contains("; negative response, fully validated"),
                "{name} {qtype} from the secondary does not validate:\n{output}"
            );
        }
        assert_eq!(axfr(secondary.dns, zone), axfr(primary.dns, zone));

        // A change on the primary comes signed, by IXFR.
        let file = zones.path().join(format!("{zone}.zone"));
        let text = format!(
            "{}*.wild TXT \"wild\"\nnew A 192.0.2.77\n",
            zone_text(zone, 5, 1_209_600)
        )
        .replace("hostmaster 1 ", "hostmaster 2 ");
        std::fs::write(&file, text).unwrap();
        primary.cli_ok(&["zone", "import", file.to_str().unwrap(), "--replace"]);
        let new = format!("new.{zone}");
        wait_until("the change on the secondary", WAIT, || {
            short(secondary.dns, &new, "A") == ["192.0.2.77"]
        });
        let result = testkit::delv::validates(secondary.dns, &anchors, zone, &new);
        assert!(result.is_ok(), "{new} from the secondary: {result:?}");
    }
}
