//! Robustness against malformed input: thousands of random, truncated and
//! bit-flipped UDP packets and a few hundred garbage TCP streams, after which
//! the server must still be running and answering correctly.
//!
//! Every UDP packet gets a unique ID so that each reply can be traced back to
//! the packet that caused it; replies are checked against what RFC 1035
//! allows for the packet (never a reply to a response or to a packet too
//! short to hold a header). The random generator is seeded with a constant,
//! or with `$POOLDNS_FUZZ_SEED`, so a failure can be replayed.

use std::collections::BTreeMap;
use std::io::{ErrorKind, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};
use testkit::{
    data_path, encode_query, name_wire, opt_record, parse_name, query, read_frame, tcp_connect, write_frame, Pooldns,
    QueryOptions,
};

/// Number of UDP packets sent.
const UDP_PACKETS: usize = 5_000;
/// Number of TCP connections carrying garbage.
const TCP_STREAMS: usize = 200;
/// Packets sent before pausing to collect replies.
const UDP_BATCH: usize = 25;
/// The whole test must finish within this (it normally takes seconds).
const TIME_BUDGET: Duration = Duration::from_secs(240);

/// SplitMix64: small, fast and good enough to generate test input.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Valid queries that the mutations start from.
fn seed_queries() -> Vec<Vec<u8>> {
    let names = [
        "www.example.com",
        "WwW.ExAmPlE.cOm",
        "nothere.example.com",
        "foo.wild.example.com",
        "host.deleg.example.com",
        "www.dname.example.com",
        "big.example.com",
        "example.org",
        "_sip._tcp.example.com",
    ];
    let types = [
        RecordType::A,
        RecordType::AAAA,
        RecordType::TXT,
        RecordType::ANY,
        RecordType::SRV,
    ];
    let option_sets = [
        QueryOptions::udp(),
        QueryOptions::udp().no_edns(),
        QueryOptions::udp().dnssec_ok(),
        QueryOptions::udp().payload(512),
    ];
    let mut queries = Vec::new();
    for (i, name) in names.iter().enumerate() {
        for (j, qtype) in types.iter().enumerate() {
            let options = &option_sets[(i + j) % option_sets.len()];
            queries.push(encode_query(0, &parse_name(name), *qtype, options));
        }
    }
    queries
}

