//! Name-shaped LUA-record helpers of PowerDNS (`createReverse`, `createReverse6`, `createForward`,
//! `createForward6`, `closestMagic`'s address parsing, `latlon`, `latlonloc`), reproduced bit for bit.
//!
//! Names come as the wire octets of the query name, case preserved exactly as received (PowerDNS
//! echoes labels as they came, and some outputs contain them); labels are raw octets, like
//! `DNSName::getRawLabels`. Addresses are parsed and printed as PowerDNS's `ComboAddress` does on
//! glibc (see [`super::libc`]).

use std::net::IpAddr;

use base::name::wire;

use super::format::{boost_format, c_fixed6, c_general6};
use super::libc::{address_text, combo_address, format_v6, inet_pton6, scan_four_hex_pairs, stol_exact, Combo};

/// Labels of `qname` relative to the parent of a wildcard `owner` (`DNSName::makeRelative` after
/// `chopOff`); `None` when `owner` is not a wildcard. A qname outside the parent gives no labels.
fn wildcard_relative<'q>(qname: &'q [u8], owner: &[u8]) -> Option<Vec<&'q [u8]>> {
    let mut owner_labels = wire::labels(owner);
    if owner_labels.next()? != b"*" {
        return None;
    }
    let parent: Vec<&[u8]> = owner_labels.collect();
    let mut labels: Vec<&[u8]> = wire::labels(qname).collect();
    let keep = labels.len().checked_sub(parent.len());
    let inside = keep.is_some_and(|keep| {
        labels[keep..]
            .iter()
            .zip(&parent)
            .all(|(a, b)| a.eq_ignore_ascii_case(b))
    });
    match keep {
        Some(keep) if inside => labels.truncate(keep),
        _ => labels.clear(),
    }
    Some(labels)
}

/// Looks `wanted` up in the `exceptions` table like PowerDNS: keys are parsed as addresses (port included
/// in the comparison) and compared with the requested address. PowerDNS walks an `unordered_map`, whose
/// order we cannot know, so keys are tried in slice order; a malformed key met before a match yields
/// "error" (PowerDNS: whenever its hash order puts that key first).
fn exception_lookup(wanted: (IpAddr, u16), exceptions: &[(String, String)]) -> Option<String> {
    for (key, value) in exceptions {
        match combo_address(key.as_bytes()) {
            Combo::Addr(addr, port) if (addr, port) == wanted => return Some(value.clone()),
            Combo::Addr(..) => {}
            Combo::Invalid | Combo::Throws => return Some("error".to_owned()),
        }
    }
    None
}

/// A label that is a decimal number 0..=255 (digits only, leading zeros allowed), as current PowerDNS
/// requires of the four address labels.
fn decimal_octet(label: &[u8]) -> Option<u8> {
    if label.is_empty() || !label.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let value = label
        .iter()
        .fold(0u32, |acc, &c| (acc * 10 + u32::from(c - b'0')).min(256));
    u8::try_from(value).ok()
}

/// `createReverse(format, exceptions)` for `*.in-addr.arpa` wildcards; `qname` is the query name.
///
/// Uses the first four labels of the whole qname (`4.3.2.1.in-addr.arpa` is 1.2.3.4). Fewer than four
/// labels: "unknown". Any of the four not a decimal number 0..=255 (digits only, leading zeros allowed):
/// "error". Then the first exception whose key is the same address (and port) wins. Otherwise `format`
/// is filled with `%1%`..`%4%` = the octets most significant first, `%5%` = `a-b-c-d`, `%6%` = 8 lowercase
/// hex digits; a format Boost rejects gives "error". An empty `exceptions` slice means no table given.
pub fn create_reverse(qname: &[u8], format: &str, exceptions: &[(String, String)]) -> String {
    let labels: Vec<&[u8]> = wire::labels(qname).collect();
    if labels.len() < 4 {
        return "unknown".to_owned();
    }
    let octets: Vec<&[u8]> = labels[..4].iter().rev().copied().collect();
    let Some(values) = octets
        .iter()
        .map(|label| decimal_octet(label))
        .collect::<Option<Vec<u8>>>()
    else {
        return "error".to_owned();
    };
    if !exceptions.is_empty() {
        // the same text PowerDNS parses, so `010` is octal here but decimal in %6%
        let Combo::Addr(addr, port) = combo_address(&octets.join(&b'.')) else {
            return "error".to_owned();
        };
        if let Some(found) = exception_lookup((addr, port), exceptions) {
            return found;
        }
    }
    let dashed = octets.join(&b'-');
    let hex: String = values.iter().map(|v| format!("{v:02x}")).collect();
    let args = [octets[0], octets[1], octets[2], octets[3], &dashed, hex.as_bytes()];
    boost_format(format, &args).unwrap_or_else(|| "error".to_owned())
}

