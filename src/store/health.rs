//! The last known state of health checks, so a restart resumes it.

use sqlx::Row;

use super::{Store, StoreError};

/// The last known state of one health check (`health_checks` table).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthCheckRow {
    /// Hex SHA-256 of the check's canonical spec.
    pub key: String,
    /// The check's target, for people reading the table.
    pub target: String,
    /// "up" or "down".
    pub status: String,
    pub consecutive_failures: i64,
    pub consecutive_successes: i64,
    /// Unix time the last probe started.
    pub last_probe_at: Option<i64>,
    /// Duration of the last probe, microseconds.
    pub latency_us: Option<i64>,
    pub last_error: Option<String>,
    pub weight: Option<i64>,
    /// Unix time the state was taken.
    pub updated_at: i64,
}

impl Store {
    /// Every stored health check state.
    pub async fn health_checks(&self) -> Result<Vec<HealthCheckRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT check_key, target, status, consecutive_failures, consecutive_successes, last_probe_at, \
             latency_us, last_error, weight, updated_at FROM health_checks ORDER BY check_key",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(HealthCheckRow {
                    key: row.try_get("check_key")?,
                    target: row.try_get("target")?,
                    status: row.try_get("status")?,
                    consecutive_failures: row.try_get("consecutive_failures")?,
                    consecutive_successes: row.try_get("consecutive_successes")?,
                    last_probe_at: row.try_get("last_probe_at")?,
                    latency_us: row.try_get("latency_us")?,
                    last_error: row.try_get("last_error")?,
                    weight: row.try_get("weight")?,
                    updated_at: row.try_get("updated_at")?,
                })
            })
            .collect()
    }

    /// Writes health check states in one transaction, replacing the
    /// stored state of each key.
    pub async fn save_health_checks(&self, rows: &[HealthCheckRow]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for row in rows {
            sqlx::query(
                "INSERT INTO health_checks (check_key, target, status, consecutive_failures, consecutive_successes, \
                 last_probe_at, latency_us, last_error, weight, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                 ON CONFLICT (check_key) DO UPDATE SET target = excluded.target, status = excluded.status, \
                 consecutive_failures = excluded.consecutive_failures, \
                 consecutive_successes = excluded.consecutive_successes, last_probe_at = excluded.last_probe_at, \
                 latency_us = excluded.latency_us, last_error = excluded.last_error, weight = excluded.weight, \
                 updated_at = excluded.updated_at",
            )
            .bind(row.key.as_str())
            .bind(row.target.as_str())
            .bind(row.status.as_str())
            .bind(row.consecutive_failures)
            .bind(row.consecutive_successes)
            .bind(row.last_probe_at)
            .bind(row.latency_us)
            .bind(row.last_error.as_deref())
            .bind(row.weight)
            .bind(row.updated_at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Deletes the health check states written before `updated_before`
    /// (Unix time); returns how many.
    pub async fn prune_health_checks(&self, updated_before: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM health_checks WHERE updated_at < $1")
            .bind(updated_before)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
