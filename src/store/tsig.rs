//! TSIG keys kept in the store (`pooldns tsig add|list|remove`).

use sqlx::Row;

use super::{unix_time, Store, StoreError};

/// A stored TSIG key; `secret` as stored (plain or sealed).
#[derive(Clone, PartialEq, Eq)]
pub struct StoredTsigKey {
    pub name: String,
    pub algorithm: String,
    pub secret: String,
    pub created_at: i64,
}

impl std::fmt::Debug for StoredTsigKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredTsigKey")
            .field("name", &self.name)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Every stored TSIG key, by name.
    pub async fn tsig_keys(&self) -> Result<Vec<StoredTsigKey>, StoreError> {
        let rows = sqlx::query("SELECT name, algorithm, secret, created_at FROM tsig_keys ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(stored).collect()
    }

    /// The stored TSIG key called `name` (absolute, lowercase).
    pub async fn tsig_key(&self, name: &str) -> Result<Option<StoredTsigKey>, StoreError> {
        let row = sqlx::query("SELECT name, algorithm, secret, created_at FROM tsig_keys WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(stored).transpose()
    }

    /// Stores a new TSIG key; an existing name is an error.
    pub async fn add_tsig_key(&self, name: &str, algorithm: &str, secret: &str) -> Result<(), StoreError> {
        let result = sqlx::query("INSERT INTO tsig_keys (name, algorithm, secret, created_at) VALUES ($1, $2, $3, $4)")
            .bind(name)
            .bind(algorithm)
            .bind(secret)
            .bind(unix_time())
            .execute(&self.pool)
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(error)) if error.is_unique_violation() => {
                Err(StoreError::TsigKeyExists(name.to_string()))
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Deletes a stored TSIG key.
    pub async fn remove_tsig_key(&self, name: &str) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM tsig_keys WHERE name = $1")
            .bind(name)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NoSuchTsigKey(name.to_string()));
        }
        Ok(())
    }
}

fn stored(row: &sqlx::any::AnyRow) -> Result<StoredTsigKey, StoreError> {
    Ok(StoredTsigKey {
        name: row.try_get("name")?,
        algorithm: row.try_get("algorithm")?,
        secret: row.try_get("secret")?,
        created_at: row.try_get("created_at")?,
    })
}
