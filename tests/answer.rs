//! The answer path in process: scenarios of zones, queries and the whole
//! replies expected, run through `Responder::respond` without a socket, so
//! a change to the answer path is checked in milliseconds.
//!
//! Each file of `tests/data/answer/` holds one area of the RFCs: zones
//! (optionally secured), then queries, each with the reply it must get.
//! The format:
//!
//! ```text
//! zone example.test.            a zone file up to `end` ($ORIGIN is the zone)
//! ...
//! end
//! secure nsec                   signs the zone just read: nsec, nsec3 or nsec3-optout
//!
//! query www.example.test. A do  NAME TYPE [do] [noedns] [tcp] [bufsize=N] [ecs=ADDRESS/PREFIX]
//!                               [class=N] [opcode=N]; or `packet HEX` for raw bytes
//! rcode NOERROR                 the RCODE (extended ones too), or `noreply`
//! flags aa                      the flags set among aa tc rd ra ad cd (none: `flags`)
//! edns 1232 do                  the OPT record: payload and DO, `ecs SCOPE` for Client
//!                               Subnet; `edns none` when there must be none
//! answer:                       each section's records, one per line, in any order:
//!   www.example.test. 300 A 192.0.2.1      owner TTL TYPE RDATA, owners lowercased,
//! authority:                               RRSIGs as `owner TTL RRSIG COVERED`
//! additional:
//! end
//! ```
//!
//! A section left out must be empty, as must `edns` when not stated for a
//! query without EDNS. Set `ANSWER_SCENARIOS_SHOW=1` to print every reply
//! as the format writes it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use base::dnskey::KSK_FLAGS;
use base::header::rcode;
use base::Name;
use pooldns::answer::{Cookies, Peer, Query, Responder, Transport};
use pooldns::catalog::{Catalog, Snapshot};
use pooldns::dnssec::cache::SignatureCache;
use pooldns::dnssec::crypto::{Algorithm, SigningKey};
use pooldns::dnssec::denial::Nsec3Params;
use pooldns::dnssec::signed::Computed;
use pooldns::dnssec::window::Window;
use pooldns::dnssec::{self, DenialKind, KeyRole, SignedZone, ZoneKey};
use pooldns::import;
use pooldns::lua::{self, ZonePrograms};
use pooldns::zone::Zone;
use testkit::corpus;
use testkit::message::Reply;

/// The seed of the Ed25519 key every secured scenario zone signs with
/// (RFC 8080 §6.1's), so signatures are the same on every run.
const SEED: [u8; 32] = *b"82260384628080122645190204142262";

/// When the scenario zones are signed: a Thursday in 2026.
const SIGNED_AT: u64 = 1_795_089_600;

/// The responder as `pooldns serve` runs it by default, with Client Subnet on.
const RESPONDER: Responder = Responder {
    max_udp_payload: 1232,
    ecs: true,
    identity: "",
    version: "",
    cookies: Cookies::new([0; 16]),
};

