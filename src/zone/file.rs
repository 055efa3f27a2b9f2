//! Reading RFC 1035 master files ("zone files").
//!
//! Supports the syntax of RFC 1035 §5.1 with `$TTL` (RFC 2308 §4): `$ORIGIN`,
//! `@`, blank owners, TTL and class in either order, comments, parentheses
//! across lines, quoted strings and the generic RDATA form of RFC 3597.
//! `$INCLUDE` is rejected because files are imported one at a time.
//! Only the syntax of each record is checked here; rules about the zone as a
//! whole (one SOA, CNAME alone at a name, and so on) are checked elsewhere.

use std::fmt::Write as _;

use base::name::{Name, NameError};
use base::rdata::{self, RdataError, Token};
use base::types;

/// Largest TTL a record may have (RFC 2181 §8).
pub const MAX_TTL: u32 = 0x7fff_ffff;

/// One resource record read from a zone file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRecord {
    /// Owner name, absolute, with the case it was written in.
    pub owner: Name,
    /// TTL in seconds.
    pub ttl: u32,
    /// Record type.
    pub rtype: u16,
    /// RDATA in uncompressed wire format.
    pub rdata: Vec<u8>,
    /// 1-based line on which the record starts.
    pub line: usize,
}

/// Where and why a zone file could not be read. Display: "{file}:{line}: {message}".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct ZoneFileError {
    /// The file name given to [`parse_zone_file`].
    pub file: String,
    /// 1-based line on which the failing record or directive starts.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Parses a whole zone file. `origin` is the zone's name when known (from --zone); otherwise $ORIGIN must appear before the first relative name, or the first record must be an SOA whose owner is absolute — the origin is then that SOA's owner. Returns (origin, records).
///
/// Without `origin`, the returned origin is the owner of the first record if
/// that is an SOA, else the first `$ORIGIN`. TTLs default to the last `$TTL`,
/// else to the last TTL written on a record; the SOA minimum is never used as
/// a default (RFC 2308 §4).
pub fn parse_zone_file(
    text: &str,
    file_name: &str,
    origin: Option<&Name>,
) -> Result<(Name, Vec<FileRecord>), ZoneFileError> {
    ZoneReader::new(text, origin).run().map_err(|failure| ZoneFileError {
        file: file_name.to_owned(),
        line: failure.line,
        message: failure.message,
    })
}

/// Formats one record as a zone-file line: "owner ttl IN TYPE rdata".
///
/// The output parses back to the same record with [`parse_zone_file`].
pub fn format_record(owner: &Name, ttl: u32, rtype: u16, rdata: &[u8]) -> Result<String, RdataError> {
    let mut out = String::with_capacity(48 + rdata.len() * 2);
    let _ = write!(out, "{owner} {ttl} IN ");
    match types::type_mnemonic(rtype) {
        Some(mnemonic) => out.push_str(mnemonic),
        None => {
            let _ = write!(out, "TYPE{rtype}");
        }
    }
    out.push(' ');
    rdata::write_rdata(&mut out, rtype, rdata)?;
    Ok(out)
}

/// An error found while reading, before the file name is attached.
struct Failure {
    /// 1-based line where the failing entry starts.
    line: usize,
    /// What is wrong.
    message: String,
}

/// One logical entry of the file: a record or directive, possibly spanning lines.
struct Entry {
    /// 1-based line where the entry starts.
    line: usize,
    /// True if the line starts with a space or tab, so the owner is the previous one.
    blank_owner: bool,
}

/// Splits master-file text into entries of tokens (RFC 1035 §5.1).
struct Lexer<'a> {
    /// The whole file.
    text: &'a str,
    /// Byte offset of the next character to read.
    pos: usize,
    /// 1-based line of `pos`.
    line: usize,
}

