//! The client side of zone transfers: one IXFR (RFC 1995) or AXFR
//! (RFC 5936) request over TCP, the answer read message by message,
//! checked against the request's TSIG key when there is one, and turned
//! into an [`Incoming`] change.
//!
//! IXFR doubles as the freshness check: a primary whose serial is not
//! ahead of the one sent answers with its SOA alone (RFC 1995 §2).

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use base::header::rcode;
use base::name::Name;
use base::{class, rdata, types};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::change::{serial_ahead, soa_serial, Incoming};
use crate::store::StoredRecord;
use crate::update::tsig::{self, AnswerVerifier, TsigKey};

/// How long connecting to a primary may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the primary may leave the transfer without a message.
const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Records one transfer may bring: a primary that never ends its answer
/// must not take all the memory.
const MAX_RECORDS: usize = 20_000_000;

/// A primary server of a zone.
#[derive(Clone, Debug)]
pub struct Primary {
    pub address: SocketAddr,
    pub key: Option<TsigKey>,
}

/// Why a transfer failed; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("cannot reach {0}: {1}")]
    Connect(SocketAddr, std::io::Error),
    #[error("{0} stopped answering")]
    Timeout(SocketAddr),
    #[error("transfer from {0} broke off: {1}")]
    Io(SocketAddr, std::io::Error),
    #[error("{0} answered {1}")]
    Refused(SocketAddr, &'static str),
    #[error("{0} sent a bad answer: {1}")]
    Malformed(SocketAddr, String),
}

/// What the primary answered.
#[derive(Debug)]
pub enum Fetched {
    /// The zone is current: the primary's serial is not ahead of ours.
    Current(u32),
    /// The primary's content, or the way to it from ours.
    Changed(Incoming),
}

/// Asks `primary` for `zone`: by IXFR from `current` (the stored SOA) when
/// there is one, otherwise by AXFR.
pub async fn fetch(primary: &Primary, zone: &Name, current: Option<&StoredRecord>) -> Result<Fetched, FetchError> {
    let address = primary.address;
    let malformed = |reason: String| FetchError::Malformed(address, reason);
    let from = match current {
        Some(soa) => {
            let serial = soa_serial(&soa.content).ok_or_else(|| malformed("the stored SOA is unreadable".into()))?;
            let wire = rdata::parse_rdata_text(types::SOA, &soa.content, zone)
                .map_err(|error| malformed(format!("the stored SOA: {error}")))?;
            Some((serial, soa.ttl, wire))
        }
        None => None,
    };
    let id = base::header::random_id();
    let mut request = request(id, zone, from.as_ref().map(|(_, ttl, wire)| (*ttl, wire.as_slice())));
    let now = base::time::unix_now();
    let request_mac = primary
        .key
        .as_ref()
        .map(|key| tsig::sign_request(&mut request, key, now));
    let mut stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address))
        .await
        .map_err(|_| FetchError::Timeout(address))?
        .map_err(|error| FetchError::Connect(address, error))?;
    let mut framed = (request.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&request);
    stream
        .write_all(&framed)
        .await
        .map_err(|error| FetchError::Io(address, error))?;
    let mut verifier = match (&primary.key, request_mac) {
        (Some(key), Some(mac)) => Some(AnswerVerifier::new(key, mac)),
        _ => None,
    };
    let mut reader = Reader::new(zone, from.as_ref().map(|(serial, ..)| *serial));
    let mut first = true;
    while !reader.done() {
        let message = read_message(&mut stream, address).await?;
        let message = match verifier.as_mut() {
            Some(verifier) => verifier.check(&message, base::time::unix_now()).map_err(malformed)?,
            None => message,
        };
        check_header(&message, id, first, address)?;
        first = false;
        reader.take(&message).map_err(malformed)?;
    }
    if let Some(verifier) = &verifier {
        verifier.finish().map_err(malformed)?;
    }
    reader.finish().map_err(malformed)
}

