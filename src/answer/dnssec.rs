//! The DNSSEC step of an answer: RRSIGs for the RRsets written, the DS
//! set (or its absence) at a referral, and NSEC or NSEC3 records proving
//! each denial (RFC 4035 §3.1, RFC 5155 §7.2).
//!
//! Stored RRsets carry signatures made when the snapshot was built; RRsets
//! a LUA record produced are signed here, from the signature cache. A
//! denial record listing a type that a LUA record produced nothing for in
//! this answer is rewritten without that type and signed for the answer,
//! so validators see a proper NODATA.

use base::rdata::list;
use base::types;
use base::NameBuf;

use super::writer::{Full, MessageWriter};
use super::Denial;
use crate::dnssec::denial::{without_type, Nsec3Chain};
use crate::dnssec::{Denial as Chain, SignedZone};
use crate::zone::{Node, RRset, Zone};

/// The DNSSEC half of one answer.
pub(super) struct Dnssec<'a> {
    zone: &'a Zone,
    signed: &'a SignedZone,
    /// What the authority section must prove did not exist.
    denials: Vec<Denial<'a>>,
}

impl<'a> Dnssec<'a> {
    pub fn new(zone: &'a Zone, signed: &'a SignedZone) -> Self {
        Dnssec {
            zone,
            signed,
            denials: Vec::new(),
        }
    }

    /// Writes the RRSIGs of the stored `rrset` of `node`, under the
    /// `owner` the RRset was written with and its `ttl`.
    pub fn put_rrsigs(
        &self,
        writer: &mut MessageWriter<'_>,
        owner: &[u8],
        node: &Node,
        rrset: RRset<'_>,
        ttl: u32,
    ) -> Result<(), Full> {
        for rrsig in list::iter(self.signed.rrsigs(node, rrset)) {
            writer.push(owner, types::RRSIG, ttl, rrsig)?;
        }
        Ok(())
    }

    /// Signs records a LUA record produced at `node` (an RDATA list, each
    /// RDATA once) and writes the RRSIGs under `owner`. The signed owner is
    /// the node's, so an answer from a wildcard validates as one.
    pub fn sign_synthesized(
        &self,
        writer: &mut MessageWriter<'_>,
        owner: &[u8],
        node: &Node,
        rtype: u16,
        ttl: u32,
        records: &[u8],
    ) -> Result<(), Full> {
        let records: Vec<&[u8]> = list::iter(records).collect();
        let mut rrsigs = Vec::new();
        self.signed
            .signer()
            .sign_into(node.name_wire(), rtype, ttl, &records, &mut rrsigs);
        for rrsig in list::iter(&rrsigs) {
            writer.push(owner, types::RRSIG, ttl, rrsig)?;
        }
        Ok(())
    }

    /// Notes a denial to prove.
    pub fn deny(&mut self, denial: Denial<'a>) {
        self.denials.push(denial);
    }

    /// The DS RRset of a referral with its RRSIGs, or a note that the
    /// proof of its absence is due (RFC 4035 §3.1.4).
    pub fn delegation(&mut self, writer: &mut MessageWriter<'_>, cut: &'a Node) -> Result<(), Full> {
        match cut.rrset(types::DS) {
            Some(ds) => {
                for rdata in ds.rdata() {
                    writer.push(cut.name_wire(), types::DS, ds.ttl, rdata)?;
                }
                self.put_rrsigs(writer, cut.name_wire(), cut, ds, ds.ttl)
            }
            None => {
                self.deny(Denial::NoDs { cut });
                Ok(())
            }
        }
    }

    /// Writes the NSEC or NSEC3 records (with RRSIGs) for every denial
    /// noted, each record once.
    pub fn prove(&self, writer: &mut MessageWriter<'_>) -> Result<(), Full> {
        let mut proof = Proof {
            zone: self.zone,
            signed: self.signed,
            written: Written::default(),
            rewrite: self.rewrite(),
        };
        match self.signed.denial() {
            Chain::Nsec(_) => self.denials.iter().try_for_each(|denial| proof.nsec(writer, denial)),
            Chain::Nsec3(chain) => self
                .denials
                .iter()
                .try_for_each(|denial| proof.nsec3(writer, chain, denial)),
        }
    }

    /// The denial record that proves a NODATA for a LUA type that produced
    /// nothing, and that type: that record must be written without it,
    /// whichever proof writes it first. Keyed by the record's owner.
    fn rewrite(&self) -> Option<(&'a [u8], u16)> {
        let (node, rtype) = self.denials.iter().find_map(|denial| match denial {
            Denial::NoData {
                node,
                empty: Some(rtype),
            } => Some((*node, *rtype)),
            Denial::Wildcard {
                wildcard,
                nodata: true,
                empty: Some(rtype),
                ..
            } => Some((*wildcard, *rtype)),
            _ => None,
        })?;
        let owner: &'a [u8] = match self.signed.denial() {
            Chain::Nsec(_) => node.name_wire(),
            Chain::Nsec3(chain) => &chain.entries()[chain.matching(&chain.hash(node.name_wire()))?].owner,
        };
        Some((owner, rtype))
    }
}

