//! Domain names (RFC 1035 §3.1) kept in uncompressed wire format.
//!
//! A [`Name`] is always absolute and always valid: every constructor checks
//! label and name lengths, so code holding a `Name` never re-validates it.
//! Case is preserved as written; comparisons that follow DNS rules
//! (RFC 4343) are explicit methods.
//!
//! [`NameBuf`] holds a name inline for paths that must not allocate, and
//! [`wire`] reads names inside buffers without copying them.

mod buf;
pub mod wire;

pub use buf::NameBuf;

use std::cmp::Ordering;
use std::fmt::{self, Write as _};
use std::str::FromStr;

/// Longest name in wire format, root label included (RFC 1035 §2.3.4).
pub const MAX_NAME_LEN: usize = 255;

/// Longest single label (RFC 1035 §2.3.4).
pub const MAX_LABEL_LEN: usize = 63;

/// An absolute domain name in uncompressed wire format (RFC 1035 §3.1), case preserved.
///
/// The derived `Eq`, `Hash` and `Ord` compare the exact bytes and are therefore
/// case-sensitive. Use [`Name::eq_ignore_case`], [`Name::to_lowercase`] or
/// [`Name::cmp_canonical`] where DNS semantics are wanted.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name(Box<[u8]>);

/// Why text or wire data is not a valid domain name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// A label has more than 63 octets (RFC 1035 §2.3.4).
    #[error("label longer than 63 octets")]
    LabelTooLong,
    /// The whole name has more than 255 octets in wire format (RFC 1035 §2.3.4).
    #[error("name longer than 255 octets")]
    NameTooLong,
    /// Two dots in a row, or a leading dot.
    #[error("empty label")]
    EmptyLabel,
    /// The text was empty.
    #[error("empty name")]
    Empty,
    /// A backslash escape that is not `\X` or `\DDD` with DDD at most 255.
    #[error("bad escape \\{0}")]
    BadEscape(String),
    /// A relative name (or `@`) was given but there is no origin to append.
    #[error("relative name but no origin is known")]
    NoOrigin,
    /// Wire data ended before the root label.
    #[error("truncated name")]
    Truncated,
    /// A label type other than a plain length, such as a compression pointer.
    #[error("label type 0x{0:02x} is not allowed in an uncompressed name")]
    BadLabelType(u8),
    /// Wire data continues after the root label.
    #[error("data after the root label")]
    TrailingData,
    /// [`Name::replace_suffix`] was asked to replace a suffix the name does not have.
    #[error("{name} is not at or below {suffix}")]
    NotASubdomain {
        /// The name whose suffix was to be replaced.
        name: String,
        /// The suffix it lacks.
        suffix: String,
    },
}

impl Name {
    /// The root name, `.`.
    pub fn root() -> Name {
        Name(Box::new([0]))
    }

    /// Parses presentation format: absolute ("a.b."), relative to `origin` ("www"), "@" = origin, escapes `\.` `\\` `\DDD` (RFC 1035 §5.1, RFC 4343).
    ///
    /// A relative name without an origin is an error. Any other `\X` stands for
    /// the octet X itself; non-ASCII text is taken as its UTF-8 octets.
    pub fn parse(text: &str, origin: Option<&Name>) -> Result<Name, NameError> {
        let bytes = text.as_bytes();
        match bytes {
            [] => return Err(NameError::Empty),
            b"@" => return origin.cloned().ok_or(NameError::NoOrigin),
            b"." => return Ok(Name::root()),
            _ => {}
        }
        // Built on the stack so that the result costs exactly one allocation.
        let mut buf = [0u8; MAX_NAME_LEN];
        let mut len = 1; // buf[0] is the length octet of the first label
        let mut label_start = 0;
        let mut absolute = false;
        let mut i = 0;
        while i < bytes.len() {
            let octet = match bytes[i] {
                b'.' => {
                    let label_len = len - label_start - 1;
                    if label_len == 0 {
                        return Err(NameError::EmptyLabel);
                    }
                    buf[label_start] = label_len as u8;
                    i += 1;
                    if i == bytes.len() {
                        absolute = true;
                        break;
                    }
                    if len >= MAX_NAME_LEN {
                        return Err(NameError::NameTooLong);
                    }
                    label_start = len;
                    len += 1;
                    continue;
                }
                b'\\' => {
                    let (octet, used) = parse_escape(&bytes[i + 1..])?;
                    i += 1 + used;
                    octet
                }
                other => {
                    i += 1;
                    other
                }
            };
            if len - label_start > MAX_LABEL_LEN {
                return Err(NameError::LabelTooLong);
            }
            if len >= MAX_NAME_LEN {
                return Err(NameError::NameTooLong);
            }
            buf[len] = octet;
            len += 1;
        }
        let suffix: &[u8] = if absolute {
            &[0]
        } else {
            let label_len = len - label_start - 1;
            if label_len == 0 {
                return Err(NameError::EmptyLabel);
            }
            buf[label_start] = label_len as u8;
            match origin {
                Some(origin) => &origin.0,
                None => return Err(NameError::NoOrigin),
            }
        };
        let total = len + suffix.len();
        if total > MAX_NAME_LEN {
            return Err(NameError::NameTooLong);
        }
        buf[len..total].copy_from_slice(suffix);
        Ok(Name(Box::from(&buf[..total])))
    }

