//! Writing presentation RDATA: the cursor over wire RDATA every type's
//! writer uses, and the shared text forms (character-strings, RFC 3597).

use std::fmt::Write as _;

use data_encoding::HEXUPPER;

use super::RdataError;
use crate::name::Name;
use crate::types;

/// Cursor over wire RDATA for formatting.
pub(super) struct Reader<'a> {
    /// The record type, for error messages.
    pub rtype: u16,
    /// The part not read yet.
    pub wire: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A [`RdataError::Malformed`] for this record type.
    pub fn malformed(&self, reason: impl Into<String>) -> RdataError {
        RdataError::Malformed {
            rtype: types::type_to_string(self.rtype),
            reason: reason.into(),
        }
    }

    /// The next `n` octets.
    pub fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], RdataError> {
        let Some((head, tail)) = self.wire.split_at_checked(n) else {
            return Err(self.malformed(format!("truncated {what}")));
        };
        self.wire = tail;
        Ok(head)
    }

    /// The next `N` octets as an array.
    pub fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], RdataError> {
        let bytes = self.take(N, what)?;
        bytes
            .try_into()
            .map_err(|_| self.malformed(format!("truncated {what}")))
    }

    /// The next octet.
    pub fn u8(&mut self, what: &str) -> Result<u8, RdataError> {
        Ok(self.array::<1>(what)?[0])
    }

    /// The next 16-bit number.
    pub fn u16(&mut self, what: &str) -> Result<u16, RdataError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    /// The next 32-bit number.
    pub fn u32(&mut self, what: &str) -> Result<u32, RdataError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }

    /// The next uncompressed domain name.
    pub fn name(&mut self, what: &str) -> Result<Name, RdataError> {
        let (name, used) = Name::from_wire_prefix(self.wire).map_err(|e| self.malformed(format!("{what}: {e}")))?;
        self.wire = &self.wire[used..];
        Ok(name)
    }

    /// The next character-string, without its length octet.
    pub fn char_string(&mut self, what: &str) -> Result<&'a [u8], RdataError> {
        let len = self.u8(what)?;
        self.take(usize::from(len), what)
    }

    /// Everything not read yet.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.wire)
    }

    /// Errors if anything is left unread.
    pub fn finish(&self) -> Result<(), RdataError> {
        if self.wire.is_empty() {
            return Ok(());
        }
        Err(self.malformed(format!("{} octets of trailing data", self.wire.len())))
    }
}

/// Appends `bytes` as a quoted character-string: `"` and `\` escaped, non-printable octets as `\DDD`.
pub(super) fn write_quoted(out: &mut String, bytes: &[u8]) {
    out.push('"');
    for &b in bytes {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x20..=0x7e => out.push(char::from(b)),
            _ => put!(out, "\\{b:03}"),
        }
    }
    out.push('"');
}

/// Appends the generic form `\# <length> <HEX>` (RFC 3597 §5).
pub(super) fn write_generic(out: &mut String, wire: &[u8]) {
    put!(out, "\\# {}", wire.len());
    if !wire.is_empty() {
        out.push(' ');
        out.push_str(&HEXUPPER.encode(wire));
    }
}
