//! What the PowerDNS API keeps beside a zone's records: zone metadata and
//! RRset comments. Neither is served; both go with the zone.

use std::collections::HashMap;

use sqlx::Row;

use super::writer::{LockedZone, Writer};
use super::{Store, StoreError, StoredRecord};

/// One comment on an RRset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredComment {
    /// Absolute, lowercase owner name.
    pub name: String,
    /// Uppercase type mnemonic.
    pub rtype: String,
    pub content: String,
    pub account: String,
    pub modified_at: i64,
}

impl Store {
    /// The metadata of zone `name`: each kind with its values in order,
    /// kinds sorted.
    pub async fn zone_metadata(&self, name: &str) -> Result<Vec<(String, Vec<String>)>, StoreError> {
        let rows = sqlx::query(
            "SELECT m.kind, m.value FROM zone_metadata m JOIN zones z ON z.id = m.zone_id \
             WHERE z.name = $1 ORDER BY m.kind, m.position",
        )
        .bind(name)
        .fetch_all(&self.pool)
        .await?;
        let mut kinds = Vec::new();
        for row in &rows {
            push_value(&mut kinds, row.try_get("kind")?, row.try_get("value")?);
        }
        Ok(kinds)
    }

    /// The metadata of every zone, by zone name.
    pub async fn all_zone_metadata(&self) -> Result<HashMap<String, Vec<(String, Vec<String>)>>, StoreError> {
        let rows = sqlx::query(
            "SELECT z.name, m.kind, m.value FROM zone_metadata m JOIN zones z ON z.id = m.zone_id \
             ORDER BY z.name, m.kind, m.position",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut zones: HashMap<String, Vec<(String, Vec<String>)>> = HashMap::new();
        for row in &rows {
            let kinds = zones.entry(row.try_get("name")?).or_default();
            push_value(kinds, row.try_get("kind")?, row.try_get("value")?);
        }
        Ok(zones)
    }

    /// Up to `limit` records of zone `name` whose owner or content matches
    /// the SQL LIKE `pattern` (lowercase, escaped with backslashes), by owner and type.
    pub async fn search_records(&self, name: &str, pattern: &str, limit: i64) -> Result<Vec<StoredRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT r.name, r.type, r.ttl, r.content FROM records r JOIN zones z ON z.id = r.zone_id \
             WHERE z.name = $1 AND (LOWER(r.name) LIKE $2 ESCAPE '\\' OR LOWER(r.content) LIKE $2 ESCAPE '\\') \
             ORDER BY r.name, r.type, r.id LIMIT $3",
        )
        .bind(name)
        .bind(pattern)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(StoredRecord {
                    name: row.try_get("name")?,
                    rtype: row.try_get("type")?,
                    ttl: row.try_get("ttl")?,
                    content: row.try_get("content")?,
                })
            })
            .collect()
    }

    /// The comments of zone `name`, by owner, type and position.
    pub async fn zone_comments(&self, name: &str) -> Result<Vec<StoredComment>, StoreError> {
        let rows = sqlx::query(
            "SELECT c.name, c.rtype, c.content, c.account, c.modified_at FROM rrset_comments c \
             JOIN zones z ON z.id = c.zone_id WHERE z.name = $1 ORDER BY c.name, c.rtype, c.position",
        )
        .bind(name)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(StoredComment {
                    name: row.try_get("name")?,
                    rtype: row.try_get("rtype")?,
                    content: row.try_get("content")?,
                    account: row.try_get("account")?,
                    modified_at: row.try_get("modified_at")?,
                })
            })
            .collect()
    }
}

/// Adds a value to its kind in `kinds` (rows come sorted by kind).
fn push_value(kinds: &mut Vec<(String, Vec<String>)>, kind: String, value: String) {
    match kinds.last_mut() {
        Some((last, values)) if *last == kind => values.push(value),
        _ => kinds.push((kind, vec![value])),
    }
}

impl Writer {
    /// Sets how the zone's serial moves on each change.
    pub async fn set_serial_policy(&mut self, zone: &LockedZone, policy: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE zones SET serial_policy = $1 WHERE id = $2")
            .bind(policy)
            .bind(zone.id)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Replaces the values of metadata `kind` of `zone`; none removes it.
    pub async fn set_metadata(&mut self, zone: &LockedZone, kind: &str, values: &[String]) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM zone_metadata WHERE zone_id = $1 AND kind = $2")
            .bind(zone.id)
            .bind(kind)
            .execute(&mut *self.tx)
            .await?;
        for (position, value) in values.iter().enumerate() {
            sqlx::query("INSERT INTO zone_metadata (zone_id, kind, position, value) VALUES ($1, $2, $3, $4)")
                .bind(zone.id)
                .bind(kind)
                .bind(position as i64)
                .bind(value)
                .execute(&mut *self.tx)
                .await?;
        }
        Ok(())
    }

    /// Replaces the comments of one RRset of `zone`; none removes them.
    pub async fn set_comments(
        &mut self,
        zone: &LockedZone,
        name: &str,
        rtype: &str,
        comments: &[StoredComment],
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM rrset_comments WHERE zone_id = $1 AND name = $2 AND rtype = $3")
            .bind(zone.id)
            .bind(name)
            .bind(rtype)
            .execute(&mut *self.tx)
            .await?;
        for (position, comment) in comments.iter().enumerate() {
            sqlx::query(
                "INSERT INTO rrset_comments (zone_id, name, rtype, position, content, account, modified_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(zone.id)
            .bind(name)
            .bind(rtype)
            .bind(position as i64)
            .bind(&comment.content)
            .bind(&comment.account)
            .bind(comment.modified_at)
            .execute(&mut *self.tx)
            .await?;
        }
        Ok(())
    }
}
