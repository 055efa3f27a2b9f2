//! The shape nearly every real LUA record has: one call of a known
//! function with literal arguments, e.g.
//! `ifurlup('https://x.example/', {{'192.0.2.1'}, {'198.51.100.1'}}, {selector='hashed'})`.
//!
//! [`parse_call`] reads exactly that subset of Lua's expression grammar
//! (strings, numbers, booleans, nil, table constructors, calls with
//! `f(...)`, `f{...}` and `f'...'` syntax) so such records are answered
//! without a Lua VM. Anything else is left to the sandbox.

/// A literal Lua value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Nil,
    Bool(bool),
    Number(f64),
    Str(String),
    /// A table constructor: positional entries, then keyed ones, in order.
    Table(Table),
    /// A nested call, e.g. `newNMG{...}` inside `filterForward(...)`.
    Call(String, Vec<Value>),
}

/// A table constructor's fields.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    pub items: Vec<Value>,
    pub keyed: Vec<(Value, Value)>,
}

/// Why code is not a literal call. `Syntax` is definitely broken code;
/// `NotLiteral` is code the sandbox must run.
#[derive(Debug, PartialEq, Eq)]
pub enum Shape {
    NotLiteral,
    Syntax(String),
}

/// Parses `code` as a single call with literal arguments.
pub fn parse_call(code: &str) -> Result<(String, Vec<Value>), Shape> {
    let mut parser = Parser {
        src: code.as_bytes(),
        pos: 0,
    };
    parser.skip_space()?;
    let name = parser.identifier().ok_or(Shape::NotLiteral)?;
    let args = parser.call_args()?.ok_or(Shape::NotLiteral)?;
    parser.skip_space()?;
    if parser.pos != parser.src.len() {
        return Err(Shape::NotLiteral);
    }
    Ok((name, args))
}

/// Nesting deeper than this is not a literal anyone writes.
const MAX_DEPTH: usize = 32;

