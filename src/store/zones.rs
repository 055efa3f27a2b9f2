//! Zones and their records.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{RowTexts, Store, StoreError};

/// A zone row: identity and change counter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZoneVersion {
    pub id: i64,
    pub name: String,
    pub version: i64,
    /// Whether no primary of this secondary zone answered for its SOA
    /// expire interval; always false for a primary zone.
    pub expired: bool,
}

/// What zone listings show of a zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZoneSummary {
    pub name: String,
    pub serial_policy: String,
    /// SOA RDATA in presentation format.
    pub soa: String,
    /// How the zone is secured; `None` when it is not.
    pub dnssec: Option<super::DnssecSettings>,
    /// "address:port" of its primaries, for a secondary zone.
    pub primaries: Vec<String>,
    /// The TSIG key of its transfers, for a secondary zone.
    pub primary_tsig: Option<String>,
}

/// A record row, all fields in presentation format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRecord {
    pub name: String,
    pub rtype: String,
    pub ttl: i64,
    pub content: String,
}

impl Store {
    /// Every zone with its change counter, by name.
    pub async fn zone_versions(&self) -> Result<Vec<ZoneVersion>, StoreError> {
        let rows = sqlx::query("SELECT id, name, version, expired FROM zones ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(zone_version).collect()
    }

    /// Every zone with its record count, by name.
    pub async fn list_zones(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT z.name, (SELECT COUNT(*) FROM records r WHERE r.zone_id = z.id) AS records \
             FROM zones z ORDER BY z.name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("name")?, row.try_get("records")?)))
            .collect()
    }

    /// Every zone with its serial policy, SOA RDATA and whether it is
    /// signed, by name.
    pub async fn zone_summaries(&self) -> Result<Vec<ZoneSummary>, StoreError> {
        let rows = sqlx::query(&format!("{SUMMARY} ORDER BY z.name"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(zone_summary).collect()
    }

    /// The summary of the zone called `name`, if it exists.
    pub async fn zone_summary(&self, name: &str) -> Result<Option<ZoneSummary>, StoreError> {
        let row = sqlx::query(&format!("{SUMMARY} WHERE z.name = $1"))
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(zone_summary).transpose()
    }

    /// The records of the zone with row id `zone_id`, in insertion order.
    pub async fn zone_records(&self, zone_id: i64) -> Result<Vec<StoredRecord>, StoreError> {
        let (parts, read) = std::sync::mpsc::channel::<RowTexts>();
        self.zone_record_parts(zone_id, 25_000, move |part| {
            // The receiver outlives the read.
            let _ = parts.send(part);
        })
        .await?;
        let mut records = Vec::new();
        for part in read {
            records.extend(part.iter().map(|(name, rtype, ttl, content)| StoredRecord {
                name: name.to_string(),
                rtype: rtype.to_string(),
                ttl,
                content: content.to_string(),
            }));
        }
        Ok(records)
    }

    /// The records of the zone called `name` (absolute, lowercase).
    pub async fn zone_records_by_name(&self, name: &str) -> Result<Vec<StoredRecord>, StoreError> {
        let row = sqlx::query("SELECT id FROM zones WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NoSuchZone(name.to_string()))?;
        self.zone_records(row.try_get("id")?).await
    }

    /// The row id of the zone called `name`.
    pub async fn zone_id(&self, name: &str) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT id FROM zones WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NoSuchZone(name.to_string()))?;
        Ok(row.try_get("id")?)
    }
}

/// The columns of a [`ZoneSummary`].
const SUMMARY: &str = "SELECT z.name, z.serial_policy, \
     COALESCE((SELECT r.content FROM records r WHERE r.zone_id = z.id AND r.type = 'SOA' LIMIT 1), '') AS soa, \
     d.denial, d.nsec3_opt_out, z.primaries, z.primary_tsig \
     FROM zones z LEFT JOIN dnssec_zones d ON d.zone_id = z.id";

fn zone_summary(row: &AnyRow) -> Result<ZoneSummary, StoreError> {
    Ok(ZoneSummary {
        name: row.try_get("name")?,
        serial_policy: row.try_get("serial_policy")?,
        soa: row.try_get("soa")?,
        dnssec: match row.try_get::<Option<String>, _>("denial")? {
            Some(denial) => Some(super::DnssecSettings {
                denial,
                nsec3_opt_out: row.try_get::<Option<i64>, _>("nsec3_opt_out")?.unwrap_or(0) != 0,
            }),
            None => None,
        },
        primaries: row
            .try_get::<String, _>("primaries")?
            .split_whitespace()
            .map(str::to_string)
            .collect(),
        primary_tsig: Some(row.try_get::<String, _>("primary_tsig")?).filter(|key| !key.is_empty()),
    })
}

fn zone_version(row: &AnyRow) -> Result<ZoneVersion, StoreError> {
    Ok(ZoneVersion {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        version: row.try_get("version")?,
        expired: row.try_get::<i64, _>("expired")? != 0,
    })
}
