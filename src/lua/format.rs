//! The text formatting PowerDNS's LUA helpers do: `boost::format` as
//! `createReverse` uses it, and C's `%f` and `%g` as `latlon()` and
//! `latlonloc()` print numbers.

/// One parsed Boost.Format directive applied to a string argument.
#[derive(Clone, Copy)]
pub(super) struct Directive {
    /// 0-based argument number when positional (`%N%`, `%N$s`, `%|N$|`).
    position: Option<usize>,
    left: bool,
    width: usize,
    precision: Option<usize>,
}

impl Directive {
    fn render(&self, arg: &[u8], out: &mut Vec<u8>) {
        let arg = &arg[..self.precision.map_or(arg.len(), |p| p.min(arg.len()))];
        let pad = self.width.saturating_sub(arg.len());
        if !self.left {
            out.resize(out.len() + pad, b' ');
        }
        out.extend_from_slice(arg);
        if self.left {
            out.resize(out.len() + pad, b' ');
        }
    }
}

/// Widest padding a format directive may ask for.
const MAX_WIDTH: usize = 255;

/// Parses the directive after a `%` at `bytes[start - 1]`; returns it and the index after it, or `None`
/// for what Boost rejects (`bad_format_string`) or what we do not reproduce.
pub(super) fn parse_directive(bytes: &[u8], start: usize) -> Option<(Directive, usize)> {
    let number = |from: usize| {
        let len = bytes[from..].iter().take_while(|c| c.is_ascii_digit()).count();
        let value = bytes[from..from + len].iter().try_fold(0usize, |acc, &c| {
            acc.checked_mul(10)?.checked_add(usize::from(c - b'0'))
        });
        (value.unwrap_or(usize::MAX), from + len)
    };
    let mut directive = Directive {
        position: None,
        left: false,
        width: 0,
        precision: None,
    };
    let bar = bytes.get(start) == Some(&b'|');
    let mut i = start + usize::from(bar);
    if matches!(bytes.get(i), Some(b'1'..=b'9')) {
        let (n, end) = number(i);
        match bytes.get(end) {
            Some(b'%') if !bar => {
                directive.position = Some(n - 1);
                return Some((directive, end + 1));
            }
            Some(b'$') => {
                directive.position = Some(n - 1);
                i = end + 1;
            }
            _ => {}
        }
    }
    while let Some(&flag) = bytes.get(i) {
        match flag {
            b'-' => directive.left = true,
            b'+' | b'#' | b'\'' => {}
            // space and zero padding change string output in ways we do not model
            b' ' | b'0' => return None,
            _ => break,
        }
        i += 1;
    }
    if bytes.get(i).is_some_and(u8::is_ascii_digit) {
        (directive.width, i) = number(i);
        // A name is at most 255 octets: wider padding can only be an
        // error (and must not allocate gigabytes first).
        if directive.width > MAX_WIDTH {
            return None;
        }
    }
    if bytes.get(i) == Some(&b'.') {
        let (precision, end) = number(i + 1);
        directive.precision = Some(precision);
        i = end;
    }
    while matches!(bytes.get(i), Some(b'h' | b'l' | b'L' | b'q' | b'j' | b'z')) {
        i += 1;
    }
    match bytes.get(i) {
        Some(
            b's' | b'S' | b'd' | b'i' | b'u' | b'x' | b'X' | b'o' | b'p' | b'e' | b'E' | b'f' | b'F' | b'g' | b'G'
            | b'a' | b'A',
        ) => i += 1,
        Some(b'c' | b'C') => {
            directive.precision = Some(1);
            i += 1;
        }
        Some(b'|') if bar => {}
        _ => return None,
    }
    if bar {
        if bytes.get(i) != Some(&b'|') {
            return None;
        }
        i += 1;
    }
    Some((directive, i))
}

