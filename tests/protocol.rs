//! Exact protocol expectations over real UDP and TCP sockets: the parts of
//! the DNS message handling that the differential test cannot judge
//! (malformed or unusual queries, transport behaviour, RFC requirements on
//! which the reference server differs) plus the HTTP endpoints.
//!
//! All tests serve the zones of `tests/data/differential/`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{ErrorKind, Read};
use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};
use testkit::{
    data_path, decode, encode_query, exchange, name_wire, next_id, opt_record, parse_name, query, query_wire,
    read_frame, tcp_connect, udp_exchange, write_frame, Pooldns, PooldnsOptions, QueryOptions, Transport,
};

/// How long to wait for a reply that must not come.
const SILENCE: Duration = Duration::from_millis(500);

fn start() -> Pooldns {
    Pooldns::start(&data_path("differential"))
}

/// The header fields of a DNS message, read straight from the wire so that
/// replies to malformed queries can be checked even if they carry no
/// decodable body.
#[derive(Debug)]
struct Header {
    id: u16,
    qr: bool,
    opcode: u8,
    rcode: u8,
    ancount: u16,
}

fn header(wire: &[u8]) -> Header {
    assert!(
        wire.len() >= 12,
        "reply shorter than a DNS header: {}",
        testkit::hex(wire)
    );
    let word = |i: usize| u16::from_be_bytes([wire[i], wire[i + 1]]);
    Header {
        id: word(0),
        qr: wire[2] & 0x80 != 0,
        opcode: (wire[2] >> 3) & 0x0F,
        rcode: wire[3] & 0x0F,
        ancount: word(6),
    }
}

/// Overwrites a big-endian 16-bit field of a message.
fn set_u16(wire: &mut [u8], offset: usize, value: u16) {
    wire[offset..offset + 2].copy_from_slice(&value.to_be_bytes());
}

/// Sends `wire` over UDP and asserts that a reply arrives.
fn udp_reply(server: SocketAddr, wire: &[u8]) -> Vec<u8> {
    exchange(server, wire, Transport::Udp).unwrap_or_else(|e| panic!("no reply to {}: {e}", testkit::hex(wire)))
}

/// Sends `wire` over UDP and asserts that no reply arrives within [`SILENCE`].
fn assert_no_reply(server: SocketAddr, wire: &[u8]) {
    let reply = udp_exchange(server, wire, SILENCE).expect("UDP exchange");
    assert!(
        reply.is_none(),
        "expected no reply to {}, got {}",
        testkit::hex(wire),
        testkit::hex(&reply.unwrap())
    );
}

/// Asserts that the server answers a plain query for www.example.com A over
/// both transports.
fn assert_still_answers(server: SocketAddr) {
    for options in [QueryOptions::udp(), QueryOptions::tcp()] {
        let reply = query(server, "www.example.com", RecordType::A, &options);
        assert_eq!(reply.response_code, ResponseCode::NoError, "{options:?}");
        assert_eq!(reply.answers.len(), 2, "{options:?}: {reply:?}");
    }
}

/// Asserts that `reply` is a FORMERR response to the query with `id`.
fn assert_formerr(reply: &[u8], id: u16, what: &str) {
    let h = header(reply);
    assert!(h.qr, "{what}: reply has QR clear");
    assert_eq!(h.id, id, "{what}: reply ID");
    assert_eq!(h.rcode, 1, "{what}: expected FORMERR, got RCODE {}", h.rcode);
}

// ---------------------------------------------------------------------------
// HTTP endpoints
// ---------------------------------------------------------------------------

#[test]
fn health_and_readiness_endpoints_answer_200() {
    let server = start();
    for path in ["/healthz", "/readyz"] {
        let response = server.http_get(path);
        assert_eq!(response.status, 200, "GET {path}: {response:?}");
    }
}

