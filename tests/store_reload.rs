//! Zone changes made with the command line while `pooldns serve` runs:
//! `zone import`, `zone import --replace` (visible within one second),
//! `zone list`, `zone export` and `zone delete` (the zone becomes REFUSED).
//!
//! The scenario runs against SQLite, and against PostgreSQL at
//! `POOLDNS_TEST_PG_URL` (for example `postgres://127.0.0.1:5432/test`;
//! required under CI).
//! Zone names are unique per run, so runs sharing a database do not see each
//! other's zones, and the zones are deleted at the end.

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};
use testkit::{decode, encode_query, next_id, parse_name, query, udp_exchange, Pooldns, PooldnsOptions, QueryOptions};

/// A record written by `zone import --replace` must be answered within this.
const VISIBLE_WITHIN: Duration = Duration::from_secs(1);
/// How often the server is asked whether a change is visible.
const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// How long to keep polling before declaring that a change never showed up.
const POLL_DEADLINE: Duration = Duration::from_secs(5);

/// A zone name no other test run uses.
fn unique_zone(tag: &str) -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    format!("{tag}-{}-{nanos}.reload.test.", std::process::id())
}

/// Zone file text for `zone` with `www` at `address` and one host per entry
/// of `hosts` (name, address).
fn zone_text(zone: &str, serial: u32, address: &str, hosts: &[(&str, &str)]) -> String {
    let mut text = format!(
        "$ORIGIN {zone}\n$TTL 300\n\
         @    SOA  ns1.{zone} hostmaster.{zone} {serial} 3600 900 604800 60\n\
         @    NS   ns1.{zone}\n\
         ns1  A    192.0.2.53\n\
         www  A    {address}\n"
    );
    for (name, address) in hosts {
        text.push_str(&format!("{name} A {address}\n"));
    }
    text
}

/// Writes `text` to `dir/NAME.zone` (NAME without the final dot).
fn write_zone(dir: &Path, zone: &str, text: &str) -> PathBuf {
    let path = dir.join(format!("{}.zone", zone.trim_end_matches('.')));
    fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    path
}

/// The A addresses in the answer of `reply`.
fn addresses(reply: &Message) -> Vec<String> {
    let mut list: Vec<String> = reply
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.to_string()),
            _ => None,
        })
        .collect();
    list.sort();
    list
}

/// Whether `name` is answered with exactly the A record `address`.
fn has_address(address: &'static str) -> impl Fn(&Message) -> bool {
    move |reply| reply.response_code == ResponseCode::NoError && addresses(reply) == [address]
}

fn has_rcode(rcode: ResponseCode) -> impl Fn(&Message) -> bool {
    move |reply| reply.response_code == rcode
}

/// Polls `name`/`qtype` every [`POLL_INTERVAL`] until `check` holds and
/// returns how long after `since` the first successful query was sent.
///
/// Panics if the change is not seen within [`POLL_DEADLINE`], or, when
/// `within` is given, if a query sent that long after `since` still got the
/// old answer.
fn wait_for(
    server: SocketAddr,
    name: &str,
    qtype: RecordType,
    since: Instant,
    within: Option<Duration>,
    what: &str,
    check: impl Fn(&Message) -> bool,
) -> Duration {
    let mut late_stale_answer = None;
    loop {
        let sent = since.elapsed();
        let reply = query(server, name, qtype, &QueryOptions::udp());
        if check(&reply) {
            if let Some((at, stale)) = late_stale_answer {
                panic!(
                    "{what}: visible only {sent:?} after the command returned; a query sent after {at:?} \
                     still got the old answer ({within:?} allowed):\n{stale}"
                );
            }
            println!("{what}: visible {sent:?} after the command returned");
            return sent;
        }
        if within.is_some_and(|limit| sent >= limit) && late_stale_answer.is_none() {
            late_stale_answer = Some((sent, format!("{reply:?}")));
        }
        assert!(
            sent < POLL_DEADLINE,
            "{what}: not visible {POLL_DEADLINE:?} after the command returned; last answer: {reply:?}"
        );
        thread::sleep(POLL_INTERVAL);
    }
}

