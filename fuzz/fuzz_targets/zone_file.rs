//! The zone-file parser: whatever parses prints, and what it prints parses
//! back to the same records.
//!
//! Input: zone-file text for `example.test.`.

#![no_main]

use std::sync::LazyLock;

use base::Name;
use libfuzzer_sys::fuzz_target;
use pooldns::zone::file::{format_record, parse_zone_file};

static ORIGIN: LazyLock<Name> = LazyLock::new(|| "example.test.".parse().expect("name"));

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok((origin, records)) = parse_zone_file(text, "fuzz", Some(&ORIGIN)) else {
        return;
    };
    let mut printed = String::new();
    for record in &records {
        let line = format_record(&record.owner, record.ttl, record.rtype, &record.rdata)
            .unwrap_or_else(|error| panic!("a parsed record does not print: {error}: {record:?}"));
        printed.push_str(&line);
        printed.push('\n');
    }
    let (_, again) = parse_zone_file(&printed, "printed", Some(&origin))
        .unwrap_or_else(|error| panic!("the printed zone does not parse: {error}\n{printed}"));
    assert_eq!(records.len(), again.len(), "{printed}");
    for (first, second) in records.iter().zip(&again) {
        assert_eq!(
            (&first.owner.to_string(), first.ttl, first.rtype, &first.rdata),
            (&second.owner.to_string(), second.ttl, second.rtype, &second.rdata),
            "{printed}"
        );
    }
});
