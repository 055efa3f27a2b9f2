//! Zone transfers out: AXFR (RFC 5936) and IXFR (RFC 1995) over TCP, and
//! NOTIFY (RFC 1996) to secondaries ([`notify`]).
//!
//! A request is checked in this order: its TSIG signature (NOTAUTH when
//! bad), the zone (NOTAUTH when not served here), then the access list:
//! the client's address in `[transfer] allow` or the zone's
//! ALLOW-AXFR-FROM, or its key in `[transfer] tsig_keys` or the zone's
//! TSIG-ALLOW-AXFR; otherwise REFUSED. AXFR sends the served snapshot,
//! signatures and denial records included. IXFR sends the journal's
//! changes since the client's serial, condensed into one difference, when
//! the journal reaches back that far and the zone is not signed; otherwise
//! the whole zone, as RFC 1995 §4 allows.

pub mod computed;
mod message;
pub mod notify;

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use base::header::rcode;
use base::name::Name;
use base::netmask::Netmask;
use base::{rdata, types};
use tokio::sync::mpsc;

use self::message::{Request, Transfer};
use crate::catalog::{SharedCatalog, Snapshot};
use crate::change::serial_ahead;
use crate::store::{Store, StoredRecord, ZoneChangeRow, JOURNAL_KEPT};
use crate::update::tsig::{self, TsigKey};
use crate::update::Keyring;
use crate::zone::soa_serial;

/// Transfer requests answered since start, by outcome, for `/metrics`:
/// AXFR, IXFR (a difference or the current SOA), refused (any error).
static ANSWERED: [AtomicU64; 3] = [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)];

/// How many transfers were answered: (AXFR, IXFR, refused).
pub fn answered() -> (u64, u64, u64) {
    let count = |index: usize| ANSWERED[index].load(Ordering::Relaxed);
    (count(0), count(1), count(2))
}

/// Messages of a transfer buffered ahead of a slow reader.
const QUEUED_MESSAGES: usize = 8;

/// Serves zone transfers.
pub struct TransferService {
    store: Store,
    catalog: SharedCatalog,
    keyring: Arc<Keyring>,
    /// `[transfer] allow`.
    allow: Vec<Netmask>,
    /// `[transfer] tsig_keys`, absolute and lowercase.
    keys: Vec<Name>,
    /// The computed answers each zone's last whole transfer carried.
    sent: Arc<computed::SentAnswers>,
}

/// Whether `wire` asks for a zone transfer: a query (QR clear, opcode 0)
/// of type AXFR or IXFR.
pub fn is_transfer(wire: &[u8]) -> bool {
    message::question_type(wire).is_some_and(|qtype| matches!(qtype, types::AXFR | types::IXFR))
}

impl TransferService {
    /// The service of `[transfer]`.
    pub fn from_config(
        store: Store,
        catalog: SharedCatalog,
        keyring: Arc<Keyring>,
        config: &crate::config::TransferConfig,
    ) -> Result<TransferService, String> {
        let allow = config
            .allow
            .iter()
            .map(|text| {
                text.parse::<Netmask>()
                    .map_err(|()| format!("[transfer] allow: {text:?} is not an address or a network"))
            })
            .collect::<Result<_, _>>()?;
        let keys = config
            .tsig_keys
            .iter()
            .map(|text| tsig::key_name(text).map_err(|error| format!("[transfer] tsig_keys: {error}")))
            .collect::<Result<_, _>>()?;
        Ok(TransferService {
            store,
            catalog,
            keyring,
            allow,
            keys,
            sent: Arc::default(),
        })
    }

    /// The computed answers sent, for [`computed::Reannouncer`].
    pub fn sent_answers(&self) -> Arc<computed::SentAnswers> {
        self.sent.clone()
    }

    /// Answers the transfer request `wire` from `client`: the messages
    /// arrive on the returned channel, produced as the reader takes them.
    pub async fn answer(&self, wire: &[u8], client: IpAddr) -> mpsc::Receiver<Vec<u8>> {
        let (sender, receiver) = mpsc::channel(QUEUED_MESSAGES);
        let transfer = self.prepare(wire, client).await;
        let outcome = match &transfer {
            Transfer::Zone { .. } => 0,
            Transfer::Records { .. } => 1,
            Transfer::Single(_) => 2,
        };
        ANSWERED[outcome].fetch_add(1, Ordering::Relaxed);
        tokio::task::spawn_blocking(move || transfer.send(&sender));
        receiver
    }