/// Deletes the test zones from the store when the scenario ends, also when
/// it fails, so a shared PostgreSQL database does not accumulate them.
struct Cleanup<'a> {
    server: &'a Pooldns,
    zones: Vec<String>,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        for zone in &self.zones {
            let _ = self.server.cli(&["zone", "delete", zone]);
        }
    }
}

/// The whole import / replace / export / delete scenario against the store
/// at `store_url` (`None`: a fresh SQLite file).
fn reload_scenario(store_url: Option<String>, tag: &str) {
    let zones_dir = tempfile::tempdir().expect("create zones directory");
    let files = tempfile::tempdir().expect("create directory for zone files");
    let mut options = PooldnsOptions::new(zones_dir.path());
    options.store_url = store_url;
    let server = Pooldns::start_with(options);

    let zone = unique_zone(tag);
    let other = unique_zone(&format!("{tag}-other"));
    let _cleanup = Cleanup {
        server: &server,
        zones: vec![zone.clone(), other.clone()],
    };
    let label = |what: &str| format!("{tag}: {what}");
    let www = format!("www.{zone}");
    let old_host = format!("old.{zone}");
    let new_host = format!("added.{zone}");

    let reply = query(server.dns, &zone, RecordType::SOA, &QueryOptions::udp());
    assert_eq!(
        reply.response_code,
        ResponseCode::Refused,
        "{zone} served before it was imported"
    );

    // Import two zones while the server runs: one with --zone, one relying on
    // the $ORIGIN of its file.
    let v1 = write_zone(
        files.path(),
        &zone,
        &zone_text(&zone, 1, "192.0.2.1", &[("old", "192.0.2.9")]),
    );
    let other_file = write_zone(files.path(), &other, &zone_text(&other, 1, "192.0.2.100", &[]));
    server.cli_ok(&["zone", "import", v1.to_str().unwrap(), "--zone", &zone]);
    let t0 = Instant::now();
    server.cli_ok(&["zone", "import", other_file.to_str().unwrap()]);
    let t1 = Instant::now();
    wait_for(
        server.dns,
        &www,
        RecordType::A,
        t0,
        None,
        &label("imported zone"),
        has_address("192.0.2.1"),
    );
    wait_for(
        server.dns,
        &old_host,
        RecordType::A,
        t0,
        None,
        &label("imported zone"),
        has_address("192.0.2.9"),
    );
    wait_for(
        server.dns,
        &format!("www.{other}"),
        RecordType::A,
        t1,
        None,
        &label("zone imported without --zone"),
        has_address("192.0.2.100"),
    );

    let list = server.cli_ok(&["zone", "list"]);
    for name in [&zone, &other] {
        let bare = name.trim_end_matches('.');
        assert!(
            list.lines().any(|line| line.contains(bare)),
            "zone list does not show {name}:\n{list}"
        );
    }
    let export = server.cli_ok(&["zone", "export", &zone]);
    assert!(
        export.contains("192.0.2.1"),
        "zone export lacks www's address:\n{export}"
    );
    assert!(
        export.contains("192.0.2.9"),
        "zone export lacks old's address:\n{export}"
    );
    assert!(export.contains("SOA"), "zone export lacks the SOA:\n{export}");

    // Replace the zone: www changes, old goes away, added appears.
    let v2 = write_zone(
        files.path(),
        &zone,
        &zone_text(&zone, 2, "192.0.2.2", &[("added", "192.0.2.3")]),
    );
    // Without --replace, importing over an existing zone is an error and
    // changes nothing.
    let refused = server.cli(&["zone", "import", v2.to_str().unwrap(), "--zone", &zone]);
    assert!(
        !refused.status.success(),
        "zone import over an existing zone without --replace succeeded:\n{}",
        String::from_utf8_lossy(&refused.stdout)
    );
    let reply = query(server.dns, &www, RecordType::A, &QueryOptions::udp());
    assert!(
        has_address("192.0.2.1")(&reply),
        "failed import changed the zone: {reply:?}"
    );

    server.cli_ok(&["zone", "import", v2.to_str().unwrap(), "--zone", &zone, "--replace"]);
    let t2 = Instant::now();
    let seen = wait_for(
        server.dns,
        &www,
        RecordType::A,
        t2,
        Some(VISIBLE_WITHIN),
        &label("changed record after --replace"),
        has_address("192.0.2.2"),
    );
    wait_for(
        server.dns,
        &new_host,
        RecordType::A,
        t2,
        Some(VISIBLE_WITHIN),
        &label("added record after --replace"),
        has_address("192.0.2.3"),
    );
    wait_for(
        server.dns,
        &old_host,
        RecordType::A,
        t2,
        Some(VISIBLE_WITHIN),
        &label("removed record after --replace"),
        has_rcode(ResponseCode::NXDomain),
    );
    let soa = query(server.dns, &zone, RecordType::SOA, &QueryOptions::udp());
    match soa.answers.first().map(|r| &r.data) {
        Some(RData::SOA(soa)) => assert_eq!(soa.serial, 2, "SOA serial after --replace"),
        _ => panic!("no SOA after --replace: {soa:?}"),
    }
    println!("{tag}: --replace visible after {seen:?}");

    let export = server.cli_ok(&["zone", "export", &zone]);
    assert!(
        export.contains("192.0.2.2") && !export.contains("192.0.2.9"),
        "zone export after --replace:\n{export}"
    );

    // Delete one zone: it becomes REFUSED, the other stays.
    server.cli_ok(&["zone", "delete", &zone]);
    let t3 = Instant::now();
    wait_for(
        server.dns,
        &www,
        RecordType::A,
        t3,
        None,
        &label("deleted zone"),
        has_rcode(ResponseCode::Refused),
    );
    let reply = query(server.dns, &zone, RecordType::SOA, &QueryOptions::tcp());
    assert_eq!(
        reply.response_code,
        ResponseCode::Refused,
        "SOA of the deleted zone over TCP"
    );
    assert!(!reply.authoritative, "REFUSED answer with AA set");
    let reply = query(server.dns, &format!("www.{other}"), RecordType::A, &QueryOptions::udp());
    assert!(
        has_address("192.0.2.100")(&reply),
        "deleting {zone} affected {other}: {reply:?}"
    );
    let list = server.cli_ok(&["zone", "list"]);
    assert!(
        !list.contains(zone.trim_end_matches('.')),
        "zone list still shows the deleted {zone}:\n{list}"
    );
}

