//! GeoIP lookups over MaxMind DB files, with the semantics of PowerDNS's geoip backend (mmdb driver).
//!
//! Databases are tried in the configured order and, per attribute, the first database that has a value wins, so a
//! GeoLite2-City file followed by a GeoLite2-ASN file answers both `country()` and `asnum()`. As in PowerDNS, an empty
//! string or `"--"` counts as no value. Files are read fully into memory: the `maxminddb` crate's mmap constructor is
//! `unsafe` (a file truncated underneath it is undefined behaviour), and a GeoLite2-City file is only ~60 MB.
//!
//! Lookups run per DNS query, so the hot paths decode only the fields they need and borrow strings from the database
//! buffer: [`GeoDb::lookup_ref`], [`GeoDb::country`], [`GeoDb::continent`], [`GeoDb::location`] and [`GeoDb::asn`] do
//! not allocate; [`GeoDb::lookup`] allocates only for the strings it returns.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use maxminddb::{LookupResult, MaxMindDbError, PathElement, Reader};
use serde::de::{self, Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::Deserialize;

/// Why a database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    #[error("cannot read GeoIP database {}: {source}", .path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{} is not a valid MaxMind DB file: {source}", .path.display())]
    Invalid { path: PathBuf, source: MaxMindDbError },
}

/// Everything known about an address. Codes are lower-cased, as PowerDNS returns them to Lua.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Geo {
    /// ISO 3166-1 alpha-2 country code (`country.iso_code`), e.g. `"us"`.
    pub country: Option<String>,
    /// Continent code (`continent.code`), e.g. `"na"`.
    pub continent: Option<String>,
    /// First subdivision's ISO code (`subdivisions[0].iso_code`), e.g. `"ca"`.
    pub region: Option<String>,
    /// English city name (`city.names.en`), as stored. PowerDNS lower-cases it (ASCII only) for `geoiplookup`.
    pub city: Option<String>,
    /// `autonomous_system_number`.
    pub asn: Option<u32>,
    /// `autonomous_system_organization`, as stored. PowerDNS lower-cases it (ASCII only) for `geoiplookup`.
    pub as_org: Option<String>,
    /// `(location.latitude, location.longitude)` in degrees.
    pub location: Option<(f64, f64)>,
}

/// [`Geo`] borrowing its strings from the database, in their stored case; compare with `eq_ignore_ascii_case`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GeoRef<'a> {
    pub country: Option<&'a str>,
    pub continent: Option<&'a str>,
    pub region: Option<&'a str>,
    pub city: Option<&'a str>,
    pub asn: Option<u32>,
    pub as_org: Option<&'a str>,
    pub location: Option<(f64, f64)>,
}

impl<'a> GeoRef<'a> {
    /// Owned copy with codes lower-cased.
    pub fn to_geo(&self) -> Geo {
        Geo {
            country: self.country.map(str::to_ascii_lowercase),
            continent: self.continent.map(str::to_ascii_lowercase),
            region: self.region.map(str::to_ascii_lowercase),
            city: self.city.map(str::to_owned),
            asn: self.asn,
            as_org: self.as_org.map(str::to_owned),
            location: self.location,
        }
    }

    fn is_complete(&self) -> bool {
        self.country.is_some()
            && self.continent.is_some()
            && self.region.is_some()
            && self.city.is_some()
            && self.asn.is_some()
            && self.as_org.is_some()
            && self.location.is_some()
    }

    /// Fills attributes still missing from a later database.
    fn fill(&mut self, later: GeoRef<'a>) {
        self.country = self.country.or(later.country);
        self.continent = self.continent.or(later.continent);
        self.region = self.region.or(later.region);
        self.city = self.city.or(later.city);
        self.asn = self.asn.or(later.asn);
        self.as_org = self.as_org.or(later.as_org);
        self.location = self.location.or(later.location);
    }
}

struct Database {
    path: PathBuf,
    reader: Reader<Vec<u8>>,
}

/// An ordered list of MaxMind databases. `Send + Sync`; share it behind an `Arc` and swap it to reload.
pub struct GeoDb {
    databases: Vec<Database>,
}

