//! RDATA lists: records of one RRset packed into one buffer, each as its
//! length (two octets, network order) and its RDATA, as in a message.
//!
//! A zone node stores its RRsets this way, the signer its RRSIGs and a
//! LUA evaluation what it produced, so each is one allocation however many
//! records it holds.

/// Appends `rdata` to the list in `out`. RDATA longer than 65,535 octets
/// cannot exist on the wire; callers never have any.
pub fn push(out: &mut Vec<u8>, rdata: &[u8]) {
    debug_assert!(rdata.len() <= usize::from(u16::MAX));
    out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    out.extend_from_slice(rdata);
}

/// The RDATAs of a list, in order; a truncated last entry ends it.
pub fn iter(list: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = list;
    std::iter::from_fn(move || {
        let (length, tail) = rest.split_at_checked(2)?;
        let length = usize::from(u16::from_be_bytes([length[0], length[1]]));
        let (rdata, tail) = tail.split_at_checked(length)?;
        rest = tail;
        Some(rdata)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut list = Vec::new();
        push(&mut list, b"one");
        push(&mut list, b"");
        push(&mut list, b"three");
        assert_eq!(iter(&list).collect::<Vec<_>>(), [&b"one"[..], b"", b"three"]);
        list.pop();
        assert_eq!(iter(&list).count(), 2, "a truncated entry ends the list");
    }
}