struct Parser<'a> {
    src: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    fn skip_space(&mut self) -> Result<(), Shape> {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\r' | b'\n' | b'\x0b' | b'\x0c') => self.pos += 1,
                Some(b'-') if self.src.get(self.pos + 1) == Some(&b'-') => {
                    self.pos += 2;
                    if let Some(level) = self.long_bracket_level() {
                        self.long_string(level)
                            .ok_or_else(|| Shape::Syntax("unfinished long comment".into()))?;
                    } else {
                        while self.peek().is_some_and(|c| c != b'\n') {
                            self.pos += 1;
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    fn identifier(&mut self) -> Option<String> {
        let start = self.pos;
        if !self.peek().is_some_and(|c| c.is_ascii_alphabetic() || c == b'_') {
            return None;
        }
        while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_') {
            self.pos += 1;
        }
        Some(String::from_utf8_lossy(&self.src[start..self.pos]).into_owned())
    }

    /// The arguments of a call after its name, or `None` when what follows
    /// is not a call.
    fn call_args(&mut self) -> Result<Option<Vec<Value>>, Shape> {
        self.call_args_at(0)
    }

    fn call_args_at(&mut self, depth: usize) -> Result<Option<Vec<Value>>, Shape> {
        self.skip_space()?;
        match self.peek() {
            Some(b'(') => {
                self.pos += 1;
                let mut args = Vec::new();
                self.skip_space()?;
                if self.peek() == Some(b')') {
                    self.pos += 1;
                    return Ok(Some(args));
                }
                loop {
                    args.push(self.value(depth + 1)?);
                    self.skip_space()?;
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b')') => {
                            self.pos += 1;
                            return Ok(Some(args));
                        }
                        None => return Err(Shape::Syntax("')' expected".into())),
                        _ => return Err(Shape::NotLiteral),
                    }
                }
            }
            Some(b'{') => Ok(Some(vec![self.value(depth + 1)?])),
            Some(b'\'' | b'"') => Ok(Some(vec![self.value(depth + 1)?])),
            Some(b'[') if self.long_bracket_level_at(self.pos).is_some() => Ok(Some(vec![self.value(depth + 1)?])),
            _ => Ok(None),
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, Shape> {
        if depth > MAX_DEPTH {
            return Err(Shape::NotLiteral);
        }
        self.skip_space()?;
        match self.peek() {
            None => Err(Shape::Syntax("unexpected end of code".into())),
            Some(b'\'' | b'"') => self.quoted().map(Value::Str),
            Some(b'[') => match self.long_bracket_level() {
                Some(level) => self
                    .long_string(level)
                    .map(Value::Str)
                    .ok_or_else(|| Shape::Syntax("unfinished long string".into())),
                None => Err(Shape::NotLiteral),
            },
            Some(b'{') => self.table(depth).map(Value::Table),
            Some(b'-') => {
                self.pos += 1;
                self.skip_space()?;
                match self.number()? {
                    Some(n) => Ok(Value::Number(-n)),
                    None => Err(Shape::NotLiteral),
                }
            }
            Some(c) if c.is_ascii_digit() || c == b'.' => self.number()?.map(Value::Number).ok_or(Shape::NotLiteral),
            Some(c) if c.is_ascii_alphabetic() || c == b'_' => {
                let word = self.identifier().unwrap_or_default();
                match word.as_str() {
                    "true" => Ok(Value::Bool(true)),
                    "false" => Ok(Value::Bool(false)),
                    "nil" => Ok(Value::Nil),
                    _ => match self.call_args_at(depth)? {
                        Some(args) => Ok(Value::Call(word, args)),
                        None => Err(Shape::NotLiteral),
                    },
                }
            }
            Some(_) => Err(Shape::NotLiteral),
        }
    }

    fn table(&mut self, depth: usize) -> Result<Table, Shape> {
        self.pos += 1; // '{'
        let mut table = Table::default();
        loop {
            self.skip_space()?;
            match self.peek() {
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(table);
                }
                None => return Err(Shape::Syntax("'}' expected".into())),
                Some(b'[') if self.long_bracket_level().is_none() => {
                    self.pos += 1;
                    let key = self.value(depth + 1)?;
                    self.skip_space()?;
                    if self.peek() != Some(b']') {
                        return Err(Shape::NotLiteral);
                    }
                    self.pos += 1;
                    self.expect_equals()?;
                    let value = self.value(depth + 1)?;
                    table.keyed.push((key, value));
                }
                Some(c) if c.is_ascii_alphabetic() || c == b'_' => {
                    let start = self.pos;
                    let word = self.identifier().unwrap_or_default();
                    self.skip_space()?;
                    if self.peek() == Some(b'=') && self.src.get(self.pos + 1) != Some(&b'=') {
                        self.pos += 1;
                        let value = self.value(depth + 1)?;
                        table.keyed.push((Value::Str(word), value));
                    } else {
                        self.pos = start;
                        table.items.push(self.value(depth + 1)?);
                    }
                }
                Some(_) => table.items.push(self.value(depth + 1)?),
            }
            self.skip_space()?;
            match self.peek() {
                Some(b',' | b';') => self.pos += 1,
                Some(b'}') => {}
                None => return Err(Shape::Syntax("'}' expected".into())),
                _ => return Err(Shape::NotLiteral),
            }
        }
    }

    fn expect_equals(&mut self) -> Result<(), Shape> {
        self.skip_space()?;
        if self.peek() == Some(b'=') {
            self.pos += 1;
            Ok(())
        } else {
            Err(Shape::NotLiteral)
        }
    }

    fn number(&mut self) -> Result<Option<f64>, Shape> {
        let start = self.pos;
        let hex = self.src[self.pos..].starts_with(b"0x") || self.src[self.pos..].starts_with(b"0X");
        if hex {
            self.pos += 2;
            let digits = self.pos;
            while self.peek().is_some_and(|c| c.is_ascii_hexdigit()) {
                self.pos += 1;
            }
            let text = std::str::from_utf8(&self.src[digits..self.pos]).unwrap_or("");
            return match u64::from_str_radix(text, 16) {
                Ok(n) if !self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == b'.') => Ok(Some(n as f64)),
                _ => Err(Shape::NotLiteral),
            };
        }
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E'))
        {
            let exponent = matches!(self.peek(), Some(b'e' | b'E'));
            self.pos += 1;
            if exponent && matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
        }
        if self.peek().is_some_and(|c| c.is_ascii_alphabetic() || c == b'_') {
            return Err(Shape::NotLiteral);
        }
        let text = std::str::from_utf8(&self.src[start..self.pos]).unwrap_or("");
        match text.parse::<f64>() {
            Ok(n) => Ok(Some(n)),
            Err(_) if start == self.pos => Ok(None),
            Err(_) => Err(Shape::Syntax(format!("malformed number near '{text}'"))),
        }
    }

    fn quoted(&mut self) -> Result<String, Shape> {
        let quote = self.src[self.pos];
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(Shape::Syntax("unfinished string".into()));
            };
            self.pos += 1;
            match c {
                b'\n' => return Err(Shape::Syntax("unfinished string".into())),
                c if c == quote => break,
                b'\\' => self.escape(&mut out)?,
                c => out.push(c),
            }
        }
        String::from_utf8(out).map_err(|_| Shape::NotLiteral)
    }

    fn escape(&mut self, out: &mut Vec<u8>) -> Result<(), Shape> {
        let Some(c) = self.peek() else {
            return Err(Shape::Syntax("unfinished string".into()));
        };
        self.pos += 1;
        match c {
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'r' => out.push(b'\r'),
            b'a' => out.push(7),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'v' => out.push(11),
            b'\\' | b'"' | b'\'' | b'\n' => out.push(c),
            b'x' => {
                let hex = self.src.get(self.pos..self.pos + 2).ok_or(Shape::NotLiteral)?;
                let text = std::str::from_utf8(hex).map_err(|_| Shape::NotLiteral)?;
                out.push(u8::from_str_radix(text, 16).map_err(|_| Shape::Syntax("bad \\x escape".into()))?);
                self.pos += 2;
            }
            b'0'..=b'9' => {
                let mut value = u32::from(c - b'0');
                for _ in 0..2 {
                    match self.peek() {
                        Some(d @ b'0'..=b'9') => {
                            value = value * 10 + u32::from(d - b'0');
                            self.pos += 1;
                        }
                        _ => break,
                    }
                }
                out.push(u8::try_from(value).map_err(|_| Shape::Syntax("decimal escape too large".into()))?);
            }
            // \z, \u{...}: valid Lua, rare in records; the sandbox handles them.
            _ => return Err(Shape::NotLiteral),
        }
        Ok(())
    }

    fn long_bracket_level(&self) -> Option<usize> {
        self.long_bracket_level_at(self.pos)
    }

    /// `[[` or `[==[`: the number of `=`.
    fn long_bracket_level_at(&self, at: usize) -> Option<usize> {
        if self.src.get(at) != Some(&b'[') {
            return None;
        }
        let mut level = 0;
        while self.src.get(at + 1 + level) == Some(&b'=') {
            level += 1;
        }
        (self.src.get(at + 1 + level) == Some(&b'[')).then_some(level)
    }

    fn long_string(&mut self, level: usize) -> Option<String> {
        let start = self.pos + level + 2;
        let mut close = vec![b']'];
        close.extend(std::iter::repeat_n(b'=', level));
        close.push(b']');
        let body = self.src.get(start..)?;
        let end = body.windows(close.len()).position(|w| w == close.as_slice())?;
        self.pos = start + end + close.len();
        // A newline right after the opening bracket is not part of the string.
        let text = &body[..end];
        let text = text
            .strip_prefix(b"\r\n")
            .or_else(|| text.strip_prefix(b"\n"))
            .unwrap_or(text);
        String::from_utf8(text.to_vec()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Value {
        Value::Str(text.into())
    }

    fn get<'t>(table: &'t Table, key: &str) -> Option<&'t Value> {
        table
            .keyed
            .iter()
            .find(|(k, _)| matches!(k, Value::Str(s) if s == key))
            .map(|(_, v)| v)
    }

    #[test]
    fn reads_calls_with_literals() {
        let (name, args) = parse_call("ifportup(443, {'192.0.2.1', \"192.0.2.2\"})").expect("literal");
        assert_eq!(name, "ifportup");
        assert_eq!(args[0], Value::Number(443.0));
        assert_eq!(
            args[1],
            Value::Table(Table {
                items: vec![s("192.0.2.1"), s("192.0.2.2")],
                keyed: vec![]
            })
        );
        let (_, args) =
            parse_call("ifurlup('https://x/', {{'1.2.3.4'}; {'5.6.7.8'}}, {selector='hashed', ['timeout']=2,})")
                .expect("literal");
        let Value::Table(options) = &args[2] else {
            panic!("options")
        };
        assert_eq!(get(options, "selector"), Some(&s("hashed")));
        assert_eq!(get(options, "timeout"), Some(&Value::Number(2.0)));
        let (name, args) = parse_call("  pickwhashed({ {10, '1.1.1.1'}, {-3, [[x]]} }) -- comment").expect("literal");
        assert_eq!(name, "pickwhashed");
        let Value::Table(outer) = &args[0] else { panic!("table") };
        let Value::Table(second) = &outer.items[1] else {
            panic!("pair")
        };
        assert_eq!(second.items, vec![Value::Number(-3.0), s("x")]);
        assert_eq!(
            parse_call("countryCode()").expect("literal"),
            ("countryCode".into(), vec![])
        );
        let (_, args) = parse_call("filterForward(createForward(), newNMG{'1.0.0.0/8'})").expect("nested");
        assert!(matches!(&args[0], Value::Call(name, args) if name == "createForward" && args.is_empty()));
        assert!(matches!(&args[1], Value::Call(name, _) if name == "newNMG"));
        assert_eq!(parse_call("f'a\\65\\x42'").expect("sugar").1, vec![s("aAB")]);
    }

    #[test]
    fn leaves_programs_to_the_sandbox() {
        for code in [
            "pickrandom(EUips)",
            "a .. b",
            "pickrandom({'a'}) .. 'x'",
            "x",
            "(pickrandom({'a'}))",
            "f(1 + 2)",
            "f({a.b})",
        ] {
            assert_eq!(parse_call(code), Err(Shape::NotLiteral), "{code}");
        }
        assert!(matches!(parse_call("f('abc"), Err(Shape::Syntax(_))));
        assert!(matches!(parse_call("f({1, 2"), Err(Shape::Syntax(_))));
    }
}