impl<'a> Lexer<'a> {
    /// Reads the next non-empty entry into `tokens`; `None` at the end of the file.
    ///
    /// Tokens borrow from the file text, so reading allocates nothing once
    /// `tokens` has grown to the longest entry.
    fn next_entry(&mut self, tokens: &mut Vec<Token<'a>>) -> Result<Option<Entry>, Failure> {
        tokens.clear();
        let bytes = self.text.as_bytes();
        while let Some(&first) = bytes.get(self.pos) {
            let line = self.line;
            let fail = |message: &str| Failure {
                line,
                message: message.to_owned(),
            };
            let blank_owner = matches!(first, b' ' | b'\t');
            let mut depth = 0usize;
            let mut open_line = line;
            loop {
                let Some(&b) = bytes.get(self.pos) else {
                    if depth > 0 {
                        return Err(fail(&format!("'(' on line {open_line} is never closed")));
                    }
                    break;
                };
                match b {
                    b'\n' => {
                        self.pos += 1;
                        self.line += 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    b' ' | b'\t' | b'\r' => self.pos += 1,
                    b';' => {
                        self.pos = bytes[self.pos..]
                            .iter()
                            .position(|&c| c == b'\n')
                            .map_or(bytes.len(), |n| self.pos + n);
                    }
                    b'(' => {
                        if depth == 0 {
                            open_line = self.line;
                        }
                        depth += 1;
                        self.pos += 1;
                    }
                    b')' => {
                        if depth == 0 {
                            return Err(fail("')' without a matching '('"));
                        }
                        depth -= 1;
                        self.pos += 1;
                    }
                    b'"' => {
                        let start = self.pos + 1;
                        let mut end = start;
                        loop {
                            match bytes.get(end) {
                                Some(b'"') => break,
                                Some(b'\\') if bytes.get(end + 1).is_some_and(|&c| c != b'\n') => {
                                    end += 2;
                                }
                                Some(b'\\' | b'\n') | None => {
                                    return Err(fail("unterminated quoted string"));
                                }
                                Some(_) => end += 1,
                            }
                        }
                        tokens.push(Token::quoted(self.slice(start, end, line)?));
                        self.pos = end + 1;
                    }
                    _ => {
                        let start = self.pos;
                        while let Some(&c) = bytes.get(self.pos) {
                            match c {
                                b' ' | b'\t' | b'\r' | b'\n' | b';' | b'(' | b')' | b'"' => break,
                                b'\\' => {
                                    if matches!(bytes.get(self.pos + 1), None | Some(b'\n')) {
                                        return Err(fail("backslash at the end of a line"));
                                    }
                                    self.pos += 2;
                                }
                                _ => self.pos += 1,
                            }
                        }
                        tokens.push(Token::word(self.slice(start, self.pos, line)?));
                    }
                }
            }
            if !tokens.is_empty() {
                return Ok(Some(Entry { line, blank_owner }));
            }
        }
        Ok(None)
    }

    /// `text[start..end]`, as an error instead of a panic if that is not on character boundaries.
    fn slice(&self, start: usize, end: usize, line: usize) -> Result<&'a str, Failure> {
        self.text.get(start..end).ok_or_else(|| Failure {
            line,
            message: "an escape splits a multi-byte character".into(),
        })
    }
}

/// State carried from entry to entry while reading a file.
struct ZoneReader<'a> {
    /// Source of entries.
    lexer: Lexer<'a>,
    /// The zone name given by the caller.
    given_origin: Option<Name>,
    /// Current origin for relative names; changed by `$ORIGIN`.
    origin: Option<Name>,
    /// The first `$ORIGIN` seen.
    first_origin_directive: Option<Name>,
    /// Owner of the first record, if that record is an SOA.
    soa_owner: Option<Name>,
    /// The last `$TTL` (RFC 2308 §4).
    default_ttl: Option<u32>,
    /// The last TTL written on a record (RFC 1035 §5.1).
    last_ttl: Option<u32>,
    /// Records read so far.
    records: Vec<FileRecord>,
}

