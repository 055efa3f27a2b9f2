//! The exact octets an RRSIG signs (RFC 4034 §3.1.8.1): the RRSIG fields,
//! then the RRset in canonical form (RFC 4034 §6).
//!
//! A signature covers the RRSIG RDATA without its signature field, then every
//! record of the RRset in canonical form: owner and embedded names lowercased,
//! no name compression, the original TTL, records in canonical order and
//! without duplicates. Getting one octet of this wrong makes every signature
//! bogus, so the tests below check it against signatures published in RFCs.

use std::borrow::Cow;

use base::rdata::canonical::canonical_rdata;

/// Class IN (RFC 1035 §3.2.4), the only class signed.
const CLASS_IN: u16 = 1;

/// The fixed fields of an RRSIG (RFC 4034 §3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RrsigHeader<'a> {
    /// The type of the RRset signed (RFC 4034 §3.1.1).
    pub type_covered: u16,
    /// The DNSSEC algorithm number of the key (RFC 4034 §3.1.2).
    pub algorithm: u8,
    /// Labels of the owner, see [`rrsig_labels`] (RFC 4034 §3.1.3).
    pub labels: u8,
    /// The TTL of the RRset as in the zone (RFC 4034 §3.1.4).
    pub original_ttl: u32,
    /// End of validity, seconds since 1970 modulo 2^32 (RFC 4034 §3.1.5).
    pub expiration: u32,
    /// Start of validity, seconds since 1970 modulo 2^32 (RFC 4034 §3.1.5).
    pub inception: u32,
    /// Key tag of the signing DNSKEY (RFC 4034 §3.1.6).
    pub key_tag: u16,
    /// The zone apex in uncompressed wire form, lowercased (RFC 4034 §3.1.7, RFC 6840 §5.1).
    pub signer: &'a [u8],
}

impl RrsigHeader<'_> {
    /// RRSIG RDATA up to, not including, the signature.
    ///
    /// The signer's name is written lowercased even if given otherwise, so
    /// what is published always matches what was signed.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.type_covered.to_be_bytes());
        out.push(self.algorithm);
        out.push(self.labels);
        out.extend_from_slice(&self.original_ttl.to_be_bytes());
        out.extend_from_slice(&self.expiration.to_be_bytes());
        out.extend_from_slice(&self.inception.to_be_bytes());
        out.extend_from_slice(&self.key_tag.to_be_bytes());
        out.extend(self.signer.iter().map(u8::to_ascii_lowercase));
    }
}

/// Appends the data an RRSIG signs (RFC 4034 §3.1.8.1): the RRSIG RDATA prefix, then the RRset in canonical form.
///
/// Each record is written as owner, type, class IN, original TTL, RDLENGTH
/// and canonical RDATA. Records are sorted by canonical RDATA compared as
/// octet strings, a prefix before its extensions (RFC 4034 §6.3), and
/// duplicates are dropped.
///
/// `owner` is lowercased here as it is written, like the signer's name in
/// [`RrsigHeader::write`]. For an answer synthesised from a wildcard, pass the
/// wildcard owner `*.<closest encloser>`, not the query name (RFC 4035 §5.3.2).
/// `rtype` is normally `header.type_covered`. Every record carries
/// `header.original_ttl`, whatever TTL the records have.
pub fn signed_data(header: &RrsigHeader<'_>, owner: &[u8], rtype: u16, rdatas: &[&[u8]], out: &mut Vec<u8>) {
    header.write(out);
    let mut canonical: Vec<Cow<'_, [u8]>> = rdatas.iter().map(|rdata| canonical_rdata(rtype, rdata)).collect();
    canonical.sort_unstable();
    canonical.dedup();
    for rdata in &canonical {
        out.extend(owner.iter().map(u8::to_ascii_lowercase));
        out.extend_from_slice(&rtype.to_be_bytes());
        out.extend_from_slice(&CLASS_IN.to_be_bytes());
        out.extend_from_slice(&header.original_ttl.to_be_bytes());
        // RDATA of a real record fits in RDLENGTH (RFC 1035 §3.2.1).
        let length = u16::try_from(rdata.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&length.to_be_bytes());
        out.extend_from_slice(rdata);
    }
}