impl fmt::Debug for GeoDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.databases.iter().map(|db| &db.path))
            .finish()
    }
}

impl GeoDb {
    /// Opens every file, in order. An empty list gives a database that knows nothing, like PowerDNS without the
    /// geoip backend: every attribute unknown.
    pub fn open(paths: &[PathBuf]) -> Result<GeoDb, GeoError> {
        let databases = paths
            .iter()
            .map(|path| {
                let bytes = std::fs::read(path).map_err(|source| GeoError::Read {
                    path: path.clone(),
                    source,
                })?;
                Self::reader(path, bytes)
            })
            .collect::<Result<_, _>>()?;
        Ok(GeoDb { databases })
    }

    /// A single database from bytes already in memory; `label` names it in errors and `Debug` output.
    pub fn from_bytes(label: impl Into<PathBuf>, bytes: Vec<u8>) -> Result<GeoDb, GeoError> {
        let path = label.into();
        let database = Self::reader(&path, bytes)?;
        Ok(GeoDb {
            databases: vec![database],
        })
    }

    fn reader(path: &Path, bytes: Vec<u8>) -> Result<Database, GeoError> {
        let reader = Reader::from_source(bytes).map_err(|source| GeoError::Invalid {
            path: path.to_owned(),
            source,
        })?;
        Ok(Database {
            path: path.to_owned(),
            reader,
        })
    }

    /// Each database's path and `database_type` metadata (e.g. `"GeoLite2-City"`), in lookup order, for logging.
    pub fn databases(&self) -> impl Iterator<Item = (&Path, &str)> {
        self.databases
            .iter()
            .map(|db| (db.path.as_path(), db.reader.metadata().database_type.as_str()))
    }

    /// All attributes of `ip`, owned. IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) are looked up as IPv4.
    pub fn lookup(&self, ip: IpAddr) -> Geo {
        self.lookup_ref(ip).to_geo()
    }

    /// All attributes of `ip`, borrowed from the databases: one tree walk and one decode per database consulted,
    /// stopping early once every attribute has a value.
    pub fn lookup_ref(&self, ip: IpAddr) -> GeoRef<'_> {
        let ip = ip.to_canonical();
        let mut geo = GeoRef::default();
        for db in &self.databases {
            let Ok(result) = db.reader.lookup(ip) else { continue };
            let found = match result.decode::<Raw<'_>>() {
                Ok(raw) => raw.map(GeoRef::from),
                // A field of an unexpected shape spoils a whole-record decode; fetch the fields one by one instead.
                Err(_) => Some(salvage(&result)),
            };
            if let Some(found) = found {
                geo.fill(found);
                if geo.is_complete() {
                    break;
                }
            }
        }
        geo
    }

    /// Lower-case two-letter country code; `None` if unknown or not two ASCII characters.
    pub fn country(&self, ip: IpAddr) -> Option<[u8; 2]> {
        self.first_str(ip, &[PathElement::Key("country"), PathElement::Key("iso_code")])
            .and_then(code2)
    }

    /// Lower-case two-letter continent code; `None` if unknown or not two ASCII characters.
    pub fn continent(&self, ip: IpAddr) -> Option<[u8; 2]> {
        self.first_str(ip, &[PathElement::Key("continent"), PathElement::Key("code")])
            .and_then(code2)
    }

    /// `(latitude, longitude)` in degrees.
    pub fn location(&self, ip: IpAddr) -> Option<(f64, f64)> {
        #[derive(Deserialize)]
        struct OnlyLocation {
            #[serde(default)]
            location: Option<Location>,
        }
        let ip = ip.to_canonical();
        self.databases.iter().find_map(|db| {
            let result = db.reader.lookup(ip).ok()?;
            result.decode::<OnlyLocation>().ok()??.location?.pair()
        })
    }

    /// Autonomous system number.
    pub fn asn(&self, ip: IpAddr) -> Option<u32> {
        let ip = ip.to_canonical();
        self.databases.iter().find_map(|db| {
            let result = db.reader.lookup(ip).ok()?;
            result
                .decode_path::<AnyU32>(&[PathElement::Key("autonomous_system_number")])
                .ok()??
                .0
        })
    }

    fn first_str(&self, ip: IpAddr, path: &[PathElement<'_>]) -> Option<&str> {
        let ip = ip.to_canonical();
        self.databases.iter().find_map(|db| {
            let result = db.reader.lookup(ip).ok()?;
            result.decode_path::<&str>(path).ok()?.filter(|s| usable(s))
        })
    }
}

