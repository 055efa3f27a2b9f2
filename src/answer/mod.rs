//! From a query message to a response message, in stages.
//!
//! [`Responder::respond`] runs the stages of RFC 1034 §4.3.2 over the
//! catalog snapshot it is handed:
//!
//! ```text
//! parse (query.rs) ─> refuse (refuse.rs) ─> find the zone (Catalog::find)
//!   ─> answer section (lookup.rs): follow CNAME and DNAME inside the zone;
//!        LUA records answered by synthesis (synthesis.rs) ─> Outcome
//!   ─> authority section (authority.rs): SOA, or the referral's NS and DS,
//!        then the denial proofs of a DNSSEC answer (dnssec.rs)
//!   ─> additional section (additional.rs): glue, addresses of NS/MX/SRV targets
//!   ─> finish (finish.rs): RCODE, OPT, Client Subnet, NSID, cookies
//!        (cookie.rs), truncation
//! ```
//!
//! Every RRset leaves through [`Sections`], which adds its RRSIGs when the
//! answer carries DNSSEC records: the stages themselves know nothing of
//! signatures, and an answer without DNSSEC pays nothing for them.
//!
//! Nothing here allocates for an ordinary answer, takes a lock or waits
//! for I/O: the caller owns the buffers and the snapshot.

mod additional;
mod authority;
mod chaos;
pub mod cookie;
mod dnssec;
mod finish;
mod lookup;
mod query;
mod refuse;
mod sections;
mod synthesis;
#[cfg(test)]
mod tests;
mod writer;

use std::net::SocketAddr;
use std::sync::Arc;

use base::header::{flag, rcode};
use base::NameBuf;

pub use self::cookie::Cookies;
pub use self::query::{Edns, ParseError, Query};
use self::sections::Sections;
use self::writer::{Full, MessageWriter, Section};
use crate::catalog::{Catalog, Snapshot};
use crate::lua::{self, ZonePrograms};
use crate::zone::{Node, Zone};

/// The transport a query came over; it bounds the response size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

/// The two ends of the connection a query came over.
#[derive(Clone, Copy, Debug)]
pub struct Peer {
    pub remote: SocketAddr,
    pub local: SocketAddr,
}

/// What the responder did with one message, for metrics and logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    pub rcode: u16,
    pub qtype: u16,
    pub truncated: bool,
    /// Whether the answer was made from a wildcard (RFC 4592): names
    /// that do not exist, answered alike.
    pub wildcard: bool,
    /// Whether the query carried a valid server cookie (RFC 7873): its
    /// source address is not forged.
    pub valid_cookie: bool,
}

/// Answers queries; holds only settings, so one per listener is cheap.
#[derive(Clone, Debug)]
pub struct Responder {
    /// Largest UDP payload we send and advertise (RFC 6891 §6.2.5).
    pub max_udp_payload: u16,
    /// Whether EDNS Client Subnet (RFC 7871) is honoured: LUA records see
    /// the client's subnet instead of the resolver's address.
    pub ecs: bool,
    /// The node's identity, for NSID (RFC 5001) and CH TXT `id.server`;
    /// empty: not told.
    pub identity: &'static str,
    /// What CH TXT `version.server` answers; empty: REFUSED.
    pub version: &'static str,
    /// The secret of the server cookies given to clients (RFC 7873).
    pub cookies: Cookies,
}

/// How the answer stages ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    /// Every record that belongs in the response is in it.
    Complete(u16),
    /// A record that must be in the response did not fit: the client is
    /// told to ask again over TCP (RFC 2181 §9, RFC 7766 §5).
    Truncated,
}

