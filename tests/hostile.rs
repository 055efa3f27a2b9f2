//! Hostile traffic over real sockets.
//!
//! Response rate limiting and DNS Cookies: a burst from one client prefix
//! is held to the rate, every second limited answer slips out truncated,
//! and other prefixes, TCP, exempt networks, clients with a valid server
//! cookie and log-only mode are not limited. Counts are bounded by the
//! seconds the burst spanned, never by how fast the machine is.
//!
//! TCP connection limits: idle connections from one source are bounded and
//! cannot lock out other clients; a connection answers a bounded number of
//! queries.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;
use testkit::{
    data_path, encode_query, opt_record_with_options, parse_name, query, read_frame, write_frame, Pooldns,
    PooldnsOptions, QueryOptions,
};

/// What came back for a burst of identical queries.
#[derive(Debug, Default)]
struct Burst {
    /// Replies with records.
    full: usize,
    /// Truncated replies without records (slipped).
    slipped: usize,
    /// Queries without a reply (dropped).
    silent: usize,
    /// Seconds of the limiter's clock the burst may have spanned.
    seconds: u64,
}

/// Sends `count` queries for `name`/`qtype` from `source` as fast as it
/// can, then collects the replies until none comes for half a second.
fn burst(server: SocketAddr, source: &str, name: &str, qtype: RecordType, count: u16) -> Burst {
    burst_of(server, source, &[name.to_string()], qtype, count)
}

/// [`burst`] cycling through `names`.
fn burst_of(server: SocketAddr, source: &str, names: &[String], qtype: RecordType, count: u16) -> Burst {
    burst_with(server, source, count, |id| {
        let name = &names[usize::from(id) % names.len()];
        encode_query(id, &parse_name(name), qtype, &QueryOptions::udp())
    })
}

/// A burst of the `count` queries `query` makes from their IDs.
fn burst_with(server: SocketAddr, source: &str, count: u16, query: impl Fn(u16) -> Vec<u8>) -> Burst {
    let socket = UdpSocket::bind((source, 0)).unwrap_or_else(|e| panic!("bind {source}: {e}"));
    socket
        .set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    let started = Instant::now();
    for id in 0..count {
        socket.send_to(&query(id), server).expect("send");
    }
    let sent_within = started.elapsed();
    let mut seen = HashSet::new();
    let mut result = Burst::default();
    let mut buffer = [0u8; 4096];
    while let Ok((len, _)) = socket.recv_from(&mut buffer) {
        let reply = &buffer[..len];
        assert!(len >= 12, "short reply");
        let id = u16::from_be_bytes([reply[0], reply[1]]);
        assert!(seen.insert(id), "two replies to query {id}");
        let truncated = reply[2] & 0x02 != 0;
        let records = u16::from_be_bytes([reply[6], reply[7]]) + u16::from_be_bytes([reply[8], reply[9]]);
        if truncated {
            assert_eq!(records, 0, "a slipped reply carries no records");
            result.slipped += 1;
        } else {
            result.full += 1;
        }
    }
    result.silent = usize::from(count) - seen.len();
    // The queries were answered while being sent and shortly after.
    result.seconds = sent_within.as_secs() + 2;
    result
}

fn with_rrl(rrl: &str) -> Pooldns {
    let mut options = PooldnsOptions::new(data_path("differential"));
    options.extra_config = format!("\n[rrl]\n{rrl}\n");
    Pooldns::start_with(options)
}

fn rate_limited(server: &Pooldns, action: &str) -> u64 {
    let metrics = server.http_get("/metrics").body;
    let line = format!("pooldns_rate_limited_total{{action=\"{action}\"}} ");
    metrics
        .lines()
        .find_map(|text| text.strip_prefix(&line))
        .unwrap_or_else(|| panic!("no {line} in /metrics:\n{metrics}"))
        .trim()
        .parse()
        .expect("a count")
}

