//! A DNS client for tests: raw queries over UDP and length-framed TCP
//! (RFC 7766 §8), built by hand so that tests can also send messages no
//! well-behaved client library would produce, and replies decoded with
//! hickory-proto.

use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use hickory_proto::op::Message;
use hickory_proto::rr::{Name, RecordType};
use hickory_proto::serialize::binary::BinEncodable;

/// How long to wait for one UDP reply before sending the query again.
pub const UDP_TIMEOUT: Duration = Duration::from_secs(2);

/// How often a UDP query is sent before giving up.
pub const UDP_ATTEMPTS: u32 = 3;

/// Read/write timeout of TCP exchanges.
pub const TCP_TIMEOUT: Duration = Duration::from_secs(10);

/// How a query travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    Udp,
    Tcp,
}

/// Options of a query built by [`encode_query`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryOptions {
    pub transport: Transport,
    /// UDP payload size advertised in an EDNS(0) OPT record; `None` sends
    /// no OPT record. Values below 512 are sent as they are.
    pub edns_payload: Option<u16>,
    /// The DO bit of the OPT record (RFC 3225).
    pub dnssec_ok: bool,
    /// An EDNS Client Subnet option (RFC 7871): address and source prefix
    /// length; `None` sends none.
    pub client_subnet: Option<(IpAddr, u8)>,
}

impl Default for QueryOptions {
    /// UDP with EDNS(0), a payload size of 1232 and DO clear.
    fn default() -> Self {
        Self {
            transport: Transport::Udp,
            edns_payload: Some(1232),
            dnssec_ok: false,
            client_subnet: None,
        }
    }
}

impl QueryOptions {
    /// The defaults, over UDP.
    pub fn udp() -> Self {
        Self::default()
    }

    /// The defaults, over TCP.
    pub fn tcp() -> Self {
        Self {
            transport: Transport::Tcp,
            ..Self::default()
        }
    }

    /// Sends no OPT record.
    pub fn no_edns(mut self) -> Self {
        self.edns_payload = None;
        self.dnssec_ok = false;
        self.client_subnet = None;
        self
    }

    /// Sends an EDNS Client Subnet option for `address`/`source_prefix`
    /// (adding an OPT record if there was none). Address bits past the
    /// prefix are cleared, as RFC 7871 §6 requires.
    pub fn client_subnet(mut self, address: IpAddr, source_prefix: u8) -> Self {
        self.edns_payload.get_or_insert(1232);
        self.client_subnet = Some((address, source_prefix));
        self
    }

    /// Advertises `size` as the UDP payload size.
    pub fn payload(mut self, size: u16) -> Self {
        self.edns_payload = Some(size);
        self
    }

    /// Sets the DO bit (adding an OPT record if there was none).
    pub fn dnssec_ok(mut self) -> Self {
        self.edns_payload.get_or_insert(1232);
        self.dnssec_ok = true;
        self
    }
}

/// A query ID that differs from the previous ones of this process.
pub fn next_id() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    // Start somewhere that depends on the process so that two test binaries
    // running at the same time do not use the same sequence.
    let offset = (std::process::id() as u16).wrapping_mul(7919);
    NEXT.fetch_add(1, Ordering::Relaxed).wrapping_add(offset)
}

/// Parses a domain name in presentation format, keeping its case; a missing
/// final dot is added.
pub fn parse_name(name: &str) -> Name {
    let fqdn = if name.ends_with('.') {
        name.to_string()
    } else {
        format!("{name}.")
    };
    Name::from_ascii(&fqdn).unwrap_or_else(|e| panic!("invalid domain name {name:?}: {e}"))
}

/// Wire format of `name`, uncompressed and with its case kept.
pub fn name_wire(name: &Name) -> Vec<u8> {
    name.to_bytes().expect("encode name")
}

/// An OPT pseudo-record (RFC 6891 §6.1.2) owned by `owner` (wire format),
/// with no options.
pub fn opt_record(owner: &[u8], payload: u16, version: u8, dnssec_ok: bool) -> Vec<u8> {
    opt_record_with_options(owner, payload, version, dnssec_ok, &[])
}

