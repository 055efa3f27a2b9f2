//! Checking a delegation where it matters: at the parent zone's authoritative servers.
//!
//! A provider accepting a change says nothing about when the registry publishes it.
//! [`verify_delegation`] asks each parent server directly (non-recursive queries) for the
//! child's NS set, which comes back as a referral, and for its DS set, and repeats until
//! every server shows the expected data or a deadline passes. [`find_parent_servers`] finds
//! those servers through a recursive resolver when they are not given.
//!
//! The DNS client is deliberately small: hand-encoded queries with EDNS (1232-byte UDP
//! payload), answers parsed with name decompression, and a TCP retry for truncated answers.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::Instant;

use crate::ds::DsRecord;
use crate::error::{Error, Result};
use crate::names::{wire_name, DomainName, NameserverName};
use crate::retry::{RandomSource, SplitMix64};
use crate::types::same_set;

/// Record type A.
pub const TYPE_A: u16 = 1;
/// Record type NS.
pub const TYPE_NS: u16 = 2;
/// Record type AAAA.
pub const TYPE_AAAA: u16 = 28;
/// Record type DS.
pub const TYPE_DS: u16 = 43;
/// Record type OPT (EDNS).
const TYPE_OPT: u16 = 41;
/// Class IN.
const CLASS_IN: u16 = 1;
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
    /// Anything else, as raw record data.
    Other(Vec<u8>),
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
    let id = u16::try_from(SplitMix64::from_entropy().next_u64() & 0xFFFF).unwrap_or(0);
    let packet = encode_query(id, name, rtype, recursion);
    let started = Instant::now();
    let answer = tokio::time::timeout(timeout, udp_exchange(server, &packet, id, name, rtype))
        .await
        .map_err(|_| Error::Timeout)??;
    if !answer.truncated {
        return Ok(answer);
    }
    let remaining = timeout.saturating_sub(started.elapsed()).max(Duration::from_millis(50));
    tokio::time::timeout(remaining, tcp_exchange(server, &packet, id, name, rtype))
        .await
        .map_err(|_| Error::Timeout)?
}

/// Sends over UDP and waits for the matching answer, ignoring strays.
async fn udp_exchange(server: SocketAddr, packet: &[u8], id: u16, name: &str, rtype: u16) -> Result<Message> {
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
        if let Some(message) = parse_matching(&buffer[..length], id, name, rtype) {
            return message;
        }
    }
}

/// Sends over TCP with the two-byte length prefix.
async fn tcp_exchange(server: SocketAddr, packet: &[u8], id: u16, name: &str, rtype: u16) -> Result<Message> {
    let mut stream = TcpStream::connect(server).await.map_err(io_error)?;
    let length = u16::try_from(packet.len()).map_err(|_| Error::invalid("query too long"))?;
    let mut framed = length.to_be_bytes().to_vec();
    framed.extend_from_slice(packet);
    stream.write_all(&framed).await.map_err(io_error)?;
    let mut prefix = [0u8; 2];
    stream.read_exact(&mut prefix).await.map_err(io_error)?;
    let mut buffer = vec![0u8; usize::from(u16::from_be_bytes(prefix))];
    stream.read_exact(&mut buffer).await.map_err(io_error)?;
    parse_matching(&buffer, id, name, rtype).unwrap_or_else(|| Err(malformed("answer does not match the query")))
}

/// Maps a socket error.
fn io_error(error: std::io::Error) -> Error {
    Error::Unavailable {
        detail: format!("DNS query failed: {error}"),
    }
}

/// The error for an unreadable answer.
fn malformed(why: &str) -> Error {
    Error::Unavailable {
        detail: format!("malformed DNS answer: {why}"),
    }
}

/// Parses `bytes` if it answers query `id` for `name`/`rtype`; `None` for a stray packet.
fn parse_matching(bytes: &[u8], id: u16, name: &str, rtype: u16) -> Option<Result<Message>> {
    if bytes.len() < 12 || u16::from_be_bytes([bytes[0], bytes[1]]) != id || bytes[2] & 0x80 == 0 {
        return None;
    }
    let mut reader = Reader { bytes, position: 12 };
    let question = (|| {
        let qdcount = u16::from_be_bytes([bytes[4], bytes[5]]);
        if qdcount != 1 {
            return None;
        }
        let qname = reader.name().ok()?;
        let qtype = reader.u16().ok()?;
        let _class = reader.u16().ok()?;
        Some((qname, qtype))
    })();
    match question {
        Some((qname, qtype)) if qname.eq_ignore_ascii_case(name.trim_end_matches('.')) && qtype == rtype => {
            Some(parse_message(bytes))
        }
        _ => None,
    }
}