#[test]
fn a_burst_is_held_to_the_rate_and_slips_every_second_limited_answer() {
    let server = with_rrl("rate = 5\nslip = 2");
    let answers = burst(server.dns, "127.0.0.1", "www.example.com.", RecordType::A, 60);
    assert!(answers.full >= 5, "{answers:?}");
    assert!(answers.full as u64 <= 5 * answers.seconds, "{answers:?}");
    let limited = 60 - answers.full;
    assert_eq!(answers.slipped + answers.silent, limited, "{answers:?}");
    assert!(
        answers.slipped.abs_diff(answers.silent) <= 1,
        "slip 2: half slip, half dropped: {answers:?}"
    );

    // Another prefix, and TCP from the same one, are answered in full.
    let other = burst(server.dns, "127.0.1.1", "www.example.com.", RecordType::A, 3);
    assert_eq!((other.full, other.slipped, other.silent), (3, 0, 0), "{other:?}");
    let over_tcp = query(server.dns, "www.example.com.", RecordType::A, &QueryOptions::tcp());
    assert_eq!(over_tcp.answers.len(), 2, "{over_tcp:?}");

    // Another name from the limited prefix has its own bucket.
    let mail = burst(server.dns, "127.0.0.1", "mail.example.com.", RecordType::A, 3);
    assert_eq!(mail.full, 3, "{mail:?}");

    // NXDOMAIN counts per zone: many names under one zone share a bucket.
    let socket = UdpSocket::bind(("127.0.0.1", 0)).expect("bind");
    socket
        .set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    let started = Instant::now();
    for id in 0..40u16 {
        let name = parse_name(&format!("nx{id}.example.com."));
        socket
            .send_to(
                &encode_query(id, &name, RecordType::A, &QueryOptions::udp()),
                server.dns,
            )
            .expect("send");
    }
    let seconds = started.elapsed().as_secs() + 2;
    let mut nxdomain = 0u64;
    let mut buffer = [0u8; 4096];
    while let Ok((len, _)) = socket.recv_from(&mut buffer) {
        if buffer[2] & 0x02 == 0 && len >= 12 {
            assert_eq!(buffer[3] & 0x0f, 3, "NXDOMAIN");
            nxdomain += 1;
        }
    }
    assert!(
        (5..=5 * seconds).contains(&nxdomain),
        "{nxdomain} NXDOMAIN in {seconds} s"
    );

    // Names a wildcard answers count per zone too: example.net has one
    // at its apex.
    let names: Vec<String> = (0..40).map(|n| format!("w{n}.example.net.")).collect();
    let wild = burst_of(server.dns, "127.0.0.1", &names, RecordType::A, 40);
    assert!(wild.full >= 5 && wild.full as u64 <= 5 * wild.seconds, "{wild:?}");

    // Every limited reply is counted, dropped or slipped.
    let counted = rate_limited(&server, "dropped") + rate_limited(&server, "slipped");
    assert_eq!(counted, (limited + 40 - nxdomain as usize + 40 - wild.full) as u64);
    assert!(rate_limited(&server, "slipped") >= answers.slipped as u64);
}

#[test]
fn exempt_networks_and_log_only_mode_are_not_limited() {
    let server = with_rrl("rate = 1\nexempt = [\"127.0.0.0/24\"]");
    let exempt = burst(server.dns, "127.0.0.1", "www.example.com.", RecordType::A, 20);
    assert_eq!((exempt.full, exempt.silent), (20, 0), "{exempt:?}");
    let limited = burst(server.dns, "127.0.1.1", "www.example.com.", RecordType::A, 20);
    assert!(limited.full as u64 <= limited.seconds, "{limited:?}");
    drop(server);

    let server = with_rrl("rate = 1\nlog_only = true");
    let logged = burst(server.dns, "127.0.0.1", "www.example.com.", RecordType::A, 20);
    assert_eq!((logged.full, logged.silent), (20, 0), "{logged:?}");
    let count = rate_limited(&server, "logged");
    assert!(count >= 20 - logged.seconds, "{count} logged");
    assert_eq!(rate_limited(&server, "dropped"), 0);
    assert_eq!(rate_limited(&server, "slipped"), 0);
}

/// A query for www.example.com A with a COOKIE option of `cookie`.
fn with_cookie(id: u16, cookie: &[u8]) -> Vec<u8> {
    let mut wire = encode_query(
        id,
        &parse_name("www.example.com."),
        RecordType::A,
        &QueryOptions::udp().no_edns(),
    );
    wire[11] = 1; // ARCOUNT
    let mut option = 10u16.to_be_bytes().to_vec();
    option.extend_from_slice(&(cookie.len() as u16).to_be_bytes());
    option.extend_from_slice(cookie);
    wire.extend_from_slice(&opt_record_with_options(&[0], 1232, 0, false, &option));
    wire
}

