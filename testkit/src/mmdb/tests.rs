//! Databases written here read back with the `maxminddb` crate and `mmdblookup`.

use std::net::Ipv6Addr;

use maxminddb::Reader;
use serde::Deserialize;

use super::*;
use crate::process::require;

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

fn reader(bytes: Vec<u8>) -> Reader<Vec<u8>> {
    let reader = Reader::from_source(bytes).expect("readable database");
    reader.verify().expect("database verifies");
    reader
}

/// Decodes the `"v"` field of the record for `addr`, if any.
fn value<T: for<'de> Deserialize<'de>>(reader: &Reader<Vec<u8>>, addr: &str) -> Option<T> {
    #[derive(Deserialize)]
    struct V<T> {
        v: T,
    }
    reader
        .lookup(ip(addr))
        .expect("lookup")
        .decode::<V<T>>()
        .expect("decode")
        .map(|r| r.v)
}

fn v(value: impl Into<Record>) -> Record {
    Record::map([("v", value.into())])
}

#[test]
fn every_record_size_round_trips() {
    for size in [RecordSize::Bits24, RecordSize::Bits28, RecordSize::Bits32] {
        let mut w = MmdbWriter::new("Test").record_size(size);
        w.insert((ip("10.0.0.0"), 8), v(1u32)).unwrap();
        w.insert((ip("10.1.0.0"), 16), v(2u32)).unwrap();
        w.insert((ip("2001:db8::"), 32), v(3u32)).unwrap();
        let r = reader(w.to_bytes());
        assert_eq!(r.metadata().record_size, size.bits());
        assert_eq!(value::<u32>(&r, "10.2.3.4"), Some(1));
        assert_eq!(value::<u32>(&r, "10.1.3.4"), Some(2));
        assert_eq!(value::<u32>(&r, "2001:db8:1::1"), Some(3));
        assert_eq!(value::<u32>(&r, "11.0.0.1"), None);
        assert_eq!(value::<u32>(&r, "2001:db9::1"), None);
    }
}

#[test]
fn metadata_is_complete() {
    let w = MmdbWriter::new("Pool-Test")
        .languages(["en", "de"])
        .description([("en", "d")])
        .build_epoch(42);
    let r = reader(w.to_bytes());
    let m = r.metadata();
    assert_eq!(m.database_type, "Pool-Test");
    assert_eq!(m.ip_version, 6);
    assert_eq!((m.binary_format_major_version, m.binary_format_minor_version), (2, 0));
    assert_eq!(m.build_epoch, 42);
    assert_eq!(m.languages, ["en", "de"]);
    assert_eq!(m.description.get("en").map(String::as_str), Some("d"));
    assert_eq!(m.node_count, 1);
}

#[test]
fn all_value_types_decode() {
    #[derive(Deserialize, Debug, PartialEq)]
    struct All {
        s: String,
        d: f64,
        u16: u16,
        u32: u32,
        u64: u64,
        neg: i32,
        pos: i32,
        t: bool,
        f: bool,
        a: Vec<u16>,
        zero: u32,
    }
    let record = Record::map([
        ("s", Record::from("é ü")),
        ("d", Record::from(-122.3042)),
        ("u16", Record::from(65_535u16)),
        ("u32", Record::from(4_000_000_000u32)),
        ("u64", Record::from(u64::MAX)),
        ("neg", Record::from(-5i32)),
        ("pos", Record::from(70_000i32)),
        ("t", Record::from(true)),
        ("f", Record::from(false)),
        ("a", Record::from(vec![Record::Uint16(1), Record::Uint16(300)])),
        ("zero", Record::from(0u32)),
    ]);
    let mut w = MmdbWriter::new("Test");
    w.insert((ip("192.0.2.0"), 24), record).unwrap();
    let r = reader(w.to_bytes());
    let got: All = r.lookup(ip("192.0.2.9")).unwrap().decode().unwrap().unwrap();
    let want = All {
        s: "é ü".into(),
        d: -122.3042,
        u16: 65_535,
        u32: 4_000_000_000,
        u64: u64::MAX,
        neg: -5,
        pos: 70_000,
        t: true,
        f: false,
        a: vec![1, 300],
        zero: 0,
    };
    assert_eq!(got, want);
}

