//! What the fuzz targets share: the zones of the answer scenarios
//! (`tests/data/answer/`) built into catalogs as the server builds them,
//! the queries those scenarios ask, which seed the corpora, and a store
//! on a real SQLite file for the targets that write.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base::dnskey::KSK_FLAGS;
use base::Name;
use pooldns::answer::{Cookies, Responder};
use pooldns::catalog::{Catalog, Snapshot};
use pooldns::dnssec::cache::SignatureCache;
use pooldns::dnssec::crypto::{Algorithm, SigningKey};
use pooldns::dnssec::denial::Nsec3Params;
use pooldns::dnssec::signed::Computed;
use pooldns::dnssec::window::Window;
use pooldns::dnssec::{self, DenialKind, KeyRole, SignedZone, ZoneKey};
use pooldns::lua::{self, ZonePrograms};
use pooldns::zone::{Record, Zone};

/// The responder as `pooldns serve` runs it, Client Subnet and NSID on.
pub const RESPONDER: Responder = Responder {
    max_udp_payload: 1232,
    ecs: true,
    identity: "fuzz",
    version: "pooldns",
    cookies: Cookies::new([7; 16]),
};

/// The tests' data directory.
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data")
}

/// The scenario files, sorted, so a catalog's index is stable.
pub fn scenario_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(data_dir().join("answer"))
        .expect("tests/data/answer")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "scenario"))
        .collect();
    files.sort();
    files
}

/// One catalog per scenario file: its zones, secured as the file says,
/// LUA records compiled.
pub fn scenario_catalogs() -> Vec<Catalog> {
    scenario_files()
        .iter()
        .map(|path| {
            let text = fs::read_to_string(path).expect("scenario file");
            let mut catalog = Catalog::new();
            for (apex, zone_text, denial) in scenario_zones(&text) {
                let (apex, records) = pooldns::import::parse_and_check(&zone_text, "scenario", Some(&apex))
                    .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
                catalog = catalog.with_zone(Arc::new(snapshot(&apex, records, denial)));
            }
            catalog
        })
        .collect()
}

/// The zones of a scenario file: apex, zone-file text, how it is secured.
fn scenario_zones(text: &str) -> Vec<(Name, String, Option<DenialKind>)> {
    let mut zones: Vec<(Name, String, Option<DenialKind>)> = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let words: Vec<&str> = line.split('#').next().unwrap_or("").split_whitespace().collect();
        match words.as_slice() {
            ["zone", apex] => {
                let apex: Name = apex.parse().expect("zone name");
                let mut zone_text = format!("$ORIGIN {apex}\n");
                for line in lines.by_ref().take_while(|line| line.trim() != "end") {
                    zone_text.push_str(line);
                    zone_text.push('\n');
                }
                zones.push((apex, zone_text, None));
            }
            ["secure", kind] => {
                let params = |opt_out| {
                    DenialKind::Nsec3(Nsec3Params {
                        iterations: 0,
                        salt: Vec::new(),
                        opt_out,
                    })
                };
                let denial = match *kind {
                    "nsec" => DenialKind::Nsec,
                    "nsec3" => params(false),
                    _ => params(true),
                };
                if let Some(zone) = zones.last_mut() {
                    zone.2 = Some(denial);
                }
            }
            _ => {}
        }
    }
    zones
}

