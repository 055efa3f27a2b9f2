//! glibc as PowerDNS's `ComboAddress` and its LUA helpers see it:
//! `inet_aton` (so `1`, `1.2`, octal `010` and hex `0x0a` forms are
//! accepted, and text after whitespace is ignored), `strtoul`/`stol`,
//! `sscanf("%02x")`, an optional `:port` / `[v6]:port`, `inet_pton` for
//! IPv6, C strings that stop at a NUL byte, and `inet_ntop` output (which
//! prints `::a.b.c.d` for IPv4-compatible and `::ffff:a.b.c.d` for mapped
//! addresses). Reproduced bit for bit, because LUA answers must be
//! PowerDNS's.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What `std::string::c_str()` shows to C functions: the bytes before the first NUL.
pub(super) fn c_str(bytes: &[u8]) -> &[u8] {
    bytes.iter().position(|&b| b == 0).map_or(bytes, |end| &bytes[..end])
}

/// C `isspace` in the "C" locale.
pub(super) fn c_isspace(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// `strtoul(s, &end, 0)` for input starting with a digit: returns the value (saturated above
/// `u32::MAX`, which every caller rejects) and the end index.
pub(super) fn strtoul_base0(s: &[u8]) -> (u64, usize) {
    let (radix, start) = match s {
        [b'0', b'x' | b'X', d, ..] if d.is_ascii_hexdigit() => (16, 2),
        [b'0', ..] => (8, 0),
        _ => (10, 0),
    };
    let mut value = 0u64;
    let mut end = start;
    while let Some(digit) = s.get(end).and_then(|&c| char::from(c).to_digit(radix)) {
        value = (value * u64::from(radix) + u64::from(digit)).min(u64::from(u32::MAX) + 1);
        end += 1;
    }
    (value, end)
}

/// glibc `inet_aton`: one to four parts (`a`, `a.b`, `a.b.c`, `a.b.c.d`), the last filling the
/// remaining bytes; parts in C notation; whitespace ends the address and whatever follows is ignored.
pub(super) fn inet_aton(text: &[u8]) -> Option<Ipv4Addr> {
    let s = c_str(text);
    let mut leading: Vec<u32> = Vec::with_capacity(3);
    let mut i = 0;
    let last = loop {
        if !s.get(i).is_some_and(u8::is_ascii_digit) {
            return None;
        }
        let (value, len) = strtoul_base0(&s[i..]);
        let value = u32::try_from(value).ok()?;
        i += len;
        if s.get(i) == Some(&b'.') {
            if leading.len() > 2 || value > 0xff {
                return None;
            }
            leading.push(value);
            i += 1;
        } else {
            break value;
        }
    };
    if s.get(i).is_some_and(|&c| !c_isspace(c)) {
        return None;
    }
    let max = [u32::MAX, 0x00ff_ffff, 0xffff, 0xff][leading.len()];
    if last > max {
        return None;
    }
    let high = leading
        .iter()
        .enumerate()
        .fold(0u32, |acc, (n, &b)| acc | (b << (24 - 8 * n)));
    Some(Ipv4Addr::from(high | last))
}

/// Where the digits of a C integer start after leading whitespace and an
/// optional sign, and whether that sign was `-` (`strtol` and `stoull`).
pub(super) fn leading_sign(s: &[u8]) -> (usize, bool) {
    let i = s.iter().take_while(|&&c| c_isspace(c)).count();
    match s.get(i) {
        Some(b'-') => (i + 1, true),
        Some(b'+') => (i + 1, false),
        _ => (i, false),
    }
}

/// `strtol(s, &end, 10)` on a C string, then stored into an `int` like PowerDNS does.
pub(super) fn strtol_to_int(s: &[u8]) -> (i32, usize) {
    let (i, negative) = leading_sign(s);
    let digits = s[i.min(s.len())..].iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 {
        return (0, 0);
    }
    let mut value: i128 = 0;
    for &c in &s[i..i + digits] {
        value = (value * 10 + i128::from(c - b'0')).min(i128::from(i64::MAX) + 1);
    }
    let long = if negative {
        (-value).max(i128::from(i64::MIN))
    } else {
        value.min(i128::from(i64::MAX))
    };
    (long as i64 as i32, i + digits)
}

/// `makeIPv4sockaddr`: IPv4 with an optional `:port`; the port is 0 when absent.
pub(super) fn make_ipv4(text: &[u8]) -> Option<(Ipv4Addr, u16)> {
    if text.is_empty() {
        return None;
    }
    let Some(colon) = text.iter().position(|&b| b == b':') else {
        return inet_aton(text).map(|a| (a, 0));
    };
    let rest = c_str(&text[colon + 1..]);
    if rest.is_empty() {
        return None;
    }
    let (port, end) = strtol_to_int(rest);
    let port = u16::try_from(port).ok()?;
    if end != rest.len() {
        return None;
    }
    inet_aton(&text[..colon]).map(|a| (a, port))
}

/// Outcome of `pdns::checked_stoi<uint16_t>`, which only `std::out_of_range` callers catch.
pub(super) enum PortParse {
    Port(u16),
    OutOfRange,
    InvalidArgument,
}

/// `checked_stoi<uint16_t>`: empty gives 0, otherwise `std::stoull` (leading space, sign, trailing junk
/// ignored) narrowed to 16 bits.
pub(super) fn checked_stoi_u16(s: &[u8]) -> PortParse {
    if s.is_empty() {
        return PortParse::Port(0);
    }
    let s = c_str(s);
    let (i, negative) = leading_sign(s);
    let digits: Vec<u8> = s[i.min(s.len())..]
        .iter()
        .copied()
        .take_while(u8::is_ascii_digit)
        .collect();
    if digits.is_empty() {
        return PortParse::InvalidArgument;
    }
    let mut value: u128 = 0;
    for c in digits {
        value = value * 10 + u128::from(c - b'0');
        if value > u128::from(u64::MAX) {
            return PortParse::OutOfRange;
        }
    }
    // stoull negates in unsigned arithmetic: "-0" is 0, any other negative is huge
    let value = if negative {
        (value as u64).wrapping_neg()
    } else {
        value as u64
    };
    u16::try_from(value).map_or(PortParse::OutOfRange, PortParse::Port)
}

/// `inet_pton(AF_INET6, ...)`.
pub(super) fn inet_pton6(text: &[u8]) -> Option<Ipv6Addr> {
    std::str::from_utf8(c_str(text)).ok()?.parse().ok()
}

/// Result of constructing a `ComboAddress` from text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Combo {
    Addr(IpAddr, u16),
    /// `PDNSException` ("Unable to convert presentation address"): callers usually catch it.
    Invalid,
    /// `std::invalid_argument` escaping from the `[v6]:port` parser: most callers do not catch it.
    Throws,
}

