//! RDATA in text and wire form: text that parses prints back to text that
//! parses to the same wire form; wire data that prints parses back to
//! itself.
//!
//! Input: one byte choosing the direction; then for text `TYPE RDATA...`,
//! for wire the type (two bytes, network order) and the RDATA.

#![no_main]

use std::sync::LazyLock;

use base::rdata::{format_rdata, parse_rdata_text};
use base::{types, Name};
use libfuzzer_sys::fuzz_target;

static ORIGIN: LazyLock<Name> = LazyLock::new(|| "example.test.".parse().expect("name"));

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        let Ok(text) = std::str::from_utf8(rest) else {
            return;
        };
        let Some((mnemonic, rdata)) = text.trim_start().split_once(char::is_whitespace) else {
            return;
        };
        let Some(rtype) = types::type_from_str(mnemonic) else {
            return;
        };
        if let Ok(wire) = parse_rdata_text(rtype, rdata, &ORIGIN) {
            round_trip(rtype, &wire);
        }
    } else if let [high, low, wire @ ..] = rest {
        round_trip(u16::from_be_bytes([*high, *low]), wire);
    }
});

/// Wire -> text -> wire must be the identity for wire data the printer takes.
fn round_trip(rtype: u16, wire: &[u8]) {
    let Ok(text) = format_rdata(rtype, wire) else {
        return;
    };
    let again = parse_rdata_text(rtype, &text, &ORIGIN)
        .unwrap_or_else(|error| panic!("type {rtype}: printed {text:?} does not parse: {error}; wire {wire:02x?}"));
    assert_eq!(wire, &again[..], "type {rtype}: {text:?}");
}
