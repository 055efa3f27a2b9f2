//! CHAOS-class questions about the server itself, as Knot and BIND answer
//! them: `id.server` and `hostname.bind` give the node's identity,
//! `version.server` and `version.bind` the configured version string
//! (RFC 4892 §2.2 on `id.server`). Operators tell anycast nodes apart by
//! them, and by NSID (RFC 5001), which the finish stage adds.

use base::header::{flag, rcode};
use base::types;

use super::query::Query;
use super::writer::{Full, MessageWriter, Section};
use super::Status;

/// Answers a CHAOS question from `identity` and `version` (empty: not
/// told): TXT (or ANY) at one of the four names gets the string, another
/// type there no data, any other name REFUSED.
pub(super) fn answer(query: &Query, identity: &str, version: &str, writer: &mut MessageWriter<'_>) -> Status {
    let text = match query.qname_lower() {
        b"\x02id\x06server\x00" | b"\x08hostname\x04bind\x00" => identity,
        b"\x07version\x06server\x00" | b"\x07version\x04bind\x00" => version,
        _ => return Status::Complete(rcode::REFUSED),
    };
    if text.is_empty() {
        return Status::Complete(rcode::REFUSED);
    }
    writer.set_flags(flag::AA);
    if !matches!(query.qtype, types::TXT | types::ANY) {
        return Status::Complete(rcode::NOERROR);
    }
    writer.section(Section::Answer);
    Status::from(push_txt(writer, query.qname(), text).map(|()| rcode::NOERROR))
}

/// One TXT record of class CH holding `text`, in strings of at most 255
/// octets.
fn push_txt(writer: &mut MessageWriter<'_>, owner: &[u8], text: &str) -> Result<(), Full> {
    let mut rdata = Vec::with_capacity(text.len() + 2);
    for chunk in text.as_bytes().chunks(255) {
        rdata.push(chunk.len() as u8);
        rdata.extend_from_slice(chunk);
    }
    writer.push_with_class(owner, types::TXT, base::class::CH, 0, &rdata)
}
