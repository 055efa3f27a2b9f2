//! One write transaction: the primitives the change path (`crate::change`)
//! and the pool allocator compose, so that a zone change, its journal
//! entry and the allocation it belongs to commit together or not at all.

use sqlx::Row;

use super::{bump_parents, unix_time, Backend, Store, StoreError, StoredRecord};

/// Records inserted per statement.
const INSERT_BATCH: usize = 10_000;

/// An open write transaction.
pub struct Writer {
    pub(super) tx: sqlx::Transaction<'static, sqlx::Any>,
    backend: Backend,
    now: i64,
    written: std::sync::Arc<tokio::sync::Notify>,
}

/// A zone row, locked for the rest of the transaction.
#[derive(Clone, Debug)]
pub struct LockedZone {
    pub id: i64,
    pub name: String,
    /// `increment` or `date`.
    pub serial_policy: String,
    /// Whether the zone's content comes from primaries by zone transfer.
    pub secondary: bool,
}

/// Journal entries kept per zone: readers (the loader, IXFR) reach back at
/// most this far and rebuild or send AXFR beyond it, so older ones would
/// only fill the disk.
pub const JOURNAL_KEPT: i64 = 1000;

/// A journal entry about to be written.
pub struct JournalEntry<'a> {
    pub zone: &'a str,
    /// `create`, `update` or `delete`.
    pub kind: &'a str,
    pub old_serial: Option<u32>,
    pub new_serial: Option<u32>,
    pub removed: &'a [StoredRecord],
    pub added: &'a [StoredRecord],
    pub author: &'a str,
}

/// One stored journal entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZoneChangeRow {
    pub id: i64,
    pub zone: String,
    pub kind: String,
    pub old_serial: Option<u32>,
    pub new_serial: Option<u32>,
    pub removed: Vec<StoredRecord>,
    pub added: Vec<StoredRecord>,
    pub author: String,
    pub created_at: i64,
}

impl Store {
    /// Who created the zone called `name`, by its latest `create` journal
    /// entry; `None` for zones created before the journal existed.
    pub async fn zone_creator(&self, name: &str) -> Result<Option<String>, StoreError> {
        zone_creator(&self.pool, name).await
    }

    /// Opens a write transaction. SQLite transactions take the write lock
    /// at once (`BEGIN IMMEDIATE`): a transaction that reads and then
    /// writes would otherwise fail, not wait, when another writer got in
    /// between.
    pub async fn writer(&self) -> Result<Writer, StoreError> {
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        Ok(Writer {
            tx,
            backend: self.backend,
            now: unix_time(),
            written: self.written.clone(),
        })
    }

    /// The journal of `zone` after entry `after`, oldest first, at most
    /// `limit` entries.
    pub async fn zone_changes(&self, zone: &str, after: i64, limit: i64) -> Result<Vec<ZoneChangeRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, zone, kind, old_serial, new_serial, removed, added, author, created_at \
             FROM zone_changes WHERE zone = $1 AND id > $2 ORDER BY id LIMIT $3",
        )
        .bind(zone)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        change_rows(&rows)
    }

    /// The latest journal entries of `zone`, newest first, reaching back
    /// as far as `enough` asks, at most `limit`: a few are read first, as
    /// readers (the loader, a secondary's IXFR) are rarely more than a
    /// change or two behind and each entry is decoded in full.
    pub async fn zone_changes_back(
        &self,
        zone: &str,
        limit: i64,
        enough: impl Fn(&[ZoneChangeRow]) -> bool,
    ) -> Result<Vec<ZoneChangeRow>, StoreError> {
        const FIRST_READ: i64 = 8;
        let latest = self.recent_zone_changes(zone, FIRST_READ.min(limit)).await?;
        if enough(&latest) || (latest.len() as i64) < FIRST_READ {
            return Ok(latest);
        }
        self.recent_zone_changes(zone, limit).await
    }

    /// The latest `limit` journal entries of `zone`, newest first.
    pub async fn recent_zone_changes(&self, zone: &str, limit: i64) -> Result<Vec<ZoneChangeRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, zone, kind, old_serial, new_serial, removed, added, author, created_at \
             FROM zone_changes WHERE zone = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(zone)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        change_rows(&rows)
    }
}