/// The COOKIE option of a reply, if it has one: pooldns writes the OPT
/// record last, and the COOKIE option last in it.
fn cookie_of(reply: &[u8]) -> Option<Vec<u8>> {
    let tail = reply.len().checked_sub(28)?;
    (reply[tail..tail + 4] == [0, 10, 0, 24]).then(|| reply[tail + 4..].to_vec())
}

#[test]
fn cookies_are_answered_and_a_valid_server_cookie_is_not_limited() {
    let server = with_rrl("rate = 2\nslip = 0");
    // dig sends a client cookie and checks the one it gets back.
    let shown = testkit::dig::output(server.dns, &["+cookie", "www.example.com", "A"]);
    let line = shown
        .lines()
        .find(|line| line.contains("COOKIE:"))
        .unwrap_or_else(|| panic!("no COOKIE in:\n{shown}"));
    assert!(line.contains("(good)"), "{line}");
    let hex = line.split_whitespace().nth(2).expect("the cookie");
    assert_eq!(hex.len(), 48, "8 octets of client cookie, 16 of server cookie: {line}");

    // The server cookie given for a client cookie, sent back, exempts its
    // holder from the limit.
    let socket = UdpSocket::bind(("127.0.0.1", 0)).expect("bind");
    socket.set_read_timeout(Some(Duration::from_secs(2))).expect("timeout");
    socket.send_to(&with_cookie(1, b"pooldns!"), server.dns).expect("send");
    let mut buffer = [0u8; 4096];
    let (len, _) = socket.recv_from(&mut buffer).expect("an answer");
    let cookie = cookie_of(&buffer[..len]).expect("a COOKIE option");
    assert_eq!(cookie.len(), 24);
    assert_eq!(&cookie[..8], b"pooldns!", "the client cookie comes back");
    let valid = burst_with(server.dns, "127.0.0.1", 30, |id| with_cookie(id, &cookie));
    assert_eq!((valid.full, valid.silent), (30, 0), "{valid:?}");

    // A client cookie alone, or a server cookie not given, counts.
    let mut forged = cookie.clone();
    forged[23] ^= 0xff;
    for sent in [&cookie[..8], &forged[..]] {
        let limited = burst_with(server.dns, "127.0.0.1", 30, |id| with_cookie(id, sent));
        assert!(limited.full as u64 <= 2 * limited.seconds, "{limited:?}");
    }

    // A COOKIE option of a length RFC 7873 does not allow is FORMERR
    // (asked from prefixes of their own: errors count against the rate).
    for (n, bad) in [&b"short"[..], &[7u8; 12][..], &[7u8; 41][..]].into_iter().enumerate() {
        let socket = UdpSocket::bind((format!("127.0.{}.1", 10 + n), 0)).expect("bind");
        socket.set_read_timeout(Some(Duration::from_secs(2))).expect("timeout");
        socket.send_to(&with_cookie(2, bad), server.dns).expect("send");
        let (len, _) = socket.recv_from(&mut buffer).expect("an answer");
        assert!(len >= 12);
        assert_eq!(buffer[3] & 0x0f, 1, "FORMERR for {} octets", bad.len());
    }
}

#[test]
fn nodes_sharing_a_cookie_secret_take_each_others_cookies() {
    let dir = tempfile::tempdir().expect("temp dir");
    let secret = dir.path().join("cookie-secret");
    std::fs::write(&secret, "00112233445566778899aabbccddeeff\n").expect("secret");
    let node = |secret_line: &str| {
        let mut options = PooldnsOptions::new(data_path("differential"));
        options.dns_config = secret_line.to_string();
        options.extra_config = "\n[rrl]\nrate = 2\nslip = 0\n".into();
        Pooldns::start_with(options)
    };
    let shared = format!("cookie_secret_file = {:?}\n", secret.display().to_string());
    let (a, b, other) = (node(&shared), node(&shared), node(""));
    let socket = UdpSocket::bind(("127.0.0.1", 0)).expect("bind");
    socket.set_read_timeout(Some(Duration::from_secs(2))).expect("timeout");
    socket.send_to(&with_cookie(1, b"anycast!"), a.dns).expect("send");
    let mut buffer = [0u8; 4096];
    let (len, _) = socket.recv_from(&mut buffer).expect("an answer");
    let cookie = cookie_of(&buffer[..len]).expect("a COOKIE option");
    // Node B takes the cookie node A gave: its holder is not limited.
    let at_b = burst_with(b.dns, "127.0.0.1", 30, |id| with_cookie(id, &cookie));
    assert_eq!((at_b.full, at_b.silent), (30, 0), "{at_b:?}");
    // A node with a secret of its own does not.
    let at_other = burst_with(other.dns, "127.0.0.1", 30, |id| with_cookie(id, &cookie));
    assert!(at_other.full as u64 <= 2 * at_other.seconds, "{at_other:?}");
}