/// An address as PowerDNS reads one from text (`ComboAddress`): IPv4 in
/// any of `inet_aton`'s forms (so `64.001.2.3` is 64.1.2.3), IPv6, either
/// with a port, which is ignored.
pub fn parse_address(text: &str) -> Option<IpAddr> {
    match combo_address(text.as_bytes()) {
        Combo::Addr(address, _) => Some(address),
        _ => None,
    }
}

/// A record's IPv4 content as PowerDNS reads it (`inet_aton`).
pub fn parse_ipv4(text: &str) -> Option<Ipv4Addr> {
    inet_aton(text.as_bytes())
}

/// `ComboAddress(str, 0)`: IPv4 first, then IPv6 (optionally bracketed with a port). Scoped IPv6
/// (`fe80::1%eth0`, accepted by PowerDNS's `getaddrinfo` fallback) is rejected here.
pub(super) fn combo_address(text: &[u8]) -> Combo {
    if let Some((addr, port)) = make_ipv4(text) {
        return Combo::Addr(IpAddr::V4(addr), port);
    }
    if text.is_empty() {
        return Combo::Invalid;
    }
    let (inner, port) = if text[0] == b'[' {
        let Some(close) = text.iter().position(|&b| b == b']') else {
            return Combo::Invalid;
        };
        let port = if close + 1 == text.len() {
            0
        } else if text.get(close + 1) != Some(&b':') {
            return Combo::Invalid;
        } else {
            match checked_stoi_u16(&text[close + 2..]) {
                PortParse::Port(port) => port,
                PortParse::OutOfRange => return Combo::Invalid,
                PortParse::InvalidArgument => return Combo::Throws,
            }
        };
        (&text[1..close], port)
    } else {
        (text, 0)
    };
    inet_pton6(inner).map_or(Combo::Invalid, |addr| Combo::Addr(IpAddr::V6(addr), port))
}