#[test]
fn long_strings_use_every_size_form() {
    for len in [28, 29, 284, 285, 65_820, 65_821, 70_000] {
        let s = "x".repeat(len);
        let mut w = MmdbWriter::new("Test");
        w.insert((ip("192.0.2.0"), 24), v(s.as_str())).unwrap();
        let r = reader(w.to_bytes());
        assert_eq!(value::<String>(&r, "192.0.2.1").map(|s| s.len()), Some(len));
    }
}

#[test]
fn shared_values_become_pointers() {
    let mut w = MmdbWriter::new("Test");
    for i in 0..=255u8 {
        let rec = Record::map([
            ("country", Record::map([("iso_code", Record::from("US"))])),
            (
                "autonomous_system_organization",
                Record::from("Example Networks Incorporated"),
            ),
            ("i", Record::Uint16(u16::from(i))),
        ]);
        w.insert((IpAddr::from([10, i, 0, 0]), 16), rec).unwrap();
    }
    let bytes = w.to_bytes();
    let r = reader(bytes.clone());
    #[derive(Deserialize)]
    struct Rec {
        country: Country,
        autonomous_system_organization: String,
        i: u16,
    }
    #[derive(Deserialize)]
    struct Country {
        iso_code: String,
    }
    for i in [0u8, 17, 255] {
        let rec: Rec = r
            .lookup(IpAddr::from([10, i, 9, 9]))
            .unwrap()
            .decode()
            .unwrap()
            .unwrap();
        assert_eq!((rec.country.iso_code.as_str(), rec.i), ("US", u16::from(i)));
        assert_eq!(rec.autonomous_system_organization, "Example Networks Incorporated");
    }
    // Without sharing each record would carry ~75 bytes of keys and strings.
    let data_len = bytes.len() - r.metadata().node_count as usize * 7;
    assert!(data_len < 256 * 20, "data section too large: {data_len}");
}

#[test]
fn identical_records_are_stored_once() {
    let mut w = MmdbWriter::new("Test");
    let rec = v("the same long string value for every network");
    for i in 0..100u8 {
        w.insert((IpAddr::from([10, i, 0, 0]), 16), rec.clone()).unwrap();
    }
    assert_eq!(w.records.len(), 1);
    let r = reader(w.to_bytes());
    let a = r.lookup(ip("10.3.0.1")).unwrap().offset();
    let b = r.lookup(ip("10.99.0.1")).unwrap().offset();
    assert!(a.is_some() && a == b);
}

#[test]
fn later_inserts_override_overlapping_earlier_ones() {
    let mut w = MmdbWriter::new("Test");
    w.insert((ip("10.0.0.0"), 8), v(1u32)).unwrap();
    w.insert((ip("10.1.2.0"), 24), v(2u32)).unwrap();
    w.insert((ip("10.1.2.128"), 25), v(3u32)).unwrap();
    w.insert((ip("172.16.5.0"), 24), v(4u32)).unwrap();
    w.insert((ip("172.16.0.0"), 12), v(5u32)).unwrap();
    let r = reader(w.to_bytes());
    assert_eq!(value::<u32>(&r, "10.1.1.1"), Some(1));
    assert_eq!(value::<u32>(&r, "10.1.2.1"), Some(2));
    assert_eq!(value::<u32>(&r, "10.1.2.200"), Some(3));
    assert_eq!(value::<u32>(&r, "10.255.255.255"), Some(1));
    assert_eq!(value::<u32>(&r, "172.16.5.1"), Some(5));
    assert_eq!(value::<u32>(&r, "172.31.0.1"), Some(5));
}

#[test]
fn default_routes_and_host_routes() {
    let mut w = MmdbWriter::new("Test");
    w.insert((ip("::"), 0), v(0u32)).unwrap();
    w.insert((ip("0.0.0.0"), 0), v(4u32)).unwrap();
    w.insert((ip("2001:db8::1"), 128), v(6u32)).unwrap();
    w.insert((ip("192.0.2.1"), 32), v(32u32)).unwrap();
    let r = reader(w.to_bytes());
    assert_eq!(value::<u32>(&r, "2001:db8::2"), Some(0));
    assert_eq!(value::<u32>(&r, "2001:db8::1"), Some(6));
    assert_eq!(value::<u32>(&r, "8.8.8.8"), Some(4));
    assert_eq!(value::<u32>(&r, "192.0.2.1"), Some(32));
    assert_eq!(value::<u32>(&r, "192.0.2.2"), Some(4));
}

