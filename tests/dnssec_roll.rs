//! Key rollovers carried out by a running server, judged by delv: ZSK
//! pre-publication (also killed with SIGKILL in each phase), a CSK roll followed by a parent served alongside (with
//! a restart in the middle), a KSK roll that waits for a parent served
//! elsewhere, and the misuse that must be refused.
//!
//! Zones use 2-second TTLs and a 1-second propagation delay, so each roll
//! takes seconds.

use std::fs;
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use testkit::delv::{anchor_file, validates};
use testkit::{Pooldns, PooldnsOptions};

/// How long a whole roll may take before the test gives up.
const ROLL_DEADLINE: Duration = Duration::from_secs(90);

/// `[dnssec]` for fast rolls, plus `extra`.
fn fast_rolls(extra: &str) -> String {
    format!("\n[dnssec]\npropagation_delay = 1\n{extra}")
}

/// A zone with 2-second TTLs; `body` is appended.
fn zone_text(origin: &str, body: &str) -> String {
    format!("$ORIGIN {origin}.\n$TTL 2\n@ SOA ns1 hostmaster 1 3600 600 86400 2\n@ NS ns1\nns1 A 192.0.2.1\nwww A 192.0.2.80\n{body}")
}

/// Writes zone files into a new directory.
fn zones_dir(files: &[(&str, String)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text) in files {
        fs::write(dir.path().join(format!("{name}.zone")), text).expect("zone written");
    }
    dir
}

/// Options serving `zones` from the SQLite file `store`, with fast rolls.
fn options(zones: &Path, store: &Path, extra: &str) -> PooldnsOptions {
    let mut options = PooldnsOptions::new(zones);
    options.store_url = Some(format!("sqlite://{}", store.display()));
    options.extra_config = fast_rolls(extra);
    options
}

