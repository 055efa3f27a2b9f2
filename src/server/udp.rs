//! UDP workers: one thread and one SO_REUSEPORT socket each.

use std::io::{self, IoSlice, IoSliceMut};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::socket::{recvmmsg, sendmmsg, MsgFlags, MultiHeaders, SockaddrStorage};
use socket2::{Domain, Protocol, Socket, Type};

use super::rrl::{self, Kind, RateLimiter, Verdict};
use super::ListenerContext;
use crate::answer::Query;
use crate::answer::{Peer, Summary, Transport};
use crate::catalog::Catalog;
use crate::secondary::notify::NotifyService;
use crate::update::UpdateService;

/// How often an idle worker looks at the shutdown flag.
const SHUTDOWN_POLL: Duration = Duration::from_millis(200);

/// Largest query datagram accepted. Queries are small; EDNS clients send
/// well under this, and anything larger is dropped.
const MAX_DATAGRAM: usize = 4096;

/// Datagrams received, and replies sent, per system call at most.
const BATCH: usize = 32;

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

/// The worker loop: receive a batch, answer each inline, send the batch.
///
/// `recvmmsg` with MSG_WAITFORONE blocks for the first datagram and then
/// takes whatever else is queued, up to [`BATCH`]; `sendmmsg` sends all
/// replies in one call. Under load this divides the system calls and
/// thread wake-ups per query by the batch size, which is where most of the
/// time of a UDP server goes.
fn serve(socket: UdpSocket, context: ListenerContext) {
    let fd = socket.as_raw_fd();
    let local = socket
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let shard = context.metrics.shard();
    let reply_socket = socket.try_clone().ok().map(std::sync::Arc::new);
    let mut catalog = arc_swap::Cache::new(context.catalog.clone());
    let mut query = Query::new();
    let mut requests = vec![[0u8; MAX_DATAGRAM]; BATCH];
    let mut responses: Vec<Vec<u8>> = (0..BATCH).map(|_| Vec::with_capacity(1232)).collect();
    let mut receive_headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
    let mut send_headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
    let mut received: Vec<(usize, Option<SockaddrStorage>)> = Vec::with_capacity(BATCH);
    let mut peers: Vec<Option<SockaddrStorage>> = Vec::with_capacity(BATCH);
    // Responses over the rate limit so far, for the slip.
    let mut limited = 0u32;
    while !context.shutdown.load(Ordering::Relaxed) {
        received.clear();
        {
            let mut slices: Vec<[IoSliceMut<'_>; 1]> = requests
                .iter_mut()
                .map(|request| [IoSliceMut::new(&mut request[..])])
                .collect();
            match recvmmsg(
                fd,
                &mut receive_headers,
                slices.iter_mut(),
                MsgFlags::MSG_WAITFORONE,
                None,
            ) {
                Ok(messages) => {
                    for message in messages {
                        // A datagram larger than the buffer is no query we
                        // could answer; it is dropped like other junk.
                        let len = if message.flags.contains(MsgFlags::MSG_TRUNC) {
                            0
                        } else {
                            message.bytes
                        };
                        received.push((len, message.address));
                    }
                }
                Err(Errno::EAGAIN | Errno::EINTR) => continue,
                Err(error) => {
                    // ICMP errors from earlier sends surface here on Linux
                    // (ECONNREFUSED); they concern a past peer.
                    tracing::debug!(%error, "UDP receive failed");
                    continue;
                }
            }
        }
        peers.clear();
        for (index, &(len, peer)) in received.iter().enumerate() {
            // Source port 0 cannot be replied to (RFC 768); often spoofed.
            let Some(remote) = peer.as_ref().and_then(socket_addr).filter(|remote| remote.port() != 0) else {
                shard.record_drop();
                continue;
            };
            let message = &requests[index][..len];
            let notify = NotifyService::is_notify(message);
            if notify || UpdateService::is_update(message) {
                // The answer waits on the store: off this thread, sent
                // later, while there is room; beyond it the message is
                // dropped, and a real client sends it again.
                let permit = context.store_work.clone().try_acquire_owned();
                let (Some(socket), Ok(permit)) = (&reply_socket, permit) else {
                    shard.record_drop();
                    continue;
                };
                let (notifies, updates, socket) = (context.notifies.clone(), context.updates.clone(), socket.clone());
                let request = message.to_vec();
                context.runtime.spawn(async move {
                    let answer = if notify {
                        Some(notifies.answer(&request, remote.ip()).await)
                    } else {
                        updates.answer(&request).await
                    };
                    if let Some(answer) = answer {
                        let _ = socket.send_to(&answer, remote);
                    }
                    drop(permit);
                });
                continue;
            }
            let started = Instant::now();
            let response = &mut responses[peers.len()];
            let answered = context.responder.respond(
                catalog.load(),
                &requests[index][..len],
                Transport::Udp,
                Peer { remote, local },
                &mut query,
                response,
            );
            let Some(outcome) = answered else {
                shard.record_drop();
                continue;
            };
            shard.record(&outcome, started.elapsed());
            // A valid server cookie proves the source is not forged.
            if let Some(limiter) = context.rate_limiter.as_ref().filter(|_| !outcome.valid_cookie) {
                let verdict = limit(
                    limiter,
                    catalog.load(),
                    &query,
                    &outcome,
                    remote,
                    response,
                    &mut limited,
                );
                match verdict {
                    Verdict::Send => {}
                    Verdict::Drop => {
                        shard.record_rate_limited(0);
                        continue;
                    }
                    Verdict::Slip => {
                        shard.record_rate_limited(1);
                        rrl::slip(response);
                    }
                    Verdict::Logged => shard.record_rate_limited(2),
                }
            }
            peers.push(peer);
        }
        send_all(fd, &mut send_headers, &responses[..peers.len()], &peers);
    }
}

/// What the rate limiter does with `response`, the answer to `query` from
/// `client`: answers count against their name and type, the other kinds
/// against their zone.
fn limit(
    limiter: &RateLimiter,
    catalog: &Catalog,
    query: &Query,
    outcome: &Summary,
    client: SocketAddr,
    response: &[u8],
    limited: &mut u32,
) -> Verdict {
    let kind = Kind::of(response, outcome.wildcard);
    let name = match kind {
        Kind::Wildcard | Kind::NxDomain | Kind::Referral => catalog
            .find(query.qname_lower(), query.qtype)
            .map_or(&[][..], |snapshot| snapshot.zone.apex().as_wire()),
        Kind::Answer | Kind::Error => query.qname_lower(),
    };
    limiter.check(client.ip(), kind, name, query.qtype, limited)
}

/// Sends every reply; a reply the kernel refuses is skipped, the rest
/// still go out.
fn send_all(
    fd: RawFd,
    headers: &mut MultiHeaders<SockaddrStorage>,
    responses: &[Vec<u8>],
    peers: &[Option<SockaddrStorage>],
) {
    let mut next = 0;
    while next < responses.len() {
        let slices: Vec<[IoSlice<'_>; 1]> = responses[next..]
            .iter()
            .map(|response| [IoSlice::new(response)])
            .collect();
        let sent = match sendmmsg(fd, headers, slices.iter(), &peers[next..], [], MsgFlags::empty()) {
            Ok(results) => results.count(),
            Err(Errno::EINTR) => continue,
            Err(error) => {
                tracing::debug!(%error, "UDP send failed");
                0
            }
        };
        // `sent` replies went out; the one after them failed.
        next += sent + usize::from(sent == 0);
    }
}

/// The port of a socket address, 0 for non-IP families.
fn socket_addr(address: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = address.as_sockaddr_in() {
        Some(SocketAddr::from((v4.ip(), v4.port())))
    } else {
        address
            .as_sockaddr_in6()
            .map(|v6| SocketAddr::from((v6.ip(), v6.port())))
    }
}

/// How many UDP workers to run per address when the configuration says 0.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |cores| cores.get())
}
