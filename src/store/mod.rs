//! Persistent zones and records: SQLite by default, PostgreSQL for fleets.
//!
//! Both backends run the same SQL through sqlx's `Any` driver (positional
//! `$n` parameters, which SQLite also understands when numbered in order)
//! and their own migrations under `migrations/`. Every write is one
//! transaction and bumps the zone's `version`, which is how running servers
//! — this process or another one — notice that a zone must be rebuilt.

use std::path::Path;
use std::time::Duration;
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

/// Records inserted per statement.
const INSERT_BATCH: usize = 10_000;

/// A handle on the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
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
    #[error("cannot migrate the store at {url}: {source}")]
    Migrate {
        url: String,
        source: sqlx::migrate::MigrateError,
    },
    #[error("zone {0} already exists (use --replace to overwrite it)")]
    ZoneExists(String),
    #[error("zone {0} does not exist")]
    NoSuchZone(String),
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
}

/// A zone row: identity and change counter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZoneVersion {
    pub id: i64,
    pub name: String,
    pub version: i64,
}

/// A record row, all fields in presentation format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRecord {
    pub name: String,
    pub rtype: String,
    pub ttl: i64,
    pub content: String,
}

/// How a zone is secured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnssecSettings {
    /// "nsec" or "nsec3".
    pub denial: String,
    pub nsec3_opt_out: bool,
}

/// A key row. `private_key` is never logged or printed.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredKey {
    pub id: i64,
    pub role: String,
    pub algorithm: i64,
    /// DNSKEY RDATA, base64.
    pub dnskey: String,
    /// "plain:<base64 PKCS#8>" or "v1:..." (sealed).
    pub private_key: String,
    pub published: bool,
    pub active: bool,
    /// Whether the parent's DS set should point at this key.
    pub ds: bool,
    pub created_at: i64,
}

/// A key rollover in progress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRoll {
    pub zone_id: i64,
    pub zone: String,
    pub role: String,
    pub old_key_id: i64,
    pub new_key_id: i64,
    pub phase: String,
    pub next_at: i64,
    pub ds_seen_at: Option<i64>,
    pub started_at: i64,
}

/// One step of a rollover, written in one transaction.
pub struct RollUpdate {
    /// Flags to set: (key id, published, active, ds).
    pub keys: Vec<(i64, bool, bool, bool)>,
    /// Keys to delete.
    pub delete: Vec<i64>,
    /// The next phase and when it may end; `None` ends the roll.
    pub next: Option<(String, i64)>,
    /// When the parent was first seen with the new DS.
    pub ds_seen_at: Option<i64>,
}

impl StoredKey {
    /// The DNSKEY RDATA, decoded from its stored base64.
    pub fn dnskey_rdata(&self) -> Result<Vec<u8>, StoreError> {
        data_encoding::BASE64
            .decode(self.dnskey.as_bytes())
            .map_err(|error| StoreError::Corrupt(format!("DNSKEY of key {} is not base64: {error}", self.id)))
    }
}

impl std::fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredKey")
            .field("id", &self.id)
            .field("role", &self.role)
            .field("algorithm", &self.algorithm)
            .field("published", &self.published)
            .field("active", &self.active)
            .field("ds", &self.ds)
            .finish_non_exhaustive()
    }
}

/// A key to store with [`Store::secure_zone`].
pub struct NewKey {
    pub role: String,
    pub algorithm: i64,
    pub dnskey: String,
    pub private_key: String,
    pub published: bool,
    pub active: bool,
    pub ds: bool,
}

/// How a zone write treats an existing zone of the same name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteMode {
    /// Fail with [`StoreError::ZoneExists`].
    CreateOnly,
    /// Replace all of its records.
    Replace,
}

impl Store {
    /// Opens (and creates and migrates, when needed) the store at `url`.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let shown = redact_url(url);
        let (backend, connect_url) = if let Some(path) = url.strip_prefix("sqlite://") {
            let (file, query) = path.split_once('?').unwrap_or((path, ""));
            if let Some(dir) = Path::new(file).parent().filter(|dir| !dir.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDirectory {
                    path: dir.display().to_string(),
                    source,
                })?;
            }
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
            .acquire_timeout(Duration::from_secs(5));
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
        Ok(Store { pool, backend })
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

