//! Questions answered without looking at any zone.

use base::header::rcode;
use base::{class, types};

use super::query::Query;

/// The RCODE for a question no zone is consulted for, or `None` when it is
/// to be answered. `ecs` tells whether Client Subnet options are read.
pub(super) fn refusal(query: &Query, ecs: bool) -> Option<u16> {
    if query.qclass != class::IN {
        return Some(rcode::REFUSED);
    }
    match query.qtype {
        // Meta types that only make sense in other message sections
        // (RFC 6891 §6.1.1, RFC 8945 §5.1, RFC 2930).
        types::OPT | types::TSIG | types::TKEY => return Some(rcode::FORMERR),
        // Zone transfers go over TCP (RFC 5936 §4.2; an IXFR that would
        // not fit UDP would be answered with the SOA alone, RFC 1995 §2):
        // over UDP they are refused, as for a denied ACL.
        types::AXFR | types::IXFR => return Some(rcode::REFUSED),
        // MAILA and MAILB are obsolete (RFC 2505 §6, RFC 883).
        types::MAILA | types::MAILB => return Some(rcode::NOTIMP),
        _ => {}
    }
    // RFC 7871 §7.2.1: a malformed Client Subnet is a format error.
    if ecs && query.edns.is_some_and(|edns| edns.bad_client_subnet) {
        return Some(rcode::FORMERR);
    }
    None
}
