//! Pool allocations and the audit trail of the API.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::writer::Writer;
use super::{Backend, Store, StoreError};

/// One `<subdomain>.<pool_domain>` allocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allocation {
    pub pool_domain: String,
    pub subdomain: String,
    /// `reserved`, `active` or `releasing`.
    pub state: String,
    pub reserved_at: i64,
    pub expires_at: Option<i64>,
    pub committed_at: Option<i64>,
    /// Hex SHA-256 of the reservation token.
    pub token_hash: String,
    pub created_by: String,
    pub sovereign_fqdn: Option<String>,
    pub load_balancer_ip: Option<String>,
    /// JSON array of regions, when committed with them.
    pub regions: Option<String>,
    /// Registrar-delegated pools: whether the registrar is in step.
    pub delegated: bool,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub updated_at: i64,
}

/// One audited API request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: i64,
    pub at: i64,
    pub key_name: String,
    pub route: String,
    pub subject: String,
    pub status: i64,
    pub outcome: String,
}

const COLUMNS: &str = "pool_domain, subdomain, state, reserved_at, expires_at, committed_at, token_hash, created_by, \
     sovereign_fqdn, load_balancer_ip, regions, delegated, attempts, next_attempt_at, last_error, updated_at";

impl Store {
    /// The allocations of `pool_domain`, by subdomain.
    pub async fn allocations(&self, pool_domain: &str) -> Result<Vec<Allocation>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM pool_allocations WHERE pool_domain = $1 ORDER BY subdomain"
        ))
        .bind(pool_domain)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(allocation).collect()
    }

    /// One allocation, if it exists.
    pub async fn allocation(&self, pool_domain: &str, subdomain: &str) -> Result<Option<Allocation>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM pool_allocations WHERE pool_domain = $1 AND subdomain = $2"
        ))
        .bind(pool_domain)
        .bind(subdomain)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(allocation).transpose()
    }

    /// Records one API request in the audit log.
    pub async fn audit(
        &self,
        key_name: &str,
        route: &str,
        subject: &str,
        status: u16,
        outcome: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit_log (at, key_name, route, subject, status, outcome) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(super::unix_time())
        .bind(key_name)
        .bind(route)
        .bind(subject)
        .bind(i64::from(status))
        .bind(outcome)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The latest `limit` audit entries, newest first.
    pub async fn audit_entries(&self, limit: i64) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, at, key_name, route, subject, status, outcome FROM audit_log ORDER BY id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(AuditEntry {
                    id: row.try_get("id")?,
                    at: row.try_get("at")?,
                    key_name: row.try_get("key_name")?,
                    route: row.try_get("route")?,
                    subject: row.try_get("subject")?,
                    status: row.try_get("status")?,
                    outcome: row.try_get("outcome")?,
                })
            })
            .collect()
    }
}

impl Writer {
    /// The allocation, locked until commit.
    pub async fn allocation(&mut self, pool_domain: &str, subdomain: &str) -> Result<Option<Allocation>, StoreError> {
        let lock = match self.backend() {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE",
        };
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM pool_allocations WHERE pool_domain = $1 AND subdomain = $2{lock}"
        ))
        .bind(pool_domain)
        .bind(subdomain)
        .fetch_optional(&mut *self.tx)
        .await?;
        row.as_ref().map(allocation).transpose()
    }

    /// Inserts a new allocation, or fails with [`StoreError::AllocationExists`]
    /// when another transaction got there first.
    pub async fn insert_allocation(&mut self, allocation: &Allocation) -> Result<(), StoreError> {
        let result = bind_all(
            sqlx::query(
                "INSERT INTO pool_allocations (pool_domain, subdomain, state, reserved_at, expires_at, committed_at, \
                 token_hash, created_by, sovereign_fqdn, load_balancer_ip, regions, delegated, attempts, \
                 next_attempt_at, last_error, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
            ),
            allocation,
        )
        .execute(&mut *self.tx)
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(error)) if error.is_unique_violation() => Err(StoreError::AllocationExists(
                format!("{}.{}", allocation.subdomain, allocation.pool_domain),
            )),
            Err(error) => Err(error.into()),
        }
    }

    /// Writes every field of an existing allocation.
    pub async fn update_allocation(&mut self, allocation: &Allocation) -> Result<(), StoreError> {
        bind_all(
            sqlx::query(
                "UPDATE pool_allocations SET state = $3, reserved_at = $4, expires_at = $5, committed_at = $6, \
                 token_hash = $7, created_by = $8, sovereign_fqdn = $9, load_balancer_ip = $10, regions = $11, \
                 delegated = $12, attempts = $13, next_attempt_at = $14, last_error = $15, updated_at = $16 \
                 WHERE pool_domain = $1 AND subdomain = $2",
            ),
            allocation,
        )
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Deletes the allocation.
    pub async fn delete_allocation(&mut self, pool_domain: &str, subdomain: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM pool_allocations WHERE pool_domain = $1 AND subdomain = $2")
            .bind(pool_domain)
            .bind(subdomain)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }
}

fn bind_all<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    allocation: &'q Allocation,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    query
        .bind(allocation.pool_domain.as_str())
        .bind(allocation.subdomain.as_str())
        .bind(allocation.state.as_str())
        .bind(allocation.reserved_at)
        .bind(allocation.expires_at)
        .bind(allocation.committed_at)
        .bind(allocation.token_hash.as_str())
        .bind(allocation.created_by.as_str())
        .bind(allocation.sovereign_fqdn.as_deref())
        .bind(allocation.load_balancer_ip.as_deref())
        .bind(allocation.regions.as_deref())
        .bind(i64::from(allocation.delegated))
        .bind(allocation.attempts)
        .bind(allocation.next_attempt_at)
        .bind(allocation.last_error.as_deref())
        .bind(allocation.updated_at)
}

fn allocation(row: &AnyRow) -> Result<Allocation, StoreError> {
    Ok(Allocation {
        pool_domain: row.try_get("pool_domain")?,
        subdomain: row.try_get("subdomain")?,
        state: row.try_get("state")?,
        reserved_at: row.try_get("reserved_at")?,
        expires_at: row.try_get("expires_at")?,
        committed_at: row.try_get("committed_at")?,
        token_hash: row.try_get("token_hash")?,
        created_by: row.try_get("created_by")?,
        sovereign_fqdn: row.try_get("sovereign_fqdn")?,
        load_balancer_ip: row.try_get("load_balancer_ip")?,
        regions: row.try_get("regions")?,
        delegated: row.try_get::<i64, _>("delegated")? != 0,
        attempts: row.try_get("attempts")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        last_error: row.try_get("last_error")?,
        updated_at: row.try_get("updated_at")?,
    })
}