/// Writing the proofs of one answer.
struct Proof<'a> {
    zone: &'a Zone,
    signed: &'a SignedZone,
    /// Denial records already written.
    written: Written<'a>,
    /// The denial record to write without a type, by owner.
    rewrite: Option<(&'a [u8], u16)>,
}

impl<'a> Proof<'a> {
    /// The NSEC records of one denial (RFC 4035 §3.1.3).
    fn nsec(&mut self, writer: &mut MessageWriter<'_>, denial: &Denial<'a>) -> Result<(), Full> {
        match denial {
            Denial::NameError { name, encloser } => {
                // RFC 4035 §3.1.3.2: the name, and the wildcard that would
                // have matched, do not exist.
                self.nsec_covering(writer, name.as_wire())?;
                match NameBuf::concat(b"\x01*", encloser.name_wire()) {
                    Some(wildcard) => self.nsec_covering(writer, wildcard.as_wire()),
                    None => Ok(()),
                }
            }
            Denial::NoData { node, .. } => match node.rrset(types::NSEC) {
                Some(_) => self.nsec_at(writer, node),
                // An empty non-terminal: the NSEC before it shows there is
                // nothing at the name.
                None => self.nsec_covering(writer, node.name_wire()),
            },
            Denial::Wildcard {
                name, wildcard, nodata, ..
            } => {
                // RFC 4035 §3.1.3.3 and §3.1.3.4.
                if *nodata {
                    self.nsec_at(writer, wildcard)?;
                }
                self.nsec_covering(writer, name.as_wire())
            }
            Denial::NoDs { cut } => self.nsec_at(writer, cut),
        }
    }

    /// The NSEC3 records of one denial (RFC 5155 §7.2).
    fn nsec3(
        &mut self,
        writer: &mut MessageWriter<'_>,
        chain: &'a Nsec3Chain,
        denial: &Denial<'a>,
    ) -> Result<(), Full> {
        match denial {
            Denial::NameError { name, encloser } => {
                // RFC 5155 §7.2.2: the closest encloser proof and the
                // wildcard at the closest encloser.
                self.closest_encloser(writer, chain, name.as_wire(), encloser.name_wire())?;
                match NameBuf::concat(b"\x01*", encloser.name_wire()) {
                    Some(wildcard) => self.nsec3_at(writer, chain, chain.covering(&chain.hash(wildcard.as_wire()))),
                    None => Ok(()),
                }
            }
            // RFC 5155 §7.2.3, §7.2.4 and §7.2.7.
            Denial::NoData { node: at, .. } | Denial::NoDs { cut: at } => {
                match chain.matching(&chain.hash(at.name_wire())) {
                    Some(index) => self.nsec3_at(writer, chain, Some(index)),
                    None => self.opt_out_proof(writer, chain, at.name_wire()),
                }
            }
            Denial::Wildcard {
                name, wildcard, nodata, ..
            } => {
                let encloser = &wildcard.name_wire()[2..];
                if *nodata {
                    // RFC 5155 §7.2.5.
                    self.closest_encloser(writer, chain, name.as_wire(), encloser)?;
                    self.nsec3_at(writer, chain, chain.matching(&chain.hash(wildcard.name_wire())))
                } else {
                    // RFC 5155 §7.2.6: the next closer name is covered.
                    let next_closer = next_closer(name.as_wire(), encloser);
                    self.nsec3_at(writer, chain, chain.covering(&chain.hash(next_closer)))
                }
            }
        }
    }

    /// The NSEC at `node`, with its RRSIGs.
    fn nsec_at(&mut self, writer: &mut MessageWriter<'_>, node: &'a Node) -> Result<(), Full> {
        let Some(nsec) = node.rrset(types::NSEC) else {
            return Ok(());
        };
        let owner = node.name_wire();
        if !self.written.insert(owner) {
            return Ok(());
        }
        match (self.rewrite, nsec.first()) {
            (Some((strip, rtype)), Some(rdata)) if strip == owner => {
                self.put_rewritten(writer, owner, types::NSEC, rdata, rtype)
            }
            _ => {
                for rdata in nsec.rdata() {
                    writer.push(owner, types::NSEC, nsec.ttl, rdata)?;
                }
                for rrsig in list::iter(self.signed.rrsigs(node, nsec)) {
                    writer.push(owner, types::RRSIG, nsec.ttl, rrsig)?;
                }
                Ok(())
            }
        }
    }

    /// The NSEC that matches or covers `name`.
    fn nsec_covering(&mut self, writer: &mut MessageWriter<'_>, name: &[u8]) -> Result<(), Full> {
        match self.signed.nsec_covering(self.zone, name) {
            Some(node) => self.nsec_at(writer, node),
            None => Ok(()),
        }
    }

