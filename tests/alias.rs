//! ALIAS records against a running `pooldns serve`: A and AAAA answered
//! with the target's addresses as a real recursive resolver (Unbound,
//! stubbed to a second server holding the targets) finds them, following
//! the target when it changes, signed so that delv validates data and
//! denials; without a resolver NODATA, and SERVFAIL while a target cannot
//! be resolved, as PowerDNS answers.

use std::net::UdpSocket;
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};
use serde_json::{json, Value};
use testkit::delv::{anchor_file, validates_type};
use testkit::pool::wait_until;
use testkit::{http_request, query, Pooldns, PooldnsOptions, QueryOptions, Unbound};

const KEY: &str = "alias-operator-key-1";
const WAIT: Duration = Duration::from_secs(30);

const TARGETS: &str = "$ORIGIN cloud.test.\n$TTL 5\n@ SOA ns1 hostmaster 1 3600 900 1209600 5\n@ NS ns1\n\
                       ns1 A 192.0.2.53\nlb A 192.0.2.10\nlb A 192.0.2.11\nlb AAAA 2001:db8::10\n\
                       v4only A 192.0.2.20\n";

const ALIASES: &str = "$ORIGIN alias.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 900 1209600 300\n@ NS ns1\n\
                       ns1 A 192.0.2.53\n@ ALIAS lb.cloud.test.\nwww 120 ALIAS v4only.cloud.test.\n\
                       gone ALIAS missing.cloud.test.\n";

/// A server of `zone` (file text) configured with `extra`.
fn serve(zone_file: &str, text: &str, extra: &str) -> (Pooldns, tempfile::TempDir) {
    let zones = tempfile::tempdir().expect("temp dir");
    std::fs::write(zones.path().join(zone_file), text).expect("zone file");
    let mut options = PooldnsOptions::new(zones.path());
    options.extra_config = format!("\n[[api.keys]]\nname = \"operator\"\nkey = \"{KEY}\"\n");
    options.dns_config = extra.to_string();
    (Pooldns::start_with(options), zones)
}

fn ask(server: &Pooldns, name: &str, qtype: RecordType) -> hickory_proto::op::Message {
    query(server.dns, name, qtype, &QueryOptions::udp())
}

fn addresses(reply: &hickory_proto::op::Message) -> Vec<String> {
    let mut found: Vec<String> = reply
        .answers
        .iter()
        .filter_map(|record| match &record.data {
            RData::A(address) => Some(address.to_string()),
            RData::AAAA(address) => Some(address.to_string()),
            _ => None,
        })
        .collect();
    found.sort();
    found
}

fn call(server: &Pooldns, method: &str, path: &str, body: Option<&Value>) -> (u16, String) {
    let text = body.map(Value::to_string).unwrap_or_default();
    let mut headers = vec![("X-API-Key", KEY)];
    if body.is_some() {
        headers.push(("Content-Type", "application/json"));
    }
    let response = http_request(server.api, method, path, &headers, text.as_bytes()).expect("HTTP");
    (response.status, response.body)
}

/// Moves `lb.cloud.test.` A on the targets' server to 192.0.2.12.
fn move_target(targets: &Pooldns) {
    let patch = json!({"rrsets": [{"name": "lb.cloud.test.", "type": "A", "ttl": 5, "changetype": "REPLACE",
        "records": [{"content": "192.0.2.12", "disabled": false}]}]});
    let (status, body) = call(
        targets,
        "PATCH",
        "/api/v1/servers/localhost/zones/cloud.test.",
        Some(&patch),
    );
    assert_eq!(status, 204, "{body}");
}