/// `createReverse6(format, exceptions)` for `*.ip6.arpa` wildcards; `qname` is the query name.
///
/// Needs at least 32 labels ("unknown" otherwise) and the first 32 must each be one hex digit ("error"
/// otherwise). Exceptions as in [`create_reverse`]. Placeholders: `%1%`..`%32%` the nibble labels most
/// significant first (case as received), `%33%` the `inet_ntop` form with `:` turned into `-`, then a `0`
/// appended if it ends in `-` and prepended if it starts with `-` or has `--` at offset 2 (PowerDNS issue
/// 7524, so `::` gives `0--0` and `aa::` gives `0aa--0`), `%34%`..`%41%` the eight 4-digit groups.
pub fn create_reverse6(qname: &[u8], format: &str, exceptions: &[(String, String)]) -> String {
    let labels: Vec<&[u8]> = wire::labels(qname).collect();
    if labels.len() < 32 {
        return "unknown".to_owned();
    }
    let nibbles: Vec<&[u8]> = labels[..32].iter().rev().copied().collect();
    if !nibbles.iter().all(|n| n.len() == 1 && n[0].is_ascii_hexdigit()) {
        return "error".to_owned();
    }
    let quads: Vec<Vec<u8>> = nibbles.chunks(4).map(|group| group.concat()).collect();
    let together = quads.join(&b':');
    let Some(addr) = inet_pton6(&together) else {
        return "error".to_owned();
    };
    if let Some(found) = (!exceptions.is_empty())
        .then(|| exception_lookup((IpAddr::V6(addr), 0), exceptions))
        .flatten()
    {
        return found;
    }
    let mut dashed = format_v6(addr).replace(':', "-");
    if dashed.ends_with('-') {
        dashed.push('0');
    }
    if dashed.starts_with('-') || dashed.get(2..4) == Some("--") {
        dashed.insert(0, '0');
    }
    let mut args: Vec<&[u8]> = nibbles;
    args.push(dashed.as_bytes());
    args.extend(quads.iter().map(Vec::as_slice));
    boost_format(format, &args).unwrap_or_else(|| "error".to_owned())
}

/// `createForward()` on a wildcard LUA A record: returns the text PowerDNS returns to Lua.
///
/// `owner` is the LUA record's own name (e.g. `*.static.example.org`); PowerDNS strips its parent
/// (`static.example.org`) from the qname, and answers "0.0.0.0" when `owner` is not a wildcard. With the
/// remaining labels: four or more give `ComboAddress(l0.l1.l2.l3)` printed back (so `1.2.3.4.foo` is
/// 1.2.3.4, and inet_aton forms are normalised); otherwise the first label, minus any leading run of
/// non-hex characters, is either dash-separated (the last four parts, each a whole decimal 0..=255,
/// echoed verbatim: `ip-01-2-3-4` gives `01.2.3.4`) or its last 8 characters are read as four hex
/// pairs. Anything else gives "0.0.0.0". The result may also be an IPv6 text for odd labels, which then
/// fails as A content. `None` stands for the rare C++ exception PowerDNS does not catch (a label like
/// `[::1]:x` in the four-label form): SERVFAIL.
pub fn create_forward(qname: &[u8], owner: &[u8]) -> Option<String> {
    const ZERO: &str = "0.0.0.0";
    let Some(parts) = wildcard_relative(qname, owner) else {
        return Some(ZERO.to_owned());
    };
    if parts.len() >= 4 {
        return match combo_address(&parts[..4].join(&b'.')) {
            Combo::Addr(addr, _) => Some(address_text(addr)),
            Combo::Invalid => Some(ZERO.to_owned()),
            Combo::Throws => None,
        };
    }
    let Some(first) = parts.first() else {
        return Some(ZERO.to_owned());
    };
    // strcspn against the hex digits: stops at a hex digit or at a NUL byte
    let prefix = first.iter().take_while(|&&c| c != 0 && !c.is_ascii_hexdigit()).count();
    let input = &first[prefix..];
    let tokens: Vec<&[u8]> = input.split(|&c| c == b'-').filter(|t| !t.is_empty()).collect();
    if tokens.len() >= 4 {
        let last4 = &tokens[tokens.len() - 4..];
        let valid = last4
            .iter()
            .all(|t| stol_exact(t).is_some_and(|v| (0..=255).contains(&v)));
        return Some(if valid {
            last4.join(&b'.').iter().map(|&c| char::from(c)).collect()
        } else {
            ZERO.to_owned()
        });
    }
    if let Some(pairs) = (input.len() >= 8)
        .then(|| scan_four_hex_pairs(&input[input.len() - 8..]))
        .flatten()
    {
        // PowerDNS re-parses the decimal text, which rejects values from a '-' sign
        if pairs.iter().all(|&v| v <= 255) {
            return Some(pairs.map(|v| v.to_string()).join("."));
        }
    }
    Some(ZERO.to_owned())
}