    /// From uncompressed wire bytes; validates label lengths, total length <= 255, terminating root label, nothing after it.
    pub fn from_wire(wire: &[u8]) -> Result<Name, NameError> {
        let len = wire_name_len(wire)?;
        if len != wire.len() {
            return Err(NameError::TrailingData);
        }
        Ok(Name(Box::from(wire)))
    }

    /// Reads an uncompressed name from the start of `wire`, returning it and the number of octets it used.
    ///
    /// Meant for names embedded in RDATA (RFC 3597 §4: never compressed in
    /// stored data); octets after the name are left for the caller.
    pub fn from_wire_prefix(wire: &[u8]) -> Result<(Name, usize), NameError> {
        let len = wire_name_len(wire)?;
        Ok((Name(Box::from(&wire[..len])), len))
    }

    /// Reads the possibly compressed name at `pos` of message `msg`
    /// (RFC 1035 §4.1.4); returns it and the offset after it where it
    /// appears. Every pointer must point before the label it replaces,
    /// which rules out loops.
    pub fn from_message(msg: &[u8], pos: usize) -> Result<(Name, usize), NameError> {
        let mut buf = [0u8; MAX_NAME_LEN];
        let mut len = 0;
        let mut at = pos;
        let mut end = None;
        loop {
            let label = *msg.get(at).ok_or(NameError::Truncated)?;
            match label {
                0 => {
                    buf[len] = 0;
                    len += 1;
                    return Ok((Name(Box::from(&buf[..len])), end.unwrap_or(at + 1)));
                }
                1..=63 => {
                    let bytes = msg.get(at..at + 1 + usize::from(label)).ok_or(NameError::Truncated)?;
                    if len + bytes.len() + 1 > MAX_NAME_LEN {
                        return Err(NameError::NameTooLong);
                    }
                    buf[len..len + bytes.len()].copy_from_slice(bytes);
                    len += bytes.len();
                    at += bytes.len();
                }
                0xc0..=0xff => {
                    let low = *msg.get(at + 1).ok_or(NameError::Truncated)?;
                    let target = usize::from(u16::from_be_bytes([label & 0x3f, low]));
                    if target >= at {
                        return Err(NameError::BadLabelType(label));
                    }
                    end.get_or_insert(at + 2);
                    at = target;
                }
                other => return Err(NameError::BadLabelType(other)),
            }
        }
    }

    /// The name in uncompressed wire format, root label included.
    pub fn as_wire(&self) -> &[u8] {
        &self.0
    }

    /// A copy with ASCII letters lowercased (RFC 4343 §3); other octets are kept.
    pub fn to_lowercase(&self) -> Name {
        // Length octets are at most 63, below 'A', so they pass through unchanged.
        Name(self.0.iter().map(u8::to_ascii_lowercase).collect())
    }

    /// True if no label contains an ASCII uppercase letter.
    pub fn is_lowercase(&self) -> bool {
        !self.0.iter().any(u8::is_ascii_uppercase)
    }

    /// Number of labels, not counting the root label (so the root has 0).
    pub fn label_count(&self) -> usize {
        self.labels().count()
    }

    /// The labels from left to right, without length octets; the root label is excluded.
    pub fn labels(&self) -> impl Iterator<Item = &[u8]> {
        wire::labels(&self.0)
    }

    /// True for the root name.
    pub fn is_root(&self) -> bool {
        self.0.len() == 1
    }

    /// True if the first label is `*` (RFC 4592 §2.1.1).
    pub fn is_wildcard(&self) -> bool {
        self.0.starts_with(&[1, b'*'])
    }

    /// The name with its first label removed; `None` for the root.
    pub fn parent(&self) -> Option<Name> {
        if self.is_root() {
            return None;
        }
        let skip = 1 + usize::from(self.0[0]);
        self.0.get(skip..).map(|rest| Name(Box::from(rest)))
    }

