//! Zones and their records.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{unix_time, Backend, Store, StoreError};

/// Records inserted per statement.
const INSERT_BATCH: usize = 10_000;

/// A zone row: identity and change counter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZoneVersion {
    pub id: i64,
    pub name: String,
    pub version: i64,
}

/// A record row, all fields in presentation format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRecord {
    pub name: String,
    pub rtype: String,
    pub ttl: i64,
    pub content: String,
}

/// How a zone write treats an existing zone of the same name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteMode {
    /// Fail with [`StoreError::ZoneExists`].
    CreateOnly,
    /// Replace all of its records.
    Replace,
}

impl Store {
    /// Every zone with its change counter, by name.
    pub async fn zone_versions(&self) -> Result<Vec<ZoneVersion>, StoreError> {
        let rows = sqlx::query("SELECT id, name, version FROM zones ORDER BY name")
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

    /// The records of the zone with row id `zone_id`, in insertion order.
    ///
    /// The rows travel as one JSON array built by the database: fetching a
    /// million rows one by one through the driver costs seconds of per-row
    /// overhead; one aggregated value costs a fraction of that.
    pub async fn zone_records(&self, zone_id: i64) -> Result<Vec<StoredRecord>, StoreError> {
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
        let json: String = row.try_get("rows")?;
        let rows: Vec<(String, String, i64, String)> =
            serde_json::from_str(&json).map_err(|error| StoreError::Corrupt(error.to_string()))?;
        Ok(rows
            .into_iter()
            .map(|(name, rtype, ttl, content)| StoredRecord {
                name,
                rtype,
                ttl,
                content,
            })
            .collect())
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

    /// Writes a whole zone in one transaction: either all of `records`
    /// are stored (replacing the old ones under [`WriteMode::Replace`]) or
    /// nothing changes.
    pub async fn put_zone(&self, name: &str, records: &[StoredRecord], mode: WriteMode) -> Result<(), StoreError> {
        let now = unix_time();
        let mut tx = self.pool.begin().await?;
        let existing = sqlx::query("SELECT id FROM zones WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
        let zone_id: i64 = match existing {
            Some(_) if mode == WriteMode::CreateOnly => return Err(StoreError::ZoneExists(name.to_string())),
            Some(row) => {
                let id: i64 = row.try_get("id")?;
                sqlx::query("DELETE FROM records WHERE zone_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("UPDATE zones SET version = version + 1, updated_at = $1 WHERE id = $2")
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                id
            }
            None => sqlx::query(
                "INSERT INTO zones (name, version, created_at, updated_at) VALUES ($1, 1, $2, $3) RETURNING id",
            )
            .bind(name)
            .bind(now)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?
            .try_get("id")?,
        };
        // Rows go in as JSON arrays of INSERT_BATCH records, two parameters
        // per statement: SQLite looks bound parameters up by a linear scan,
        // so thousands of parameters per statement cost quadratic time.
        let sql = match self.backend {
            Backend::Sqlite => {
                "INSERT INTO records (zone_id, name, type, ttl, content) \
                 SELECT $1, value ->> 0, value ->> 1, value ->> 2, value ->> 3 FROM json_each($2) ORDER BY key"
            }
            Backend::Postgres => {
                "INSERT INTO records (zone_id, name, type, ttl, content) \
                 SELECT $1, e ->> 0, e ->> 1, (e ->> 2)::bigint, e ->> 3 \
                 FROM json_array_elements($2::json) WITH ORDINALITY AS t (e, n) ORDER BY n"
            }
        };
        for batch in records.chunks(INSERT_BATCH) {
            let rows: Vec<(&str, &str, i64, &str)> = batch
                .iter()
                .map(|record| {
                    (
                        record.name.as_str(),
                        record.rtype.as_str(),
                        record.ttl,
                        record.content.as_str(),
                    )
                })
                .collect();
            let json = serde_json::to_string(&rows).map_err(|error| StoreError::Corrupt(error.to_string()))?;
            sqlx::query(sql).bind(zone_id).bind(json).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Deletes a zone and all its records.
    pub async fn delete_zone(&self, name: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query("SELECT id FROM zones WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NoSuchZone(name.to_string()))?;
        let id: i64 = row.try_get("id")?;
        sqlx::query("DELETE FROM records WHERE zone_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM zones WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
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

fn zone_version(row: &AnyRow) -> Result<ZoneVersion, StoreError> {
    Ok(ZoneVersion {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        version: row.try_get("version")?,
    })
}
