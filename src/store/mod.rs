//! Persistent zones and records: SQLite by default, PostgreSQL for fleets.
//!
//! Both backends run the same SQL through sqlx's `Any` driver (positional
//! `$n` parameters, which SQLite also understands when numbered in order)
//! and their own migrations under `migrations/`. Every write is one
//! transaction and bumps the zone's `version`, which is how running servers
//! — this process or another one — notice that a zone must be rebuilt.

mod bulk;
mod health;
mod keys;
mod leadership;
mod metadata;
mod overview;
mod pool;
mod secondary;
mod tsig;
mod writer;
mod zones;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Connection as _};

pub use bulk::RowTexts;
pub use health::HealthCheckRow;
pub use keys::{DnssecSettings, NewKey, RollUpdate, StoredKey, StoredRoll};
pub use leadership::{Duty, Leadership};
pub use metadata::StoredComment;
pub use overview::{KeyState, LastChange};
pub use pool::{Allocation, AuditEntry};
pub use secondary::{Primaries, SecondaryZone};
pub use tsig::StoredTsigKey;
pub use writer::{JournalEntry, LockedZone, Writer, ZoneChangeRow, JOURNAL_KEPT};
pub use zones::{StoredRecord, ZoneSummary, ZoneVersion};

/// A handle on the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// Woken by every committed write of this process, and on PostgreSQL
    /// of every process sharing the database, so loaders need not wait for
    /// the next poll.
    written: Arc<tokio::sync::Notify>,
    /// The PostgreSQL URL, for the connection that listens for writes.
    listen_url: Option<Arc<str>>,
    /// On SQLite, the connections that read zones in bulk.
    sqlite_readers: Option<Arc<bulk::SqliteReaders>>,
}

/// The PostgreSQL channel every write transaction notifies on commit.
const WRITES_CHANNEL: &str = "pooldns_writes";

/// Wakes `written` for every notification on [`WRITES_CHANNEL`]; returns
/// why listening stopped.
async fn listen(url: &str, written: &tokio::sync::Notify) -> sqlx::Error {
    let mut listener = match sqlx::postgres::PgListener::connect(url).await {
        Ok(listener) => listener,
        Err(error) => return error,
    };
    if let Err(error) = listener.listen(WRITES_CHANNEL).await {
        return error;
    }
    // Writes made while no one listened were not heard: catch up on them.
    written.notify_one();
    loop {
        match listener.recv().await {
            Ok(_) => written.notify_one(),
            Err(error) => return error,
        }
    }
}

/// Which database the store runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store URL {url:?} is not supported: use sqlite://PATH or postgres://USER@HOST/DB")]
    UnsupportedUrl { url: String },
    #[error("cannot open the store at {url}: {source}")]
    Open { url: String, source: sqlx::Error },
    #[error("cannot create the directory {path} for the store: {source}")]
    CreateDirectory { path: String, source: std::io::Error },
    #[error("cannot restrict the permissions of {path}: {source}")]
    Permissions { path: String, source: std::io::Error },
    #[error("cannot migrate the store at {url}: {source}")]
    Migrate {
        url: String,
        source: sqlx::migrate::MigrateError,
    },
    #[error("zone {0} does not exist")]
    NoSuchZone(String),
    #[error("{0} is already allocated")]
    AllocationExists(String),
    #[error("TSIG key {0} already exists")]
    TsigKeyExists(String),
    #[error("TSIG key {0} does not exist")]
    NoSuchTsigKey(String),
    #[error("zone {0} is already secured")]
    AlreadySecured(String),
    #[error("zone {0} is not secured (run pooldns zone secure {0})")]
    NotSecured(String),
    #[error("a {role} roll of zone {zone} is already in progress (phase {phase}); wait for it to finish")]
    RollInProgress { zone: String, role: String, phase: String },
    #[error("zone {zone} has no active {role} to roll")]
    NothingToRoll { zone: String, role: String },
    #[error("zone {zone} has no key {id}")]
    NoSuchKey { zone: String, id: i64 },
    #[error("key {id} of zone {zone} cannot be removed: {reason}")]
    KeyInUse { zone: String, id: i64, reason: String },
    #[error("the rollover of zone {0} changed meanwhile; step not applied")]
    RollChanged(String),
    #[error("stored data cannot be read: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// What a failed store operation means to the client that asked for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The disk under the store is full (SQLITE_FULL, PostgreSQL 53100).
    Full,
    /// The database cannot be reached, or did not answer in time.
    Unavailable,
    /// Anything else: a fault to read in the server log.
    Other,
}

