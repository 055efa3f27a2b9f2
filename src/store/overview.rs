//! What the operator page shows of the store, each in one query over all
//! zones: the keys' states (never their private halves) and every zone's
//! latest change.

use sqlx::Row;

use super::{Store, StoreError};

/// A zone's DNSSEC key, as much as an operator needs to see of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyState {
    pub zone: String,
    pub id: i64,
    pub role: String,
    pub algorithm: i64,
    /// DNSKEY RDATA, base64.
    pub dnskey: String,
    pub published: bool,
    pub active: bool,
    pub ds: bool,
    pub created_at: i64,
}

impl KeyState {
    /// The DNSKEY RDATA, decoded from its stored base64.
    pub fn dnskey_rdata(&self) -> Result<Vec<u8>, StoreError> {
        super::keys::decode_dnskey(self.id, &self.dnskey)
    }
}

/// The latest journal entry of a zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LastChange {
    pub zone: String,
    /// `create`, `update` or `delete`.
    pub kind: String,
    pub serial: Option<u32>,
    pub author: String,
    pub at: i64,
}

impl Store {
    /// Every zone's keys, by zone name then key id.
    pub async fn key_states(&self) -> Result<Vec<KeyState>, StoreError> {
        let rows = sqlx::query(
            "SELECT z.name, k.id, k.role, k.algorithm, k.dnskey, k.published, k.active, k.ds, k.created_at \
             FROM dnssec_keys k JOIN zones z ON z.id = k.zone_id ORDER BY z.name, k.id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(KeyState {
                    zone: row.try_get("name")?,
                    id: row.try_get("id")?,
                    role: row.try_get("role")?,
                    algorithm: row.try_get("algorithm")?,
                    dnskey: row.try_get("dnskey")?,
                    published: row.try_get::<i64, _>("published")? != 0,
                    active: row.try_get::<i64, _>("active")? != 0,
                    ds: row.try_get::<i64, _>("ds")? != 0,
                    created_at: row.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// The latest journal entry of every zone that has one, by zone name.
    pub async fn last_changes(&self) -> Result<Vec<LastChange>, StoreError> {
        let rows = sqlx::query(
            "SELECT c.zone, c.kind, c.new_serial, c.author, c.created_at FROM zone_changes c \
             JOIN (SELECT MAX(id) AS id FROM zone_changes GROUP BY zone) latest ON latest.id = c.id \
             ORDER BY c.zone",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(LastChange {
                    zone: row.try_get("zone")?,
                    kind: row.try_get("kind")?,
                    serial: row.try_get::<Option<i64>, _>("new_serial")?.map(|serial| serial as u32),
                    author: row.try_get("author")?,
                    at: row.try_get("created_at")?,
                })
            })
            .collect()
    }
}
