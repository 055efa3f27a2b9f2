//! Names as the octets they are on the wire (RFC 1035 §3.1), borrowed.
//!
//! The answer path, the zone and the signer work on names inside buffers
//! they already hold: a zone node's data, a query, RDATA. These functions
//! read such a slice without copying it. They expect an uncompressed name
//! that starts at the slice's first octet; on malformed input they stop
//! where the input stops making sense instead of panicking.

use std::cmp::Ordering;

use super::MAX_NAME_LEN;

/// The labels from left to right, without their length octets; the root
/// label is not included.
pub fn labels(name: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = name;
    std::iter::from_fn(move || {
        let (&len, tail) = rest.split_first()?;
        if len == 0 {
            return None;
        }
        let (label, tail) = tail.split_at_checked(usize::from(len))?;
        rest = tail;
        Some(label)
    })
}

/// Number of labels, the root not counted.
pub fn label_count(name: &[u8]) -> usize {
    labels(name).count()
}

/// The name with its first label removed; `None` for the root.
pub fn parent(name: &[u8]) -> Option<&[u8]> {
    match name.first() {
        Some(&len) if len > 0 => name.get(usize::from(len) + 1..),
        _ => None,
    }
}

/// Length of the uncompressed name at the start of `data`, root label
/// included; `None` when `data` does not start with one (a label over 63
/// octets, a compression pointer, more than 255 octets, or no root label).
pub fn name_len(data: &[u8]) -> Option<usize> {
    let mut pos = 0;
    loop {
        let len = *data.get(pos)?;
        if len > 63 {
            return None;
        }
        pos += 1 + usize::from(len);
        if pos > MAX_NAME_LEN {
            return None;
        }
        if len == 0 {
            return Some(pos);
        }
    }
}

/// Skips the possibly compressed name at `pos` of message `msg`; returns
/// the offset after it, `None` when it is malformed or cut short.
pub fn skip_name(msg: &[u8], mut pos: usize) -> Option<usize> {
    let mut total = 0;
    loop {
        let label = *msg.get(pos)?;
        match label {
            0 => return Some(pos + 1),
            1..=63 => {
                total += label as usize + 1;
                if total > 255 {
                    return None;
                }
                pos += label as usize + 1;
            }
            // A pointer ends the name in this position; where it points
            // does not matter for skipping (RFC 1035 §4.1.4).
            0xc0..=0xff => {
                msg.get(pos + 1)?;
                return Some(pos + 2);
            }
            _ => return None,
        }
    }
}

/// Whether `name` is `suffix` or below it, comparing whole labels and
/// ignoring ASCII case (RFC 4343).
pub fn ends_with(name: &[u8], suffix: &[u8]) -> bool {
    let Some(target) = name.len().checked_sub(suffix.len()) else {
        return false;
    };
    let mut pos = 0;
    while pos < target {
        match name[pos] {
            0 => return false,
            len => pos += 1 + usize::from(len),
        }
    }
    pos == target && name[pos..].eq_ignore_ascii_case(suffix)
}

/// Canonical DNS order (RFC 4034 §6.1): label by label from the right,
/// each label compared as lowercased octets, a name before the names
/// below it.
pub fn canonical_cmp(a: &[u8], b: &[u8]) -> Ordering {
    let mut a_starts = [0u8; MAX_NAME_LEN / 2];
    let mut b_starts = [0u8; MAX_NAME_LEN / 2];
    let a_count = label_starts(a, &mut a_starts);
    let b_count = label_starts(b, &mut b_starts);
    for (&i, &j) in a_starts[..a_count].iter().rev().zip(b_starts[..b_count].iter().rev()) {
        let order = label_at(a, i)
            .iter()
            .map(u8::to_ascii_lowercase)
            .cmp(label_at(b, j).iter().map(u8::to_ascii_lowercase));
        if order != Ordering::Equal {
            return order;
        }
    }
    a_count.cmp(&b_count)
}

/// Fills `out` with the offset of every label's length octet, root
/// excluded, left to right; returns how many there are.
fn label_starts(name: &[u8], out: &mut [u8; MAX_NAME_LEN / 2]) -> usize {
    let mut count = 0;
    let mut pos = 0;
    while let Some(&len) = name.get(pos) {
        if len == 0 || count == out.len() || pos > usize::from(u8::MAX) {
            break;
        }
        out[count] = pos as u8;
        count += 1;
        pos += 1 + usize::from(len);
    }
    count
}

/// The label whose length octet is at `offset`.
fn label_at(name: &[u8], offset: u8) -> &[u8] {
    let start = usize::from(offset) + 1;
    let len = name.get(usize::from(offset)).map_or(0, |&len| usize::from(len));
    name.get(start..start + len).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Name;

    fn wire(text: &str) -> Vec<u8> {
        text.parse::<Name>().expect("valid test name").as_wire().to_vec()
    }

    #[test]
    fn reads_structure() {
        let name = wire("www.Example.test.");
        assert_eq!(labels(&name).collect::<Vec<_>>(), [&b"www"[..], b"Example", b"test"]);
        assert_eq!(label_count(&name), 3);
        assert_eq!(label_count(b"\x00"), 0);
        assert_eq!(parent(&name), Some(&name[4..]));
        assert_eq!(parent(b"\x00"), None);
        assert_eq!(name_len(b"\x01a\x00rest"), Some(3));
        assert_eq!(name_len(b"\x01a"), None);
        assert_eq!(name_len(b"\xc0\x0c"), None);
    }

    #[test]
    fn compares_suffixes_on_label_boundaries() {
        let name = wire("www.Example.test.");
        assert!(ends_with(&name, &wire("example.TEST.")));
        assert!(ends_with(&name, &name));
        assert!(ends_with(&name, b"\x00"));
        assert!(!ends_with(&name, &wire("ample.test.")));
        assert!(!ends_with(&wire("test."), &name));
    }

    #[test]
    fn orders_canonically() {
        for pair in crate::name::tests::RFC4034_ORDER.windows(2) {
            assert_eq!(
                canonical_cmp(&wire(pair[0]), &wire(pair[1])),
                Ordering::Less,
                "{pair:?}"
            );
            assert_eq!(
                canonical_cmp(&wire(pair[1]), &wire(pair[0])),
                Ordering::Greater,
                "{pair:?}"
            );
        }
        assert_eq!(canonical_cmp(&wire("A.example."), &wire("a.EXAMPLE.")), Ordering::Equal);
    }
}