/// Sum of the samples of metric `name` whose labels include `labels`.
fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut total = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (series, value) = match line.rsplit_once(' ') {
            Some(parts) => parts,
            None => continue,
        };
        let (metric_name, label_text) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        if metric_name != name {
            continue;
        }
        let found: BTreeMap<&str, &str> = label_text
            .split(',')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.trim(), v.trim().trim_matches('"')))
            .collect();
        if labels.iter().all(|(k, v)| found.get(k) == Some(v)) {
            let value: f64 = value.trim().parse().unwrap_or_else(|_| panic!("bad sample: {line}"));
            *total.get_or_insert(0.0) += value;
        }
    }
    total
}

#[test]
fn metrics_count_queries_by_rcode_and_type() {
    let server = start();
    let metrics = || {
        let response = server.http_get("/metrics");
        assert_eq!(response.status, 200, "GET /metrics: {response:?}");
        response.body
    };
    let noerror_a = [("rcode", "NOERROR"), ("qtype", "A")];
    let refused_a = [("rcode", "REFUSED"), ("qtype", "A")];
    let nxdomain_aaaa = [("rcode", "NXDOMAIN"), ("qtype", "AAAA")];
    let histogram_count = "pooldns_answer_duration_seconds_count";

    let before = metrics();
    let noerror_before = metric(&before, "pooldns_queries_total", &noerror_a).unwrap_or(0.0);
    let refused_before = metric(&before, "pooldns_queries_total", &refused_a).unwrap_or(0.0);
    let nxdomain_before = metric(&before, "pooldns_queries_total", &nxdomain_aaaa).unwrap_or(0.0);
    let answered_before = metric(&before, histogram_count, &[]).unwrap_or(0.0);

    // Each query is sent exactly once (no UDP retransmission), so that the
    // counters must move by exactly the number of queries.
    let ask = |name: &str, qtype: RecordType, transport: Transport| {
        let wire = encode_query(next_id(), &parse_name(name), qtype, &QueryOptions::udp());
        let reply = match transport {
            Transport::Udp => udp_exchange(server.dns, &wire, Duration::from_secs(10))
                .expect("UDP exchange")
                .expect("no UDP reply within 10 s"),
            Transport::Tcp => exchange(server.dns, &wire, Transport::Tcp).expect("TCP exchange"),
        };
        decode(&reply).response_code
    };
    for transport in [
        Transport::Udp,
        Transport::Tcp,
        Transport::Udp,
        Transport::Tcp,
        Transport::Udp,
    ] {
        assert_eq!(ask("www.example.com", RecordType::A, transport), ResponseCode::NoError);
    }
    for transport in [Transport::Udp, Transport::Tcp] {
        assert_eq!(ask("example.org", RecordType::A, transport), ResponseCode::Refused);
    }
    assert_eq!(
        ask("nothere.example.com", RecordType::AAAA, Transport::Udp),
        ResponseCode::NXDomain
    );

    // Counters may be updated after the reply is sent: poll for a while.
    let deadline = Instant::now() + Duration::from_secs(5);
    let expected = [
        (noerror_a, noerror_before + 5.0),
        (refused_a, refused_before + 2.0),
        (nxdomain_aaaa, nxdomain_before + 1.0),
    ];
    let after = loop {
        let text = metrics();
        let done = expected
            .iter()
            .all(|(labels, want)| metric(&text, "pooldns_queries_total", labels).unwrap_or(0.0) >= *want)
            && metric(&text, histogram_count, &[]).unwrap_or(0.0) >= answered_before + 8.0;
        if done || Instant::now() > deadline {
            break text;
        }
        thread::sleep(Duration::from_millis(100));
    };
    for (labels, want) in expected {
        assert_eq!(
            metric(&after, "pooldns_queries_total", &labels),
            Some(want),
            "pooldns_queries_total{labels:?} in:\n{after}"
        );
    }
    let answered = metric(&after, histogram_count, &[]).unwrap_or(0.0);
    assert!(
        answered >= answered_before + 8.0,
        "{histogram_count} went from {answered_before} to {answered} after 8 queries:\n{after}"
    );
    assert!(
        metric(&after, "pooldns_answer_duration_seconds_bucket", &[("le", "+Inf")]).is_some(),
        "no +Inf bucket of pooldns_answer_duration_seconds:\n{after}"
    );
    assert!(
        metric(&after, "pooldns_answer_duration_seconds_sum", &[]).is_some(),
        "no pooldns_answer_duration_seconds_sum:\n{after}"
    );
}