/// PowerDNS treats an empty value or `"--"` as "not in this database" and moves on to the next.
fn usable(s: &str) -> bool {
    !s.is_empty() && s != "--"
}

fn code2(s: &str) -> Option<[u8; 2]> {
    match *s.as_bytes() {
        [a, b] if a.is_ascii() && b.is_ascii() => Some([a.to_ascii_lowercase(), b.to_ascii_lowercase()]),
        _ => None,
    }
}

/// Great-circle distance in km (haversine, mean Earth radius 6371.0088 km) between two `(lat, lon)` points in degrees.
pub fn great_circle_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    const EARTH_RADIUS_KM: f64 = 6371.0088;
    let (lat1, lat2) = (a.0.to_radians(), b.0.to_radians());
    let dlat = lat2 - lat1;
    let dlon = (b.1 - a.1).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
    // Rounding can push h a hair past 1 for antipodal points (asin would give NaN); clamp keeps NaN inputs NaN.
    2.0 * EARTH_RADIUS_KM * h.sqrt().clamp(0.0, 1.0).asin()
}

/// Only the fields PowerDNS uses; serde skips every other key without decoding it.
#[derive(Deserialize)]
struct Raw<'a> {
    #[serde(borrow, default)]
    country: Option<IsoCode<'a>>,
    #[serde(borrow, default)]
    continent: Option<ContinentCode<'a>>,
    #[serde(borrow, default, deserialize_with = "first_subdivision")]
    subdivisions: Option<&'a str>,
    #[serde(borrow, default)]
    city: Option<City<'a>>,
    #[serde(default)]
    location: Option<Location>,
    #[serde(default)]
    autonomous_system_number: Option<AnyU32>,
    #[serde(borrow, default)]
    autonomous_system_organization: Option<&'a str>,
}

#[derive(Deserialize)]
struct IsoCode<'a> {
    #[serde(borrow, default)]
    iso_code: Option<&'a str>,
}

#[derive(Deserialize)]
struct ContinentCode<'a> {
    #[serde(borrow, default)]
    code: Option<&'a str>,
}

#[derive(Deserialize)]
struct City<'a> {
    #[serde(borrow, default)]
    names: Option<Names<'a>>,
}

#[derive(Deserialize)]
struct Names<'a> {
    #[serde(borrow, default)]
    en: Option<&'a str>,
}

#[derive(Deserialize)]
struct Location {
    #[serde(default)]
    latitude: Option<AnyF64>,
    #[serde(default)]
    longitude: Option<AnyF64>,
}

impl Location {
    fn pair(&self) -> Option<(f64, f64)> {
        Some((self.latitude?.0?, self.longitude?.0?))
    }
}

impl<'a> From<Raw<'a>> for GeoRef<'a> {
    fn from(raw: Raw<'a>) -> Self {
        GeoRef {
            country: raw.country.and_then(|c| c.iso_code).filter(|s| usable(s)),
            continent: raw.continent.and_then(|c| c.code).filter(|s| usable(s)),
            region: raw.subdivisions.filter(|s| usable(s)),
            city: raw.city.and_then(|c| c.names?.en).filter(|s| usable(s)),
            asn: raw.autonomous_system_number.and_then(|n| n.0),
            as_org: raw.autonomous_system_organization.filter(|s| usable(s)),
            location: raw.location.and_then(|l| l.pair()),
        }
    }
}