    /// Checks the request and works out what to send.
    async fn prepare(&self, wire: &[u8], client: IpAddr) -> Transfer {
        let now = base::time::unix_now();
        let request = match Request::parse(wire) {
            Ok(request) => request,
            Err(()) => return Transfer::refusal(wire, rcode::FORMERR, None, now),
        };
        // The key that signed the request, which signs the answer too.
        let signer = match &request.signed {
            None => None,
            Some(signed) => match self.keyring.key(&signed.key_name).await {
                None => return Transfer::tsig_error(wire, signed, tsig::BADKEY, now),
                Some(key) => match tsig::verify(wire, signed, &key, now) {
                    Ok(()) => Some((key, signed.clone())),
                    Err(error) => return Transfer::tsig_error(wire, signed, error, now),
                },
            },
        };
        let catalog = self.catalog.load();
        let Some(snapshot) = catalog.zone(&request.zone).cloned() else {
            return Transfer::refusal(&request.unsigned, rcode::NOTAUTH, signer, now);
        };
        if snapshot.loading {
            return Transfer::refusal(&request.unsigned, rcode::SERVFAIL, signer, now);
        }
        let apex = request.zone.to_string();
        if !self.allowed(&apex, client, signer.as_ref().map(|(key, _)| key)).await {
            tracing::info!(zone = %apex, %client, key = ?signer.as_ref().map(|(key, _)| key.name.to_string()), "zone transfer refused");
            return Transfer::refusal(&request.unsigned, rcode::REFUSED, signer, now);
        }
        let serial = snapshot.zone.serial();
        if request.qtype == types::IXFR {
            if let Some(from) = request.ixfr_serial {
                if !serial_ahead(serial, from) {
                    // The client is up to date: the current SOA alone.
                    return Transfer::records(&request, vec![soa_of(&snapshot)], signer, now);
                }
                // The journal holds neither signatures nor what LUA and
                // ALIAS records answer now: such zones go whole.
                if snapshot.signed.is_none() && snapshot.programs.is_none() {
                    if let Some(records) = self.ixfr(&apex, &snapshot, from).await {
                        tracing::info!(zone = %apex, %client, from, to = serial, "IXFR");
                        return Transfer::records(&request, records, signer, now);
                    }
                }
            }
        }
        tracing::info!(zone = %apex, %client, serial, "AXFR");
        Transfer::zone(&request, snapshot, self.sent.clone(), signer, now)
    }

    /// Whether `client`, or `key`, may transfer zone `apex`.
    async fn allowed(&self, apex: &str, client: IpAddr, key: Option<&TsigKey>) -> bool {
        if let Some(key) = key {
            if self.keys.contains(&key.name) {
                return true;
            }
        }
        if self.allow.iter().any(|network| network.contains(client)) {
            return true;
        }
        let metadata = match self.store.zone_metadata(apex).await {
            Ok(metadata) => metadata,
            Err(error) => {
                tracing::warn!(%error, zone = apex, "cannot read the zone's transfer access list");
                return false;
            }
        };
        metadata.iter().any(|(kind, values)| match kind.as_str() {
            "ALLOW-AXFR-FROM" => values
                .iter()
                .filter_map(|value| value.parse::<Netmask>().ok())
                .any(|network| network.contains(client)),
            "TSIG-ALLOW-AXFR" => key.is_some_and(|key| {
                values
                    .iter()
                    .filter_map(|value| tsig::key_name(value).ok())
                    .any(|name| name == key.name)
            }),
            _ => false,
        })
    }

