//! What pooldns's tests need and the server never ships.
//!
//! | module     | holds                                                          |
//! |------------|----------------------------------------------------------------|
//! | `process`  | free loopback ports, child processes, required peer programs  |
//! | `pooldns`  | the `pooldns` command line and `pooldns serve` on free ports   |
//! | `knot`     | Knot DNS, the reference of the differential tests             |
//! | `pdns`     | PowerDNS Authoritative, the reference of the LUA record tests |
//! | `pdns_api` | PowerDNS with its HTTP API on gsqlite3, the API's reference   |
//! | `unbound`  | a validating Unbound, judge of the DNSSEC tests               |
//! | `client`   | a DNS client that sends raw queries over UDP and TCP          |
//! | `compare`  | replies as sorted RRsets of text, for comparing servers       |
//! | `dig`      | what a server answers, as dig +short shows it                 |
//! | `delv`     | trust anchors from served keys, and delv's validation verdict |
//! | `corpus`   | query corpora run against pooldns and a peer, side by side    |
//! | `http`     | a plain HTTP/1.0 client for the API endpoints                 |
//! | `message`  | replies as text lines, for stating whole answers in tests     |
//! | `mmdb`     | a MaxMind DB writer for GeoIP fixtures                        |
//! | `mocks`    | local mocks of the five registrar APIs                        |
//! | `pool`     | a server managing a pool domain, and the pool API calls       |
//! | `browser`  | headless Chromium through chromedriver, for the operator page |
//!
//! Peer programs come from Debian packages that `.ci/run` installs; a test
//! whose peer is missing fails and says which package to install
//! ([`process::require`]).

#![forbid(unsafe_code)]

pub mod browser;
pub mod client;
pub mod compare;
pub mod corpus;
pub mod delv;
pub mod dig;
pub mod http;
pub mod knot;
pub mod message;
pub mod mmdb;
pub mod mocks;
pub mod nsd;
pub mod pdns;
pub mod pdns_api;
pub mod pool;
pub mod pooldns;
pub mod process;
pub mod unbound;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use client::{
    client_subnet_option, decode, encode_query, exchange, hex, name_wire, next_id, opt_record, opt_record_with_options,
    parse_name, query, query_wire, read_frame, tcp_connect, tcp_exchange, udp_exchange, write_frame, QueryOptions,
    Transport,
};
pub use http::{http_get, http_request, HttpResponse};
pub use knot::Knotd;
pub use pooldns::{pooldns_bin, run_cli, Pooldns, PooldnsOptions};
pub use process::{free_port, postgres_url, require, under_ci};
pub use unbound::Unbound;

/// How long a server may take to become ready. Generous on purpose: the
/// machines running the tests are shared and may be busy compiling.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// Absolute path of a file or directory below the repository's
/// `tests/data/`.
pub fn data_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data")
        .join(relative)
}
