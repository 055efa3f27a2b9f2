//! The message parser and the whole answer path: a random message to a
//! catalog of the answer scenarios' zones (signed, NSEC and NSEC3, LUA
//! records among them), over UDP and TCP. No panic, and every reply
//! parses, answers the message and fits the client's UDP buffer.
//!
//! Input: one byte choosing the catalog, then the message.

#![no_main]

use std::net::SocketAddr;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use pooldns::answer::{Peer, Query, Transport};
use pooldns::catalog::Catalog;
use pooldns_fuzz::{check_reply, scenario_catalogs, RESPONDER};

static CATALOGS: LazyLock<Vec<Catalog>> = LazyLock::new(scenario_catalogs);

fuzz_target!(|data: &[u8]| {
    let Some((&pick, message)) = data.split_first() else {
        return;
    };
    let catalog = &CATALOGS[usize::from(pick) % CATALOGS.len()];
    let peer = Peer {
        remote: SocketAddr::from(([192, 0, 2, 100], 40000)),
        local: SocketAddr::from(([127, 0, 0, 1], 53)),
    };
    let mut query = Query::new();
    let mut out = Vec::new();
    for transport in [Transport::Udp, Transport::Tcp] {
        out.clear();
        if RESPONDER
            .respond(catalog, message, transport, peer, &mut query, &mut out)
            .is_some()
        {
            let limit = matches!(transport, Transport::Udp).then(|| query.udp_limit(RESPONDER.max_udp_payload));
            check_reply(message, &out, limit);
        }
    }
});
