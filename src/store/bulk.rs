//! A zone's rows read in bulk, as a build needs them.
//!
//! A million rows fetched one by one through sqlx's `Any` driver cost
//! seconds of per-row overhead, and having the database aggregate them into
//! JSON costs most of a second of SQLite's string building. On SQLite the
//! rows are read instead through a read-only connection of our own
//! (rusqlite), borrowing each field from the database page; PostgreSQL
//! aggregates each part into one JSON value, which it builds quickly.

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::Mutex;

use sqlx::Row;

use super::{Backend, Store, StoreError};

/// Some of a zone's rows: each row's owner, type and content side by side
/// in one string, so that a part costs two allocations however many rows
/// it holds.
#[derive(Debug, Default)]
pub struct RowTexts {
    text: String,
    rows: Vec<RowEnds>,
}

/// Where a row's fields end in [`RowTexts::text`], and its TTL.
#[derive(Debug)]
struct RowEnds {
    owner: usize,
    rtype: usize,
    content: usize,
    ttl: i64,
}

impl RowTexts {
    fn push(&mut self, owner: &str, rtype: &str, ttl: i64, content: &str) {
        self.text.push_str(owner);
        let owner = self.text.len();
        self.text.push_str(rtype);
        let rtype = self.text.len();
        self.text.push_str(content);
        self.rows.push(RowEnds {
            owner,
            rtype,
            content: self.text.len(),
            ttl,
        });
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Each row's (owner, type, TTL, content), in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str, i64, &str)> {
        let mut start = 0;
        self.rows.iter().map(move |row| {
            let fields = (
                &self.text[start..row.owner],
                &self.text[row.owner..row.rtype],
                row.ttl,
                &self.text[row.rtype..row.content],
            );
            start = row.content;
            fields
        })
    }
}

/// Read-only SQLite connections for bulk reads, opened when first needed
/// and kept for the next.
pub(super) struct SqliteReaders {
    file: PathBuf,
    idle: Mutex<Vec<rusqlite::Connection>>,
}

impl SqliteReaders {
    pub(super) fn new(file: PathBuf) -> SqliteReaders {
        SqliteReaders {
            file,
            idle: Mutex::new(Vec::new()),
        }
    }

    fn take(&self) -> rusqlite::Result<rusqlite::Connection> {
        if let Some(connection) = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop() {
            return Ok(connection);
        }
        let connection = rusqlite::Connection::open_with_flags(
            &self.file,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // A writer checkpointing the WAL holds readers off for a moment.
        connection.busy_timeout(std::time::Duration::from_secs(5))?;
        Ok(connection)
    }

    fn give_back(&self, connection: rusqlite::Connection) {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).push(connection);
    }

    /// Hands the rows of zone `zone_id` to `part`, `rows` at a time, from
    /// one read transaction.
    fn read(&self, zone_id: i64, rows: usize, part: &mut impl FnMut(RowTexts)) -> rusqlite::Result<()> {
        let mut connection = self.take()?;
        let transaction = connection.transaction()?;
        {
            let mut statement = transaction
                .prepare_cached("SELECT name, type, ttl, content FROM records WHERE zone_id = ?1 ORDER BY id")?;
            let mut result = statement.query([zone_id])?;
            let mut texts = RowTexts::default();
            while let Some(row) = result.next()? {
                let text = |index| row.get_ref(index).and_then(|value| Ok(value.as_str()?));
                texts.push(text(0)?, text(1)?, row.get(2)?, text(3)?);
                if texts.len() == rows {
                    part(std::mem::take(&mut texts));
                }
            }
            if !texts.is_empty() {
                part(texts);
            }
        }
        transaction.rollback()?;
        self.give_back(connection);
        Ok(())
    }
}

impl Store {
    /// The records of the zone with row id `zone_id`, in insertion order,
    /// in parts of at most `rows` rows, each handed to `part` as soon as it
    /// is read (a large zone's rows are converted while the next are read).
    /// All come from one view of the zone (one read transaction).
    pub async fn zone_record_parts(
        &self,
        zone_id: i64,
        rows: usize,
        mut part: impl FnMut(RowTexts) + Send + 'static,
    ) -> Result<(), StoreError> {
        if let Some(readers) = &self.sqlite_readers {
            let readers = readers.clone();
            return tokio::task::spawn_blocking(move || readers.read(zone_id, rows.max(1), &mut part))
                .await
                .map_err(|_| StoreError::Corrupt("the read of a zone's rows panicked".into()))?
                .map_err(StoreError::from);
        }
        debug_assert_eq!(self.backend, Backend::Postgres);
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .execute(&mut *tx)
            .await?;
        let limit = i64::try_from(rows.max(1)).unwrap_or(i64::MAX);
        let mut after = 0i64;
        loop {
            let row = sqlx::query(
                "SELECT COALESCE(json_agg(json_build_array(name, type, ttl, content) ORDER BY id), '[]')::text AS rows, \
                 COUNT(*) AS n, MAX(id) AS last \
                 FROM (SELECT id, name, type, ttl, content FROM records WHERE zone_id = $1 AND id > $2 ORDER BY id LIMIT $3) AS part",
            )
            .bind(zone_id)
            .bind(after)
            .bind(limit)
            .fetch_one(&mut *tx)
            .await?;
            let count: i64 = row.try_get("n")?;
            if count > 0 {
                part(texts_from_json(&row.try_get::<String, _>("rows")?)?);
            }
            if count < limit {
                break;
            }
            after = row.try_get("last")?;
        }
        tx.rollback().await?;
        Ok(())
    }
}

/// Rows from a JSON array of `[name, type, ttl, content]`.
fn texts_from_json(json: &str) -> Result<RowTexts, StoreError> {
    let rows: Vec<JsonRow<'_>> = serde_json::from_str(json).map_err(|error| StoreError::Corrupt(error.to_string()))?;
    let mut texts = RowTexts::default();
    for JsonRow(owner, rtype, ttl, content) in &rows {
        texts.push(owner, rtype, *ttl, content);
    }
    Ok(texts)
}

/// Fields are borrowed from the JSON text unless escaped in it.
#[derive(serde::Deserialize)]
struct JsonRow<'a>(
    #[serde(borrow)] Cow<'a, str>,
    #[serde(borrow)] Cow<'a, str>,
    i64,
    #[serde(borrow)] Cow<'a, str>,
);