    /// True if self equals `other` or is below it; ASCII case-insensitive.
    pub fn ends_with(&self, other: &Name) -> bool {
        wire::ends_with(&self.0, &other.0)
    }

    /// True if both names are equal under ASCII case folding (RFC 4343 §3).
    pub fn eq_ignore_case(&self, other: &Name) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }

    /// Prepends a label ("*" for wildcards); error if too long.
    ///
    /// The label is taken as raw octets, without escape processing.
    pub fn prepend(&self, label: &[u8]) -> Result<Name, NameError> {
        if label.is_empty() {
            return Err(NameError::EmptyLabel);
        }
        if label.len() > MAX_LABEL_LEN {
            return Err(NameError::LabelTooLong);
        }
        let total = 1 + label.len() + self.0.len();
        if total > MAX_NAME_LEN {
            return Err(NameError::NameTooLong);
        }
        let mut wire = Vec::with_capacity(total);
        wire.push(label.len() as u8);
        wire.extend_from_slice(label);
        wire.extend_from_slice(&self.0);
        Ok(Name(wire.into_boxed_slice()))
    }

    /// Replace suffix `old` (which self must end with) by `new` — used for DNAME (RFC 6672 §2.2); error if result > 255 octets.
    ///
    /// `old` is matched case-insensitively; the labels kept from `self` keep their case.
    pub fn replace_suffix(&self, old: &Name, new: &Name) -> Result<Name, NameError> {
        if !self.ends_with(old) {
            return Err(NameError::NotASubdomain {
                name: self.to_string(),
                suffix: old.to_string(),
            });
        }
        let prefix = &self.0[..self.0.len() - old.0.len()];
        let total = prefix.len() + new.0.len();
        if total > MAX_NAME_LEN {
            return Err(NameError::NameTooLong);
        }
        let mut wire = Vec::with_capacity(total);
        wire.extend_from_slice(prefix);
        wire.extend_from_slice(&new.0);
        Ok(Name(wire.into_boxed_slice()))
    }

    /// Canonical DNS order (RFC 4034 §6.1): compare label by label from the right, lowercased octets.
    ///
    /// Within a label a shorter label that is a prefix of a longer one sorts first,
    /// and a name sorts before the names below it.
    pub fn cmp_canonical(&self, other: &Name) -> Ordering {
        wire::canonical_cmp(&self.0, &other.0)
    }
}

impl fmt::Display for Name {
    /// Presentation format with a trailing dot (`.` for the root).
    ///
    /// `.`, `\`, `"`, `(`, `)`, `;`, `@` and `$` are escaped with a backslash;
    /// whitespace, other control octets and non-ASCII octets are written as `\DDD`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_root() {
            return f.write_char('.');
        }
        for label in self.labels() {
            for &octet in label {
                match octet {
                    b'.' | b'\\' | b'"' | b'(' | b')' | b';' | b'@' | b'$' => {
                        f.write_char('\\')?;
                        f.write_char(char::from(octet))?;
                    }
                    0x21..=0x7e => f.write_char(char::from(octet))?,
                    _ => write!(f, "\\{octet:03}")?,
                }
            }
            f.write_char('.')?;
        }
        Ok(())
    }
}

impl fmt::Debug for Name {
    /// The presentation form inside `Name("...")`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name(\"{self}\")")
    }
}

impl FromStr for Name {
    type Err = NameError;

    /// Parses an absolute name; relative names are an error since there is no origin.
    fn from_str(text: &str) -> Result<Name, NameError> {
        Name::parse(text, None)
    }
}

/// Decodes the escape after a backslash: `\DDD` (exactly three digits, at most 255) or `\X`.
///
/// Returns the octet and how many input octets the escape used after the backslash.
fn parse_escape(rest: &[u8]) -> Result<(u8, usize), NameError> {
    match rest {
        [] => Err(NameError::BadEscape(String::new())),
        [d0, ..] if d0.is_ascii_digit() => {
            let digits = rest.get(..3).filter(|d| d.iter().all(u8::is_ascii_digit));
            let value = digits.map(|d| d.iter().fold(0u32, |v, &d| v * 10 + u32::from(d - b'0')));
            match value.and_then(|v| u8::try_from(v).ok()) {
                Some(octet) => Ok((octet, 3)),
                None => {
                    let shown = &rest[..rest.len().min(3)];
                    Err(NameError::BadEscape(String::from_utf8_lossy(shown).into_owned()))
                }
            }
        }
        [octet, ..] => Ok((*octet, 1)),
    }
}

