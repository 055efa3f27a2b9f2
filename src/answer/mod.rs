//! From a query message to a response message.
//!
//! [`Responder::respond`] runs the stages of RFC 1034 §4.3.2 over the
//! catalog snapshot it is handed:
//!
//! ```text
//! parse (wire::Query) ─> find zone (Catalog::find) ─> answer section
//!     (Zone::lookup, following CNAME and DNAME inside the zone)
//!   ─> authority section (SOA for negative answers, NS for referrals)
//!   ─> additional section (addresses of NS, MX and SRV targets; glue)
//!   ─> finish (OPT, RCODE, truncation)
//! ```
//!
//! Nothing here allocates for an ordinary answer, takes a lock or waits
//! for I/O: the caller owns the buffers and the snapshot.

use std::net::SocketAddr;
use std::sync::Arc;

use base::rdata::canonical::canonical_rdata;
use base::rdata::list;
use base::types;

use crate::catalog::Catalog;
use crate::catalog::Snapshot;
use crate::dnssec::denial::{without_type, Nsec3Chain};
use crate::dnssec::{Denial, SignedZone};
use crate::lua::{self, Program, ZonePrograms};
use crate::wire::{flag, rcode, Full, MessageWriter, ParseError, Query, Section, OPCODE_QUERY};
use crate::zone::{soa_minimum, Lookup, Node, RRset, Zone};

/// The transport a query came over; it bounds the response size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

/// What the responder did with one message, for metrics and logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub rcode: u16,
    pub qtype: u16,
    pub truncated: bool,
}

/// Longest CNAME/DNAME chain followed within a zone. Real chains are
/// short; the bound also breaks loops.
const MAX_CHAIN: usize = 12;

/// How many distinct target names get addresses in the additional section.
const MAX_ADDITIONAL_TARGETS: usize = 16;

/// Answers queries; holds only settings, so one per listener is cheap.
#[derive(Clone, Debug)]
pub struct Responder {
    /// Largest UDP payload we send and advertise (RFC 6891 §6.2.5).
    pub max_udp_payload: u16,
    /// Whether EDNS Client Subnet (RFC 7871) is honoured: LUA records see
    /// the client's subnet instead of the resolver's address.
    pub ecs: bool,
}

/// The two ends of the connection a query came over.
#[derive(Clone, Copy, Debug)]
pub struct Peer {
    pub remote: SocketAddr,
    pub local: SocketAddr,
}

impl Responder {
    /// Answers the query in `msg` from `catalog`, writing the response to
    /// `out`. Returns `None` when the message gets no reply at all.
    pub fn respond(
        &self,
        catalog: &Catalog,
        msg: &[u8],
        transport: Transport,
        peer: Peer,
        query: &mut Query,
        out: &mut Vec<u8>,
    ) -> Option<Outcome> {
        let parsed = query.parse_into(msg);
        let flags = flag::QR | (query.flags & (0x7800 | flag::RD | flag::CD));
        let outcome = |rcode| Outcome {
            rcode,
            qtype: query.qtype,
            truncated: false,
        };
        match parsed {
            Ok(()) => {}
            Err(ParseError::Drop) => return None,
            Err(ParseError::FormErr { question }) => {
                let mut writer = MessageWriter::header_only(out, query, flags, question);
                writer.set_rcode(rcode::FORMERR);
                writer.finish();
                return Some(outcome(rcode::FORMERR));
            }
            Err(ParseError::NotImp { question }) => {
                let mut writer = MessageWriter::header_only(out, query, flags, question);
                writer.set_rcode(rcode::NOTIMP);
                writer.finish();
                return Some(outcome(rcode::NOTIMP));
            }
            Err(ParseError::BadVers) => {
                // RFC 6891 §6.1.3: BADVERS, and the version we do speak (0).
                let mut writer = MessageWriter::new(out, query, flags, usize::MAX);
                writer.section(Section::Additional);
                writer.push_opt(self.max_udp_payload, rcode::BADVERS, false);
                writer.finish();
                return Some(outcome(rcode::BADVERS));
            }
        }
        debug_assert_eq!(query.opcode(), OPCODE_QUERY);
        let limit = match transport {
            Transport::Udp => query.udp_limit(self.max_udp_payload),
            Transport::Tcp => u16::MAX as usize,
        };
        let subnet = match query.edns {
            Some(edns) if self.ecs => edns.client_subnet,
            _ => None,
        };
        let client = lua::Client {
            who: peer.remote,
            local: peer.local,
            subnet,
            dnssec_ok: query.edns.is_some_and(|edns| edns.dnssec_ok),
            tcp: transport == Transport::Tcp,
            edns_size: query.edns.map_or(0, |edns| edns.payload),
        };
        let mut writer = MessageWriter::new(out, query, flags, limit);
        let mut client_dependent = false;
        let bad_subnet = self.ecs && query.edns.is_some_and(|edns| edns.bad_client_subnet);
        let result = match refusal(query) {
            Some(rcode) => rcode,
            // RFC 7871 §7.2.1: a malformed Client Subnet is a format error.
            None if bad_subnet => rcode::FORMERR,
            None => match catalog.find(query.qname_lower(), query.qtype) {
                None => rcode::REFUSED,
                Some(zone) => {
                    writer.set_flags(flag::AA);
                    let mut resolution = Resolution::new(zone, query, &client);
                    let rcode = resolution.run(&mut writer);
                    client_dependent = resolution.client_dependent;
                    rcode
                }
            },
        };
        let truncated = result == TRUNCATED;
        let rcode = if truncated {
            writer.drop_records();
            writer.set_flags(flag::TC);
            rcode::NOERROR
        } else {
            result
        };
        writer.set_rcode(rcode);
        if let Some(edns) = query.edns {
            writer.section(Section::Additional);
            writer.push_opt(self.max_udp_payload, rcode, edns.dnssec_ok);
            if let Some(subnet) = subnet {
                // RFC 7871 §7.2.1: the scope is the source prefix when the
                // answer depended on it, else 0 (valid for everyone).
                let scope = if client_dependent { subnet.source_prefix } else { 0 };
                writer.push_client_subnet(&subnet, scope);
            }
        }
        writer.finish();
        Some(Outcome {
            rcode,
            qtype: query.qtype,
            truncated,
        })
    }
}