impl StoreError {
    /// Classifies the failure, so that clients can be told more than
    /// "internal error" for a full disk or a database that is away.
    pub fn failure(&self) -> Failure {
        match self {
            StoreError::Database(error) | StoreError::Open { source: error, .. } => match error {
                sqlx::Error::Database(database) => match database.code().as_deref() {
                    Some("13" | "53100") => Failure::Full,
                    Some(code) if code.starts_with("08") || code.starts_with("57P") => Failure::Unavailable,
                    _ => Failure::Other,
                },
                sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => Failure::Unavailable,
                _ => Failure::Other,
            },
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(error, _))
                if error.code == rusqlite::ErrorCode::DiskFull =>
            {
                Failure::Full
            }
            _ => Failure::Other,
        }
    }
}

impl Store {
    /// Opens (and creates and migrates, when needed) the store at `url`.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let shown = redact_url(url);
        let (backend, connect_url) = if let Some(path) = url.strip_prefix("sqlite://") {
            let (file, query) = path.split_once('?').unwrap_or((path, ""));
            prepare_sqlite_file(Path::new(file))?;
            let query = if query.is_empty() { "mode=rwc" } else { query };
            (Backend::Sqlite, format!("sqlite://{file}?{query}"))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Backend::Postgres, url.to_string())
        } else {
            return Err(StoreError::UnsupportedUrl { url: shown });
        };
        let open_error = |source| StoreError::Open {
            url: shown.clone(),
            source,
        };
        // A database that is down should be reported within seconds, not the
        // 30 s sqlx waits by default.
        let mut options = AnyPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(5))
            // A transaction the database ended itself (SQLite rolls back
            // on a full disk) leaves the driver counting one that its
            // ROLLBACK cannot end; such a connection is closed, not lent
            // out to fail every later write.
            .before_acquire(|connection, _| Box::pin(async move { Ok(!connection.is_in_transaction()) }));
        if backend == Backend::Sqlite {
            // One writer at a time is all SQLite allows; more connections
            // only add lock waits. Readers do not block it under WAL.
            options = options.max_connections(4);
        }
        let pool = options.connect(&connect_url).await.map_err(open_error)?;
        if backend == Backend::Sqlite {
            // WAL lets `pooldns zone import` write while `serve` reads.
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await
                .map_err(open_error)?;
        }
        let migrator = match backend {
            Backend::Sqlite => sqlx::migrate!("migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("migrations/postgres"),
        };
        migrator
            .run(&pool)
            .await
            .map_err(|source| StoreError::Migrate { url: shown, source })?;
        let mut sqlite_readers = None;
        if let Some(path) = url.strip_prefix("sqlite://") {
            // WAL and shared-memory files exist only now.
            let file = path.split_once('?').map_or(path, |(file, _)| file);
            for suffix in ["", "-wal", "-shm"] {
                restrict_file(Path::new(&format!("{file}{suffix}"))).map_err(|source| StoreError::Permissions {
                    path: format!("{file}{suffix}"),
                    source,
                })?;
            }
            sqlite_readers = Some(Arc::new(bulk::SqliteReaders::new(file.into())));
        }
        Ok(Store {
            sqlite_readers,
            pool,
            backend,
            written: Arc::new(tokio::sync::Notify::new()),
            listen_url: (backend == Backend::Postgres).then(|| Arc::from(url)),
        })
    }

    /// On PostgreSQL, listens for the writes of every process sharing the
    /// database (LISTEN/NOTIFY) until `shutdown`, waking [`Store::written`]
    /// for each; reconnects after a failure, and wakes it on every
    /// (re)connection to catch up on what no one heard meanwhile. Does
    /// nothing on SQLite.
    pub async fn listen_for_writes(&self, shutdown: Arc<std::sync::atomic::AtomicBool>) {
        let Some(url) = &self.listen_url else {
            return;
        };
        let mut failing = false;
        while !shutdown.load(std::sync::atomic::Ordering::Relaxed) {
            let error = tokio::select! {
                error = listen(url, &self.written) => error,
                () = async {
                    while !shutdown.load(std::sync::atomic::Ordering::Relaxed) {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                } => return,
            };
            if !failing {
                tracing::warn!(%error, "not listening for other servers' writes; polling only");
            }
            failing = true;
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// The database in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// A connection of its own, for session state such as advisory locks.
    pub async fn connection(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, StoreError> {
        Ok(self.pool.acquire().await?)
    }

    /// Resolves after a write of this process commits (or at once, if one
    /// committed since the last call).
    pub async fn written(&self) {
        self.written.notified().await;
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Marks a zone and every stored ancestor zone changed. A parent's DS
/// records derive from its children's keys, so a change to a child's keys
/// is a change to the parent.
async fn bump_zone_and_parents(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    zone_id: i64,
    name: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE zones SET version = version + 1, updated_at = $1 WHERE id = $2")
        .bind(now)
        .bind(zone_id)
        .execute(&mut **tx)
        .await?;
    bump_parents(tx, name, now).await
}

/// Marks every stored zone above `name` changed.
async fn bump_parents(tx: &mut sqlx::Transaction<'_, sqlx::Any>, name: &str, now: i64) -> Result<(), StoreError> {
    let mut rest = name;
    while let Some((_, parent)) = rest.split_once('.') {
        if parent.is_empty() {
            break;
        }
        sqlx::query("UPDATE zones SET version = version + 1, updated_at = $1 WHERE name = $2")
            .bind(now)
            .bind(parent)
            .execute(&mut **tx)
            .await?;
        rest = parent;
    }
    Ok(())
}

fn unix_time() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64)
}

/// The store holds private keys: its directory, when created here, is
/// the owner's alone (0700), and so is the database file (0600). SQLite
/// gives its WAL and shared-memory files the database file's mode.
fn prepare_sqlite_file(file: &Path) -> Result<(), StoreError> {
    if let Some(dir) = file.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        if !dir.exists() {
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder.create(dir).map_err(|source| StoreError::CreateDirectory {
                path: dir.display().to_string(),
                source,
            })?;
        }
    }
    if !file.exists() {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(file) {
            Ok(_) => {}
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(source) => {
                return Err(StoreError::Open {
                    url: format!("sqlite://{}", file.display()),
                    source: sqlx::Error::Io(source),
                })
            }
        }
    }
    restrict_file(file).map_err(|source| StoreError::Permissions {
        path: file.display().to_string(),
        source,
    })
}

/// Takes group and other permissions off `file`, if it exists.
fn restrict_file(file: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let metadata = match std::fs::metadata(file) {
            Ok(metadata) => metadata,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(error) => return Err(error),
        };
        let mode = metadata.permissions().mode();
        if metadata.is_file() && mode & 0o077 != 0 {
            std::fs::set_permissions(file, std::fs::Permissions::from_mode(mode & 0o700))?;
        }
    }
    Ok(())
}

/// The URL without its passwords (user information and `password=`
/// parameters), for messages and logs.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (before_query, query) = rest.split_once('?').map_or((rest, None), |(a, q)| (a, Some(q)));
    let (authority, path) = before_query
        .split_once('/')
        .map_or((before_query, None), |(a, p)| (a, Some(p)));
    let mut out = format!("{scheme}://");
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => out.push_str(&format!("{user}:***@{host}")),
            None => out.push_str(&format!("{userinfo}@{host}")),
        },
        None => out.push_str(authority),
    }
    if let Some(path) = path {
        out.push('/');
        out.push_str(path);
    }
    if let Some(query) = query {
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if key.to_ascii_lowercase().contains("password") => format!("{key}=***"),
                _ => pair.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&pairs.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact_url("postgres://u:secret@db:5432/x"),
            "postgres://u:***@db:5432/x"
        );
        assert_eq!(redact_url("postgres://u@db/x"), "postgres://u@db/x");
        assert_eq!(redact_url("sqlite://data/pooldns.db"), "sqlite://data/pooldns.db");
        assert_eq!(
            redact_url("postgres://u@db/x?sslmode=require&password=secret"),
            "postgres://u@db/x?sslmode=require&password=***"
        );
        assert_eq!(
            redact_url("postgres://db?Password=secret&sslpassword=p2"),
            "postgres://db?Password=***&sslpassword=***"
        );
    }
}