#[test]
fn a_flood_of_updates_and_notifies_leaves_queries_answered() {
    let server = Pooldns::start_with(PooldnsOptions::new(data_path("differential")));
    let flood = UdpSocket::bind(("127.0.2.1", 0)).expect("bind");
    flood.set_nonblocking(true).expect("nonblocking");
    // Unsigned UPDATEs and NOTIFYs for a zone served here: each needs the
    // store before it can be refused.
    let mut update = encode_query(1, &parse_name("example.com."), RecordType::SOA, &QueryOptions::udp());
    update[2] = 5 << 3;
    let mut notify = update.clone();
    notify[2] = 4 << 3 | 0x04;
    let resident = server.resident_kib();
    let started = Instant::now();
    let mut sent = 0u32;
    while started.elapsed() < Duration::from_secs(3) {
        for message in [&update, &notify] {
            if flood.send_to(message, server.dns).is_ok() {
                sent += 1;
            }
        }
        // Queries from elsewhere are answered throughout.
        if sent % 20_000 == 0 {
            let answer = answer_as_a_resolver_would(server.dns).expect("a query answered during the flood");
            assert_eq!(answer[3] & 0x0f, 0, "NOERROR");
        }
    }
    let mut buffer = [0u8; 512];
    let mut refused = 0;
    while let Ok((len, _)) = flood.recv_from(&mut buffer) {
        assert!(len >= 12, "a reply shorter than a header");
        refused += 1;
    }
    let metrics = server.http_get("/metrics").body;
    println!(
        "{sent} sent, {refused} answered; {}",
        metrics
            .lines()
            .find(|l| l.starts_with("pooldns_dropped_total"))
            .unwrap_or("")
    );
    assert!(sent > 10_000, "the flood was sent: {sent}");
    // What waits on the store is bounded: the flood costs no memory to
    // speak of.
    let grown = server.resident_kib().saturating_sub(resident);
    assert!(grown < 64 * 1024, "resident memory grew by {grown} KiB");
    let answer = testkit::udp_exchange(server.dns, &www_udp_query(), Duration::from_secs(1))
        .expect("exchange")
        .expect("a query answered after the flood");
    assert_eq!(answer[3] & 0x0f, 0, "NOERROR");
}

fn www_udp_query() -> Vec<u8> {
    encode_query(7, &parse_name("www.example.com."), RecordType::A, &QueryOptions::udp())
}

/// The answer to `www_udp_query`, asked up to five times a second apart as a
/// resolver retries: under a flood the kernel drops datagrams from a full
/// socket buffer before the server sees them, whoever sent them.
fn answer_as_a_resolver_would(server: SocketAddr) -> Option<Vec<u8>> {
    (0..5).find_map(|_| testkit::udp_exchange(server, &www_udp_query(), Duration::from_secs(1)).expect("exchange"))
}

/// A TCP connection to `server` from the address `source`.
fn connect_from(source: &str, server: SocketAddr) -> TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    let local: SocketAddr = format!("{source}:0").parse().expect("address");
    socket
        .bind(&local.into())
        .unwrap_or_else(|e| panic!("bind {source}: {e}"));
    socket.connect(&server.into()).expect("connect");
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    stream
}

fn www_query(id: u16) -> Vec<u8> {
    encode_query(id, &parse_name("www.example.com."), RecordType::A, &QueryOptions::tcp())
}

