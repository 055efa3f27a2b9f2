//! Each stage on its own, against a small zone. Whole replies, for every
//! area of the RFCs, are the scenarios of `tests/answer.rs`.

use std::net::SocketAddr;

use base::header::{flag, rcode};
use base::{types, Name};

use super::query::Query;
use super::sections::Sections;
use super::writer::{MessageWriter, Section};
use super::{additional, authority, finish, lookup, refuse, Outcome, Resolution, Status};
use crate::catalog::Snapshot;
use crate::lua;
use crate::zone::Zone;

/// A query message for `name` (wire form) and `qtype`, with `extra`
/// bytes after the question counted as `arcount` additional records.
pub(super) fn query_bytes(name: &[u8], qtype: u16, extra: &[u8], arcount: u16) -> Vec<u8> {
    let mut msg = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0];
    msg.extend_from_slice(&arcount.to_be_bytes());
    msg.extend_from_slice(name);
    msg.extend_from_slice(&qtype.to_be_bytes());
    msg.extend_from_slice(&1u16.to_be_bytes());
    msg.extend_from_slice(extra);
    msg
}

/// `WWW.example.test.` in wire form, upper case kept.
pub(super) const WWW: &[u8] = b"\x03WWW\x07example\x04test\x00";

const ZONE: &str = "$ORIGIN example.test.
$TTL 3600
@        SOA   ns1 hostmaster 1 7200 3600 1209600 300
@        NS    ns1
ns1      A     192.0.2.53
www      A     192.0.2.80
alias    CNAME www
loop     CNAME loop
deleg    NS    ns.deleg
ns.deleg A     192.0.2.201
d        DNAME example.net.
long     DNAME aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc.ddddddd.
";

fn snapshot() -> Snapshot {
    let apex: Name = "example.test.".parse().expect("name");
    let (apex, records) = crate::import::parse_and_check(ZONE, "test", Some(&apex)).expect("the test zone loads");
    Snapshot::plain(Zone::build(&apex, records))
}

