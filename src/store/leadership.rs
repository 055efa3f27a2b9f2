//! Work that must run on one node at a time: with PostgreSQL, the node
//! that holds a session advisory lock on a connection of its own does it.
//! When that node dies its connection closes, the lock is freed, and
//! another node takes over on its next try. With SQLite there is one node.

use sqlx::Row;

use super::{Backend, Store};

/// A kind of work done by one node at a time.
#[derive(Clone, Copy, Debug)]
pub enum Duty {
    /// The pool reconciler.
    Reconciler,
    /// Key rollover steps.
    Rollover,
    /// NOTIFY to secondaries.
    Notify,
    /// Zone transfers into secondary zones.
    Transfers,
    /// New serials for zones whose LUA answers changed with health.
    Reannounce,
}

impl Duty {
    /// The duty in words, for logs.
    fn what(self) -> &'static str {
        match self {
            Duty::Reconciler => "the pool reconciler",
            Duty::Rollover => "key rollover steps",
            Duty::Notify => "NOTIFY to secondaries",
            Duty::Transfers => "zone transfers into secondary zones",
            Duty::Reannounce => "new serials for changed LUA answers",
        }
    }

    /// The advisory lock key ("pooldns" in ASCII, truncated, then on).
    fn lock_key(self) -> i64 {
        0x706f_6f6c_646e
            + match self {
                Duty::Reconciler => 0,
                Duty::Rollover => 1,
                Duty::Notify => 2,
                Duty::Transfers => 3,
                Duty::Reannounce => 4,
            }
    }
}

/// Whether this node does one [`Duty`].
pub struct Leadership {
    store: Store,
    duty: Duty,
    /// The connection holding the PostgreSQL advisory lock.
    held: Option<sqlx::pool::PoolConnection<sqlx::Any>>,
}

impl Leadership {
    pub fn new(store: Store, duty: Duty) -> Leadership {
        Leadership {
            store,
            duty,
            held: None,
        }
    }

    /// True when this node may do the duty now: always with SQLite (one
    /// node), with PostgreSQL while it holds the lock.
    pub async fn hold(&mut self) -> bool {
        if self.store.backend() == Backend::Sqlite {
            return true;
        }
        if let Some(connection) = self.held.as_mut() {
            // A lost connection has lost the lock with it.
            if sqlx::query("SELECT 1").execute(&mut **connection).await.is_ok() {
                return true;
            }
            self.held = None;
        }
        let Ok(mut connection) = self.store.connection().await else {
            return false;
        };
        let locked = sqlx::query("SELECT pg_try_advisory_lock($1) AS locked")
            .bind(self.duty.lock_key())
            .fetch_one(&mut *connection)
            .await
            .and_then(|row| row.try_get::<bool, _>("locked"));
        match locked {
            Ok(true) => {
                tracing::info!("this node now runs {}", self.duty.what());
                self.held = Some(connection);
                true
            }
            _ => false,
        }
    }
}