/// Builds a query with EDNS.
pub(crate) fn encode_query(id: u16, name: &str, rtype: u16, recursion: bool) -> Vec<u8> {
    let mut packet = Vec::with_capacity(64);
    packet.extend_from_slice(&id.to_be_bytes());
    packet.push(if recursion { 0x01 } else { 0x00 });
    packet.push(0x00);
    packet.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 1]);
    packet.extend_from_slice(&wire_name(name));
    packet.extend_from_slice(&rtype.to_be_bytes());
    packet.extend_from_slice(&CLASS_IN.to_be_bytes());
    // OPT: root owner, payload size, extended rcode/version/flags 0, no options.
    packet.push(0);
    packet.extend_from_slice(&TYPE_OPT.to_be_bytes());
    packet.extend_from_slice(&EDNS_PAYLOAD.to_be_bytes());
    packet.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    packet
}

/// A cursor over a DNS message.
struct Reader<'a> {
    /// The whole message (names may point anywhere in it).
    bytes: &'a [u8],
    /// The read position.
    position: usize,
}

impl Reader<'_> {
    /// Reads `count` bytes.
    fn take(&mut self, count: usize) -> Result<&[u8]> {
        let end = self.position.checked_add(count).filter(|end| *end <= self.bytes.len());
        let end = end.ok_or_else(|| malformed("truncated"))?;
        let slice = &self.bytes[self.position..end];
        self.position = end;
        Ok(slice)
    }

    /// Reads a big-endian u16.
    fn u16(&mut self) -> Result<u16> {
        let bytes = self.take(2)?;
        Ok(u16::from_be_bytes([bytes[0], bytes[1]]))
    }

    /// Reads a big-endian u32.
    fn u32(&mut self) -> Result<u32> {
        let bytes = self.take(4)?;
        Ok(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    /// Reads a possibly compressed name at the cursor.
    fn name(&mut self) -> Result<String> {
        let (name, next) = read_name(self.bytes, self.position)?;
        self.position = next;
        Ok(name)
    }
}

/// Reads a name starting at `start`; returns it (lower-case, no trailing dot) and the
/// position after it in the original stream.
fn read_name(bytes: &[u8], start: usize) -> Result<(String, usize)> {
    let mut labels: Vec<String> = Vec::new();
    let mut position = start;
    let mut resume = None;
    let mut jumps = 0;
    let mut length = 0usize;
    loop {
        let first = *bytes.get(position).ok_or_else(|| malformed("name runs past the end"))?;
        match first & 0xC0 {
            0x00 if first == 0 => {
                position += 1;
                break;
            }
            0x00 => {
                let size = usize::from(first);
                let label = bytes
                    .get(position + 1..position + 1 + size)
                    .ok_or_else(|| malformed("label runs past the end"))?;
                length += size + 1;
                if length > 255 {
                    return Err(malformed("name longer than 255 bytes"));
                }
                labels.push(String::from_utf8_lossy(label).to_ascii_lowercase());
                position += 1 + size;
            }
            0xC0 => {
                let second = *bytes
                    .get(position + 1)
                    .ok_or_else(|| malformed("pointer runs past the end"))?;
                jumps += 1;
                if jumps > 64 {
                    return Err(malformed("compression loop"));
                }
                resume.get_or_insert(position + 2);
                position = usize::from(u16::from_be_bytes([first & 0x3F, second]));
            }
            _ => return Err(malformed("unknown label type")),
        }
    }
    Ok((labels.join("."), resume.unwrap_or(position)))
}

/// Parses a whole DNS message.
pub(crate) fn parse_message(bytes: &[u8]) -> Result<Message> {
    let mut reader = Reader { bytes, position: 0 };
    let header = reader.take(12)?;
    let flags = u16::from_be_bytes([header[2], header[3]]);
    let counts = [
        u16::from_be_bytes([header[4], header[5]]),
        u16::from_be_bytes([header[6], header[7]]),
        u16::from_be_bytes([header[8], header[9]]),
        u16::from_be_bytes([header[10], header[11]]),
    ];
    for _ in 0..counts[0] {
        reader.name()?;
        reader.take(4)?;
    }
    let mut sections: [Vec<Record>; 3] = Default::default();
    for (section, count) in sections.iter_mut().zip(&counts[1..]) {
        for _ in 0..*count {
            let name = reader.name()?;
            let rtype = reader.u16()?;
            let _class = reader.u16()?;
            let ttl = reader.u32()?;
            let length = usize::from(reader.u16()?);
            let start = reader.position;
            let rdata = reader.take(length)?;
            let data = match rtype {
                TYPE_A if length == 4 => RecordData::A(Ipv4Addr::new(rdata[0], rdata[1], rdata[2], rdata[3])),
                TYPE_AAAA if length == 16 => {
                    let mut octets = [0u8; 16];
                    octets.copy_from_slice(rdata);
                    RecordData::Aaaa(Ipv6Addr::from(octets))
                }
                TYPE_NS => RecordData::Ns(read_name(bytes, start)?.0),
                TYPE_DS if length > 4 => match DsRecord::new(
                    u16::from_be_bytes([rdata[0], rdata[1]]),
                    rdata[2],
                    rdata[3],
                    rdata[4..].to_vec(),
                ) {
                    Ok(ds) => RecordData::Ds(ds),
                    Err(_) => RecordData::Other(rdata.to_vec()),
                },
                TYPE_OPT => continue,
                _ => RecordData::Other(rdata.to_vec()),
            };
            section.push(Record { name, rtype, ttl, data });
        }
    }
    let [answers, authority, additional] = sections;
    Ok(Message {
        rcode: (flags & 0x000F) as u8,
        authoritative: flags & 0x0400 != 0,
        truncated: flags & 0x0200 != 0,
        answers,
        authority,
        additional,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_encoding() {
        let packet = encode_query(0xBEEF, "Pool.Example.com", TYPE_NS, false);
        assert_eq!(&packet[..4], &[0xBE, 0xEF, 0x00, 0x00]);
        assert_eq!(&packet[4..12], &[0, 1, 0, 0, 0, 0, 0, 1]);
        assert_eq!(&packet[12..30], b"\x04pool\x07example\x03com\x00");
        assert_eq!(&packet[30..34], &[0, 2, 0, 1]);
        assert_eq!(packet.len(), 34 + 11);
        assert_eq!(encode_query(1, "a.b", TYPE_A, true)[2], 0x01);
    }

    #[test]
    fn names_decompress_and_loops_are_caught() {
        // "example.com" at 12, then a pointer to it with a "pool" label in front.
        let mut bytes = vec![0u8; 12];
        bytes.extend_from_slice(b"\x07example\x03com\x00");
        bytes.extend_from_slice(b"\x04pool\xC0\x0C");
        let (name, next) = read_name(&bytes, 25).expect("valid");
        assert_eq!(name, "pool.example.com");
        assert_eq!(next, bytes.len());
        let looped = [0u8, 0, 0xC0, 0x02];
        assert!(read_name(&looped, 2).is_err());
        assert!(read_name(&[0x05, b'a'], 0).is_err());
        assert!(read_name(&[0x80], 0).is_err());
    }

    #[test]
    fn parses_a_referral() {
        let mut bytes = vec![0x12, 0x34, 0x80, 0x00, 0, 1, 0, 0, 0, 2, 0, 1];
        bytes.extend_from_slice(b"\x04pool\x07example\x03com\x00\x00\x02\x00\x01");
        for host in [&b"\x03ns1\x03net\x00"[..], &b"\x03ns2\x03net\x00"[..]] {
            bytes.extend_from_slice(b"\xC0\x0C\x00\x02\x00\x01\x00\x00\x0E\x10");
            bytes.extend_from_slice(&(host.len() as u16).to_be_bytes());
            bytes.extend_from_slice(host);
        }
        bytes.extend_from_slice(b"\x03ns1\x03net\x00\x00\x01\x00\x01\x00\x00\x0E\x10\x00\x04\xC0\x00\x02\x01");
        let message = parse_matching(&bytes, 0x1234, "pool.example.com", TYPE_NS)
            .expect("matches")
            .expect("parses");
        assert!(!message.authoritative);
        assert_eq!(
            ns_set(&message.authority, "pool.example.com"),
            vec![
                NameserverName::new("ns1.net").expect("valid"),
                NameserverName::new("ns2.net").expect("valid")
            ]
        );
        assert_eq!(message.additional[0].data, RecordData::A(Ipv4Addr::new(192, 0, 2, 1)));
        assert!(parse_matching(&bytes, 0x9999, "pool.example.com", TYPE_NS).is_none());
        assert!(parse_matching(&bytes, 0x1234, "other.example.com", TYPE_NS).is_none());
        assert!(parse_message(&bytes[..bytes.len() - 2]).is_err());
    }
}
