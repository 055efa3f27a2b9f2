//! UDP workers: one thread and one SO_REUSEPORT socket each.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use super::ListenerContext;
use crate::answer::Transport;
use crate::wire::Query;

/// How often an idle worker looks at the shutdown flag.
const SHUTDOWN_POLL: Duration = Duration::from_millis(200);

/// Largest datagram read; anything longer is cut and then fails to parse.
const RECEIVE_BUFFER: usize = 65_535;

/// Binds `workers` sockets to `address` and starts a thread for each.
/// Returns the bound address (the real port when `address` asked for 0).
pub fn spawn(
    address: SocketAddr,
    workers: usize,
    context: &ListenerContext,
) -> io::Result<(SocketAddr, Vec<JoinHandle<()>>)> {
    let mut bound = address;
    let mut handles = Vec::with_capacity(workers);
    for worker in 0..workers.max(1) {
        let socket = bind(bound)?;
        bound = socket.local_addr()?;
        let context = context.clone();
        let handle = std::thread::Builder::new()
            .name(format!("udp-{bound}-{worker}"))
            .spawn(move || serve(socket, context))?;
        handles.push(handle);
    }
    Ok((bound, handles))
}

/// One SO_REUSEPORT socket, so the kernel spreads flows over the workers.
fn bind(address: SocketAddr) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(address), Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_port(true)?;
    if address.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    // A larger receive queue rides out bursts; the kernel caps it at
    // net.core.rmem_max, which is fine.
    let _ = socket.set_recv_buffer_size(4 << 20);
    socket.bind(&address.into())?;
    let socket: UdpSocket = socket.into();
    socket.set_read_timeout(Some(SHUTDOWN_POLL))?;
    Ok(socket)
}

/// The worker loop: receive, answer inline, send.
fn serve(socket: UdpSocket, context: ListenerContext) {
    let shard = context.metrics.shard();
    let mut catalog = arc_swap::Cache::new(context.catalog.clone());
    let mut query = Query::new();
    let mut request = vec![0u8; RECEIVE_BUFFER];
    let mut response = Vec::with_capacity(4096);
    while !context.shutdown.load(Ordering::Relaxed) {
        let (len, peer) = match socket.recv_from(&mut request) {
            Ok(received) => received,
            Err(error) if matches!(error.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => continue,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => {
                // ICMP errors from earlier sends surface here on Linux
                // (ECONNREFUSED); they concern a past peer, not this socket.
                tracing::debug!(%error, "UDP receive failed");
                continue;
            }
        };
        if peer.port() == 0 {
            // Source port 0 cannot be replied to (RFC 768); often spoofed.
            shard.record_drop();
            continue;
        }
        let started = Instant::now();
        let answered = context.responder.respond(
            catalog.load(),
            &request[..len],
            Transport::Udp,
            &mut query,
            &mut response,
        );
        let Some(outcome) = answered else {
            shard.record_drop();
            continue;
        };
        shard.record(&outcome, started.elapsed());
        if let Err(error) = socket.send_to(&response, peer) {
            tracing::debug!(%error, %peer, "UDP send failed");
        }
    }
}

/// How many UDP workers to run per address when the configuration says 0.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |cores| cores.get())
}
