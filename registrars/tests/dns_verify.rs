//! `verify_delegation` and `find_parent_servers` against a tiny local DNS responder.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use registrars::{
    find_parent_servers, parse_nameservers, verify_delegation, verify_delegation_with, DomainName, DsRecord,
    VerifyOptions,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

/// The delegated name.
const CHILD: &str = "pool.example.com";
/// The parent zone.
const PARENT: &str = "example.com";
/// The DS record published once the change is live.
const DS: &str = "2371 13 2 c988ec423e3880eb8dd8a46fe06ca230ee23f35b578d64e78b29c3e1c83d245a";

/// What the responder serves.
#[derive(Clone, Debug, Default)]
struct Zone {
    /// The child's NS set at the parent.
    nameservers: Vec<String>,
    /// Glue for in-bailiwick nameservers.
    glue: Vec<(String, Ipv4Addr)>,
    /// The child's DS set.
    ds: Vec<DsRecord>,
    /// Answer UDP queries with TC=1 and nothing else.
    truncate: bool,
}

/// Encodes a name without compression.
fn name(text: &str) -> Vec<u8> {
    let mut wire = Vec::new();
    for label in text.split('.').filter(|label| !label.is_empty()) {
        wire.push(label.len() as u8);
        wire.extend_from_slice(label.as_bytes());
    }
    wire.push(0);
    wire
}

/// Encodes one record.
fn record(owner: &str, rtype: u16, rdata: &[u8]) -> Vec<u8> {
    let mut wire = name(owner);
    wire.extend_from_slice(&rtype.to_be_bytes());
    wire.extend_from_slice(&1u16.to_be_bytes());
    wire.extend_from_slice(&3600u32.to_be_bytes());
    wire.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    wire.extend_from_slice(rdata);
    wire
}

/// Reads the question of a query: name (lower-case) and type, and where it ends.
fn question(query: &[u8]) -> Option<(String, u16, usize)> {
    let mut position = 12;
    let mut labels = Vec::new();
    loop {
        let size = usize::from(*query.get(position)?);
        position += 1;
        if size == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(query.get(position..position + size)?).to_ascii_lowercase());
        position += size;
    }
    let rtype = u16::from_be_bytes([*query.get(position)?, *query.get(position + 1)?]);
    Some((labels.join("."), rtype, position + 4))
}

/// Builds the answer to `query` from `zone`; `udp` enables truncation.
fn answer(query: &[u8], zone: &Zone, port_ip: Ipv4Addr, udp: bool) -> Option<Vec<u8>> {
    let (qname, qtype, end) = question(query)?;
    let mut answers = Vec::new();
    let mut authority = Vec::new();
    let mut additional = Vec::new();
    let mut flags: u16 = 0x8000 | (u16::from(query[2] & 0x01) << 8);
    match (qname.as_str(), qtype) {
        (CHILD, 2) => {
            for host in &zone.nameservers {
                authority.push(record(CHILD, 2, &name(host)));
            }
            for (host, ip) in &zone.glue {
                additional.push(record(host, 1, &ip.octets()));
            }
        }
        (CHILD, 43) => {
            flags |= 0x0400;
            for ds in &zone.ds {
                let mut rdata = ds.key_tag().to_be_bytes().to_vec();
                rdata.push(ds.algorithm());
                rdata.push(ds.digest_type());
                rdata.extend_from_slice(ds.digest());
                answers.push(record(CHILD, 43, &rdata));
            }
        }
        (PARENT, 2) => {
            flags |= 0x0400;
            answers.push(record(PARENT, 2, &name("ns.example.com")));
            additional.push(record("ns.example.com", 1, &port_ip.octets()));
        }
        ("ns.example.com", 1) => {
            flags |= 0x0400;
            answers.push(record("ns.example.com", 1, &port_ip.octets()));
        }
        _ => flags |= 0x0003,
    }
    if udp && zone.truncate {
        flags |= 0x0200;
        answers.clear();
        authority.clear();
        additional.clear();
    }
    let mut reply = query[..2].to_vec();
    reply.extend_from_slice(&flags.to_be_bytes());
    for count in [1, answers.len(), authority.len(), additional.len()] {
        reply.extend_from_slice(&(count as u16).to_be_bytes());
    }
    reply.extend_from_slice(&query[12..end]);
    for section in [answers, authority, additional] {
        for rr in section {
            reply.extend_from_slice(&rr);
        }
    }
    Some(reply)
}