impl From<Result<u16, Full>> for Status {
    fn from(result: Result<u16, Full>) -> Status {
        match result {
            Ok(rcode) => Status::Complete(rcode),
            Err(Full) => Status::Truncated,
        }
    }
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
    ) -> Option<Summary> {
        let parsed = query.parse_into(msg);
        let flags = flag::QR | (query.flags & (flag::OPCODE | flag::RD | flag::CD));
        if let Err(error) = parsed {
            return finish::malformed(error, query, flags, self.max_udp_payload, out);
        }
        let mut limit = match transport {
            Transport::Udp => query.udp_limit(self.max_udp_payload),
            Transport::Tcp => u16::MAX as usize,
        };
        // Room for the NSID option, which always goes in.
        let nsid = query.edns.is_some_and(|edns| edns.nsid) && !self.identity.is_empty();
        if nsid {
            limit = limit.saturating_sub(4 + self.identity.len());
        }
        // A client cookie is answered with a server cookie, valid or not.
        let cookie = query.edns.and_then(|edns| edns.cookie);
        if cookie.is_some() {
            limit = limit.saturating_sub(4 + cookie::ANSWER_LEN);
        }
        let subnet = query.edns.filter(|_| self.ecs).and_then(|edns| edns.client_subnet);
        let client = lua::Client {
            who: peer.remote,
            local: peer.local,
            subnet,
            dnssec_ok: query.dnssec_ok(),
            tcp: transport == Transport::Tcp,
            edns_size: query.edns.map_or(0, |edns| edns.payload),
        };
        let mut writer = MessageWriter::new(out, query, flags, limit);
        let mut client_dependent = false;
        let mut wildcard = false;
        // Questions about the server itself are of class CHAOS; every
        // other class but IN is refused.
        let status = if query.qclass == base::class::CH {
            chaos::answer(query, self.identity, self.version, &mut writer)
        } else {
            match refuse::refusal(query, self.ecs) {
                Some(rcode) => Status::Complete(rcode),
                None => match catalog.find(query.qname_lower(), query.qtype) {
                    None => Status::Complete(rcode::REFUSED),
                    // Ours, but not loaded yet: ask again soon (RFC 2308 §7.1).
                    Some(snapshot) if snapshot.loading => Status::Complete(rcode::SERVFAIL),
                    Some(snapshot) => {
                        writer.set_flags(flag::AA);
                        let mut resolution = Resolution::new(snapshot, query, &client);
                        let status = answer(snapshot, &mut resolution, &mut writer);
                        client_dependent = resolution.client_dependent;
                        wildcard = resolution.wildcard;
                        status
                    }
                },
            }
        };
        let summary = finish::finish(
            writer,
            status,
            query,
            subnet.map(|subnet| (subnet, client_dependent)),
            nsid.then_some(self.identity),
            cookie.map(|cookie| self.cookies.answer(&cookie, peer.remote.ip())),
            self.max_udp_payload,
        );
        Some(Summary {
            wildcard,
            valid_cookie: cookie.is_some_and(|cookie| self.cookies.is_valid(&cookie, peer.remote.ip())),
            ..summary
        })
    }
}

/// The zone stages: answer, authority and additional sections.
fn answer<'a>(snapshot: &'a Snapshot, resolution: &mut Resolution<'a>, writer: &mut MessageWriter<'_>) -> Status {
    let signed = snapshot.signed.as_ref().filter(|_| resolution.query.dnssec_ok());
    let mut sections = Sections::new(writer, signed.map(|signed| dnssec::Dnssec::new(&snapshot.zone, signed)));
    Status::from(fill(resolution, &mut sections))
}

/// Fills the three sections; returns the RCODE, or [`Full`] when a record
/// that must be there did not fit.
fn fill<'a>(resolution: &mut Resolution<'a>, sections: &mut Sections<'_, '_, 'a>) -> Result<u16, Full> {
    sections.start(Section::Answer);
    let outcome = lookup::answer(resolution, sections)?;
    sections.start(Section::Authority);
    authority::write(&outcome, resolution, sections)?;
    sections.prove()?;
    sections.start(Section::Additional);
    additional::write(&outcome, resolution, sections)?;
    Ok(outcome.rcode())
}

/// Longest CNAME/DNAME chain followed within a zone. Real chains are
/// short; the bound also breaks loops.
const MAX_CHAIN: usize = 12;

/// How many distinct target names get addresses in the additional section.
const MAX_ADDITIONAL_TARGETS: usize = 16;