/// glibc `inet_ntop(AF_INET6)`: longest run (>= 2, first on ties) of zero groups compressed, lowercase
/// hex, and the last 32 bits dotted for `::a.b.c.d` (96 zero bits) and `::ffff:a.b.c.d`.
pub(super) fn format_v6(addr: Ipv6Addr) -> String {
    let words = addr.segments();
    let (mut best, mut best_len, mut run, mut run_len) = (None::<usize>, 0, None::<usize>, 0);
    for (i, &word) in words.iter().enumerate() {
        if word == 0 {
            run.get_or_insert(i);
            run_len += 1;
        } else if let Some(start) = run.take() {
            if best.is_none() || run_len > best_len {
                (best, best_len) = (Some(start), run_len);
            }
            run_len = 0;
        }
    }
    if let Some(start) = run.filter(|_| best.is_none() || run_len > best_len) {
        (best, best_len) = (Some(start), run_len);
    }
    let best = best.filter(|_| best_len >= 2);
    let mut out = String::new();
    for (i, &word) in words.iter().enumerate() {
        if let Some(start) = best.filter(|start| (*start..*start + best_len).contains(&i)) {
            if i == start {
                out.push(':');
            }
            continue;
        }
        if i != 0 {
            out.push(':');
        }
        if i == 6 && best == Some(0) && (best_len == 6 || (best_len == 5 && words[5] == 0xffff)) {
            let [.., a, b, c, d] = addr.octets();
            out.push_str(&Ipv4Addr::new(a, b, c, d).to_string());
            return out;
        }
        out.push_str(&format!("{word:x}"));
    }
    if best.is_some_and(|start| start + best_len == 8) {
        out.push(':');
    }
    out
}

/// `ComboAddress::toString()` (port never shown).
pub(super) fn address_text(addr: IpAddr) -> String {
    match addr {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format_v6(v6),
    }
}

/// `std::stol` followed by the "nothing after the number" check of current PowerDNS: accepts
/// leading whitespace and a sign, like `stol`.
pub(super) fn stol_exact(text: &[u8]) -> Option<i64> {
    let s = c_str(text);
    let (i, negative) = leading_sign(s);
    let digits = &s[i.min(s.len())..];
    if digits.is_empty() || i + digits.len() != text.len() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let magnitude = digits
        .iter()
        .try_fold(0i64, |acc, &c| acc.checked_mul(10)?.checked_add(i64::from(c - b'0')))?;
    Some(if negative { -magnitude } else { magnitude })
}

