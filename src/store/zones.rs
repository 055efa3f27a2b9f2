//! Zones and their records.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::writer::records_from_json;
use super::{Backend, Store, StoreError};

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
    ///
    /// The rows travel as one JSON array built by the database: fetching a
    /// million rows one by one through the driver costs seconds of per-row
    /// overhead; one aggregated value costs a fraction of that.
    pub async fn zone_records(&self, zone_id: i64) -> Result<Vec<StoredRecord>, StoreError> {
        records_from_json(&self.zone_records_json(zone_id).await?)
    }

    /// The records of the zone with row id `zone_id` as the database's
    /// JSON array of `[name, type, ttl, content]`, in insertion order, for
    /// readers that convert rows without copying each field first.
    pub async fn zone_records_json(&self, zone_id: i64) -> Result<String, StoreError> {
        let sql = match self.backend {
            Backend::Sqlite => {
                "SELECT COALESCE(json_group_array(json_array(name, type, ttl, content) ORDER BY id), '[]') AS rows \
                 FROM records WHERE zone_id = $1"
            }
            Backend::Postgres => {
                "SELECT COALESCE(json_agg(json_build_array(name, type, ttl, content) ORDER BY id), '[]')::text AS rows \
                 FROM records WHERE zone_id = $1"
            }
        };
        let row = sqlx::query(sql).bind(zone_id).fetch_one(&self.pool).await?;
        Ok(row.try_get("rows")?)
    }

    /// The records of the zone with row id `zone_id` as
    /// [`Store::zone_records_json`] gives them, in JSON arrays of at most
    /// `rows` rows, in order, each handed to `part` as soon as it is read:
    /// a large zone's rows are converted while the next are read. All come
    /// from one view of the zone (one read transaction).
    pub async fn zone_records_json_parts(
        &self,
        zone_id: i64,
        rows: i64,
        mut part: impl FnMut(String),
    ) -> Result<(), StoreError> {
        let sql = match self.backend {
            Backend::Sqlite => {
                "SELECT COALESCE(json_group_array(json_array(name, type, ttl, content) ORDER BY id), '[]') AS rows, \
                 COUNT(*) AS n, MAX(id) AS last \
                 FROM (SELECT id, name, type, ttl, content FROM records WHERE zone_id = $1 AND id > $2 ORDER BY id LIMIT $3)"
            }
            Backend::Postgres => {
                "SELECT COALESCE(json_agg(json_build_array(name, type, ttl, content) ORDER BY id), '[]')::text AS rows, \
                 COUNT(*) AS n, MAX(id) AS last \
                 FROM (SELECT id, name, type, ttl, content FROM records WHERE zone_id = $1 AND id > $2 ORDER BY id LIMIT $3) AS part"
            }
        };
        let mut tx = self.pool.begin().await?;
        if self.backend == Backend::Postgres {
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .execute(&mut *tx)
                .await?;
        }
        let mut after = 0i64;
        loop {
            let row = sqlx::query(sql)
                .bind(zone_id)
                .bind(after)
                .bind(rows)
                .fetch_one(&mut *tx)
                .await?;
            let count: i64 = row.try_get("n")?;
            if count > 0 {
                part(row.try_get("rows")?);
            }
            if count < rows {
                break;
            }
            after = row.try_get("last")?;
        }
        tx.rollback().await?;
        Ok(())
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