// ---------------------------------------------------------------------------
// EDNS(0), RFC 6891
// ---------------------------------------------------------------------------

#[test]
fn edns_version_above_zero_gets_badvers_with_version_zero_opt() {
    let server = start();
    for transport in [Transport::Udp, Transport::Tcp] {
        let id = next_id();
        let mut wire = encode_query(
            id,
            &parse_name("www.example.com"),
            RecordType::A,
            &QueryOptions::udp().no_edns(),
        );
        set_u16(&mut wire, 10, 1);
        wire.extend_from_slice(&opt_record(&[0], 1232, 1, false));
        let reply = exchange(server.dns, &wire, transport).expect("reply to EDNS version 1");

        let h = header(&reply);
        assert_eq!((h.id, h.qr), (id, true), "{transport:?}");
        let message = decode(&reply);
        // BADVERS shares the value 16 with BADSIG (RFC 8945), which is the
        // name hickory-proto decodes it to: compare the number.
        assert_eq!(
            u16::from(message.response_code),
            16,
            "{transport:?}: expected BADVERS: {message:?}"
        );
        assert_eq!(h.rcode, 0, "{transport:?}: low four bits of BADVERS in the header");
        let edns = message.edns.as_ref().expect("BADVERS reply without OPT");
        assert_eq!(edns.version(), 0, "{transport:?}: OPT version of the reply");
        assert!(message.answers.is_empty(), "{transport:?}: BADVERS reply with answers");
    }
}

#[test]
fn two_opt_records_get_formerr() {
    let server = start();
    let id = next_id();
    let mut wire = encode_query(id, &parse_name("www.example.com"), RecordType::A, &QueryOptions::udp());
    wire.extend_from_slice(&opt_record(&[0], 1232, 0, false));
    set_u16(&mut wire, 10, 2);
    assert_formerr(&udp_reply(server.dns, &wire), id, "two OPT records");
    assert_still_answers(server.dns);
}

#[test]
fn opt_not_owned_by_the_root_gets_formerr() {
    let server = start();
    let id = next_id();
    let mut wire = encode_query(
        id,
        &parse_name("www.example.com"),
        RecordType::A,
        &QueryOptions::udp().no_edns(),
    );
    wire.extend_from_slice(&opt_record(&name_wire(&parse_name("example.com")), 1232, 0, false));
    set_u16(&mut wire, 10, 1);
    assert_formerr(&udp_reply(server.dns, &wire), id, "OPT owned by example.com");
}

#[test]
fn reply_carries_opt_only_when_the_query_did() {
    let server = start();
    for transport in [Transport::Udp, Transport::Tcp] {
        let base = QueryOptions {
            transport,
            ..QueryOptions::default()
        };

        let plain = query(server.dns, "www.example.com", RecordType::A, &base.clone().no_edns());
        assert!(
            plain.edns.is_none(),
            "{transport:?}: OPT in the reply to a query without one"
        );

        let with_edns = query(
            server.dns,
            "www.example.com",
            RecordType::A,
            &base.clone().payload(4096),
        );
        let edns = with_edns.edns.as_ref().expect("no OPT in the reply to an EDNS query");
        assert_eq!(edns.version(), 0);
        assert_eq!(edns.max_payload(), 1232, "{transport:?}: advertised UDP payload");
        assert!(
            !edns.flags().dnssec_ok,
            "{transport:?}: DO set though the query had it clear"
        );

        let with_do = query(server.dns, "www.example.com", RecordType::A, &base.clone().dnssec_ok());
        let edns = with_do.edns.as_ref().expect("no OPT in the reply to a DO query");
        assert!(
            edns.flags().dnssec_ok,
            "{transport:?}: DO not copied (RFC 3225 section 3)"
        );
    }
}