#[test]
fn ipv4_mapped_addresses_alias_the_ipv4_subtree() {
    let mut w = MmdbWriter::new("Test");
    w.insert((ip("1.2.3.0"), 24), v(7u32)).unwrap();
    let r = reader(w.clone().to_bytes());
    assert_eq!(value::<u32>(&r, "::ffff:1.2.3.4"), Some(7));
    assert_eq!(value::<u32>(&r, "::1.2.3.4"), Some(7));
    assert_eq!(value::<u32>(&r, "::ffff:1.2.4.4"), None);
    let r = reader(w.alias_ipv4(false).to_bytes());
    assert_eq!(value::<u32>(&r, "::ffff:1.2.3.4"), None);
    assert_eq!(value::<u32>(&r, "1.2.3.4"), Some(7));
}

#[test]
fn alias_keeps_explicit_mapped_networks() {
    let mut w = MmdbWriter::new("Test");
    w.insert((ip("1.2.3.0"), 24), v(7u32)).unwrap();
    w.insert((ip("::ffff:0:0"), 96), v(9u32)).unwrap();
    let r = reader(w.to_bytes());
    assert_eq!(value::<u32>(&r, "::ffff:1.2.3.4"), Some(9));
    assert_eq!(value::<u32>(&r, "1.2.3.4"), Some(7));
}

#[test]
fn empty_database_is_valid() {
    let r = reader(MmdbWriter::new("Empty").to_bytes());
    assert_eq!(value::<u32>(&r, "1.2.3.4"), None);
    assert_eq!(value::<u32>(&r, "::1"), None);
}

#[test]
fn invalid_prefixes_are_rejected() {
    let mut w = MmdbWriter::new("Test");
    assert_eq!(
        w.insert((ip("1.2.3.4"), 33), v(1u32)),
        Err(MmdbWriteError::InvalidPrefix {
            addr: ip("1.2.3.4"),
            prefix: 33
        })
    );
    assert!(w.insert((ip("::"), 129), v(1u32)).is_err());
    assert!(w.records.is_empty());
}

#[test]
fn oversized_values_are_rejected() {
    let mut w = MmdbWriter::new("Test");
    let huge = "x".repeat(MAX_SIZE + 1);
    let err = w.insert((ip("1.2.3.4"), 32), v(huge.as_str())).unwrap_err();
    assert!(matches!(err, MmdbWriteError::TooLarge { what: "string", .. }), "{err}");
}

#[test]
fn pointer_forms_decode() {
    // Enough distinct data to push shared keys past each pointer-size boundary.
    let mut w = MmdbWriter::new("Test");
    let filler = "f".repeat(60_000);
    for i in 0..12u32 {
        let rec = Record::map([("pad", Record::from(format!("{i}{filler}"))), ("v", Record::Uint32(i))]);
        w.insert(
            (IpAddr::from(Ipv6Addr::new(0x2001, 0xdb8, i as u16, 0, 0, 0, 0, 0)), 48),
            rec,
        )
        .unwrap();
    }
    let r = reader(w.to_bytes());
    for i in 0..12u32 {
        assert_eq!(value::<u32>(&r, &format!("2001:db8:{i:x}::1")), Some(i));
    }
    for offset in [0, 2047, 2048, 526_335, 526_336, 134_744_063, 134_744_064] {
        let form = pointer(offset);
        let expected_len = match offset {
            0..2048 => 2,
            2048..526_336 => 3,
            526_336..134_744_064 => 4,
            _ => 5,
        };
        assert_eq!(form.len(), expected_len, "offset {offset}");
    }
}