/// An AXFR, or with `from` (the SOA's TTL and RDATA) an IXFR, request.
fn request(id: u16, zone: &Name, from: Option<(i64, &[u8])>) -> Vec<u8> {
    let mut message = Vec::with_capacity(64 + zone.as_wire().len() * 2);
    message.extend_from_slice(&id.to_be_bytes());
    // A query, no flags; one question and, for IXFR, one authority record.
    message.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, u8::from(from.is_some()), 0, 0]);
    message.extend_from_slice(zone.as_wire());
    let qtype = if from.is_some() { types::IXFR } else { types::AXFR };
    message.extend_from_slice(&qtype.to_be_bytes());
    message.extend_from_slice(&class::IN.to_be_bytes());
    if let Some((ttl, soa)) = from {
        // RFC 1995 §3: the client's SOA in the authority section.
        message.extend_from_slice(&[0xc0, 12]);
        message.extend_from_slice(&types::SOA.to_be_bytes());
        message.extend_from_slice(&class::IN.to_be_bytes());
        message.extend_from_slice(&(ttl as u32).to_be_bytes());
        message.extend_from_slice(&(soa.len() as u16).to_be_bytes());
        message.extend_from_slice(soa);
    }
    message
}

async fn read_message(stream: &mut TcpStream, address: SocketAddr) -> Result<Vec<u8>, FetchError> {
    let read = async {
        let mut prefix = [0u8; 2];
        stream.read_exact(&mut prefix).await?;
        let mut message = vec![0u8; usize::from(u16::from_be_bytes(prefix))];
        stream.read_exact(&mut message).await?;
        Ok::<_, std::io::Error>(message)
    };
    tokio::time::timeout(READ_TIMEOUT, read)
        .await
        .map_err(|_| FetchError::Timeout(address))?
        .map_err(|error| FetchError::Io(address, error))
}

/// Checks that `message` answers request `id` without error; the first
/// message must echo the question (RFC 5936 §2.2.1).
fn check_header(message: &[u8], id: u16, first: bool, address: SocketAddr) -> Result<(), FetchError> {
    let malformed = |reason: &str| FetchError::Malformed(address, reason.to_string());
    if message.len() < 12 {
        return Err(malformed("a message shorter than its header"));
    }
    if message[0..2] != id.to_be_bytes() || message[2] & 0xf8 != 0x80 {
        return Err(malformed("a message that is not an answer to the request"));
    }
    let code = u16::from(message[3] & 0x0f);
    if code != rcode::NOERROR {
        return Err(FetchError::Refused(address, rcode::name(code)));
    }
    if first && message[4..6] != [0, 1] {
        return Err(malformed("the first message does not repeat the question"));
    }
    Ok(())
}

/// What the records read so far make of the answer.
enum Phase {
    /// Nothing read yet.
    Start,
    /// The first SOA read: the answer is the SOA alone, a difference or
    /// the whole zone, which the next record tells.
    First,
    /// The whole zone, until the SOA comes again.
    Whole,
    /// Records removed since the last SOA.
    Removing,
    /// Records added since the last SOA.
    Adding,
    /// The answer is complete.
    Done,
}

/// Reads the records of a transfer's messages in order: an AXFR or IXFR
/// answer turned into what it changes, whatever the primary sent.
pub struct Reader<'a> {
    zone: &'a Name,
    /// The serial asked from, for IXFR.
    from: Option<u32>,
    phase: Phase,
    /// The first SOA: the primary's current version.
    soa: Option<StoredRecord>,
    serial: u32,
    /// The whole zone (AXFR), in order.
    records: Vec<StoredRecord>,
    /// The condensed difference (IXFR).
    removed: Vec<StoredRecord>,
    added: Vec<StoredRecord>,
    /// The answer was only the SOA.
    current: bool,
    /// Records read so far, and how many may be.
    count: usize,
    limit: usize,
}