// ---------------------------------------------------------------------------
// Header and question checks
// ---------------------------------------------------------------------------

#[test]
fn question_count_other_than_one_gets_formerr() {
    let server = start();

    let id = next_id();
    let mut no_question = encode_query(
        id,
        &parse_name("www.example.com"),
        RecordType::A,
        &QueryOptions::udp().no_edns(),
    );
    no_question.truncate(12);
    set_u16(&mut no_question, 4, 0);
    let reply = udp_reply(server.dns, &no_question);
    assert_formerr(&reply, id, "QDCOUNT=0");
    assert_eq!(header(&reply).ancount, 0, "QDCOUNT=0: answers in the reply");

    let id = next_id();
    let mut two_questions = encode_query(
        id,
        &parse_name("www.example.com"),
        RecordType::A,
        &QueryOptions::udp().no_edns(),
    );
    let question = two_questions[12..].to_vec();
    two_questions.extend_from_slice(&question);
    set_u16(&mut two_questions, 4, 2);
    assert_formerr(&udp_reply(server.dns, &two_questions), id, "QDCOUNT=2");

    assert_still_answers(server.dns);
}

#[test]
fn truncated_question_gets_formerr() {
    let server = start();
    let name = parse_name("www.example.com");
    let name_len = name_wire(&name).len();
    // Cut inside the name, after the name (no type), and inside the class.
    for cut in [12 + 5, 12 + name_len, 12 + name_len + 3] {
        let id = next_id();
        let mut wire = encode_query(id, &name, RecordType::A, &QueryOptions::udp().no_edns());
        wire.truncate(cut);
        assert_formerr(
            &udp_reply(server.dns, &wire),
            id,
            &format!("question cut at {cut} octets"),
        );
    }
    assert_still_answers(server.dns);
}

#[test]
fn packets_shorter_than_a_header_are_dropped() {
    let server = start();
    let wire = encode_query(
        next_id(),
        &parse_name("www.example.com"),
        RecordType::A,
        &QueryOptions::udp(),
    );
    for len in [0, 1, 2, 5, 11] {
        assert_no_reply(server.dns, &wire[..len]);
    }
    assert_still_answers(server.dns);
}

#[test]
fn opcodes_other_than_query_update_and_notify_get_notimp() {
    let server = start();
    for opcode in [1u8, 2, 3, 4, 5, 15] {
        let id = next_id();
        let mut wire = encode_query(
            id,
            &parse_name("www.example.com"),
            RecordType::SOA,
            &QueryOptions::udp().no_edns(),
        );
        wire[2] = (wire[2] & 0x87) | (opcode << 3);
        let reply = udp_reply(server.dns, &wire);
        let h = header(&reply);
        assert!(h.qr, "opcode {opcode}: QR clear in the reply");
        assert_eq!(h.id, id, "opcode {opcode}: reply ID");
        assert_eq!(h.opcode, opcode, "opcode {opcode}: OPCODE not copied into the reply");
        // NOTIFY (4) and UPDATE (5) are answered: NOTAUTH, as
        // www.example.com is no zone here.
        let expected = if matches!(opcode, 4 | 5) { 9 } else { 4 };
        assert_eq!(h.rcode, expected, "opcode {opcode}: RCODE {}", h.rcode);
    }
    assert_still_answers(server.dns);
}

#[test]
fn messages_with_qr_set_are_dropped() {
    let server = start();
    let mut wire = encode_query(
        next_id(),
        &parse_name("www.example.com"),
        RecordType::A,
        &QueryOptions::udp(),
    );
    wire[2] |= 0x80;
    assert_no_reply(server.dns, &wire);
    // A response that looks like a genuine answer must not be answered either.
    let mut answer = wire.clone();
    answer[2] |= 0x04;
    assert_no_reply(server.dns, &answer);
    assert_still_answers(server.dns);
}

