//! Secondary zones: where their content comes from, and the state of the
//! transfers that keep it (see `crate::secondary`).

use sqlx::Row;

use super::{LockedZone, Store, StoreError, StoredRecord, Writer};

/// A secondary zone as the transfer scheduler sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecondaryZone {
    pub id: i64,
    /// Absolute, lowercase.
    pub name: String,
    /// "address:port" of each primary, tried in order.
    pub primaries: Vec<String>,
    /// The TSIG key that signs transfers; `None`: unsigned.
    pub tsig_key: Option<String>,
    /// The catalog zone it was learned from; `None`: configured by hand.
    pub learned_from: Option<String>,
    pub expired: bool,
    /// How many primaries' NOTIFY arrived that no finished check took in.
    pub notifications: i64,
}

/// Where a secondary zone's content comes from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Primaries {
    /// "address:port" of each primary; empty for a primary zone.
    pub addresses: Vec<String>,
    pub tsig_key: Option<String>,
    pub learned_from: Option<String>,
}

impl Store {
    /// Every secondary zone, by name.
    pub async fn secondary_zones(&self) -> Result<Vec<SecondaryZone>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, primaries, primary_tsig, learned_from, expired, notified \
             FROM zones WHERE primaries <> '' ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let text = |column: &str| -> Result<Option<String>, StoreError> {
                    let value: String = row.try_get(column)?;
                    Ok(Some(value).filter(|value| !value.is_empty()))
                };
                Ok(SecondaryZone {
                    id: row.try_get("id")?,
                    name: row.try_get("name")?,
                    primaries: split_primaries(&row.try_get::<String, _>("primaries")?),
                    tsig_key: text("primary_tsig")?,
                    learned_from: text("learned_from")?,
                    expired: row.try_get::<i64, _>("expired")? != 0,
                    notifications: row.try_get("notified")?,
                })
            })
            .collect()
    }

    /// The SOA record of the zone with row id `id`; `None` before a
    /// secondary zone's first transfer.
    pub async fn zone_soa(&self, id: i64) -> Result<Option<StoredRecord>, StoreError> {
        let row =
            sqlx::query("SELECT name, type, ttl, content FROM records WHERE zone_id = $1 AND type = 'SOA' LIMIT 1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        row.map(|row| {
            Ok(StoredRecord {
                name: row.try_get("name")?,
                rtype: row.try_get("type")?,
                ttl: row.try_get("ttl")?,
                content: row.try_get("content")?,
            })
        })
        .transpose()
    }

    /// Where the zone called `name` comes from; `None` when it does not
    /// exist, empty addresses for a primary zone.
    pub async fn zone_primaries(&self, name: &str) -> Result<Option<Primaries>, StoreError> {
        let row = sqlx::query("SELECT primaries, primary_tsig, learned_from FROM zones WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            let text = |column: &str| -> Result<Option<String>, StoreError> {
                let value: String = row.try_get(column)?;
                Ok(Some(value).filter(|value| !value.is_empty()))
            };
            Ok(Primaries {
                addresses: split_primaries(&row.try_get::<String, _>("primaries")?),
                tsig_key: text("primary_tsig")?,
                learned_from: text("learned_from")?,
            })
        })
        .transpose()
    }

    /// Records that a primary's NOTIFY for the secondary zone `name`
    /// arrived, for whichever server of the fleet checks the zone.
    pub async fn mark_notified(&self, name: &str) -> Result<(), StoreError> {
        let mut writer = self.writer().await?;
        sqlx::query("UPDATE zones SET notified = notified + 1 WHERE name = $1 AND primaries <> ''")
            .bind(name)
            .execute(&mut *writer.tx)
            .await?;
        writer.commit().await
    }

    /// Records a check of a secondary zone that found it current: not
    /// expired (rebuilt if it was).
    pub async fn set_current(&self, id: i64) -> Result<(), StoreError> {
        self.update_zone(
            id,
            "version = version + CASE WHEN expired <> 0 THEN 1 ELSE 0 END, expired = 0",
        )
        .await
    }

    /// Records that no primary of a secondary zone answered for its SOA
    /// expire interval: it is rebuilt as expired.
    pub async fn set_expired(&self, id: i64) -> Result<(), StoreError> {
        self.update_zone(
            id,
            "version = version + CASE WHEN expired = 0 THEN 1 ELSE 0 END, expired = 1",
        )
        .await
    }

    /// Takes `count` NOTIFY of a secondary zone as heard by a finished
    /// check; those that arrived during it still wait for the next.
    pub async fn take_notifications(&self, id: i64, count: i64) -> Result<(), StoreError> {
        if count == 0 {
            return Ok(());
        }
        let mut writer = self.writer().await?;
        sqlx::query("UPDATE zones SET notified = CASE WHEN notified > $1 THEN notified - $1 ELSE 0 END WHERE id = $2")
            .bind(count)
            .bind(id)
            .execute(&mut *writer.tx)
            .await?;
        writer.commit().await
    }

    async fn update_zone(&self, id: i64, assignments: &str) -> Result<(), StoreError> {
        let mut writer = self.writer().await?;
        sqlx::query(&format!("UPDATE zones SET {assignments} WHERE id = $1"))
            .bind(id)
            .execute(&mut *writer.tx)
            .await?;
        writer.commit().await
    }
}

impl Writer {
    /// Sets where the zone's content comes from.
    pub async fn set_primaries(&mut self, zone: &LockedZone, primaries: &Primaries) -> Result<(), StoreError> {
        sqlx::query("UPDATE zones SET primaries = $1, primary_tsig = $2, learned_from = $3 WHERE id = $4")
            .bind(primaries.addresses.join(" "))
            .bind(primaries.tsig_key.clone().unwrap_or_default())
            .bind(primaries.learned_from.clone().unwrap_or_default())
            .bind(zone.id)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Marks a secondary zone current: not expired (rebuilt if it was).
    pub async fn set_refreshed(&mut self, zone: &LockedZone) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE zones SET version = version + CASE WHEN expired <> 0 THEN 1 ELSE 0 END, \
             expired = 0 WHERE id = $1",
        )
        .bind(zone.id)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }
}

fn split_primaries(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_string).collect()
}
