//! The fixed message header (RFC 1035 §4.1.1): its length, flag bits,
//! opcodes and response codes.

/// Length of the header.
pub const HEADER_LEN: usize = 12;

/// A message ID no one can guess (RFC 5452 §4.3), for queries this side
/// sends.
pub fn random_id() -> u16 {
    let mut id = [0u8; 2];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut id).unwrap_or(());
    u16::from_be_bytes(id)
}

/// Header flag bits in the second 16-bit word (RFC 1035 §4.1.1, RFC 4035
/// §3.1.6 for AD and CD).
pub mod flag {
    /// A response, not a query.
    pub const QR: u16 = 0x8000;
    /// Authoritative answer.
    pub const AA: u16 = 0x0400;
    /// Truncated: the answer did not fit.
    pub const TC: u16 = 0x0200;
    /// Recursion desired.
    pub const RD: u16 = 0x0100;
    /// Recursion available.
    pub const RA: u16 = 0x0080;
    /// Authenticated data.
    pub const AD: u16 = 0x0020;
    /// Checking disabled.
    pub const CD: u16 = 0x0010;
    /// The opcode field.
    pub const OPCODE: u16 = 0x7800;
}

/// The opcode of standard queries (RFC 1035 §4.1.1).
pub const OPCODE_QUERY: u8 = 0;

/// Response codes (RFC 1035 §4.1.1, RFC 2136 §2.2, RFC 6891 §9).
pub mod rcode {
    /// No error.
    pub const NOERROR: u16 = 0;
    /// The query could not be interpreted.
    pub const FORMERR: u16 = 1;
    /// The server failed to answer.
    pub const SERVFAIL: u16 = 2;
    /// The name does not exist.
    pub const NXDOMAIN: u16 = 3;
    /// The kind of query is not implemented.
    pub const NOTIMP: u16 = 4;
    /// Refused by policy, or no zone for the name.
    pub const REFUSED: u16 = 5;
    /// A name that should not exist does (here: a DNAME result too long).
    pub const YXDOMAIN: u16 = 6;
    /// Not authoritative for the zone.
    pub const NOTAUTH: u16 = 9;
    /// Extended RCODE 16: EDNS version not supported; its upper bits
    /// travel in the OPT record.
    pub const BADVERS: u16 = 16;

    /// The mnemonic of an RCODE, for logs and metrics.
    pub fn name(rcode: u16) -> &'static str {
        match rcode {
            NOERROR => "NOERROR",
            FORMERR => "FORMERR",
            SERVFAIL => "SERVFAIL",
            NXDOMAIN => "NXDOMAIN",
            NOTIMP => "NOTIMP",
            REFUSED => "REFUSED",
            YXDOMAIN => "YXDOMAIN",
            NOTAUTH => "NOTAUTH",
            BADVERS => "BADVERS",
            _ => "OTHER",
        }
    }
}