#[test]
fn scenarios() {
    let directory = testkit::data_path("answer");
    let mut files: Vec<_> = fs::read_dir(&directory)
        .unwrap_or_else(|e| panic!("read {}: {e}", directory.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "scenario"))
        .collect();
    files.sort();
    assert!(files.len() >= 8, "the scenarios cover the RFC areas: {files:?}");
    let mut failures = Vec::new();
    let mut queries = 0;
    for file in &files {
        let scenario = Scenario::read(file);
        queries += scenario.cases.len();
        failures.extend(scenario.run());
    }
    println!("{queries} queries in {} scenario files", files.len());
    assert!(
        failures.is_empty(),
        "{} of {queries} queries got another reply:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The zones of one file and its queries.
struct Scenario {
    catalog: Catalog,
    cases: Vec<Case>,
}

/// One query and its expected reply.
struct Case {
    /// Where the query is: `file:line`.
    at: String,
    /// What was asked, as written.
    asked: String,
    transport: Transport,
    wire: Vec<u8>,
    /// `None`: no reply at all.
    expected: Option<Expected>,
}

/// A reply as a scenario states it.
#[derive(Debug, Default, PartialEq, Eq)]
struct Expected {
    rcode: String,
    flags: Vec<String>,
    edns: Option<String>,
    sections: [Vec<String>; 3],
}

const SECTIONS: [&str; 3] = ["answer:", "authority:", "additional:"];

impl Scenario {
    /// Reads a scenario file, building its zones; panics on anything
    /// malformed, naming the line.
    fn read(path: &Path) -> Scenario {
        let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        let name = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let mut lines = text.lines().enumerate().map(|(i, line)| (i + 1, line)).peekable();
        let mut zones: BTreeMap<String, (Name, Vec<pooldns::zone::Record>)> = BTreeMap::new();
        let mut secured: BTreeMap<String, DenialKind> = BTreeMap::new();
        let mut last_zone = None;
        let mut cases = Vec::new();
        while let Some((number, line)) = lines.next() {
            let at = format!("{name}:{number}");
            let words: Vec<&str> = line.split('#').next().unwrap_or("").split_whitespace().collect();
            match words.as_slice() {
                [] => {}
                ["zone", apex] => {
                    let apex: Name = apex.parse().unwrap_or_else(|e| panic!("{at}: zone name: {e}"));
                    let mut zone_text = format!("$ORIGIN {apex}\n");
                    for (_, line) in lines.by_ref() {
                        if line.trim() == "end" {
                            break;
                        }
                        zone_text.push_str(line);
                        zone_text.push('\n');
                    }
                    let (apex, records) = import::parse_and_check(&zone_text, &at, Some(&apex))
                        .unwrap_or_else(|e| panic!("{at}: zone does not load: {e}"));
                    last_zone = Some(apex.to_string());
                    zones.insert(apex.to_string(), (apex, records));
                }
                ["secure", kind] => {
                    let zone = last_zone
                        .clone()
                        .unwrap_or_else(|| panic!("{at}: secure before any zone"));
                    let params = |opt_out| {
                        DenialKind::Nsec3(Nsec3Params {
                            iterations: 0,
                            salt: Vec::new(),
                            opt_out,
                        })
                    };
                    let denial = match *kind {
                        "nsec" => DenialKind::Nsec,
                        "nsec3" => params(false),
                        "nsec3-optout" => params(true),
                        other => panic!("{at}: unknown denial {other:?}"),
                    };
                    secured.insert(zone, denial);
                }
                ["query", ..] | ["packet", ..] => cases.push(Case::read(&at, &words, &mut lines)),
                _ => panic!("{at}: unexpected line {line:?}"),
            }
        }
        let mut catalog = Catalog::new();
        for (zone, (apex, records)) in zones {
            let snapshot = snapshot(&apex, records, secured.remove(&zone));
            catalog = catalog.with_zone(Arc::new(snapshot));
        }
        Scenario { catalog, cases }
    }

    /// Runs every query; returns a report for each that got another reply.
    fn run(&self) -> Vec<String> {
        let show = std::env::var_os("ANSWER_SCENARIOS_SHOW").is_some();
        let peer = Peer {
            remote: SocketAddr::from(([192, 0, 2, 100], 40000)),
            local: SocketAddr::from(([127, 0, 0, 1], 53)),
        };
        let mut query = Query::new();
        let mut out = Vec::new();
        let mut failures = Vec::new();
        for case in &self.cases {
            let summary = RESPONDER.respond(&self.catalog, &case.wire, case.transport, peer, &mut query, &mut out);
            let actual = match summary {
                None => None,
                Some(_) => match Reply::parse(&out) {
                    Ok(reply) => Some(Expected::from_reply(&reply)),
                    Err(error) => {
                        failures.push(format!(
                            "{}: {}\n    reply does not parse: {error}",
                            case.at, case.asked
                        ));
                        continue;
                    }
                },
            };
            if show {
                println!("{}: {}\n{}", case.at, case.asked, render(&actual));
            }
            if actual != case.expected {
                failures.push(format!(
                    "{}: {}\n  expected:\n{}  got:\n{}",
                    case.at,
                    case.asked,
                    render(&case.expected),
                    render(&actual)
                ));
            }
        }
        failures
    }
}

impl Case {
    /// Reads a query line and its expectations up to `end`.
    fn read<'a>(at: &str, words: &[&str], lines: &mut impl Iterator<Item = (usize, &'a str)>) -> Case {
        let asked = words[1..].join(" ");
        let (wire, transport) = match words {
            ["packet", hex @ ..] => {
                let hex: String = hex.concat();
                let wire = data_encoding::HEXLOWER_PERMISSIVE
                    .decode(hex.as_bytes())
                    .unwrap_or_else(|e| panic!("{at}: packet is not hex: {e}"));
                (wire, Transport::Udp)
            }
            [_, rest @ ..] => {
                let (own, shared): (Vec<&str>, Vec<&str>) = rest
                    .iter()
                    .partition(|word| word.starts_with("class=") || word.starts_with("opcode="));
                let query = corpus::Query::parse(0, &shared, "").unwrap_or_else(|e| panic!("{at}: {e}"));
                assert!(query.extra.is_empty(), "{at}: unknown flags {:?}", query.extra);
                let mut wire =
                    testkit::encode_query(0x4242, &testkit::parse_name(&query.name), query.qtype, &query.options);
                for word in own {
                    let (what, value) = word.split_once('=').unwrap_or_default();
                    let value: u16 = value.parse().unwrap_or_else(|_| panic!("{at}: bad {word}"));
                    match what {
                        // The class follows the question's name and type.
                        "class" => {
                            let at = 12 + testkit::name_wire(&testkit::parse_name(&query.name)).len() + 2;
                            wire[at..at + 2].copy_from_slice(&value.to_be_bytes());
                        }
                        _ => wire[2] |= (value as u8 & 0x0f) << 3,
                    }
                }
                let transport = match query.options.transport {
                    testkit::Transport::Udp => Transport::Udp,
                    testkit::Transport::Tcp => Transport::Tcp,
                };
                (wire, transport)
            }
            [] => unreachable!("called with a query line"),
        };
        let mut expected = Some(Expected::default());
        let mut section: Option<usize> = None;
        for (number, line) in lines.by_ref() {
            let words: Vec<&str> = line.split_whitespace().collect();
            let fail = |what: &str| -> ! { panic!("{at} (line {number}): {what}: {line:?}") };
            match words.as_slice() {
                [] => {}
                ["end"] => break,
                ["noreply"] => expected = None,
                [word] if SECTIONS.contains(word) => section = SECTIONS.iter().position(|s| s == word),
                _ => {
                    let Some(reply) = expected.as_mut() else {
                        fail("a query with no reply has no expectations");
                    };
                    match (section, words.as_slice()) {
                        (Some(index), _) => reply.sections[index].push(words.join(" ")),
                        (None, ["rcode", name]) => reply.rcode = name.to_string(),
                        (None, ["flags", flags @ ..]) => reply.flags = flags.iter().map(|f| f.to_string()).collect(),
                        (None, ["edns", "none"]) => reply.edns = None,
                        (None, ["edns", rest @ ..]) => reply.edns = Some(rest.join(" ")),
                        _ => fail("expected rcode, flags, edns, a section or end"),
                    }
                }
            }
        }
        if let Some(reply) = &mut expected {
            assert!(!reply.rcode.is_empty(), "{at}: no rcode stated");
            reply.sections.iter_mut().for_each(|records| records.sort());
        }
        Case {
            at: at.to_string(),
            asked,
            transport,
            wire,
            expected,
        }
    }
}

