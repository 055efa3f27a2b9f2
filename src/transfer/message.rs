//! The messages of a transfer: the request as read, and the answer as
//! written, records packed into messages of at most [`MESSAGE_SIZE`]
//! octets (RFC 5936 §2.2), each signed when the request was (RFC 8945
//! §5.3.1).

use std::sync::Arc;

use base::header::rcode;
use base::name::wire::skip_name;
use base::name::Name;
use base::rdata::list;
use base::types;
use tokio::sync::mpsc;

use super::computed::SentAnswers;
use super::Record;
use crate::catalog::Snapshot;
use crate::update::tsig::{self, Signed, TsigKey};

/// The largest message of a transfer, room for a TSIG record left.
const MESSAGE_SIZE: usize = 16_000;

/// The type asked for by a query (QR clear, opcode 0, one question).
pub fn question_type(wire: &[u8]) -> Option<u16> {
    if wire.len() < 12 || wire[2] & 0xf8 != 0 || u16::from_be_bytes([wire[4], wire[5]]) != 1 {
        return None;
    }
    let end = skip_name(wire, 12)?;
    Some(u16::from_be_bytes([*wire.get(end)?, *wire.get(end + 1)?]))
}

/// A transfer request.
pub struct Request {
    /// The message without its TSIG record, original ID restored.
    pub unsigned: Vec<u8>,
    pub signed: Option<Signed>,
    pub id: u16,
    /// The zone asked for, lowercased.
    pub zone: Name,
    pub qtype: u16,
    /// The question as it came (name, type, class), echoed in answers.
    pub question: Vec<u8>,
    /// For IXFR, the serial of the client's SOA (RFC 1995 §3).
    pub ixfr_serial: Option<u32>,
}

impl Request {
    /// Reads a transfer request; `Err` when it is malformed.
    pub fn parse(wire: &[u8]) -> Result<Request, ()> {
        let signed = tsig::find(wire).map_err(|_| ())?;
        let unsigned = match &signed {
            Some(signed) => tsig::unsigned_message(wire, signed),
            None => wire.to_vec(),
        };
        let qtype = question_type(&unsigned).ok_or(())?;
        let name_end = skip_name(&unsigned, 12).ok_or(())?;
        let (zone, _) = Name::from_wire_prefix(&unsigned[12..]).map_err(|_| ())?;
        let question = unsigned.get(12..name_end + 4).ok_or(())?.to_vec();
        let class = u16::from_be_bytes([question[question.len() - 2], question[question.len() - 1]]);
        if class != base::class::IN {
            return Err(());
        }
        let ixfr_serial = if qtype == types::IXFR {
            ixfr_serial(&unsigned, name_end + 4)
        } else {
            None
        };
        Ok(Request {
            id: u16::from_be_bytes([unsigned[0], unsigned[1]]),
            unsigned,
            signed,
            zone: zone.to_lowercase(),
            qtype,
            question,
            ixfr_serial,
        })
    }
}

/// The serial of the SOA in the authority section of an IXFR request.
fn ixfr_serial(wire: &[u8], at: usize) -> Option<u32> {
    let nscount = u16::from_be_bytes([wire[8], wire[9]]);
    let ancount = u16::from_be_bytes([wire[6], wire[7]]);
    if ancount != 0 || nscount == 0 {
        return None;
    }
    let owner_end = skip_name(wire, at)?;
    let rtype = u16::from_be_bytes([*wire.get(owner_end)?, *wire.get(owner_end + 1)?]);
    if rtype != types::SOA {
        return None;
    }
    let rdata = owner_end + 10;
    let serial_at = skip_name(wire, skip_name(wire, rdata)?)?;
    let serial = wire.get(serial_at..serial_at + 4)?;
    Some(u32::from_be_bytes([serial[0], serial[1], serial[2], serial[3]]))
}