/// `createForward6()` on a wildcard LUA AAAA record; `owner` as in [`create_forward`].
///
/// Eight remaining labels: joined with `:` and parsed. One label: if it has a `-`, every `-` becomes `:`
/// (so `2001--db8` is 2001::db8); else if it has at least 32 characters, the last 32 are read as eight
/// groups of four. The parsed address is printed back in `inet_ntop` form (an IPv4 text is possible,
/// e.g. from `1.2.3.4-53`). Anything unparsable gives "::". `None`: uncaught C++ exception (SERVFAIL).
pub fn create_forward6(qname: &[u8], owner: &[u8]) -> Option<String> {
    const ZERO: &str = "::";
    let Some(parts) = wildcard_relative(qname, owner) else {
        return Some(ZERO.to_owned());
    };
    let text = match parts.as_slice() {
        [_, _, _, _, _, _, _, _] => parts.join(&b':'),
        [one] if one.contains(&b'-') => one.iter().map(|&c| if c == b'-' { b':' } else { c }).collect(),
        [one] if one.len() >= 32 => one[one.len() - 32..].chunks(4).collect::<Vec<_>>().join(&b':'),
        _ => return Some(ZERO.to_owned()),
    };
    match combo_address(&text) {
        Combo::Addr(addr, _) => Some(address_text(addr)),
        Combo::Invalid => Some(ZERO.to_owned()),
        Combo::Throws => None,
    }
}

/// The candidate list `closestMagic()` builds from the qname before `pickclosest`.
///
/// Each label, leftmost first, with `-` turned into `.`, is parsed as an address until one fails
/// (`1-1-1-3.17-1-2-4.1-2-3-5.magic.example.org` gives 1.1.1.3, 17.1.2.4, 1.2.3.5). inet_aton rules
/// apply, so a label like `10` is 0.0.0.10. An empty result means SERVFAIL (pickclosest throws on an
/// empty list); the uncaught-exception case (`[::1]:x`-style label) also returns an empty list.
pub fn magic_addresses(qname: &[u8]) -> Vec<IpAddr> {
    let mut candidates = Vec::new();
    for label in wire::labels(qname) {
        let text: Vec<u8> = label.iter().map(|&c| if c == b'-' { b'.' } else { c }).collect();
        match combo_address(&text) {
            Combo::Addr(addr, _) => candidates.push(addr),
            Combo::Invalid => break,
            Combo::Throws => return Vec::new(),
        }
    }
    candidates
}

/// `latlon()`: `std::to_string(lat) + " " + std::to_string(lon)`, e.g. "47.913000 -122.304200".
/// (0, 0) is what PowerDNS prints when the GeoIP lookup fails.
pub fn latlon_text(latitude: f64, longitude: f64) -> String {
    format!("{} {}", c_fixed6(latitude), c_fixed6(longitude))
}

