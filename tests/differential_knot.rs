//! Differential test against Knot DNS.
//!
//! Knot DNS and pooldns serve the same zone files (`tests/data/differential/
//! *.zone`); every query of `tests/data/differential/queries.txt` goes to both
//! and the replies are compared: RCODE, the AA and TC flags, the EDNS
//! parameters, the question as echoed, and the answer, authority and
//! additional sections as sets of RRsets (owner names compared without
//! regard to case, the records of an RRset in sorted order, TTLs included).
//! When a reply is truncated only the header is compared.
//!
//! Differences that the RFCs explicitly leave to the implementation are
//! listed in [`KNOWN_DIFFERENCES`], each with the passage that allows it.
//! Any other difference fails the test with a per-query diff.

use std::fmt::Write as _;
use std::fs;
use std::net::SocketAddr;
use std::path::Path;

use hickory_proto::op::Message;
use hickory_proto::rr::{Name, RData, Record};
use testkit::compare::{rrsets, RRset};
use testkit::corpus::{self, section_diff, Differences, Query};
use testkit::{data_path, Knotd, Pooldns};

/// Differences between Knot and pooldns that are allowed, as
/// `(query pattern, reason)`; patterns as [`Query::matches`] reads them.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    (
        "chain1.example.com A",
        "RFC 1034 section 4.3.2 sets no limit on how many CNAMEs a server \
         follows. Knot stops after 5 and returns the partial chain; pooldns \
         follows up to 12 (loops stopped at the first repeat), so a resolver \
         needs fewer round trips. Both are NOERROR with AA.",
    ),
    (
        "chain3.example.com A",
        "RFC 1034 section 4.3.2 sets no chain limit; Knot stops after 5 CNAMEs, \
         pooldns after 12 (see chain1).",
    ),
    (
        "*.yyyyyyyyy.long.example.com A",
        "RFC 6672 section 2.2: when the substituted name would exceed 255 octets \
         the server returns YXDOMAIN (with the DNAME, no SOA). Knot 3.2 answers \
         NXDOMAIN with an SOA instead; pooldns follows the RFC (checked exactly \
         in tests/protocol.rs).",
    ),
];

/// The corpus must keep exercising a broad set of behaviours.
const MIN_QUERIES: usize = 150;

// ---------------------------------------------------------------------------
// Normalized replies
// ---------------------------------------------------------------------------

/// EDNS parameters of a reply.
#[derive(Clone, Debug, PartialEq, Eq)]
struct EdnsSummary {
    version: u8,
    payload: u16,
    dnssec_ok: bool,
}

/// The parts of a reply that are compared.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Normalized {
    rcode: String,
    aa: bool,
    tc: bool,
    edns: Option<EdnsSummary>,
    /// Question section as echoed, case kept.
    question: Vec<String>,
    /// Answer, authority and additional; `None` when TC is set.
    sections: Option<[Vec<RRset>; 3]>,
}

const SECTION_NAMES: [&str; 3] = ["answer", "authority", "additional"];

impl Normalized {
    fn from_message(message: &Message) -> Self {
        let sections = (!message.truncation).then(|| {
            [
                rrsets(&message.answers),
                rrsets(&message.authorities),
                rrsets(&message.additionals),
            ]
        });
        Self {
            rcode: format!("{:?} ({})", message.response_code, u16::from(message.response_code)),
            aa: message.authoritative,
            tc: message.truncation,
            edns: message.edns.as_ref().map(|edns| EdnsSummary {
                version: edns.version(),
                payload: edns.max_payload(),
                dnssec_ok: edns.flags().dnssec_ok,
            }),
            question: message
                .queries
                .iter()
                .map(|q| format!("{} {} {}", q.name(), q.query_class(), q.query_type()))
                .collect(),
            sections,
        }
    }
}

/// What a server did with one query.
type Outcome = Result<Normalized, String>;

/// Sends `query` to `server`.
fn ask(server: SocketAddr, query: &Query) -> Outcome {
    query.ask(server).map(|message| Normalized::from_message(&message))
}

/// Describes every difference between Knot's and pooldns's outcome; empty
/// when they agree.
fn diff(knot: &Outcome, pooldns: &Outcome) -> String {
    let mut out = String::new();
    let (knot, pooldns) = match (knot, pooldns) {
        (Ok(k), Ok(p)) => (k, p),
        (k, p) => {
            if k != p {
                let show = |o: &Outcome| match o {
                    Ok(n) => format!("{} reply", n.rcode),
                    Err(e) => e.clone(),
                };
                let _ = writeln!(out, "    knot:    {}\n    pooldns: {}", show(k), show(p));
            }
            return out;
        }
    };
    let mut field = |name: &str, k: String, p: String| {
        if k != p {
            let _ = writeln!(out, "    {name}: knot {k}, pooldns {p}");
        }
    };
    field("rcode", knot.rcode.clone(), pooldns.rcode.clone());
    field("AA", knot.aa.to_string(), pooldns.aa.to_string());
    field("TC", knot.tc.to_string(), pooldns.tc.to_string());
    field("EDNS", format!("{:?}", knot.edns), format!("{:?}", pooldns.edns));
    field(
        "question",
        format!("{:?}", knot.question),
        format!("{:?}", pooldns.question),
    );
    if let (Some(k), Some(p)) = (&knot.sections, &pooldns.sections) {
        let sections: Vec<(&str, &[RRset], &[RRset])> = SECTION_NAMES
            .iter()
            .zip(p.iter().zip(k))
            .map(|(name, (ours, theirs))| (*name, ours.as_slice(), theirs.as_slice()))
            .collect();
        out.push_str(&section_diff("knot", &sections));
    }
    out
}