#[test]
fn question_is_echoed_with_the_client_case() {
    let server = start();
    for name in [
        "wWw.ExAmPlE.cOm.",
        "NoThErE.eXaMpLe.CoM.",
        "FoO.wIlD.example.COM.",
        "ExAmPlE.oRg.",
    ] {
        for options in [QueryOptions::udp(), QueryOptions::tcp()] {
            let reply = query(server.dns, name, RecordType::A, &options);
            assert_eq!(reply.queries.len(), 1, "{name}: question count");
            let echoed = reply.queries[0].name();
            assert!(
                echoed.eq_case(&parse_name(name)),
                "{name} {options:?}: question echoed as {echoed}"
            );
            assert_eq!(reply.queries[0].query_type(), RecordType::A);
        }
    }
}

// ---------------------------------------------------------------------------
// Answers the reference server gets differently
// ---------------------------------------------------------------------------

#[test]
fn dname_substitution_that_overflows_gets_yxdomain() {
    // RFC 6672 section 2.2: if substituting the DNAME target would produce a
    // name longer than 255 octets, the server returns YXDOMAIN.
    let server = start();
    let owner_prefix = format!("{}.{}", "x".repeat(40), "y".repeat(9));
    let qname = format!("{owner_prefix}.long.example.com");
    for options in [QueryOptions::udp(), QueryOptions::tcp()] {
        let reply = query(server.dns, &qname, RecordType::A, &options);
        assert_eq!(reply.response_code, ResponseCode::YXDomain, "{options:?}: {reply:?}");
        assert!(reply.authoritative, "{options:?}: AA clear");
        assert!(
            reply.answers.iter().any(|r| r.record_type() == RecordType::DNAME),
            "{options:?}: no DNAME in the answer: {reply:?}"
        );
        assert!(
            reply.answers.iter().all(|r| r.record_type() != RecordType::CNAME),
            "{options:?}: a CNAME was synthesized: {reply:?}"
        );
    }
    // One octet shorter fits exactly into 255 octets and is synthesized.
    let qname = format!("{}.{}.long.example.com", "x".repeat(39), "y".repeat(9));
    let reply = query(server.dns, &qname, RecordType::A, &QueryOptions::tcp());
    assert_ne!(reply.response_code, ResponseCode::YXDomain, "{reply:?}");
    assert!(
        reply.answers.iter().any(|r| r.record_type() == RecordType::CNAME),
        "{reply:?}"
    );
}

/// The RRset types in the answer of `reply`.
fn answer_types(reply: &Message) -> BTreeSet<RecordType> {
    reply.answers.iter().map(|r| r.record_type()).collect()
}

#[test]
fn any_gets_one_complete_rrset_over_every_transport() {
    let server = start();
    let cases = [
        ("www.example.com", vec![RecordType::A, RecordType::AAAA]),
        (
            "example.com",
            vec![
                RecordType::SOA,
                RecordType::NS,
                RecordType::MX,
                RecordType::A,
                RecordType::AAAA,
                RecordType::TXT,
            ],
        ),
    ];
    for (name, types) in cases {
        let all: BTreeSet<RecordType> = types.into_iter().collect();
        for options in [QueryOptions::udp(), QueryOptions::tcp()] {
            let any = query(server.dns, name, RecordType::ANY, &options);
            assert_eq!(any.response_code, ResponseCode::NoError);
            assert!(any.authoritative);
            assert!(!any.truncation, "{name} ANY: a single RRset fits");
            let any_types = answer_types(&any);
            assert_eq!(any_types.len(), 1, "{name} ANY must be one RRset: {any:?}");
            assert!(any_types.is_subset(&all), "{name} ANY: {any:?}");
            // The RRset is complete: as large as when asked for by type.
            let rrset_type = *any_types.iter().next().expect("one type");
            let direct = query(server.dns, name, rrset_type, &options);
            assert_eq!(any.answers.len(), direct.answers.len(), "{name} ANY: incomplete RRset");
        }
    }
}