fn query(name: &str, qtype: u16) -> Query {
    let mut wire = vec![0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    wire.extend_from_slice(name.parse::<Name>().expect("name").as_wire());
    wire.extend_from_slice(&qtype.to_be_bytes());
    wire.extend_from_slice(&1u16.to_be_bytes());
    let mut query = Query::new();
    query.parse_into(&wire).expect("a valid query");
    query
}

fn client() -> lua::Client {
    let address = SocketAddr::from(([192, 0, 2, 100], 40000));
    lua::Client {
        who: address,
        local: address,
        subnet: None,
        dnssec_ok: false,
        tcp: false,
        edns_size: 0,
    }
}

/// The outcome of the answer stage for `name` and `qtype`, and how many
/// records it wrote.
fn answer_stage(snapshot: &Snapshot, name: &str, qtype: u16) -> (String, u16) {
    let query = query(name, qtype);
    let client = client();
    let mut buf = Vec::new();
    let mut writer = MessageWriter::new(&mut buf, &query, flag::QR, 65535);
    let mut resolution = Resolution::new(snapshot, &query, &client);
    let mut sections = Sections::new(&mut writer, None);
    sections.start(Section::Answer);
    let outcome = lookup::answer(&mut resolution, &mut sections).expect("fits");
    let shown = match outcome {
        Outcome::Referral(cut) => format!("referral {cut:?}"),
        other => format!("{other:?}"),
    };
    writer.finish();
    (shown, u16::from_be_bytes([buf[6], buf[7]]))
}

#[test]
fn lookup_ends_in_an_outcome() {
    let snapshot = snapshot();
    let cases = [
        ("www.example.test.", types::A, "Answer", 1),
        ("alias.example.test.", types::A, "Answer", 2),
        ("loop.example.test.", types::A, "Answer", 1),
        ("www.example.test.", types::MX, "NoData", 0),
        ("alias.example.test.", types::MX, "NoData", 1),
        ("nothere.example.test.", types::A, "NxDomain", 0),
        (
            "host.deleg.example.test.",
            types::A,
            "referral Node(deleg.example.test.)",
            0,
        ),
        ("x.d.example.test.", types::A, "Answer", 2),
        ("www.example.test.", types::LUA, "NoData", 0),
    ];
    for (name, qtype, outcome, records) in cases {
        assert_eq!(
            answer_stage(&snapshot, name, qtype),
            (outcome.to_string(), records),
            "{name}"
        );
    }
    let too_long = format!("{}.long.example.test.", ["x"; 30].join("."));
    assert_eq!(answer_stage(&snapshot, &too_long, types::A).0, "YxDomain");
}

#[test]
fn authority_carries_the_negative_ttl_and_referral_ns() {
    let snapshot = snapshot();
    let query = query("nothere.example.test.", types::A);
    let client = client();
    let mut resolution = Resolution::new(&snapshot, &query, &client);
    let mut buf = Vec::new();
    let mut writer = MessageWriter::new(&mut buf, &query, flag::QR, 65535);
    let mut sections = Sections::new(&mut writer, None);
    sections.start(Section::Authority);
    authority::write(&Outcome::NxDomain, &mut resolution, &mut sections).expect("fits");
    writer.finish();
    assert_eq!(&buf[8..10], &[0, 1], "one authority record");
    // After the question (12 + 22 + 4 octets): the owner, a pointer to the
    // question's "example.test", then type, class and TTL min(3600, 300).
    assert_eq!(&buf[38..48], &[0xc0, 0x14, 0, 6, 0, 1, 0, 0, 0x01, 0x2c]);
}

#[test]
fn glue_that_does_not_fit_truncates_but_other_addresses_are_left_out() {
    let snapshot = snapshot();
    let query = query("host.deleg.example.test.", types::A);
    let client = client();
    let cut = snapshot
        .zone
        .node(b"\x05deleg\x07example\x04test\x00")
        .expect("the cut");
    for (limit, outcome, expected) in [
        (200, Outcome::Referral(cut), Ok(())),
        // The header, the question and the NS record, not the glue.
        (60, Outcome::Referral(cut), Err(super::writer::Full)),
    ] {
        let mut resolution = Resolution::new(&snapshot, &query, &client);
        let mut buf = Vec::new();
        let mut writer = MessageWriter::new(&mut buf, &query, flag::QR, limit);
        let mut sections = Sections::new(&mut writer, None);
        sections.start(Section::Authority);
        authority::write(&outcome, &mut resolution, &mut sections).expect("the NS fits");
        sections.start(Section::Additional);
        assert_eq!(
            additional::write(&outcome, &mut resolution, &mut sections),
            expected,
            "{limit}"
        );
    }
    // Addresses of an answer's NS targets are added only while they fit.
    let query = super::tests::query("example.test.", types::NS);
    let mut resolution = Resolution::new(&snapshot, &query, &client);
    let mut buf = Vec::new();
    let mut writer = MessageWriter::new(&mut buf, &query, flag::QR, 60);
    let mut sections = Sections::new(&mut writer, None);
    sections.start(Section::Answer);
    lookup::answer(&mut resolution, &mut sections).expect("the NS fits");
    sections.start(Section::Additional);
    assert_eq!(
        additional::write(&Outcome::Answer, &mut resolution, &mut sections),
        Ok(())
    );
}

#[test]
fn refusal_before_any_zone() {
    let mut chaos = query("www.example.test.", types::A);
    chaos.qclass = 3;
    assert_eq!(refuse::refusal(&chaos, false), Some(rcode::REFUSED));
    for (qtype, rcode) in [
        (types::AXFR, rcode::REFUSED),
        (types::OPT, rcode::FORMERR),
        (types::TSIG, rcode::FORMERR),
        (types::MAILA, rcode::NOTIMP),
    ] {
        assert_eq!(refuse::refusal(&query("x.", qtype), false), Some(rcode), "{qtype}");
    }
    assert_eq!(refuse::refusal(&query("x.", types::A), true), None);
}

#[test]
fn truncation_keeps_header_and_question() {
    let query = query("www.example.test.", types::A);
    let mut buf = Vec::new();
    let mut writer = MessageWriter::new(&mut buf, &query, flag::QR | flag::AA, 512);
    writer.section(Section::Answer);
    writer
        .push(b"\x03www\x07example\x04test\x00", types::A, 300, &[192, 0, 2, 1])
        .expect("fits");
    let summary = finish::finish(writer, Status::Truncated, &query, None, None, None, 1232);
    assert!(summary.truncated);
    assert_eq!(summary.rcode, rcode::NOERROR);
    assert_eq!(buf[2] & 0x02, 0x02, "TC set");
    assert_eq!(&buf[4..12], &[0, 1, 0, 0, 0, 0, 0, 0], "only the question");
}
