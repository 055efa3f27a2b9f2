//! pooldns: an authoritative DNS server for multi-region platforms.
//!
//! Data flows one way:
//!
//! ```text
//! writes (CLI import, API) ─> store (SQLite / PostgreSQL, one transaction each)
//!   ─> loader (polls change counters, builds an immutable Zone per zone)
//!   ─> catalog (swapped atomically) ─> answer (per query, no I/O, no locks)
//! ```
//!
//! | module    | holds                                                       |
//! |-----------|-------------------------------------------------------------|
//! | `config`  | TOML file + environment -> one validated `Config`           |
//! | `store`   | zones and records in SQL                                    |
//! | `import`  | zone file <-> records <-> store rows                        |
//! | `zone`    | zone-file syntax, checks, the frozen `Zone` and its lookup  |
//! | `dnssec`  | keys, signatures, NSEC/NSEC3 denial                         |
//! | `lua`     | LUA records: compiled calls, the Lua sandbox                |
//! | `health`  | probes behind ifportup/ifurlup, their states                |
//! | `geoip`   | MaxMind databases for the geographic LUA functions          |
//! | `catalog` | the set of zones served                                     |
//! | `loader`  | keeps the catalog in step with the store                    |
//! | `roller`  | moves DNSSEC key rollovers forward                          |
//! | `wire`    | query parsing and response writing                          |
//! | `answer`  | RFC 1034 §4.3.2 answers from a catalog                      |
//! | `server`  | UDP workers and TCP connections                             |
//! | `api`     | health, readiness and metrics over HTTP                     |
//! | `metrics` | query counters and latency histogram                        |

#![forbid(unsafe_code)]

pub mod answer;
pub mod api;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod dnssec;
pub mod geoip;
pub mod health;
pub mod import;
pub mod loader;
pub mod lua;
pub mod metrics;
pub mod roller;
pub mod serve;
pub mod server;
pub mod store;
pub mod zone;
