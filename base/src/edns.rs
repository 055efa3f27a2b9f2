//! EDNS(0) options pooldns reads (RFC 6891 §6.1.2).

use std::net::IpAddr;

/// The DO bit in the OPT TTL field: DNSSEC records wanted (RFC 3225 §3).
pub const FLAG_DO: u32 = 0x8000;

/// Option code of the Name Server Identifier (RFC 5001 §2.3).
pub const OPTION_NSID: u16 = 3;

/// Option code of Client Subnet (RFC 7871 §6).
pub const OPTION_CLIENT_SUBNET: u16 = 8;

/// Option code of DNS Cookies (RFC 7873 §4).
pub const OPTION_COOKIE: u16 = 10;

/// An EDNS Client Subnet (RFC 7871 §6) from a query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientSubnet {
    /// The network address, bits past the source prefix zero.
    pub address: IpAddr,
    /// How many leading bits of `address` the client sent.
    pub source_prefix: u8,
}
