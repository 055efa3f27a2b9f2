//! RFC 2136 UPDATE and TSIG through the server's own UPDATE service, on a
//! real SQLite store holding `example.test.`: prerequisites, updates,
//! grants and the one write path. No panic, every reply parses, and the
//! zone stays one the server can load.
//!
//! Input: one byte choosing how the message goes: even, signed here with
//! the key the zone grants (so the fuzzer reaches past TSIG); odd, as it
//! is (TSIG records of its own included).

#![no_main]

use std::sync::{Arc, LazyLock};

use base::Name;
use libfuzzer_sys::fuzz_target;
use pooldns::update::tsig::{self, Algorithm, TsigKey};
use pooldns::update::{Grant, Keyring, UpdateService};
use pooldns_fuzz::StoreFixture;

const ZONE: &str = "$TTL 300
@    SOA   ns1 hostmaster 1 7200 3600 1209600 300
@    NS    ns1
ns1  A     192.0.2.53
www  A     192.0.2.80
www  TXT   \"v=1\"
mail MX    10 www
";

struct Fixture {
    base: StoreFixture,
    service: UpdateService,
    key: TsigKey,
    apex: Name,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let base = StoreFixture::new();
    base.create("example.test.", StoreFixture::zone("example.test.", ZONE));
    let apex: Name = "example.test.".parse().expect("name");
    let key = TsigKey::new(
        "fuzz-key.",
        Algorithm::HmacSha256,
        "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I=",
    )
    .expect("key");
    let keyring = Arc::new(Keyring::new(base.store.clone(), vec![key.clone()], None));
    let grant = Grant {
        key: key.name.clone(),
        zone: apex.clone(),
        names: vec!["@".into(), "*".into()],
        types: Vec::new(),
    };
    let service = UpdateService::new(base.store.clone(), keyring, vec![grant]);
    Fixture {
        base,
        service,
        key,
        apex,
    }
});

fuzz_target!(|data: &[u8]| {
    let Some((&mode, message)) = data.split_first() else {
        return;
    };
    let fixture = &*FIXTURE;
    let mut message = message.to_vec();
    if mode % 2 == 0 {
        if message.len() < 12 {
            return;
        }
        tsig::sign_request(&mut message, &fixture.key, base::time::unix_now());
    }
    let reply = fixture.base.runtime.block_on(fixture.service.answer(&message));
    if let Some(reply) = reply {
        if let Err(error) = testkit::message::Reply::parse(&reply) {
            panic!("the reply does not parse: {error}\nmessage {message:02x?}\nreply {reply:02x?}");
        }
    }
    // Whatever was written, the zone is still one the server loads.
    let rows = fixture
        .base
        .runtime
        .block_on(fixture.base.store.zone_records_by_name("example.test."))
        .expect("the zone reads back");
    if let Err(error) = pooldns::import::from_rows(&fixture.apex, rows) {
        panic!("an UPDATE left a zone that does not load: {error}\nmessage {message:02x?}");
    }
});