    /// Every zone with its change counter, by name.
    pub async fn zone_versions(&self) -> Result<Vec<ZoneVersion>, StoreError> {
        let rows = sqlx::query("SELECT id, name, version FROM zones ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(zone_version).collect()
    }

    /// Every zone with its record count, by name.
    pub async fn list_zones(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT z.name, (SELECT COUNT(*) FROM records r WHERE r.zone_id = z.id) AS records \
             FROM zones z ORDER BY z.name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("name")?, row.try_get("records")?)))
            .collect()
    }

    /// The records of the zone with row id `zone_id`, in insertion order.
    ///
    /// The rows travel as one JSON array built by the database: fetching a
    /// million rows one by one through the driver costs seconds of per-row
    /// overhead; one aggregated value costs a fraction of that.
    pub async fn zone_records(&self, zone_id: i64) -> Result<Vec<StoredRecord>, StoreError> {
        let sql = match self.backend {
            Backend::Sqlite => {
                "SELECT COALESCE(json_group_array(json_array(name, type, ttl, content) ORDER BY id), '[]') AS rows \
                 FROM records WHERE zone_id = $1"
            }
            Backend::Postgres => {
                "SELECT COALESCE(json_agg(json_build_array(name, type, ttl, content) ORDER BY id), '[]')::text AS rows \
                 FROM records WHERE zone_id = $1"
            }
        };
        let row = sqlx::query(sql).bind(zone_id).fetch_one(&self.pool).await?;
        let json: String = row.try_get("rows")?;
        let rows: Vec<(String, String, i64, String)> =
            serde_json::from_str(&json).map_err(|error| StoreError::Corrupt(error.to_string()))?;
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

    /// The records of the zone called `name` (absolute, lowercase).
    pub async fn zone_records_by_name(&self, name: &str) -> Result<Vec<StoredRecord>, StoreError> {
        let row = sqlx::query("SELECT id FROM zones WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NoSuchZone(name.to_string()))?;
        self.zone_records(row.try_get("id")?).await
    }

    /// Writes a whole zone in one transaction: either all of `records`
    /// are stored (replacing the old ones under [`WriteMode::Replace`]) or
    /// nothing changes.
    pub async fn put_zone(&self, name: &str, records: &[StoredRecord], mode: WriteMode) -> Result<(), StoreError> {
        let now = unix_time();
        let mut tx = self.pool.begin().await?;
        let existing = sqlx::query("SELECT id FROM zones WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
        let zone_id: i64 = match existing {
            Some(_) if mode == WriteMode::CreateOnly => return Err(StoreError::ZoneExists(name.to_string())),
            Some(row) => {
                let id: i64 = row.try_get("id")?;
                sqlx::query("DELETE FROM records WHERE zone_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("UPDATE zones SET version = version + 1, updated_at = $1 WHERE id = $2")
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                id
            }
            None => sqlx::query(
                "INSERT INTO zones (name, version, created_at, updated_at) VALUES ($1, 1, $2, $3) RETURNING id",
            )
            .bind(name)
            .bind(now)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?
            .try_get("id")?,
        };
        // Rows go in as JSON arrays of INSERT_BATCH records, two parameters
        // per statement: SQLite looks bound parameters up by a linear scan,
        // so thousands of parameters per statement cost quadratic time.
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
            let rows: Vec<(&str, &str, i64, &str)> = batch
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
            let json = serde_json::to_string(&rows).map_err(|error| StoreError::Corrupt(error.to_string()))?;
            sqlx::query(sql).bind(zone_id).bind(json).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Deletes a zone and all its records.
    pub async fn delete_zone(&self, name: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query("SELECT id FROM zones WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NoSuchZone(name.to_string()))?;
        let id: i64 = row.try_get("id")?;
        sqlx::query("DELETE FROM records WHERE zone_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM zones WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// How the zone is secured, or `None` when it is not.
    pub async fn zone_dnssec(&self, zone_id: i64) -> Result<Option<DnssecSettings>, StoreError> {
        let row = sqlx::query("SELECT denial, nsec3_opt_out FROM dnssec_zones WHERE zone_id = $1")
            .bind(zone_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(DnssecSettings {
                denial: row.try_get("denial")?,
                nsec3_opt_out: row.try_get::<i64, _>("nsec3_opt_out")? != 0,
            })
        })
        .transpose()
    }

    /// The keys of the zone with row id `zone_id`, oldest first.
    pub async fn zone_keys(&self, zone_id: i64) -> Result<Vec<StoredKey>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, role, algorithm, dnskey, private_key, published, active, ds, created_at \
             FROM dnssec_keys WHERE zone_id = $1 ORDER BY id",
        )
        .bind(zone_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(stored_key).collect()
    }

    /// The row id of the zone called `name`.
    pub async fn zone_id(&self, name: &str) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT id FROM zones WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NoSuchZone(name.to_string()))?;
        Ok(row.try_get("id")?)
    }

    /// Every secured zone's name and the DNSKEY RDATA of its keys that
    /// should have a DS at the parent: what a parent's DS set derives from.
    pub async fn secure_entry_points(&self) -> Result<Vec<(String, Vec<String>)>, StoreError> {
        let rows = sqlx::query(
            "SELECT z.name, k.dnskey FROM zones z JOIN dnssec_keys k ON k.zone_id = z.id \
             WHERE k.ds = 1 ORDER BY z.name, k.id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for row in &rows {
            let name: String = row.try_get("name")?;
            let dnskey: String = row.try_get("dnskey")?;
            match out.last_mut() {
                Some((last, keys)) if *last == name => keys.push(dnskey),
                _ => out.push((name, vec![dnskey])),
            }
        }
        Ok(out)
    }

    /// Secures a zone: stores its settings and first keys in one
    /// transaction, and marks its parent zone (if stored) changed so the
    /// parent's DS set follows.
    pub async fn secure_zone(&self, name: &str, settings: &DnssecSettings, keys: &[NewKey]) -> Result<(), StoreError> {
        let now = unix_time();
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query("SELECT id FROM zones WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NoSuchZone(name.to_string()))?;
        let zone_id: i64 = row.try_get("id")?;
        let secured = sqlx::query("SELECT zone_id FROM dnssec_zones WHERE zone_id = $1")
            .bind(zone_id)
            .fetch_optional(&mut *tx)
            .await?;
        if secured.is_some() {
            return Err(StoreError::AlreadySecured(name.to_string()));
        }
        sqlx::query("INSERT INTO dnssec_zones (zone_id, denial, nsec3_opt_out, created_at) VALUES ($1, $2, $3, $4)")
            .bind(zone_id)
            .bind(settings.denial.as_str())
            .bind(i64::from(settings.nsec3_opt_out))
            .bind(now)
            .execute(&mut *tx)
            .await?;
        for key in keys {
            insert_key(&mut tx, zone_id, key, now).await?;
        }
        bump_zone_and_parents(&mut tx, zone_id, name, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Starts a rollover: adds `new` and records the roll of the oldest
    /// active key of `role`, in one transaction.
    pub async fn start_roll(
        &self,
        name: &str,
        role: &str,
        new: &NewKey,
        publish_until: i64,
    ) -> Result<i64, StoreError> {
        let now = unix_time();
        let mut tx = self.pool.begin().await?;
        let zone_id: i64 = sqlx::query("SELECT id FROM zones WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NoSuchZone(name.to_string()))?
            .try_get("id")?;
        if sqlx::query("SELECT zone_id FROM dnssec_zones WHERE zone_id = $1")
            .bind(zone_id)
            .fetch_optional(&mut *tx)
            .await?
            .is_none()
        {
            return Err(StoreError::NotSecured(name.to_string()));
        }
        if let Some(row) = sqlx::query("SELECT role, phase FROM dnssec_rolls WHERE zone_id = $1")
            .bind(zone_id)
            .fetch_optional(&mut *tx)
            .await?
        {
            return Err(StoreError::RollInProgress {
                zone: name.to_string(),
                role: row.try_get("role")?,
                phase: row.try_get("phase")?,
            });
        }
        let old = sqlx::query("SELECT id FROM dnssec_keys WHERE zone_id = $1 AND role = $2 AND active = 1 ORDER BY id")
            .bind(zone_id)
            .bind(role)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NothingToRoll {
                zone: name.to_string(),
                role: role.to_string(),
            })?;
        let old_id: i64 = old.try_get("id")?;
        let new_id = insert_key(&mut tx, zone_id, new, now).await?;
        sqlx::query(
            "INSERT INTO dnssec_rolls (zone_id, role, old_key_id, new_key_id, phase, next_at, ds_seen_at, started_at, updated_at) \
             VALUES ($1, $2, $3, $4, 'publish', $5, NULL, $6, $7)",
        )
        .bind(zone_id)
        .bind(role)
        .bind(old_id)
        .bind(new_id)
        .bind(publish_until)
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        bump_zone_and_parents(&mut tx, zone_id, name, now).await?;
        tx.commit().await?;
        Ok(new_id)
    }

    /// Every rollover in progress.
    pub async fn rolls(&self) -> Result<Vec<StoredRoll>, StoreError> {
        let rows = sqlx::query(
            "SELECT r.zone_id, z.name, r.role, r.old_key_id, r.new_key_id, r.phase, r.next_at, r.ds_seen_at, r.started_at \
             FROM dnssec_rolls r JOIN zones z ON z.id = r.zone_id ORDER BY z.name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(stored_roll).collect()
    }

    /// Applies one step of the roll of `roll.zone_id`, provided the roll is
    /// still in `roll.phase` (another process may have moved it on).
    pub async fn advance_roll(&self, roll: &StoredRoll, update: &RollUpdate) -> Result<(), StoreError> {
        let now = unix_time();
        let mut tx = self.pool.begin().await?;
        let current = sqlx::query("SELECT phase, next_at FROM dnssec_rolls WHERE zone_id = $1")
            .bind(roll.zone_id)
            .fetch_optional(&mut *tx)
            .await?;
        let unchanged = match &current {
            Some(row) => {
                row.try_get::<String, _>("phase")? == roll.phase && row.try_get::<i64, _>("next_at")? == roll.next_at
            }
            None => false,
        };
        if !unchanged {
            return Err(StoreError::RollChanged(roll.zone.clone()));
        }
        for &(id, published, active, ds) in &update.keys {
            sqlx::query("UPDATE dnssec_keys SET published = $1, active = $2, ds = $3 WHERE id = $4 AND zone_id = $5")
                .bind(i64::from(published))
                .bind(i64::from(active))
                .bind(i64::from(ds))
                .bind(id)
                .bind(roll.zone_id)
                .execute(&mut *tx)
                .await?;
        }
        for &id in &update.delete {
            sqlx::query("DELETE FROM dnssec_keys WHERE id = $1 AND zone_id = $2")
                .bind(id)
                .bind(roll.zone_id)
                .execute(&mut *tx)
                .await?;
        }
        match &update.next {
            Some((phase, next_at)) => {
                sqlx::query(
                    "UPDATE dnssec_rolls SET phase = $1, next_at = $2, ds_seen_at = $3, updated_at = $4 WHERE zone_id = $5",
                )
                .bind(phase.as_str())
                .bind(*next_at)
                .bind(update.ds_seen_at)
                .bind(now)
                .bind(roll.zone_id)
                .execute(&mut *tx)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM dnssec_rolls WHERE zone_id = $1")
                    .bind(roll.zone_id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        bump_zone_and_parents(&mut tx, roll.zone_id, &roll.zone, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes a key, unless the zone would be left without a key that
    /// signs its data, or without one its parent's DS can point at, or the
    /// key takes part in a rollover.
    pub async fn remove_key(&self, name: &str, key_id: i64) -> Result<(), StoreError> {
        let now = unix_time();
        let mut tx = self.pool.begin().await?;
        let zone_id: i64 = sqlx::query("SELECT id FROM zones WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NoSuchZone(name.to_string()))?
            .try_get("id")?;
        let rows = sqlx::query("SELECT id, role, active, ds FROM dnssec_keys WHERE zone_id = $1")
            .bind(zone_id)
            .fetch_all(&mut *tx)
            .await?;
        let mut keys = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: i64 = row.try_get("id")?;
            let role: String = row.try_get("role")?;
            let active = row.try_get::<i64, _>("active")? != 0;
            let ds = row.try_get::<i64, _>("ds")? != 0;
            keys.push((id, role, active, ds));
        }
        let in_use = |reason: &str| StoreError::KeyInUse {
            zone: name.to_string(),
            id: key_id,
            reason: reason.to_string(),
        };
        let Some(target) = keys.iter().find(|key| key.0 == key_id).cloned() else {
            return Err(StoreError::NoSuchKey {
                zone: name.to_string(),
                id: key_id,
            });
        };
        if let Some(roll) = sqlx::query("SELECT old_key_id, new_key_id FROM dnssec_rolls WHERE zone_id = $1")
            .bind(zone_id)
            .fetch_optional(&mut *tx)
            .await?
        {
            if [
                roll.try_get::<i64, _>("old_key_id")?,
                roll.try_get::<i64, _>("new_key_id")?,
            ]
            .contains(&key_id)
            {
                return Err(in_use("it takes part in a rollover in progress"));
            }
        }
        let others = keys.iter().filter(|key| key.0 != key_id);
        let signs_data = |role: &str| role == "csk" || role == "zsk";
        let signs_keys = |role: &str| role == "csk" || role == "ksk";
        if target.2 && signs_data(&target.1) && !others.clone().any(|key| key.2 && signs_data(&key.1)) {
            return Err(in_use("it is the last active key signing the zone's data"));
        }
        if target.2 && signs_keys(&target.1) && !others.clone().any(|key| key.2 && signs_keys(&key.1)) {
            return Err(in_use("it is the last active key signing the DNSKEY RRset"));
        }
        if target.3 && !others.clone().any(|key| key.3) {
            return Err(in_use("the parent's DS set points at it and at no other key"));
        }
        sqlx::query("DELETE FROM dnssec_keys WHERE id = $1")
            .bind(key_id)
            .execute(&mut *tx)
            .await?;
        bump_zone_and_parents(&mut tx, zone_id, name, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn zone_version(row: &AnyRow) -> Result<ZoneVersion, StoreError> {
    Ok(ZoneVersion {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        version: row.try_get("version")?,
    })
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

fn stored_key(row: &AnyRow) -> Result<StoredKey, StoreError> {
    Ok(StoredKey {
        id: row.try_get("id")?,
        role: row.try_get("role")?,
        algorithm: row.try_get("algorithm")?,
        dnskey: row.try_get("dnskey")?,
        private_key: row.try_get("private_key")?,
        published: row.try_get::<i64, _>("published")? != 0,
        active: row.try_get::<i64, _>("active")? != 0,
        ds: row.try_get::<i64, _>("ds")? != 0,
        created_at: row.try_get("created_at")?,
    })
}

/// Inserts a key; returns its id.
async fn insert_key(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    zone_id: i64,
    key: &NewKey,
    now: i64,
) -> Result<i64, StoreError> {
    let row = sqlx::query(
        "INSERT INTO dnssec_keys (zone_id, role, algorithm, dnskey, private_key, published, active, ds, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(zone_id)
    .bind(key.role.as_str())
    .bind(key.algorithm)
    .bind(key.dnskey.as_str())
    .bind(key.private_key.as_str())
    .bind(i64::from(key.published))
    .bind(i64::from(key.active))
    .bind(i64::from(key.ds))
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.try_get("id")?)
}

fn stored_roll(row: &AnyRow) -> Result<StoredRoll, StoreError> {
    Ok(StoredRoll {
        zone_id: row.try_get("zone_id")?,
        zone: row.try_get("name")?,
        role: row.try_get("role")?,
        old_key_id: row.try_get("old_key_id")?,
        new_key_id: row.try_get("new_key_id")?,
        phase: row.try_get("phase")?,
        next_at: row.try_get("next_at")?,
        ds_seen_at: row.try_get("ds_seen_at")?,
        started_at: row.try_get("started_at")?,
    })
}

fn unix_time() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64)
}

/// The URL without its password, for messages and logs.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, path) = rest.split_once('/').map_or((rest, None), |(a, p)| (a, Some(p)));
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{user}:***@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => authority.to_string(),
    };
    match path {
        Some(path) => format!("{scheme}://{authority}/{path}"),
        None => format!("{scheme}://{authority}"),
    }
}

//------------ Health checks -------------------------------------------------

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
    }
}