impl<'a> Reader<'a> {
    /// A reader of the answer for `zone`, to IXFR from serial `from` or
    /// to AXFR.
    pub fn new(zone: &'a Name, from: Option<u32>) -> Reader<'a> {
        Reader {
            zone,
            from,
            phase: Phase::Start,
            soa: None,
            serial: 0,
            records: Vec::new(),
            removed: Vec::new(),
            added: Vec::new(),
            current: false,
            count: 0,
            limit: MAX_RECORDS,
        }
    }

    /// Whether the final SOA has been read.
    pub fn done(&self) -> bool {
        matches!(self.phase, Phase::Done)
    }

    /// Takes the answer records of one message.
    pub fn take(&mut self, message: &[u8]) -> Result<(), String> {
        if message.len() < 12 {
            return Err("a message shorter than its header".into());
        }
        let count = |at: usize| usize::from(u16::from_be_bytes([message[at], message[at + 1]]));
        let mut pos = 12;
        for _ in 0..count(4) {
            pos = base::name::wire::skip_name(message, pos).ok_or("a bad question")? + 4;
        }
        let answers = count(6);
        for _ in 0..answers {
            let (record, next) = read_record(message, pos)?;
            pos = next;
            if self.done() {
                return Err("records after the final SOA".into());
            }
            self.record(record)?;
        }
        // A primary that is current answers IXFR with its SOA alone, in
        // one message (RFC 1995 §2); one that is ahead but sends only its
        // SOA wants an AXFR.
        if matches!(self.phase, Phase::First) {
            match self.from {
                Some(from) if !serial_ahead(self.serial, from) => {
                    self.current = true;
                    self.phase = Phase::Done;
                }
                Some(_) => return Err("the answer to IXFR is the new SOA alone".into()),
                None => {}
            }
        }
        Ok(())
    }

    fn record(&mut self, record: StoredRecord) -> Result<(), String> {
        self.count += 1;
        if self.count > self.limit {
            return Err(format!("more than {} records", self.limit));
        }
        let is_soa = record.rtype == "SOA";
        let serial = if is_soa {
            soa_serial(&record.content).ok_or("an unreadable SOA")?
        } else {
            0
        };
        match self.phase {
            Phase::Start => {
                if !is_soa || !record.name.eq_ignore_ascii_case(&self.zone.to_string()) {
                    return Err("the answer does not start with the zone's SOA".into());
                }
                self.serial = serial;
                self.soa = Some(record);
                self.phase = Phase::First;
            }
            Phase::First if is_soa && self.from.is_some() && serial != self.serial => {
                // RFC 1995 §4: a difference starts with the old SOA.
                if Some(serial) != self.from {
                    return Err(format!(
                        "the difference starts at serial {serial}, not at {}",
                        self.from.unwrap_or(0)
                    ));
                }
                self.phase = Phase::Removing;
            }
            Phase::First if is_soa => {
                // The SOA twice in a row: an empty zone, which has no NS.
                return Err("an answer with the SOA and nothing else".into());
            }
            Phase::First => {
                self.phase = Phase::Whole;
                self.records.push(self.soa.clone().expect("first SOA"));
                self.records.push(record);
            }
            Phase::Whole if is_soa => {
                if serial != self.serial {
                    return Err("the whole zone ends with another SOA than it started".into());
                }
                self.phase = Phase::Done;
            }
            Phase::Whole => self.records.push(record),
            Phase::Removing if is_soa => self.phase = Phase::Adding,
            Phase::Removing => {
                // A record added earlier in the same answer and removed
                // again leaves no trace.
                match self.added.iter().position(|added| same_record(added, &record)) {
                    Some(index) => {
                        self.added.swap_remove(index);
                    }
                    None => self.removed.push(record),
                }
            }
            Phase::Adding if is_soa && serial == self.serial => self.phase = Phase::Done,
            Phase::Adding if is_soa => self.phase = Phase::Removing,
            Phase::Adding => match self.removed.iter().position(|removed| same_record(removed, &record)) {
                Some(index) if self.removed[index].ttl == record.ttl => {
                    self.removed.swap_remove(index);
                }
                _ => self.added.push(record),
            },
            Phase::Done => return Err("records after the final SOA".into()),
        }
        Ok(())
    }

    /// What the answer read makes: the zone is current, or its content or
    /// the difference to it.
    pub fn finish(self) -> Result<Fetched, String> {
        if self.current {
            return Ok(Fetched::Current(self.serial));
        }
        let soa = self.soa.ok_or("an empty answer")?;
        if !self.removed.is_empty() || !self.added.is_empty() || self.records.is_empty() {
            let from = self.from.ok_or("a difference in answer to AXFR")?;
            // New records are read as a zone file's would be.
            crate::import::changed_records(self.zone, &self.added)
                .map_err(|error| format!("the difference cannot be served: {error}"))?;
            // Duplicates within the additions are one record (RFC 2181 §5).
            let mut seen = HashSet::new();
            let added = self
                .added
                .into_iter()
                .filter(|record| {
                    seen.insert((
                        record.name.to_ascii_lowercase(),
                        record.rtype.clone(),
                        record.content.clone(),
                    ))
                })
                .collect();
            return Ok(Fetched::Changed(Incoming::Difference {
                from,
                soa,
                removed: self.removed,
                added,
            }));
        }
        // A zone the loader would refuse is not taken: the old one stays.
        let cannot = |error: &dyn std::fmt::Display| format!("the transferred zone cannot be served: {error}");
        let records = crate::import::changed_records(self.zone, &self.records).map_err(|error| cannot(&error))?;
        crate::zone::check::check_zone(self.zone, &records).map_err(|error| cannot(&error))?;
        Ok(Fetched::Changed(Incoming::Whole(self.records)))
    }
}

/// Same name (without case), type and data.
fn same_record(a: &StoredRecord, b: &StoredRecord) -> bool {
    a.name.eq_ignore_ascii_case(&b.name) && a.rtype == b.rtype && a.content == b.content
}

/// Reads the record at `pos` of `message`, names in its RDATA expanded;
/// returns it in presentation format and the offset after it.
fn read_record(message: &[u8], pos: usize) -> Result<(StoredRecord, usize), String> {
    let (owner, pos) = Name::from_message(message, pos).map_err(|error| format!("a bad owner name: {error}"))?;
    let fixed = message.get(pos..pos + 10).ok_or("a record cut short")?;
    let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
    let rclass = u16::from_be_bytes([fixed[2], fixed[3]]);
    // A TTL with the top bit set is read as zero (RFC 2181 §8).
    let ttl = u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]);
    let ttl = if ttl > crate::zone::file::MAX_TTL { 0 } else { ttl };
    let start = pos + 10;
    let end = start + usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
    if end > message.len() {
        return Err("a record cut short".into());
    }
    if rclass != class::IN {
        return Err(format!("a record of class {rclass} at {owner}"));
    }
    let wire = expanded_rdata(message, rtype, start, end)?;
    let content = rdata::format_rdata(rtype, &wire)
        .map_err(|error| format!("{owner} {}: {error}", types::type_to_string(rtype)))?;
    Ok((
        StoredRecord {
            name: owner.to_string(),
            rtype: types::type_to_string(rtype),
            ttl: i64::from(ttl),
            content,
        },
        end,
    ))
}

