//! RFC 2136 UPDATE with TSIG against a running `pooldns serve`, driven by
//! BIND's nsupdate (which also checks the signatures of the answers):
//! additions and deletions over UDP and TCP, the five prerequisite kinds,
//! grants, and every refusal changing nothing.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use testkit::{Pooldns, PooldnsOptions};

const SECRET: &str = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ=";
const OTHER_SECRET: &str = "b3RoZXItb3RoZXItb3RoZXItb3RoZXItb3RoZXItMTI=";

const ZONE: &str = "$ORIGIN upd.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 900 1209600 300\n@ NS ns1\n\
                    ns1 A 192.0.2.53\nkeep A 192.0.2.1\nalias CNAME keep\n";

struct Server {
    server: Pooldns,
    _dir: tempfile::TempDir,
}

fn start() -> Server {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("upd.test.zone"), ZONE).expect("zone");
    std::fs::write(
        dir.path().join("other.test.zone"),
        ZONE.replace("upd.test.", "other.test."),
    )
    .expect("zone");
    let mut options = PooldnsOptions::new(dir.path());
    options.extra_config = format!(
        "\n[[tsig]]\nname = \"acme-update\"\nalgorithm = \"hmac-sha256\"\nsecret = \"{SECRET}\"\n\
         [[tsig]]\nname = \"old-client\"\nalgorithm = \"hmac-sha1\"\nsecret = \"{OTHER_SECRET}\"\n\
         [[update.grants]]\nkey = \"acme-update\"\nzone = \"upd.test\"\nnames = [\"_acme-challenge.*\", \"www\", \"alias\", \"keep\", \"@\"]\n\
         types = [\"TXT\", \"A\", \"AAAA\", \"NS\"]\n\
         [[update.grants]]\nkey = \"old-client\"\nzone = \"upd.test\"\nnames = [\"legacy\"]\n\
         [[update.grants]]\nkey = \"cli-key\"\nzone = \"upd.test\"\nnames = [\"stored\"]\ntypes = [\"TXT\"]\n"
    );
    Server {
        server: Pooldns::start_with(options),
        _dir: dir,
    }
}

