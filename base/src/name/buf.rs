//! A name held inline, for paths that must not allocate.

use super::{wire, MAX_NAME_LEN};

/// A domain name in uncompressed wire form, stored on the stack.
///
/// The answer path follows CNAME and DNAME chains and builds wildcard
/// owners with these; a [`crate::Name`] would cost an allocation each.
/// Contents are whatever the constructors were given: callers pass names
/// they read from a parsed query or a zone, which are valid.
#[derive(Clone, Copy)]
pub struct NameBuf {
    bytes: [u8; MAX_NAME_LEN],
    len: u8,
}

impl NameBuf {
    /// The empty buffer (not a name; the root is `b"\0"`).
    pub const EMPTY: NameBuf = NameBuf {
        bytes: [0; MAX_NAME_LEN],
        len: 0,
    };

    /// A copy of the name at the start of `data`, up to and including its
    /// root label; anything after it (the rest of some RDATA) is left out.
    pub fn from_wire(data: &[u8]) -> NameBuf {
        let end = wire::name_len(data).unwrap_or(data.len()).min(MAX_NAME_LEN);
        let mut buf = NameBuf::EMPTY;
        buf.bytes[..end].copy_from_slice(&data[..end]);
        buf.len = end as u8;
        buf
    }

    /// Like [`NameBuf::from_wire`], with ASCII letters lowercased.
    pub fn lowercase(data: &[u8]) -> NameBuf {
        let mut buf = NameBuf::from_wire(data);
        buf.bytes[..usize::from(buf.len)].make_ascii_lowercase();
        buf
    }

    /// `prefix` (labels without a root) followed by `suffix` (a name);
    /// `None` when the result would be longer than 255 octets.
    pub fn concat(prefix: &[u8], suffix: &[u8]) -> Option<NameBuf> {
        let total = prefix.len() + suffix.len();
        if total > MAX_NAME_LEN {
            return None;
        }
        let mut buf = NameBuf::EMPTY;
        buf.bytes[..prefix.len()].copy_from_slice(prefix);
        buf.bytes[prefix.len()..total].copy_from_slice(suffix);
        buf.len = total as u8;
        Some(buf)
    }

    /// The name's wire octets.
    pub fn as_wire(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// Whether this name is `suffix` or below it, ignoring ASCII case.
    pub fn ends_with(&self, suffix: &[u8]) -> bool {
        wire::ends_with(self.as_wire(), suffix)
    }
}

impl PartialEq for NameBuf {
    fn eq(&self, other: &NameBuf) -> bool {
        self.as_wire() == other.as_wire()
    }
}

impl std::fmt::Debug for NameBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match crate::Name::from_wire(self.as_wire()) {
            Ok(name) => write!(f, "NameBuf(\"{name}\")"),
            Err(_) => write!(f, "NameBuf({:?})", self.as_wire()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_and_joins() {
        let name = NameBuf::lowercase(b"\x03WWW\x07example\x00\x00\x01");
        assert_eq!(name.as_wire(), b"\x03www\x07example\x00");
        assert!(name.ends_with(b"\x07EXAMPLE\x00"));
        let wildcard = NameBuf::concat(b"\x01*", b"\x07example\x00").expect("fits");
        assert_eq!(wildcard.as_wire(), b"\x01*\x07example\x00");
        assert!(NameBuf::concat(&[1; 200], &[1; 60]).is_none());
    }
}
