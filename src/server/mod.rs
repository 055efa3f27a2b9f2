//! DNS listeners: UDP on dedicated threads, TCP on the async runtime.
//!
//! UDP carries nearly all traffic, so it skips the runtime entirely: each
//! worker thread owns one SO_REUSEPORT socket, takes whatever datagrams are
//! queued with one `recvmmsg`, answers each inline into buffers it reuses,
//! and sends the replies with one `sendmmsg`. No task is spawned per query.
//! TCP (RFC 7766) runs one task per connection on tokio, where waiting on
//! slow peers is cheap.

pub mod rrl;
pub mod tcp;
pub mod udp;

use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use crate::answer::Responder;
use crate::catalog::SharedCatalog;
use crate::metrics::Metrics;
use crate::secondary::notify::NotifyService;
use crate::transfer::TransferService;
use crate::update::UpdateService;

/// What every listener needs.
#[derive(Clone)]
pub struct ListenerContext {
    pub catalog: SharedCatalog,
    pub responder: Responder,
    pub metrics: Arc<Metrics>,
    /// Set once to make every listener stop.
    pub shutdown: Arc<AtomicBool>,
    /// RFC 2136 UPDATE, answered on the runtime: it waits on the store.
    pub updates: Arc<UpdateService>,
    /// NOTIFY from the primaries of secondary zones, answered on the
    /// runtime: it writes to the store.
    pub notifies: Arc<NotifyService>,
    /// Zone transfers (TCP only).
    pub transfers: Arc<TransferService>,
    /// Response rate limiting of UDP answers, when `[rrl] rate` is set.
    pub rate_limiter: Option<Arc<rrl::RateLimiter>>,
    pub runtime: tokio::runtime::Handle,
    /// UDP messages answered off the workers (UPDATE, NOTIFY) that may be
    /// waiting on the store at once; past it they are dropped, so a flood
    /// of them costs a bounded amount of memory and store time.
    pub store_work: Arc<tokio::sync::Semaphore>,
}

/// UPDATE and NOTIFY messages over UDP in progress at once, at most.
pub const MAX_STORE_WORK: usize = 256;

/// Listener settings taken from the configuration.
#[derive(Clone, Debug)]
pub struct ListenerSettings {
    pub addresses: Vec<SocketAddr>,
    /// UDP worker threads per address.
    pub udp_workers: usize,
    pub tcp_idle_timeout: Duration,
    pub tcp_max_connections: usize,
    pub tcp_max_connections_per_source: usize,
    pub tcp_max_queries: usize,
    pub tcp_max_connection_time: Duration,
}