impl Expected {
    fn from_reply(reply: &Reply) -> Expected {
        let mut sections = reply.sections.clone();
        sections.iter_mut().for_each(|records| records.sort());
        Expected {
            rcode: rcode_name(reply.rcode),
            flags: reply.flag_words().iter().map(|f| f.to_string()).collect(),
            edns: reply.edns.as_ref().map(|opt| {
                let mut text = opt.payload.to_string();
                if opt.dnssec_ok {
                    text.push_str(" do");
                }
                if opt.version != 0 {
                    let _ = write!(text, " version={}", opt.version);
                }
                for (code, data) in &opt.options {
                    match (code, data.get(3)) {
                        (8, Some(scope)) => {
                            let _ = write!(text, " ecs {scope}");
                        }
                        _ => {
                            let _ = write!(text, " option={code}");
                        }
                    }
                }
                text
            }),
            sections,
        }
    }
}

/// An RCODE's mnemonic, as scenarios write it.
fn rcode_name(value: u16) -> String {
    match rcode::name(value) {
        "OTHER" => format!("RCODE{value}"),
        name => name.to_string(),
    }
}

/// A reply in the scenario format, indented.
fn render(reply: &Option<Expected>) -> String {
    let Some(reply) = reply else {
        return "    noreply\n".into();
    };
    let mut out = format!("    rcode {}\n    flags", reply.rcode);
    for flag in &reply.flags {
        let _ = write!(out, " {flag}");
    }
    out.push('\n');
    match &reply.edns {
        Some(edns) => {
            let _ = writeln!(out, "    edns {edns}");
        }
        None => out.push_str("    edns none\n"),
    }
    for (name, records) in SECTIONS.iter().zip(&reply.sections) {
        if records.is_empty() {
            continue;
        }
        let _ = writeln!(out, "    {name}");
        for record in records {
            let _ = writeln!(out, "      {record}");
        }
    }
    out
}

/// The snapshot of a scenario zone: signed with the scenario key when
/// `denial` says how, LUA records compiled as `pooldns serve` compiles
/// them (without health checks or GeoIP).
fn snapshot(apex: &Name, mut records: Vec<pooldns::zone::Record>, denial: Option<DenialKind>) -> Snapshot {
    let signed = denial.map(|denial| {
        let mut pkcs8 = b"\x30\x2e\x02\x01\x00\x30\x05\x06\x03\x2b\x65\x70\x04\x22\x04\x20".to_vec();
        pkcs8.extend_from_slice(&SEED);
        let key = SigningKey::from_pkcs8(Algorithm::Ed25519, KSK_FLAGS, &pkcs8).expect("the scenario key");
        let keys = vec![ZoneKey {
            id: 1,
            role: KeyRole::Csk,
            key,
            published: true,
            active: true,
            ds: true,
        }];
        let nsec3 = match &denial {
            DenialKind::Nsec3(params) => Some(params.clone()),
            DenialKind::Nsec => None,
        };
        dnssec::prepare_records(apex, &mut records, &keys, nsec3.as_ref());
        (keys, denial)
    });
    let mut zone = Zone::build(apex, records);
    let signed = signed.map(|(keys, denial)| {
        let cache = Arc::new(SignatureCache::new(1 << 16));
        let computed = Computed {
            lua: true,
            aliases: false,
        };
        let signed = SignedZone::new(&mut zone, keys, denial, computed, Window::at(SIGNED_AT), cache);
        signed.presign(&zone);
        signed
    });
    let programs = ZonePrograms::compile(&zone, Some(&lua::Runtime::default()), None);
    Snapshot {
        zone,
        signed,
        programs: (!programs.is_empty()).then_some(programs),
        loading: false,
    }
}