#[test]
fn negative_answers_carry_soa_with_minimum_ttl() {
    let server = start();
    // (name, type, rcode, zone, expected TTL = min(SOA TTL, SOA MINIMUM))
    let cases = [
        (
            "nothere.example.com",
            RecordType::A,
            ResponseCode::NXDomain,
            "example.com.",
            300,
        ),
        (
            "www.example.com",
            RecordType::MX,
            ResponseCode::NoError,
            "example.com.",
            300,
        ),
        (
            "nothere.sub.example.com",
            RecordType::A,
            ResponseCode::NXDomain,
            "sub.example.com.",
            30,
        ),
        (
            "b.example.net",
            RecordType::A,
            ResponseCode::NoError,
            "example.net.",
            120,
        ),
    ];
    for (name, qtype, rcode, zone, ttl) in cases {
        let reply = query(server.dns, name, qtype, &QueryOptions::udp());
        assert_eq!(reply.response_code, rcode, "{name} {qtype}");
        assert!(reply.authoritative, "{name} {qtype}: AA clear");
        assert!(reply.answers.is_empty(), "{name} {qtype}: {reply:?}");
        let soa: Vec<_> = reply
            .authorities
            .iter()
            .filter(|r| r.record_type() == RecordType::SOA)
            .collect();
        assert_eq!(soa.len(), 1, "{name} {qtype}: authority {:?}", reply.authorities);
        assert!(
            soa[0].name.eq_ignore_root(&parse_name(zone)),
            "{name} {qtype}: SOA owner {}",
            soa[0].name
        );
        assert_eq!(soa[0].ttl, ttl, "{name} {qtype}: SOA TTL");
        assert!(matches!(soa[0].data, RData::SOA(_)));
    }
}

// ---------------------------------------------------------------------------
// Truncation
// ---------------------------------------------------------------------------

/// Number of TXT records in the answer.
fn txt_count(reply: &Message) -> usize {
    reply
        .answers
        .iter()
        .filter(|r| r.record_type() == RecordType::TXT)
        .count()
}

#[test]
fn large_rrset_is_truncated_over_udp_and_complete_over_tcp() {
    let server = start();

    // big: 5 TXT records, about 1000 octets.
    let over_tcp = query_wire(
        server.dns,
        "big.example.com",
        RecordType::TXT,
        &QueryOptions::tcp().no_edns(),
    );
    assert!(
        over_tcp.len() > 512,
        "test data: big.example.com must exceed 512 octets"
    );
    let over_tcp = decode(&over_tcp);
    assert!(!over_tcp.truncation);
    assert_eq!(txt_count(&over_tcp), 5);

    let no_edns = query_wire(
        server.dns,
        "big.example.com",
        RecordType::TXT,
        &QueryOptions::udp().no_edns(),
    );
    assert!(
        no_edns.len() <= 512,
        "UDP reply without EDNS is {} octets",
        no_edns.len()
    );
    let no_edns = decode(&no_edns);
    assert!(
        no_edns.truncation,
        "TC clear on an answer that does not fit 512 octets: {no_edns:?}"
    );
    assert!(no_edns.authoritative);

    let edns = query(server.dns, "big.example.com", RecordType::TXT, &QueryOptions::udp());
    assert!(!edns.truncation, "TC set though the answer fits 1232 octets");
    assert_eq!(txt_count(&edns), 5);

    // huge: 12 TXT records, about 3200 octets: TC even with a large payload,
    // the server's own limit being 1232.
    for payload in [1232, 4096] {
        let wire = query_wire(
            server.dns,
            "huge.example.com",
            RecordType::TXT,
            &QueryOptions::udp().payload(payload),
        );
        assert!(
            wire.len() <= 1232,
            "payload {payload}: UDP reply of {} octets",
            wire.len()
        );
        assert!(decode(&wire).truncation, "payload {payload}: TC clear");
    }
    for options in [QueryOptions::tcp(), QueryOptions::tcp().no_edns()] {
        let reply = query(server.dns, "huge.example.com", RecordType::TXT, &options);
        assert!(!reply.truncation, "{options:?}");
        assert_eq!(txt_count(&reply), 12, "{options:?}");
    }
}