/// `sscanf(text, "%02x%02x%02x%02x")` as glibc does it: each conversion skips whitespace, then reads at
/// most two characters of `[+-]` and hex digits; a `-` negates in unsigned arithmetic.
pub(super) fn scan_four_hex_pairs(text: &[u8]) -> Option<[u32; 4]> {
    let s = c_str(text);
    let mut out = [0u32; 4];
    let mut i = 0;
    for slot in &mut out {
        i += s[i..].iter().take_while(|&&c| c_isspace(c)).count();
        let mut width = 2;
        let negative = match s.get(i) {
            Some(&sign @ (b'-' | b'+')) => {
                i += 1;
                width -= 1;
                sign == b'-'
            }
            _ => false,
        };
        // glibc takes "0x" as a prefix even when the width leaves no room for digits: value 0
        if width == 2 && s.get(i) == Some(&b'0') && matches!(s.get(i + 1), Some(b'x' | b'X')) {
            *slot = 0;
            i += 2;
            continue;
        }
        let digits = s[i..].iter().take(width).take_while(|c| c.is_ascii_hexdigit()).count();
        if digits == 0 {
            return None;
        }
        let value = s[i..i + digits]
            .iter()
            .fold(0u32, |acc, &c| acc * 16 + char::from(c).to_digit(16).unwrap_or(0));
        *slot = if negative { value.wrapping_neg() } else { value };
        i += digits;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inet_aton_matches_glibc() {
        let ok = [
            ("1.2.3.4", [1, 2, 3, 4]),
            ("1", [0, 0, 0, 1]),
            ("1.2", [1, 0, 0, 2]),
            ("1.2.3", [1, 2, 0, 3]),
            ("1.16777215", [1, 255, 255, 255]),
            ("010.0x10.0X1f.7", [8, 16, 31, 7]),
            ("0x7f000001", [127, 0, 0, 1]),
            ("4294967295", [255, 255, 255, 255]),
            ("1.2.3.4 trailing", [1, 2, 3, 4]),
            ("1.2.3.4\tx", [1, 2, 3, 4]),
            ("0", [0, 0, 0, 0]),
        ];
        for (text, octets) in ok {
            assert_eq!(inet_aton(text.as_bytes()), Some(Ipv4Addr::from(octets)), "{text}");
        }
        let bad = [
            "",
            "1.2.3.4.5",
            "256.1.1.1",
            "1.2.3.256",
            "08.1.1.1",
            "1..2",
            "1.2.",
            ".1",
            "0x",
            "1.2.3.4x",
            "4294967296",
            "1.16777216",
            " 1.2.3.4",
            "+1.2.3.4",
            "-1",
            "a",
            "1-2-3-4",
        ];
        for text in bad {
            assert_eq!(inet_aton(text.as_bytes()), None, "{text}");
        }
        assert_eq!(inet_aton(b"1.2.3.4\0junk"), Some(Ipv4Addr::new(1, 2, 3, 4)));
    }

    #[test]
    fn combo_address_forms() {
        let v4 = |a: [u8; 4], port| Combo::Addr(IpAddr::V4(Ipv4Addr::from(a)), port);
        let v6 = |s: &str, port| Combo::Addr(IpAddr::V6(s.parse().unwrap()), port);
        assert_eq!(combo_address(b"10.10.10.10"), v4([10, 10, 10, 10], 0));
        assert_eq!(combo_address(b"10.10.10.10:53"), v4([10, 10, 10, 10], 53));
        assert_eq!(combo_address(b"10.10.10.10:"), Combo::Invalid);
        assert_eq!(combo_address(b"10.10.10.10:65536"), Combo::Invalid);
        assert_eq!(combo_address(b"10.10.10.10:4294967349"), v4([10, 10, 10, 10], 53)); // int truncation
        assert_eq!(combo_address(b"2001:db8::1"), v6("2001:db8::1", 0));
        assert_eq!(combo_address(b"[2001:db8::1]"), v6("2001:db8::1", 0));
        assert_eq!(combo_address(b"[2001:db8::1]:53"), v6("2001:db8::1", 53));
        assert_eq!(combo_address(b"[2001:db8::1]:"), v6("2001:db8::1", 0));
        assert_eq!(combo_address(b"[2001:db8::1]: 53x"), v6("2001:db8::1", 53));
        assert_eq!(combo_address(b"[2001:db8::1]:70000"), Combo::Invalid);
        assert_eq!(combo_address(b"[2001:db8::1]:-1"), Combo::Invalid);
        assert_eq!(combo_address(b"[2001:db8::1]:x"), Combo::Throws);
        assert_eq!(combo_address(b"[2001:db8::1]x"), Combo::Invalid);
        assert_eq!(combo_address(b"::ffff:1.2.3.4"), v6("::ffff:1.2.3.4", 0));
        assert_eq!(combo_address(b"fe80::1%eth0"), Combo::Invalid);
        assert_eq!(combo_address(b""), Combo::Invalid);
    }

    #[test]
    fn inet_ntop6_matches_glibc() {
        // from glibc inet_ntop
        let cases = [
            ("::", "::"),
            ("::1", "::1"),
            ("::2:0", "::0.2.0.0"),
            ("::102:304", "::1.2.3.4"),
            ("::ffff:102:304", "::ffff:1.2.3.4"),
            ("0:0:0:0:0:1:102:304", "::1:102:304"),
            ("1:0:0:1:0:0:0:1", "1:0:0:1::1"),
            ("1:0:0:2:0:0:3:4", "1::2:0:0:3:4"),
            ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
            ("1:2:3:4:5:6:7:0", "1:2:3:4:5:6:7:0"),
            ("1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7"),
            ("ABCD:EF01::", "abcd:ef01::"),
            ("0:0:0:0:0:ffff:0:0", "::ffff:0.0.0.0"),
        ];
        for (input, want) in cases {
            assert_eq!(format_v6(input.parse().unwrap()), want, "{input}");
        }
    }

    #[test]
    fn inet_pton6_matches_glibc() {
        // from glibc inet_pton + inet_ntop
        let ok = [
            ("::1.2.3.4", "::1.2.3.4"),
            ("1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"),
            ("1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"),
            ("::1:2:3:4:5:6:7", "0:1:2:3:4:5:6:7"),
            ("0000:0000::0001", "::1"),
            ("::ffff:1.2.3.4", "::ffff:1.2.3.4"),
        ];
        for (input, want) in ok {
            assert_eq!(
                inet_pton6(input.as_bytes()).map(format_v6).as_deref(),
                Some(want),
                "{input}"
            );
        }
        let bad = [
            "1::2::3",
            ":1::",
            "1:2:3:4:5:6:7:8:9",
            "1:2:3:4:5:6:7:1.2.3.4",
            "::01.2.3.4",
            "00000::1",
            "::ffff:1.2.3",
            "1::2:3:4:5:6:7:8",
            ":::",
            "1:",
            "::g",
            "::1.2.3.04",
            "1.2.3.4",
            "::256.1.1.1",
        ];
        for input in bad {
            assert_eq!(inet_pton6(input.as_bytes()), None, "{input}");
        }
    }

    #[test]
    fn scanf_hex_pairs_match_glibc() {
        // from glibc sscanf(s, "%02x%02x%02x%02x")
        let cases: [(&str, Option<[u32; 4]>); 14] = [
            ("40414243", Some([64, 65, 66, 67])),
            ("4041424A", Some([64, 65, 66, 74])),
            ("0x0x0x0x", Some([0, 0, 0, 0])),
            ("+1+2+3+4", Some([1, 2, 3, 4])),
            ("-1020304", Some([u32::MAX, 2, 3, 4])),
            (" 1 2 3 4x", Some([1, 2, 3, 4])),
            ("12345678", Some([18, 52, 86, 120])),
            ("0x414243", Some([0, 65, 66, 67])),
            ("1 2 3 4 ", Some([1, 2, 3, 4])),
            ("12-4-567", Some([18, 4_294_967_292, 4_294_967_291, 103])),
            ("00000000", Some([0, 0, 0, 0])),
            ("ffffffff", Some([255, 255, 255, 255])),
            ("x0414243", None),
            ("4041424g", Some([64, 65, 66, 4])),
        ];
        for (input, want) in cases {
            assert_eq!(scan_four_hex_pairs(input.as_bytes()), want, "{input}");
        }
    }
}
