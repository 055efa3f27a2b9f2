//! Provider-specific tests: behaviour the shared suite does not cover.

mod cloudflare;
mod dynadot;
mod godaddy;
mod namecheap;
mod ovh;

use registrars::{Dnskey, DsRecord};

/// An ECDSA P-256 key-signing key.
pub const KEY: &str =
    "257 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==";
/// A DS record (SHA-256).
pub const DS_A: &str = "2371 13 2 c988ec423e3880eb8dd8a46fe06ca230ee23f35b578d64e78b29c3e1c83d245a";
/// Another DS record (SHA-256).
pub const DS_B: &str = "4242 13 2 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/// Parses a DS record.
pub fn ds(text: &str) -> DsRecord {
    text.parse().expect("valid DS")
}

/// Parses the test DNSKEY.
pub fn key() -> Dnskey {
    KEY.parse().expect("valid DNSKEY")
}
