//! NOTIFY from primaries (RFC 1996 §3.7): a secondary zone's primary says
//! it changed; the zone is checked at once. A NOTIFY is accepted from a
//! primary's address, or signed with the zone's transfer key from
//! anywhere; it is recorded in the store, so that in a fleet the node
//! doing the transfers hears of it whichever node it reached.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use base::header::rcode;
use base::name::Name;
use base::types;

use crate::config::server_address;
use crate::store::Store;
use crate::update::tsig::{self, key_name};
use crate::update::{reply, tsig_error, Keyring};

/// Answers NOTIFY messages.
pub struct NotifyService {
    store: Store,
    keyring: Arc<Keyring>,
    /// Wakes this node's transfer scheduler.
    wake: Arc<tokio::sync::Notify>,
}

impl NotifyService {
    pub fn new(store: Store, keyring: Arc<Keyring>, wake: Arc<tokio::sync::Notify>) -> NotifyService {
        NotifyService { store, keyring, wake }
    }

    /// Whether `wire` is a NOTIFY request (opcode 4, QR clear).
    pub fn is_notify(wire: &[u8]) -> bool {
        wire.len() >= 12 && (wire[2] >> 3) & 0x0f == 4 && wire[2] & 0x80 == 0
    }

    /// The answer to the NOTIFY `wire` from `client`.
    pub async fn answer(&self, wire: &[u8], client: IpAddr) -> Vec<u8> {
        let now = base::time::unix_now();
        let signed = match tsig::find(wire) {
            Ok(signed) => signed,
            Err(_) => return reply(wire, rcode::FORMERR as u8),
        };
        let unsigned = match &signed {
            Some(signed) => tsig::unsigned_message(wire, signed),
            None => wire.to_vec(),
        };
        let key = match &signed {
            None => None,
            Some(signed) => match self.keyring.key(&signed.key_name).await {
                None => return tsig_error(wire, signed, now, tsig::BADKEY),
                Some(key) => match tsig::verify(wire, signed, &key, now) {
                    Ok(()) => Some((key, signed)),
                    Err(error) => return tsig_error(wire, signed, now, error),
                },
            },
        };
        let code = self
            .accept(&unsigned, client, key.as_ref().map(|(key, _)| &key.name))
            .await;
        let mut response = reply(&unsigned, code as u8);
        if let Some((key, signed)) = key {
            tsig::sign(&mut response, signed, &key, now, 0);
        }
        response
    }

    /// Checks the NOTIFY and records it; the RCODE to answer.
    async fn accept(&self, unsigned: &[u8], client: IpAddr, key: Option<&Name>) -> u16 {
        let Some((zone, qtype)) = question(unsigned) else {
            return rcode::FORMERR;
        };
        if qtype != types::SOA {
            return rcode::NOTIMP;
        }
        let zone = zone.to_lowercase().to_string();
        let primaries = match self.store.zone_primaries(&zone).await {
            Ok(Some(primaries)) if !primaries.addresses.is_empty() => primaries,
            // Not a secondary zone here: NOTAUTH, as Knot and BIND answer.
            Ok(_) => return rcode::NOTAUTH,
            Err(_) => return rcode::SERVFAIL,
        };
        let from_primary = primaries
            .addresses
            .iter()
            .filter_map(|address| server_address(address))
            .any(|address| address.ip() == client);
        let zone_key = primaries.tsig_key.as_deref().and_then(|name| key_name(name).ok());
        let signed_by_zone_key = key.is_some() && key == zone_key.as_ref();
        if !from_primary && !signed_by_zone_key {
            log_refusal(&zone, client);
            return rcode::REFUSED;
        }
        if let Err(error) = self.store.mark_notified(&zone).await {
            tracing::warn!(%zone, %error, "cannot record a NOTIFY");
            return rcode::SERVFAIL;
        }
        tracing::debug!(%zone, %client, "NOTIFY accepted");
        self.wake.notify_one();
        rcode::NOERROR
    }
}

/// The question of a message: its name and type.
fn question(wire: &[u8]) -> Option<(Name, u16)> {
    if u16::from_be_bytes([*wire.get(4)?, *wire.get(5)?]) != 1 {
        return None;
    }
    let (name, used) = Name::from_wire_prefix(wire.get(12..)?).ok()?;
    let at = 12 + used;
    Some((name, u16::from_be_bytes([*wire.get(at)?, *wire.get(at + 1)?])))
}

/// The second of the last refusal logged, and the refusals not logged
/// since: anyone can send NOTIFY, and a flood of them must not flood the
/// log as well.
static LAST_LOGGED: AtomicU64 = AtomicU64::new(0);
static UNLOGGED: AtomicU64 = AtomicU64::new(0);

/// Logs a refused NOTIFY, at most one a second.
fn log_refusal(zone: &str, client: IpAddr) {
    let second = base::time::unix_now();
    if LAST_LOGGED.swap(second, Ordering::Relaxed) == second {
        UNLOGGED.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let unlogged = UNLOGGED.swap(0, Ordering::Relaxed);
    tracing::info!(%zone, %client, unlogged, "NOTIFY refused: not from a primary of the zone");
}
