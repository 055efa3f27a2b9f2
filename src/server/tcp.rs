//! DNS over TCP (RFC 7766): length-prefixed messages, several per
//! connection, answered in order, idle connections closed.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

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

/// Accepts connections until shutdown, at most `tcp_max_connections` at
/// once; further clients wait in the kernel's backlog.
pub async fn serve(listener: TcpListener, settings: ListenerSettings, context: ListenerContext) {
    let slots = Arc::new(Semaphore::new(settings.tcp_max_connections.max(1)));
    let shard = context.metrics.shard();
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
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
        let idle = settings.tcp_idle_timeout;
        tokio::spawn(async move {
            if let Err(error) = connection(stream, peer, idle, &context, &shard).await {
                tracing::debug!(%error, %peer, "TCP connection ended");
            }
            drop(permit);
        });
    }
}

/// Serves one connection: read a message, answer, repeat. Pipelined
/// queries are answered in the order received (RFC 7766 §6.2.1.1 allows
/// that; it also allows out-of-order, which buys nothing when every answer
/// is computed without waiting).
async fn connection(
    stream: TcpStream,
    remote: SocketAddr,
    idle: Duration,
    context: &ListenerContext,
    shard: &crate::metrics::Shard,
) -> io::Result<()> {
    let local = stream.local_addr()?;
    let peer = Peer { remote, local };
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    let mut query = Query::new();
    let mut request = Vec::with_capacity(512);
    let mut response = Vec::with_capacity(4096);
    let mut framed = Vec::with_capacity(4096);
    loop {
        if context.shutdown.load(Ordering::Relaxed) {
            return Ok(());
        }
        // RFC 7766 §6.2.3: the idle timer covers the wait for a new message.
        let len = match tokio::time::timeout(idle, reader.read_u16()).await {
            Err(_elapsed) => return Ok(()),
            Ok(Err(error)) if error.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Ok(result) => result? as usize,
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
}

/// Resolves once the shutdown flag is set.
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

async fn wait_for_shutdown(context: &ListenerContext) {
    while !context.shutdown.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
