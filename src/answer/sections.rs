//! Where the stages write: the message's sections, with each RRset's
//! RRSIGs added when the answer carries DNSSEC records (RFC 4035 §3.1.1).

use base::rdata::list;

use super::dnssec::Dnssec;
use super::writer::{Full, MessageWriter, Section};
use super::Denial;
use crate::zone::{Node, RRset};

/// The response being written, and its DNSSEC step if it has one.
pub(super) struct Sections<'w, 'b, 'a> {
    writer: &'w mut MessageWriter<'b>,
    /// Present when the client set DO and the zone is secured (RFC 4035
    /// §3.1): signatures follow each RRset, denials are proved.
    dnssec: Option<Dnssec<'a>>,
}

impl<'w, 'b, 'a> Sections<'w, 'b, 'a> {
    pub fn new(writer: &'w mut MessageWriter<'b>, dnssec: Option<Dnssec<'a>>) -> Self {
        Sections { writer, dnssec }
    }

    /// Moves on to `section`.
    pub fn start(&mut self, section: Section) {
        self.writer.section(section);
    }

    /// The message itself, for header flags and rollbacks.
    pub fn writer(&mut self) -> &mut MessageWriter<'b> {
        self.writer
    }

    /// Writes the stored `rrset` of `node` under `owner` (the name as the
    /// response shows it) with `ttl`, and its RRSIGs in a DNSSEC answer.
    pub fn put_rrset(&mut self, owner: &[u8], node: &Node, rrset: RRset<'_>, ttl: u32) -> Result<(), Full> {
        for rdata in rrset.rdata() {
            self.writer.push(owner, rrset.rtype, ttl, rdata)?;
        }
        match &self.dnssec {
            Some(dnssec) => dnssec.put_rrsigs(self.writer, owner, node, rrset, ttl),
            None => Ok(()),
        }
    }

    /// Writes records of `rtype` that a LUA record produced for `node`
    /// (an RDATA list), signed as they are in a DNSSEC answer.
    pub fn put_synthesized(
        &mut self,
        owner: &[u8],
        node: &Node,
        rtype: u16,
        ttl: u32,
        records: &[u8],
    ) -> Result<(), Full> {
        for rdata in list::iter(records) {
            self.writer.push(owner, rtype, ttl, rdata)?;
        }
        match &self.dnssec {
            Some(dnssec) => dnssec.sign_synthesized(self.writer, owner, node, rtype, ttl, records),
            None => Ok(()),
        }
    }

    /// Writes one record that no signature covers: a CNAME synthesized
    /// from a DNAME (RFC 6672 §3.3), a referral's NS, glue.
    pub fn put_unsigned(&mut self, owner: &[u8], rtype: u16, ttl: u32, rdata: &[u8]) -> Result<(), Full> {
        self.writer.push(owner, rtype, ttl, rdata)
    }

    /// Adds an RRset to the additional section if it fits, with its
    /// RRSIGs if those fit too; RFC 4035 §3.1.1 lets signatures that do
    /// not fit here be left out without truncating. `Err` when not even
    /// the RRset fits (nothing of it is left in the message).
    pub fn put_additional(&mut self, owner: &[u8], node: &Node, rrset: RRset<'_>) -> Result<(), Full> {
        let mark = self.writer.mark();
        if self.put_rrset(owner, node, rrset, rrset.ttl).is_ok() {
            return Ok(());
        }
        self.writer.rollback(mark);
        let unsigned = rrset
            .rdata()
            .try_for_each(|rdata| self.writer.push(owner, rrset.rtype, rrset.ttl, rdata));
        if unsigned.is_err() {
            self.writer.rollback(mark);
        }
        unsigned
    }

    /// Notes what the proofs must show did not exist.
    pub fn deny(&mut self, denial: Denial<'a>) {
        if let Some(dnssec) = &mut self.dnssec {
            dnssec.deny(denial);
        }
    }

    /// A referral's DS RRset with its RRSIGs, or the proof that the cut
    /// has none (RFC 4035 §3.1.4); nothing in an answer without DNSSEC.
    pub fn delegation(&mut self, cut: &'a Node) -> Result<(), Full> {
        match &mut self.dnssec {
            Some(dnssec) => dnssec.delegation(self.writer, cut),
            None => Ok(()),
        }
    }

    /// Writes the proofs of every denial noted.
    pub fn prove(&mut self) -> Result<(), Full> {
        match &self.dnssec {
            Some(dnssec) => dnssec.prove(self.writer),
            None => Ok(()),
        }
    }
}