#[test]
fn idle_tcp_connections_cannot_lock_out_other_clients() {
    let mut options = PooldnsOptions::new(data_path("differential"));
    options.dns_config = "tcp_max_connections = 8\ntcp_max_connections_per_source = 5\ntcp_idle_timeout = 60".into();
    let server = Pooldns::start_with(options);

    // Five idle connections from one address are held; a sixth is closed.
    let mut held: Vec<TcpStream> = (0..5).map(|_| connect_from("127.0.0.1", server.dns)).collect();
    let mut sixth = connect_from("127.0.0.1", server.dns);
    sixth.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    let read = sixth.read(&mut [0u8; 1]);
    assert!(
        matches!(read, Ok(0)) || matches!(&read, Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset),
        "the sixth connection is closed, not held: {read:?}"
    );

    // Three more from another address fill the listener.
    held.extend((0..3).map(|_| connect_from("127.0.2.1", server.dns)));
    std::thread::sleep(Duration::from_millis(1500));

    // A new client from a third address is answered: the connection idle
    // longest made room for it.
    let mut fresh = connect_from("127.0.1.1", server.dns);
    write_frame(&mut fresh, &www_query(7)).expect("send");
    let reply = read_frame(&mut fresh).expect("a reply").expect("not closed");
    assert_eq!(&reply[..2], &7u16.to_be_bytes());
    assert_eq!(reply[3] & 0x0f, 0, "NOERROR");
    let closed: Vec<usize> = held
        .iter_mut()
        .enumerate()
        .filter_map(|(n, stream)| {
            stream
                .set_read_timeout(Some(Duration::from_millis(200)))
                .expect("timeout");
            matches!(stream.read(&mut [0u8; 1]), Ok(0)).then_some(n)
        })
        .collect();
    assert!(
        !closed.is_empty() && closed.len() < held.len(),
        "closed to make room: {closed:?}"
    );

    // Held connections that were not closed still answer.
    let open = (0..held.len()).find(|n| !closed.contains(n)).expect("one still open");
    write_frame(&mut held[open], &www_query(8)).expect("send");
    let reply = read_frame(&mut held[open]).expect("a reply").expect("not closed");
    assert_eq!(&reply[..2], &8u16.to_be_bytes());
}

#[test]
fn a_tcp_connection_answers_a_bounded_number_of_queries() {
    let mut options = PooldnsOptions::new(data_path("differential"));
    options.dns_config = "tcp_max_queries = 3".into();
    let server = Pooldns::start_with(options);
    let mut stream = connect_from("127.0.0.1", server.dns);
    // A pipelining client is still sending when the server has answered
    // its three: the answers arrive all the same, then a clean close (not a
    // reset, which would discard answers not yet read).
    for id in 0..1000 {
        write_frame(&mut stream, &www_query(id)).expect("send");
    }
    std::thread::sleep(Duration::from_millis(300));
    for id in 0..3u16 {
        let reply = read_frame(&mut stream).expect("a reply").expect("not closed yet");
        assert_eq!(&reply[..2], &id.to_be_bytes());
    }
    assert!(
        matches!(read_frame(&mut stream), Ok(None)),
        "closed cleanly after 3 queries"
    );
}

#[test]
fn a_slow_http_client_is_dropped_and_others_are_served() {
    let server = Pooldns::start(&data_path("differential"));
    let mut slow = TcpStream::connect(server.api).expect("connect");
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: pooldns\r\n")
        .expect("send");
    assert_eq!(server.http_get("/healthz").status, 200, "others are served meanwhile");
    // Its time for headers (10 s) runs out: the connection is closed, not
    // held for as long as the client likes.
    slow.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
    let mut rest = Vec::new();
    let read = slow.read_to_end(&mut rest);
    assert!(
        read.is_ok() || matches!(&read, Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset),
        "closed by the server: {read:?}"
    );
    assert!(
        !String::from_utf8_lossy(&rest).contains(" 200 "),
        "{}",
        String::from_utf8_lossy(&rest)
    );
}

#[test]
fn an_api_key_past_its_request_rate_gets_429() {
    let mut options = PooldnsOptions::new(data_path("differential"));
    options.extra_config = "\n[[api.keys]]\nname = \"busy\"\nkey = \"busy-key\"\nrequests_per_second = 3\n\n\
                            [[api.keys]]\nname = \"other\"\nkey = \"other-key\"\n"
        .into();
    let server = Pooldns::start_with(options);
    let get = |key: &str| {
        testkit::http_request(
            server.api,
            "GET",
            "/api/v1/servers/localhost/zones",
            &[("X-API-Key", key)],
            b"",
        )
        .expect("HTTP")
    };
    let started = Instant::now();
    let statuses: Vec<u16> = (0..12).map(|_| get("busy-key").status).collect();
    let seconds = started.elapsed().as_secs() + 2;
    let ok = statuses.iter().filter(|&&status| status == 200).count() as u64;
    assert!((3..=3 * seconds).contains(&ok), "{statuses:?}");
    assert!(
        statuses.iter().all(|&status| status == 200 || status == 429),
        "{statuses:?}"
    );
    assert!(statuses.contains(&429), "{statuses:?}");
    let refused = get("busy-key");
    if refused.status == 429 {
        assert!(refused.body.contains("requests_per_second"), "{}", refused.body);
    }
    // Another key has its own budget, and no limit here.
    assert!((0..12).all(|_| get("other-key").status == 200));
}

