//! The finish stage: RCODE, the OPT record (RFC 6891 §6.1.2) with any
//! Client Subnet echoed (RFC 7871 §7.2.1), the NSID asked for (RFC 5001
//! §2.2) and the cookies (RFC 7873 §5.2), and truncation (RFC 2181 §9):
//! a reply that did not fit keeps only header and question, with TC set.

use base::edns::{ClientSubnet, OPTION_COOKIE, OPTION_NSID};
use base::header::{flag, rcode};

use super::query::{ParseError, Query};
use super::writer::{MessageWriter, Section};
use super::{Status, Summary};

/// Completes the response in `writer` for `status`. `subnet` is the
/// client's subnet when Client Subnet is honoured, with whether the answer
/// depended on it; `nsid` the identity to answer an NSID request with;
/// `cookie` the COOKIE option to answer with.
pub(super) fn finish(
    mut writer: MessageWriter<'_>,
    status: Status,
    query: &Query,
    subnet: Option<(ClientSubnet, bool)>,
    nsid: Option<&str>,
    cookie: Option<[u8; super::cookie::ANSWER_LEN]>,
    max_udp_payload: u16,
) -> Summary {
    let (rcode, truncated) = match status {
        Status::Complete(rcode) => (rcode, false),
        Status::Truncated => {
            writer.drop_records();
            writer.set_flags(flag::TC);
            (rcode::NOERROR, true)
        }
    };
    writer.set_rcode(rcode);
    if let Some(edns) = query.edns {
        writer.section(Section::Additional);
        writer.push_opt(max_udp_payload, rcode, edns.dnssec_ok);
        if let Some((subnet, client_dependent)) = subnet {
            // RFC 7871 §7.2.1: the scope is the source prefix when the
            // answer depended on it, else 0 (valid for everyone).
            let scope = if client_dependent { subnet.source_prefix } else { 0 };
            writer.push_client_subnet(&subnet, scope);
        }
        if let Some(identity) = nsid {
            writer.push_option(OPTION_NSID, identity.as_bytes());
        }
        if let Some(cookie) = cookie {
            writer.push_option(OPTION_COOKIE, &cookie);
        }
    }
    writer.finish();
    Summary {
        rcode,
        qtype: query.qtype,
        truncated,
        wildcard: false,
        valid_cookie: false,
    }
}

/// The reply to a message that did not parse as a query we answer;
/// `None` when it gets no reply at all.
pub(super) fn malformed(
    error: ParseError,
    query: &Query,
    flags: u16,
    max_udp_payload: u16,
    out: &mut Vec<u8>,
) -> Option<Summary> {
    let rcode = match error {
        ParseError::Drop => return None,
        ParseError::FormErr { question } => {
            let mut writer = MessageWriter::header_only(out, query, flags, question);
            writer.set_rcode(rcode::FORMERR);
            writer.finish();
            rcode::FORMERR
        }
        ParseError::NotImp { question } => {
            let mut writer = MessageWriter::header_only(out, query, flags, question);
            writer.set_rcode(rcode::NOTIMP);
            if let Some(edns) = query.edns {
                // RFC 6891 §6.1.1: a request with OPT gets one back.
                writer.section(Section::Additional);
                writer.push_opt(max_udp_payload, rcode::NOTIMP, edns.dnssec_ok);
            }
            writer.finish();
            rcode::NOTIMP
        }
        ParseError::BadVers => {
            // RFC 6891 §6.1.3: BADVERS, and the version we do speak (0).
            let mut writer = MessageWriter::new(out, query, flags, usize::MAX);
            writer.section(Section::Additional);
            writer.push_opt(max_udp_payload, rcode::BADVERS, false);
            writer.finish();
            rcode::BADVERS
        }
    };
    Some(Summary {
        rcode,
        qtype: query.qtype,
        truncated: false,
        wildcard: false,
        valid_cookie: false,
    })
}