/// The RDATA at `start..end` with compressed names expanded: in the types
/// of RFC 1035 and those RFC 3597 §4 asks receivers to expand.
fn expanded_rdata(message: &[u8], rtype: u16, start: usize, end: usize) -> Result<Vec<u8>, String> {
    // (octets before the names, number of names) of each such type.
    let (prefix, names) = match rtype {
        types::NS | 3 | 4 | types::CNAME | 7 | 8 | 9 | types::PTR => (0, 1),
        types::SOA | 14 | types::RP => (0, 2),
        types::MX | types::AFSDB | 21 | types::KX => (2, 1),
        types::SRV => (6, 1),
        _ => return Ok(message[start..end].to_vec()),
    };
    let bad = || format!("malformed {} data", types::type_to_string(rtype));
    let mut out = message.get(start..start + prefix).ok_or_else(bad)?.to_vec();
    let mut pos = start + prefix;
    for _ in 0..names {
        if pos >= end {
            return Err(bad());
        }
        let (name, next) = Name::from_message(message, pos).map_err(|_| bad())?;
        out.extend_from_slice(name.as_wire());
        pos = next;
    }
    if pos > end {
        return Err(bad());
    }
    out.extend_from_slice(&message[pos..end]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ttl_with_the_top_bit_set_reads_as_zero() {
        let mut message = vec![0; 12];
        message.extend_from_slice(b"\x03www\x07example\x00");
        message.extend_from_slice(&[0, 1, 0, 1, 0x80, 0, 0, 1, 0, 4, 192, 0, 2, 1]);
        let (record, end) = read_record(&message, 12).expect("reads");
        assert_eq!(
            (record.ttl, record.content.as_str(), end),
            (0, "192.0.2.1", message.len())
        );
    }

    fn soa(serial: u32) -> StoredRecord {
        record(
            "SOA",
            &format!("ns1.example. hostmaster.example. {serial} 3600 900 604800 300"),
        )
    }

    fn record(rtype: &str, content: &str) -> StoredRecord {
        StoredRecord {
            name: if rtype == "SOA" {
                "example.".into()
            } else {
                "www.example.".into()
            },
            rtype: rtype.into(),
            ttl: 300,
            content: content.into(),
        }
    }

    fn read(from: Option<u32>, records: Vec<StoredRecord>) -> Result<Fetched, String> {
        read_at_most(MAX_RECORDS, from, records)
    }

    fn read_at_most(limit: usize, from: Option<u32>, records: Vec<StoredRecord>) -> Result<Fetched, String> {
        let zone: Name = "example.".parse().unwrap();
        let mut stream = Reader::new(&zone, from);
        stream.limit = limit;
        for record in records {
            stream.record(record)?;
        }
        if matches!(stream.phase, Phase::First) && from.is_some_and(|from| !serial_ahead(stream.serial, from)) {
            stream.current = true;
        }
        stream.finish()
    }

    #[test]
    fn differences_are_condensed() {
        // 1 -> 2 adds .2 and .3, 2 -> 3 removes .2 again and adds .4.
        let fetched = read(
            Some(1),
            vec![
                soa(3),
                soa(1),
                soa(2),
                record("A", "192.0.2.2"),
                record("A", "192.0.2.3"),
                soa(2),
                record("A", "192.0.2.2"),
                soa(3),
                record("A", "192.0.2.4"),
                soa(3),
            ],
        )
        .unwrap();
        let Fetched::Changed(Incoming::Difference {
            from,
            soa: last,
            removed,
            added,
        }) = fetched
        else {
            panic!("a difference expected");
        };
        assert_eq!((from, last), (1, soa(3)));
        assert!(removed.is_empty());
        assert_eq!(added, vec![record("A", "192.0.2.3"), record("A", "192.0.2.4")]);
    }

    #[test]
    fn whole_zone_and_current_answers() {
        let apex_ns = StoredRecord {
            name: "example.".into(),
            rtype: "NS".into(),
            ttl: 300,
            content: "ns1.example.".into(),
        };
        let whole = read(Some(1), vec![soa(5), apex_ns.clone(), soa(5)]).unwrap();
        assert!(matches!(whole, Fetched::Changed(Incoming::Whole(records)) if records.len() == 2));
        assert!(matches!(read(Some(5), vec![soa(5)]).unwrap(), Fetched::Current(5)));
        assert!(
            read(Some(1), vec![soa(5), soa(4), soa(5), soa(5)]).is_err(),
            "a difference from another serial"
        );
        assert!(read(None, vec![record("A", "192.0.2.1")]).is_err(), "no SOA first");
        let long = vec![
            soa(5),
            apex_ns,
            record("A", "192.0.2.1"),
            record("A", "192.0.2.2"),
            soa(5),
        ];
        assert!(read_at_most(5, None, long.clone()).is_ok());
        assert_eq!(read_at_most(4, None, long).unwrap_err(), "more than 4 records");
        let no_apex_ns = vec![soa(5), record("A", "192.0.2.1"), soa(5)];
        assert!(read(None, no_apex_ns).unwrap_err().contains("cannot be served"));
    }

    #[test]
    fn compressed_rdata_is_expanded() {
        // A message whose MX exchange points back at the owner name.
        let mut message = vec![0u8; 12];
        message.extend_from_slice(b"\x07example\x00");
        message.extend_from_slice(&[0, 15, 0, 1, 0, 0, 1, 44, 0, 7, 0, 10, 2, b'm', b'x', 0xc0]);
        message.push(12);
        let (record, end) = read_record(&message, 12).unwrap();
        assert_eq!(end, message.len());
        assert_eq!(
            (record.rtype.as_str(), record.content.as_str()),
            ("MX", "10 mx.example.")
        );
    }
}
