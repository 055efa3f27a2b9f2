//! Checking a delegation where it matters: at the parent zone's authoritative servers.
//!
//! A provider accepting a change says nothing about when the registry publishes it.
//! [`verify_delegation`] asks each parent server directly (non-recursive queries) for the
//! child's NS set, which comes back as a referral, and for its DS set, and repeats until
//! every server shows the expected data or a deadline passes. [`find_parent_servers`] finds
//! those servers through a recursive resolver when they are not given.
//!
//! [`query`] is the one DNS client for outgoing queries (these checks, and the DS checks
//! of key rollovers): messages encoded and decoded by hickory-proto, a random ID and a
//! fresh connected UDP socket on a random port per query, EDNS with a 1232-byte payload,
//! only an answer to the question asked accepted, and a TCP retry for truncated answers.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use hickory_proto::op::{Edns, Message as Wire, MessageType, Query};
use hickory_proto::rr::{DNSClass, Name, RData, Record as WireRecord, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::Instant;

use crate::ds::DsRecord;
use crate::error::{Error, Result};
use crate::names::{DomainName, NameserverName};
use crate::types::same_set;

/// Record type A.
pub const TYPE_A: u16 = 1;
/// Record type NS.
pub const TYPE_NS: u16 = 2;
/// Record type AAAA.
pub const TYPE_AAAA: u16 = 28;
/// Record type DS.
pub const TYPE_DS: u16 = 43;
/// The UDP payload size advertised with EDNS.
const EDNS_PAYLOAD: u16 = 1232;

/// Settings for [`verify_delegation_with`] and [`find_parent_servers`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyOptions {
    /// The pause between two rounds of queries.
    pub interval: Duration,
    /// How long to wait for one answer.
    pub query_timeout: Duration,
    /// The port parent servers are queried on (53 outside tests).
    pub port: u16,
}

impl Default for VerifyOptions {
    /// Two seconds between rounds, three seconds per answer, port 53.
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(2),
            query_timeout: Duration::from_secs(3),
            port: 53,
        }
    }
}

/// The data of one resource record, for the types this module reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordData {
    /// An IPv4 address.
    A(Ipv4Addr),
    /// An IPv6 address.
    Aaaa(Ipv6Addr),
    /// A nameserver host (lower-case, no trailing dot).
    Ns(String),
    /// A delegation signer.
    Ds(DsRecord),
    /// Anything else.
    Other,
}

/// One resource record of an answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The owner name, lower-case without a trailing dot (empty for the root).
    pub name: String,
    /// The record type.
    pub rtype: u16,
    /// The time to live.
    pub ttl: u32,
    /// The data.
    pub data: RecordData,
}

/// A parsed DNS answer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Message {
    /// The response code (0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, 5 REFUSED...).
    pub rcode: u8,
    /// The authoritative-answer flag.
    pub authoritative: bool,
    /// The truncation flag.
    pub truncated: bool,
    /// The answer section.
    pub answers: Vec<Record>,
    /// The authority section.
    pub authority: Vec<Record>,
    /// The additional section (EDNS OPT removed).
    pub additional: Vec<Record>,
}

/// What one parent server answered about the child.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerView {
    /// The server asked.
    pub server: SocketAddr,
    /// The NS set it returned (referral or answer), sorted.
    pub nameservers: Vec<NameserverName>,
    /// Glue addresses from the additional section.
    pub glue: Vec<(NameserverName, IpAddr)>,
    /// The DS set it returned, when DS was asked about.
    pub ds: Option<Vec<DsRecord>>,
    /// Why the server could not be read in the last round, if so.
    pub error: Option<String>,
    /// Whether this server shows the expected delegation.
    pub matches: bool,
}

/// The outcome of [`verify_delegation`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DelegationCheck {
    /// `true` when every server showed the expected data before the deadline.
    pub converged: bool,
    /// How many rounds of queries were sent.
    pub rounds: u32,
    /// The last answer of each server.
    pub servers: Vec<ServerView>,
}

