//! Local mock servers of the five provider APIs, and what the tests share to drive them.
//!
//! Each mock reproduces its provider's wire format (authentication, envelopes, error codes,
//! rate limiting, asynchronous tasks) closely enough that the adapters cannot tell the
//! difference, and records every mutating request it receives, authenticated or not. A
//! [`Control`] lets a test throttle requests, delay the answer to a state change (a
//! timeout after the change was applied) and make asynchronous tasks fail.

// Handlers return ready-made error responses through `Result`, which is
// clearer here than boxing them.
#![allow(clippy::result_large_err)]

pub mod cloudflare;
pub mod dynadot;
pub mod godaddy;
pub mod namecheap;
pub mod ovh;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;

/// One mutating request a mock received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mutation {
    /// Method and path, or the command name for the single-endpoint APIs.
    pub call: String,
}

/// Test knobs and observations shared by every mock.
#[derive(Debug, Default)]
pub struct Control {
    /// Every mutating request received, in order.
    mutations: Mutex<Vec<String>>,
    /// Requests received in total.
    requests: AtomicUsize,
    /// State changes accepted: a synchronous change applied, or a task/action created.
    effective: AtomicUsize,
    /// How many of the next requests get the provider's rate-limit answer.
    throttle_next: AtomicU32,
    /// Requests answered with the rate-limit answer so far.
    throttled: AtomicU32,
    /// The `Retry-After` (seconds) sent with rate-limit answers.
    pub retry_after: AtomicU32,
    /// When set, the next state change is applied and then answered this late.
    delay_next_change: Mutex<Option<Duration>>,
    /// When set, asynchronous tasks end in failure.
    pub fail_tasks: AtomicBool,
    /// Requests to let through before answering with a server error.
    unavailable_skip: AtomicU32,
    /// How many requests then get a server error (503), without being processed.
    unavailable_next: AtomicU32,
}

impl Control {
    /// Counts a request; returns `true` when it must get the rate-limit answer.
    pub fn throttle(&self) -> bool {
        self.requests.fetch_add(1, Ordering::SeqCst);
        let throttle = self
            .throttle_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| left.checked_sub(1))
            .is_ok();
        if throttle {
            self.throttled.fetch_add(1, Ordering::SeqCst);
        }
        throttle
    }

    /// Answers the next `count` requests with the rate-limit answer.
    pub fn throttle_next(&self, count: u32) {
        self.throttle_next.store(count, Ordering::SeqCst);
    }

    /// Returns how many requests were throttled.
    pub fn throttled(&self) -> u32 {
        self.throttled.load(Ordering::SeqCst)
    }

    /// Lets `skip` requests through, then answers `count` with a server error.
    pub fn unavailable_after(&self, skip: u32, count: u32) {
        self.unavailable_skip.store(skip, Ordering::SeqCst);
        self.unavailable_next.store(count, Ordering::SeqCst);
    }

    /// Returns `true` when this request must get a server error.
    pub fn unavailable(&self) -> bool {
        if self.unavailable_next.load(Ordering::SeqCst) == 0 {
            return false;
        }
        if self
            .unavailable_skip
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| left.checked_sub(1))
            .is_ok()
        {
            return false;
        }
        self.unavailable_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| left.checked_sub(1))
            .is_ok()
    }

    /// Records a mutating request.
    pub fn record(&self, call: impl Into<String>) {
        self.mutations.lock().expect("not poisoned").push(call.into());
    }

    /// Returns every mutating request received.
    pub fn mutations(&self) -> Vec<String> {
        self.mutations.lock().expect("not poisoned").clone()
    }

    /// Returns how many requests were received.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// Counts an accepted state change and waits if a delayed answer was asked for.
    pub async fn changed(&self) {
        self.effective.fetch_add(1, Ordering::SeqCst);
        let delay = self.delay_next_change.lock().expect("not poisoned").take();
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
    }

    /// Returns how many state changes were accepted.
    pub fn effective(&self) -> usize {
        self.effective.load(Ordering::SeqCst)
    }

    /// Applies the next state change but answers it only after `delay`.
    pub fn delay_next_change(&self, delay: Duration) {
        *self.delay_next_change.lock().expect("not poisoned") = Some(delay);
    }

    /// Returns the `Retry-After` value to send.
    pub fn retry_after_secs(&self) -> u32 {
        self.retry_after.load(Ordering::SeqCst)
    }
}

/// Serves `router` on an ephemeral port of 127.0.0.1 and returns the address.
pub async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a local port");
    let address = listener.local_addr().expect("bound address");
    tokio::spawn(async move {
        axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
            .await
            .expect("mock server runs");
    });
    address
}

/// A shared handle to a mock's control block.
pub type SharedControl = Arc<Control>;

/// Normalises a host name as the mocks store them.
pub fn host(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// Returns a sorted copy of `names`.
pub fn sorted(names: &[String]) -> Vec<String> {
    let mut names = names.to_vec();
    names.sort();
    names
}
