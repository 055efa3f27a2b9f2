//! DNSSEC settings, keys and rollovers.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::writer::{LockedZone, Writer};
use super::{bump_zone_and_parents, unix_time, Store, StoreError};

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
        decode_dnskey(self.id, &self.dnskey)
    }
}

/// A key's DNSKEY RDATA from its stored base64.
pub(super) fn decode_dnskey(id: i64, base64: &str) -> Result<Vec<u8>, StoreError> {
    data_encoding::BASE64
        .decode(base64.as_bytes())
        .map_err(|error| StoreError::Corrupt(format!("DNSKEY of key {id} is not base64: {error}")))
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

impl Store {
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

    /// The names of the secured zones.
    pub async fn secured_zones(&self) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT z.name FROM zones z JOIN dnssec_zones d ON d.zone_id = z.id ORDER BY z.name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|row| Ok(row.try_get("name")?)).collect()
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
        let mut writer = self.writer().await?;
        let zone = writer
            .lock_zone(name)
            .await?
            .ok_or_else(|| StoreError::NoSuchZone(name.to_string()))?;
        writer.secure_zone(&zone, settings, keys).await?;
        writer.commit().await
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

impl Writer {
    /// Secures the zone with `settings` and its first `keys`; parents are
    /// marked changed so their DS sets follow.
    pub async fn secure_zone(
        &mut self,
        zone: &LockedZone,
        settings: &DnssecSettings,
        keys: &[NewKey],
    ) -> Result<(), StoreError> {
        let now = self.now();
        let secured = sqlx::query("SELECT zone_id FROM dnssec_zones WHERE zone_id = $1")
            .bind(zone.id)
            .fetch_optional(&mut *self.tx)
            .await?;
        if secured.is_some() {
            return Err(StoreError::AlreadySecured(zone.name.clone()));
        }
        sqlx::query("INSERT INTO dnssec_zones (zone_id, denial, nsec3_opt_out, created_at) VALUES ($1, $2, $3, $4)")
            .bind(zone.id)
            .bind(settings.denial.as_str())
            .bind(i64::from(settings.nsec3_opt_out))
            .bind(now)
            .execute(&mut *self.tx)
            .await?;
        for key in keys {
            insert_key(&mut self.tx, zone.id, key, now).await?;
        }
        bump_zone_and_parents(&mut self.tx, zone.id, &zone.name, now).await
    }

    /// Changes how a secured zone denies existence (NSEC or NSEC3, opt-out).
    pub async fn set_denial(&mut self, zone: &LockedZone, settings: &DnssecSettings) -> Result<(), StoreError> {
        let now = self.now();
        let done = sqlx::query("UPDATE dnssec_zones SET denial = $1, nsec3_opt_out = $2 WHERE zone_id = $3")
            .bind(settings.denial.as_str())
            .bind(i64::from(settings.nsec3_opt_out))
            .bind(zone.id)
            .execute(&mut *self.tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotSecured(zone.name.clone()));
        }
        bump_zone_and_parents(&mut self.tx, zone.id, &zone.name, now).await
    }

    /// Stops signing the zone: its keys, any rollover and its settings go;
    /// parents are marked changed so their DS sets follow.
    pub async fn unsecure_zone(&mut self, zone: &LockedZone) -> Result<(), StoreError> {
        let now = self.now();
        for table in ["dnssec_rolls", "dnssec_keys", "dnssec_zones"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE zone_id = $1"))
                .bind(zone.id)
                .execute(&mut *self.tx)
                .await?;
        }
        bump_zone_and_parents(&mut self.tx, zone.id, &zone.name, now).await
    }
}
