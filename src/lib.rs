//! pooldns: an authoritative DNS server for multi-region platforms.
//!
//! Data flows one way:
//!
//! ```text
//! writes (CLI import, API, UPDATE, transfers in) ─> store (SQLite / PostgreSQL, one transaction each)
//!   ─> loader (polls change counters, assembles a Snapshot per zone:
//!      the data-only Zone, its SignedZone, its LUA and ALIAS programs)
//!   ─> catalog (swapped atomically) ─> answer (per query, no I/O, no locks)
//! ```
//!
//! The DNS vocabulary (names, types, RDATA by record family, type bitmaps,
//! key tags and DS digests) is the `base` crate below everything here;
//! `registrars` builds on it too.
//!
//! | module    | holds                                                       |
//! |-----------|-------------------------------------------------------------|
//! | `config`  | TOML file + environment -> one validated `Config`           |
//! | `cores`   | work on a large zone shared out among the cores             |
//! | `store`   | zones, journal, keys, rollovers, health states, allocations |
//! | `change`  | the one write path: change sets, serial bump, journal       |
//! | `import`  | zone file <-> records <-> store rows                        |
//! | `zone`    | zone-file syntax, checks, the frozen `Zone` and its lookup  |
//! | `dnssec`  | keys, signatures, NSEC/NSEC3 denial, the `SignedZone`       |
//! | `lua`     | LUA records: compiled calls, the Lua sandbox                |
//! | `health`  | probes behind ifportup/ifurlup, their states                |
//! | `alias`   | ALIAS targets, resolved in the background and cached        |
//! | `geoip`   | MaxMind databases for the geographic LUA functions          |
//! | `catalog` | the snapshots served                                        |
//! | `catalog_zone` | the RFC 9432 catalog zone listing every zone served    |
//! | `loader`  | keeps the catalog in step with the store                    |
//! | `pool`    | pool allocations, their DNS, delegations, the reconciler    |
//! | `roller`  | moves DNSSEC key rollovers forward, asking parent servers   |
//! | `answer`  | the answer path in stages: query, refuse, lookup,           |
//! |           | authority, additional, DNSSEC, LUA synthesis, finish        |
//! | `update`  | RFC 2136 UPDATE with TSIG, on the change path               |
//! | `transfer`| AXFR and IXFR out (from snapshots and the journal), NOTIFY  |
//! | `secondary` | zones kept by transfer from other primaries, NOTIFY in,   |
//! |           | primaries' catalog zones followed                          |
//! | `server`  | UDP workers, TCP connections, response rate limiting        |
//! | `api`     | the HTTP listener; health, readiness, metrics, pool,        |
//! |           | PowerDNS and registrar routes                               |
//! | `metrics` | per-thread query counters and latency histogram             |

#![forbid(unsafe_code)]

pub mod alias;
pub mod answer;
pub mod api;
pub mod catalog;
pub mod catalog_zone;
pub mod change;
pub mod cli;
pub mod config;
pub mod cores;
pub mod dnssec;
pub mod geoip;
pub mod health;
pub mod import;
pub mod loader;
pub mod lua;
pub mod metrics;
pub mod pool;
pub mod roller;
pub mod secondary;
pub mod serve;
pub mod server;
pub mod store;
pub mod transfer;
pub mod update;
pub mod zone;