/// Marks a response that did not fit; not a real RCODE value.
const TRUNCATED: u16 = u16::MAX;

/// The RCODE for questions answered without looking at any zone.
fn refusal(query: &Query) -> Option<u16> {
    const CLASS_IN: u16 = 1;
    if query.qclass != CLASS_IN {
        return Some(rcode::REFUSED);
    }
    match query.qtype {
        // Meta types that only make sense in other message sections
        // (RFC 6891 §6.1.1, RFC 8945 §5.1, RFC 2930).
        types::OPT | types::TSIG | 249 => Some(rcode::FORMERR),
        // Zone transfers are not offered (yet): refuse, as for a denied ACL.
        types::AXFR | types::IXFR => Some(rcode::REFUSED),
        // MAILA and MAILB are obsolete (RFC 2505 §6, RFC 883).
        253 | 254 => Some(rcode::NOTIMP),
        _ => None,
    }
}

//------------ Resolution ----------------------------------------------------

/// The state of answering one query from one zone.
struct Resolution<'a> {
    zone: &'a Zone,
    /// Signatures and denial chain, when the zone is secured.
    signed: Option<&'a SignedZone>,
    query: &'a Query,
    /// Whether DNSSEC records go into this answer: the client set DO and
    /// the zone is secured (RFC 4035 §3.1).
    dnssec: bool,
    /// Names (as in the zone's RDATA) whose addresses go into the
    /// additional section.
    targets: [&'a [u8]; MAX_ADDITIONAL_TARGETS],
    target_count: usize,
    /// What the authority section must prove did not exist.
    proofs: Vec<Proof<'a>>,
    /// Who asked, for LUA records.
    client: &'a lua::Client,
    /// The zone's compiled LUA records, if it has any and LUA is on.
    programs: Option<&'a Arc<ZonePrograms>>,
    /// Whether a LUA record's answer depended on the client's address.
    client_dependent: bool,
}

