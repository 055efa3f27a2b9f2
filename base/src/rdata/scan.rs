//! Reading presentation RDATA: the token cursor every type's parser
//! uses, and the text helpers behind it (RFC 1035 §5.1).

use data_encoding::{BASE64, HEXLOWER_PERMISSIVE};

use super::{parse_ttl, RdataError, Token};
use crate::name::Name;
use crate::types;

/// State for parsing one record's presentation RDATA.
pub(super) struct Parser<'t, 'a> {
    /// The record type being parsed.
    pub rtype: u16,
    /// The RDATA tokens.
    pub tokens: &'t [Token<'a>],
    /// Origin for relative names, if known.
    pub origin: Option<&'t Name>,
    /// Wire RDATA built so far.
    pub out: Vec<u8>,
}

impl<'a> Parser<'_, 'a> {
    /// Errors unless there are exactly `n` tokens.
    pub fn expect(&self, n: usize) -> Result<(), RdataError> {
        if self.tokens.len() == n {
            return Ok(());
        }
        Err(RdataError::FieldCount {
            rtype: types::type_to_string(self.rtype),
            expected: if n == 1 {
                "1 field".into()
            } else {
                format!("{n} fields")
            },
            found: self.tokens.len(),
        })
    }

    /// Errors unless there are at least `n` tokens.
    pub fn expect_at_least(&self, n: usize) -> Result<(), RdataError> {
        if self.tokens.len() >= n {
            return Ok(());
        }
        Err(RdataError::FieldCount {
            rtype: types::type_to_string(self.rtype),
            expected: format!("at least {n} field{}", if n == 1 { "" } else { "s" }),
            found: self.tokens.len(),
        })
    }

    /// Token `i`, which the caller has checked exists.
    pub fn token(&self, i: usize) -> Result<&Token<'a>, RdataError> {
        self.tokens.get(i).ok_or_else(|| RdataError::FieldCount {
            rtype: types::type_to_string(self.rtype),
            expected: format!("at least {} fields", i + 1),
            found: self.tokens.len(),
        })
    }

    /// Appends token `i` as one octet.
    pub fn u8(&mut self, i: usize, field: &'static str) -> Result<u8, RdataError> {
        let value = number(self.token(i)?.text, field, "an 8-bit number", u64::from(u8::MAX))?;
        self.out.push(value as u8);
        Ok(value as u8)
    }

    /// Appends token `i` as a 16-bit number in network order.
    pub fn u16(&mut self, i: usize, field: &'static str) -> Result<(), RdataError> {
        let value = number(self.token(i)?.text, field, "a 16-bit number", u64::from(u16::MAX))?;
        self.out.extend_from_slice(&(value as u16).to_be_bytes());
        Ok(())
    }

    /// Appends token `i` as a 32-bit number in network order.
    pub fn u32(&mut self, i: usize, field: &'static str) -> Result<(), RdataError> {
        let value = number(self.token(i)?.text, field, "a 32-bit number", u64::from(u32::MAX))?;
        self.out.extend_from_slice(&(value as u32).to_be_bytes());
        Ok(())
    }

    /// Appends token `i`, seconds or a duration with units, as a 32-bit number.
    pub fn duration(&mut self, i: usize, field: &'static str) -> Result<(), RdataError> {
        let text = self.token(i)?.text;
        let value = parse_ttl(text).ok_or_else(|| RdataError::Number {
            field,
            kind: "a 32-bit number of seconds or a duration like 1h30m",
            text: text.into(),
        })?;
        self.out.extend_from_slice(&value.to_be_bytes());
        Ok(())
    }

    /// Appends token `i` as an uncompressed domain name.
    pub fn name(&mut self, i: usize, field: &'static str) -> Result<(), RdataError> {
        let text = self.token(i)?.text;
        let name = Name::parse(text, self.origin).map_err(|error| RdataError::Name {
            field,
            text: text.into(),
            error,
        })?;
        self.out.extend_from_slice(name.as_wire());
        Ok(())
    }

    /// Parses a record whose only field is a name.
    pub fn single_name(&mut self, field: &'static str) -> Result<(), RdataError> {
        self.expect(1)?;
        self.name(0, field)
    }

    /// Appends token `i` as a length-prefixed character-string (RFC 1035 §3.3).
    pub fn char_string(&mut self, i: usize, field: &'static str) -> Result<(), RdataError> {
        let text = self.token(i)?.text;
        let at = self.out.len();
        self.out.push(0);
        unescape_into(&mut self.out, text)?;
        let len = self.out.len() - at - 1;
        self.out[at] = u8::try_from(len).map_err(|_| RdataError::StringTooLong { field })?;
        Ok(())
    }
}

