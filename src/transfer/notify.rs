//! NOTIFY (RFC 1996): when a zone's snapshot changes, its secondaries
//! (`[transfer] notify` and the zone's ALSO-NOTIFY) are told, each until
//! it answers or the tries run out. A secondary then asks for the SOA and
//! transfers what changed.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base::name::Name;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use crate::config::server_address;
use crate::store::{Duty, Leadership, Store};

/// How often one secondary is told about one change before giving up
/// (RFC 1996 §3.6: a few times, with growing intervals).
const TRIES: u32 = 5;
/// How long each try waits for the answer; doubled every try.
const FIRST_WAIT: Duration = Duration::from_secs(1);

/// NOTIFY messages answered by secondaries, and given up on, since start.
static ANSWERED: AtomicU64 = AtomicU64::new(0);
static UNANSWERED: AtomicU64 = AtomicU64::new(0);

/// How many NOTIFY were answered, and how many given up, for `/metrics`.
pub fn outcomes() -> (u64, u64) {
    (ANSWERED.load(Ordering::Relaxed), UNANSWERED.load(Ordering::Relaxed))
}

/// Where the loader reports a zone whose snapshot changed.
pub type Changes = mpsc::UnboundedSender<(Name, u32)>;

/// Tells secondaries of changes reported on a [`Changes`] channel.
pub struct Notifier {
    store: Store,
    /// `[transfer] notify`.
    targets: Vec<SocketAddr>,
    changes: mpsc::UnboundedReceiver<(Name, u32)>,
}

impl Notifier {
    /// A notifier for `targets`, and the channel that feeds it.
    pub fn new(store: Store, targets: Vec<SocketAddr>) -> (Notifier, Changes) {
        let (sender, changes) = mpsc::unbounded_channel();
        (
            Notifier {
                store,
                targets,
                changes,
            },
            sender,
        )
    }

    /// Notifies until the channel closes. Nodes sharing a store all see
    /// every change; the one holding the lock tells the secondaries.
    pub async fn run(mut self) {
        let mut leadership = Leadership::new(self.store.clone(), Duty::Notify);
        while let Some((zone, serial)) = self.changes.recv().await {
            if !leadership.hold().await {
                continue;
            }
            let mut targets = self.targets.clone();
            match self.store.zone_metadata(&zone.to_string()).await {
                Ok(metadata) => {
                    let also = metadata
                        .iter()
                        .filter(|(kind, _)| kind == "ALSO-NOTIFY")
                        .flat_map(|(_, values)| values.iter())
                        .filter_map(|value| server_address(value));
                    targets.extend(also);
                }
                Err(error) => {
                    tracing::warn!(%error, %zone, "cannot read ALSO-NOTIFY; notifying the configured secondaries")
                }
            }
            targets.sort();
            targets.dedup();
            for target in targets {
                let zone = zone.clone();
                tokio::spawn(async move { notify(target, &zone, serial).await });
            }
        }
    }
}

/// Tells `target` that `zone` changed, until it answers.
async fn notify(target: SocketAddr, zone: &Name, serial: u32) {
    let mut wait = FIRST_WAIT;
    for _ in 0..TRIES {
        match try_notify(target, zone, wait).await {
            Ok(()) => {
                tracing::debug!(%zone, serial, %target, "secondary notified");
                ANSWERED.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Err(error) => tracing::debug!(%zone, %target, %error, "NOTIFY not answered yet"),
        }
        wait *= 2;
    }
    tracing::warn!(%zone, serial, %target, "secondary did not answer NOTIFY");
    UNANSWERED.fetch_add(1, Ordering::Relaxed);
}

/// One NOTIFY and its answer.
async fn try_notify(target: SocketAddr, zone: &Name, wait: Duration) -> std::io::Result<()> {
    let local: SocketAddr = if target.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local).await?;
    socket.connect(target).await?;
    let id: u16 = base::header::random_id();
    socket.send(&message(id, zone)).await?;
    let mut buffer = [0u8; 512];
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let length = tokio::time::timeout_at(deadline, socket.recv(&mut buffer))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer"))??;
        // The answer: our ID, QR set, opcode NOTIFY (RFC 1996 §4.7).
        if length >= 12 && buffer[0..2] == id.to_be_bytes() && buffer[2] & 0xf8 == 0xa0 {
            return Ok(());
        }
    }
}

/// A NOTIFY message for `zone`: opcode 4, AA, the SOA question (RFC 1996
/// §3.7).
fn message(id: u16, zone: &Name) -> Vec<u8> {
    let mut message = Vec::with_capacity(12 + zone.as_wire().len() + 4);
    message.extend_from_slice(&id.to_be_bytes());
    message.extend_from_slice(&[0x24, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    message.extend_from_slice(zone.as_wire());
    message.extend_from_slice(&base::types::SOA.to_be_bytes());
    message.extend_from_slice(&base::class::IN.to_be_bytes());
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_message_is_opcode_4_with_the_soa_question() {
        let zone = Name::parse("example.com.", None).unwrap();
        let wire = message(0x1234, &zone);
        assert_eq!(&wire[..4], &[0x12, 0x34, 0x24, 0x00], "opcode NOTIFY, AA");
        assert_eq!(&wire[4..6], &[0, 1]);
        assert_eq!(&wire[wire.len() - 4..], &[0, 6, 0, 1], "SOA IN");
        assert_eq!(server_address("192.0.2.7"), Some("192.0.2.7:53".parse().unwrap()));
        assert_eq!(
            server_address("[2001:db8::7]:5300"),
            Some("[2001:db8::7]:5300".parse().unwrap())
        );
        assert_eq!(server_address("ns1.example."), None);
    }
}