/// Random networks checked against a naive longest-prefix-match model.
#[test]
fn matches_a_naive_model() {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut w = MmdbWriter::new("Test");
    let mut model: Vec<(u32, u8, u32)> = Vec::new();
    for i in 0..2000u32 {
        let prefix = 8 + (next() % 25) as u8;
        let addr = (next() as u32 & 0x0fff_ffff) | 0x1000_0000;
        w.insert((IpAddr::from(Ipv4Addr::from(addr)), prefix), v(i)).unwrap();
        model.push((addr, prefix, i));
    }
    let r = reader(w.to_bytes());
    for _ in 0..5000 {
        let probe = if next() % 2 == 0 {
            let (a, _, _) = model[(next() % model.len() as u64) as usize];
            a ^ (next() as u32 & 0xff)
        } else {
            next() as u32
        };
        // The last insert covering the address wins.
        let want = model
            .iter()
            .rev()
            .find(|&&(a, p, _)| {
                let mask = u32::MAX.checked_shl(32 - u32::from(p)).unwrap_or(0);
                a & mask == probe & mask
            })
            .map(|&(_, _, i)| i);
        assert_eq!(
            value::<u32>(&r, &Ipv4Addr::from(probe).to_string()),
            want,
            "{}",
            Ipv4Addr::from(probe)
        );
    }
}

#[test]
fn fixture_verifies() {
    let r = reader(fixture());
    assert_eq!(r.metadata().database_type, "GeoCity-Lite");
    assert_eq!(r.metadata().record_size, 28);
    assert_eq!(
        r.metadata().description.get("en").map(String::as_str),
        Some("Mock geoip database")
    );
    let city: maxminddb::geoip2::City = r.lookup(ip("1.2.3.4")).unwrap().decode().unwrap().unwrap();
    assert_eq!(city.city.names.english, Some("Mukilteo"));
    assert_eq!(city.subdivisions.first().and_then(|s| s.iso_code), Some("CA"));
    assert_eq!(city.location.accuracy_radius, Some(1));
    assert_eq!(fixture(), fixture(), "fixture is deterministic");
}

/// Second, independent reader: libmaxminddb's `mmdblookup` (Debian package mmdb-bin).
#[test]
fn fixture_reads_with_libmaxminddb() {
    let path = std::env::temp_dir().join(format!("pooldns-fixture-{}.mmdb", std::process::id()));
    std::fs::write(&path, fixture()).unwrap();
    let mmdblookup = require("mmdblookup", "mmdb-bin");
    let lookup = |addr: &str, path_args: &[&str]| -> String {
        let out = std::process::Command::new(&mmdblookup)
            .arg("--file")
            .arg(&path)
            .args(["--ip", addr])
            .args(path_args)
            .output()
            .expect("run mmdblookup");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let cases: &[(&str, &[&str], &str)] = &[
        ("1.1.1.1", &["country", "iso_code"], "\"AU\" <utf8_string>"),
        ("1.1.1.1", &["continent", "code"], "\"OC\" <utf8_string>"),
        ("1.1.1.1", &["autonomous_system_number"], "4242 <uint32>"),
        ("1.1.1.1", &["autonomous_system_organization"], "\"Test Telekom\""),
        ("1.1.1.1", &["location", "latitude"], "1.000000 <double>"),
        ("1.2.3.4", &["subdivisions", "0", "iso_code"], "\"CA\""),
        ("1.2.3.4", &["city", "names", "en"], "\"Mukilteo\""),
        ("1.2.3.4", &["location", "longitude"], "-122.304200 <double>"),
        ("1.2.3.4", &["location", "accuracy_radius"], "1 <uint16>"),
        ("::1.2.3.4", &["country", "iso_code"], "\"US\""),
        ("192.0.2.1", &["location", "longitude"], "-179.000000"),
        ("198.51.100.1", &["location", "longitude"], "179.000000"),
        ("203.0.113.1", &["location", "longitude"], "-160.000000"),
        ("127.0.0.1", &["subdivisions", "0", "iso_code"], "\"L1\""),
        ("127.0.0.2", &["country", "iso_code"], "\"O1\""),
        ("127.0.0.3", &["city", "names", "en"], "\"C3\""),
    ];
    for (addr, path_args, want) in cases {
        let got = lookup(addr, path_args);
        assert!(got.contains(want), "{addr} {path_args:?}: {got}");
    }
    for absent in ["17.1.1.1", "127.0.0.4", "::ffff:1.2.3.4"] {
        assert!(!lookup(absent, &[]).contains('{'), "{absent} should not be found");
    }
    let _ = std::fs::remove_file(&path);
}