/// Journal rows as entries.
fn change_rows(rows: &[sqlx::any::AnyRow]) -> Result<Vec<ZoneChangeRow>, StoreError> {
    rows.iter()
        .map(|row| {
            let serial = |column: &str| -> Result<Option<u32>, StoreError> {
                Ok(row.try_get::<Option<i64>, _>(column)?.map(|value| value as u32))
            };
            Ok(ZoneChangeRow {
                id: row.try_get("id")?,
                zone: row.try_get("zone")?,
                kind: row.try_get("kind")?,
                old_serial: serial("old_serial")?,
                new_serial: serial("new_serial")?,
                removed: records_from_json(&row.try_get::<String, _>("removed")?)?,
                added: records_from_json(&row.try_get::<String, _>("added")?)?,
                author: row.try_get("author")?,
                created_at: row.try_get("created_at")?,
            })
        })
        .collect()
}

impl Writer {
    /// Who created the zone called `name` (see [`Store::zone_creator`]).
    pub async fn zone_creator(&mut self, name: &str) -> Result<Option<String>, StoreError> {
        zone_creator(&mut *self.tx, name).await
    }

    /// The transaction's clock, Unix seconds.
    pub fn now(&self) -> i64 {
        self.now
    }

    /// The database in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Commits everything written, and wakes this process's loader.
    pub async fn commit(mut self) -> Result<(), StoreError> {
        if self.backend == Backend::Postgres {
            // Delivered to every listening server when the transaction
            // commits, never when it rolls back.
            sqlx::query("SELECT pg_notify($1, '')")
                .bind(super::WRITES_CHANNEL)
                .execute(&mut *self.tx)
                .await?;
        }
        self.tx.commit().await?;
        self.written.notify_one();
        Ok(())
    }

    /// The zone called `name`, locked against concurrent writers until
    /// commit (PostgreSQL row lock; SQLite holds its write lock already).
    pub async fn lock_zone(&mut self, name: &str) -> Result<Option<LockedZone>, StoreError> {
        let sql = match self.backend {
            Backend::Sqlite => "SELECT id, name, serial_policy, primaries FROM zones WHERE name = $1",
            Backend::Postgres => "SELECT id, name, serial_policy, primaries FROM zones WHERE name = $1 FOR UPDATE",
        };
        let row = sqlx::query(sql).bind(name).fetch_optional(&mut *self.tx).await?;
        row.map(|row| {
            Ok(LockedZone {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                serial_policy: row.try_get("serial_policy")?,
                secondary: !row.try_get::<String, _>("primaries")?.is_empty(),
            })
        })
        .transpose()
    }

    /// Creates the zone row (no records yet) and marks stored parents
    /// changed, whose DS sets may now include the new zone's.
    pub async fn create_zone(&mut self, name: &str, serial_policy: &str) -> Result<LockedZone, StoreError> {
        let row = sqlx::query(
            "INSERT INTO zones (name, version, created_at, updated_at, serial_policy) \
             VALUES ($1, 1, $2, $3, $4) RETURNING id",
        )
        .bind(name)
        .bind(self.now)
        .bind(self.now)
        .bind(serial_policy)
        .fetch_one(&mut *self.tx)
        .await?;
        bump_parents(&mut self.tx, name, self.now).await?;
        Ok(LockedZone {
            id: row.try_get("id")?,
            name: name.to_string(),
            serial_policy: serial_policy.to_string(),
            secondary: false,
        })
    }

    /// Deletes the zone, its records, keys, metadata and comments; stored
    /// parents are marked changed.
    pub async fn delete_zone(&mut self, zone: &LockedZone) -> Result<(), StoreError> {
        for table in [
            "records",
            "dnssec_rolls",
            "dnssec_keys",
            "dnssec_zones",
            "zone_metadata",
            "rrset_comments",
        ] {
            sqlx::query(&format!("DELETE FROM {table} WHERE zone_id = $1"))
                .bind(zone.id)
                .execute(&mut *self.tx)
                .await?;
        }
        sqlx::query("DELETE FROM zones WHERE id = $1")
            .bind(zone.id)
            .execute(&mut *self.tx)
            .await?;
        bump_parents(&mut self.tx, &zone.name, self.now).await
    }