// ---------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------

/// `(zone name, file)` of every `NAME.zone` file in `dir`, which is what
/// pooldns imports from its zones directory.
fn zone_files(dir: &Path) -> Vec<(String, std::path::PathBuf)> {
    let mut zones: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "zone"))
        .map(|path| {
            let stem = path.file_stem().unwrap().to_string_lossy();
            (format!("{stem}."), path)
        })
        .collect();
    zones.sort();
    zones
}

#[test]
fn pooldns_answers_like_knot() {
    let dir = data_path("differential");
    let cases = corpus::load(&dir.join("queries.txt"));
    assert!(
        cases.len() >= MIN_QUERIES,
        "the corpus has {} queries, fewer than {MIN_QUERIES}",
        cases.len()
    );
    let zones = zone_files(&dir);
    let zone_refs: Vec<(&str, &Path)> = zones.iter().map(|(n, p)| (n.as_str(), p.as_path())).collect();

    let knot = Knotd::start(&zone_refs);
    let pooldns = Pooldns::start(&dir);

    let mut differences = Differences::new("Knot DNS", KNOWN_DIFFERENCES);
    for case in &cases {
        let knot_outcome = ask(knot.addr, case);
        if let Err(e) = &knot_outcome {
            panic!("the reference server failed {case}: {e}");
        }
        let pooldns_outcome = ask(pooldns.dns, case);
        differences.record(case, &diff(&knot_outcome, &pooldns_outcome));
    }
    differences.finish(cases.len());
}

// ---------------------------------------------------------------------------
// Self-tests of the comparison, so that a broken harness cannot pass silently
// ---------------------------------------------------------------------------

/// Builds a reply from zone-file-like record lines "NAME TTL TYPE RDATA".
fn reply(answers: &[(&str, u32, &str)]) -> Message {
    use hickory_proto::rr::rdata::{A, CNAME};
    let mut message = Message::response(1, hickory_proto::op::OpCode::Query);
    message.metadata.authoritative = true;
    for (name, ttl, rdata) in answers {
        let data = match rdata.parse::<std::net::Ipv4Addr>() {
            Ok(address) => RData::A(A(address)),
            Err(_) => RData::CNAME(CNAME(Name::from_ascii(rdata).unwrap())),
        };
        message.add_answer(Record::from_rdata(Name::from_ascii(name).unwrap(), *ttl, data));
    }
    message
}

fn outcome(message: &Message) -> Outcome {
    Ok(Normalized::from_message(
        &Message::from_vec(&message.to_vec().unwrap()).unwrap(),
    ))
}

#[test]
fn comparison_ignores_record_order_and_name_case() {
    let a = reply(&[
        ("alias.example.com.", 60, "www.example.com."),
        ("www.example.com.", 60, "192.0.2.1"),
        ("www.example.com.", 60, "192.0.2.2"),
    ]);
    let b = reply(&[
        ("WWW.example.com.", 60, "192.0.2.2"),
        ("Alias.Example.com.", 60, "WWW.EXAMPLE.COM."),
        ("www.example.com.", 60, "192.0.2.1"),
    ]);
    assert_eq!(diff(&outcome(&a), &outcome(&b)), "");
}

#[test]
fn comparison_detects_ttl_rdata_and_flag_changes() {
    let base = reply(&[("www.example.com.", 60, "192.0.2.1")]);
    let other_ttl = reply(&[("www.example.com.", 61, "192.0.2.1")]);
    let other_address = reply(&[("www.example.com.", 60, "192.0.2.9")]);
    let extra_record = reply(&[
        ("www.example.com.", 60, "192.0.2.1"),
        ("www.example.com.", 60, "192.0.2.2"),
    ]);
    let mut not_authoritative = base.clone();
    not_authoritative.metadata.authoritative = false;
    let mut in_authority = Message::response(1, hickory_proto::op::OpCode::Query);
    in_authority.metadata.authoritative = true;
    in_authority.add_authority(base.answers[0].clone());

    for changed in [
        &other_ttl,
        &other_address,
        &extra_record,
        &not_authoritative,
        &in_authority,
    ] {
        assert_ne!(
            diff(&outcome(&base), &outcome(changed)),
            "",
            "not detected: {changed:?}"
        );
    }
    assert_ne!(diff(&outcome(&base), &Err("no reply".into())), "");
}

#[test]
fn truncated_replies_compare_flags_only() {
    let mut a = reply(&[("big.example.com.", 60, "192.0.2.1")]);
    a.metadata.truncation = true;
    let mut b = reply(&[]);
    b.metadata.truncation = true;
    assert_eq!(diff(&outcome(&a), &outcome(&b)), "");
    b.metadata.authoritative = false;
    assert_ne!(diff(&outcome(&a), &outcome(&b)), "");
}
