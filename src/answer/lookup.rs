//! The answer section: looking the question up in the zone (RFC 1034
//! §4.3.2 step 3), following CNAME and DNAME records as long as they lead
//! inside the zone, and ending in an [`Outcome`] for the authority stage.
//!
//! Each name of the chain gives a [`Step`]: the data asked for, a CNAME or
//! DNAME to follow, a referral, a name without the type, no name at all,
//! or a failure. Wildcards (RFC 4592) answer for names that do not exist;
//! each expansion is noted for the DNSSEC proofs.

use base::header::flag;
use base::types;
use base::NameBuf;

use super::sections::Sections;
use super::synthesis::{self, Synthesized};
use super::writer::Full;
use super::{Denial, Outcome, Resolution, MAX_CHAIN};
use crate::lua::Program;
use crate::zone::{Lookup, Node, RRset};

/// What answering at one name of the chain led to.
#[derive(Debug)]
enum Step<'a> {
    /// The data asked for was written.
    Answered,
    /// A CNAME was written; the chain goes on at its target (RDATA of
    /// the zone, case as stored).
    Cname(&'a [u8]),
    /// A LUA record wrote a CNAME; the chain goes on at this name
    /// (lowercased). Boxed: rare, and the variant stays small.
    Follow(Box<NameBuf>),
    /// The name exists without the asked type. `empty` is a type LUA
    /// records of the name produce, which they produced nothing for.
    NoData { empty: Option<u16> },
    /// A LUA record failed.
    Failed,
}

/// Writes the answer section for the question; returns how it ended.
pub(super) fn answer<'a>(
    resolution: &mut Resolution<'a>,
    sections: &mut Sections<'_, '_, 'a>,
) -> Result<Outcome<'a>, Full> {
    let query = resolution.query;
    let zone = resolution.zone;
    let apex = zone.apex().as_wire();
    let mut name = NameBuf::from_wire(query.qname_lower());
    // Names already answered for: a chain that comes back to one of them
    // is a loop, and each record is written once (Knot and BIND do the same).
    let mut visited: [&[u8]; MAX_CHAIN + 1] = [&[]; MAX_CHAIN + 1];
    visited[0] = query.qname_lower();
    for step in 0..MAX_CHAIN {
        // The first owner is the question name itself: written as received,
        // so compression points at the question and the client sees its
        // own case.
        let owner = if step == 0 { query.qname() } else { name.as_wire() };
        let (node, wildcard) = match zone.lookup(name.as_wire(), query.qtype == types::DS) {
            Lookup::Node(node) => (node, None),
            Lookup::Wildcard(node) => (node, Some(node)),
            Lookup::Referral(cut) => {
                // A referral is not authoritative, but a CNAME leading to it
                // was (RFC 1034 §4.3.2: AA reflects the first name).
                if step == 0 {
                    sections.writer().clear_flags(flag::AA);
                }
                return Ok(Outcome::Referral(cut));
            }
            Lookup::Dname(node) => match dname(node, owner, name.as_wire(), sections)? {
                Some(target) if target.ends_with(apex) => {
                    name = target;
                    continue;
                }
                Some(_) => return Ok(Outcome::Answer),
                None => return Ok(Outcome::YxDomain),
            },
            Lookup::NxDomain(encloser) => {
                sections.deny(Denial::NameError { name, encloser });
                return Ok(Outcome::NxDomain);
            }
        };
        let found = at_node(resolution, node, owner, sections)?;
        if let Some(wildcard) = wildcard {
            resolution.wildcard = true;
            let (nodata, empty) = match found {
                Step::NoData { empty } => (true, empty),
                _ => (false, None),
            };
            sections.deny(Denial::Wildcard {
                name,
                wildcard,
                nodata,
                empty,
            });
        }
        match found {
            Step::Answered => return Ok(Outcome::Answer),
            Step::NoData { empty } => {
                if wildcard.is_none() {
                    sections.deny(Denial::NoData { node, empty });
                }
                return Ok(Outcome::NoData);
            }
            Step::Failed => {
                // A failed LUA record fails the whole answer, also after a
                // CNAME that led to it (as PowerDNS does).
                sections.writer().drop_records();
                return Ok(Outcome::Failed);
            }
            Step::Follow(target) => {
                let seen = visited[..=step]
                    .iter()
                    .any(|seen| seen.eq_ignore_ascii_case(target.as_wire()));
                if seen || !target.ends_with(apex) {
                    return Ok(Outcome::Answer);
                }
                name = *target;
            }
            Step::Cname(target) => {
                if visited[..=step].iter().any(|seen| seen.eq_ignore_ascii_case(target)) {
                    return Ok(Outcome::Answer);
                }
                visited[step + 1] = target;
                let target = NameBuf::lowercase(target);
                if !target.ends_with(apex) {
                    return Ok(Outcome::Answer);
                }
                name = target;
            }
        }
    }
    Ok(Outcome::Answer)
}

