//! DNS over TCP (RFC 7766): length-prefixed messages, several per
//! connection, answered in order, idle connections closed.
//!
//! Connections are bounded per listener and per source address. A full
//! listener does not stop accepting: it shortens the idle timeout as it
//! fills and, once full, closes connections that sit idle to make room
//! (RFC 7766 §6.2.3), so idle connections from one peer cannot lock out
//! the others.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

use super::{ListenerContext, ListenerSettings};
use crate::answer::Query;
use crate::answer::{Peer, Transport};
use crate::secondary::notify::NotifyService;
use crate::transfer;
use crate::update::UpdateService;

/// Binds the TCP listener for `address`; returns it with its real address.
pub fn bind(address: SocketAddr) -> io::Result<TcpListener> {
    let socket = if address.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.set_nodelay(true)?;
    socket.bind(address)?;
    socket.listen(1024)
}

/// How long a connection may sit idle before a full listener closes it
/// to make room: a new client sends its query well within this.
const GRACE: Duration = Duration::from_secs(1);

/// How long a client that finds the listener full waits for a slot.
const SLOT_WAIT: Duration = Duration::from_secs(2);

/// Clients waiting for a slot at most; more are closed at once.
const MAX_WAITING: usize = 256;

/// The open connections of one listener, by source.
struct Connections {
    max: usize,
    per_source: usize,
    open: Mutex<(usize, HashMap<IpAddr, usize>)>,
    /// Told when a client finds every slot taken: the connection idle
    /// longest (the first to wait) closes, if idle past the grace.
    full: Notify,
    waiting: AtomicUsize,
}

/// Why a connection was not admitted.
enum Refused {
    Full,
    SourceFull,
}

/// A slot taken by one connection, given back when dropped.
struct Slot {
    connections: Arc<Connections>,
    source: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.connections.lock();
        open.0 -= 1;
        if let Some(count) = open.1.get_mut(&self.source) {
            *count -= 1;
            if *count == 0 {
                open.1.remove(&self.source);
            }
        }
    }
}

impl Connections {
    fn lock(&self) -> std::sync::MutexGuard<'_, (usize, HashMap<IpAddr, usize>)> {
        self.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn admit(self: &Arc<Self>, remote: IpAddr) -> Result<Slot, Refused> {
        // IPv6 clients get a /64 each: one host can hold many addresses.
        let source = match remote {
            IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !(u64::MAX as u128)).into()),
            v4 => v4,
        };
        let mut open = self.lock();
        if open.1.get(&source).is_some_and(|&count| count >= self.per_source) {
            return Err(Refused::SourceFull);
        }
        if open.0 >= self.max {
            return Err(Refused::Full);
        }
        open.0 += 1;
        *open.1.entry(source).or_default() += 1;
        Ok(Slot {
            connections: self.clone(),
            source,
        })
    }

    /// The idle timeout now: a quarter of `idle` (at least the grace)
    /// once three quarters of the slots are taken.
    fn idle_timeout(&self, idle: Duration) -> Duration {
        if self.lock().0 * 4 >= self.max * 3 {
            (idle / 4).max(GRACE)
        } else {
            idle
        }
    }

    /// Resolves when a client finds the listener full while this
    /// connection, first in line, has sat idle since `idle_since` for
    /// longer than the grace.
    async fn make_room(&self, idle_since: Instant) {
        loop {
            self.full.notified().await;
            if idle_since.elapsed() >= GRACE {
                return;
            }
        }
    }
}

/// Accepts connections until shutdown, at most `tcp_max_connections` at
/// once and `tcp_max_connections_per_source` from one source.
pub async fn serve(listener: TcpListener, settings: ListenerSettings, context: ListenerContext) {
    let connections = Arc::new(Connections {
        max: settings.tcp_max_connections.max(1),
        per_source: settings.tcp_max_connections_per_source.max(1),
        open: Mutex::new((0, HashMap::new())),
        full: Notify::new(),
        waiting: AtomicUsize::new(0),
    });
    let shard = context.metrics.shard();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "TCP accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = wait_for_shutdown(&context) => return,
        };
        let context = context.clone();
        let shard = shard.clone();
        let settings = settings.clone();
        let connections = connections.clone();
        let slot = match connections.admit(peer.ip()) {
            Ok(slot) => slot,
            Err(Refused::SourceFull) => {
                tracing::debug!(%peer, "TCP connection refused: too many from this source");
                continue;
            }
            Err(Refused::Full) => {
                if connections.waiting.fetch_add(1, Ordering::Relaxed) >= MAX_WAITING {
                    connections.waiting.fetch_sub(1, Ordering::Relaxed);
                    continue;
                }
                connections.full.notify_one();
                tokio::spawn(async move {
                    let slot = wait_for_slot(&connections, peer.ip()).await;
                    connections.waiting.fetch_sub(1, Ordering::Relaxed);
                    if let Some(slot) = slot {
                        serve_connection(stream, peer, &settings, &context, &shard, &connections, slot).await;
                    }
                });
                continue;
            }
        };
        tokio::spawn(async move {
            serve_connection(stream, peer, &settings, &context, &shard, &connections, slot).await;
        });
    }
}