/// `latlonloc()`: LOC presentation text, e.g. `47 54 46.8 N 122 18 15.12 W 0.00m 1.00m 10000.00m 10.00m`.
///
/// Same arithmetic as PowerDNS: hemisphere N/E only for values > 0 (so 0 is S/W), degrees and minutes
/// truncated to int, seconds `((x - deg) * 60 - min) * 60` printed by a stream (`%g`, six significant
/// digits, so a tiny remainder can print as `1.27898e-11`), fixed altitude and precision fields.
/// PowerDNS returns "" when the GeoIP database has no location; that case is the caller's.
pub fn loc_text(latitude: f64, longitude: f64) -> String {
    let split = |value: f64, positive: char, negative: char| {
        let (value, hemisphere) = if value > 0.0 {
            (value, positive)
        } else {
            (-value, negative)
        };
        // `as i32` saturates where C++ would be undefined (|x| >= 2^31, NaN)
        let degrees = value as i32;
        let minutes = ((value - f64::from(degrees)) * 60.0) as i32;
        let seconds = ((value - f64::from(degrees)) * 60.0 - f64::from(minutes)) * 60.0;
        format!("{degrees} {minutes} {} {hemisphere}", c_general6(seconds))
    };
    format!(
        "{} {} 0.00m 1.00m 10000.00m 10.00m",
        split(latitude, 'N', 'S'),
        split(longitude, 'E', 'W')
    )
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use base::Name;

    use super::*;

    /// The wire form of a name in presentation form; text that is no name
    /// becomes the root, which has no labels (as PowerDNS sees it).
    fn wire(text: &str) -> Vec<u8> {
        Name::parse(text, Some(&Name::root())).map_or_else(|_| vec![0], |name| name.as_wire().to_vec())
    }

    fn create_reverse(qname: &str, format: &str, exceptions: &[(String, String)]) -> String {
        super::create_reverse(&wire(qname), format, exceptions)
    }

    fn create_reverse6(qname: &str, format: &str, exceptions: &[(String, String)]) -> String {
        super::create_reverse6(&wire(qname), format, exceptions)
    }

    fn create_forward(qname: &str, owner: &str) -> Option<String> {
        super::create_forward(&wire(qname), &wire(owner))
    }

    fn create_forward6(qname: &str, owner: &str) -> Option<String> {
        super::create_forward6(&wire(qname), &wire(owner))
    }

    fn magic_addresses(qname: &str) -> Vec<IpAddr> {
        super::magic_addresses(&wire(qname))
    }

    fn exceptions(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    /// `filterForward(address, nmg, fallback)` as the regression fixture uses it (test-only).
    fn filter_forward(address: &str, nets: &[(&str, u8)], fallback: Option<&str>) -> String {
        let Combo::Addr(addr, _) = combo_address(address.as_bytes()) else {
            return "SERVFAIL".to_owned();
        };
        let inside = |(net, bits): &(&str, u8)| match (addr, net.parse::<IpAddr>().unwrap()) {
            (IpAddr::V4(a), IpAddr::V4(n)) => {
                u32::from(a).checked_shr(32 - u32::from(*bits)) == u32::from(n).checked_shr(32 - u32::from(*bits))
            }
            (IpAddr::V6(a), IpAddr::V6(n)) => {
                u128::from(a).checked_shr(128 - u32::from(*bits)) == u128::from(n).checked_shr(128 - u32::from(*bits))
            }
            _ => false,
        };
        if nets.iter().any(inside) {
            return address.to_owned();
        }
        match (fallback, addr) {
            (Some(fallback), _) => fallback.to_owned(),
            (None, IpAddr::V4(_)) => "0.0.0.0".to_owned(),
            (None, IpAddr::V6(_)) => "::".to_owned(),
        }
    }

    /// PTR content is parsed as a name: PowerDNS makes it absolute.
    fn ptr(text: String) -> String {
        if text.ends_with('.') {
            text
        } else {
            text + "."
        }
    }

    #[test]
    fn regression_create_forward() {
        // *.createforward LUA A "filterForward(createForward(), newNMG{'1.0.0.0/8', '64.0.0.0/8'})"
        let owner = "*.createforward.example.org";
        let nets = [("1.0.0.0", 8), ("64.0.0.0", 8)];
        let cases = [
            ("1.2.3.4", "1.2.3.4"),
            ("1.2.3.4.static", "1.2.3.4"),
            ("1.2.3.4.5.6", "1.2.3.4"),
            ("invalid.1.2.3.4", "0.0.0.0"),
            ("invalid", "0.0.0.0"),
            ("1-2-3-4", "1.2.3.4"),
            ("1-2-3-4.foo", "1.2.3.4"),
            ("1-2-3-4.foo.bar", "1.2.3.4"),
            ("1-2-3-4aa.foo.bar", "0.0.0.0"),
            ("1-2-3-4.foo.bar.baz", "0.0.0.0"),
            ("1-2-3-4.foo.bar.baz.quux", "0.0.0.0"),
            ("ip-1-2-3-4", "1.2.3.4"),
            ("ip-is-here-for-you-1-2-3-4", "1.2.3.4"),
            ("40414243", "64.65.66.67"),
            ("p40414243", "64.65.66.67"),
            ("ip40414243", "64.65.66.67"),
            ("ipp40414243", "64.65.66.67"),
            ("ip4041424", "0.0.0.0"),
            ("ip-441424", "0.0.0.0"),
            ("ip-5abcdef", "0.0.0.0"),
            ("some-text-with-more-than-five-dashes", "0.0.0.0"),
            ("host64-22-33-44", "64.22.33.44"),
        ];
        for (prefix, want) in cases {
            let qname = format!("{prefix}.createforward.example.org.");
            let raw = create_forward(&qname, owner).unwrap();
            assert_eq!(raw, want, "raw createForward for {prefix}");
            assert_eq!(filter_forward(&raw, &nets, None), want, "filtered {prefix}");
        }
        // the one row that only the filter changes
        let raw = create_forward("2.2.2.2.createforward.example.org", owner).unwrap();
        assert_eq!(raw, "2.2.2.2");
        assert_eq!(filter_forward(&raw, &nets, None), "0.0.0.0");
    }

    #[test]
    fn regression_create_forward6() {
        // *.createforward6 LUA AAAA "filterForward(createForward6(), newNMG{'2000::/3'}, 'fe80::1')"
        let owner = "*.createforward6.example.org";
        let nets = [("2000::", 3)];
        let cases = [
            ("2001--db8", "2001::db8", "2001::db8"),
            (
                "20010002000300040005000600070db8",
                "2001:2:3:4:5:6:7:db8",
                "2001:2:3:4:5:6:7:db8",
            ),
            (
                "blabla20010002000300040005000600070db8",
                "2001:2:3:4:5:6:7:db8",
                "2001:2:3:4:5:6:7:db8",
            ),
            ("4000-db8--1", "4000:db8::1", "fe80::1"),    // filtered
            ("l1.l2.l3.l4.l5.l6.l7.l8", "::", "fe80::1"), // unparsable, then filtered
        ];
        for (prefix, raw_want, want) in cases {
            let qname = format!("{prefix}.createforward6.example.org");
            let raw = create_forward6(&qname, owner).unwrap();
            assert_eq!(raw, raw_want, "raw createForward6 for {prefix}");
            assert_eq!(filter_forward(&raw, &nets, Some("fe80::1")), want, "filtered {prefix}");
        }
    }

    #[test]
    fn regression_create_forward6_with_zero() {
        // *.no-filter.createforward6 LUA AAAA "createForward6()"
        let owner = "*.no-filter.createforward6.example.org.";
        let cases = [
            ("0--0", "::"),
            ("0--1", "::1"),
            ("0aa--0", "aa::"),
            ("0aa--1", "aa::1"),
            ("2001--0", "2001::"),
            ("a-b--c", "a:b::c"),
            ("a--b-c", "a::b:c"),
        ];
        for (prefix, want) in cases {
            let qname = format!("{prefix}.no-filter.createforward6.example.org.");
            assert_eq!(create_forward6(&qname, owner).as_deref(), Some(want), "{prefix}");
        }
    }

    #[test]
    fn regression_create_reverse() {
        // *.createreverse LUA PTR "createReverse('%5%.example.com', {['10.10.10.10'] = 'quad10.example.com.'})"
        let table = exceptions(&[("10.10.10.10", "quad10.example.com.")]);
        let run = |prefix: &str| {
            ptr(create_reverse(
                &format!("{prefix}.createreverse.example.org."),
                "%5%.example.com",
                &table,
            ))
        };
        assert_eq!(run("4.3.2.1"), "1-2-3-4.example.com.");
        assert_eq!(run("10.10.10.10"), "quad10.example.com.");
        assert_eq!(run("256.384.512.640"), "error.");
        assert_eq!(run("12a.34b.56c.78d"), "error.");
    }

    #[test]
    fn regression_create_reverse6() {
        // *.createreverse6 LUA PTR "createReverse6('%33%.example.com', {['2001:db8::1'] = 'example.example.com.'})"
        let table = exceptions(&[("2001:db8::1", "example.example.com.")]);
        let run = |prefix: &str| {
            ptr(create_reverse6(
                &format!("{prefix}.createreverse6.example.org"),
                "%33%.example.com",
                &table,
            ))
        };
        assert_eq!(
            run("8.b.d.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.2"),
            "2001--db8.example.com."
        );
        assert_eq!(
            run("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2"),
            "example.example.com."
        );
        // 28 nibbles + 3 suffix labels = 31 labels
        assert_eq!(
            run("8.b.d.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.2"),
            "unknown."
        );
        assert_eq!(
            run("O.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.b.c.A.2.F.E.9.C.0.0.3.0.0.2.I"),
            "error."
        );
        // testCreateForwardAndReverseWithZero
        let zero = [
            (
                "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0",
                "0--0.example.com.",
            ),
            (
                "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0",
                "0--1.example.com.",
            ),
            (
                "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.a.a.0.0",
                "0aa--0.example.com.",
            ),
            (
                "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.a.a.0.0",
                "0aa--1.example.com.",
            ),
            (
                "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.2",
                "2001--0.example.com.",
            ),
            (
                "c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.b.0.0.0.a.0.0.0",
                "a-b--c.example.com.",
            ),
            (
                "c.0.0.0.b.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.a.0.0.0",
                "a--b-c.example.com.",
            ),
        ];
        for (prefix, want) in zero {
            assert_eq!(run(prefix), want, "{prefix}");
        }
    }

    #[test]
    fn closest_magic_candidates() {
        let found = magic_addresses("1-1-1-3.17-1-2-4.1-2-3-5.magic.example.org");
        let want: Vec<IpAddr> = ["1.1.1.3", "17.1.2.4", "1.2.3.5"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        assert_eq!(found, want);
        assert!(magic_addresses("failure.magic.example.org").is_empty()); // testWildcardError: SERVFAIL
                                                                          // inet_aton forms: a bare number is an address, octal/hex parts are decoded
        assert_eq!(
            magic_addresses("10.x.example"),
            vec![IpAddr::V4(Ipv4Addr::new(0, 0, 0, 10))]
        );
        assert_eq!(
            magic_addresses("010-0x10-1-1.x"),
            vec![IpAddr::V4(Ipv4Addr::new(8, 16, 1, 1))]
        );
        assert!(magic_addresses("").is_empty());
    }

    #[test]
    fn regression_latlon() {
        // GeoIP location of 1.2.3.0/24 in the fixture database: 47.913, -122.3042
        assert_eq!(latlon_text(47.913, -122.3042), "47.913000 -122.304200");
        assert_eq!(
            loc_text(47.913, -122.3042),
            "47 54 46.8 N 122 18 15.12 W 0.00m 1.00m 10000.00m 10.00m"
        );
        // no location (GeoIP backend missing): atof("unknown") = 0 for both
        assert_eq!(latlon_text(0.0, 0.0), "0.000000 0.000000");
        // 0 is not > 0, so it is negated to -0.0 and the seconds print as "-0" (checked with g++ and Boost)
        assert_eq!(loc_text(0.0, 0.0), "0 0 -0 S 0 0 -0 W 0.00m 1.00m 10000.00m 10.00m");
    }

    #[test]
    fn loc_text_matches_cxx() {
        // from the PowerDNS getLatLon arithmetic compiled with g++ and Boost.Format
        let cases = [
            (
                -33.8688,
                151.2093,
                "33 52 7.68 S 151 12 33.48 E",
                "-33.868800 151.209300",
            ),
            (47.9, 8.5, "47 53 60 N 8 30 0 E", "47.900000 8.500000"),
            (51.98333, 5.91667, "51 58 59.988 N 5 55 0.012 E", "51.983330 5.916670"),
            (-0.5, -0.25, "0 30 0 S 0 15 0 W", "-0.500000 -0.250000"),
            (
                89.9999999,
                179.99999999,
                "89 59 59.9996 N 179 59 60 E",
                "90.000000 180.000000",
            ),
        ];
        for (lat, lon, loc, latlon) in cases {
            assert_eq!(loc_text(lat, lon), format!("{loc} 0.00m 1.00m 10000.00m 10.00m"));
            assert_eq!(latlon_text(lat, lon), latlon);
        }
    }

    #[test]
    fn create_reverse_placeholders() {
        let qname = "4.3.2.1.in-addr.arpa.";
        assert_eq!(
            create_reverse(qname, "%1%.%2%.%3%.%4%/%5%/%6%", &[]),
            "1.2.3.4/1-2-3-4/01020304"
        );
        assert_eq!(
            create_reverse(qname, "ip-%4%-%3%-%2%-%1%.example.", &[]),
            "ip-4-3-2-1.example."
        );
        assert_eq!(create_reverse("255.0.16.192.in-addr.arpa", "%6%", &[]), "c01000ff");
        assert_eq!(create_reverse(qname, "100%%-%7%-%5%", &[]), "100%--1-2-3-4");
        assert_eq!(create_reverse(qname, "%s.%s-%d", &[]), "1.2-3");
        assert_eq!(create_reverse(qname, "%s-%1%", &[]), "error");
        assert_eq!(create_reverse(qname, "trailing%", &[]), "error");
        assert_eq!(create_reverse(qname, "%0%", &[]), "error");
        assert_eq!(create_reverse(qname, "static.example.", &[]), "static.example.");
        assert_eq!(create_reverse("2.1.arpa", "%5%", &[]), "unknown");
        // labels are taken from the whole qname, so a too-short reverse name hits "in-addr"
        assert_eq!(create_reverse("3.2.1.in-addr.arpa", "%5%", &[]), "error");
        // Absurd widths are format errors, not allocations.
        assert_eq!(create_reverse("4.3.2.1.in-addr.arpa", "%1$3000000000s", &[]), "error");
        assert_eq!(
            create_reverse("4.3.2.1.in-addr.arpa", "%1$99999999999999999999s", &[]),
            "error"
        );
        assert_eq!(create_reverse("", "%5%", &[]), "unknown");
        assert_eq!(create_reverse("4.3.2.-1.in-addr.arpa", "%5%", &[]), "error");
        assert_eq!(create_reverse("4.3.2.0256.in-addr.arpa", "%5%", &[]), "error");
        // leading zeros: echoed, decimal for %6%, octal when matched against exceptions (inet_aton)
        let table = exceptions(&[("8.2.3.4", "octal.example.")]);
        assert_eq!(
            create_reverse("4.3.2.010.in-addr.arpa", "%5%/%6%", &[]),
            "010-2-3-4/0a020304"
        );
        assert_eq!(
            create_reverse("4.3.2.010.in-addr.arpa", "%5%", &table),
            "octal.example."
        );
        assert_eq!(create_reverse("4.3.2.08.in-addr.arpa", "%5%", &table), "error");
    }

    #[test]
    fn create_reverse_exceptions() {
        let qname = "10.10.10.10.in-addr.arpa";
        let table = exceptions(&[
            ("10.10.10.11", "no."),
            ("10.10.2570", "short-form."),
            ("10.10.10.10", "late."),
        ]);
        assert_eq!(create_reverse(qname, "%5%", &table), "short-form.");
        assert_eq!(
            create_reverse(qname, "%5%", &exceptions(&[("10.10.10.10:53", "port.")])),
            "10-10-10-10"
        );
        assert_eq!(create_reverse(qname, "%5%", &exceptions(&[("bogus", "x.")])), "error");
        assert_eq!(
            create_reverse(qname, "%5%", &exceptions(&[("::ffff:10.10.10.10", "x.")])),
            "10-10-10-10"
        );
        let table6 = exceptions(&[("2001:DB8:0:0::1", "upper."), ("[2001:db8::2]:53", "port.")]);
        let one = "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa";
        let two = "2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa";
        assert_eq!(create_reverse6(one, "%33%", &table6), "upper.");
        assert_eq!(create_reverse6(two, "%33%", &table6), "2001-db8--2");
    }

    #[test]
    fn create_reverse6_placeholders() {
        let qname = "B.A.9.8.7.6.5.4.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.B.D.0.1.0.0.2.ip6.arpa";
        let all: String = (1..=41).map(|n| format!("%{n}%")).collect::<Vec<_>>().join(" ");
        assert_eq!(
            create_reverse6(qname, &all, &[]),
            "2 0 0 1 0 D B 8 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 4 5 6 7 8 9 A B 2001-db8--4567-89ab \
             2001 0DB8 0000 0000 0000 0000 4567 89AB"
        );
        // IPv4-compatible addresses print dotted in %33%, as glibc does
        let compat = "4.0.3.0.2.0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa";
        assert_eq!(create_reverse6(compat, "%33%", &[]), "0--1.2.3.4");
        let long = "ab.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa";
        assert_eq!(create_reverse6(long, "%33%", &[]), "error");
        assert_eq!(create_reverse6("1.ip6.arpa", "%33%", &[]), "unknown");
    }

    #[test]
    fn create_forward_details() {
        let owner = "*.fwd.example.org";
        let run = |prefix: &str| create_forward(&format!("{prefix}.fwd.example.org"), owner);
        assert_eq!(run("ip-01-2-3-4").as_deref(), Some("01.2.3.4")); // octets are echoed verbatim
        assert_eq!(run("1--2-3-4").as_deref(), Some("1.2.3.4")); // empty tokens are skipped
        assert_eq!(run("ip-1-2-3-256").as_deref(), Some("0.0.0.0"));
        assert_eq!(run("IP40414243").as_deref(), Some("64.65.66.67"));
        assert_eq!(run("ip4041424A").as_deref(), Some("64.65.66.74"));
        assert_eq!(run("x-4-3-2-1").as_deref(), Some("4.3.2.1")); // "x-" is the non-hex prefix
        assert_eq!(run("010.0x10.1.1").as_deref(), Some("8.16.1.1")); // four labels go through inet_aton
        assert_eq!(run("1.2.3.4:53").as_deref(), Some("1.2.3.4")); // ":53" is taken as a port
        assert_eq!(run("[--1]:x.a.b.c"), None);
        assert_eq!(
            create_forward("1.2.3.4.fwd.example.org", "fwd.example.org").as_deref(),
            Some("0.0.0.0")
        );
        assert_eq!(
            create_forward("1.2.3.4.other.example.org", owner).as_deref(),
            Some("0.0.0.0")
        );
        assert_eq!(
            create_forward("1.2.3.4.FWD.Example.ORG.", owner).as_deref(),
            Some("1.2.3.4")
        );
        assert_eq!(create_forward("fwd.example.org", owner).as_deref(), Some("0.0.0.0"));
    }

    #[test]
    fn create_forward6_details() {
        let owner = "*.f6.example.org";
        let run = |prefix: &str| create_forward6(&format!("{prefix}.f6.example.org"), owner);
        assert_eq!(run("1.2.3.4.5.6.7.8").as_deref(), Some("1:2:3:4:5:6:7:8"));
        assert_eq!(run("0.0.0.0.0.0.0.1").as_deref(), Some("::1"));
        assert_eq!(run("0.0.0.0.0.ffff.102.304").as_deref(), Some("::ffff:1.2.3.4"));
        assert_eq!(run("1\\.2\\.3\\.4-53").as_deref(), Some("1.2.3.4")); // one label, "1.2.3.4:53": IPv4
        assert_eq!(run("2001-db8--1.x").as_deref(), Some("::"));
        assert_eq!(run("zzzz2001000200030004000500060007000g").as_deref(), Some("::"));
        assert_eq!(
            create_forward6("2001--1.f6.example.org", "f6.example.org").as_deref(),
            Some("::")
        );
    }

    #[test]
    fn no_panics_on_hostile_names() {
        let mut seed = 0x9e37_79b9u32;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed
        };
        let alphabet: Vec<char> = "0123456789abcdefABCDEFxX-.:[]%\\ \t*é\u{0}g".chars().collect();
        let formats = [
            "%5%",
            "%33%",
            "%1%%41%%99999999999999999999999%",
            "%",
            "%s%s%s",
            "x%%y",
            "%c",
            "",
        ];
        let table = exceptions(&[("1.2.3.4", "a."), ("::1", "b.")]);
        for round in 0..3000 {
            let len = (next() % 80) as usize;
            let name: String = (0..len).map(|_| alphabet[next() as usize % alphabet.len()]).collect();
            let format = formats[round % formats.len()];
            let _ = create_reverse(&name, format, &table);
            let _ = create_reverse6(&name, format, &table);
            let _ = create_forward(&name, "*.x");
            let _ = create_forward6(&name, "*");
            let _ = magic_addresses(&name);
            let _ = combo_address(name.as_bytes());
        }
        let long_nibbles = vec!["f"; 200].join(".");
        assert_eq!(create_reverse6(&long_nibbles, "%33%", &[]), "unknown"); // > 255 bytes: not a name
        let nibbles = vec!["F"; 32].join(".");
        assert_eq!(
            create_reverse6(&nibbles, "%33%", &[]),
            "ffff-ffff-ffff-ffff-ffff-ffff-ffff-ffff"
        );
        for value in [
            f64::NAN,
            f64::INFINITY,
            -f64::INFINITY,
            f64::MAX,
            f64::MIN_POSITIVE,
            -1e-300,
            1e300,
        ] {
            let _ = loc_text(value, value);
            let _ = latlon_text(value, value);
        }
        assert_eq!(create_forward("", ""), Some("0.0.0.0".to_owned()));
        assert_eq!(create_forward6("\\", "*"), Some("::".to_owned()));
    }
}
