//! Hashed owner names and the NSEC3 and NSEC3PARAM records (RFC 5155).
//!
//! SHA-1 is the only hash algorithm ever assigned (RFC 5155 §11). RFC 9276
//! §3.1 asks zones for no extra iterations and an empty salt; this module
//! computes whatever it is given and leaves that policy to its callers.
//!
//! A salt has a one-octet length field, so at most 255 octets of it can be
//! published. Every function here uses only the first [`MAX_SALT_LEN`] octets
//! of a longer salt, so hashes always agree with the records that state the salt.

use data_encoding::BASE32HEX_NOPAD;
use ring::digest;

/// The hash algorithm number of SHA-1 (RFC 5155 §11), the only one defined.
pub const HASH_SHA1: u8 = 1;

/// Octets in a SHA-1 hash, and so in a hashed owner name.
pub const HASH_LEN: usize = 20;

/// The Opt-Out flag of NSEC3 flags field (RFC 5155 §3.1.2.1).
pub const FLAG_OPT_OUT: u8 = 0x01;

/// Longest salt the Salt Length field can state (RFC 5155 §3.1.4).
pub const MAX_SALT_LEN: usize = 255;

/// The hashed owner name of `name` (RFC 5155 §5).
///
/// IH(salt, x, 0) = H(x || salt) and IH(salt, x, k) = H(IH(salt, x, k-1) || salt),
/// where x is the name in canonical wire form and H is SHA-1. `iterations` is
/// k, the number of additional rounds: 0 means one application of SHA-1.
/// `name` is lowercased here as it is hashed, so a name with its case
/// preserved gives the same hash as its canonical form.
pub fn nsec3_hash(name: &[u8], salt: &[u8], iterations: u16) -> [u8; HASH_LEN] {
    let salt = salt.get(..MAX_SALT_LEN).unwrap_or(salt);
    let mut context = digest::Context::new(&digest::SHA1_FOR_LEGACY_USE_ONLY);
    for chunk in name.chunks(64) {
        let mut lower = [0u8; 64];
        let lower = &mut lower[..chunk.len()];
        lower.copy_from_slice(chunk);
        lower.make_ascii_lowercase();
        context.update(lower);
    }
    context.update(salt);
    let mut hash = context.finish();
    for _ in 0..iterations {
        let mut context = digest::Context::new(&digest::SHA1_FOR_LEGACY_USE_ONLY);
        context.update(hash.as_ref());
        context.update(salt);
        hash = context.finish();
    }
    let mut out = [0u8; HASH_LEN];
    out.copy_from_slice(hash.as_ref());
    out
}

/// The owner label: base32hex (RFC 4648 §7) without padding, lowercase.
///
/// RFC 5155 §3.3 leaves the case open; lowercase is what signers write and
/// what sorts correctly in canonical order (RFC 4034 §6.1).
pub fn hash_label(hash: &[u8; HASH_LEN]) -> String {
    let mut label = BASE32HEX_NOPAD.encode(hash);
    label.make_ascii_lowercase();
    label
}

/// NSEC3 RDATA (RFC 5155 §3.2) with hash algorithm 1.
///
/// The fields are algorithm, flags (Opt-Out is bit 1), iterations, salt
/// length and salt, hash length and next hashed owner name, then `bitmap`
/// as made by [`base::bitmap::type_bitmap`]. The next hashed owner
/// is the raw 20-octet hash, not its base32hex text.
pub fn nsec3_rdata(opt_out: bool, iterations: u16, salt: &[u8], next_hash: &[u8; HASH_LEN], bitmap: &[u8]) -> Vec<u8> {
    let salt = salt.get(..MAX_SALT_LEN).unwrap_or(salt);
    let mut rdata = Vec::with_capacity(6 + salt.len() + HASH_LEN + bitmap.len());
    rdata.push(HASH_SHA1);
    rdata.push(if opt_out { FLAG_OPT_OUT } else { 0 });
    rdata.extend_from_slice(&iterations.to_be_bytes());
    rdata.push(salt.len() as u8);
    rdata.extend_from_slice(salt);
    rdata.push(HASH_LEN as u8);
    rdata.extend_from_slice(next_hash);
    rdata.extend_from_slice(bitmap);
    rdata
}

/// NSEC3PARAM RDATA (RFC 5155 §4.2), flags 0.
///
/// Flags must be 0 in NSEC3PARAM (RFC 5155 §4.1.2): Opt-Out is a property of
/// the NSEC3 records, not of the parameters.
pub fn nsec3param_rdata(iterations: u16, salt: &[u8]) -> Vec<u8> {
    let salt = salt.get(..MAX_SALT_LEN).unwrap_or(salt);
    let mut rdata = Vec::with_capacity(5 + salt.len());
    rdata.push(HASH_SHA1);
    rdata.push(0);
    rdata.extend_from_slice(&iterations.to_be_bytes());
    rdata.push(salt.len() as u8);
    rdata.extend_from_slice(salt);
    rdata
}