    /// The IXFR records from serial `from` to the snapshot's, condensed
    /// (RFC 1995 §4): `None` when the journal does not lead from one to
    /// the other.
    async fn ixfr(&self, apex: &str, snapshot: &Snapshot, from: u32) -> Option<Vec<Record>> {
        let reaches = |entries: &[ZoneChangeRow]| entries.iter().any(|entry| entry.old_serial == Some(from));
        let entries = match self.store.zone_changes_back(apex, JOURNAL_KEPT, reaches).await {
            Ok(entries) => entries,
            Err(error) => {
                tracing::warn!(%error, zone = apex, "cannot read the journal; sending AXFR");
                return None;
            }
        };
        // Newest first: walk back from the served serial to the client's.
        let mut wanted = snapshot.zone.serial();
        let mut chain = Vec::new();
        for entry in &entries {
            if entry.kind != "update" || entry.new_serial != Some(wanted) {
                return None;
            }
            chain.push(entry);
            let old = entry.old_serial?;
            if old == from {
                break;
            }
            wanted = old;
        }
        if chain.last().and_then(|entry| entry.old_serial) != Some(from) {
            return None;
        }
        let mut removed: Vec<&StoredRecord> = Vec::new();
        let mut added: Vec<&StoredRecord> = Vec::new();
        for entry in chain.iter().rev() {
            for record in entry.removed.iter().filter(|record| record.rtype != "SOA") {
                match added.iter().position(|known| *known == record) {
                    Some(index) => {
                        added.remove(index);
                    }
                    None => removed.push(record),
                }
            }
            for record in entry.added.iter().filter(|record| record.rtype != "SOA") {
                match removed.iter().position(|known| *known == record) {
                    Some(index) => {
                        removed.remove(index);
                    }
                    None => added.push(record),
                }
            }
        }
        let apex_name = snapshot.zone.apex();
        let current = soa_of(snapshot);
        let old = Record {
            rdata: with_serial(&current.rdata, from)?,
            ..current.clone()
        };
        let mut records = vec![current.clone(), old];
        for record in removed {
            records.push(Record::from_stored(record, apex_name)?);
        }
        records.push(current.clone());
        for record in added {
            records.push(Record::from_stored(record, apex_name)?);
        }
        records.push(current);
        Some(records)
    }
}

/// One record of a transfer, wire forms.
#[derive(Clone, Debug)]
pub struct Record {
    pub owner: Vec<u8>,
    pub rtype: u16,
    pub ttl: u32,
    pub rdata: Vec<u8>,
}

impl Record {
    fn from_stored(record: &StoredRecord, apex: &Name) -> Option<Record> {
        let owner = Name::parse(&record.name, None).ok()?.to_lowercase();
        let rtype = types::type_from_str(&record.rtype)?;
        let rdata = rdata::parse_rdata_text(rtype, &record.content, apex).ok()?;
        Some(Record {
            owner: owner.as_wire().to_vec(),
            rtype,
            ttl: u32::try_from(record.ttl).ok()?,
            rdata,
        })
    }
}

/// The snapshot's SOA record.
fn soa_of(snapshot: &Snapshot) -> Record {
    let soa = snapshot.zone.soa();
    Record {
        owner: snapshot.zone.apex().as_wire().to_vec(),
        rtype: types::SOA,
        ttl: soa.map_or(0, |soa| soa.ttl),
        rdata: soa.and_then(|soa| soa.first()).unwrap_or_default().to_vec(),
    }
}

/// SOA RDATA with its serial replaced.
fn with_serial(soa: &[u8], serial: u32) -> Option<Vec<u8>> {
    let mut at = 0;
    for _ in 0..2 {
        loop {
            let len = usize::from(*soa.get(at)?);
            at += 1 + len;
            if len == 0 {
                break;
            }
        }
    }
    let mut out = soa.to_vec();
    out.get_mut(at..at + 4)?.copy_from_slice(&serial.to_be_bytes());
    debug_assert_eq!(soa_serial(&out), Some(serial));
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_old_soa_differs_only_in_its_serial() {
        let apex = Name::parse("example.", None).unwrap();
        let soa = rdata::parse_rdata_text(types::SOA, "ns1 hostmaster 7 3600 900 604800 300", &apex).unwrap();
        let old = with_serial(&soa, 5).unwrap();
        assert_eq!(soa_serial(&old), Some(5));
        assert_eq!(old.len(), soa.len());
        assert_eq!(&old[old.len() - 16..], &soa[soa.len() - 16..]);
    }
}