    /// NSEC3 record `index` of the chain, with its RRSIGs.
    fn nsec3_at(
        &mut self,
        writer: &mut MessageWriter<'_>,
        chain: &'a Nsec3Chain,
        index: Option<usize>,
    ) -> Result<(), Full> {
        let Some((index, entry)) = index.and_then(|index| Some((index, chain.entries().get(index)?))) else {
            return Ok(());
        };
        if !self.written.insert(&entry.owner) {
            return Ok(());
        }
        if let Some((strip, rtype)) = self.rewrite.filter(|&(strip, _)| strip == &entry.owner[..]) {
            return self.put_rewritten(writer, strip, types::NSEC3, &entry.rdata, rtype);
        }
        let ttl = self.signed.negative_ttl();
        writer.push(&entry.owner, types::NSEC3, ttl, &entry.rdata)?;
        for rrsig in list::iter(self.signed.nsec3_rrsigs(index)) {
            writer.push(&entry.owner, types::RRSIG, ttl, rrsig)?;
        }
        Ok(())
    }

    /// RFC 5155 §7.2.1: the NSEC3 matching the closest encloser and the
    /// one covering the next closer name.
    fn closest_encloser(
        &mut self,
        writer: &mut MessageWriter<'_>,
        chain: &'a Nsec3Chain,
        name: &[u8],
        encloser: &[u8],
    ) -> Result<(), Full> {
        self.nsec3_at(writer, chain, chain.matching(&chain.hash(encloser)))?;
        let next_closer = next_closer(name, encloser);
        self.nsec3_at(writer, chain, chain.covering(&chain.hash(next_closer)))
    }

    /// For a name left out of an opt-out chain (RFC 5155 §7.2.4): the
    /// closest provable encloser and the opt-out NSEC3 covering the next
    /// closer name.
    fn opt_out_proof(
        &mut self,
        writer: &mut MessageWriter<'_>,
        chain: &'a Nsec3Chain,
        name: &[u8],
    ) -> Result<(), Full> {
        let mut encloser = name;
        while let Some(&label) = encloser.first().filter(|&&label| label > 0) {
            encloser = &encloser[label as usize + 1..];
            if chain.matching(&chain.hash(encloser)).is_some() {
                return self.closest_encloser(writer, chain, name, encloser);
            }
        }
        Ok(())
    }

    /// A denial record without `rtype` in its bitmap, signed for this
    /// answer.
    fn put_rewritten(
        &self,
        writer: &mut MessageWriter<'_>,
        owner: &[u8],
        record_type: u16,
        rdata: &[u8],
        rtype: u16,
    ) -> Result<(), Full> {
        let ttl = self.signed.negative_ttl();
        let Some(rewritten) = without_type(record_type, rdata, rtype) else {
            return Ok(());
        };
        writer.push(owner, record_type, ttl, &rewritten)?;
        let mut rrsigs = Vec::new();
        self.signed
            .signer()
            .sign_into(owner, record_type, ttl, &[&rewritten], &mut rrsigs);
        for rrsig in list::iter(&rrsigs) {
            writer.push(owner, types::RRSIG, ttl, rrsig)?;
        }
        Ok(())
    }
}

/// The name one label longer than `encloser` on the way to `name`
/// (RFC 5155 §1.3 "next closer name").
fn next_closer<'n>(name: &'n [u8], encloser: &[u8]) -> &'n [u8] {
    let mut rest = name;
    loop {
        let Some(&label) = rest.first().filter(|&&label| label > 0) else {
            return rest;
        };
        let parent = &rest[label as usize + 1..];
        if parent.len() <= encloser.len() {
            return rest;
        }
        rest = parent;
    }
}

/// Owners of the denial records already written, so each goes out once.
#[derive(Default)]
struct Written<'a> {
    owners: [&'a [u8]; 8],
    len: usize,
}

impl<'a> Written<'a> {
    /// Adds `owner`; false if it was there already.
    fn insert(&mut self, owner: &'a [u8]) -> bool {
        if self.owners[..self.len].contains(&owner) {
            return false;
        }
        if self.len < self.owners.len() {
            self.owners[self.len] = owner;
            self.len += 1;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_closer_name() {
        let name = b"\x01a\x01b\x07example\x00";
        assert_eq!(next_closer(name, b"\x07example\x00"), b"\x01b\x07example\x00");
        assert_eq!(next_closer(name, b"\x01b\x07example\x00"), name);
        assert_eq!(next_closer(b"\x00", b"\x00"), b"\x00");
    }

    #[test]
    fn each_denial_record_once() {
        let mut written = Written::default();
        assert!(written.insert(b"\x01a\x00"));
        assert!(!written.insert(b"\x01a\x00"));
        assert!(written.insert(b"\x01b\x00"));
    }
}
