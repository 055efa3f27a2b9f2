//! PowerDNS's GeoIP regression database, for comparing geographic LUA
//! functions with PowerDNS's own results.

use std::net::IpAddr;

use super::{MmdbWriter, Record, RecordSize};

/// The PowerDNS geoip regression database (`modules/geoipbackend/regression-tests/write-mmdb.pl`), value for value:
/// the same networks, keys, types (geoname_id uint32, accuracy_radius uint16, coordinates double, ASN uint32) and
/// metadata (`GeoCity-Lite`, 28-bit records, languages `en`, "Mock geoip database"), map keys sorted like the Perl
/// writer's. `mmdblookup` prints the same for every address as for PowerDNS's committed `GeoLiteCity.mmdb.b64`,
/// except what that older file lacks (the three location-only /24s and 1.2.3.0/24's subdivisions).
pub fn fixture() -> Vec<u8> {
    fn names(en: &str) -> Record {
        Record::map([("en", Record::from(en))])
    }
    fn place(geoname_id: u32, code_key: &str, code: &str, name: &str) -> Record {
        Record::map([
            (code_key, Record::from(code)),
            ("geoname_id", Record::Uint32(geoname_id)),
            ("names", names(name)),
        ])
    }
    fn city(geoname_id: u32, name: &str) -> Record {
        Record::map([("geoname_id", Record::Uint32(geoname_id)), ("names", names(name))])
    }
    fn location(lat: f64, lon: f64) -> Record {
        Record::map([
            ("latitude", Record::Double(lat)),
            ("longitude", Record::Double(lon)),
            ("accuracy_radius", Record::Uint16(1)),
        ])
    }
    fn only_location(lat: f64, lon: f64) -> Record {
        Record::map([("location", location(lat, lon))])
    }
    fn loopback(n: u32) -> Record {
        Record::map([
            ("country", place(n, "iso_code", "O1", &format!("O {n}"))),
            ("city", city(n, &format!("C{n}"))),
            (
                "subdivisions",
                Record::Array(vec![place(n, "iso_code", &format!("L{n}"), &format!("L {n}"))]),
            ),
        ])
    }

    let networks = [
        (
            [1, 1, 1, 0],
            24,
            Record::map([
                ("city", city(2_151_718, "Research")),
                ("continent", place(6_255_151, "code", "OC", "Oceania")),
                ("country", place(2_077_456, "iso_code", "AU", "Australia")),
                ("location", location(1.0, 1.0)),
                ("autonomous_system_number", Record::Uint32(4242)),
                ("autonomous_system_organization", Record::from("Test Telekom")),
            ]),
        ),
        (
            [1, 2, 3, 0],
            24,
            Record::map([
                ("city", city(5_804_306, "Mukilteo")),
                ("continent", place(6_255_149, "code", "NA", "North America")),
                ("country", place(6_252_001, "iso_code", "US", "United States")),
                ("location", location(47.913, -122.3042)),
                ("autonomous_system_number", Record::Uint32(3320)),
                ("autonomous_system_organization", Record::from("Test Networks")),
                (
                    "subdivisions",
                    Record::Array(vec![place(5_332_921, "iso_code", "CA", "California")]),
                ),
            ]),
        ),
        ([192, 0, 2, 0], 24, only_location(0.0, -179.0)),
        ([198, 51, 100, 0], 24, only_location(0.0, 179.0)),
        ([203, 0, 113, 0], 24, only_location(0.0, -160.0)),
        ([127, 0, 0, 1], 32, loopback(1)),
        ([127, 0, 0, 2], 32, loopback(2)),
        ([127, 0, 0, 3], 32, loopback(3)),
    ];

    let mut writer = MmdbWriter::new("GeoCity-Lite")
        .record_size(RecordSize::Bits28)
        // MaxMind::DB::Writer::Tree's alias_ipv6_to_ipv4 defaults to off, so ::ffff:1.2.3.4 is not in PowerDNS's file.
        .alias_ipv4(false)
        .description([("en", "Mock geoip database")])
        .build_epoch(1_523_942_650);
    for (octets, prefix, record) in networks {
        // Cannot fail: IPv4 prefixes of at most 32 bits and tiny records.
        let _ = writer.insert((IpAddr::from(octets), prefix), record);
    }
    writer.to_bytes()
}
