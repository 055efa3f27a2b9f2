//! LUA and ALIAS records go to other secondaries as what they answer at
//! the moment of the transfer. When a health check or an ALIAS target's
//! new addresses change what such a record answers, the zone's serial
//! moves on (through the change path, a
//! journalled SOA change), so that NOTIFY goes out and secondaries
//! transfer the zone, with its new answers, again.
//!
//! Zones signed here are left alone: their LUA records are answered
//! online and go out as stored. In a fleet one node does this, under its
//! own lock, comparing with what it sent itself.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base::name::Name;

use crate::catalog::SharedCatalog;
use crate::change::{ChangeSet, ZoneChange};
use crate::store::{Duty, Leadership, Store};

/// How long after a change of health the answers are compared: checks
/// flipping together make one new serial.
const SETTLE: Duration = Duration::from_secs(1);

/// The computed answers each zone's last transfer carried: its serial and
/// a digest of the answers.
#[derive(Default)]
pub struct SentAnswers(Mutex<HashMap<Name, (u32, u64)>>);

/// What [`ZonePrograms::current_answers`](crate::lua::ZonePrograms::current_answers) gives.
pub type Answers<'a> = [(&'a [u8], u16, Vec<u8>)];

impl SentAnswers {
    /// Notes that `answers` went out with serial `serial` of `apex`.
    pub fn record(&self, apex: &Name, serial: u32, answers: &Answers<'_>) {
        self.lock().insert(apex.clone(), (serial, digest(answers)));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Name, (u32, u64)>> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn digest(answers: &Answers<'_>) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    answers.hash(&mut hasher);
    hasher.finish()
}

/// Moves zones on when their computed answers change.
pub struct Reannouncer {
    store: Store,
    catalog: SharedCatalog,
    changes: tokio::sync::watch::Receiver<u64>,
    /// Moves of ALIAS targets, when ALIAS records are resolved.
    moves: Option<tokio::sync::watch::Receiver<u64>>,
    sent: Arc<SentAnswers>,
}

impl Reannouncer {
    pub fn new(
        store: Store,
        catalog: SharedCatalog,
        changes: tokio::sync::watch::Receiver<u64>,
        moves: Option<tokio::sync::watch::Receiver<u64>>,
        sent: Arc<SentAnswers>,
    ) -> Reannouncer {
        Reannouncer {
            store,
            catalog,
            changes,
            moves,
            sent,
        }
    }

    /// Compares after every change of health or of an ALIAS target until
    /// `shutdown` is set.
    pub async fn run(mut self, shutdown: Arc<AtomicBool>) {
        let mut leadership = Leadership::new(self.store.clone(), Duty::Reannounce);
        while !shutdown.load(Ordering::Relaxed) {
            tokio::select! {
                changed = self.changes.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    tokio::time::sleep(SETTLE).await;
                }
                Some(Ok(())) = async {
                    match &mut self.moves {
                        Some(moves) => Some(moves.changed().await),
                        None => std::future::pending().await,
                    }
                } => tokio::time::sleep(SETTLE).await,
                // Shutdown is looked at twice a second.
                () = tokio::time::sleep(Duration::from_millis(500)) => continue,
            }
            if leadership.hold().await {
                self.compare().await;
            }
        }
    }

    /// Bumps the serial of every zone whose answers differ from those its
    /// last transfer carried at the same serial.
    async fn compare(&mut self) {
        let catalog = self.catalog.load_full();
        self.sent.lock().retain(|apex, _| catalog.zone(apex).is_some());
        for snapshot in catalog.zones() {
            let Some(programs) = snapshot.programs.clone().filter(|_| snapshot.signed.is_none()) else {
                continue;
            };
            let apex = snapshot.zone.apex().clone();
            let serial = snapshot.zone.serial();
            let Some((sent_serial, sent_digest)) = self.sent.lock().get(&apex).copied() else {
                continue;
            };
            let Ok(now) = tokio::task::spawn_blocking(move || digest(&programs.current_answers())).await else {
                continue;
            };
            if sent_serial != serial || sent_digest == now {
                continue;
            }
            // Once: the next transfer records the new serial.
            self.sent.lock().remove(&apex);
            let zone = apex.to_string();
            match ChangeSet::new(&zone, ZoneChange::Bump, "health")
                .apply_alone(&self.store)
                .await
            {
                Ok(applied) => {
                    tracing::info!(%zone, serial = ?applied.new_serial, "computed answers changed; secondaries are told")
                }
                Err(error) => tracing::warn!(%zone, %error, "computed answers changed, but the serial cannot move on"),
            }
        }
    }
}
