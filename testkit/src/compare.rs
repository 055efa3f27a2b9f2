//! Replies in the form the differential tests compare them: RRsets with
//! owners in lower case and records as sorted "TTL RDATA" strings, so that
//! record order, name case and compression do not count as differences.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::BinDecodable;

/// Parses a record type mnemonic or `TYPEnnn` (RFC 3597).
pub fn parse_type(text: &str) -> Result<RecordType, String> {
    base::types::type_from_str(text)
        .map(RecordType::from)
        .ok_or_else(|| format!("unknown record type {text:?}"))
}

/// An RRset as compared: owner in lower case, then type and class; the
/// records as "TTL RDATA" strings in sorted order.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RRset {
    pub owner: String,
    pub rtype: String,
    pub class: String,
    pub records: Vec<String>,
}

impl fmt::Display for RRset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, record) in self.records.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            let (ttl, rdata) = record.split_once(' ').unwrap_or((record, ""));
            write!(f, "{} {ttl} {} {} {rdata}", self.owner, self.class, self.rtype)?;
        }
        Ok(())
    }
}

/// Groups the records of one section into sorted RRsets.
pub fn rrsets(records: &[Record]) -> Vec<RRset> {
    let mut sets: BTreeMap<(String, String, String), Vec<String>> = BTreeMap::new();
    for record in records {
        let key = (
            record.name.to_lowercase().to_ascii(),
            record.record_type().to_string(),
            record.dns_class.to_string(),
        );
        sets.entry(key)
            .or_default()
            .push(format!("{} {}", record.ttl, rdata_text(record)));
    }
    sets.into_iter()
        .map(|((owner, rtype, class), mut records)| {
            records.sort();
            RRset {
                owner,
                rtype,
                class,
                records,
            }
        })
        .collect()
}

/// Whether the RDATA of `rtype` holds domain names that may legitimately be
/// compressed against differently cased names earlier in the message.
fn rdata_has_names(rtype: RecordType) -> bool {
    matches!(
        rtype,
        RecordType::CNAME
            | RecordType::DNAME
            | RecordType::NS
            | RecordType::PTR
            | RecordType::MX
            | RecordType::SRV
            | RecordType::SOA
    )
}

/// Presentation form of RDATA used for comparison: TXT as quoted strings,
/// names in lower case.
pub fn rdata_text(record: &Record) -> String {
    let mut text = String::new();
    match &record.data {
        RData::TXT(txt) => text = txt.txt_data.iter().map(|s| quote(s)).collect::<Vec<_>>().join(" "),
        // hickory-proto has no DNAME type and keeps its RDATA as raw bytes,
        // which must be an uncompressed name (RFC 6672 section 2.5).
        RData::Unknown { code, rdata } if *code == RecordType::DNAME => match Name::from_bytes(&rdata.anything) {
            Ok(name) => text = name.to_ascii(),
            Err(e) => text = format!("<invalid DNAME target {}: {e}>", crate::client::hex(&rdata.anything)),
        },
        data => {
            if write!(text, "{data}").is_err() {
                text = format!("{data:?}");
            }
        }
    }
    if rdata_has_names(record.record_type()) {
        text.make_ascii_lowercase();
    }
    text
}

/// A TXT character-string in presentation format (RFC 1035 §5.1).
fn quote(bytes: &[u8]) -> String {
    let mut out = String::from("\"");
    for &byte in bytes {
        match byte {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(byte as char);
            }
            0x20..=0x7e => out.push(byte as char),
            _ => {
                let _ = write!(out, "\\{byte:03}");
            }
        }
    }
    out.push('"');
    out
}
