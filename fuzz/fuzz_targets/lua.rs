//! LUA records: compiled as the loader compiles them and evaluated by the
//! answer path, for the record's type and for ANY. No panic, and every
//! reply parses.
//!
//! Input: the RDATA of one LUA record as a zone file writes it, `TYPE
//! "code"`, owned by `x.example.test.`.

#![no_main]

use std::net::SocketAddr;
use std::sync::LazyLock;

use base::{types, Name};
use libfuzzer_sys::fuzz_target;
use pooldns::answer::{Peer, Query, Transport};
use pooldns::catalog::Catalog;
use pooldns_fuzz::{check_reply, snapshot, RESPONDER};
use testkit::QueryOptions;

static APEX: LazyLock<Name> = LazyLock::new(|| "example.test.".parse().expect("name"));

fuzz_target!(|data: &[u8]| {
    let Ok(rdata) = std::str::from_utf8(data) else {
        return;
    };
    // One record: the other zone-file syntax has a target of its own.
    if rdata.contains(['\n', '\r']) {
        return;
    }
    let text =
        format!("$TTL 300\n@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ NS ns1\nns1 A 192.0.2.53\nx LUA {rdata}\n");
    let Ok((apex, records)) = pooldns::import::parse_and_check(&text, "fuzz", Some(&APEX)) else {
        return;
    };
    let produced = records
        .iter()
        .find(|record| record.rtype == types::LUA)
        .and_then(|record| base::rdata::lua::produced_type(&record.rdata));
    let catalog = Catalog::new().with_zone(std::sync::Arc::new(snapshot(&apex, records, None)));
    let name = testkit::parse_name("x.example.test.");
    let peer = Peer {
        remote: SocketAddr::from(([192, 0, 2, 100], 40000)),
        local: SocketAddr::from(([127, 0, 0, 1], 53)),
    };
    let mut query = Query::new();
    let mut out = Vec::new();
    for qtype in produced.into_iter().chain([types::ANY]) {
        let message = testkit::encode_query(7, &name, qtype.into(), &QueryOptions::udp());
        out.clear();
        if RESPONDER
            .respond(&catalog, &message, Transport::Udp, peer, &mut query, &mut out)
            .is_some()
        {
            check_reply(&message, &out, Some(query.udp_limit(RESPONDER.max_udp_payload)));
        }
    }
});