/// What a transfer sends.
pub enum Transfer {
    /// One message ready to go.
    Single(Vec<u8>),
    /// These records, packed into messages.
    Records { head: Head, records: Vec<Record> },
    /// The whole zone of a snapshot: SOA, every record, SOA; the computed
    /// answers sent are noted in `sent`.
    Zone {
        head: Head,
        snapshot: Arc<Snapshot>,
        sent: Arc<SentAnswers>,
    },
}

/// What every message of an answer starts with, and how it is signed.
pub struct Head {
    id: u16,
    question: Vec<u8>,
    signer: Option<(TsigKey, Signed)>,
    now: u64,
}

impl Transfer {
    /// An answer with `rcode` and no records, signed when `signer` is.
    pub fn refusal(request: &[u8], code: u16, signer: Option<(TsigKey, Signed)>, now: u64) -> Transfer {
        let mut message = header_of(request, code);
        if let Some((key, signed)) = signer {
            tsig::sign(&mut message, &signed, &key, now, 0);
        }
        Transfer::Single(message)
    }

    /// NOTAUTH with the TSIG error, unsigned (RFC 8945 §5.3.2) except for
    /// BADTIME, which is signed.
    pub fn tsig_error(wire: &[u8], signed: &Signed, error: u16, now: u64) -> Transfer {
        let mut message = header_of(&tsig::unsigned_message(wire, signed), rcode::NOTAUTH);
        tsig::append_unsigned(&mut message, signed, now, error);
        Transfer::Single(message)
    }

    pub fn records(request: &Request, records: Vec<Record>, signer: Option<(TsigKey, Signed)>, now: u64) -> Transfer {
        Transfer::Records {
            head: Head::new(request, signer, now),
            records,
        }
    }

    pub fn zone(
        request: &Request,
        snapshot: Arc<Snapshot>,
        sent: Arc<SentAnswers>,
        signer: Option<(TsigKey, Signed)>,
        now: u64,
    ) -> Transfer {
        Transfer::Zone {
            head: Head::new(request, signer, now),
            snapshot,
            sent,
        }
    }

    /// Produces the messages into `sender`, stopping when the reader goes.
    pub fn send(self, sender: &mpsc::Sender<Vec<u8>>) {
        match self {
            Transfer::Single(message) => {
                let _ = sender.blocking_send(message);
            }
            Transfer::Records { head, records } => {
                let mut packer = Packer::new(head, sender);
                for record in &records {
                    if !packer.push(&record.owner, record.rtype, record.ttl, &record.rdata) {
                        return;
                    }
                }
                packer.finish();
            }
            Transfer::Zone { head, snapshot, sent } => {
                let mut packer = Packer::new(head, sender);
                let soa = super::soa_of(&snapshot);
                let mut open = packer.push(&soa.owner, soa.rtype, soa.ttl, &soa.rdata);
                // LUA and ALIAS records go out as what they answer now (see
                // `computed`); in a signed zone, as stored, their
                // signatures being made per answer.
                let computed = snapshot.programs.as_ref().filter(|_| snapshot.signed.is_none());
                snapshot.for_each_record(|owner, rtype, ttl, rdata| {
                    let replaced = computed.is_some() && matches!(rtype, types::LUA | types::ALIAS);
                    if open && rtype != types::SOA && !replaced {
                        open = packer.push(owner, rtype, ttl, rdata);
                    }
                });
                let answers = computed.map(|programs| programs.current_answers()).unwrap_or_default();
                if computed.is_some() {
                    sent.record(snapshot.zone.apex(), snapshot.zone.serial(), &answers);
                }
                for (owner, rtype, answers) in answers {
                    let node = snapshot.zone.node(owner);
                    let ttl = [types::LUA, types::ALIAS]
                        .into_iter()
                        .filter_map(|source| node.and_then(|node| node.rrset(source)))
                        .map(|rrset| rrset.ttl)
                        .min()
                        .unwrap_or(0);
                    let stored = node.and_then(|node| node.rrset(rtype));
                    let mut sent: Vec<&[u8]> = Vec::new();
                    for rdata in list::iter(&answers) {
                        // Each record once: one also stored statically went
                        // out already.
                        let known = stored.is_some_and(|rrset| rrset.rdata().any(|known| known == rdata));
                        if open && !known && !sent.contains(&rdata) {
                            open = packer.push(owner, rtype, ttl, rdata);
                            sent.push(rdata);
                        }
                    }
                }
                if open && packer.push(&soa.owner, soa.rtype, soa.ttl, &soa.rdata) {
                    packer.finish();
                }
            }
        }
    }
}

