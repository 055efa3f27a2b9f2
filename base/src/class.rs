//! Class numbers (RFC 1035 §3.2.4, RFC 6895 §3.2).

/// The Internet, the only class pooldns serves zones in.
pub const IN: u16 = 1;
/// CHAOS (RFC 1035 §3.2.4), where servers describe themselves.
pub const CH: u16 = 3;