/// Starts a responder on UDP and TCP (same port); returns its address and its zone.
async fn responder(zone: Zone) -> (SocketAddr, Arc<Mutex<Zone>>) {
    // An ephemeral UDP port may be taken for TCP by another test: try a few.
    let mut bound = None;
    for _ in 0..50 {
        let udp = UdpSocket::bind("127.0.0.1:0").await.expect("bind UDP");
        let address = udp.local_addr().expect("address");
        if let Ok(tcp) = TcpListener::bind(address).await {
            bound = Some((udp, tcp, address));
            break;
        }
    }
    let (udp, tcp, address) = bound.expect("a port free for both UDP and TCP");
    let zone = Arc::new(Mutex::new(zone));
    let shared = zone.clone();
    tokio::spawn(async move {
        let mut buffer = vec![0u8; 4096];
        while let Ok((length, peer)) = udp.recv_from(&mut buffer).await {
            let current = shared.lock().expect("not poisoned").clone();
            if let Some(reply) = answer(&buffer[..length], &current, Ipv4Addr::LOCALHOST, true) {
                let _ = udp.send_to(&reply, peer).await;
            }
        }
    });
    let shared = zone.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = tcp.accept().await {
            let current = shared.lock().expect("not poisoned").clone();
            let mut prefix = [0u8; 2];
            if stream.read_exact(&mut prefix).await.is_err() {
                continue;
            }
            let mut query = vec![0u8; usize::from(u16::from_be_bytes(prefix))];
            if stream.read_exact(&mut query).await.is_err() {
                continue;
            }
            if let Some(reply) = answer(&query, &current, Ipv4Addr::LOCALHOST, false) {
                let mut framed = (reply.len() as u16).to_be_bytes().to_vec();
                framed.extend_from_slice(&reply);
                let _ = stream.write_all(&framed).await;
            }
        }
    });
    (address, zone)
}

/// Fast options for tests.
fn options() -> VerifyOptions {
    VerifyOptions {
        interval: Duration::from_millis(100),
        query_timeout: Duration::from_millis(300),
        port: 53,
    }
}

/// The child domain.
fn child() -> DomainName {
    DomainName::new(CHILD).expect("valid")
}

/// The old delegation.
fn old_zone() -> Zone {
    Zone {
        nameservers: vec!["ns1.old-host.net".into(), "ns2.old-host.net".into()],
        ..Zone::default()
    }
}

#[tokio::test]
async fn converges_once_the_parent_serves_the_new_delegation() {
    let (server, zone) = responder(old_zone()).await;
    let expected = parse_nameservers(&["ns1.pool.example.com", "ns2.pool-dns.net"]).expect("valid");
    let ds: DsRecord = DS.parse().expect("valid");
    let publisher = {
        let zone = zone.clone();
        let ds = ds.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(350)).await;
            let mut zone = zone.lock().expect("not poisoned");
            zone.nameservers = vec!["ns2.pool-dns.net".into(), "NS1.pool.example.com".into()];
            zone.glue = vec![("ns1.pool.example.com".into(), Ipv4Addr::new(192, 0, 2, 53))];
            zone.ds = vec![ds];
        })
    };
    let check = verify_delegation_with(
        &[server],
        &child(),
        &expected,
        Some(std::slice::from_ref(&ds)),
        Duration::from_secs(5),
        &options(),
    )
    .await
    .expect("valid input");
    publisher.await.expect("publisher ran");
    assert!(check.converged, "{check:?}");
    assert!(check.rounds >= 2, "the first rounds saw the old set: {check:?}");
    let view = &check.servers[0];
    assert!(view.matches && view.error.is_none());
    assert_eq!(view.ds, Some(vec![ds]));
    assert_eq!(view.glue.len(), 1);
    assert_eq!(view.glue[0].0.as_str(), "ns1.pool.example.com");
}