/// Parses a decimal number of at most `max`, for the field named `field`.
pub(super) fn number(text: &str, field: &'static str, kind: &'static str, max: u64) -> Result<u64, RdataError> {
    parse_u64(text).filter(|&v| v <= max).ok_or_else(|| RdataError::Number {
        field,
        kind,
        text: text.into(),
    })
}

/// Parses plain decimal digits (no sign, no spaces) into a `u64`.
pub(super) fn parse_u64(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.bytes()
        .try_fold(0u64, |v, d| v.checked_mul(10)?.checked_add(u64::from(d - b'0')))
}

/// Appends `text` with its escapes decoded: `\DDD` is the octet DDD, `\X` is X (RFC 1035 §5.1).
pub(super) fn unescape_into(out: &mut Vec<u8>, text: &str) -> Result<(), RdataError> {
    let mut rest = text.as_bytes();
    while let Some(at) = rest.iter().position(|&b| b == b'\\') {
        out.extend_from_slice(&rest[..at]);
        let escape = &rest[at + 1..];
        match escape {
            [d, ..] if d.is_ascii_digit() => {
                let digits = escape.get(..3).filter(|d| d.iter().all(u8::is_ascii_digit));
                let value = digits.and_then(|d| {
                    let v = d.iter().fold(0u32, |v, &d| v * 10 + u32::from(d - b'0'));
                    u8::try_from(v).ok()
                });
                let Some(value) = value else {
                    let shown = String::from_utf8_lossy(&escape[..escape.len().min(3)]);
                    return Err(RdataError::Invalid(format!("bad escape \\{shown}")));
                };
                out.push(value);
                rest = &escape[3..];
            }
            [octet, tail @ ..] => {
                out.push(*octet);
                rest = tail;
            }
            [] => return Err(RdataError::Invalid("bad escape \\ at the end of a string".into())),
        }
    }
    out.extend_from_slice(rest);
    Ok(())
}

/// Decodes hex split over several tokens; either case is accepted.
pub(super) fn decode_hex(tokens: &[Token<'_>], field: &str) -> Result<Vec<u8>, RdataError> {
    let joined: String = tokens.iter().map(|t| t.text).collect();
    HEXLOWER_PERMISSIVE
        .decode(joined.as_bytes())
        .map_err(|_| RdataError::Invalid(format!("{field} is not valid hexadecimal: \"{joined}\"")))
}

/// Decodes base64 (RFC 4648 §4, padded) split over several tokens.
pub(super) fn decode_base64(tokens: &[Token<'_>], field: &str) -> Result<Vec<u8>, RdataError> {
    let joined: String = tokens.iter().map(|t| t.text).collect();
    BASE64
        .decode(joined.as_bytes())
        .map_err(|_| RdataError::Invalid(format!("{field} is not valid base64: \"{joined}\"")))
}

/// Splits one record's RDATA text into tokens: words and quoted strings, escapes kept.
///
/// A `"` ends a word and starts a quoted token, so `alpn="h2"` gives the word
/// `alpn=` followed by the quoted `h2`, as the zone-file lexer does.
pub(super) fn tokenize(text: &str) -> Result<Vec<Token<'_>>, RdataError> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut pos = 0;
    while let Some(&b) = bytes.get(pos) {
        if b.is_ascii_whitespace() {
            pos += 1;
        } else if b == b'"' {
            let start = pos + 1;
            let end =
                quoted_end(bytes, start).ok_or_else(|| RdataError::Invalid("unterminated quoted string".into()))?;
            tokens.push(Token::quoted(slice(text, start, end)?));
            pos = end + 1;
        } else {
            let start = pos;
            while let Some(&b) = bytes.get(pos) {
                if b.is_ascii_whitespace() || b == b'"' {
                    break;
                }
                pos += if b == b'\\' { 2 } else { 1 };
            }
            pos = pos.min(bytes.len());
            tokens.push(Token::word(slice(text, start, pos)?));
        }
    }
    Ok(tokens)
}

/// Index of the `"` that closes a quoted string whose contents start at `start`.
fn quoted_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut pos = start;
    loop {
        match bytes.get(pos)? {
            b'\\' => pos += 2,
            b'"' => return Some(pos),
            _ => pos += 1,
        }
    }
}

/// `text[start..end]`, as an error instead of a panic if the bounds are not character boundaries.
fn slice(text: &str, start: usize, end: usize) -> Result<&str, RdataError> {
    text.get(start..end)
        .ok_or_else(|| RdataError::Invalid("escape splits a multi-byte character".into()))
}