/// Hand-made malformations that random input rarely produces.
fn crafted_packets() -> Vec<Vec<u8>> {
    let base = encode_query(
        0,
        &parse_name("www.example.com"),
        RecordType::A,
        &QueryOptions::udp().no_edns(),
    );
    let header = |qd: u16, an: u16, ns: u16, ar: u16| {
        let mut h = vec![0, 0, 0, 0];
        for count in [qd, an, ns, ar] {
            h.extend_from_slice(&count.to_be_bytes());
        }
        h
    };
    let mut packets = Vec::new();

    // Compression pointer to itself, and two pointers pointing at each other.
    let mut p = header(1, 0, 0, 0);
    p.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1]);
    packets.push(p);
    let mut p = header(1, 0, 0, 0);
    p.extend_from_slice(&[0xC0, 14, 0xC0, 12, 0, 1, 0, 1]);
    packets.push(p);
    // Pointer beyond the end of the message.
    let mut p = header(1, 0, 0, 0);
    p.extend_from_slice(&[0xFF, 0xFF, 0, 1, 0, 1]);
    packets.push(p);
    // Label longer than 63 octets and reserved label types 0x40 and 0x80.
    for first in [64u8, 0x40 | 5, 0x80 | 5] {
        let mut p = header(1, 0, 0, 0);
        p.push(first);
        p.extend_from_slice(&[b'a'; 70]);
        p.extend_from_slice(&[0, 0, 1, 0, 1]);
        packets.push(p);
    }
    // Name longer than 255 octets made of valid labels.
    let mut p = header(1, 0, 0, 0);
    for _ in 0..5 {
        p.push(63);
        p.extend_from_slice(&[b'x'; 63]);
    }
    p.extend_from_slice(&[0, 0, 1, 0, 1]);
    packets.push(p);
    // Huge section counts with nothing behind them.
    let mut p = header(1, 0xFFFF, 0xFFFF, 0xFFFF);
    p.extend_from_slice(&base[12..]);
    packets.push(p);
    packets.push(header(0xFFFF, 0, 0, 0));
    // OPT whose RDLENGTH runs past the end, and OPT with a truncated option.
    let mut p = base.clone();
    p[11] = 1;
    let mut opt = opt_record(&[0], 1232, 0, false);
    let len = opt.len();
    opt[len - 2..].copy_from_slice(&500u16.to_be_bytes());
    p.extend_from_slice(&opt);
    packets.push(p);
    let mut p = base.clone();
    p[11] = 1;
    let mut opt = opt_record(&[0], 1232, 0, false);
    let len = opt.len();
    opt[len - 2..].copy_from_slice(&6u16.to_be_bytes());
    opt.extend_from_slice(&[0, 10, 0, 8, 1, 2]); // COOKIE option claiming 8 octets, carrying 2
    p.extend_from_slice(&opt);
    packets.push(p);
    // An answer record in a query, with a compressed owner and bad RDLENGTH.
    let mut p = base.clone();
    p[7] = 1;
    p.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 200, 192, 0, 2, 1]);
    packets.push(p);
    // Query class and type zero, class ANY, class CHAOS, meta types.
    for (qtype, qclass) in [(0u16, 0u16), (1, 255), (16, 3), (252, 1), (251, 1), (65535, 65535)] {
        let mut p = header(1, 0, 0, 0);
        p.extend_from_slice(&name_wire(&parse_name("www.example.com")));
        p.extend_from_slice(&qtype.to_be_bytes());
        p.extend_from_slice(&qclass.to_be_bytes());
        packets.push(p);
    }
    // Oversized datagram: a valid query followed by junk.
    let mut p = base.clone();
    p.extend_from_slice(&[0xAB; 4000]);
    packets.push(p);
    packets
}

/// Generates the `i`-th UDP test packet (ID not yet set).
fn udp_packet(rng: &mut Rng, seeds: &[Vec<u8>], crafted: &[Vec<u8>], i: usize) -> Vec<u8> {
    if i < crafted.len() {
        return crafted[i].clone();
    }
    match rng.below(4) {
        // Random bytes.
        0 => {
            let len = rng.below(600);
            rng.bytes(len)
        }
        // A valid query cut short.
        1 => {
            let seed = rng.pick(seeds);
            let len = rng.below(seed.len());
            seed[..len].to_vec()
        }
        // A valid query with a few bits flipped.
        2 => {
            let mut packet = rng.pick(seeds).clone();
            for _ in 0..1 + rng.below(8) {
                let bit = rng.below(packet.len() * 8);
                packet[bit / 8] ^= 1 << (bit % 8);
            }
            packet
        }
        // A valid query with random bytes overwritten or appended.
        _ => {
            let mut packet = rng.pick(seeds).clone();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(packet.len());
                packet[at] = rng.next() as u8;
            }
            let extra = rng.below(40);
            packet.extend(rng.bytes(extra));
            packet
        }
    }
}

/// What was sent with a given ID.
struct Sent {
    len: usize,
    qr: bool,
}

