//! The DNS vocabulary of pooldns: what every other part speaks and that
//! depends on nothing of ours.
//!
//! | module    | holds                                                        |
//! |-----------|--------------------------------------------------------------|
//! | `name`    | domain names in wire form, owned ([`Name`]) and inline ([`NameBuf`]) |
//! | `types`   | record type numbers and mnemonics                            |
//! | `class`   | class numbers                                                |
//! | `header`  | the message header: flags, opcodes, RCODEs                   |
//! | `edns`    | EDNS(0) options pooldns reads                                |
//! | `rdata`   | RDATA text and wire forms, one file per record family        |
//! | `bitmap`  | the type bitmap of NSEC and NSEC3 records                    |
//! | `dnskey`  | DNSKEY key tags and DS digests                               |
//! | `time`    | calendar dates of Unix seconds (RRSIG times)                 |
//! | `netmask` | address networks (`192.0.2.0/24`) for LUA records and ACLs  |
//!
//! The server, the registrar adapters and the test kit all take these
//! from here, so a key tag or a DS digest is computed one way only.

#![forbid(unsafe_code)]

pub mod bitmap;
pub mod class;
pub mod dnskey;
pub mod edns;
pub mod header;
pub mod name;
pub mod netmask;
pub mod rdata;
pub mod time;
pub mod types;

pub use name::{Name, NameBuf, NameError};
