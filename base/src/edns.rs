//! EDNS(0) options pooldns reads (RFC 6891 §6.1.2).

use std::net::IpAddr;

/// Option code of Client Subnet (RFC 7871 §6).
pub const OPTION_CLIENT_SUBNET: u16 = 8;

/// An EDNS Client Subnet (RFC 7871 §6) from a query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientSubnet {
    /// The network address, bits past the source prefix zero.
    pub address: IpAddr,
    /// How many leading bits of `address` the client sent.
    pub source_prefix: u8,
}