impl Server {
    /// Runs nsupdate with `commands` (server and zone lines added);
    /// returns whether it succeeded and what it printed.
    fn nsupdate(&self, key: Option<&str>, tcp: bool, commands: &str) -> (bool, String) {
        let mut command = Command::new(testkit::require("nsupdate", "bind9-dnsutils"));
        if let Some(key) = key {
            command.args(["-y", key]);
        }
        if tcp {
            command.arg("-v");
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("nsupdate runs");
        let script = format!(
            "server {} {}\nzone upd.test\n{commands}\nsend\n",
            self.server.dns.ip(),
            self.server.dns.port()
        );
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(script.as_bytes())
            .expect("script");
        let output = child.wait_with_output().expect("nsupdate ends");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (output.status.success(), text)
    }

    fn dig(&self, name: &str, qtype: &str) -> Vec<String> {
        testkit::dig::short(self.server.dns, name, qtype)
    }

    fn wait_dig(&self, name: &str, qtype: &str, wanted: &[&str]) {
        testkit::dig::wait_short(self.server.dns, name, qtype, wanted)
    }

    fn serial(&self) -> String {
        self.server
            .cli_ok(&["zone", "export", "upd.test"])
            .lines()
            .find(|line| line.contains(" SOA "))
            .and_then(|line| line.split_whitespace().nth(6))
            .expect("serial")
            .to_string()
    }
}

fn key() -> String {
    format!("hmac-sha256:acme-update:{SECRET}")
}

#[test]
fn nsupdate_adds_and_deletes_over_udp_and_tcp() {
    let pooldns = start();
    let serial = pooldns.serial();
    let (ok, text) = pooldns.nsupdate(
        Some(&key()),
        false,
        "update add _acme-challenge.www.upd.test. 60 TXT \"token-1\"\nupdate add www.upd.test. 60 A 192.0.2.80",
    );
    assert!(ok, "{text}");
    pooldns.wait_dig("_acme-challenge.www.upd.test", "TXT", &["\"token-1\""]);
    pooldns.wait_dig("www.upd.test", "A", &["192.0.2.80"]);
    assert_ne!(pooldns.serial(), serial, "the serial moved");

    // Over TCP: one value deleted, another added, in one message.
    let (ok, text) = pooldns.nsupdate(
        Some(&key()),
        true,
        "update add _acme-challenge.www.upd.test. 60 TXT \"token-2\"\nupdate delete _acme-challenge.www.upd.test. TXT \"token-1\"",
    );
    assert!(ok, "{text}");
    pooldns.wait_dig("_acme-challenge.www.upd.test", "TXT", &["\"token-2\""]);
    let (ok, text) = pooldns.nsupdate(Some(&key()), false, "update delete _acme-challenge.www.upd.test. TXT");
    assert!(ok, "{text}");
    pooldns.wait_dig("_acme-challenge.www.upd.test", "TXT", &[]);

    // hmac-sha1 for old clients, within its own grant.
    let (ok, text) = pooldns.nsupdate(
        Some(&format!("hmac-sha1:old-client:{OTHER_SECRET}")),
        false,
        "update add legacy.upd.test. 60 TXT \"old\"",
    );
    assert!(ok, "{text}");
    pooldns.wait_dig("legacy.upd.test", "TXT", &["\"old\""]);
}

#[test]
fn prerequisites_and_the_rules_of_section_3_4() {
    let pooldns = start();
    let update = |commands: &str| pooldns.nsupdate(Some(&key()), false, commands);
    // The five prerequisite kinds, each failing, then holding.
    for (prerequisite, rcode) in [
        ("prereq yxdomain nothing.upd.test.", "NXDOMAIN"),
        ("prereq yxrrset keep.upd.test. AAAA", "NXRRSET"),
        ("prereq nxdomain keep.upd.test.", "YXDOMAIN"),
        ("prereq nxrrset keep.upd.test. A", "YXRRSET"),
        ("prereq yxrrset keep.upd.test. A 192.0.2.99", "NXRRSET"),
    ] {
        let serial = pooldns.serial();
        let (ok, text) = update(&format!("{prerequisite}\nupdate add www.upd.test. 60 A 192.0.2.7"));
        assert!(!ok && text.contains(rcode), "{prerequisite}: {text}");
        assert_eq!(pooldns.serial(), serial, "{prerequisite} changed nothing");
    }
    assert!(pooldns.dig("www.upd.test", "A").is_empty());
    let (ok, text) = update(
        "prereq yxdomain keep.upd.test.\nprereq yxrrset keep.upd.test. A\nprereq nxdomain www.upd.test.\n\
         prereq nxrrset keep.upd.test. AAAA\nprereq yxrrset keep.upd.test. A 192.0.2.1\n\
         update add www.upd.test. 60 A 192.0.2.7",
    );
    assert!(ok, "{text}");
    pooldns.wait_dig("www.upd.test", "A", &["192.0.2.7"]);

    // CNAME exclusivity: an A beside the CNAME is ignored, not an error.
    let (ok, text) = update("update add alias.upd.test. 60 A 192.0.2.9");
    assert!(ok, "{text}");
    let export = pooldns.server.cli_ok(&["zone", "export", "upd.test"]);
    assert!(!export.contains("alias.upd.test. 60 IN A"), "{export}");
    // The apex keeps its last NS, and its NS RRset is never deleted whole.
    let (ok, text) = update("update delete upd.test. NS ns1.upd.test.\nupdate delete upd.test. NS");
    assert!(ok, "{text}");
    assert_eq!(pooldns.dig("upd.test", "NS"), ["ns1.upd.test."]);
    assert_eq!(pooldns.dig("upd.test", "SOA").len(), 1);
}

#[test]
fn refusals_change_nothing() {
    let pooldns = start();
    let serial = pooldns.serial();
    let add = "update add www.upd.test. 60 A 192.0.2.66";
    let cases = [
        (None, add.to_string(), "REFUSED", "unsigned"),
        (
            Some(format!("hmac-sha256:acme-update:{OTHER_SECRET}")),
            add.to_string(),
            "BADSIG",
            "bad signature",
        ),
        (
            Some(format!("hmac-sha256:nobody:{SECRET}")),
            add.to_string(),
            "BADKEY",
            "unknown key",
        ),
        (
            Some(key()),
            "update add other.upd.test. 60 TXT \"x\"".to_string(),
            "REFUSED",
            "name outside the grant",
        ),
        (
            Some(key()),
            "update add www.upd.test. 60 MX 10 mail.upd.test.".to_string(),
            "REFUSED",
            "type outside the grant",
        ),
        (
            Some(key()),
            "update add www.elsewhere.test. 60 A 192.0.2.1".to_string(),
            "NOTZONE",
            "name outside the zone",
        ),
    ];
    for (key, commands, expected, what) in cases {
        let (ok, text) = pooldns.nsupdate(key.as_deref(), false, &commands);
        assert!(!ok && text.contains(expected), "{what}: {text}");
    }

    // A TTL past 2^31 - 1 (RFC 2181 §8), which nsupdate will not send:
    // found by fuzzing, it was stored and kept the zone from loading.
    let mut message = Message::new(4243, MessageType::Query, OpCode::Update);
    message.add_query(Query::query(
        Name::from_ascii("upd.test.").expect("name"),
        RecordType::SOA,
    ));
    message.authorities.push(Record::from_rdata(
        Name::from_ascii("www.upd.test.").expect("name"),
        4_164_354_348,
        RData::A("192.0.2.66".parse().expect("address")),
    ));
    let mut wire = message.to_vec().expect("encode");
    sign(
        &mut wire,
        SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs(),
    );
    let answer = testkit::udp_exchange(pooldns.server.dns, &wire, Duration::from_secs(5))
        .expect("exchange")
        .expect("an answer");
    assert_eq!(answer[3] & 0x0f, 1, "FORMERR");

    assert_eq!(pooldns.serial(), serial, "nothing changed");
    assert!(pooldns.dig("www.upd.test", "A").is_empty());

    // A zone that is served but not granted, and one not served at all.
    let other = Command::new(testkit::require("nsupdate", "bind9-dnsutils"))
        .args(["-y", &key()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            let script = format!(
                "server {} {}\nzone other.test\nupdate add www.other.test. 60 A 192.0.2.1\nsend\n\
                 zone missing.test\nupdate add www.missing.test. 60 A 192.0.2.1\nsend\n",
                pooldns.server.dns.ip(),
                pooldns.server.dns.port()
            );
            child.stdin.take().expect("stdin").write_all(script.as_bytes())?;
            child.wait_with_output()
        })
        .expect("nsupdate");
    let text = String::from_utf8_lossy(&other.stderr);
    assert!(text.contains("REFUSED"), "ungranted zone: {text}");
    assert!(text.contains("NOTAUTH"), "zone not served: {text}");
}

#[test]
fn keys_made_with_the_cli_sign_until_removed() {
    let pooldns = start();
    let made = pooldns.server.cli_ok(&["tsig", "add", "cli-key"]);
    let fields: Vec<&str> = made.split_whitespace().collect();
    assert_eq!(&fields[..2], ["cli-key.", "hmac-sha256"], "{made}");
    let secret = fields[2].to_string();
    let listed = pooldns.server.cli_ok(&["tsig", "list"]);
    assert!(listed.contains("cli-key.\thmac-sha256"), "{listed}");
    assert!(!listed.contains(&secret), "a secret was listed");
    assert!(
        !pooldns.server.cli(&["tsig", "add", "cli-key"]).status.success(),
        "a second key of one name"
    );
    let key = format!("hmac-sha256:cli-key:{secret}");
    let (ok, text) = pooldns.nsupdate(Some(&key), false, "update add stored.upd.test. 60 TXT \"made\"");
    assert!(ok, "{text}");
    pooldns.wait_dig("stored.upd.test", "TXT", &["\"made\""]);
    pooldns.server.cli_ok(&["tsig", "remove", "cli-key"]);
    let (ok, text) = pooldns.nsupdate(Some(&key), false, "update delete stored.upd.test. TXT");
    assert!(!ok && text.contains("BADKEY"), "{text}");
    assert_eq!(pooldns.dig("stored.upd.test", "TXT"), ["\"made\""]);
}

#[test]
fn a_signature_outside_the_time_fudge_is_badtime() {
    let pooldns = start();
    let serial = pooldns.serial();
    // An UPDATE signed an hour ago, as a client with a wrong clock sends it.
    let mut message = Message::new(4242, MessageType::Query, OpCode::Update);
    let mut zone = Query::query(Name::from_ascii("upd.test.").expect("name"), RecordType::SOA);
    zone.set_query_class(DNSClass::IN);
    message.add_query(zone);
    let record = Record::from_rdata(
        Name::from_ascii("www.upd.test.").expect("name"),
        60,
        RData::A("192.0.2.5".parse().expect("address")),
    );
    message.authorities.push(record);
    let mut wire = message.to_vec().expect("encode");
    let signed_at = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs() - 3600;
    sign(&mut wire, signed_at);
    let answer = testkit::udp_exchange(pooldns.server.dns, &wire, Duration::from_secs(5))
        .expect("exchange")
        .expect("an answer");
    assert_eq!(answer[3] & 0x0f, 9, "NOTAUTH");
    // The answer's TSIG record carries BADTIME (18) and the server's time.
    let error_at = answer.len() - 2 - 6 - 2;
    assert_eq!(u16::from_be_bytes([answer[error_at], answer[error_at + 1]]), 18);
    assert_eq!(pooldns.serial(), serial);
}

/// Appends a TSIG record (RFC 8945 §4) for acme-update to `wire`.
fn sign(wire: &mut Vec<u8>, time_signed: u64) {
    let key_name: &[u8] = b"\x0bacme-update\x00";
    let algorithm: &[u8] = b"\x0bhmac-sha256\x00";
    let fudge = 300u16;
    let mut data = wire.clone();
    data.extend_from_slice(key_name);
    data.extend_from_slice(&255u16.to_be_bytes());
    data.extend_from_slice(&0u32.to_be_bytes());
    data.extend_from_slice(algorithm);
    data.extend_from_slice(&time_signed.to_be_bytes()[2..]);
    data.extend_from_slice(&fudge.to_be_bytes());
    data.extend_from_slice(&[0, 0, 0, 0]);
    let secret = data_encoding::BASE64.decode(SECRET.as_bytes()).expect("base64");
    let mac = ring::hmac::sign(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &secret), &data);
    let mut rdata = Vec::new();
    rdata.extend_from_slice(algorithm);
    rdata.extend_from_slice(&time_signed.to_be_bytes()[2..]);
    rdata.extend_from_slice(&fudge.to_be_bytes());
    rdata.extend_from_slice(&(mac.as_ref().len() as u16).to_be_bytes());
    rdata.extend_from_slice(mac.as_ref());
    rdata.extend_from_slice(&wire[0..2]);
    rdata.extend_from_slice(&[0, 0, 0, 0]);
    wire.extend_from_slice(key_name);
    wire.extend_from_slice(&250u16.to_be_bytes());
    wire.extend_from_slice(&255u16.to_be_bytes());
    wire.extend_from_slice(&0u32.to_be_bytes());
    wire.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    wire.extend_from_slice(&rdata);
    let arcount = u16::from_be_bytes([wire[10], wire[11]]) + 1;
    wire[10..12].copy_from_slice(&arcount.to_be_bytes());
}
