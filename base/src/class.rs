//! Class numbers (RFC 1035 §3.2.4, RFC 6895 §3.2).

/// The Internet, the only class pooldns serves.
pub const IN: u16 = 1;