/// Like [`opt_record`], with `options` (already encoded, see
/// [`client_subnet_option`]) as the RDATA.
pub fn opt_record_with_options(owner: &[u8], payload: u16, version: u8, dnssec_ok: bool, options: &[u8]) -> Vec<u8> {
    let mut rr = owner.to_vec();
    rr.extend_from_slice(&u16::from(RecordType::OPT).to_be_bytes());
    rr.extend_from_slice(&payload.to_be_bytes());
    rr.push(0); // extended RCODE
    rr.push(version);
    rr.extend_from_slice(&(if dnssec_ok { 0x8000u16 } else { 0 }).to_be_bytes());
    let rdlength = u16::try_from(options.len()).expect("EDNS options fit an RDATA");
    rr.extend_from_slice(&rdlength.to_be_bytes());
    rr.extend_from_slice(options);
    rr
}

/// An EDNS Client Subnet option (RFC 7871 §6), code and length included:
/// FAMILY 1 or 2, SOURCE PREFIX-LENGTH, SCOPE PREFIX-LENGTH 0 and the
/// address cut to `ceil(source_prefix / 8)` octets, bits past the prefix
/// cleared. `source_prefix` is clamped to the address width.
pub fn client_subnet_option(address: IpAddr, source_prefix: u8) -> Vec<u8> {
    let (family, octets): (u16, Vec<u8>) = match address {
        IpAddr::V4(v4) => (1, v4.octets().to_vec()),
        IpAddr::V6(v6) => (2, v6.octets().to_vec()),
    };
    let prefix = usize::from(source_prefix).min(octets.len() * 8);
    let mut address: Vec<u8> = octets[..prefix.div_ceil(8)].to_vec();
    if prefix % 8 != 0 {
        if let Some(last) = address.last_mut() {
            *last &= 0xffu8 << (8 - prefix % 8);
        }
    }
    let mut option = Vec::with_capacity(8 + address.len());
    option.extend_from_slice(&8u16.to_be_bytes()); // OPTION-CODE: Client Subnet
    option.extend_from_slice(&((4 + address.len()) as u16).to_be_bytes());
    option.extend_from_slice(&family.to_be_bytes());
    option.push(prefix as u8);
    option.push(0); // SCOPE PREFIX-LENGTH, 0 in queries (RFC 7871 §6)
    option.extend_from_slice(&address);
    option
}

/// Encodes a standard query (opcode QUERY, RD clear, class IN) for `name`
/// and `qtype`. The transport in `options` is not used here.
pub fn encode_query(id: u16, name: &Name, qtype: RecordType, options: &QueryOptions) -> Vec<u8> {
    let additional: u16 = if options.edns_payload.is_some() { 1 } else { 0 };
    let mut wire = Vec::with_capacity(64);
    wire.extend_from_slice(&id.to_be_bytes());
    wire.extend_from_slice(&[0, 0]); // QR=0, opcode QUERY, no flags
    wire.extend_from_slice(&1u16.to_be_bytes()); // QDCOUNT
    wire.extend_from_slice(&0u16.to_be_bytes()); // ANCOUNT
    wire.extend_from_slice(&0u16.to_be_bytes()); // NSCOUNT
    wire.extend_from_slice(&additional.to_be_bytes()); // ARCOUNT
    wire.extend_from_slice(&name_wire(name));
    wire.extend_from_slice(&u16::from(qtype).to_be_bytes());
    wire.extend_from_slice(&1u16.to_be_bytes()); // class IN
    if let Some(payload) = options.edns_payload {
        let subnet = options
            .client_subnet
            .map(|(address, prefix)| client_subnet_option(address, prefix))
            .unwrap_or_default();
        wire.extend_from_slice(&opt_record_with_options(&[0], payload, 0, options.dnssec_ok, &subnet));
    }
    wire
}

/// The ID of a DNS message, if it is long enough to have one.
pub fn message_id(wire: &[u8]) -> Option<u16> {
    wire.get(..2).map(|b| u16::from_be_bytes([b[0], b[1]]))
}