#[test]
fn advertised_payload_below_512_counts_as_512() {
    let server = start();
    // medium: 2 TXT records, a complete reply of about 450 octets.
    let payloads = [0u16, 100, 256];
    let complete = query_wire(server.dns, "medium.example.com", RecordType::TXT, &QueryOptions::tcp());
    assert!(
        complete.len() > 256 && complete.len() <= 512,
        "test data: the reply to medium.example.com TXT must be larger than {payloads:?} and fit 512 octets, it is {}",
        complete.len()
    );
    for payload in payloads {
        let reply = query(
            server.dns,
            "medium.example.com",
            RecordType::TXT,
            &QueryOptions::udp().payload(payload),
        );
        assert!(!reply.truncation, "payload {payload}: TC set (RFC 6891 section 6.2.5)");
        assert_eq!(txt_count(&reply), 2, "payload {payload}");
    }
}

// ---------------------------------------------------------------------------
// TCP, RFC 7766
// ---------------------------------------------------------------------------

#[test]
fn pipelined_tcp_queries_are_all_answered() {
    let server = start();
    let names = [
        ("www.example.com", RecordType::A, ResponseCode::NoError),
        ("nothere.example.com", RecordType::A, ResponseCode::NXDomain),
        ("alias.example.com", RecordType::AAAA, ResponseCode::NoError),
        ("foo.wild.example.com", RecordType::TXT, ResponseCode::NoError),
        ("example.org", RecordType::A, ResponseCode::Refused),
        ("huge.example.com", RecordType::TXT, ResponseCode::NoError),
        ("host.deleg.example.com", RecordType::A, ResponseCode::NoError),
    ];
    let mut expected = BTreeMap::new();
    let mut batch = Vec::new();
    for i in 0..20 {
        let (name, qtype, rcode) = names[i % names.len()];
        let id = next_id();
        let wire = encode_query(id, &parse_name(name), qtype, &QueryOptions::tcp());
        batch.extend_from_slice(&u16::try_from(wire.len()).unwrap().to_be_bytes());
        batch.extend_from_slice(&wire);
        assert!(expected.insert(id, (name, qtype, rcode)).is_none());
    }

    let mut stream = tcp_connect(server.dns).expect("connect");
    // All twenty queries in one write: the server must not wait for a reply
    // to be read before handling the next query.
    std::io::Write::write_all(&mut stream, &batch).expect("send pipelined queries");
    let mut seen = BTreeSet::new();
    for _ in 0..20 {
        let reply = read_frame(&mut stream)
            .expect("read a pipelined reply")
            .expect("connection closed before all replies arrived");
        let reply = decode(&reply);
        let (name, qtype, rcode) = expected
            .get(&reply.id)
            .unwrap_or_else(|| panic!("reply with unknown ID {}", reply.id));
        assert!(seen.insert(reply.id), "two replies with ID {}", reply.id);
        assert_eq!(reply.queries.len(), 1);
        assert!(
            reply.queries[0].name().eq_case(&parse_name(name)),
            "ID {}: question {:?}",
            reply.id,
            reply.queries
        );
        assert_eq!(reply.queries[0].query_type(), *qtype);
        assert_eq!(reply.response_code, *rcode, "{name} {qtype}");
    }
    assert_eq!(seen.len(), 20);
}