#[test]
fn zone_changes_reach_a_running_server_sqlite() {
    reload_scenario(None, "sqlite");
}

#[test]
fn zone_changes_reach_a_running_server_postgres() {
    let Some(url) = testkit::postgres_url("zone_changes_reach_a_running_server_postgres") else {
        return;
    };
    reload_scenario(Some(url), "pg");
}

#[test]
fn a_large_zone_loading_holds_back_no_other_zone() {
    // A signed zone of 200,000 names takes seconds to build; a small zone
    // beside it is answered long before, and the large one SERVFAIL until
    // it is ready (never REFUSED, which would say it is not ours).
    let zones = tempfile::tempdir().expect("temp dir");
    let mut big = String::from(
        "$ORIGIN big.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 900 1209600 300\n@ NS ns1\nns1 A 192.0.2.53\n",
    );
    for i in 0..200_000 {
        big.push_str(&format!("h{i} A 10.{}.{}.{}\n", i / 65536, i / 256 % 256, i % 256));
    }
    std::fs::write(zones.path().join("big.test.zone"), big).expect("zone file");
    std::fs::write(
        zones.path().join("small.test.zone"),
        "$ORIGIN small.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 900 1209600 300\n@ NS ns1\nns1 A 192.0.2.53\n",
    )
    .expect("zone file");
    let mut server = Pooldns::start(zones.path());
    server.cli_ok(&["zone", "secure", "big.test"]);
    server.kill();
    let mut options = PooldnsOptions::new(zones.path());
    options.wait_ready = false;
    options.store_url = Some(format!("sqlite://{}", server.dir().join("pooldns.db").display()));
    // Signed from nothing: none of the first server's signatures.
    let signatures = tempfile::tempdir().expect("temp dir");
    options.extra_config = format!(
        "\n[dnssec]\nsignature_cache_dir = \"{}\"\n",
        signatures.path().display()
    );
    let restarted = Pooldns::start_with(options);
    let rcode = |name: &str| {
        let query = encode_query(next_id(), &parse_name(name), RecordType::SOA, &QueryOptions::udp());
        udp_exchange(restarted.dns, &query, Duration::from_secs(2))
            .ok()
            .flatten()
            .map(|reply| decode(&reply).response_code)
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while rcode("small.test") != Some(ResponseCode::NoError) {
        assert!(Instant::now() < deadline, "the small zone was never answered");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(rcode("big.test"), Some(ResponseCode::ServFail), "still loading");
    let ready = restarted.http_get("/readyz");
    assert_eq!(ready.status, 503, "{}", ready.body);
    while rcode("big.test") != Some(ResponseCode::NoError) {
        assert!(Instant::now() < deadline, "the large zone was never answered");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(rcode("other.test"), Some(ResponseCode::Refused), "not ours");
}

#[test]
fn signatures_are_kept_across_a_restart() {
    // ECDSA signatures are randomised: the same RRSIG after a restart is
    // one read back, not made again.
    let zones = tempfile::tempdir().expect("temp dir");
    let mut text = String::from(
        "$ORIGIN kept.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 900 1209600 300\n@ NS ns1\nns1 A 192.0.2.53\n",
    );
    for i in 0..2_000 {
        text.push_str(&format!("h{i} A 10.0.{}.{}\n", i / 256, i % 256));
    }
    std::fs::write(zones.path().join("kept.test.zone"), text).expect("zone file");
    let mut server = Pooldns::start(zones.path());
    server.cli_ok(&["zone", "secure", "kept.test"]);
    let rrsig = |server: &Pooldns| -> Option<String> {
        testkit::dig::dnssec_answer(server.dns, "h1999.kept.test", "A")
            .into_iter()
            .find(|line| line.contains("RRSIG"))
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let before = loop {
        if let Some(signature) = rrsig(&server) {
            break signature;
        }
        assert!(Instant::now() < deadline, "the zone was never signed");
        thread::sleep(Duration::from_millis(100));
    };
    assert!(before.contains(" A 13 "), "ECDSAP256SHA256: {before}");
    server.terminate(Duration::from_secs(20));
    server.restart();
    assert_eq!(rrsig(&server).as_deref(), Some(before.as_str()), "the same signature");
    let log = server.log_text();
    let read = log
        .lines()
        .rfind(|line| line.contains("signature cache read"))
        .and_then(|line| {
            line.split("signatures=")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse::<usize>()
                .ok()
        });
    assert!(
        read.is_some_and(|read| read > 2_000),
        "signatures read back: {read:?}\n{log}"
    );
    // Starting, the zone is served once built and signed meanwhile.
    let deadline = Instant::now() + Duration::from_secs(60);
    let log = loop {
        let log = server.log_text();
        if log.contains("zone signed") {
            break log;
        }
        assert!(Instant::now() < deadline, "the zone was never signed in full:\n{log}");
        thread::sleep(Duration::from_millis(100));
    };
    let loaded = log.rfind("zone loaded zone=kept.test.").expect("loaded");
    let signed = log.rfind("zone signed zone=kept.test.").expect("signed");
    assert!(loaded < signed, "served before signed in full:\n{log}");
}
