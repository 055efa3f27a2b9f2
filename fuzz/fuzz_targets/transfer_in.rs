//! Zone transfers in: the messages a primary sends in answer to AXFR or
//! IXFR, read as a secondary reads them, and what they make applied to a
//! secondary zone in a real SQLite store. No panic, whatever the primary
//! sends; a transfer the store takes leaves a zone the server loads.
//!
//! Input: one byte, even for AXFR and odd for IXFR from the stored
//! serial; then the messages, each after its length in two bytes (as over
//! TCP).

#![no_main]

use std::sync::LazyLock;

use base::Name;
use libfuzzer_sys::fuzz_target;
use pooldns::change::{soa_serial, ChangeSet, ZoneChange};
use pooldns::secondary::client::{Fetched, Reader};
use pooldns::store::Primaries;
use pooldns_fuzz::StoreFixture;

static FIXTURE: LazyLock<(StoreFixture, Name)> = LazyLock::new(|| {
    let fixture = StoreFixture::new();
    let primaries = Primaries {
        addresses: vec!["192.0.2.1:53".into()],
        tsig_key: None,
        learned_from: None,
    };
    fixture.create("example.test.", ZoneChange::CreateSecondary { primaries });
    (fixture, "example.test.".parse().expect("name"))
});

fuzz_target!(|data: &[u8]| {
    let Some((&mode, mut rest)) = data.split_first() else {
        return;
    };
    let (fixture, zone) = &*FIXTURE;
    let stored = |fixture: &StoreFixture| {
        fixture
            .runtime
            .block_on(fixture.store.zone_records_by_name("example.test."))
            .expect("the zone reads back")
    };
    let from = match mode % 2 {
        0 => None,
        _ => stored(fixture)
            .iter()
            .find(|record| record.rtype == "SOA")
            .and_then(|soa| soa_serial(&soa.content))
            .or(Some(1)),
    };
    let mut reader = Reader::new(zone, from);
    while let [high, low, tail @ ..] = rest {
        let length = usize::from(u16::from_be_bytes([*high, *low])).min(tail.len());
        let (message, next) = tail.split_at(length);
        rest = next;
        if reader.take(message).is_err() || reader.done() {
            break;
        }
    }
    let Ok(Fetched::Changed(incoming)) = reader.finish() else {
        return;
    };
    let applied = fixture.runtime.block_on(
        ChangeSet::new("example.test.", ZoneChange::Transferred(incoming), "fuzz").apply_alone(&fixture.store),
    );
    if applied.is_ok() {
        if let Err(error) = pooldns::import::from_rows(zone, stored(fixture)) {
            panic!("a transfer left a zone that does not load: {error}");
        }
    }
});