/// Length in octets of the uncompressed name at the start of `wire`, validated.
fn wire_name_len(wire: &[u8]) -> Result<usize, NameError> {
    let mut pos = 0;
    loop {
        let len = *wire.get(pos).ok_or(NameError::Truncated)?;
        if len & 0xc0 != 0 {
            // 0b11 is a compression pointer (RFC 1035 §4.1.4); the rest are unused.
            return Err(NameError::BadLabelType(len));
        }
        pos += 1 + usize::from(len);
        if pos > MAX_NAME_LEN || (len != 0 && pos == MAX_NAME_LEN) {
            return Err(NameError::NameTooLong);
        }
        if len == 0 {
            return Ok(pos);
        }
        if pos >= wire.len() {
            return Err(NameError::Truncated);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses an absolute test name.
    fn name(text: &str) -> Name {
        text.parse().expect("valid test name")
    }

    #[test]
    fn parses_absolute_relative_and_origin() {
        let origin = name("example.com.");
        assert_eq!(name("www.example.com.").as_wire(), b"\x03www\x07example\x03com\x00");
        assert_eq!(Name::parse("www", Some(&origin)).unwrap(), name("www.example.com."));
        assert_eq!(Name::parse("@", Some(&origin)).unwrap(), origin);
        assert_eq!(name("."), Name::root());
        assert_eq!(Name::parse("www", None), Err(NameError::NoOrigin));
        assert_eq!(Name::parse("@", None), Err(NameError::NoOrigin));
        assert_eq!(Name::parse("", None), Err(NameError::Empty));
    }

    #[test]
    fn reads_compressed_names_from_messages() {
        // "example.com." at 2, "www" + pointer to it at 15.
        let msg = b"\0\0\x07example\x03com\x00\x03www\xc0\x02\xff";
        assert_eq!(Name::from_message(msg, 2).unwrap(), (name("example.com."), 15));
        assert_eq!(Name::from_message(msg, 15).unwrap(), (name("www.example.com."), 21));
        // A pointer to itself or forwards, and a cut name, are refused.
        assert!(Name::from_message(b"\xc0\x00", 0).is_err());
        assert!(Name::from_message(b"\x03www\xc0\x05\x00", 0).is_err());
        assert_eq!(Name::from_message(b"\x03ww", 0), Err(NameError::Truncated));
    }

    #[test]
    fn parses_escapes() {
        let n = name("a\\.b.c\\\\d.\\065\\032x.");
        assert_eq!(n.as_wire(), b"\x03a.b\x03c\\d\x03A x\x00");
        assert_eq!(n.label_count(), 3);
        assert_eq!(n.to_string(), "a\\.b.c\\\\d.A\\032x.");
        assert!(matches!(Name::parse("a\\256.", None), Err(NameError::BadEscape(e)) if e == "256"));
        assert!(matches!(Name::parse("a\\12.", None), Err(NameError::BadEscape(e)) if e == "12."));
        assert!(matches!(Name::parse("a\\", None), Err(NameError::BadEscape(_))));
        assert_eq!(NameError::BadEscape("12x".into()).to_string(), "bad escape \\12x");
    }

    #[test]
    fn rejects_bad_names() {
        assert_eq!(Name::parse("a..b.", None), Err(NameError::EmptyLabel));
        assert_eq!(Name::parse(".a.", None), Err(NameError::EmptyLabel));
        assert_eq!(Name::parse("..", None), Err(NameError::EmptyLabel));
        let long_label = "a".repeat(64);
        assert_eq!(
            Name::parse(&format!("{long_label}."), None),
            Err(NameError::LabelTooLong)
        );
        assert!(Name::parse(&format!("{}.", "a".repeat(63)), None).is_ok());
        // 127 one-octet labels use 254 octets with the root: the longest possible name.
        let longest = "a.".repeat(127);
        assert_eq!(name(&longest).as_wire().len(), 255);
        assert_eq!(Name::parse(&format!("b{longest}"), None), Err(NameError::NameTooLong));
        assert_eq!(Name::parse("a", Some(&name(&longest))), Err(NameError::NameTooLong));
        let four_63 = format!("{0}.{0}.{0}.{0}.", "a".repeat(63));
        assert_eq!(Name::parse(&four_63, None), Err(NameError::NameTooLong));
    }

    #[test]
    fn wire_validation() {
        assert_eq!(Name::from_wire(b"\x00").unwrap(), Name::root());
        assert_eq!(Name::from_wire(b"\x01a\x00").unwrap(), name("a."));
        assert_eq!(Name::from_wire(b""), Err(NameError::Truncated));
        assert_eq!(Name::from_wire(b"\x02a"), Err(NameError::Truncated));
        assert_eq!(Name::from_wire(b"\x01a"), Err(NameError::Truncated));
        assert_eq!(Name::from_wire(b"\x01a\x00\x00"), Err(NameError::TrailingData));
        assert_eq!(Name::from_wire(b"\xc0\x0c"), Err(NameError::BadLabelType(0xc0)));
        let mut long = Vec::new();
        for _ in 0..4 {
            long.push(63);
            long.extend_from_slice(&[b'a'; 63]);
        }
        long.push(0);
        assert_eq!(Name::from_wire(&long), Err(NameError::NameTooLong));
        let (n, used) = Name::from_wire_prefix(b"\x01a\x00rest").unwrap();
        assert_eq!((n, used), (name("a."), 3));
    }

    #[test]
    fn case_handling() {
        let mixed = name("WwW.Example.COM.");
        assert!(!mixed.is_lowercase());
        assert_eq!(mixed.to_lowercase(), name("www.example.com."));
        assert!(mixed.to_lowercase().is_lowercase());
        assert_ne!(mixed, name("www.example.com."));
        assert!(mixed.eq_ignore_case(&name("www.example.com.")));
        assert!(mixed.ends_with(&name("example.com.")));
        assert!(mixed.ends_with(&name("WWW.example.com.")));
        assert!(mixed.ends_with(&Name::root()));
        assert!(!mixed.ends_with(&name("ample.com.")));
        assert!(!name("com.").ends_with(&name("example.com.")));
    }

    #[test]
    fn structure() {
        let n = name("*.b.c.");
        assert!(n.is_wildcard());
        assert!(!name("a*.b.").is_wildcard());
        assert_eq!(n.labels().collect::<Vec<_>>(), vec![&b"*"[..], b"b", b"c"]);
        assert_eq!(n.parent(), Some(name("b.c.")));
        assert_eq!(name("c.").parent(), Some(Name::root()));
        assert_eq!(Name::root().parent(), None);
        assert_eq!(Name::root().label_count(), 0);
        assert!(Name::root().is_root());
        assert_eq!(name("b.c.").prepend(b"*").unwrap(), n);
        assert_eq!(name("b.").prepend(b""), Err(NameError::EmptyLabel));
        assert_eq!(name("b.").prepend(&[b'x'; 64]), Err(NameError::LabelTooLong));
        assert_eq!(name(&"a.".repeat(127)).prepend(b"b"), Err(NameError::NameTooLong));
    }

    #[test]
    fn dname_substitution() {
        let qname = name("Www.Sub.Example.");
        let out = qname
            .replace_suffix(&name("sub.example."), &name("other.test."))
            .unwrap();
        assert_eq!(out.to_string(), "Www.other.test.");
        assert!(matches!(
            qname.replace_suffix(&name("nope."), &name("x.")),
            Err(NameError::NotASubdomain { .. })
        ));
        let long_target = name(&format!("{0}.{0}.{0}.", "a".repeat(63)));
        assert_eq!(
            name(&format!("{0}.{0}.example.", "b".repeat(60))).replace_suffix(&name("example."), &long_target),
            Err(NameError::NameTooLong)
        );
    }

    /// The example list of RFC 4034 §6.1, in canonical order.
    pub(crate) const RFC4034_ORDER: [&str; 9] = [
        "example.",
        "a.example.",
        "yljkjljk.a.example.",
        "Z.a.example.",
        "zABC.a.EXAMPLE.",
        "z.example.",
        "\\001.z.example.",
        "*.z.example.",
        "\\200.z.example.",
    ];

    #[test]
    fn canonical_order_matches_rfc4034() {
        for pair in RFC4034_ORDER.windows(2) {
            let (a, b) = (name(pair[0]), name(pair[1]));
            assert_eq!(a.cmp_canonical(&b), Ordering::Less, "{a} < {b}");
            assert_eq!(b.cmp_canonical(&a), Ordering::Greater, "{b} > {a}");
        }
        assert_eq!(name("A.example.").cmp_canonical(&name("a.EXAMPLE.")), Ordering::Equal);
        assert_eq!(Name::root().cmp_canonical(&name("a.")), Ordering::Less);
        assert_eq!(name("ab.").cmp_canonical(&name("a.")), Ordering::Greater);
    }

    #[test]
    fn display_escapes() {
        let n = Name::root().prepend(b"a b\"();@$\x7f\xff").unwrap();
        assert_eq!(n.to_string(), "a\\032b\\\"\\(\\)\\;\\@\\$\\127\\255.");
        assert_eq!(Name::parse(&n.to_string(), None).unwrap(), n);
        assert_eq!(Name::root().to_string(), ".");
        assert_eq!(format!("{:?}", name("a.b.")), "Name(\"a.b.\")");
    }
}