/// Reads every reply already waiting on `socket` and checks it.
fn collect_replies(socket: &UdpSocket, sent: &BTreeMap<u16, Sent>, rcodes: &mut BTreeMap<u8, usize>, wait: Duration) {
    socket.set_read_timeout(Some(wait)).expect("set read timeout");
    let mut buf = vec![0u8; 65535];
    loop {
        let n = match socket.recv(&mut buf) {
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => return,
            Err(e) => panic!("receiving replies: {e}"),
        };
        let reply = &buf[..n];
        assert!(n >= 12, "reply shorter than a header: {}", testkit::hex(reply));
        assert!(reply[2] & 0x80 != 0, "reply with QR clear: {}", testkit::hex(reply));
        let id = u16::from_be_bytes([reply[0], reply[1]]);
        let packet = sent
            .get(&id)
            .unwrap_or_else(|| panic!("reply with an ID that was never sent: {}", testkit::hex(reply)));
        assert!(
            packet.len >= 12,
            "reply to a {}-octet packet, which has no complete header",
            packet.len
        );
        assert!(
            !packet.qr,
            "reply to a packet with QR set (ID {id}): {}",
            testkit::hex(reply)
        );
        *rcodes.entry(reply[3] & 0x0F).or_default() += 1;
    }
}

/// Asserts the server still gives the right answer over UDP and TCP.
fn assert_answers_correctly(server: SocketAddr) {
    for options in [QueryOptions::udp(), QueryOptions::tcp()] {
        let reply = query(server, "www.example.com", RecordType::A, &options);
        assert_eq!(reply.response_code, ResponseCode::NoError, "{options:?}");
        let mut addresses: Vec<String> = reply
            .answers
            .iter()
            .filter_map(|r| match &r.data {
                RData::A(a) => Some(a.to_string()),
                _ => None,
            })
            .collect();
        addresses.sort();
        assert_eq!(addresses, ["192.0.2.80", "192.0.2.81"], "{options:?}");
    }
}

fn seed() -> u64 {
    std::env::var("POOLDNS_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x706F_6F6C_646E_7321)
}

#[test]
fn survives_malformed_udp_packets() {
    let started = Instant::now();
    let mut server = Pooldns::start(&data_path("differential"));
    let seed = seed();
    println!("malformed UDP: seed {seed} (set POOLDNS_FUZZ_SEED to replay)");
    let mut rng = Rng(seed);
    let seeds = seed_queries();
    let crafted = crafted_packets();

    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    socket.connect(server.dns).expect("connect");
    let mut sent = BTreeMap::new();
    let mut rcodes = BTreeMap::new();
    for i in 0..UDP_PACKETS {
        let mut packet = udp_packet(&mut rng, &seeds, &crafted, i);
        let id = i as u16;
        if packet.len() >= 2 {
            packet[..2].copy_from_slice(&id.to_be_bytes());
        }
        sent.insert(
            id,
            Sent {
                len: packet.len(),
                qr: packet.get(2).is_some_and(|b| b & 0x80 != 0),
            },
        );
        // Replies to packets under two octets could not be traced; the
        // check in collect_replies rejects any reply with an unknown ID.
        match socket.send(&packet) {
            Ok(_) => {}
            // The kernel may refuse a datagram briefly if the port is
            // unreachable (ICMP from an earlier send); the server check
            // below decides whether that matters.
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => {}
            Err(e) => panic!("sending packet {i}: {e}"),
        }
        if i % UDP_BATCH == UDP_BATCH - 1 {
            collect_replies(&socket, &sent, &mut rcodes, Duration::from_millis(2));
            assert!(server.is_running(), "pooldns died after {} packets", i + 1);
        }
        assert!(
            started.elapsed() < TIME_BUDGET,
            "malformed UDP test over its time budget"
        );
    }
    collect_replies(&socket, &sent, &mut rcodes, Duration::from_secs(1));
    println!("malformed UDP: {UDP_PACKETS} packets sent, replies by RCODE: {rcodes:?}");

    assert!(server.is_running(), "pooldns died");
    assert_answers_correctly(server.dns);
    assert!(server.is_running(), "pooldns died");
}

/// Reads whatever the server sends on `stream` until it closes the
/// connection or `timeout` passes, checking that every frame is a response.
fn drain_tcp(stream: &mut TcpStream, timeout: Duration) {
    stream.set_read_timeout(Some(timeout)).expect("set read timeout");
    loop {
        match read_frame(stream) {
            Ok(Some(reply)) => {
                assert!(
                    reply.len() >= 12,
                    "TCP reply shorter than a header: {}",
                    testkit::hex(&reply)
                );
                assert!(
                    reply[2] & 0x80 != 0,
                    "TCP reply with QR clear: {}",
                    testkit::hex(&reply)
                );
            }
            Ok(None) => return,
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock
                        | ErrorKind::TimedOut
                        | ErrorKind::ConnectionReset
                        | ErrorKind::UnexpectedEof
                        | ErrorKind::BrokenPipe
                ) =>
            {
                return
            }
            Err(e) => panic!("reading from a garbage connection: {e}"),
        }
    }
}

