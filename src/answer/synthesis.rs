//! LUA and ALIAS records in the answer: evaluating a name's programs of
//! one type into an RRset, merged with the static records of that type as
//! PowerDNS merges them, each record once.

use std::cell::RefCell;

use base::rdata::canonical::canonical_rdata;
use base::rdata::list;
use base::types;
use base::NameBuf;

use super::sections::Sections;
use super::writer::Full;
use super::Resolution;
use crate::lua::Program;
use crate::zone::Node;

thread_local! {
    /// RDATA produced by LUA records, as an RDATA list; one buffer per
    /// thread, reused by every answer.
    static PRODUCED: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// What the LUA records of one type answered.
pub(super) enum Synthesized {
    /// Records were written; for a CNAME, its target (lowercased), which
    /// the chain follows.
    Written { first_target: Option<Box<NameBuf>> },
    /// The programs produced no record.
    Empty,
    /// A program failed: the query gets SERVFAIL.
    Failed,
}

/// Answers `rtype` at `node` from `programs` (the node's LUA records) and
/// the node's static records of that type, writing them under `owner`.
pub(super) fn answer<'a>(
    resolution: &mut Resolution<'a>,
    node: &'a Node,
    owner: &[u8],
    rtype: u16,
    programs: &[Program],
    sections: &mut Sections<'_, '_, 'a>,
) -> Result<Synthesized, Full> {
    let mut produced = PRODUCED.with(|buffer| std::mem::take(&mut *buffer.borrow_mut()));
    produced.clear();
    let answer = produce_and_write(resolution, node, owner, rtype, programs, &mut produced, sections);
    PRODUCED.with(|buffer| *buffer.borrow_mut() = produced);
    answer
}

fn produce_and_write<'a>(
    resolution: &mut Resolution<'a>,
    node: &'a Node,
    owner: &[u8],
    rtype: u16,
    programs: &[Program],
    produced: &mut Vec<u8>,
    sections: &mut Sections<'_, '_, 'a>,
) -> Result<Synthesized, Full> {
    let Some(zone_programs) = resolution.programs else {
        return Ok(Synthesized::Empty);
    };
    // The TTL of the records the answer comes from: LUA, ALIAS, static.
    let ttl = [types::LUA, types::ALIAS, rtype]
        .into_iter()
        .filter_map(|source| node.rrset(source))
        .map(|rrset| rrset.ttl)
        .min()
        .unwrap_or(0);
    if let Some(rrset) = node.rrset(rtype) {
        for rdata in rrset.rdata() {
            list::push(produced, rdata);
        }
    }
    for program in programs.iter().filter(|program| program.rtype() == rtype) {
        // The name as asked: scripts see its case, as in PowerDNS.
        match program.evaluate(owner, resolution.client, zone_programs, produced) {
            Ok(dependent) => resolution.client_dependent |= dependent,
            Err(_) => return Ok(Synthesized::Failed),
        }
    }
    // An RRset holds each record once (RFC 2181 §5), whatever the records
    // and programs produced; equal as DNSSEC compares them (RFC 4034
    // §6.2), so the answer is exactly what its RRSIG covers.
    drop_duplicates(rtype, produced);
    let Some(first) = list::iter(produced).next() else {
        return Ok(Synthesized::Empty);
    };
    let first_target = (rtype == types::CNAME).then(|| Box::new(NameBuf::lowercase(first)));
    sections.put_synthesized(owner, node, rtype, ttl, produced)?;
    Ok(Synthesized::Written { first_target })
}

/// Removes from the RDATA list `produced` every record equal to an earlier
/// one, records compared in canonical form; in place, without allocating.
fn drop_duplicates(rtype: u16, produced: &mut Vec<u8>) {
    let mut kept = 0;
    let mut read = 0;
    loop {
        let Some(rdata) = list::iter(&produced[read..]).next() else {
            break;
        };
        let entry = 2 + rdata.len();
        let canonical = canonical_rdata(rtype, rdata);
        let repeated = list::iter(&produced[..kept]).any(|earlier| canonical_rdata(rtype, earlier) == canonical);
        drop(canonical);
        if !repeated {
            produced.copy_within(read..read + entry, kept);
            kept += entry;
        }
        read += entry;
    }
    produced.truncate(kept);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_records_equal_in_canonical_form() {
        let mut produced = Vec::new();
        for rdata in [&b"\x03WWW\x00"[..], b"\x03www\x00", b"\x04mail\x00", b"\x03wWw\x00"] {
            list::push(&mut produced, rdata);
        }
        let mut names = produced.clone();
        drop_duplicates(types::CNAME, &mut names);
        assert_eq!(
            list::iter(&names).collect::<Vec<_>>(),
            [&b"\x03WWW\x00"[..], b"\x04mail\x00"]
        );
        drop_duplicates(types::TXT, &mut produced);
        assert_eq!(list::iter(&produced).count(), 4, "TXT compares case-sensitively");
    }
}