/// Field-by-field decode for records whose whole-record decode failed: keep what is well-formed.
fn salvage<'a>(result: &LookupResult<'a, Vec<u8>>) -> GeoRef<'a> {
    use PathElement::{Index, Key};
    let text = |path: &[PathElement<'_>]| result.decode_path::<&'a str>(path).ok().flatten().filter(|s| usable(s));
    let number = |path: &[PathElement<'_>]| result.decode_path::<AnyF64>(path).ok().flatten().and_then(|n| n.0);
    let location = number(&[Key("location"), Key("latitude")]).zip(number(&[Key("location"), Key("longitude")]));
    GeoRef {
        country: text(&[Key("country"), Key("iso_code")]),
        continent: text(&[Key("continent"), Key("code")]),
        region: text(&[Key("subdivisions"), Index(0), Key("iso_code")]),
        city: text(&[Key("city"), Key("names"), Key("en")]),
        asn: result
            .decode_path::<AnyU32>(&[Key("autonomous_system_number")])
            .ok()
            .flatten()
            .and_then(|n| n.0),
        as_org: text(&[Key("autonomous_system_organization")]),
        location,
    }
}

/// `subdivisions[0].iso_code`, skipping the other elements without allocating a `Vec`.
fn first_subdivision<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<&'de str>, D::Error> {
    struct First;
    impl<'de> Visitor<'de> for First {
        type Value = Option<&'de str>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an array of subdivisions")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let first = seq.next_element::<IsoCode<'de>>()?.and_then(|s| s.iso_code);
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(first)
        }
    }
    deserializer.deserialize_seq(First)
}

/// An unsigned integer of any MMDB width (MaxMind uses uint32 for ASNs; other writers may not); `None` if it does not
/// fit in a `u32`.
#[derive(Clone, Copy)]
struct AnyU32(Option<u32>);