/// GET `path` with `key` from the address `source`: the status and the
/// Retry-After header.
fn get_from(source: &str, api: SocketAddr, key: &str) -> (u16, Option<u64>) {
    let mut stream = connect_from(source, api);
    let request = format!("GET /api/v1/servers/localhost/zones HTTP/1.0\r\nX-API-Key: {key}\r\n\r\n");
    stream.write_all(request.as_bytes()).expect("request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let retry = response
        .lines()
        .find_map(|line| line.strip_prefix("retry-after: "))
        .and_then(|value| value.trim().parse().ok());
    (status, retry)
}

#[test]
fn wrong_api_keys_lock_out_their_source_for_the_minute_and_no_one_else() {
    let mut options = PooldnsOptions::new(data_path("differential"));
    options.extra_config = "\n[[api.keys]]\nname = \"ops\"\nkey = \"right-key\"\n".into();
    let server = Pooldns::start_with(options);
    let guesses: Vec<u16> = (0..20)
        .map(|n| get_from("127.0.0.3", server.api, &format!("guess-{n}")).0)
        .collect();
    assert!(guesses.iter().all(|&status| status == 401), "{guesses:?}");
    // The 21st try is refused before the key is looked at: even the right
    // key, from that address, waits for the minute to end.
    for key in ["guess-21", "right-key"] {
        let (status, retry) = get_from("127.0.0.3", server.api, key);
        assert_eq!(status, 429, "{key}");
        assert!(retry.is_some_and(|seconds| (1..=60).contains(&seconds)), "{retry:?}");
    }
    assert_eq!(get_from("127.0.0.4", server.api, "right-key").0, 200, "another source");
}

#[test]
fn a_slow_http_body_gets_408_a_huge_one_413_and_one_without_a_key_is_not_read() {
    let mut options = PooldnsOptions::new(data_path("differential"));
    options.extra_config = "\n[[api.keys]]\nname = \"ci\"\nkey = \"ci-key\"\n".into();
    let server = Pooldns::start_with(options);
    let mut slow = TcpStream::connect(server.api).expect("connect");
    slow.write_all(
        b"PATCH /api/v1/servers/localhost/zones/example.com. HTTP/1.1\r\nHost: pooldns\r\nX-API-Key: ci-key\r\n\
          Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"rrsets\":",
    )
    .expect("send");
    slow.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
    let mut reply = Vec::new();
    let _ = slow.read_to_end(&mut reply);
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    assert!(reply.contains("not received in time"), "{reply}");

    let huge = vec![b' '; 17 * 1024 * 1024];
    let response = testkit::http_request(
        server.api,
        "PATCH",
        "/api/v1/servers/localhost/zones/example.com.",
        &[("X-API-Key", "ci-key"), ("Content-Type", "application/json")],
        &huge,
    )
    .expect("HTTP");
    assert_eq!(response.status, 413, "{}", response.body);
    // Nothing was changed, and the API still answers.
    assert_eq!(server.http_get("/healthz").status, 200);

    // Without a key the body is not waited for: the 401 comes at once,
    // before the 10 s a body may take.
    let mut keyless = TcpStream::connect(server.api).expect("connect");
    keyless
        .write_all(
            b"PATCH /api/v1/servers/localhost/zones/example.com. HTTP/1.1\r\nHost: pooldns\r\n\
              Content-Type: application/json\r\nContent-Length: 16000000\r\n\r\n{\"rrsets\":",
        )
        .expect("send");
    keyless.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    let mut reply = [0u8; 64];
    let read = keyless.read(&mut reply).expect("an answer before the body");
    let reply = String::from_utf8_lossy(&reply[..read]);
    assert!(reply.starts_with("HTTP/1.1 401"), "{reply}");
}