thread_local! {
    /// RDATA produced by LUA records, each with a 2-octet length; one
    /// buffer per thread, reused by every answer.
    static SYNTHESIZED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// What goes into the authority section.
enum Authority<'z> {
    None,
    /// SOA of a negative answer (RFC 2308 §3).
    Soa,
    /// NS of a referral (RFC 1034 §4.3.2 step 3b).
    Referral(&'z Node),
}

/// A denial of existence the answer needs (RFC 4035 §3.1.3, RFC 5155 §7.2).
enum Proof<'a> {
    /// `name` does not exist; `encloser` is its closest encloser.
    NameError { name: NameBuf, encloser: &'a Node },
    /// `node` exists without the asked type. `without` is a type its
    /// denial record lists but which a LUA record produced nothing for in
    /// this answer (0 for none): that record is rewritten without it.
    NoData { node: &'a Node, without: u16 },
    /// `name` does not exist and was answered from `wildcard`; `nodata`
    /// when the wildcard lacks the asked type too.
    Wildcard {
        name: NameBuf,
        wildcard: &'a Node,
        nodata: bool,
        without: u16,
    },
    /// The delegation at `cut` has no DS: it leads to an unsigned zone.
    NoDs { cut: &'a Node },
}

impl<'a> Resolution<'a> {
    fn new(snapshot: &'a Snapshot, query: &'a Query, client: &'a lua::Client) -> Self {
        let dnssec = snapshot.signed.is_some() && query.edns.is_some_and(|edns| edns.dnssec_ok);
        Resolution {
            zone: &snapshot.zone,
            signed: snapshot.signed.as_ref(),
            query,
            dnssec,
            targets: [&[]; MAX_ADDITIONAL_TARGETS],
            target_count: 0,
            proofs: Vec::new(),
            client,
            programs: snapshot.programs.as_ref(),
            client_dependent: false,
        }
    }

    /// Fills the three sections; returns the RCODE or [`TRUNCATED`].
    fn run(&mut self, writer: &mut MessageWriter<'_>) -> u16 {
        match self.fill(writer) {
            Ok(rcode) => rcode,
            Err(Full) => TRUNCATED,
        }
    }

    fn fill(&mut self, writer: &mut MessageWriter<'_>) -> Result<u16, Full> {
        let qtype = self.query.qtype;
        let mut name = NameBuf::from(self.query.qname_lower());
        // Names already answered for: a chain that comes back to one of
        // them is a loop, and each record is written once (Knot and BIND
        // do the same).
        let mut visited: [&[u8]; MAX_CHAIN + 1] = [&[]; MAX_CHAIN + 1];
        visited[0] = self.query.qname_lower();
        let mut rcode = rcode::NOERROR;
        let mut authority = Authority::None;
        writer.section(Section::Answer);
        for step in 0..MAX_CHAIN {
            // The first owner is the question name itself: write it as
            // received, so compression points at the question and the
            // client sees its own case.
            let owner = if step == 0 { self.query.qname() } else { name.as_slice() };
            let (node, wildcard) = match self.zone.lookup(name.as_slice(), qtype == types::DS) {
                Lookup::Node(node) => (node, false),
                Lookup::Wildcard(node) => (node, true),
                Lookup::Referral(cut) => {
                    // A referral is not authoritative, but a CNAME leading to
                    // it was (RFC 1034 §4.3.2: AA reflects the first name).
                    if step == 0 {
                        writer.clear_flags(flag::AA);
                    }
                    authority = Authority::Referral(cut);
                    break;
                }
                Lookup::Dname(node) => match self.synthesize(node, owner, name.as_slice(), writer)? {
                    Some(target) if target.ends_with(self.zone.apex().as_wire()) => {
                        name = target;
                        continue;
                    }
                    Some(_) => break,
                    None => return Ok(rcode::YXDOMAIN),
                },
                Lookup::NxDomain(encloser) => {
                    // RFC 6604 §3: the RCODE is that of the last name.
                    rcode = rcode::NXDOMAIN;
                    authority = Authority::Soa;
                    self.prove(Proof::NameError { name, encloser });
                    break;
                }
            };
            let answer = self.answer_from(node, owner, writer)?;
            let without = match answer {
                NodeAnswer::Empty(rtype) => rtype,
                _ => 0,
            };
            if wildcard {
                self.prove(Proof::Wildcard {
                    name,
                    wildcard: node,
                    nodata: matches!(answer, NodeAnswer::NoData | NodeAnswer::Empty(_)),
                    without,
                });
            }
            match answer {
                NodeAnswer::Done => break,
                NodeAnswer::NoData | NodeAnswer::Empty(_) => {
                    authority = Authority::Soa;
                    if !wildcard {
                        self.prove(Proof::NoData { node, without });
                    }
                    break;
                }
                NodeAnswer::Unanswerable => {
                    // A failed LUA record fails the whole answer, also
                    // after a CNAME that led to it (as PowerDNS does).
                    writer.drop_records();
                    return Ok(rcode::SERVFAIL);
                }
                NodeAnswer::FollowSynthesized(target) => {
                    let seen = visited[..=step]
                        .iter()
                        .any(|seen| seen.eq_ignore_ascii_case(target.as_slice()));
                    if seen || !target.ends_with(self.zone.apex().as_wire()) {
                        break;
                    }
                    name = *target;
                }
                NodeAnswer::Follow(target) => {
                    if visited[..=step].iter().any(|seen| seen.eq_ignore_ascii_case(target)) {
                        break;
                    }
                    visited[step + 1] = target;
                    let target = NameBuf::lowercase(target);
                    if !target.ends_with(self.zone.apex().as_wire()) {
                        break;
                    }
                    name = target;
                }
            }
        }
        writer.section(Section::Authority);
        match authority {
            Authority::None => {}
            Authority::Soa => {
                let apex = self.zone.apex_node();
                if let Some(soa) = apex.rrset(types::SOA) {
                    // RFC 2308 §3: the SOA of a negative answer carries the
                    // negative-caching TTL.
                    let ttl = soa
                        .first()
                        .and_then(soa_minimum)
                        .map_or(soa.ttl, |min| min.min(soa.ttl));
                    self.push_signed_with_ttl(writer, apex.name_wire(), apex, soa, ttl)?;
                }
            }
            Authority::Referral(cut) => {
                if let Some(ns) = cut.rrset(types::NS) {
                    push_rrset(writer, cut.name_wire(), ns)?;
                }
                if self.dnssec {
                    // RFC 4035 §3.1.4: the DS RRset, or proof there is none.
                    match cut.rrset(types::DS) {
                        Some(ds) => self.push_signed(writer, cut.name_wire(), cut, ds)?,
                        None => self.prove(Proof::NoDs { cut }),
                    }
                }
            }
        }
        if self.dnssec {
            self.write_proofs(writer)?;
        }
        writer.section(Section::Additional);
        if let Authority::Referral(cut) = authority {
            self.add_glue(cut, writer)?;
        }
        self.add_target_addresses(writer);
        Ok(rcode)
    }

    /// Answers from an existing (or wildcard) node for `owner`.
    fn answer_from(
        &mut self,
        node: &'a Node,
        owner: &[u8],
        writer: &mut MessageWriter<'_>,
    ) -> Result<NodeAnswer<'a>, Full> {
        let qtype = self.query.qtype;
        if qtype == types::ANY {
            return self.answer_any(node, owner, writer);
        }
        if qtype == types::LUA {
            // The code is configuration, never data (as in PowerDNS).
            return Ok(NodeAnswer::NoData);
        }
        let programs = self.programs_at(node);
        if programs.iter().any(|program| program.rtype() == qtype) {
            return self.answer_synthesized(node, owner, qtype, programs, writer);
        }
        if let Some(rrset) = node.rrset(qtype) {
            self.push_signed(writer, owner, node, rrset)?;
            self.note_targets(rrset);
            return Ok(NodeAnswer::Done);
        }
        if programs.iter().any(|program| program.rtype() == types::CNAME) {
            return self.answer_synthesized(node, owner, types::CNAME, programs, writer);
        }
        if let Some(cname) = node.rrset(types::CNAME) {
            self.push_signed(writer, owner, node, cname)?;
            return Ok(match cname.first() {
                Some(target) => NodeAnswer::Follow(target),
                None => NodeAnswer::Done,
            });
        }
        Ok(NodeAnswer::NoData)
    }

    /// The compiled LUA records at `node`; none when LUA is off.
    fn programs_at(&self, node: &Node) -> &'a [Program] {
        match self.programs {
            Some(programs) => programs.at(node.name_wire()),
            None => &[],
        }
    }

    /// Answers `rtype` from the LUA records at `node` (merged with static
    /// records of that type, as PowerDNS does), signing the result online.
    fn answer_synthesized(
        &mut self,
        node: &'a Node,
        owner: &[u8],
        rtype: u16,
        at_node: &'a [Program],
        writer: &mut MessageWriter<'_>,
    ) -> Result<NodeAnswer<'a>, Full> {
        let mut data = SYNTHESIZED.with(|buffer| std::mem::take(&mut *buffer.borrow_mut()));
        data.clear();
        let answer = self.synthesize_into(node, owner, rtype, at_node, &mut data, writer);
        SYNTHESIZED.with(|buffer| *buffer.borrow_mut() = data);
        answer
    }

    fn synthesize_into(
        &mut self,
        node: &'a Node,
        owner: &[u8],
        rtype: u16,
        at_node: &[Program],
        data: &mut Vec<u8>,
        writer: &mut MessageWriter<'_>,
    ) -> Result<NodeAnswer<'a>, Full> {
        let mut ttl = node.rrset(types::LUA).map_or(0, |lua| lua.ttl);
        if let Some(rrset) = node.rrset(rtype) {
            ttl = ttl.min(rrset.ttl);
            for rdata in rrset.rdata() {
                data.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
                data.extend_from_slice(rdata);
            }
        }
        let Some(programs) = self.programs else {
            return Ok(NodeAnswer::NoData);
        };
        for program in at_node.iter().filter(|p| p.rtype() == rtype) {
            // The name as asked: scripts see its case, as in PowerDNS.
            match program.evaluate(owner, self.client, programs, data) {
                Ok(dependent) => self.client_dependent |= dependent,
                Err(_) => return Ok(NodeAnswer::Unanswerable),
            }
        }
        // An RRset holds each record once (RFC 2181 §5), whatever the
        // records and programs produced; equal as DNSSEC compares them
        // (RFC 4034 §6.2), so the answer is exactly what its RRSIG covers.
        let records = || {
            list::iter(data)
                .enumerate()
                .filter(|&(index, rdata)| {
                    let canonical = canonical_rdata(rtype, rdata);
                    !list::iter(data)
                        .take(index)
                        .any(|earlier| canonical_rdata(rtype, earlier) == canonical)
                })
                .map(|(_, rdata)| rdata)
        };
        let mut first = None;
        for rdata in records() {
            first.get_or_insert(rdata);
            writer.push(owner, rtype, ttl, rdata)?;
        }
        let Some(first) = first else {
            return Ok(NodeAnswer::Empty(rtype));
        };
        if self.dnssec {
            if let Some(secured) = self.signed {
                let records: Vec<&[u8]> = records().collect();
                let mut rrsigs = Vec::new();
                secured
                    .signer()
                    .sign_into(node.name_wire(), rtype, ttl, &records, &mut rrsigs);
                for rrsig in list::iter(&rrsigs) {
                    writer.push(owner, types::RRSIG, ttl, rrsig)?;
                }
            }
        }
        if rtype == types::CNAME && self.query.qtype != types::CNAME {
            return Ok(NodeAnswer::FollowSynthesized(Box::new(NameBuf::lowercase(first))));
        }
        Ok(NodeAnswer::Done)
    }

    /// ANY (RFC 8482 §4.1): one RRset, the one with the lowest type, over
    /// every transport (as Knot does). It keeps replies small, makes ANY
    /// useless for amplification, and resolvers that want more ask for it.
    /// LUA records take part as the type they produce.
    fn answer_any(
        &mut self,
        node: &'a Node,
        owner: &[u8],
        writer: &mut MessageWriter<'_>,
    ) -> Result<NodeAnswer<'a>, Full> {
        let lowest_static = node
            .rrsets()
            .find(|rrset| !matches!(rrset.rtype, types::LUA | types::NSEC));
        let programs = self.programs_at(node);
        let lowest_synthesized = programs
            .iter()
            .map(Program::rtype)
            .filter(|&rtype| rtype != types::LUA)
            .min();
        match (lowest_static, lowest_synthesized) {
            (static_rrset, Some(rtype)) if static_rrset.is_none_or(|rrset| rtype <= rrset.rtype) => {
                Ok(match self.answer_synthesized(node, owner, rtype, programs, writer)? {
                    NodeAnswer::FollowSynthesized(_) => NodeAnswer::Done,
                    answer => answer,
                })
            }
            (Some(rrset), _) => {
                self.push_signed(writer, owner, node, rrset)?;
                Ok(NodeAnswer::Done)
            }
            (None, _) => Ok(NodeAnswer::NoData),
        }
    }

    /// DNAME substitution (RFC 6672 §3.2): the DNAME, then a CNAME from
    /// `owner` to the rewritten name, which is returned. `None` when the
    /// rewritten name would be longer than 255 octets (YXDOMAIN).
    fn synthesize(
        &mut self,
        node: &'a Node,
        owner: &[u8],
        name: &[u8],
        writer: &mut MessageWriter<'_>,
    ) -> Result<Option<NameBuf>, Full> {
        let Some(dname) = node.rrset(types::DNAME) else {
            return Ok(None);
        };
        self.push_signed(writer, node.name_wire(), node, dname)?;
        let Some(target) = dname.first() else {
            return Ok(None);
        };
        let prefix = &name[..name.len() - node.name_wire().len()];
        if prefix.len() + target.len() > 255 {
            return Ok(None);
        }
        let mut synthesized = NameBuf::from(prefix);
        synthesized.extend(target);
        // The synthesized CNAME carries the DNAME's TTL (RFC 6672 §3.3)
        // and no signature: validators derive it from the DNAME.
        writer.push(owner, types::CNAME, dname.ttl, synthesized.as_slice())?;
        Ok(Some(NameBuf::lowercase(synthesized.as_slice())))
    }

    /// Writes an RRset and, in a DNSSEC answer, its RRSIGs.
    fn push_signed(
        &self,
        writer: &mut MessageWriter<'_>,
        owner: &[u8],
        node: &Node,
        rrset: RRset<'_>,
    ) -> Result<(), Full> {
        self.push_signed_with_ttl(writer, owner, node, rrset, rrset.ttl)
    }

    /// Like [`Resolution::push_signed`] with the records' TTL replaced.
    fn push_signed_with_ttl(
        &self,
        writer: &mut MessageWriter<'_>,
        owner: &[u8],
        node: &Node,
        rrset: RRset<'_>,
        ttl: u32,
    ) -> Result<(), Full> {
        for rdata in rrset.rdata() {
            writer.push(owner, rrset.rtype, ttl, rdata)?;
        }
        if self.dnssec {
            for rrsig in list::iter(self.signed.map_or(&[][..], |signed| signed.rrsigs(node, rrset))) {
                writer.push(owner, types::RRSIG, ttl, rrsig)?;
            }
        }
        Ok(())
    }

    /// Notes a denial the authority section must carry, in DNSSEC answers.
    fn prove(&mut self, proof: Proof<'a>) {
        if self.dnssec {
            self.proofs.push(proof);
        }
    }

    /// Writes the NSEC or NSEC3 records (with RRSIGs) for every noted proof,
    /// each record once.
    fn write_proofs(&self, writer: &mut MessageWriter<'_>) -> Result<(), Full> {
        let Some(secured) = self.signed else {
            return Ok(());
        };
        let mut written = ProofSet {
            strip: self.denial_to_rewrite(secured.denial()),
            ..ProofSet::default()
        };
        match secured.denial() {
            Denial::Nsec(_) => {
                for proof in &self.proofs {
                    match proof {
                        Proof::NameError { name, encloser } => {
                            // RFC 4035 §3.1.3.2: the name, and the wildcard
                            // that would have matched, do not exist.
                            self.push_nsec_covering(writer, name.as_slice(), &mut written)?;
                            let wildcard = NameBuf::wildcard_of(encloser.name_wire());
                            self.push_nsec_covering(writer, wildcard.as_slice(), &mut written)?;
                        }
                        Proof::NoData { node, .. } => match node.rrset(types::NSEC) {
                            Some(_) => self.push_nsec(writer, node, &mut written)?,
                            // An empty non-terminal: the NSEC before it
                            // shows there is nothing at the name.
                            None => self.push_nsec_covering(writer, node.name_wire(), &mut written)?,
                        },
                        Proof::Wildcard {
                            name, wildcard, nodata, ..
                        } => {
                            // RFC 4035 §3.1.3.3 and §3.1.3.4.
                            if *nodata {
                                self.push_nsec(writer, wildcard, &mut written)?;
                            }
                            self.push_nsec_covering(writer, name.as_slice(), &mut written)?;
                        }
                        Proof::NoDs { cut } => self.push_nsec(writer, cut, &mut written)?,
                    }
                }
            }
            Denial::Nsec3 { chain, .. } => {
                for proof in &self.proofs {
                    match proof {
                        Proof::NameError { name, encloser } => {
                            // RFC 5155 §7.2.2: closest encloser proof and
                            // the wildcard at the closest encloser.
                            self.push_closest_encloser(
                                writer,
                                chain,
                                name.as_slice(),
                                encloser.name_wire(),
                                &mut written,
                            )?;
                            let wildcard = NameBuf::wildcard_of(encloser.name_wire());
                            self.push_nsec3(writer, chain.covering(&chain.hash(wildcard.as_slice())), &mut written)?;
                        }
                        Proof::NoData { node, .. } => {
                            // RFC 5155 §7.2.3 and §7.2.4.
                            let hash = chain.hash(node.name_wire());
                            match chain.matching(&hash) {
                                Some(index) => self.push_nsec3(writer, Some(index), &mut written)?,
                                None => self.push_opt_out_proof(writer, chain, node.name_wire(), &mut written)?,
                            }
                        }
                        Proof::Wildcard {
                            name, wildcard, nodata, ..
                        } => {
                            let encloser = &wildcard.name_wire()[2..];
                            if *nodata {
                                // RFC 5155 §7.2.5.
                                self.push_closest_encloser(writer, chain, name.as_slice(), encloser, &mut written)?;
                                let hash = chain.hash(wildcard.name_wire());
                                self.push_nsec3(writer, chain.matching(&hash), &mut written)?;
                            } else {
                                // RFC 5155 §7.2.6: the next closer name is covered.
                                let next_closer = next_closer(name.as_slice(), encloser);
                                self.push_nsec3(writer, chain.covering(&chain.hash(next_closer)), &mut written)?;
                            }
                        }
                        Proof::NoDs { cut } => {
                            let hash = chain.hash(cut.name_wire());
                            match chain.matching(&hash) {
                                Some(index) => self.push_nsec3(writer, Some(index), &mut written)?,
                                None => self.push_opt_out_proof(writer, chain, cut.name_wire(), &mut written)?,
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The NSEC at `node`, with its RRSIGs.
    fn push_nsec(&self, writer: &mut MessageWriter<'_>, node: &Node, written: &mut ProofSet) -> Result<(), Full> {
        let Some(nsec) = node.rrset(types::NSEC) else {
            return Ok(());
        };
        let key = node as *const Node as usize;
        if !written.insert(key) {
            return Ok(());
        }
        match written.strip {
            Some((strip, rtype)) if strip == key => match nsec.first() {
                Some(rdata) => self.push_rewritten_denial(writer, node.name_wire(), types::NSEC, rdata, rtype),
                None => Ok(()),
            },
            _ => self.push_signed(writer, node.name_wire(), node, nsec),
        }
    }

    /// Which denial record proves a NODATA for a LUA type that produced
    /// nothing, and that type: that record must be written without it,
    /// whichever proof writes it first.
    fn denial_to_rewrite(&self, denial: &Denial) -> Option<(usize, u16)> {
        let (node, rtype) = self.proofs.iter().find_map(|proof| match proof {
            Proof::NoData { node, without } if *without != 0 => Some((*node, *without)),
            Proof::Wildcard {
                wildcard,
                nodata: true,
                without,
                ..
            } if *without != 0 => Some((*wildcard, *without)),
            _ => None,
        })?;
        let key = match denial {
            Denial::Nsec(_) => node as *const Node as usize,
            Denial::Nsec3 { chain, .. } => usize::MAX - chain.matching(&chain.hash(node.name_wire()))?,
        };
        Some((key, rtype))
    }

    fn push_rewritten_denial(
        &self,
        writer: &mut MessageWriter<'_>,
        owner: &[u8],
        record_type: u16,
        rdata: &[u8],
        rtype: u16,
    ) -> Result<(), Full> {
        let Some(secured) = self.signed else {
            return Ok(());
        };
        let ttl = secured.negative_ttl();
        let Some(rewritten) = without_type(record_type, rdata, rtype) else {
            return Ok(());
        };
        writer.push(owner, record_type, ttl, &rewritten)?;
        let mut rrsigs = Vec::new();
        secured
            .signer()
            .sign_into(owner, record_type, ttl, &[&rewritten], &mut rrsigs);
        for rrsig in list::iter(&rrsigs) {
            writer.push(owner, types::RRSIG, ttl, rrsig)?;
        }
        Ok(())
    }

    /// The NSEC that matches or covers `name`.
    fn push_nsec_covering(
        &self,
        writer: &mut MessageWriter<'_>,
        name: &[u8],
        written: &mut ProofSet,
    ) -> Result<(), Full> {
        match self.signed.and_then(|signed| signed.nsec_covering(self.zone, name)) {
            Some(node) => self.push_nsec(writer, node, written),
            None => Ok(()),
        }
    }

    /// NSEC3 record `index` of the chain, with its RRSIGs.
    fn push_nsec3(
        &self,
        writer: &mut MessageWriter<'_>,
        index: Option<usize>,
        written: &mut ProofSet,
    ) -> Result<(), Full> {
        let (Some(index), Some(secured)) = (index, self.signed) else {
            return Ok(());
        };
        let Denial::Nsec3 { chain, .. } = secured.denial() else {
            return Ok(());
        };
        let Some(entry) = chain.entries().get(index) else {
            return Ok(());
        };
        if !written.insert(usize::MAX - index) {
            return Ok(());
        }
        if let Some((strip, rtype)) = written.strip {
            if strip == usize::MAX - index {
                return self.push_rewritten_denial(writer, &entry.owner, types::NSEC3, &entry.rdata, rtype);
            }
        }
        let ttl = secured.negative_ttl();
        writer.push(&entry.owner, types::NSEC3, ttl, &entry.rdata)?;
        for rrsig in list::iter(secured.nsec3_rrsigs(index)) {
            writer.push(&entry.owner, types::RRSIG, ttl, rrsig)?;
        }
        Ok(())
    }

    /// RFC 5155 §7.2.1: the NSEC3 matching the closest encloser and the one
    /// covering the next closer name.
    fn push_closest_encloser(
        &self,
        writer: &mut MessageWriter<'_>,
        chain: &Nsec3Chain,
        name: &[u8],
        encloser: &[u8],
        written: &mut ProofSet,
    ) -> Result<(), Full> {
        self.push_nsec3(writer, chain.matching(&chain.hash(encloser)), written)?;
        let next_closer = next_closer(name, encloser);
        self.push_nsec3(writer, chain.covering(&chain.hash(next_closer)), written)
    }

    /// For a name left out of an opt-out chain (RFC 5155 §7.2.4): the
    /// closest provable encloser and the opt-out NSEC3 covering the next
    /// closer name.
    fn push_opt_out_proof(
        &self,
        writer: &mut MessageWriter<'_>,
        chain: &Nsec3Chain,
        name: &[u8],
        written: &mut ProofSet,
    ) -> Result<(), Full> {
        let mut encloser = name;
        while let Some(&label) = encloser.first().filter(|&&label| label > 0) {
            encloser = &encloser[label as usize + 1..];
            if chain.matching(&chain.hash(encloser)).is_some() {
                return self.push_closest_encloser(writer, chain, name, encloser, written);
            }
        }
        Ok(())
    }

    /// Remembers the names in NS, MX and SRV RDATA whose addresses belong
    /// in the additional section (RFC 1035 §3.3.9 and §3.3.11, RFC 2782).
    fn note_targets(&mut self, rrset: RRset<'a>) {
        let skip = match rrset.rtype {
            types::NS => 0,
            types::MX => 2,
            types::SRV => 6,
            _ => return,
        };
        for rdata in rrset.rdata() {
            if let Some(target) = rdata.get(skip..) {
                self.note_target(target);
            }
        }
    }

    fn note_target(&mut self, target: &'a [u8]) {
        if self.target_count < MAX_ADDITIONAL_TARGETS
            && !self.targets[..self.target_count]
                .iter()
                .any(|known| known.eq_ignore_ascii_case(target))
        {
            self.targets[self.target_count] = target;
            self.target_count += 1;
        }
    }

    /// Adds addresses of the referral's name servers. Glue below the cut
    /// is required: if it does not fit, the reply is truncated (RFC 9471
    /// §3.1). Addresses elsewhere in the zone are added while room is left.
    fn add_glue(&mut self, cut: &'a Node, writer: &mut MessageWriter<'_>) -> Result<(), Full> {
        let Some(ns) = cut.rrset(types::NS) else {
            return Ok(());
        };
        for rdata in ns.rdata() {
            let target = NameBuf::lowercase(rdata);
            if target.ends_with(cut.name_wire()) {
                if let Some(node) = self.zone.node(target.as_slice()) {
                    push_addresses(writer, node)?;
                }
            } else {
                self.note_target(rdata);
            }
        }
        Ok(())
    }

    /// Adds addresses of noted target names that this zone holds with
    /// authority, as long as they fit; what does not fit is left out. In a
    /// DNSSEC answer each RRset brings its RRSIGs, or comes without them
    /// when only the RRset fits (RFC 4035 §3.1.1).
    fn add_target_addresses(&self, writer: &mut MessageWriter<'_>) {
        for target in &self.targets[..self.target_count] {
            let Some(node) = self.zone.node(NameBuf::lowercase(target).as_slice()) else {
                continue;
            };
            if !self.zone.is_authoritative(node) {
                continue;
            }
            for rtype in [types::A, types::AAAA] {
                let Some(rrset) = node.rrset(rtype) else {
                    continue;
                };
                let mark = writer.mark();
                if self.push_signed(writer, node.name_wire(), node, rrset).is_ok() {
                    continue;
                }
                writer.rollback(mark);
                if push_rrset(writer, node.name_wire(), rrset).is_err() {
                    writer.rollback(mark);
                    return;
                }
            }
        }
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

/// Denial records already written, so each goes out once.
#[derive(Default)]
struct ProofSet {
    keys: [usize; 8],
    len: usize,
    /// The denial record (key as in `keys`) to write without a type: the
    /// one proving NODATA for a LUA type that produced nothing.
    strip: Option<(usize, u16)>,
}

impl ProofSet {
    /// Adds `key`; false if it was there already.
    fn insert(&mut self, key: usize) -> bool {
        if self.keys[..self.len].contains(&key) {
            return false;
        }
        if self.len < self.keys.len() {
            self.keys[self.len] = key;
            self.len += 1;
        }
        true
    }
}

/// What answering from a node led to.
enum NodeAnswer<'a> {
    /// The answer section holds the asked data.
    Done,
    /// The name exists without the asked type.
    NoData,
    /// A CNAME was written; the chain goes on at this name (its RDATA).
    Follow(&'a [u8]),
    /// A LUA CNAME was written; the chain goes on at this (lowercased) name.
    FollowSynthesized(Box<NameBuf>),
    /// LUA records of this type produced nothing: NODATA, with a denial
    /// that does not list the type.
    Empty(u16),
    /// A LUA record failed: SERVFAIL.
    Unanswerable,
}

/// Writes every record of `rrset` under `owner`.
fn push_rrset(writer: &mut MessageWriter<'_>, owner: &[u8], rrset: RRset<'_>) -> Result<(), Full> {
    for rdata in rrset.rdata() {
        writer.push(owner, rrset.rtype, rrset.ttl, rdata)?;
    }
    Ok(())
}

/// Writes the A and AAAA RRsets of `node`, each whole or not at all.
fn push_addresses(writer: &mut MessageWriter<'_>, node: &Node) -> Result<(), Full> {
    for rtype in [types::A, types::AAAA] {
        if let Some(rrset) = node.rrset(rtype) {
            let mark = writer.mark();
            if let Err(full) = push_rrset(writer, node.name_wire(), rrset) {
                writer.rollback(mark);
                return Err(full);
            }
        }
    }
    Ok(())
}

//------------ NameBuf -------------------------------------------------------

/// A wire-format name on the stack, so following a chain does not allocate.
#[derive(Clone, Copy)]
struct NameBuf {
    bytes: [u8; 255],
    len: u8,
}

impl NameBuf {
    const EMPTY: NameBuf = NameBuf {
        bytes: [0; 255],
        len: 0,
    };

    /// Copies the uncompressed name at the start of `wire`, stopping at
    /// its root label; a longer input is cut at 255 octets.
    fn from(wire: &[u8]) -> NameBuf {
        let mut buf = NameBuf::EMPTY;
        let len = wire.len().min(255);
        buf.bytes[..len].copy_from_slice(&wire[..len]);
        buf.len = len as u8;
        buf
    }

    /// Like [`NameBuf::from`] but lowercased, and only the name itself:
    /// RDATA after the name (none for the types used here) is ignored.
    fn lowercase(wire: &[u8]) -> NameBuf {
        let mut end = 0;
        while end < wire.len() && wire[end] != 0 {
            end += wire[end] as usize + 1;
        }
        let mut buf = NameBuf::from(&wire[..(end + 1).min(wire.len())]);
        buf.bytes[..buf.len as usize].make_ascii_lowercase();
        buf
    }

    /// `*.` followed by `encloser` (RFC 4592 §2.1.1 "source of synthesis").
    fn wildcard_of(encloser: &[u8]) -> NameBuf {
        let mut buf = NameBuf::from(b"\x01*");
        buf.extend(encloser);
        buf
    }

    fn extend(&mut self, wire: &[u8]) {
        let start = self.len as usize;
        let len = wire.len().min(255 - start);
        self.bytes[start..start + len].copy_from_slice(&wire[..len]);
        self.len += len as u8;
    }

    fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
}

impl PartialEq for NameBuf {
    fn eq(&self, other: &NameBuf) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl NameBuf {
    /// Whether this (lowercased) name is at or below `apex` (lowercased),
    /// comparing on label boundaries.
    fn ends_with(&self, apex: &[u8]) -> bool {
        let name = self.as_slice();
        if apex.len() > name.len() {
            return false;
        }
        let mut pos = 0;
        while name.len() - pos > apex.len() {
            let label = name[pos] as usize;
            if label == 0 {
                return false;
            }
            pos += label + 1;
        }
        name.len() - pos == apex.len() && &name[pos..] == apex
    }
}
