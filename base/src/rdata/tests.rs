//! Round trips, RFC test vectors and error messages of every family.

use data_encoding::HEXLOWER_PERMISSIVE;

use super::*;

/// The origin used for relative names in these tests.
fn origin() -> Name {
    "example.com.".parse().expect("valid origin")
}

/// Parses RDATA text relative to [`origin`].
fn parse(rtype: u16, text: &str) -> Result<Vec<u8>, RdataError> {
    parse_rdata_text(rtype, text, &origin())
}

/// Parses RDATA text that must be valid.
fn ok(rtype: u16, text: &str) -> Vec<u8> {
    parse(rtype, text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// Parses RDATA text that must be rejected, returning the message.
fn err(rtype: u16, text: &str) -> String {
    match parse(rtype, text) {
        Ok(wire) => panic!("{text} parsed to {wire:02x?}"),
        Err(e) => e.to_string(),
    }
}

/// Parses, formats, and checks the formatted text parses to the same wire.
fn round_trip(rtype: u16, text: &str) -> String {
    let wire = ok(rtype, text);
    let shown = format_rdata(rtype, &wire).unwrap_or_else(|e| panic!("{text}: {e}"));
    assert_eq!(ok(rtype, &shown), wire, "{text} -> {shown}");
    shown
}

#[test]
fn round_trips_representative_records() {
    let cases: &[(u16, &str, &str)] = &[
        (A, "192.0.2.1", "192.0.2.1"),
        (AAAA, "2001:DB8::1", "2001:db8::1"),
        (AAAA, "::ffff:192.0.2.1", "::ffff:192.0.2.1"),
        (NS, "ns1", "ns1.example.com."),
        (CNAME, "@", "example.com."),
        (DNAME, "other.test.", "other.test."),
        (ALIAS, "lb.cloud.test.", "lb.cloud.test."),
        (ALIAS, "www", "www.example.com."),
        (PTR, "host\\.name.example.", "host\\.name.example."),
        (MX, "10 mail", "10 mail.example.com."),
        (TXT, "hello", "\"hello\""),
        (TXT, "\"a b\" c \"\"", "\"a b\" \"c\" \"\""),
        (TXT, "\"q\\\"uote\\\\ \\000\\255é\"", "\"q\\\"uote\\\\ \\000\\255\\195\\169\""),
        (HINFO, "\"PC\" Linux", "\"PC\" \"Linux\""),
        (RP, "admin.example.com. txt", "admin.example.com. txt.example.com."),
        (
            SOA,
            "ns1 hostmaster 2024010101 1h30m 15M 2w 300",
            "ns1.example.com. hostmaster.example.com. 2024010101 5400 900 1209600 300",
        ),
        (SRV, "0 5 5060 sip", "0 5 5060 sip.example.com."),
        (CAA, "0 issue letsencrypt.org", "0 issue \"letsencrypt.org\""),
        (CAA, "128 iodef \"mailto:a@b\"", "128 iodef \"mailto:a@b\""),
        (CAA, "0 issue \"\"", "0 issue \"\""),
        (DS, "60485 5 1 2BB183AF5F22588179A53B0A 98631FAD1A292118", "60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118"),
        (CDS, "0 0 0 00", "0 0 0 00"),
        (
            DNSKEY,
            "256 3 5 AQPSKmynfzW4kyBv015MUG2DeIQ3 Cbl+BBZH4b/0PY1kxkmvHjcZc8no kfzj31GajIQKY+5CptLr3buXA10h WqTkF7H6RfoRqXQeogmMHfpftf6z Mv1LyBUgia7za6ZEzOJBOztyvhjL 742iU/TpPSEDhm2SNKLijfUppn1U aNvv4w==",
            "256 3 5 AQPSKmynfzW4kyBv015MUG2DeIQ3Cbl+BBZH4b/0PY1kxkmvHjcZc8nokfzj31GajIQKY+5CptLr3buXA10hWqTkF7H6RfoRqXQeogmMHfpftf6zMv1LyBUgia7za6ZEzOJBOztyvhjL742iU/TpPSEDhm2SNKLijfUppn1UaNvv4w==",
        ),
        (CDNSKEY, "0 3 0 AA==", "0 3 0 AA=="),
        (SSHFP, "4 2 abcdef01 23", "4 2 ABCDEF0123"),
        (TLSA, "3 1 1 d2abde240d7cd3ee6b4b28c54df034b9 7983a1d16e8a410e4561cb106618e971", "3 1 1 D2ABDE240D7CD3EE6B4B28C54DF034B97983A1D16E8A410E4561CB106618E971"),
        (
            NAPTR,
            "100 10 S \"SIP+D2U\" \"!^.*$!sip:info@example.com!\" _sip._udp",
            "100 10 \"S\" \"SIP+D2U\" \"!^.*$!sip:info@example.com!\" _sip._udp.example.com.",
        ),
        (NAPTR, "100 50 \"a\" \"z3950+N2L+N2C\" \"\" .", "100 50 \"a\" \"z3950+N2L+N2C\" \"\" ."),
        (
            LOC,
            "52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000m 10m",
            "52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000m 10m",
        ),
        (LOC, "42 21 54 N 71 06 18 W -24m 30m", "42 21 54.000 N 71 6 18.000 W -24.00m 30m 10000m 10m"),
        (LOC, "42 21 43.952 N 71 5 6.344 W -24m 1m 200m", "42 21 43.952 N 71 5 6.344 W -24.00m 1m 200m 10m"),
        (LOC, "0 N 0 E 0", "0 0 0.000 N 0 0 0.000 E 0.00m 1m 10000m 10m"),
        (LOC, "90 S 180 W 42849672.95m 90000000m 0.5m 15", "90 0 0.000 S 180 0 0.000 W 42849672.95m 90000000m 0.50m 10m"),
        (SVCB, "1 . alpn=h2,h3 port=443", "1 . alpn=\"h2,h3\" port=443"),
        (HTTPS, "0 svc", "0 svc.example.com."),
        (
            HTTPS,
            "1 . ech=\"AEX+DQBBpQAgACBTCnWRjwqXmUE1oWD8K9nrvJbv7lwqkcFGAKg14mD8XgAEAAEAAQASY2xvdWRmbGFyZS1lY2guY29tAAA=\" ipv6hint=2001:db8::1 ipv4hint=192.0.2.1,192.0.2.2 no-default-alpn alpn=h2 mandatory=alpn key65000 key65001=\"x y\" dohpath=\"/q{?dns}\" ohttp",
            "1 . mandatory=alpn alpn=\"h2\" no-default-alpn ipv4hint=192.0.2.1,192.0.2.2 ech=\"AEX+DQBBpQAgACBTCnWRjwqXmUE1oWD8K9nrvJbv7lwqkcFGAKg14mD8XgAEAAEAAQASY2xvdWRmbGFyZS1lY2guY29tAAA=\" ipv6hint=2001:db8::1 dohpath=\"/q{?dns}\" ohttp key65000 key65001=\"x y\"",
        ),
        (LUA, "A \"ifportup(443, {'192.0.2.1', '192.0.2.2'})\"", "A \"ifportup(443, {'192.0.2.1', '192.0.2.2'})\""),
        (LUA, "CNAME \"a\" \" \\\"b\\\"\" \"\\\\c\"", "CNAME \"a \\\"b\\\"\\\\c\""),
        (LUA, "TXT \"'foo\" \" \" \"bar'\"", "TXT \"'foobar'\""),
        (65280, "\\# 3 abcdef", "\\# 3 ABCDEF"),
        (65280, "\\# 0", "\\# 0"),
        (A, "\\# 4 C0000201", "192.0.2.1"),
        (TXT, "\\# 4 03616263", "\"abc\""),
        (NSEC3PARAM, "\\# 5 0100000000", "1 0 0 -"),
        (NSEC3PARAM, "1 0 10 AABBCCDD", "1 0 10 AABBCCDD"),
        (NSEC, "host.example.com. A MX RRSIG NSEC TYPE1234", "host.example.com. A MX RRSIG NSEC TYPE1234"),
        (
            NSEC3,
            "1 1 12 aabbccdd 2vptu5timamqttgl4luu9kg21e0aor3s A RRSIG",
            "1 1 12 AABBCCDD 2VPTU5TIMAMQTTGL4LUU9KG21E0AOR3S A RRSIG",
        ),
        (
            RRSIG,
            "A 13 3 3600 20261217000000 20261125000000 60789 example.test. AAECAw==",
            "A 13 3 3600 20261217000000 20261125000000 60789 example.test. AAECAw==",
        ),
    ];
    for &(rtype, input, expected) in cases {
        assert_eq!(round_trip(rtype, input), expected, "{input}");
    }
}

#[test]
fn rfc9460_appendix_d_vectors() {
    let cases: &[(&str, &str)] = &[
        ("0 foo.example.com.", "0000 03666f6f076578616d706c6503636f6d00"),
        ("1 .", "0001 00"),
        ("16 foo.example.com. port=53", "0010 03666f6f076578616d706c6503636f6d00 0003 0002 0035"),
        ("1 foo.example.com. key667=hello", "0001 03666f6f076578616d706c6503636f6d00 029b 0005 68656c6c6f"),
        (
            "1 foo.example.com. key667=\"hello\\210qoo\"",
            "0001 03666f6f076578616d706c6503636f6d00 029b 0009 68656c6c6fd2716f6f",
        ),
        (
            "1 foo.example.com. ipv6hint=\"2001:db8::1,2001:db8::53:1\"",
            "0001 03666f6f076578616d706c6503636f6d00 0006 0020 20010db8000000000000000000000001 20010db8000000000000000000530001",
        ),
        (
            "1 example.com. ipv6hint=\"2001:db8:122:344::192.0.2.33\"",
            "0001 076578616d706c6503636f6d00 0006 0010 20010db80122034400000000c0000221",
        ),
        (
            "16 foo.example.org. (alpn=h2,h3-19 mandatory=ipv4hint,alpn ipv4hint=192.0.2.1)",
            "",
        ),
        (
            "16 foo.example.org. alpn=\"f\\\\\\\\oo\\\\,bar,h2\"",
            "0010 03666f6f076578616d706c65036f726700 0001 000c 08 665c6f6f2c626172 02 6832",
        ),
        (
            "16 foo.example.org. alpn=f\\\\\\092oo\\092,bar,h2",
            "0010 03666f6f076578616d706c65036f726700 0001 000c 08 665c6f6f2c626172 02 6832",
        ),
    ];
    for &(text, hex) in cases {
        if hex.is_empty() {
            continue; // parenthesised form: only the zone-file lexer accepts it
        }
        let want = HEXLOWER_PERMISSIVE
            .decode(hex.replace(' ', "").as_bytes())
            .expect("valid test hex");
        assert_eq!(ok(SVCB, text), want, "{text}");
        let shown = format_rdata(SVCB, &want).expect("formats");
        assert_eq!(ok(SVCB, &shown), want, "{shown}");
    }
    let tokens = [
        Token::word("16"),
        Token::word("foo.example.org."),
        Token::word("alpn=h2,h3-19"),
        Token::word("mandatory=ipv4hint,alpn"),
        Token::word("ipv4hint=192.0.2.1"),
    ];
    let want = HEXLOWER_PERMISSIVE
        .decode(
            "0010 03666f6f076578616d706c65036f726700 0000 0004 00010004 0001 0009 026832 05 68332d3139 0004 0004 c0000201"
                .replace(' ', "")
                .as_bytes(),
        )
        .expect("valid test hex");
    assert_eq!(parse_rdata(SVCB, &tokens, &origin()).unwrap(), want);
    assert_eq!(
        format_rdata(SVCB, &want).unwrap(),
        "16 foo.example.org. mandatory=alpn,ipv4hint alpn=\"h2,h3-19\" ipv4hint=192.0.2.1"
    );
    // Appendix D.3: failure cases.
    for text in [
        "1 foo.example.com. key123=abc key123=def",
        "1 foo.example.com. mandatory",
        "1 foo.example.com. alpn",
        "1 foo.example.com. port",
        "1 foo.example.com. ipv4hint",
        "1 foo.example.com. ipv6hint",
        "1 foo.example.com. no-default-alpn=abc",
        "1 foo.example.com. mandatory=key123",
        "1 foo.example.com. mandatory=mandatory",
        "1 foo.example.com. mandatory=key123,key123 key123=abc",
    ] {
        assert!(parse(SVCB, text).is_err(), "{text}");
    }
}

#[test]
fn rfc1876_example_wire() {
    // The Amsterdam example printed in canonical form, checked by hand against RFC 1876 §2.
    let wire = ok(LOC, "52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000m 10m");
    assert_eq!(
        wire,
        [0, 0x00, 0x16, 0x13, 0x8b, 0x3c, 0xf0, 0x18, 0x81, 0x0c, 0xbc, 0xe0, 0x00, 0x98, 0x95, 0xb8]
    );
}

#[test]
fn precise_error_messages() {
    assert_eq!(err(MX, "x mail"), "MX preference is not a 16-bit number: \"x\"");
    assert_eq!(err(MX, "65536 mail"), "MX preference is not a 16-bit number: \"65536\"");
    assert_eq!(err(A, "1.2.3"), "A address \"1.2.3\" is not an IPv4 address");
    assert_eq!(err(AAAA, "1.2.3.4"), "AAAA address \"1.2.3.4\" is not an IPv6 address");
    assert_eq!(err(SRV, "1 2"), "expected 4 fields for SRV, found 2");
    assert_eq!(err(DS, "1 2"), "expected at least 4 fields for DS, found 2");
    assert_eq!(err(A, ""), "expected 1 field for A, found 0");
    assert_eq!(err(CNAME, "a..b"), "CNAME target \"a..b\": empty label");
    assert_eq!(
        err(TXT, &format!("\"{}\"", "x".repeat(256))),
        "TXT string is longer than 255 octets"
    );
    assert_eq!(ok(TXT, &format!("\"{}\"", "x".repeat(255))).len(), 256);
    assert_eq!(err(TXT, "\"a\\25\""), "bad escape \\25");
    assert_eq!(err(TXT, "a\\"), "bad escape \\ at the end of a string");
    assert_eq!(err(TXT, "\"open"), "unterminated quoted string");
    assert_eq!(
        err(SOA, "a b 1 1x 1 1 1"),
        "SOA refresh is not a 32-bit number of seconds or a duration like 1h30m: \"1x\""
    );
    assert_eq!(err(DS, "1 8 2 abcd"), "DS digest type 2 needs 32 octets, found 2");
    assert_eq!(err(DS, "1 8 2 xyz"), "DS digest is not valid hexadecimal: \"xyz\"");
    assert_eq!(
        err(CAA, "0 is-sue x"),
        "CAA tag \"is-sue\" must be 1 to 255 letters and digits"
    );
    assert_eq!(
        err(65280, "abc"),
        "TYPE65280 has no text form here; write it as \\# <length> <hex> (RFC 3597 §5)"
    );
    assert_eq!(
        err(65280, "\\# 2 abcdef"),
        "\\# length 2 does not match the 3 octets of data"
    );
    assert_eq!(err(65280, "\\# 1 a"), "\\# data is not valid hexadecimal: \"a\"");
    assert_eq!(err(65280, "\\#"), "\\# needs a length");
    assert_eq!(
        err(A, "\\# 3 010203"),
        "\\# data is not valid A: malformed A RDATA: truncated address"
    );
    assert_eq!(
        err(ANY, "\\# 0"),
        "ANY is a meta-type and cannot be stored in a zone (RFC 6895 §3.1)"
    );
    assert_eq!(err(LUA, "BOGUS \"x\""), "LUA record type \"BOGUS\" is not a known type");
    assert_eq!(
        err(LOC, "91 N 0 E 0"),
        "LOC latitude degrees \"91\" is not a number from 0 to 90"
    );
    assert_eq!(err(LOC, "90 0 1 N 0 E 0"), "LOC latitude is more than 90 degrees");
    assert_eq!(
        err(LOC, "1 60 N 0 E 0"),
        "LOC latitude minutes \"60\" is not a number from 0 to 59"
    );
    assert_eq!(err(LOC, "1 N 0 E"), "LOC record is missing its altitude");
    assert_eq!(
        err(LOC, "1 N 0 E 0 1 1 1 1"),
        "unexpected \"1\" after the LOC vertical precision"
    );
    assert_eq!(
        err(SVCB, "1 . port=99999"),
        "SvcParam port is not a 16-bit number: \"99999\""
    );
    assert_eq!(err(SVCB, "1 . bogus=1"), "unknown SvcParamKey \"bogus\"");
    assert_eq!(err(SVCB, "1 . key65535"), "SvcParamKey key65535 is reserved");
    assert_eq!(
        err(SVCB, "1 . port=1 port=2"),
        "SvcParamKey port appears more than once"
    );
    let no_origin = parse_rdata_in(NS, &[Token::word("ns1")], None).unwrap_err();
    assert_eq!(
        no_origin.to_string(),
        "NS name server \"ns1\": relative name but no origin is known"
    );
}

#[test]
fn rejects_malformed_wire() {
    let bad: &[(u16, &[u8])] = &[
        (A, &[1, 2, 3]),
        (A, &[1, 2, 3, 4, 5]),
        (NS, &[3, b'a']),
        (MX, &[0, 10, 0xc0, 12]),
        (TXT, &[]),
        (TXT, &[5, b'a']),
        (SOA, &[0, 0, 1, 2, 3]),
        (CAA, &[0, 0]),
        (CAA, &[0, 1, b'-']),
        (LOC, &[0, 0xa0, 0, 0]),
        (LOC, &[0, 0x12, 0x16, 0x13, 0, 0, 0, 0, 0x80, 0, 0, 0, 0, 0, 0, 0]),
        (SVCB, &[0, 1, 0, 0, 3, 0, 2, 0, 53, 0, 3, 0, 2, 0, 53]),
        (SVCB, &[0, 1, 0, 0, 3, 0, 1, 0]),
        (SVCB, &[0, 1, 0, 0, 1, 0, 2, 0, 0]),
        (HTTPS, &[0, 1, 0, 0, 4, 0, 3, 1, 2, 3]),
        (LUA, &[0]),
        (
            SVCB,
            &[0, 1, 0, 0, 0, 0, 4, 0, 3, 0, 1, 0, 1, 0, 1, b'x', 0, 3, 0, 2, 0, 53],
        ),
    ];
    for &(rtype, wire) in bad {
        assert!(
            format_rdata(rtype, wire).is_err(),
            "{} {wire:02x?}",
            types::type_to_string(rtype)
        );
    }
}

#[test]
fn unexpressible_data_uses_generic_form() {
    assert_eq!(format_rdata(DS, &[0, 1, 8, 2]).unwrap(), "\\# 4 00010802");
    assert_eq!(format_rdata(DNSKEY, &[1, 1, 3, 8]).unwrap(), "\\# 4 01010308");
    assert_eq!(format_rdata(DS, &[0, 1, 8, 2, 0xab]).unwrap(), "\\# 5 00010802AB");
    assert_eq!(format_rdata(LOC, &[1, 2, 3]).unwrap(), "\\# 3 010203");
    assert_eq!(format_rdata(65280, &[]).unwrap(), "\\# 0");
    assert_eq!(ok(DS, "\\# 4 00010802"), [0, 1, 8, 2]);
}

#[test]
fn ttl_units() {
    assert_eq!(parse_ttl("0"), Some(0));
    assert_eq!(parse_ttl("3600"), Some(3600));
    assert_eq!(parse_ttl("1h30m"), Some(5400));
    assert_eq!(parse_ttl("2W"), Some(1_209_600));
    assert_eq!(parse_ttl("1d1h1m1s"), Some(90061));
    assert_eq!(parse_ttl("4294967295"), Some(u32::MAX));
    assert_eq!(parse_ttl("4294967296"), None);
    assert_eq!(parse_ttl("7102w"), None);
    assert_eq!(parse_ttl("1h30"), None);
    assert_eq!(parse_ttl("h"), None);
    assert_eq!(parse_ttl(""), None);
    assert_eq!(parse_ttl("-1"), None);
    assert_eq!(parse_ttl("1y"), None);
}

#[test]
fn tokenizer() {
    let tokens = tokenize("a \"b c\" d\\ e alpn=\"h2\" ;(x)").unwrap();
    assert_eq!(
        tokens,
        [
            Token::word("a"),
            Token::quoted("b c"),
            Token::word("d\\ e"),
            Token::word("alpn="),
            Token::quoted("h2"),
            Token::word(";(x)"),
        ]
    );
    assert_eq!(tokenize("\"a\\\"b\"").unwrap(), [Token::quoted("a\\\"b")]);
    assert_eq!(tokenize("é\\é").unwrap(), [Token::word("é\\é")]);
}

#[test]
fn meta_types_have_no_text_form_either_way() {
    // Found by fuzzing: IXFR data printed in the generic form that the
    // parser then refused.
    for rtype in [types::OPT, 251, types::ANY, 250] {
        let error = format_rdata(rtype, &[0xff, 0, 0]).expect_err("a meta-type does not print");
        assert!(error.to_string().contains("is a meta-type"), "{error}");
    }
}

#[test]
fn nsec3_with_an_empty_next_hash_prints_in_the_generic_form() {
    // Found by fuzzing: the base32 of nothing printed as nothing, and the
    // text did not parse back.
    let wire = [1, 0, 0, 0, 0, 0];
    let text = format_rdata(NSEC3, &wire).expect("prints");
    assert_eq!(text, "\\# 6 010000000000");
    let origin: Name = "example.test.".parse().expect("name");
    assert_eq!(parse_rdata_text(NSEC3, &text, &origin).expect("parses"), wire);
}

#[test]
fn rrsig_without_a_signature_prints_in_the_generic_form() {
    // Found by fuzzing: the base64 of nothing printed as nothing.
    let mut wire = vec![0, 1, 13, 2, 0, 0, 1, 44, 0, 0, 0, 2, 0, 0, 0, 1, 0, 7];
    wire.extend_from_slice(b"\x07example\x00");
    let text = format_rdata(RRSIG, &wire).expect("prints");
    assert!(text.starts_with("\\# 27 "), "{text}");
    let origin: Name = "example.".parse().expect("name");
    assert_eq!(parse_rdata_text(RRSIG, &text, &origin).expect("parses"), wire);
}

#[test]
fn svcb_wire_is_held_to_the_rules_its_text_is() {
    // Found by fuzzing: mandatory listing itself or a key that is not
    // there, an empty dohpath and the reserved key65535, printed as text
    // the parser refuses.
    let listing_itself = [0, 1, 0, 0, 0, 0, 2, 0, 0];
    assert!(format_rdata(HTTPS, &listing_itself).is_err());
    let missing_key = [0, 1, 0, 0, 0, 0, 2, 0, 3];
    assert!(format_rdata(HTTPS, &missing_key).is_err());
    let empty_dohpath = [0, 1, 0, 0, 7, 0, 0];
    assert!(format_rdata(HTTPS, &empty_dohpath).is_err());
    let reserved_key = [0, 1, 0, 0xff, 0xff, 0, 0];
    assert!(format_rdata(HTTPS, &reserved_key).is_err());
    let lists_reserved = [0, 1, 0, 0, 0, 0, 2, 0xff, 0xff];
    assert!(format_rdata(HTTPS, &lists_reserved).is_err());
    let fine = [0, 1, 0, 0, 0, 0, 2, 0, 3, 0, 3, 0, 2, 1, 187];
    assert_eq!(
        format_rdata(HTTPS, &fine).expect("prints"),
        "1 . mandatory=port port=443"
    );
}

#[test]
fn loc_with_a_zero_precision_of_another_exponent_prints_generically() {
    // Found by fuzzing: 0 x 10^9 printed as 0m, read back as 0 x 10^0.
    let wire = [
        0, 0x60, 0x09, 0, 0x75, 0x7a, 0x7a, 0x7a, 0x7a, 0x30, 0, 0, 0, 0, 0xfa, 0,
    ];
    let text = format_rdata(LOC, &wire).expect("prints");
    assert!(text.starts_with("\\# 16 "), "{text}");
    let origin: Name = "example.".parse().expect("name");
    assert_eq!(parse_rdata_text(LOC, &text, &origin).expect("parses"), wire);
}