/// The snapshot the loader would build, signed with a fixed Ed25519 key
/// when `denial` is given.
pub fn snapshot(apex: &Name, mut records: Vec<Record>, denial: Option<DenialKind>) -> Snapshot {
    let signed = denial.map(|denial| {
        let mut pkcs8 = b"\x30\x2e\x02\x01\x00\x30\x05\x06\x03\x2b\x65\x70\x04\x22\x04\x20".to_vec();
        pkcs8.extend_from_slice(&[42; 32]);
        let key = SigningKey::from_pkcs8(Algorithm::Ed25519, KSK_FLAGS, &pkcs8).expect("the fuzz key");
        let keys = vec![ZoneKey {
            id: 1,
            role: KeyRole::Csk,
            key,
            published: true,
            active: true,
            ds: true,
        }];
        let nsec3 = match &denial {
            DenialKind::Nsec3(params) => Some(params.clone()),
            DenialKind::Nsec => None,
        };
        dnssec::prepare_records(apex, &mut records, &keys, nsec3.as_ref());
        (keys, denial)
    });
    let mut zone = Zone::build(apex, records);
    let signed = signed.map(|(keys, denial)| {
        let cache = Arc::new(SignatureCache::new(1 << 12));
        let computed = Computed {
            lua: true,
            aliases: false,
        };
        let signed = SignedZone::new(&mut zone, keys, denial, computed, Window::at(1_795_089_600), cache);
        signed.presign(&zone);
        signed
    });
    let programs = ZonePrograms::compile(&zone, Some(&lua::Runtime::default()), None);
    Snapshot {
        zone,
        signed,
        programs: (!programs.is_empty()).then_some(programs),
        loading: false,
    }
}

/// The query messages of a scenario file (`query` and `packet` lines).
pub fn scenario_queries(text: &str) -> Vec<Vec<u8>> {
    let mut queries = Vec::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["packet", hex @ ..] => {
                if let Ok(wire) = data_encoding::HEXLOWER_PERMISSIVE.decode(hex.concat().as_bytes()) {
                    queries.push(wire);
                }
            }
            ["query", rest @ ..] => {
                let shared: Vec<&str> = rest
                    .iter()
                    .copied()
                    .filter(|word| !word.starts_with("class=") && !word.starts_with("opcode="))
                    .collect();
                if let Ok(query) = testkit::corpus::Query::parse(0, &shared, "") {
                    let name = testkit::parse_name(&query.name);
                    queries.push(testkit::encode_query(0x4242, &name, query.qtype, &query.options));
                }
            }
            _ => {}
        }
    }
    queries
}

/// Checks a reply to `query`: it parses, answers that message, and over
/// UDP fits the client's buffer.
pub fn check_reply(query: &[u8], reply: &[u8], udp_limit: Option<usize>) {
    if let Err(error) = testkit::message::Reply::parse(reply) {
        panic!("the reply does not parse: {error}\nquery {query:02x?}\nreply {reply:02x?}");
    }
    assert!(reply[2] & 0x80 != 0, "a reply without QR");
    if query.len() >= 2 {
        assert_eq!(query[..2], reply[..2], "a reply with another ID");
    }
    if let Some(limit) = udp_limit {
        assert!(
            reply.len() <= limit,
            "a UDP reply of {} bytes for a buffer of {limit}",
            reply.len()
        );
    }
}

/// A SQLite store in a directory of its own, and a runtime to drive it.
pub struct StoreFixture {
    pub runtime: tokio::runtime::Runtime,
    pub store: pooldns::store::Store,
    _dir: tempfile::TempDir,
}

impl StoreFixture {
    pub fn new() -> StoreFixture {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}/fuzz.db", dir.path().display());
        let store = runtime.block_on(pooldns::store::Store::open(&url)).expect("store");
        StoreFixture {
            runtime,
            store,
            _dir: dir,
        }
    }

    /// Applies `change` to the zone `apex`: [`StoreFixture::zone`] or a
    /// secondary zone.
    pub fn create(&self, apex: &str, change: pooldns::change::ZoneChange) {
        self.runtime
            .block_on(pooldns::change::ChangeSet::new(apex, change, "fuzz").apply_alone(&self.store))
            .expect("zone created");
    }

    /// The change creating zone `apex` with the records of `text`.
    pub fn zone(apex: &str, text: &str) -> pooldns::change::ZoneChange {
        let name: Name = apex.parse().expect("name");
        let (_, records) = pooldns::import::parse_and_check(text, "fuzz", Some(&name)).expect("zone");
        pooldns::change::ZoneChange::Create {
            records: pooldns::import::to_rows(&records).expect("rows"),
            serial_policy: pooldns::change::SerialPolicy::Increment,
        }
    }
}

impl Default for StoreFixture {
    fn default() -> StoreFixture {
        StoreFixture::new()
    }
}