/// `boost::format(fmt)` with `too_many_args` and `too_few_args` errors disabled, fed `args` in order.
///
/// Covers `%N%` (1-based; a missing argument prints nothing), `%%`, printf-style `%[N$][-+#'][width]
/// [.precision][hlLqjz]conv` and `%|...|`, with Boost's effect on a string argument (precision and `%c`
/// truncate, width pads with spaces, the conversion letter is otherwise irrelevant). Mixing positional
/// and non-positional directives, a dangling `%`, `%0%` and unknown conversions are `bad_format_string`
/// in Boost: `None` (PowerDNS then returns "error"). Not reproduced, also `None`: the space and `0` flags,
/// `*` widths, `%n`, `%t`, `%T`.
pub(super) fn boost_format(format: &str, args: &[&[u8]]) -> Option<String> {
    enum Piece<'a> {
        Text(&'a [u8]),
        Arg(Directive),
    }
    let bytes = format.as_bytes();
    let mut pieces = Vec::new();
    let (mut literal_start, mut i) = (0, 0);
    while i < bytes.len() {
        if bytes[i] != b'%' {
            i += 1;
            continue;
        }
        pieces.push(Piece::Text(&bytes[literal_start..i]));
        if *bytes.get(i + 1)? == b'%' {
            pieces.push(Piece::Text(b"%"));
            i += 2;
        } else {
            let (directive, next) = parse_directive(bytes, i + 1)?;
            pieces.push(Piece::Arg(directive));
            i = next;
        }
        literal_start = i;
    }
    pieces.push(Piece::Text(&bytes[literal_start..]));
    let directives = || {
        pieces.iter().filter_map(|p| match p {
            Piece::Arg(d) => Some(d),
            Piece::Text(_) => None,
        })
    };
    if directives().any(|d| d.position.is_some()) && directives().any(|d| d.position.is_none()) {
        return None;
    }
    let mut out = Vec::with_capacity(format.len());
    let mut next = 0;
    for piece in &pieces {
        match piece {
            Piece::Text(text) => out.extend_from_slice(text),
            Piece::Arg(directive) => {
                let index = directive.position.unwrap_or_else(|| {
                    next += 1;
                    next - 1
                });
                directive.render(args.get(index).copied().unwrap_or_default(), &mut out);
            }
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// C's `%f` (`std::to_string(double)`): six decimals, "nan"/"-nan"/"inf"/"-inf" for non-finite values.
pub(super) fn c_fixed6(value: f64) -> String {
    if value.is_nan() {
        return if value.is_sign_negative() { "-nan" } else { "nan" }.to_owned();
    }
    if value.is_infinite() {
        return if value < 0.0 { "-inf" } else { "inf" }.to_owned();
    }
    format!("{value:.6}")
}

/// `std::ostream << double` with default flags, i.e. C's `%g` with precision 6.
pub(super) fn c_general6(value: f64) -> String {
    if !value.is_finite() {
        return c_fixed6(value);
    }
    if value == 0.0 {
        return if value.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    let strip = |s: String| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            s
        }
    };
    let scientific = format!("{value:.5e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if (-4..6).contains(&exponent) {
        strip(format!("{value:.prec$}", prec = (5 - exponent) as usize))
    } else {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", strip(mantissa.to_owned()), exponent.unsigned_abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn general_format_matches_printf_g() {
        // from printf("%g") with glibc
        let cases = [
            (46.799_999_999_998_82, "46.8"),
            (15.119_999_999_998_8, "15.12"),
            (0.0001, "0.0001"),
            (0.000_012_345_6, "1.23456e-05"),
            (1.278_976_924_368_58e-11, "1.27898e-11"),
            (59.999_999_9, "60"),
            (123_456.0, "123456"),
            (1_234_567.0, "1.23457e+06"),
            (-2.5, "-2.5"),
            (1e100, "1e+100"),
        ];
        for (value, want) in cases {
            assert_eq!(c_general6(value), want, "{value}");
        }
        assert_eq!(c_general6(f64::NAN), "nan");
        assert_eq!(c_fixed6(-0.0), "-0.000000");
        assert_eq!(c_fixed6(f64::NEG_INFINITY), "-inf");
    }

    #[test]
    fn boost_format_matches_boost() {
        // from boost::format 1.74 with too_many/too_few_args disabled, as in PowerDNS
        let args: [&[u8]; 6] = [b"1", b"2", b"3", b"4", b"1-2-3-4", b"01020304"];
        let cases = [
            ("%5%.example.com", Some("1-2-3-4.example.com")),
            ("100%%-%7%-%5%", Some("100%--1-2-3-4")),
            ("%s.%s-%d", Some("1.2-3")),
            ("%s-%1%", None),
            ("trailing%", None),
            ("%0%", None),
            ("%05%", None),
            ("%5", None),
            ("%c-%s", Some("1-2")),
            ("%5$s", Some("1-2-3-4")),
            ("%|5|", Some("    1")),
            ("%-5s|", Some("1    |")),
            ("%x%X", Some("12")),
            ("%1$s", Some("1")),
            ("%99999999999999999999999%", Some("")),
            ("%1%%41%", Some("1")),
        ];
        for (format, want) in cases {
            assert_eq!(boost_format(format, &args).as_deref(), want, "{format}");
        }
        let args: [&[u8]; 6] = [b"1-2-3-4", b"22", b"333", b"4", b"x", b"y"];
        let cases = [
            ("%c", Some("1")),
            ("%.2s", Some("1-")),
            ("%5s|", Some("1-2-3-4|")),
            ("%+s", Some("1-2-3-4")),
            ("%|-5|", Some("1-2-3-4")),
            ("%2$-3s|", Some("22 |")),
            ("%5$s-%1$s", Some("x-1-2-3-4")),
            ("%1$s-%s", None),
            ("%|2$5|", Some("   22")),
            ("%N", None),
            ("%1", None),
            ("%%%", None),
            ("%p", Some("1-2-3-4")),
            ("%T", None),
            ("%1%%", None),
            ("%-%", None),
            ("%.3%", None),
            ("%l", None),
            ("%ls", Some("1-2-3-4")),
            ("%lld", Some("1-2-3-4")),
            ("%1$", None),
            ("%|", None),
            ("%||", Some("1-2-3-4")),
            ("%|s|", Some("1-2-3-4")),
            ("%'s", Some("1-2-3-4")),
            ("%3%%2$s", Some("33322")),
            ("%10%", Some("")),
            ("%1%-%1%", Some("1-2-3-4-1-2-3-4")),
            ("%1$c", Some("1")),
            ("%.0s|", Some("|")),
        ];
        for (format, want) in cases {
            assert_eq!(boost_format(format, &args).as_deref(), want, "{format}");
        }
    }
}