#[test]
fn survives_garbage_tcp_streams() {
    let started = Instant::now();
    let mut server = Pooldns::start(&data_path("differential"));
    let seed = seed() ^ 0x0074_6370;
    println!("garbage TCP: seed {seed}");
    let mut rng = Rng(seed);
    let seeds = seed_queries();
    let crafted = crafted_packets();

    // A client that sends half a message and then stalls must not keep the
    // server from answering others.
    let mut stalled = tcp_connect(server.dns).expect("connect");
    stalled
        .write_all(&[0x01, 0x00, 0xAB, 0xCD, 0x00])
        .expect("send partial frame");
    assert_answers_correctly(server.dns);

    const GROUP: usize = 20;
    for group in 0..TCP_STREAMS / GROUP {
        let mut streams = Vec::new();
        for _ in 0..GROUP {
            let mut stream = tcp_connect(server.dns).expect("connect");
            let mut data = Vec::new();
            match rng.below(3) {
                // Unframed random bytes.
                0 => {
                    let len = rng.below(2000);
                    data = rng.bytes(len);
                }
                // Correctly framed malformed messages.
                1 => {
                    for _ in 0..1 + rng.below(5) {
                        let i = rng.below(UDP_PACKETS);
                        let message = udp_packet(&mut rng, &seeds, &crafted, i);
                        let len = message.len().min(usize::from(u16::MAX));
                        data.extend_from_slice(&(len as u16).to_be_bytes());
                        data.extend_from_slice(&message[..len]);
                    }
                }
                // A frame cut short, or a frame length of zero.
                _ => {
                    let message = rng.pick(&seeds).clone();
                    if rng.below(2) == 0 {
                        data.extend_from_slice(&[0, 0]);
                    }
                    data.extend_from_slice(&(message.len() as u16).to_be_bytes());
                    let cut = rng.below(message.len());
                    data.extend_from_slice(&message[..cut]);
                }
            }
            // The server may close the connection early; a failed write is fine.
            let _ = stream.write_all(&data);
            streams.push(stream);
        }
        for mut stream in streams {
            let _ = stream.shutdown(Shutdown::Write);
            drain_tcp(&mut stream, Duration::from_millis(300));
        }
        assert!(
            server.is_running(),
            "pooldns died after {} garbage connections",
            (group + 1) * GROUP
        );
        assert!(started.elapsed() < TIME_BUDGET, "garbage TCP test over its time budget");
    }

    // New connections are still served while the stalled one is open.
    assert_answers_correctly(server.dns);
    let mut fresh = tcp_connect(server.dns).expect("connect");
    let query_wire = encode_query(
        0x5151,
        &parse_name("www.example.com"),
        RecordType::A,
        &QueryOptions::tcp(),
    );
    write_frame(&mut fresh, &query_wire).expect("send query");
    let reply = read_frame(&mut fresh).expect("read reply").expect("connection closed");
    assert_eq!(u16::from_be_bytes([reply[0], reply[1]]), 0x5151);
    drop(stalled);

    assert!(server.is_running(), "pooldns died");
}