impl<'de> Deserialize<'de> for AnyU32 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = AnyU32;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<AnyU32, E> {
                Ok(AnyU32(u32::try_from(v).ok()))
            }
            fn visit_u128<E: de::Error>(self, v: u128) -> Result<AnyU32, E> {
                Ok(AnyU32(u32::try_from(v).ok()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<AnyU32, E> {
                Ok(AnyU32(u32::try_from(v).ok()))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// A finite coordinate stored as double (MaxMind), float or integer.
#[derive(Clone, Copy)]
struct AnyF64(Option<f64>);

impl<'de> Deserialize<'de> for AnyF64 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = AnyF64;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<AnyF64, E> {
                Ok(AnyF64(Some(v).filter(|v| v.is_finite())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<AnyF64, E> {
                Ok(AnyF64(Some(v as f64)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<AnyF64, E> {
                Ok(AnyF64(Some(v as f64)))
            }
        }
        deserializer.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use testkit::mmdb::{self as writer, MmdbWriter, Record};

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    /// Writes `bytes` to a fresh file (unique per process and call, as tests run in parallel).
    fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("pooldns-geoip-{}-{n}-{name}", std::process::id()));
        std::fs::write(&path, bytes).expect("write temp file");
        path
    }

    fn fixture_db() -> GeoDb {
        let path = temp_file("fixture.mmdb", &writer::fixture());
        let db = GeoDb::open(std::slice::from_ref(&path)).expect("open fixture");
        let _ = std::fs::remove_file(path);
        db
    }

    fn owned(s: &str) -> Option<String> {
        Some(s.to_owned())
    }

    #[test]
    fn fixture_fields() {
        let db = fixture_db();
        assert_eq!(
            db.lookup(ip("1.1.1.1")),
            Geo {
                country: owned("au"),
                continent: owned("oc"),
                region: None,
                city: owned("Research"),
                asn: Some(4242),
                as_org: owned("Test Telekom"),
                location: Some((1.0, 1.0)),
            }
        );
        assert_eq!(
            db.lookup(ip("1.2.3.4")),
            Geo {
                country: owned("us"),
                continent: owned("na"),
                region: owned("ca"),
                city: owned("Mukilteo"),
                asn: Some(3320),
                as_org: owned("Test Networks"),
                location: Some((47.913, -122.3042)),
            }
        );
        for (addr, lon) in [
            ("192.0.2.1", -179.0),
            ("198.51.100.255", 179.0),
            ("203.0.113.7", -160.0),
        ] {
            assert_eq!(
                db.lookup(ip(addr)),
                Geo {
                    location: Some((0.0, lon)),
                    ..Geo::default()
                },
                "{addr}"
            );
        }
        for n in 1..=3 {
            let geo = db.lookup(ip(&format!("127.0.0.{n}")));
            assert_eq!(geo.country.as_deref(), Some("o1"));
            assert_eq!(geo.region, Some(format!("l{n}")));
            assert_eq!(geo.city, Some(format!("C{n}")));
            assert_eq!((geo.continent, geo.asn, geo.location), (None, None, None));
        }
    }

    #[test]
    fn addresses_outside_every_network_know_nothing() {
        let db = fixture_db();
        for addr in [
            "17.1.1.1",
            "127.0.0.4",
            "1.2.4.1",
            "0.0.0.0",
            "255.255.255.255",
            "2001:db8::1",
            "::1",
        ] {
            assert_eq!(db.lookup(ip(addr)), Geo::default(), "{addr}");
            assert_eq!(db.lookup_ref(ip(addr)), GeoRef::default(), "{addr}");
            assert_eq!(db.country(ip(addr)), None);
            assert_eq!(db.location(ip(addr)), None);
            assert_eq!(db.asn(ip(addr)), None);
        }
    }

    #[test]
    fn cheap_accessors_agree_with_lookup() {
        let db = fixture_db();
        assert_eq!(db.country(ip("1.2.3.4")), Some(*b"us"));
        assert_eq!(db.continent(ip("1.2.3.4")), Some(*b"na"));
        assert_eq!(db.country(ip("127.0.0.2")), Some(*b"o1"));
        assert_eq!(db.continent(ip("127.0.0.2")), None);
        assert_eq!(db.location(ip("198.51.100.1")), Some((0.0, 179.0)));
        assert_eq!(db.asn(ip("1.1.1.200")), Some(4242));
        let r = db.lookup_ref(ip("1.2.3.4"));
        assert_eq!(
            (r.country, r.region, r.as_org),
            (Some("US"), Some("CA"), Some("Test Networks"))
        );
    }

    #[test]
    fn ipv6_lookups() {
        let db = fixture_db();
        // IPv4-mapped addresses are canonicalised to IPv4; the IPv4-compatible form walks the ::/96 subtree directly.
        assert_eq!(db.lookup(ip("::ffff:1.2.3.4")).country.as_deref(), Some("us"));
        assert_eq!(db.lookup(ip("::1.2.3.4")).country.as_deref(), Some("us"));
        assert_eq!(db.country(ip("::ffff:1.1.1.1")), Some(*b"au"));

        let mut w = MmdbWriter::new("GeoIP2-City");
        let nl = Record::map([
            ("country", Record::map([("iso_code", Record::from("NL"))])),
            ("continent", Record::map([("code", Record::from("EU"))])),
            (
                "location",
                Record::map([("latitude", Record::from(52.37)), ("longitude", Record::from(4.89))]),
            ),
        ]);
        w.insert((ip("2001:db8::"), 32), nl).unwrap();
        let db = GeoDb::from_bytes("v6.mmdb", w.to_bytes()).unwrap();
        let geo = db.lookup(ip("2001:db8:ffff::53"));
        assert_eq!(
            (geo.country.as_deref(), geo.continent.as_deref()),
            (Some("nl"), Some("eu"))
        );
        assert_eq!(db.location(ip("2001:db8::1")), Some((52.37, 4.89)));
        assert_eq!(db.lookup(ip("2001:db9::1")), Geo::default());
        assert_eq!(db.lookup(ip("192.0.2.1")), Geo::default());
    }

    fn city_without_asn() -> Vec<u8> {
        let mut w = MmdbWriter::new("GeoLite2-City");
        let rec = Record::map([
            ("country", Record::map([("iso_code", Record::from("DE"))])),
            ("continent", Record::map([("code", Record::from("EU"))])),
            (
                "city",
                Record::map([(
                    "names",
                    Record::map([("en", Record::from("Berlin")), ("de", "Berlin".into())]),
                )]),
            ),
            (
                "location",
                Record::map([("latitude", Record::from(52.5)), ("longitude", Record::from(13.4))]),
            ),
            // PowerDNS skips "--" and empty values and asks the next database.
            (
                "subdivisions",
                Record::Array(vec![Record::map([("iso_code", Record::from("--"))])]),
            ),
            ("autonomous_system_organization", Record::from("")),
        ]);
        w.insert((ip("192.0.2.0"), 24), rec).unwrap();
        w.to_bytes()
    }

    fn asn_db() -> Vec<u8> {
        let mut w = MmdbWriter::new("GeoLite2-ASN");
        let rec = Record::map([
            ("autonomous_system_number", Record::from(64_500u32)),
            ("autonomous_system_organization", Record::from("Example AS")),
            ("country", Record::map([("iso_code", Record::from("FR"))])),
            (
                "subdivisions",
                Record::Array(vec![Record::map([("iso_code", Record::from("BE"))])]),
            ),
        ]);
        w.insert((ip("192.0.2.0"), 25), rec).unwrap();
        w.to_bytes()
    }

    #[test]
    fn first_database_with_a_value_wins_per_attribute() {
        let city = temp_file("city.mmdb", &city_without_asn());
        let asn = temp_file("asn.mmdb", &asn_db());
        let db = GeoDb::open(&[city.clone(), asn.clone()]).unwrap();
        let _ = (std::fs::remove_file(city), std::fs::remove_file(asn));

        let geo = db.lookup(ip("192.0.2.1"));
        assert_eq!(geo.country.as_deref(), Some("de"), "first database's country wins");
        assert_eq!(geo.city.as_deref(), Some("Berlin"));
        assert_eq!(geo.asn, Some(64_500), "ASN comes from the second database");
        assert_eq!(
            geo.as_org.as_deref(),
            Some("Example AS"),
            "empty value in the first is skipped"
        );
        assert_eq!(geo.region.as_deref(), Some("be"), "\"--\" in the first is skipped");
        assert_eq!(db.asn(ip("192.0.2.1")), Some(64_500));
        assert_eq!(db.country(ip("192.0.2.1")), Some(*b"de"));

        // Outside the ASN database's /25 only the city database answers.
        let geo = db.lookup(ip("192.0.2.200"));
        assert_eq!((geo.country.as_deref(), geo.asn, geo.region), (Some("de"), None, None));
        let names: Vec<_> = db.databases().map(|(_, kind)| kind).collect();
        assert_eq!(names, ["GeoLite2-City", "GeoLite2-ASN"]);
    }

    #[test]
    fn odd_field_types_degrade_gracefully() {
        let mut w = MmdbWriter::new("Custom");
        let rec = Record::map([
            ("country", Record::from("not a map")),
            ("continent", Record::map([("code", Record::from("AF"))])),
            ("autonomous_system_number", Record::Uint64(65_551)),
            (
                "location",
                Record::map([("latitude", Record::Int32(-10)), ("longitude", Record::Uint16(20))]),
            ),
            ("subdivisions", Record::Array(vec![])),
        ]);
        w.insert((ip("10.0.0.0"), 8), rec).unwrap();
        let big_asn = Record::map([("autonomous_system_number", Record::Uint64(1 << 40))]);
        w.insert((ip("11.0.0.0"), 8), big_asn).unwrap();
        let db = GeoDb::from_bytes("custom.mmdb", w.to_bytes()).unwrap();
        let geo = db.lookup(ip("10.1.1.1"));
        assert_eq!(geo.country, None);
        assert_eq!(geo.continent.as_deref(), Some("af"));
        assert_eq!(geo.asn, Some(65_551));
        assert_eq!(geo.location, Some((-10.0, 20.0)));
        assert_eq!(db.lookup(ip("11.1.1.1")), Geo::default());
    }

    #[test]
    fn geodb_is_shareable_across_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<GeoDb>();
    }

    #[test]
    fn empty_database_list_knows_nothing() {
        let db = GeoDb::open(&[]).unwrap();
        assert_eq!(db.lookup(ip("1.2.3.4")), Geo::default());
        assert_eq!(db.location(ip("1.2.3.4")), None);
    }

    #[test]
    fn open_errors_name_the_file() {
        let missing = std::env::temp_dir().join("pooldns-geoip-does-not-exist.mmdb");
        let err = GeoDb::open(std::slice::from_ref(&missing)).unwrap_err();
        assert!(matches!(err, GeoError::Read { .. }), "{err:?}");
        assert!(err.to_string().contains("pooldns-geoip-does-not-exist.mmdb"), "{err}");

        for (name, bytes) in [
            ("garbage", b"this is not a MaxMind database".as_slice()),
            ("empty", b""),
        ] {
            let path = temp_file(name, bytes);
            let err = GeoDb::open(std::slice::from_ref(&path)).unwrap_err();
            let _ = std::fs::remove_file(&path);
            assert!(matches!(err, GeoError::Invalid { .. }), "{name}: {err:?}");
            assert!(err.to_string().contains(&path.display().to_string()), "{err}");
        }

        // A later bad file fails the whole open, naming that file.
        let good = temp_file("good.mmdb", &writer::fixture());
        let err = GeoDb::open(&[good.clone(), missing]).unwrap_err();
        let _ = std::fs::remove_file(good);
        assert!(err.to_string().contains("does-not-exist"), "{err}");
    }

    #[test]
    fn truncated_and_corrupted_files_do_not_panic() {
        let bytes = writer::fixture();
        for cut in [1, 16, bytes.len() / 2, bytes.len() - 20] {
            let _ = GeoDb::from_bytes("cut", bytes[..bytes.len() - cut].to_vec()).map(|db| db.lookup(ip("1.2.3.4")));
        }
        // Flip bits in every byte (tree, data, metadata); opening may fail, lookups must not panic.
        for i in 0..bytes.len() {
            for mask in [0x01, 0x80, 0xff] {
                let mut bad = bytes.clone();
                bad[i] ^= mask;
                if let Ok(db) = GeoDb::from_bytes("flipped", bad) {
                    for addr in ["1.1.1.1", "1.2.3.4", "127.0.0.1", "192.0.2.1", "2001:db8::1"] {
                        let _ = db.lookup(ip(addr));
                        let _ = (
                            db.country(ip(addr)),
                            db.continent(ip(addr)),
                            db.location(ip(addr)),
                            db.asn(ip(addr)),
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn great_circle_distances() {
        let d = great_circle_km((0.0, 179.0), (0.0, -179.0));
        assert!((d - 222.39).abs() < 0.1, "antimeridian: {d}");
        assert_eq!(great_circle_km((47.913, -122.3042), (47.913, -122.3042)), 0.0);
        let quarter = great_circle_km((0.0, 0.0), (0.0, 90.0));
        assert!((quarter - 10_007.5).abs() < 1.0, "{quarter}");
        let pole_to_pole = great_circle_km((90.0, 0.0), (-90.0, 0.0));
        assert!((pole_to_pole - 20_015.1).abs() < 1.0, "{pole_to_pole}");
        let antipodes = great_circle_km((10.0, 20.0), (-10.0, -160.0));
        assert!((antipodes - pole_to_pole).abs() < 0.01, "{antipodes} vs {pole_to_pole}");
        let (a, b) = ((1.0, 1.0), (47.913, -122.3042));
        assert_eq!(great_circle_km(a, b), great_circle_km(b, a));
        // Seattle area to Sydney, roughly 12 500 km.
        let d = great_circle_km((47.913, -122.3042), (-33.87, 151.21));
        assert!((12_000.0..13_000.0).contains(&d), "{d}");
        assert!(great_circle_km((f64::NAN, 0.0), (0.0, 0.0)).is_nan());
    }
}