    /// Marks the zone changed, so servers rebuild it.
    pub async fn bump_version(&mut self, zone: &LockedZone) -> Result<(), StoreError> {
        sqlx::query("UPDATE zones SET version = version + 1, updated_at = $1 WHERE id = $2")
            .bind(self.now)
            .bind(zone.id)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Every record of the zone with its row id.
    pub async fn zone_rows(&mut self, zone: &LockedZone) -> Result<Vec<(i64, StoredRecord)>, StoreError> {
        let sql = match self.backend {
            Backend::Sqlite => {
                "SELECT COALESCE(json_group_array(json_array(id, name, type, ttl, content) ORDER BY id), '[]') AS rows \
                 FROM records WHERE zone_id = $1"
            }
            Backend::Postgres => {
                "SELECT COALESCE(json_agg(json_build_array(id, name, type, ttl, content) ORDER BY id), '[]')::text AS rows \
                 FROM records WHERE zone_id = $1"
            }
        };
        let row = sqlx::query(sql).bind(zone.id).fetch_one(&mut *self.tx).await?;
        let json: String = row.try_get("rows")?;
        let rows: Vec<(i64, String, String, i64, String)> =
            serde_json::from_str(&json).map_err(|error| StoreError::Corrupt(error.to_string()))?;
        Ok(rows
            .into_iter()
            .map(|(id, name, rtype, ttl, content)| {
                (
                    id,
                    StoredRecord {
                        name,
                        rtype,
                        ttl,
                        content,
                    },
                )
            })
            .collect())
    }

    /// The records of the zone at `name` (any type), with their row ids.
    pub async fn rows_at(&mut self, zone: &LockedZone, name: &str) -> Result<Vec<(i64, StoredRecord)>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, type, ttl, content FROM records WHERE zone_id = $1 AND name = $2 ORDER BY id",
        )
        .bind(zone.id)
        .bind(name)
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get("id")?,
                    StoredRecord {
                        name: row.try_get("name")?,
                        rtype: row.try_get("type")?,
                        ttl: row.try_get("ttl")?,
                        content: row.try_get("content")?,
                    },
                ))
            })
            .collect()
    }

    /// Deletes record rows by id.
    pub async fn delete_rows(&mut self, ids: &[i64]) -> Result<(), StoreError> {
        let sql = match self.backend {
            Backend::Sqlite => "DELETE FROM records WHERE id IN (SELECT value FROM json_each($1))",
            Backend::Postgres => {
                "DELETE FROM records WHERE id IN (SELECT (json_array_elements_text($1::json))::bigint)"
            }
        };
        for batch in ids.chunks(INSERT_BATCH) {
            let json = serde_json::to_string(batch).map_err(|error| StoreError::Corrupt(error.to_string()))?;
            sqlx::query(sql).bind(json).execute(&mut *self.tx).await?;
        }
        Ok(())
    }

    /// Inserts records into the zone.
    ///
    /// Rows go in as JSON arrays of INSERT_BATCH records, two parameters
    /// per statement: SQLite looks bound parameters up by a linear scan, so
    /// thousands of parameters per statement cost quadratic time.
    pub async fn insert_records(&mut self, zone: &LockedZone, records: &[StoredRecord]) -> Result<(), StoreError> {
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
            let json = records_to_json(batch)?;
            sqlx::query(sql).bind(zone.id).bind(json).execute(&mut *self.tx).await?;
        }
        Ok(())
    }

    /// Rewrites one record row's content (the SOA serial bump).
    pub async fn update_content(&mut self, id: i64, content: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE records SET content = $1 WHERE id = $2")
            .bind(content)
            .bind(id)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Appends a journal entry, and lets the zone's entries older than the
    /// latest [`JOURNAL_KEPT`] go (not its `create` entries, which say who
    /// created it).
    pub async fn journal(&mut self, entry: &JournalEntry<'_>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO zone_changes (zone, kind, old_serial, new_serial, removed, added, author, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(entry.zone)
        .bind(entry.kind)
        .bind(entry.old_serial.map(i64::from))
        .bind(entry.new_serial.map(i64::from))
        .bind(records_to_json(entry.removed)?)
        .bind(records_to_json(entry.added)?)
        .bind(entry.author)
        .bind(self.now)
        .execute(&mut *self.tx)
        .await?;
        sqlx::query(
            "DELETE FROM zone_changes WHERE zone = $1 AND kind <> 'create' AND id < \
             (SELECT id FROM zone_changes WHERE zone = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)",
        )
        .bind(entry.zone)
        .bind(JOURNAL_KEPT - 1)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }
}

async fn zone_creator<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    name: &str,
) -> Result<Option<String>, StoreError> {
    let row =
        sqlx::query("SELECT author FROM zone_changes WHERE zone = $1 AND kind = 'create' ORDER BY id DESC LIMIT 1")
            .bind(name)
            .fetch_optional(executor)
            .await?;
    Ok(row.map(|row| row.try_get("author")).transpose()?)
}

fn records_to_json(records: &[StoredRecord]) -> Result<String, StoreError> {
    let rows: Vec<(&str, &str, i64, &str)> = records
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
    serde_json::to_string(&rows).map_err(|error| StoreError::Corrupt(error.to_string()))
}

/// Records from a JSON array of `[name, type, ttl, content]`.
pub(super) fn records_from_json(json: &str) -> Result<Vec<StoredRecord>, StoreError> {
    let rows: Vec<(String, String, i64, String)> =
        serde_json::from_str(json).map_err(|error| StoreError::Corrupt(error.to_string()))?;
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