#[tokio::test]
async fn reports_the_old_state_when_the_deadline_passes() {
    let (server, _zone) = responder(old_zone()).await;
    let expected = parse_nameservers(&["ns1.pool-dns.net", "ns2.pool-dns.net"]).expect("valid");
    let started = std::time::Instant::now();
    let check = verify_delegation_with(
        &[server],
        &child(),
        &expected,
        None,
        Duration::from_millis(700),
        &options(),
    )
    .await
    .expect("valid input");
    assert!(!check.converged);
    assert!(started.elapsed() < Duration::from_secs(3));
    let view = &check.servers[0];
    assert!(!view.matches);
    assert_eq!(
        view.nameservers,
        parse_nameservers(&["ns1.old-host.net", "ns2.old-host.net"]).expect("valid")
    );
}

#[tokio::test]
async fn expects_no_ds_for_an_unsigned_delegation() {
    let zone = Zone {
        ds: vec![DS.parse().expect("valid")],
        ..old_zone()
    };
    let (server, shared) = responder(zone).await;
    let expected = parse_nameservers(&["ns1.old-host.net", "ns2.old-host.net"]).expect("valid");
    let check = verify_delegation_with(
        &[server],
        &child(),
        &expected,
        Some(&[]),
        Duration::from_millis(300),
        &options(),
    )
    .await
    .expect("valid input");
    assert!(!check.converged, "a DS is still published");
    shared.lock().expect("not poisoned").ds.clear();
    let check = verify_delegation(&[server], &child(), &expected, Some(&[]), Duration::from_secs(2))
        .await
        .expect("valid input");
    assert!(check.converged, "{check:?}");
}

#[tokio::test]
async fn truncated_answers_are_retried_over_tcp() {
    let zone = Zone {
        truncate: true,
        ..old_zone()
    };
    let (server, _zone) = responder(zone).await;
    let expected = parse_nameservers(&["ns1.old-host.net", "ns2.old-host.net"]).expect("valid");
    let check = verify_delegation_with(&[server], &child(), &expected, None, Duration::from_secs(2), &options())
        .await
        .expect("valid input");
    assert!(check.converged, "{check:?}");
}

#[tokio::test]
async fn silent_servers_are_reported() {
    let silent = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let address = silent.local_addr().expect("address");
    let expected = parse_nameservers(&["ns1.pool-dns.net"]).expect("valid");
    let check = verify_delegation_with(
        &[address],
        &child(),
        &expected,
        None,
        Duration::from_millis(500),
        &options(),
    )
    .await
    .expect("valid input");
    assert!(!check.converged);
    assert!(check.servers[0].error.is_some(), "{check:?}");
    drop(silent);
}

#[tokio::test]
async fn finds_the_parent_servers_through_a_resolver() {
    let (server, _zone) = responder(old_zone()).await;
    let options = VerifyOptions {
        port: server.port(),
        ..options()
    };
    let servers = find_parent_servers(server, &child(), &options).await.expect("found");
    assert_eq!(servers, vec![server]);
    // And the servers found can be asked directly.
    let expected = parse_nameservers(&["ns1.old-host.net", "ns2.old-host.net"]).expect("valid");
    let check = verify_delegation_with(&servers, &child(), &expected, None, Duration::from_secs(1), &options)
        .await
        .expect("valid input");
    assert!(check.converged);
}

#[tokio::test]
async fn unusable_input_is_refused() {
    let expected = parse_nameservers(&["ns1.pool-dns.net"]).expect("valid");
    let error = verify_delegation(&[], &child(), &expected, None, Duration::from_secs(1))
        .await
        .expect_err("no servers");
    assert_eq!(error.code(), "invalid-request");
    let server: SocketAddr = "127.0.0.1:53".parse().expect("address");
    let error = verify_delegation(&[server], &child(), &[], None, Duration::from_secs(1))
        .await
        .expect_err("no NS");
    assert_eq!(error.code(), "invalid-request");
}