/// Queries `parent_servers` until each shows `expected_ns` (and `expected_ds`, unless
/// `None`) for `domain`, or `deadline` has passed; default [`VerifyOptions`].
///
/// `Some(&[])` as `expected_ds` means "no DS must be published". Fails only for unusable
/// input (no servers, empty NS set); an unconverged delegation is reported in the result.
pub async fn verify_delegation(
    parent_servers: &[SocketAddr],
    domain: &DomainName,
    expected_ns: &[NameserverName],
    expected_ds: Option<&[DsRecord]>,
    deadline: Duration,
) -> Result<DelegationCheck> {
    verify_delegation_with(
        parent_servers,
        domain,
        expected_ns,
        expected_ds,
        deadline,
        &VerifyOptions::default(),
    )
    .await
}

/// [`verify_delegation`] with explicit [`VerifyOptions`] (its `port` is not used: the
/// server addresses carry their ports).
pub async fn verify_delegation_with(
    parent_servers: &[SocketAddr],
    domain: &DomainName,
    expected_ns: &[NameserverName],
    expected_ds: Option<&[DsRecord]>,
    deadline: Duration,
    options: &VerifyOptions,
) -> Result<DelegationCheck> {
    if parent_servers.is_empty() {
        return Err(Error::invalid("no parent servers to ask"));
    }
    if expected_ns.is_empty() {
        return Err(Error::invalid("the expected NS set is empty"));
    }
    let end = Instant::now() + deadline;
    let mut rounds = 0;
    loop {
        rounds += 1;
        let mut servers = Vec::with_capacity(parent_servers.len());
        for server in parent_servers {
            let remaining = end.saturating_duration_since(Instant::now());
            let timeout = options.query_timeout.min(remaining).max(Duration::from_millis(50));
            let view = inspect(*server, domain, expected_ns, expected_ds, timeout).await;
            servers.push(view);
        }
        let converged = servers.iter().all(|view| view.matches);
        tracing::debug!(%domain, rounds, converged, "checked the delegation at the parent");
        if converged || Instant::now() + options.interval >= end {
            return Ok(DelegationCheck {
                converged,
                rounds,
                servers,
            });
        }
        tokio::time::sleep(options.interval).await;
    }
}

/// Asks one server for the child's NS (and DS) set and compares.
async fn inspect(
    server: SocketAddr,
    domain: &DomainName,
    expected_ns: &[NameserverName],
    expected_ds: Option<&[DsRecord]>,
    timeout: Duration,
) -> ServerView {
    let mut view = ServerView {
        server,
        nameservers: Vec::new(),
        glue: Vec::new(),
        ds: None,
        error: None,
        matches: false,
    };
    match query(server, domain.as_str(), TYPE_NS, false, timeout).await {
        Ok(answer) if answer.rcode != 0 => view.error = Some(format!("NS query answered rcode {}", answer.rcode)),
        Ok(answer) => {
            let in_answer = ns_set(&answer.answers, domain.as_str());
            view.nameservers = if in_answer.is_empty() {
                ns_set(&answer.authority, domain.as_str())
            } else {
                in_answer
            };
            view.glue = answer
                .additional
                .iter()
                .filter_map(|record| {
                    let address = match record.data {
                        RecordData::A(v4) => IpAddr::V4(v4),
                        RecordData::Aaaa(v6) => IpAddr::V6(v6),
                        _ => return None,
                    };
                    Some((NameserverName::new(&record.name).ok()?, address))
                })
                .collect();
        }
        Err(error) => view.error = Some(error.to_string()),
    }
    if let (Some(_), None) = (expected_ds, &view.error) {
        match query(server, domain.as_str(), TYPE_DS, false, timeout).await {
            Ok(answer) if answer.rcode == 0 => {
                let mut ds: Vec<DsRecord> = answer
                    .answers
                    .iter()
                    .filter(|record| record.name == domain.as_str())
                    .filter_map(|record| match &record.data {
                        RecordData::Ds(ds) => Some(ds.clone()),
                        _ => None,
                    })
                    .collect();
                ds.sort();
                ds.dedup();
                view.ds = Some(ds);
            }
            Ok(answer) => view.error = Some(format!("DS query answered rcode {}", answer.rcode)),
            Err(error) => view.error = Some(error.to_string()),
        }
    }
    let ns_ok = view.error.is_none() && same_set(&view.nameservers, expected_ns);
    let ds_ok = match (expected_ds, &view.ds) {
        (None, _) => true,
        (Some(want), Some(have)) => same_set(have, want),
        (Some(_), None) => false,
    };
    view.matches = ns_ok && ds_ok;
    view
}