/// Waits up to 20 s for the server to close `stream` and returns how long
/// that took; panics if data arrives or the connection stays open.
fn wait_for_close(stream: &mut std::net::TcpStream) -> Duration {
    let start = Instant::now();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut buf = [0u8; 512];
    match stream.read(&mut buf) {
        Ok(0) => start.elapsed(),
        Err(e) if e.kind() == ErrorKind::ConnectionReset => start.elapsed(),
        Ok(n) => panic!("unexpected {n} octets on an idle connection"),
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            panic!("idle connection still open after {:?}", start.elapsed())
        }
        Err(e) => panic!("reading from an idle connection: {e}"),
    }
}

#[test]
fn idle_tcp_connections_are_closed_after_the_timeout() {
    let mut options = PooldnsOptions::new(data_path("differential"));
    options.tcp_idle_timeout = Some(1);
    let server = Pooldns::start_with(options);

    // A connection that never sends anything.
    let mut silent = tcp_connect(server.dns).expect("connect");
    let waited = wait_for_close(&mut silent);
    assert!(
        waited >= Duration::from_millis(500),
        "closed after {waited:?}, before the 1 s timeout"
    );

    // A connection that is idle after one exchange.
    let mut used = tcp_connect(server.dns).expect("connect");
    let id = next_id();
    write_frame(
        &mut used,
        &encode_query(id, &parse_name("www.example.com"), RecordType::A, &QueryOptions::tcp()),
    )
    .expect("send query");
    let reply = read_frame(&mut used)
        .expect("read reply")
        .expect("connection closed before the reply");
    assert_eq!(decode(&reply).id, id);
    let waited = wait_for_close(&mut used);
    assert!(
        waited >= Duration::from_millis(500),
        "closed {waited:?} after the reply"
    );
}

// ---------------------------------------------------------------------------
// Process lifecycle
// ---------------------------------------------------------------------------

#[test]
fn sigterm_stops_the_server_cleanly() {
    let mut server = start();
    assert_still_answers(server.dns);
    let status = server.terminate(Duration::from_secs(15));
    assert!(status.success(), "pooldns exited with {status} after SIGTERM");
}

#[test]
fn the_node_tells_its_identity_by_nsid_and_chaos_txt() {
    let mut options = PooldnsOptions::new(data_path("differential"));
    options.dns_config = "identity = \"fra-1.ns.example\"\nversion = \"pooldns test build\"\n".into();
    let server = Pooldns::start_with(options);
    for name in ["id.server", "hostname.bind"] {
        assert_eq!(
            testkit::dig::output(server.dns, &["-c", "CH", "-t", "TXT", name, "+short"]).trim(),
            "\"fra-1.ns.example\"",
            "{name}"
        );
    }
    for name in ["version.server", "version.bind"] {
        assert_eq!(
            testkit::dig::output(server.dns, &["-c", "CH", "-t", "TXT", name, "+short"]).trim(),
            "\"pooldns test build\"",
            "{name}"
        );
    }
    let other = testkit::dig::output(server.dns, &["-c", "CH", "-t", "TXT", "authors.bind"]);
    assert!(other.contains("status: REFUSED"), "{other}");
    // NSID comes with any answer that asked for it, in text and in hex.
    let answer = testkit::dig::output(server.dns, &["+nsid", "example.com", "SOA"]);
    assert!(
        answer.contains("NSID: 66 72 61 2d 31") && answer.contains("(\"fra-1.ns.example\")"),
        "{answer}"
    );
    let without = testkit::dig::output(server.dns, &["example.com", "SOA"]);
    assert!(!without.contains("NSID"), "only when asked: {without}");

    // By default the identity is the host name and the version is not told.
    let default = start();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("host name");
    assert_eq!(
        testkit::dig::output(default.dns, &["-c", "CH", "-t", "TXT", "id.server", "+short"]).trim(),
        format!("\"{}\"", host.trim())
    );
    let version = testkit::dig::output(default.dns, &["-c", "CH", "-t", "TXT", "version.bind"]);
    assert!(version.contains("status: REFUSED"), "{version}");
}