impl Head {
    fn new(request: &Request, signer: Option<(TsigKey, Signed)>, now: u64) -> Head {
        Head {
            id: request.id,
            question: request.question.clone(),
            signer,
            now,
        }
    }
}

/// The header and question of `request` as a response with `code`.
fn header_of(request: &[u8], code: u16) -> Vec<u8> {
    let question_end = skip_name(request, 12).map_or(12, |end| (end + 4).min(request.len()));
    let mut message = request[..question_end].to_vec();
    // QR and AA set, opcode and RD kept; counts: the question only.
    message[2] = 0x84 | (request[2] & 0x79);
    message[3] = (code & 0x0f) as u8;
    let questions: u16 = if question_end > 12 { 1 } else { 0 };
    message[4..6].copy_from_slice(&questions.to_be_bytes());
    message[6..12].fill(0);
    message
}

/// Packs records into messages and hands each on, signed.
struct Packer<'a> {
    head: Head,
    sender: &'a mpsc::Sender<Vec<u8>>,
    message: Vec<u8>,
    count: u16,
    /// The MAC of the last message sent, which the next one chains on.
    mac: Option<Vec<u8>>,
}

impl<'a> Packer<'a> {
    fn new(head: Head, sender: &'a mpsc::Sender<Vec<u8>>) -> Packer<'a> {
        let mut packer = Packer {
            head,
            sender,
            message: Vec::with_capacity(MESSAGE_SIZE + 512),
            count: 0,
            mac: None,
        };
        packer.start();
        packer
    }

    fn start(&mut self) {
        self.message.clear();
        self.message.extend_from_slice(&self.head.id.to_be_bytes());
        self.message.extend_from_slice(&[0x84, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
        self.message.extend_from_slice(&self.head.question);
        self.count = 0;
    }

    /// Adds a record; `false` once the reader is gone.
    fn push(&mut self, owner: &[u8], rtype: u16, ttl: u32, rdata: &[u8]) -> bool {
        let size = owner.len() + 10 + rdata.len();
        if self.count > 0 && self.message.len() + size > MESSAGE_SIZE && !self.flush() {
            return false;
        }
        self.message.extend_from_slice(owner);
        self.message.extend_from_slice(&rtype.to_be_bytes());
        self.message.extend_from_slice(&base::class::IN.to_be_bytes());
        self.message.extend_from_slice(&ttl.to_be_bytes());
        self.message.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        self.message.extend_from_slice(rdata);
        self.count += 1;
        true
    }

    /// Sends the message being packed and starts the next; `false` once
    /// the reader is gone.
    fn flush(&mut self) -> bool {
        self.message[6..8].copy_from_slice(&self.count.to_be_bytes());
        let mut message = std::mem::take(&mut self.message);
        if let Some((key, signed)) = &self.head.signer {
            self.mac = Some(match &self.mac {
                None => tsig::sign(&mut message, signed, key, self.head.now, 0),
                Some(previous) => tsig::sign_next(&mut message, previous, signed, key, self.head.now),
            });
        }
        let sent = self.sender.blocking_send(message).is_ok();
        self.message = Vec::with_capacity(MESSAGE_SIZE + 512);
        self.start();
        sent
    }

    fn finish(mut self) {
        self.flush();
    }
}