/// A slot for a client that found the listener full, once idle
/// connections have made room; `None` if none is made in time.
async fn wait_for_slot(connections: &Arc<Connections>, remote: IpAddr) -> Option<Slot> {
    let deadline = Instant::now() + SLOT_WAIT;
    while Instant::now() < deadline {
        match connections.admit(remote) {
            Ok(slot) => return Some(slot),
            Err(Refused::SourceFull) => return None,
            Err(Refused::Full) => {
                connections.full.notify_one();
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    None
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    settings: &ListenerSettings,
    context: &ListenerContext,
    shard: &crate::metrics::Shard,
    connections: &Connections,
    slot: Slot,
) {
    if let Err(error) = connection(stream, peer, settings, context, shard, connections).await {
        tracing::debug!(%error, %peer, "TCP connection ended");
    }
    drop(slot);
}

/// Serves one connection: read a message, answer, repeat. Pipelined
/// queries are answered in the order received (RFC 7766 §6.2.1.1 allows
/// that; it also allows out-of-order, which buys nothing when every answer
/// is computed without waiting).
async fn connection(
    stream: TcpStream,
    remote: SocketAddr,
    settings: &ListenerSettings,
    context: &ListenerContext,
    shard: &crate::metrics::Shard,
    connections: &Connections,
) -> io::Result<()> {
    let idle = settings.tcp_idle_timeout;
    let opened = Instant::now();
    let local = stream.local_addr()?;
    let peer = Peer { remote, local };
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    let mut query = Query::new();
    let mut request = Vec::with_capacity(512);
    let mut response = Vec::with_capacity(4096);
    let mut framed = Vec::with_capacity(4096);
    for _ in 0..settings.tcp_max_queries {
        if context.shutdown.load(Ordering::Relaxed) || opened.elapsed() >= settings.tcp_max_connection_time {
            break;
        }
        // RFC 7766 §6.2.3: the idle timer covers the wait for a new message,
        // shorter as the listener fills; a full one closes idle connections.
        let idle_since = Instant::now();
        let len = tokio::select! {
            read = tokio::time::timeout(connections.idle_timeout(idle), reader.read_u16()) => match read {
                Err(_elapsed) => return Ok(()),
                Ok(Err(error)) if error.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
                Ok(result) => result? as usize,
            },
            () = connections.make_room(idle_since) => return Ok(()),
        };
        request.resize(len, 0);
        tokio::time::timeout(idle, reader.read_exact(&mut request))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "message body not received in time"))??;
        if transfer::is_transfer(&request) {
            let mut messages = context.transfers.answer(&request, remote.ip()).await;
            while let Some(message) = messages.recv().await {
                send(&mut writer, &mut framed, &message, idle).await?;
            }
            continue;
        }
        if NotifyService::is_notify(&request) {
            let answer = context.notifies.answer(&request, remote.ip()).await;
            send(&mut writer, &mut framed, &answer, idle).await?;
            continue;
        }
        if UpdateService::is_update(&request) {
            let Some(answer) = context.updates.answer(&request).await else {
                continue;
            };
            send(&mut writer, &mut framed, &answer, idle).await?;
            continue;
        }
        let started = Instant::now();
        let catalog = context.catalog.load();
        let Some(outcome) =
            context
                .responder
                .respond(&catalog, &request, Transport::Tcp, peer, &mut query, &mut response)
        else {
            shard.record_drop();
            continue;
        };
        shard.record(&outcome, started.elapsed());
        send(&mut writer, &mut framed, &response, idle).await?;
    }
    close_after_answers(reader, writer).await;
    Ok(())
}

/// Ends a connection the server closes while the client may still be
/// sending. Closing a socket with unread data resets it, and a reset
/// discards answers not yet delivered; so the server half-closes first and
/// reads what the client still sends until it closes too, or `GRACE`
/// passes (RFC 7766 §6.2.3: the client sees a clean close and retries
/// the rest on a new connection).
async fn close_after_answers(
    mut reader: BufReader<tokio::net::tcp::OwnedReadHalf>,
    mut writer: tokio::net::tcp::OwnedWriteHalf,
) {
    if writer.shutdown().await.is_err() {
        return;
    }
    let mut discarded = [0u8; 4096];
    let _ = tokio::time::timeout(GRACE, async {
        while matches!(reader.read(&mut discarded).await, Ok(read) if read > 0) {}
    })
    .await;
}

/// Writes `message` with its two-octet length (RFC 1035 §4.2.2) in one
/// write, through the reused buffer `framed`; a peer that does not read it
/// within `idle` is given up.
async fn send(
    writer: &mut tokio::net::tcp::OwnedWriteHalf,
    framed: &mut Vec<u8>,
    message: &[u8],
    idle: Duration,
) -> io::Result<()> {
    framed.clear();
    framed.extend_from_slice(&(message.len() as u16).to_be_bytes());
    framed.extend_from_slice(message);
    tokio::time::timeout(idle, writer.write_all(framed))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "peer does not read its answers"))?
}

/// Resolves once the shutdown flag is set.
async fn wait_for_shutdown(context: &ListenerContext) {
    while !context.shutdown.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