/// Collects the NS targets owned by `owner`, sorted and without repeats.
fn ns_set(records: &[Record], owner: &str) -> Vec<NameserverName> {
    let mut names: Vec<NameserverName> = records
        .iter()
        .filter(|record| record.name == owner)
        .filter_map(|record| match &record.data {
            RecordData::Ns(host) => NameserverName::new(host).ok(),
            _ => None,
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Finds the authoritative servers of `domain`'s parent zone through a recursive resolver.
///
/// Walks up from the parent name until the resolver returns an NS set, then resolves the
/// server names (from the additional section when present, else with A/AAAA queries).
/// Returns addresses with `options.port`.
pub async fn find_parent_servers(
    resolver: SocketAddr,
    domain: &DomainName,
    options: &VerifyOptions,
) -> Result<Vec<SocketAddr>> {
    let mut zone = domain.as_str();
    while let Some((_, parent)) = zone.split_once('.') {
        zone = parent;
        let answer = query(resolver, zone, TYPE_NS, true, options.query_timeout).await?;
        let hosts = ns_set(&answer.answers, zone);
        if hosts.is_empty() {
            continue;
        }
        let mut addresses = Vec::new();
        for host in &hosts {
            let mut found: Vec<IpAddr> = answer
                .additional
                .iter()
                .filter(|record| record.name == host.as_str())
                .filter_map(|record| match record.data {
                    RecordData::A(v4) => Some(IpAddr::V4(v4)),
                    RecordData::Aaaa(v6) => Some(IpAddr::V6(v6)),
                    _ => None,
                })
                .collect();
            if found.is_empty() {
                for rtype in [TYPE_A, TYPE_AAAA] {
                    if let Ok(reply) = query(resolver, host.as_str(), rtype, true, options.query_timeout).await {
                        found.extend(reply.answers.iter().filter_map(|record| match record.data {
                            RecordData::A(v4) => Some(IpAddr::V4(v4)),
                            RecordData::Aaaa(v6) => Some(IpAddr::V6(v6)),
                            _ => None,
                        }));
                    }
                }
            }
            addresses.extend(found.into_iter().map(|ip| SocketAddr::new(ip, options.port)));
        }
        addresses.sort();
        addresses.dedup();
        if addresses.is_empty() {
            return Err(Error::Unavailable {
                detail: format!("the nameservers of {zone} have no addresses"),
            });
        }
        return Ok(addresses);
    }
    Err(Error::Unavailable {
        detail: format!("no parent zone of {domain} has an NS set"),
    })
}

/// Sends one query to `server` and returns the parsed answer.
///
/// Uses UDP and retries over TCP when the answer is truncated. `recursion` sets the RD bit
/// (for resolvers; parent servers are asked without it).
pub async fn query(server: SocketAddr, name: &str, rtype: u16, recursion: bool, timeout: Duration) -> Result<Message> {
    let qname = Name::from_ascii(format!("{}.", name.trim_end_matches('.')))
        .map_err(|error| Error::invalid(format!("{name:?} cannot be asked for: {error}")))?;
    let question = Query::query(qname, RecordType::from(rtype));
    // A random ID (hickory draws it from the operating system's generator).
    let mut request = Wire::query();
    request.metadata.recursion_desired = recursion;
    request.add_query(question.clone());
    let mut edns = Edns::new();
    edns.set_max_payload(EDNS_PAYLOAD);
    request.set_edns(edns);
    let packet = request
        .to_vec()
        .map_err(|error| Error::invalid(format!("{name:?} cannot be asked for: {error}")))?;
    let id = request.metadata.id;
    let started = Instant::now();
    let answer = tokio::time::timeout(timeout, udp_exchange(server, &packet, id, &question))
        .await
        .map_err(|_| Error::Timeout)??;
    if !answer.truncated {
        return Ok(answer);
    }
    let remaining = timeout.saturating_sub(started.elapsed()).max(Duration::from_millis(50));
    tokio::time::timeout(remaining, tcp_exchange(server, &packet, id, &question))
        .await
        .map_err(|_| Error::Timeout)?
}

/// Sends over UDP from a fresh socket on a random port, connected to
/// `server` so that no other sender's datagram is read, and waits for the
/// answer to `question`, ignoring strays.
async fn udp_exchange(server: SocketAddr, packet: &[u8], id: u16, question: &Query) -> Result<Message> {
    let local: SocketAddr = if server.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local).await.map_err(io_error)?;
    socket.connect(server).await.map_err(io_error)?;
    socket.send(packet).await.map_err(io_error)?;
    let mut buffer = vec![0u8; 65_535];
    loop {
        let length = socket.recv(&mut buffer).await.map_err(io_error)?;
        if let Some(message) = answer_to(&buffer[..length], id, question) {
            return Ok(message);
        }
    }
}

/// Sends over TCP with the two-byte length prefix.
async fn tcp_exchange(server: SocketAddr, packet: &[u8], id: u16, question: &Query) -> Result<Message> {
    let mut stream = TcpStream::connect(server).await.map_err(io_error)?;
    let length = u16::try_from(packet.len()).map_err(|_| Error::invalid("query too long"))?;
    let mut framed = length.to_be_bytes().to_vec();
    framed.extend_from_slice(packet);
    stream.write_all(&framed).await.map_err(io_error)?;
    let mut prefix = [0u8; 2];
    stream.read_exact(&mut prefix).await.map_err(io_error)?;
    let mut buffer = vec![0u8; usize::from(u16::from_be_bytes(prefix))];
    stream.read_exact(&mut buffer).await.map_err(io_error)?;
    answer_to(&buffer, id, question).ok_or_else(|| Error::Unavailable {
        detail: "the DNS answer is malformed or does not answer the query".into(),
    })
}

/// Maps a socket error.
fn io_error(error: std::io::Error) -> Error {
    Error::Unavailable {
        detail: format!("DNS query failed: {error}"),
    }
}

/// `bytes` as a message if it is a well-formed response to query `id`
/// with `question` as its only question; `None` otherwise.
fn answer_to(bytes: &[u8], id: u16, question: &Query) -> Option<Message> {
    let reply = Wire::from_vec(bytes).ok()?;
    let metadata = &reply.metadata;
    if metadata.id != id || metadata.message_type != MessageType::Response {
        return None;
    }
    let [asked] = &reply.queries[..] else {
        return None;
    };
    // Names compare without regard to case (RFC 4343).
    let same = asked.name() == question.name()
        && asked.query_type() == question.query_type()
        && asked.query_class() == DNSClass::IN;
    if !same {
        return None;
    }
    let records = |list: &[WireRecord]| list.iter().filter_map(record).collect::<Vec<Record>>();
    Some(Message {
        rcode: (u16::from(metadata.response_code) & 0x000F) as u8,
        authoritative: metadata.authoritative,
        truncated: metadata.truncation,
        answers: records(&reply.answers),
        authority: records(&reply.authorities),
        additional: records(&reply.additionals),
    })
}

/// A record in this module's terms; `None` for EDNS.
fn record(record: &WireRecord) -> Option<Record> {
    let data = match &record.data {
        RData::A(address) => RecordData::A(address.0),
        RData::AAAA(address) => RecordData::Aaaa(address.0),
        RData::NS(host) => RecordData::Ns(host_name(&host.0)),
        RData::OPT(_) => return None,
        RData::Unknown { code, rdata } if *code == RecordType::DS => {
            DsRecord::from_rdata(&rdata.anything).map_or(RecordData::Other, RecordData::Ds)
        }
        _ => RecordData::Other,
    };
    Some(Record {
        name: host_name(&record.name),
        rtype: u16::from(record.data.record_type()),
        ttl: record.ttl,
        data,
    })
}

/// A name lower-case, without the trailing dot (empty for the root).
fn host_name(name: &Name) -> String {
    name.to_lowercase().to_ascii().trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use hickory_proto::op::OpCode;
    use hickory_proto::rr::rdata::{A, NS};

    use super::*;

    fn name(text: &str) -> Name {
        Name::from_ascii(text).expect("name")
    }

    /// A referral for pool.example.com with glue, as a parent server sends it.
    fn referral(id: u16, question: &Query) -> Vec<u8> {
        referral_to(id, question, &["NS1.net.", "ns2.net."])
    }

    fn referral_to(id: u16, question: &Query, hosts: &[&str]) -> Vec<u8> {
        let mut reply = Wire::new(id, MessageType::Response, OpCode::Query);
        reply.add_query(question.clone());
        for host in hosts {
            let ns = WireRecord::from_rdata(name("pool.example.com."), 3600, RData::NS(NS(name(host))));
            reply.authorities.push(ns);
        }
        let glue = RData::A(A(Ipv4Addr::new(192, 0, 2, 1)));
        reply
            .additionals
            .push(WireRecord::from_rdata(name("ns1.net."), 3600, glue));
        reply.to_vec().expect("encodes")
    }

    #[test]
    fn only_the_answer_to_the_question_is_taken() {
        let question = Query::query(name("Pool.Example.com."), RecordType::NS);
        let message = answer_to(&referral(0x1234, &question), 0x1234, &question).expect("matches");
        assert!(!message.authoritative);
        assert_eq!(
            ns_set(&message.authority, "pool.example.com"),
            vec![
                NameserverName::new("ns1.net").expect("valid"),
                NameserverName::new("ns2.net").expect("valid")
            ]
        );
        assert_eq!(message.additional[0].data, RecordData::A(Ipv4Addr::new(192, 0, 2, 1)));
        // Another ID, another question, a query instead of a response,
        // garbage: none is an answer.
        assert!(answer_to(&referral(0x9999, &question), 0x1234, &question).is_none());
        let other = Query::query(name("other.example.com."), RecordType::NS);
        assert!(answer_to(&referral(0x1234, &other), 0x1234, &question).is_none());
        let ds = Query::query(name("pool.example.com."), RecordType::DS);
        assert!(answer_to(&referral(0x1234, &ds), 0x1234, &question).is_none());
        let mut query = Wire::new(0x1234, MessageType::Query, OpCode::Query);
        query.add_query(question.clone());
        assert!(answer_to(&query.to_vec().expect("encodes"), 0x1234, &question).is_none());
        let bytes = referral(0x1234, &question);
        assert!(answer_to(&bytes[..bytes.len() - 2], 0x1234, &question).is_none());
    }

    #[tokio::test]
    async fn forged_and_stray_datagrams_are_ignored() {
        let server = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let address = server.local_addr().expect("address");
        let forger = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let responder = std::thread::spawn(move || {
            let mut buffer = [0u8; 512];
            let (length, client) = server.recv_from(&mut buffer).expect("query");
            let request = Wire::from_vec(&buffer[..length]).expect("a query");
            let question = request.queries[0].clone();
            let id = request.metadata.id;
            // From another port, with the right ID: not from the server.
            forger
                .send_to(&referral_to(id, &question, &["evil.net."]), client)
                .expect("send");
            // From the server, with another ID or question.
            server.send_to(&referral(id ^ 1, &question), client).expect("send");
            let other = Query::query(name("evil.example.com."), RecordType::NS);
            server.send_to(&referral(id, &other), client).expect("send");
            server.send_to(&referral(id, &question), client).expect("send");
            id
        });
        let answer = query(address, "pool.example.com", TYPE_NS, false, Duration::from_secs(5))
            .await
            .expect("answered");
        assert_eq!(
            ns_set(&answer.authority, "pool.example.com"),
            vec![
                NameserverName::new("ns1.net").expect("valid"),
                NameserverName::new("ns2.net").expect("valid")
            ],
            "the server's own answer"
        );
        responder.join().expect("responder");
    }
}