#[cfg(test)]
mod tests {
    use super::*;
    use base::bitmap::type_bitmap;
    use base::name::Name;
    use base::types::{DNSKEY, MX, NS, NSEC3PARAM, RRSIG, SOA};

    /// The salt of the RFC 5155 Appendix A example zone.
    const SALT: [u8; 4] = [0xaa, 0xbb, 0xcc, 0xdd];

    /// The hash label of `name` with the Appendix A parameters.
    fn appendix_a(name: &str) -> String {
        let name: Name = name.parse().expect("valid test name");
        hash_label(&nsec3_hash(name.as_wire(), &SALT, 12))
    }

    #[test]
    fn rfc5155_appendix_a_hashes() {
        let expected = [
            ("example.", "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom"),
            ("a.example.", "35mthgpgcu1qg68fab165klnsnk3dpvl"),
            ("ai.example.", "gjeqe526plbf1g8mklp59enfd789njgi"),
            ("ns1.example.", "2t7b4g4vsa5smi47k61mv5bv1a22bojr"),
            ("ns2.example.", "q04jkcevqvmu85r014c7dkba38o0ji5r"),
            ("w.example.", "k8udemvp1j2f7eg6jebps17vp3n8i58h"),
            ("*.w.example.", "r53bq7cc2uvmubfu5ocmm6pers9tk9en"),
            ("x.w.example.", "b4um86eghhds6nea196smvmlo4ors995"),
            ("y.w.example.", "ji6neoaepv8b5o6k4ev33abha8ht9fgc"),
            ("x.y.w.example.", "2vptu5timamqttgl4luu9kg21e0aor3s"),
            ("xx.example.", "t644ebqk9bibcna874givr6joj62mlhv"),
            (
                "2t7b4g4vsa5smi47k61mv5bv1a22bojr.example.",
                "kohar7mbb8dc2ce8a9qvl8hon4k53uhi",
            ),
        ];
        for (name, label) in expected {
            assert_eq!(appendix_a(name), label, "{name}");
        }
    }

    #[test]
    fn hashing_ignores_case() {
        assert_eq!(appendix_a("X.W.Example."), "b4um86eghhds6nea196smvmlo4ors995");
    }

    #[test]
    fn no_salt_no_iterations() {
        // RFC 9276 parameters; the same value as `ldns-nsec3-hash -t 0 -s '' com.`.
        let com: Name = "com.".parse().expect("valid test name");
        assert_eq!(
            hash_label(&nsec3_hash(com.as_wire(), &[], 0)),
            "ck0pojmg874ljref7efn8430qvit8bsm"
        );
    }

    #[test]
    fn nsec3_record_of_the_appendix_a_apex() {
        // 0p9mhaveqvm6t7vbl5lop2u3t2rp3tom.example. NSEC3 1 1 12 aabbccdd (
        //     2t7b4g4vsa5smi47k61mv5bv1a22bojr MX DNSKEY NS SOA NSEC3PARAM RRSIG )
        let ns1: Name = "ns1.example.".parse().expect("valid test name");
        let next = nsec3_hash(ns1.as_wire(), &SALT, 12);
        let bitmap = type_bitmap([MX, DNSKEY, NS, SOA, NSEC3PARAM, RRSIG]);
        let rdata = nsec3_rdata(true, 12, &SALT, &next, &bitmap);
        let mut expected = vec![1, 1, 0, 12, 4, 0xaa, 0xbb, 0xcc, 0xdd, 20];
        expected.extend_from_slice(
            &data_encoding::BASE32HEX_NOPAD
                .decode(b"2T7B4G4VSA5SMI47K61MV5BV1A22BOJR")
                .unwrap(),
        );
        // Window 0, 7 octets: NS SOA (octet 0), MX (octet 1), RRSIG (octet 5), DNSKEY NSEC3PARAM (octet 6).
        expected.extend_from_slice(&[0, 7, 0x22, 0x01, 0, 0, 0, 0x02, 0x90]);
        assert_eq!(rdata, expected);
        assert_eq!(nsec3_rdata(false, 0, &[], &next, &[])[..5], [1, 0, 0, 0, 0]);
    }

    #[test]
    fn nsec3param_records() {
        assert_eq!(nsec3param_rdata(12, &SALT), [1, 0, 0, 12, 4, 0xaa, 0xbb, 0xcc, 0xdd]);
        assert_eq!(nsec3param_rdata(0, &[]), [1, 0, 0, 0, 0]);
        assert_eq!(nsec3param_rdata(0x0102, &[]), [1, 0, 1, 2, 0]);
    }

    #[test]
    fn overlong_salt_is_cut_everywhere() {
        let long = [7u8; 300];
        let param = nsec3param_rdata(0, &long);
        assert_eq!(param[4], 255);
        assert_eq!(param.len(), 5 + 255);
        assert_eq!(nsec3_hash(b"\0", &long, 1), nsec3_hash(b"\0", &long[..255], 1));
        assert_eq!(nsec3_rdata(false, 0, &long, &[0; 20], &[]).len(), 5 + 255 + 1 + 20);
    }
}