/// Sends `query` once over UDP and waits up to `timeout` for a reply with the
/// same ID. Returns `Ok(None)` on timeout. Datagrams with another ID (late
/// replies to earlier queries) are ignored.
pub fn udp_exchange(addr: SocketAddr, query: &[u8], timeout: Duration) -> io::Result<Option<Vec<u8>>> {
    let socket = UdpSocket::bind("127.0.0.1:0")?;
    socket.connect(addr)?;
    socket.send(query)?;
    let id = message_id(query);
    let deadline = Instant::now() + timeout;
    let mut buf = vec![0u8; 65535];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        socket.set_read_timeout(Some(left))?;
        match socket.recv(&mut buf) {
            Ok(n) if id.is_none() || message_id(&buf[..n]) == id => return Ok(Some(buf[..n].to_vec())),
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => return Ok(None),
            Err(e) => return Err(e),
        }
    }
}

/// Writes one length-framed DNS message (RFC 7766 §8) to a TCP stream.
pub fn write_frame(stream: &mut TcpStream, message: &[u8]) -> io::Result<()> {
    let len = u16::try_from(message.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "message over 65535 octets"))?;
    let mut frame = Vec::with_capacity(message.len() + 2);
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(message);
    stream.write_all(&frame)
}

/// Reads one length-framed DNS message from a TCP stream; `Ok(None)` when
/// the peer closed the connection cleanly before a new frame started.
pub fn read_frame(stream: &mut TcpStream) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 2];
    let mut got = 0;
    while got < 2 {
        match stream.read(&mut len[got..])? {
            0 if got == 0 => return Ok(None),
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => got += n,
        }
    }
    let mut message = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut message)?;
    Ok(Some(message))
}

/// Connects to `addr` over TCP with [`TCP_TIMEOUT`] for every operation.
pub fn tcp_connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&addr, TCP_TIMEOUT)?;
    stream.set_read_timeout(Some(TCP_TIMEOUT))?;
    stream.set_write_timeout(Some(TCP_TIMEOUT))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Sends `query` over a new TCP connection and reads one reply.
pub fn tcp_exchange(addr: SocketAddr, query: &[u8]) -> io::Result<Vec<u8>> {
    let mut stream = tcp_connect(addr)?;
    write_frame(&mut stream, query)?;
    let reply = read_frame(&mut stream)?
        .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed without a reply"))?;
    let _ = stream.shutdown(Shutdown::Both);
    Ok(reply)
}

/// Sends `query` and returns the raw reply. Over UDP the query is sent up to
/// [`UDP_ATTEMPTS`] times, [`UDP_TIMEOUT`] apart, before giving up.
pub fn exchange(addr: SocketAddr, query: &[u8], transport: Transport) -> io::Result<Vec<u8>> {
    match transport {
        Transport::Tcp => tcp_exchange(addr, query),
        Transport::Udp => {
            for _ in 0..UDP_ATTEMPTS {
                if let Some(reply) = udp_exchange(addr, query, UDP_TIMEOUT)? {
                    return Ok(reply);
                }
            }
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no UDP reply from {addr} after {UDP_ATTEMPTS} attempts"),
            ))
        }
    }
}

/// Decodes a DNS message, panicking with a hex dump if it is malformed.
pub fn decode(wire: &[u8]) -> Message {
    Message::from_vec(wire).unwrap_or_else(|e| panic!("undecodable reply ({e}): {}", hex(wire)))
}

/// Sends a query for `name` and `qtype` to `addr` and returns the raw reply,
/// panicking if there is none.
pub fn query_wire(addr: SocketAddr, name: &str, qtype: RecordType, options: &QueryOptions) -> Vec<u8> {
    let query = encode_query(next_id(), &parse_name(name), qtype, options);
    exchange(addr, &query, options.transport)
        .unwrap_or_else(|e| panic!("query {name} {qtype} to {addr} ({options:?}): {e}"))
}

/// Sends a query for `name` and `qtype` to `addr` and returns the decoded
/// reply, panicking if there is none or it does not decode.
pub fn query(addr: SocketAddr, name: &str, qtype: RecordType, options: &QueryOptions) -> Message {
    decode(&query_wire(addr, name, qtype, options))
}

/// Lowercase hexadecimal rendering of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