#[test]
fn alias_answers_follow_the_target_and_validate() {
    let (targets, _targets_dir) = serve("cloud.test.zone", TARGETS, "");
    let resolver = Unbound::start(&[], &[("cloud.test", targets.dns)]);
    let (server, _dir) = serve(
        "alias.test.zone",
        ALIASES,
        &format!("resolver = \"{}\"\n", resolver.addr),
    );

    let apex = ask(&server, "alias.test", RecordType::A);
    assert_eq!(apex.response_code, ResponseCode::NoError);
    assert!(apex.authoritative);
    assert_eq!(addresses(&apex), ["192.0.2.10", "192.0.2.11"]);
    assert!(
        apex.answers.iter().all(|record| record.ttl == 300),
        "the ALIAS record's TTL: {apex:?}"
    );
    assert_eq!(
        addresses(&ask(&server, "alias.test", RecordType::AAAA)),
        ["2001:db8::10"]
    );
    let www = ask(&server, "www.alias.test", RecordType::A);
    assert_eq!(addresses(&www), ["192.0.2.20"]);
    assert_eq!(www.answers[0].ttl, 120);
    for (name, qtype) in [("www.alias.test", RecordType::AAAA), ("gone.alias.test", RecordType::A)] {
        let empty = ask(&server, name, qtype);
        assert_eq!(empty.response_code, ResponseCode::NoError, "{name} {qtype}");
        assert!(empty.answers.is_empty(), "{name} {qtype}: {empty:?}");
        assert_eq!(empty.authorities.len(), 1, "the SOA of a NODATA answer");
    }
    assert_eq!(
        testkit::dig::short(server.dns, "alias.test", "TYPE65401"),
        ["\\# 15 026C6205636C6F7564047465737400"]
    );
    let metrics = server.http_get("/metrics").body;
    assert!(
        metrics.contains("pooldns_alias_targets{state=\"resolved\"} 6")
            && metrics.contains("pooldns_alias_targets{state=\"unresolved\"} 0"),
        "three targets of two types each: {metrics}"
    );

    // The target moves; the alias follows within a few of its TTLs.
    move_target(&targets);
    wait_until("the alias to follow its target", WAIT, || {
        addresses(&ask(&server, "alias.test", RecordType::A)) == ["192.0.2.12"]
    });

    // Written through the PowerDNS API, listed and exported as ALIAS.
    let add = json!({"rrsets": [{"name": "api.alias.test.", "type": "ALIAS", "ttl": 60, "changetype": "REPLACE",
        "records": [{"content": "lb.cloud.test.", "disabled": false}]}]});
    let zone = "/api/v1/servers/localhost/zones/alias.test.";
    assert_eq!(call(&server, "PATCH", zone, Some(&add)).0, 204);
    wait_until("the new alias to answer", WAIT, || {
        addresses(&ask(&server, "api.alias.test", RecordType::A)) == ["192.0.2.12"]
    });
    let (status, body) = call(
        &server,
        "GET",
        &format!("{zone}?rrset_name=api.alias.test.&rrset_type=ALIAS"),
        None,
    );
    assert_eq!(status, 200);
    let listed: Value = serde_json::from_str(&body).expect("zone JSON");
    assert_eq!(listed["rrsets"][0]["records"][0]["content"], "lb.cloud.test.");
    let (status, export) = call(&server, "GET", &format!("{zone}/export"), None);
    assert_eq!(status, 200);
    assert!(
        export.lines().any(
            |line| line.starts_with("api.alias.test.") && line.ends_with("ALIAS\tlb.cloud.test.")
                || line.split_whitespace().collect::<Vec<_>>()
                    == ["api.alias.test.", "60", "IN", "ALIAS", "lb.cloud.test."]
        ),
        "{export}"
    );

    // Signed: the synthesized addresses and the denial of a type the
    // target lacks both validate.
    server.cli_ok(&["zone", "secure", "alias.test"]);
    wait_until("the zone to be signed", WAIT, || {
        !testkit::dig::short(server.dns, "alias.test", "DNSKEY").is_empty()
    });
    let anchors = anchor_file(server.dns, "alias.test", server.dir());
    for (name, qtype, expect) in [
        ("alias.test", "A", "192.0.2.12"),
        ("www.alias.test", "AAAA", "negative response"),
        ("gone.alias.test", "A", "negative response"),
    ] {
        let mut last = String::new();
        wait_until(&format!("{name} {qtype} to validate"), WAIT, || {
            match validates_type(server.dns, &anchors, "alias.test", name, qtype) {
                Ok(text) | Err(text) => {
                    let done = text.contains("fully validated") && text.contains(expect);
                    last = text;
                    done
                }
            }
        });
        assert!(last.contains(expect), "{last}");
    }
}