/// One query being answered from one zone snapshot: what the stages read,
/// and what one stage hands on to the next.
struct Resolution<'a> {
    zone: &'a Zone,
    /// The zone's compiled LUA records, if it has any and LUA is on.
    programs: Option<&'a Arc<ZonePrograms>>,
    query: &'a Query,
    /// Who asked, for LUA records.
    client: &'a lua::Client,
    /// Names (as in the zone's RDATA) whose addresses go into the
    /// additional section.
    targets: Targets<'a>,
    /// Whether a LUA record's answer depended on the client's address.
    client_dependent: bool,
    /// Whether the query name was answered from a wildcard.
    wildcard: bool,
}

impl<'a> Resolution<'a> {
    fn new(snapshot: &'a Snapshot, query: &'a Query, client: &'a lua::Client) -> Self {
        Resolution {
            zone: &snapshot.zone,
            programs: snapshot.programs.as_ref(),
            query,
            client,
            targets: Targets::default(),
            client_dependent: false,
            wildcard: false,
        }
    }
}

/// Target names whose addresses the additional section carries, each once.
struct Targets<'a> {
    names: [&'a [u8]; MAX_ADDITIONAL_TARGETS],
    len: usize,
}

impl Default for Targets<'_> {
    fn default() -> Self {
        Targets {
            names: [&[]; MAX_ADDITIONAL_TARGETS],
            len: 0,
        }
    }
}

impl<'a> Targets<'a> {
    /// Notes `name` (uncompressed, as in RDATA), unless it is noted already
    /// or the list is full.
    fn note(&mut self, name: &'a [u8]) {
        if self.len < self.names.len()
            && !self.names[..self.len]
                .iter()
                .any(|known| known.eq_ignore_ascii_case(name))
        {
            self.names[self.len] = name;
            self.len += 1;
        }
    }

    fn iter(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        self.names[..self.len].iter().copied()
    }
}

/// How the answer section ended: what the authority section must say
/// (RFC 1034 §4.3.2, RFC 2308).
#[derive(Debug)]
enum Outcome<'a> {
    /// The answer section holds the data asked for, or a CNAME chain that
    /// leaves the zone or comes back on itself.
    Answer,
    /// The last name is at or below this zone cut: a referral.
    Referral(&'a Node),
    /// The last name exists without the asked type.
    NoData,
    /// The last name does not exist (RFC 6604 §3: the RCODE is that of the
    /// last name of the chain).
    NxDomain,
    /// A DNAME result is longer than a name can be (RFC 6672 §2.2).
    YxDomain,
    /// A LUA record failed to answer.
    Failed,
}

impl Outcome<'_> {
    /// The response code this outcome is answered with.
    fn rcode(&self) -> u16 {
        match self {
            Outcome::Answer | Outcome::Referral(_) | Outcome::NoData => rcode::NOERROR,
            Outcome::NxDomain => rcode::NXDOMAIN,
            Outcome::YxDomain => rcode::YXDOMAIN,
            Outcome::Failed => rcode::SERVFAIL,
        }
    }
}

/// What the DNSSEC proofs of the authority section must show did not
/// exist (RFC 4035 §3.1.3, RFC 5155 §7.2). Stages note these as they find
/// them; in an answer without DNSSEC, noting costs nothing.
#[derive(Debug)]
enum Denial<'a> {
    /// `name` does not exist; `encloser` is its closest encloser.
    NameError { name: NameBuf, encloser: &'a Node },
    /// `node` exists without the asked type. `empty` is a type its denial
    /// record lists but which a LUA record produced nothing for in this
    /// answer: that record is rewritten without it.
    NoData { node: &'a Node, empty: Option<u16> },
    /// `name` does not exist and was answered from `wildcard`; `nodata`
    /// when the wildcard lacks the asked type too.
    Wildcard {
        name: NameBuf,
        wildcard: &'a Node,
        nodata: bool,
        empty: Option<u16>,
    },
    /// The delegation at `cut` has no DS: it leads to an unsigned zone.
    NoDs { cut: &'a Node },
}