impl<'a> ZoneReader<'a> {
    /// A reader at the start of `text`; a leading byte-order mark is skipped.
    fn new(text: &'a str, origin: Option<&Name>) -> ZoneReader<'a> {
        ZoneReader {
            lexer: Lexer {
                text: text.strip_prefix('\u{feff}').unwrap_or(text),
                pos: 0,
                line: 1,
            },
            given_origin: origin.cloned(),
            origin: origin.cloned(),
            first_origin_directive: None,
            soa_owner: None,
            default_ttl: None,
            last_ttl: None,
            records: Vec::new(),
        }
    }

    /// Reads every entry and decides the zone's origin.
    fn run(mut self) -> Result<(Name, Vec<FileRecord>), Failure> {
        let mut tokens = Vec::with_capacity(16);
        while let Some(entry) = self.lexer.next_entry(&mut tokens)? {
            match tokens.first() {
                Some(first) if !entry.blank_owner && !first.quoted && first.text.starts_with('$') => {
                    self.directive(entry.line, &tokens)?;
                }
                _ => self.record(&entry, &tokens)?,
            }
        }
        let origin = self
            .given_origin
            .or(self.soa_owner)
            .or(self.first_origin_directive)
            .ok_or_else(|| Failure {
                line: self.records.first().map_or(1, |r| r.line),
                message: "cannot tell the zone's origin: give the zone name, add $ORIGIN, \
                          or start with an SOA record"
                    .into(),
            })?;
        Ok((origin, self.records))
    }

    /// Handles `$ORIGIN`, `$TTL` and the unsupported directives.
    fn directive(&mut self, line: usize, tokens: &[Token<'_>]) -> Result<(), Failure> {
        let fail = |message: String| Failure { line, message };
        let Some((directive, args)) = tokens.split_first() else {
            return Ok(());
        };
        let keyword = directive.text;
        if keyword.eq_ignore_ascii_case("$ORIGIN") {
            let [arg] = args else {
                return Err(fail("$ORIGIN needs exactly one domain name".into()));
            };
            let origin = Name::parse(arg.text, self.origin.as_ref())
                .map_err(|e| fail(format!("bad $ORIGIN \"{}\": {e}", arg.text)))?;
            if self.first_origin_directive.is_none() {
                self.first_origin_directive = Some(origin.clone());
            }
            self.origin = Some(origin);
        } else if keyword.eq_ignore_ascii_case("$TTL") {
            let [arg] = args else {
                return Err(fail("$TTL needs exactly one TTL".into()));
            };
            self.default_ttl = Some(check_ttl(arg.text).map_err(fail)?);
        } else if keyword.eq_ignore_ascii_case("$INCLUDE") || keyword.eq_ignore_ascii_case("$GENERATE") {
            return Err(fail(format!("{} is not supported", keyword.to_ascii_uppercase())));
        } else {
            return Err(fail(format!("unknown directive {keyword}")));
        }
        Ok(())
    }

    /// Parses one record: `[owner] [ttl] [class] type rdata`, TTL and class in either order.
    fn record(&mut self, entry: &Entry, tokens: &[Token<'_>]) -> Result<(), Failure> {
        let fail = |message: String| Failure {
            line: entry.line,
            message,
        };
        let (owner, mut rest) = match tokens.split_first() {
            Some((first, rest)) if !entry.blank_owner => {
                if first.quoted {
                    return Err(fail(format!("owner name \"{}\" must not be quoted", first.text)));
                }
                let owner = Name::parse(first.text, self.origin.as_ref()).map_err(|e| {
                    fail(match e {
                        NameError::NoOrigin => format!(
                            "relative owner name \"{}\" but no origin is known; \
                             add $ORIGIN or give the zone name",
                            first.text
                        ),
                        e => format!("bad owner name \"{}\": {e}", first.text),
                    })
                })?;
                (owner, rest)
            }
            _ => {
                let previous = self.records.last().map(|r| r.owner.clone());
                let owner = previous
                    .ok_or_else(|| fail("the line starts with a blank but there is no previous owner name".into()))?;
                (owner, tokens)
            }
        };
        let mut ttl = None;
        let mut class_seen = false;
        let rtype = loop {
            let Some((token, tail)) = rest.split_first() else {
                return Err(fail("missing record type".into()));
            };
            rest = tail;
            let text = token.text;
            if !token.quoted {
                if ttl.is_none() && text.starts_with(|c: char| c.is_ascii_digit()) {
                    ttl = Some(check_ttl(text).map_err(fail)?);
                    continue;
                }
                if !class_seen {
                    if let Some(class) = class_from_str(text) {
                        if class != 1 {
                            return Err(fail(format!(
                                "class {} is not supported; only IN",
                                text.to_ascii_uppercase()
                            )));
                        }
                        class_seen = true;
                        continue;
                    }
                }
                if let Some(rtype) = types::type_from_str(text) {
                    break rtype;
                }
            }
            return Err(fail(format!("unknown record type \"{text}\"")));
        };
        if self.records.is_empty() && rtype == types::SOA {
            if self.origin.is_none() {
                self.origin = Some(owner.clone());
            }
            self.soa_owner = Some(owner.clone());
        }
        let ttl = match ttl {
            Some(ttl) => {
                self.last_ttl = Some(ttl);
                ttl
            }
            None => self
                .default_ttl
                .or(self.last_ttl)
                .ok_or_else(|| fail("no TTL on the record and no $TTL or earlier TTL to default to".into()))?,
        };
        let rdata = rdata::parse_rdata_in(rtype, rest, self.origin.as_ref()).map_err(|e| fail(e.to_string()))?;
        self.records.push(FileRecord {
            owner,
            ttl,
            rtype,
            rdata,
            line: entry.line,
        });
        Ok(())
    }
}

/// Parses a TTL with optional units and checks the RFC 2181 §8 limit.
fn check_ttl(text: &str) -> Result<u32, String> {
    match rdata::parse_ttl(text) {
        None => Err(format!("bad TTL \"{text}\"")),
        Some(ttl) if ttl > MAX_TTL => Err(format!("TTL {ttl} is above the maximum of {MAX_TTL} (RFC 2181 §8)")),
        Some(ttl) => Ok(ttl),
    }
}

/// The class number for a class mnemonic or `CLASSnnn` (RFC 3597 §5); `None` if `text` is not a class.
fn class_from_str(text: &str) -> Option<u16> {
    const CLASSES: [(&str, u16); 6] = [("IN", 1), ("CS", 2), ("CH", 3), ("HS", 4), ("NONE", 254), ("ANY", 255)];
    if let Some(&(_, class)) = CLASSES.iter().find(|(m, _)| m.eq_ignore_ascii_case(text)) {
        return Some(class);
    }
    let prefix = text.get(..5)?;
    let digits = text.get(5..)?;
    if !prefix.eq_ignore_ascii_case("CLASS")
        || digits.is_empty()
        || digits.len() > 5
        || !digits.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Runs every `NAME.zone` in `tests/data/zonefile` and compares with `NAME.expected`.
    ///
    /// A `.zone` file whose first line is `; zone: NAME` is parsed with that
    /// zone name. The expected file is either `$ORIGIN <origin>` followed by the
    /// records as [`format_record`] prints them, or `error: <line>: <part of the
    /// message>`. Successful outputs are themselves zone files, so each is parsed
    /// again and must give the same records.
    #[test]
    fn zone_file_cases() {
        let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/zonefile"));
        let mut zones: Vec<_> = std::fs::read_dir(dir)
            .expect("test data directory")
            .map(|entry| entry.expect("directory entry").path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "zone"))
            .collect();
        zones.sort();
        assert!(!zones.is_empty(), "no cases in {}", dir.display());
        let mut failures = Vec::new();
        for zone in &zones {
            let case = zone
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let text = std::fs::read_to_string(zone).expect("readable zone file");
            let expected_path = zone.with_extension("expected");
            let expected =
                std::fs::read_to_string(&expected_path).unwrap_or_else(|e| panic!("{}: {e}", expected_path.display()));
            let origin = text
                .lines()
                .next()
                .and_then(|line| line.strip_prefix("; zone: "))
                .map(|name| name.trim().parse::<Name>().expect("valid zone name"));
            let actual = match parse_zone_file(&text, &case, origin.as_ref()) {
                Ok((origin, records)) => {
                    let mut out = format!("$ORIGIN {origin}\n");
                    for r in &records {
                        match format_record(&r.owner, r.ttl, r.rtype, &r.rdata) {
                            Ok(line) => out.push_str(&line),
                            Err(e) => out.push_str(&format!("unprintable: {e}")),
                        }
                        out.push('\n');
                    }
                    let reparsed = parse_zone_file(&out, "output", None);
                    let same = reparsed.as_ref().is_ok_and(|(o, again)| {
                        *o == origin
                            && again.len() == records.len()
                            && again.iter().zip(&records).all(|(a, b)| {
                                (&a.owner, a.ttl, a.rtype, &a.rdata) == (&b.owner, b.ttl, b.rtype, &b.rdata)
                            })
                    });
                    if !same {
                        failures.push(format!("{case}: output does not parse back: {reparsed:?}"));
                    }
                    out
                }
                Err(e) => {
                    assert_eq!(e.file, case);
                    format!("error: {}: {}\n", e.line, e.message)
                }
            };
            let matches = match expected.strip_prefix("error: ") {
                Some(want) => {
                    let (line, message) = want.trim().split_once(": ").unwrap_or((want.trim(), ""));
                    actual.starts_with(&format!("error: {line}: ")) && actual.contains(message)
                }
                None => actual.trim_end() == expected.trim_end(),
            };
            if !matches {
                failures.push(format!("{case}:\n--- expected\n{expected}\n--- actual\n{actual}"));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    /// Parses an absolute test name.
    fn name(text: &str) -> Name {
        text.parse().expect("valid test name")
    }

    #[test]
    fn origin_comes_from_caller_soa_or_directive() {
        let given = name("example.org.");
        let (origin, records) = parse_zone_file("www 60 A 192.0.2.1\n", "t", Some(&given)).unwrap();
        assert_eq!(origin, given);
        assert_eq!(records[0].owner, name("www.example.org."));

        let soa = "Example.NET. 60 SOA ns hostmaster 1 2 3 4 5\nwww A 192.0.2.1\n";
        let (origin, records) = parse_zone_file(soa, "t", None).unwrap();
        assert_eq!(origin.to_string(), "Example.NET.");
        assert_eq!(records[1].owner.to_string(), "www.Example.NET.");
        assert_eq!(records[1].ttl, 60);

        let directive = "$ORIGIN a.test.\nwww 60 A 192.0.2.1\n$ORIGIN b\nx A 192.0.2.2\n";
        let (origin, records) = parse_zone_file(directive, "t", None).unwrap();
        assert_eq!(origin, name("a.test."));
        assert_eq!(records[1].owner, name("x.b.a.test."));

        let err = parse_zone_file("www.test. 60 A 192.0.2.1\n", "z.db", None).unwrap_err();
        assert_eq!(err.line, 1);
        assert!(err.message.starts_with("cannot tell the zone's origin"), "{err}");
        let err = parse_zone_file("www 60 A 192.0.2.1\n", "z.db", None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "z.db:1: relative owner name \"www\" but no origin is known; add $ORIGIN or give the zone name"
        );
    }

    #[test]
    fn records_keep_their_line_numbers() {
        let text = "$TTL 1h\n$ORIGIN t.\n\n@ SOA ns h (\n 1 2 3\n 4 5 )\n; comment\nwww A 192.0.2.1\n";
        let (_, records) = parse_zone_file(text, "t", None).unwrap();
        assert_eq!(records.iter().map(|r| r.line).collect::<Vec<_>>(), [4, 8]);
        assert_eq!(records[0].ttl, 3600);
    }

    #[test]
    fn handles_crlf_and_byte_order_mark() {
        let text = "\u{feff}$ORIGIN t.\r\n@ 60 IN TXT \"a\" ; c\r\n  A 192.0.2.1\r\n";
        let (_, records) = parse_zone_file(text, "t", None).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[1].owner, name("t."));
    }

    #[test]
    fn format_record_uses_generic_type_names() {
        let line = format_record(&name("a.b."), 5, 65280, &[1, 2]).unwrap();
        assert_eq!(line, "a.b. 5 IN TYPE65280 \\# 2 0102");
        assert!(format_record(&name("a.b."), 5, types::A, &[1]).is_err());
    }

    #[test]
    fn classes() {
        assert_eq!(class_from_str("in"), Some(1));
        assert_eq!(class_from_str("CLASS3"), Some(3));
        assert_eq!(class_from_str("CLASS"), None);
        assert_eq!(class_from_str("CLASSX"), None);
        assert_eq!(class_from_str("A"), None);
        assert_eq!(class_from_str("ÉÉÉ"), None);
    }
}