/// Number for the RRSIG labels field (RFC 4034 §3.1.3): labels of the owner not counting the root, nor a leading "*".
///
/// A validator compares this with the owner of the answer to detect a
/// wildcard expansion and rebuild the owner that was signed (RFC 4035 §5.3.2).
/// Malformed wire data is counted as far as it can be read.
pub fn rrsig_labels(owner_wire: &[u8]) -> u8 {
    let mut count: u8 = 0;
    let mut position = 0;
    while let Some(&length) = owner_wire.get(position) {
        if length == 0 {
            break;
        }
        let leading_star = position == 0 && owner_wire.starts_with(b"\x01*");
        if !leading_star {
            count = count.saturating_add(1);
        }
        position += 1 + usize::from(length);
    }
    count
}

#[cfg(test)]
mod tests {
    use data_encoding::BASE64;

    use super::*;
    use crate::dnssec::crypto::{self, Algorithm, SigningKey};
    use base::name::Name;
    use base::types::{self, A, AAAA, MX, NSEC, TXT};

    /// Wire form of an absolute test name.
    fn wire(name: &str) -> Vec<u8> {
        name.parse::<Name>().expect("valid test name").as_wire().to_vec()
    }

    /// `parts` joined.
    fn cat(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    #[test]
    fn rrsig_labels_counts_like_rfc4034() {
        assert_eq!(rrsig_labels(&wire(".")), 0);
        assert_eq!(rrsig_labels(&wire("www.example.com.")), 3);
        assert_eq!(rrsig_labels(&wire("*.example.com.")), 2);
        assert_eq!(rrsig_labels(&wire("*.*.example.")), 2);
        assert_eq!(rrsig_labels(&wire("a.*.example.")), 3);
        assert_eq!(rrsig_labels(&wire("**.example.")), 2);
        assert_eq!(rrsig_labels(b"\x03ww"), 1);
        assert_eq!(rrsig_labels(b""), 0);
    }

    #[test]
    fn signed_data_layout_order_and_duplicates() {
        let signer = wire("Example.");
        let header = RrsigHeader {
            type_covered: AAAA,
            algorithm: 13,
            labels: 2,
            original_ttl: 300,
            expiration: 0x0102_0304,
            inception: 0x0506_0708,
            key_tag: 0x090a,
            signer: &signer,
        };
        let records: [&[u8]; 4] = [&[2; 16], &[1; 16], &[2; 16], &[1; 16]];
        let mut data = Vec::new();
        signed_data(&header, &wire("WWW.Example."), AAAA, &records, &mut data);
        let mut prefix = Vec::new();
        header.write(&mut prefix);
        assert_eq!(
            prefix,
            cat(&[
                &[0, 28, 13, 2, 0, 0, 1, 44, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
                &wire("example.")
            ])
        );
        let owner = wire("www.example.");
        let record = |rdata: &[u8]| cat(&[&owner, &[0, 28, 0, 1, 0, 0, 1, 44, 0, 16], rdata]);
        assert_eq!(data, cat(&[&prefix, &record(&[1; 16]), &record(&[2; 16])]));
    }

    #[test]
    fn signed_data_sorts_and_deduplicates_canonical_rdata() {
        // Sorting happens on the canonical form: "B.a." and "b.a." become equal and collapse to one record.
        let mut header = RrsigHeader {
            type_covered: types::NS,
            algorithm: 15,
            labels: 1,
            original_ttl: 60,
            expiration: 0,
            inception: 0,
            key_tag: 0,
            signer: b"\x01a\x00",
        };
        let (upper, lower, longer) = (wire("B.a."), wire("b.a."), wire("ba.a."));
        let mut data = Vec::new();
        signed_data(&header, b"\x01A\x00", types::NS, &[&longer, &upper, &lower], &mut data);
        let mut prefix = Vec::new();
        header.write(&mut prefix);
        let record = |rdata: &[u8]| cat(&[b"\x01a\x00", &[0, 2, 0, 1, 0, 0, 0, 60, 0, rdata.len() as u8], rdata]);
        assert_eq!(data, cat(&[&prefix, &record(&lower), &record(&longer)]));

        // A prefix sorts before its extensions; TXT text keeps its case, so "A" and "a" both stay.
        header.type_covered = TXT;
        data.clear();
        signed_data(
            &header,
            b"\x01a\x00",
            TXT,
            &[b"\x02ab", b"\x01a\x01b", b"\x01a", b"\x01A"],
            &mut data,
        );
        prefix.clear();
        header.write(&mut prefix);
        let record = |rdata: &[u8]| cat(&[b"\x01a\x00", &[0, 16, 0, 1, 0, 0, 0, 60, 0, rdata.len() as u8], rdata]);
        let expected = [b"\x01A".as_slice(), b"\x01a", b"\x01a\x01b", b"\x02ab"].map(record);
        assert_eq!(data, cat(&[&prefix, &expected.concat()]));
    }

    /// RFC 6605 §6.1: www.example.net. A 192.0.2.1 and its RRSIG, checked against the published DNSKEY.
    #[test]
    fn verifies_the_rfc6605_ecdsa_p256_example() {
        let dnskey = cat(&[
            &[1, 1, 3, 13],
            &BASE64
                .decode(b"GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edbkrSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA==")
                .unwrap(),
        ]);
        let signature = BASE64
            .decode(b"qx6wLYqmh+l9oCKTN6qIc+bw6ya+KJ8oMz0YP107epXAyGmt+3SNruPFKG7tZoLBLlUzGGus7ZwmwWep666VCw==")
            .unwrap();
        let owner = wire("www.example.net.");
        let signer = wire("example.net.");
        let header = RrsigHeader {
            type_covered: A,
            algorithm: 13,
            labels: rrsig_labels(&owner),
            original_ttl: 3600,
            expiration: 1_284_026_679, // 20100909100439
            inception: 1_281_607_479,  // 20100812100439
            key_tag: base::dnskey::key_tag(&dnskey),
            signer: &signer,
        };
        assert_eq!((header.labels, header.key_tag), (3, 55648));
        let mut data = Vec::new();
        signed_data(&header, &owner, A, &[&[192, 0, 2, 1]], &mut data);
        crypto::verify(&dnskey, &data, &signature).expect("the RFC 6605 signature verifies");
        data.push(0);
        assert!(crypto::verify(&dnskey, &data, &signature).is_err());
    }

    /// RFC 8080 §6.1: Ed25519 is deterministic, so the example key must give the known signature of the MX RRset.
    ///
    /// The RRSIG printed in RFC 8080 lacks its algorithm field; the signature
    /// below is the one for labels 2, as the owner example.com. requires, and is
    /// the value other implementations (dnsjava among them) reproduce.
    #[test]
    fn reproduces_the_rfc8080_ed25519_example() {
        let seed = BASE64.decode(b"ODIyNjAzODQ2MjgwODAxMjI2NDUxOTAyMDQxNDIyNjI=").unwrap();
        // PKCS#8 v1 (RFC 8410 §7) around the 32-octet seed that BIND's private key file holds.
        let pkcs8 = cat(&[
            b"\x30\x2e\x02\x01\x00\x30\x05\x06\x03\x2b\x65\x70\x04\x22\x04\x20",
            &seed,
        ]);
        let key = SigningKey::from_pkcs8(Algorithm::Ed25519, 257, &pkcs8).expect("RFC 8080 key");
        let owner = wire("example.com.");
        let header = RrsigHeader {
            type_covered: MX,
            algorithm: 15,
            labels: rrsig_labels(&owner),
            original_ttl: 3600,
            expiration: 1_440_021_600,
            inception: 1_438_207_200,
            key_tag: key.key_tag(),
            signer: &owner,
        };
        assert_eq!((header.labels, header.key_tag), (2, 3613));
        let mx = cat(&[&[0, 10], &wire("mail.example.com.")]);
        let mut data = Vec::new();
        signed_data(&header, &owner, MX, &[&mx], &mut data);
        let signature = key.sign(&data).expect("signs");
        assert_eq!(
            BASE64.encode(&signature),
            "oL9krJun7xfBOIWcGHi7mag5/hdZrKWw15jPGrHpjQeRAvTdszaPD+QLs3fx8A4M3e23mRZ9VrbpMngwcrqNAg=="
        );
        crypto::verify(&key.dnskey_rdata(), &data, &signature).expect("verifies");
    }

    /// Signs a small zone with each algorithm and has an independent validator check every signature.
    ///
    /// The zone mixes case in owners and in RDATA names, holds an RRset of
    /// two records and a wildcard, and carries an NSEC chain, so the check
    /// covers canonical form, ordering, RRSIG labels and type bitmaps.
    #[test]
    fn ldns_verify_zone_accepts_our_signatures() {
        use std::collections::BTreeMap;
        use std::time::{SystemTime, UNIX_EPOCH};

        use base::bitmap::type_bitmap;
        use base::types::{type_to_string, DNSKEY, NS, RRSIG, SOA};

        let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs() as u32;
        let apex = wire("example.test.");
        let names = [
            "Example.Test.",
            "*.example.test.",
            "NS1.example.test.",
            "www.Example.test.",
        ];
        let soa_times: &[u8] = &[
            0, 0, 0, 1, 0, 0, 0x0e, 0x10, 0, 0, 2, 0x58, 0, 1, 0x51, 0x80, 0, 0, 1, 0x2c,
        ];
        for algorithm in [Algorithm::EcdsaP256Sha256, Algorithm::Ed25519] {
            let (key, _) = SigningKey::generate(algorithm, 257).expect("generates");
            // RRsets by (owner index, type), records as RDATA.
            let mut rrsets: BTreeMap<(usize, u16), Vec<Vec<u8>>> = BTreeMap::new();
            let soa = cat(&[&wire("NS1.Example.Test."), &wire("HostMaster.Example.TEST."), soa_times]);
            rrsets.insert((0, SOA), vec![soa]);
            rrsets.insert((0, NS), vec![wire("NS1.Example.Test.")]);
            rrsets.insert((0, MX), vec![cat(&[&[0, 10], &wire("Mail.Example.Test.")])]);
            rrsets.insert((0, DNSKEY), vec![key.dnskey_rdata()]);
            rrsets.insert(
                (1, TXT),
                vec![b"\x05Hello".to_vec(), b"\x05Hello".to_vec(), b"\x05hello".to_vec()],
            );
            rrsets.insert((2, A), vec![vec![192, 0, 2, 53]]);
            rrsets.insert((3, A), vec![vec![192, 0, 2, 2], vec![192, 0, 2, 1]]);
            for index in 0..names.len() {
                let mut present: Vec<u16> = rrsets.keys().filter(|(i, _)| *i == index).map(|&(_, t)| t).collect();
                present.extend([RRSIG, NSEC]);
                let next = wire(names[(index + 1) % names.len()]);
                rrsets.insert((index, NSEC), vec![cat(&[&next, &type_bitmap(present)])]);
            }
            let mut zone = String::new();
            let mut line = |owner: &str, rtype: u16, rdata: &[u8]| {
                let hex = data_encoding::HEXLOWER.encode(rdata);
                zone.push_str(&format!(
                    "{owner} 300 IN {} \\# {} {hex}\n",
                    type_to_string(rtype),
                    rdata.len()
                ));
            };
            for (&(index, rtype), rdatas) in &rrsets {
                let owner = wire(names[index]);
                let header = RrsigHeader {
                    type_covered: rtype,
                    algorithm: algorithm.number(),
                    labels: rrsig_labels(&owner),
                    original_ttl: 300,
                    expiration: now + 86_400,
                    inception: now - 3_600,
                    key_tag: key.key_tag(),
                    signer: &apex,
                };
                let records: Vec<&[u8]> = rdatas.iter().map(Vec::as_slice).collect();
                let mut data = Vec::new();
                signed_data(&header, &owner, rtype, &records, &mut data);
                let mut rrsig = Vec::new();
                header.write(&mut rrsig);
                rrsig.extend_from_slice(&key.sign(&data).expect("signs"));
                for rdata in &records {
                    line(names[index], rtype, rdata);
                }
                line(names[index], RRSIG, &rrsig);
            }
            let (accepted, report) = ldns_verify_zone(&zone);
            assert!(accepted, "{algorithm}:\n{zone}\n{report}");
            // The validator does look: one altered address fails the zone.
            let altered = zone.replacen("c0000201", "c0000209", 1);
            assert_ne!(altered, zone);
            assert!(!ldns_verify_zone(&altered).0, "{algorithm}: altered zone accepted");
        }
    }

    /// Runs `ldns-verify-zone` on zone file text; whether it accepted the zone, and what it said.
    fn ldns_verify_zone(zone: &str) -> (bool, String) {
        let directory = tempfile::tempdir().expect("temporary directory");
        let path = directory.path().join("example.test.zone");
        std::fs::write(&path, zone).expect("zone file written");
        let output = std::process::Command::new(testkit::require("ldns-verify-zone", "ldnsutils"))
            .arg(&path)
            .output()
            .expect("ldns-verify-zone runs");
        let report = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (output.status.success(), report)
    }
}