#[test]
fn without_a_resolver_aliases_are_nodata() {
    let (server, _dir) = serve("alias.test.zone", ALIASES, "");
    let reply = ask(&server, "alias.test", RecordType::A);
    assert_eq!(reply.response_code, ResponseCode::NoError);
    assert!(reply.answers.is_empty(), "{reply:?}");
    assert_eq!(
        testkit::dig::short(server.dns, "alias.test", "TYPE65401").len(),
        1,
        "the ALIAS record itself is served"
    );
}

#[test]
fn a_target_that_cannot_be_resolved_answers_servfail() {
    // A port that never answers: the resolver is down.
    let silent = UdpSocket::bind("127.0.0.1:0").expect("socket");
    let (server, _dir) = serve(
        "alias.test.zone",
        ALIASES,
        &format!("resolver = \"{}\"\n", silent.local_addr().expect("address")),
    );
    let reply = ask(&server, "alias.test", RecordType::A);
    assert_eq!(reply.response_code, ResponseCode::ServFail, "{reply:?}");
    // The rest of the zone answers as before.
    let ns = ask(&server, "ns1.alias.test", RecordType::A);
    assert_eq!(addresses(&ns), ["192.0.2.53"]);
}

/// A secondary takes ALIAS records as the addresses they answer at the
/// transfer; when the target moves, the zone's serial moves on, so that
/// the secondary takes the new addresses.
#[test]
fn a_moved_target_moves_the_serial_for_secondaries() {
    let (targets, _targets_dir) = serve("cloud.test.zone", TARGETS, "");
    let resolver = Unbound::start(&[], &[("cloud.test", targets.dns)]);
    let zones = tempfile::tempdir().expect("temp dir");
    // One alias whose target has both types: once both answer, nothing
    // is left to resolve for the first time.
    let text = "$ORIGIN alias.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 900 1209600 300\n@ NS ns1\n\
                ns1 A 192.0.2.53\n@ ALIAS lb.cloud.test.\n";
    std::fs::write(zones.path().join("alias.test.zone"), text).expect("zone file");
    let mut options = PooldnsOptions::new(zones.path());
    options.dns_config = format!("resolver = \"{}\"\n", resolver.addr);
    options.extra_config = "\n[transfer]\nallow = [\"127.0.0.1\"]\n".into();
    let server = Pooldns::start_with(options);
    wait_until("the alias to resolve", WAIT, || {
        addresses(&ask(&server, "alias.test", RecordType::A)) == ["192.0.2.10", "192.0.2.11"]
            && addresses(&ask(&server, "alias.test", RecordType::AAAA)) == ["2001:db8::10"]
    });
    let transfer = || testkit::dig::output(server.dns, &["alias.test", "AXFR", "+nocmd", "+nostats"]);
    let serial = || {
        let soa = testkit::dig::short(server.dns, "alias.test", "SOA");
        soa.first()
            .and_then(|soa| soa.split_whitespace().nth(2)?.parse::<u32>().ok())
    };
    let before = serial();
    let sent = transfer();
    assert!(sent.contains("192.0.2.10"), "the addresses go out: {sent}");

    move_target(&targets);
    wait_until("the serial to move on", WAIT, || {
        serial().is_some_and(|now| Some(now) > before)
    });
    let second = transfer();
    assert!(
        second.contains("192.0.2.12") && !second.contains("192.0.2.10"),
        "the new addresses go out: {second}"
    );
}