/// The records dig shows for `name` and `qtype`, one per line.
fn dig_short(server: &Pooldns, name: &str, qtype: &str) -> Vec<String> {
    let output = Command::new(testkit::require("dig", "bind9-dnsutils"))
        .args([&format!("@{}", server.dns.ip()), "-p", &server.dns.port().to_string()])
        .args([name, qtype, "+short", "+norec"])
        .output()
        .expect("dig runs");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// The zone's DNSKEY RRset as served (dig's text): (flags, key) pairs.
fn dnskeys(server: &Pooldns, zone: &str) -> Vec<(u16, String)> {
    let mut keys: Vec<(u16, String)> = dig_short(server, zone, "DNSKEY")
        .into_iter()
        .filter_map(|line| {
            let flags = line.split_whitespace().next()?.parse().ok()?;
            Some((flags, line))
        })
        .collect();
    keys.sort();
    keys
}

/// `key list` output of a running server's store.
fn key_list(server: &Pooldns, zone: &str) -> String {
    server.cli_ok(&["key", "list", zone])
}

/// The phase named in `key list` output, if a roll is in progress.
fn roll_phase(list: &str) -> Option<String> {
    let line = list.lines().find(|line| line.starts_with("roll:"))?;
    line.split("phase ").nth(1)?.split(',').next().map(str::to_string)
}

/// Polls until no roll is in progress, checking `during` on every round;
/// returns the phases seen, in order.
fn wait_for_roll(server: &Pooldns, zone: &str, mut during: impl FnMut(&str)) -> Vec<String> {
    let deadline = Instant::now() + ROLL_DEADLINE;
    let mut phases: Vec<String> = Vec::new();
    loop {
        let list = key_list(server, zone);
        match roll_phase(&list) {
            None => return phases,
            Some(phase) => {
                if phases.last() != Some(&phase) {
                    phases.push(phase.clone());
                }
                during(&phase);
            }
        }
        assert!(
            Instant::now() < deadline,
            "roll of {zone} did not finish; last key list:\n{list}"
        );
        thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn zsk_roll_completes_and_validates_throughout() {
    let zones = zones_dir(&[("roll.test", zone_text("roll.test", ""))]);
    let store = tempfile::tempdir().expect("temp dir");
    let server = Pooldns::start_with(options(zones.path(), &store.path().join("p.db"), ""));
    server.cli_ok(&["zone", "secure", "roll.test", "--split"]);
    wait_until(|| dnskeys(&server, "roll.test").len() == 2, "zone signed");
    let before = dnskeys(&server, "roll.test");
    let anchors = anchor_file(server.dns, "roll.test", store.path());
    validates(server.dns, &anchors, "roll.test", "www.roll.test").expect("validates before the roll");

    let started = server.cli_ok(&["key", "roll", "roll.test"]);
    assert!(started.contains("ZSK roll"), "{started}");
    let mut largest = 0;
    let mut in_metrics = false;
    let phases = wait_for_roll(&server, "roll.test", |phase| {
        let metrics = server.http_get("/metrics").body;
        in_metrics |= metrics.contains(&format!(
            "pooldns_dnssec_roll{{zone=\"roll.test.\",role=\"zsk\",phase=\"{phase}\"}} 1"
        ));
        largest = largest.max(dnskeys(&server, "roll.test").len());
        if let Err(text) = validates(server.dns, &anchors, "roll.test", "www.roll.test") {
            panic!("validation failed during the roll:\n{text}");
        }
    });
    assert!(phases.contains(&"retire".to_string()), "phases seen: {phases:?}");
    assert!(in_metrics, "the roll's phase shows in /metrics");
    assert_eq!(largest, 3, "old and new ZSK were published together");
    wait_until(|| dnskeys(&server, "roll.test").len() == 2, "old ZSK withdrawn");
    let after = dnskeys(&server, "roll.test");
    assert_eq!(after.len(), 2, "{after:?}");
    let with_flags = |keys: &[(u16, String)], flags: u16| keys.iter().find(|key| key.0 == flags).cloned();
    assert_eq!(with_flags(&after, 257), with_flags(&before, 257), "the KSK stays");
    assert_ne!(with_flags(&after, 256), with_flags(&before, 256), "the ZSK changed");
    validates(server.dns, &anchors, "roll.test", "www.roll.test").expect("validates after the roll");
}

#[test]
fn a_zsk_roll_killed_in_each_phase_resumes_and_validates() {
    let zones = zones_dir(&[("kill.test", zone_text("kill.test", ""))]);
    let store = tempfile::tempdir().expect("temp dir");
    let mut server = Pooldns::start_with(options(zones.path(), &store.path().join("p.db"), ""));
    server.cli_ok(&["zone", "secure", "kill.test", "--split"]);
    wait_until(|| dnskeys(&server, "kill.test").len() == 2, "zone signed");
    let before = dnskeys(&server, "kill.test");
    let anchors = anchor_file(server.dns, "kill.test", store.path());
    server.cli_ok(&["key", "roll", "kill.test"]);

    // SIGKILL once in every phase the roll passes through; each time the
    // restarted server validates at once and the roll goes on.
    let deadline = Instant::now() + ROLL_DEADLINE;
    let mut killed_in: Vec<String> = Vec::new();
    while let Some(phase) = roll_phase(&key_list(&server, "kill.test")) {
        if !killed_in.contains(&phase) {
            server.kill();
            server.restart();
            if let Err(text) = validates(server.dns, &anchors, "kill.test", "www.kill.test") {
                panic!("validation failed after a kill in phase {phase}:\n{text}");
            }
            killed_in.push(phase);
        }
        assert!(
            Instant::now() < deadline,
            "the roll did not finish; killed in {killed_in:?}"
        );
        thread::sleep(Duration::from_millis(300));
    }
    assert!(killed_in.len() >= 2, "killed in {killed_in:?}");
    wait_until(|| dnskeys(&server, "kill.test").len() == 2, "old ZSK withdrawn");
    let after = dnskeys(&server, "kill.test");
    assert_ne!(after, before, "the ZSK changed");
    validates(server.dns, &anchors, "kill.test", "www.kill.test").expect("validates after the roll");
    println!("killed in phases {killed_in:?}");
}

#[test]
fn csk_roll_follows_a_local_parent_and_survives_a_restart() {
    let zones = zones_dir(&[
        ("p.test", zone_text("p.test", "c NS ns1.c\nns1.c A 192.0.2.2\n")),
        ("c.p.test", zone_text("c.p.test", "")),
    ]);
    let store = tempfile::tempdir().expect("temp dir");
    let store_file = store.path().join("p.db");
    let server = Pooldns::start_with(options(zones.path(), &store_file, ""));
    server.cli_ok(&["zone", "secure", "p.test"]);
    server.cli_ok(&["zone", "secure", "c.p.test"]);
    wait_until(|| !dnskeys(&server, "c.p.test").is_empty(), "child signed");
    let parent_anchor = anchor_file(server.dns, "p.test", store.path());
    wait_until(
        || validates(server.dns, &parent_anchor, "p.test", "www.c.p.test").is_ok(),
        "chain from the parent before the roll",
    );
    let old_ds = server.cli_ok(&["zone", "ds", "c.p.test"]);

    let started = server.cli_ok(&["key", "roll", "c.p.test"]);
    assert!(started.contains("CSK roll"), "{started}");
    // Stop the server while the roll is under way; the store carries it.
    drop(server);
    thread::sleep(Duration::from_secs(2));
    let server = Pooldns::start_with(options(zones.path(), &store_file, ""));
    let phases = wait_for_roll(&server, "c.p.test", |_| {});
    assert!(!phases.is_empty() || key_list(&server, "c.p.test").lines().count() == 2);

    let new_ds = server.cli_ok(&["zone", "ds", "c.p.test"]);
    assert_ne!(old_ds, new_ds, "the CSK changed");
    wait_until(
        || dig_short(&server, "c.p.test", "DS").len() == 1,
        "the parent's DS set follows",
    );
    let served_ds = dig_short(&server, "c.p.test", "DS");
    let tag = new_ds.split_whitespace().nth(4).expect("key tag");
    assert!(
        served_ds.iter().any(|ds| ds.starts_with(&format!("{tag} "))),
        "the parent serves the new DS: {served_ds:?}"
    );
    assert_eq!(served_ds.len(), 1, "and only it: {served_ds:?}");
    wait_until(
        || validates(server.dns, &parent_anchor, "p.test", "www.c.p.test").is_ok(),
        "chain from the parent after the roll",
    );
}

#[test]
fn ksk_roll_waits_for_a_parent_served_elsewhere() {
    let child_zones = zones_dir(&[("kid.remote.test", zone_text("kid.remote.test", ""))]);
    let store = tempfile::tempdir().expect("temp dir");
    // The parent first, with no DS yet; the child's server asks it.
    let parent_text = |ds: &str| zone_text("remote.test", &format!("kid NS ns1.kid\nns1.kid A 192.0.2.2\n{ds}"));
    let parent_zones = zones_dir(&[("remote.test", parent_text(""))]);
    let parent = Pooldns::start_with(options(parent_zones.path(), &store.path().join("parent.db"), ""));
    // The child's resolver lies: it claims whatever DS the roll waits for.
    let forger = Forger::start();
    let child = Pooldns::start_with(options(
        child_zones.path(),
        &store.path().join("child.db"),
        &format!(
            "parent_resolver = \"{}\"\nparent_port = {}\n",
            forger.address,
            parent.dns.port()
        ),
    ));
    child.cli_ok(&["zone", "secure", "kid.remote.test", "--split"]);
    let publish_ds = |ds: &str| {
        let file = store.path().join("remote.test.zone");
        let record = ds.trim().replace("kid.remote.test. 3600 IN DS", "kid 2 IN DS");
        fs::write(&file, parent_text(&format!("{record}\n"))).expect("parent zone written");
        parent.cli_ok(&["zone", "import", file.to_str().expect("utf-8"), "--replace"]);
    };
    publish_ds(&child.cli_ok(&["zone", "ds", "kid.remote.test"]));
    wait_until(|| dnskeys(&child, "kid.remote.test").len() == 2, "child signed");

    let before_roll = child.cli_ok(&["zone", "ds", "kid.remote.test"]);
    child.cli_ok(&["key", "roll", "kid.remote.test", "--role", "ksk"]);
    // While the new KSK is only being published, the parent should keep
    // the old DS: zone ds follows CDS, not the DNSKEY set.
    assert_eq!(child.cli_ok(&["zone", "ds", "kid.remote.test"]), before_roll);
    wait_until(
        || roll_phase(&key_list(&child, "kid.remote.test")).as_deref() == Some("ds-wait"),
        "ds-wait",
    );
    // The resolver now forges the new DS (public in the CDS records), with
    // TTL 0, after a stray answer with another ID; only the parent's own
    // server counts, and it still has the old DS: the roll must hold, old
    // KSK kept.
    forger.forge_ds(&child.cli_ok(&["zone", "ds", "kid.remote.test"]));
    thread::sleep(Duration::from_secs(6));
    let list = key_list(&child, "kid.remote.test");
    assert_eq!(roll_phase(&list).as_deref(), Some("ds-wait"), "{list}");
    assert!(list.contains("waiting for the parent"), "{list}");
    assert_eq!(
        dnskeys(&child, "kid.remote.test")
            .iter()
            .filter(|(flags, _)| *flags == 257)
            .count(),
        2
    );

    // The registrar (here: the parent's operator) switches the DS.
    publish_ds(&child.cli_ok(&["zone", "ds", "kid.remote.test"]));
    wait_for_roll(&child, "kid.remote.test", |_| {});
    // The server serves the finished state once it has rebuilt the zone.
    wait_until(
        || {
            dnskeys(&child, "kid.remote.test")
                .iter()
                .filter(|(flags, _)| *flags == 257)
                .count()
                == 1
        },
        "old KSK withdrawn",
    );
    let keys = dnskeys(&child, "kid.remote.test");
    assert_eq!(
        keys.iter().filter(|(flags, _)| *flags == 257).count(),
        1,
        "old KSK retired: {keys:?}"
    );
    assert!(forger.queries() > 0, "the resolver found the parent's servers");
}

/// A resolver that points `remote.test` at one server, 127.0.0.1, and
/// answers DS queries with a forged DS set once told to.
struct Forger {
    address: SocketAddr,
    ds: Arc<Mutex<Option<Vec<u8>>>>,
    queries: Arc<AtomicUsize>,
}

impl Forger {
    fn start() -> Forger {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let address = socket.local_addr().expect("address");
        let ds: Arc<Mutex<Option<Vec<u8>>>> = Arc::default();
        let queries = Arc::new(AtomicUsize::new(0));
        let (forged, counter) = (ds.clone(), queries.clone());
        thread::spawn(move || {
            let mut buffer = [0u8; 512];
            while let Ok((length, peer)) = socket.recv_from(&mut buffer) {
                let query = &buffer[..length];
                counter.fetch_add(1, Ordering::Relaxed);
                let Some(question_end) = query.get(12..).and_then(|rest| rest.iter().position(|&b| b == 0)) else {
                    continue;
                };
                let question_end = 12 + question_end + 5;
                let Some(qtype) = query.get(question_end - 4..question_end) else {
                    continue;
                };
                let qtype = u16::from_be_bytes([qtype[0], qtype[1]]);
                let mut answers: Vec<Vec<u8>> = Vec::new();
                let mut additional: Vec<Vec<u8>> = Vec::new();
                match qtype {
                    2 => {
                        answers.push(record(&[0xc0, 12], 2, 60, &wire("ns1.remote.test")));
                        additional.push(record(&wire("ns1.remote.test"), 1, 60, &[127, 0, 0, 1]));
                    }
                    43 => {
                        if let Some(rdata) = forged.lock().expect("lock").clone() {
                            answers.push(record(&[0xc0, 12], 43, 0, &rdata));
                        }
                    }
                    _ => {}
                }
                let mut reply = query[..question_end].to_vec();
                reply[2] = 0x84 | (query[2] & 0x01);
                reply[3] = 0x80;
                reply[6..8].copy_from_slice(&(answers.len() as u16).to_be_bytes());
                reply[8..10].copy_from_slice(&[0, 0]);
                reply[10..12].copy_from_slice(&(additional.len() as u16).to_be_bytes());
                reply.extend(answers.concat());
                reply.extend(additional.concat());
                let mut stray = reply.clone();
                stray[1] ^= 0x5a;
                let _ = socket.send_to(&stray, peer);
                let _ = socket.send_to(&reply, peer);
            }
        });
        Forger { address, ds, queries }
    }

    /// Forges the DS of `zone_ds` (`pooldns zone ds` output) from now on.
    fn forge_ds(&self, zone_ds: &str) {
        let fields: Vec<&str> = zone_ds.lines().last().expect("a DS").split_whitespace().collect();
        let [.., tag, algorithm, digest_type, digest] = fields[..] else {
            panic!("not a DS line: {zone_ds}");
        };
        let mut rdata = tag.parse::<u16>().expect("tag").to_be_bytes().to_vec();
        rdata.push(algorithm.parse().expect("algorithm"));
        rdata.push(digest_type.parse().expect("digest type"));
        rdata.extend(
            (0..digest.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&digest[i..i + 2], 16).expect("hex")),
        );
        *self.ds.lock().expect("lock") = Some(rdata);
    }

    fn queries(&self) -> usize {
        self.queries.load(Ordering::Relaxed)
    }
}

fn wire(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for label in name.split('.') {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out
}

fn record(owner: &[u8], rtype: u16, ttl: u32, rdata: &[u8]) -> Vec<u8> {
    let mut out = owner.to_vec();
    out.extend_from_slice(&rtype.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&ttl.to_be_bytes());
    out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    out.extend_from_slice(rdata);
    out
}

#[test]
fn roll_misuse_is_refused() {
    let zones = zones_dir(&[("misuse.test", zone_text("misuse.test", ""))]);
    let store = tempfile::tempdir().expect("temp dir");
    let server = Pooldns::start_with(options(zones.path(), &store.path().join("p.db"), ""));
    let refused = |args: &[&str], expected: &str| {
        let output = server.cli(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "pooldns {args:?} must fail");
        assert!(
            stderr.contains(expected),
            "pooldns {args:?}: expected {expected:?} in {stderr}"
        );
    };
    refused(&["key", "roll", "misuse.test"], "not secured");
    server.cli_ok(&["zone", "secure", "misuse.test"]);
    refused(&["key", "remove", "misuse.test", "1"], "last active key");
    refused(&["key", "remove", "misuse.test", "99"], "no key 99");
    server.cli_ok(&["key", "roll", "misuse.test"]);
    refused(&["key", "roll", "misuse.test"], "already in progress");
    refused(&["key", "remove", "misuse.test", "2"], "rollover in progress");
    let list = key_list(&server, "misuse.test");
    assert_eq!(
        list.lines().filter(|line| line.contains("CSK")).count(),
        3,
        "nothing changed: {list}"
    );
}

/// Polls `check` every 200 ms for up to 30 s.
fn wait_until(mut check: impl FnMut() -> bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        thread::sleep(Duration::from_millis(200));
    }
}
