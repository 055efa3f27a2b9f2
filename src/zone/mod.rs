//! Zones: records in text form, checked sets of records, and the frozen
//! in-memory snapshot that answers are read from.
//!
//! The flow is one way:
//!
//! ```text
//! zone file ──file::parse_zone_file──┐
//! store rows ──rdata::parse_rdata_text┴─> Vec<Record> ──check::check_zone──> Zone::build ──> Arc<Zone>
//! ```
//!
//! A served [`Zone`] is never modified. A change to a zone makes a new one,
//! which the server swaps in whole: built again from all its records, or
//! made by [`edit`] from the served one and the records that changed.

pub mod check;
pub mod contents;
pub mod edit;
pub mod file;
pub mod node;

pub use check::{check_zone, ZoneError};
pub use contents::{Lookup, Zone};
pub use edit::{Change, Edited, Refused};
pub use node::{Node, RRset};

use base::name::Name;
use base::types;

/// One resource record of a zone, RDATA in uncompressed wire format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub owner: Name,
    pub ttl: u32,
    pub rtype: u16,
    pub rdata: Vec<u8>,
}

impl Record {
    /// The record as one zone-file line.
    pub fn to_line(&self) -> String {
        file::format_record(&self.owner, self.ttl, self.rtype, &self.rdata).unwrap_or_else(|_| {
            format!(
                "; unprintable {} record at {}",
                types::type_to_string(self.rtype),
                self.owner
            )
        })
    }
}

/// Reads the SOA MINIMUM field (RFC 1035 §3.3.13) from SOA wire RDATA.
pub fn soa_minimum(rdata: &[u8]) -> Option<u32> {
    let tail = rdata.get(rdata.len().checked_sub(4)?..)?;
    Some(u32::from_be_bytes([tail[0], tail[1], tail[2], tail[3]]))
}

/// Reads the SOA SERIAL field from SOA wire RDATA.
pub fn soa_serial(rdata: &[u8]) -> Option<u32> {
    let tail = rdata.get(rdata.len().checked_sub(20)?..)?;
    Some(u32::from_be_bytes([tail[0], tail[1], tail[2], tail[3]]))
}

/// Records for the tests of the zone modules.
#[cfg(test)]
pub(crate) mod testing {
    use super::Record;

    /// A record with TTL 300.
    pub fn record(owner: &str, rtype: u16, rdata: &[u8]) -> Record {
        Record {
            owner: owner.parse().expect("valid name"),
            ttl: 300,
            rtype,
            rdata: rdata.to_vec(),
        }
    }
}