/// Answers from an existing (or wildcard) node for `owner`.
fn at_node<'a>(
    resolution: &mut Resolution<'a>,
    node: &'a Node,
    owner: &[u8],
    sections: &mut Sections<'_, '_, 'a>,
) -> Result<Step<'a>, Full> {
    let qtype = resolution.query.qtype;
    if qtype == types::ANY {
        return any(resolution, node, owner, sections);
    }
    if qtype == types::LUA {
        // The code is configuration, never data (as in PowerDNS).
        return Ok(Step::NoData { empty: None });
    }
    let programs = programs_at(resolution, node);
    if programs.iter().any(|program| program.rtype() == qtype) {
        return synthesized(resolution, node, owner, qtype, programs, sections);
    }
    if let Some(rrset) = node.rrset(qtype) {
        sections.put_rrset(owner, node, rrset, rrset.ttl)?;
        note_targets(resolution, rrset);
        return Ok(Step::Answered);
    }
    if programs.iter().any(|program| program.rtype() == types::CNAME) {
        return synthesized(resolution, node, owner, types::CNAME, programs, sections);
    }
    if let Some(cname) = node.rrset(types::CNAME) {
        sections.put_rrset(owner, node, cname, cname.ttl)?;
        return Ok(match cname.first() {
            Some(target) => Step::Cname(target),
            None => Step::Answered,
        });
    }
    Ok(Step::NoData { empty: None })
}

/// ANY (RFC 8482 §4.1): one RRset, the one with the lowest type, over
/// every transport (as Knot does). It keeps replies small, makes ANY
/// useless for amplification, and resolvers that want more ask for it.
/// LUA records take part as the type they produce.
fn any<'a>(
    resolution: &mut Resolution<'a>,
    node: &'a Node,
    owner: &[u8],
    sections: &mut Sections<'_, '_, 'a>,
) -> Result<Step<'a>, Full> {
    let lowest_static = node
        .rrsets()
        .find(|rrset| !matches!(rrset.rtype, types::LUA | types::NSEC));
    let programs = programs_at(resolution, node);
    let lowest_synthesized = programs
        .iter()
        .map(Program::rtype)
        .filter(|&rtype| rtype != types::LUA)
        .min();
    match (lowest_static, lowest_synthesized) {
        (static_rrset, Some(rtype)) if static_rrset.is_none_or(|rrset| rtype <= rrset.rtype) => {
            Ok(match synthesized(resolution, node, owner, rtype, programs, sections)? {
                Step::Follow(_) => Step::Answered,
                step => step,
            })
        }
        (Some(rrset), _) => {
            sections.put_rrset(owner, node, rrset, rrset.ttl)?;
            Ok(Step::Answered)
        }
        (None, _) => Ok(Step::NoData { empty: None }),
    }
}

/// The answer of the LUA records of `rtype` at `node`, as a step.
fn synthesized<'a>(
    resolution: &mut Resolution<'a>,
    node: &'a Node,
    owner: &[u8],
    rtype: u16,
    programs: &'a [Program],
    sections: &mut Sections<'_, '_, 'a>,
) -> Result<Step<'a>, Full> {
    Ok(
        match synthesis::answer(resolution, node, owner, rtype, programs, sections)? {
            Synthesized::Written {
                first_target: Some(target),
            } if resolution.query.qtype != types::CNAME => Step::Follow(target),
            Synthesized::Written { .. } => Step::Answered,
            Synthesized::Empty => Step::NoData { empty: Some(rtype) },
            Synthesized::Failed => Step::Failed,
        },
    )
}

/// The compiled LUA records at `node`; none when LUA is off.
fn programs_at<'a>(resolution: &Resolution<'a>, node: &Node) -> &'a [Program] {
    match resolution.programs {
        Some(programs) => programs.at(node.name_wire()),
        None => &[],
    }
}

/// DNAME substitution (RFC 6672 §3.2): the DNAME, then a CNAME from
/// `owner` to the rewritten name, which is returned lowercased. `None`
/// when the rewritten name would be longer than 255 octets (YXDOMAIN).
fn dname<'a>(
    node: &'a Node,
    owner: &[u8],
    name: &[u8],
    sections: &mut Sections<'_, '_, 'a>,
) -> Result<Option<NameBuf>, Full> {
    let Some(dname) = node.rrset(types::DNAME) else {
        return Ok(None);
    };
    sections.put_rrset(node.name_wire(), node, dname, dname.ttl)?;
    let Some(target) = dname.first() else {
        return Ok(None);
    };
    let prefix = &name[..name.len() - node.name_wire().len()];
    let Some(synthesized) = NameBuf::concat(prefix, target) else {
        return Ok(None);
    };
    // The synthesized CNAME carries the DNAME's TTL (RFC 6672 §3.3) and no
    // signature: validators derive it from the DNAME.
    sections.put_unsigned(owner, types::CNAME, dname.ttl, synthesized.as_wire())?;
    Ok(Some(NameBuf::lowercase(synthesized.as_wire())))
}

/// Notes the names in NS, MX and SRV RDATA whose addresses belong in the
/// additional section (RFC 1035 §3.3.9 and §3.3.11, RFC 2782).
fn note_targets<'a>(resolution: &mut Resolution<'a>, rrset: RRset<'a>) {
    let skip = match rrset.rtype {
        types::NS => 0,
        types::MX => 2,
        types::SRV => 6,
        _ => return,
    };
    for target in rrset.rdata().filter_map(|rdata| rdata.get(skip..)) {
        resolution.targets.note(target);
    }
}
