//! The store against real databases: a SQLite file, and PostgreSQL at
//! `POOLDNS_TEST_PG_URL` (required under CI). Every test runs on both
//! backends.

use std::sync::atomic::{AtomicU32, Ordering};

use pooldns::change::{ChangeError, ChangeSet, Removal, SerialPolicy, ZoneChange};
use pooldns::store::{Backend, HealthCheckRow, RowTexts, Store, StoreError, StoredRecord, JOURNAL_KEPT};

/// A zone name no other test (or earlier run) uses.
fn unique_zone(tag: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.subsec_nanos());
    format!(
        "{tag}-{}-{nanos}-{}.store.test.",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

fn record(zone: &str, name: &str, rtype: &str, content: &str) -> StoredRecord {
    StoredRecord {
        name: if name == "@" {
            zone.to_string()
        } else {
            format!("{name}.{zone}")
        },
        rtype: rtype.to_string(),
        ttl: 300,
        content: content.to_string(),
    }
}

fn minimal(zone: &str) -> Vec<StoredRecord> {
    vec![
        record(zone, "@", "SOA", &format!("ns.{zone} host.{zone} 1 3600 600 86400 60")),
        record(zone, "@", "NS", &format!("ns.{zone}")),
        record(zone, "ns", "A", "192.0.2.1"),
    ]
}

async fn create(store: &Store, zone: &str, records: &[StoredRecord]) -> Result<(), ChangeError> {
    let change = ZoneChange::Create {
        records: records.to_vec(),
        serial_policy: SerialPolicy::Increment,
    };
    ChangeSet::new(zone, change, "test").apply_alone(store).await.map(drop)
}

async fn replace(store: &Store, zone: &str, records: &[StoredRecord]) -> Result<(), ChangeError> {
    let change = ZoneChange::Replace {
        records: records.to_vec(),
    };
    ChangeSet::new(zone, change, "test").apply_alone(store).await.map(drop)
}

async fn delete(store: &Store, zone: &str) -> Result<(), ChangeError> {
    ChangeSet::new(zone, ZoneChange::Delete, "test")
        .apply_alone(store)
        .await
        .map(drop)
}

/// The zone's records, sorted, with the SOA serial as stored.
async fn sorted(store: &Store, zone: &str) -> Vec<StoredRecord> {
    let mut records = store.zone_records_by_name(zone).await.expect("read");
    records.sort_by(|a, b| (&a.name, &a.rtype, &a.content).cmp(&(&b.name, &b.rtype, &b.content)));
    records
}

/// `records` sorted, with the SOA's serial set to `serial`.
fn expect(records: &[StoredRecord], serial: u32) -> Vec<StoredRecord> {
    let mut records: Vec<StoredRecord> = records
        .iter()
        .map(|record| {
            let mut record = record.clone();
            if record.rtype == "SOA" {
                let mut fields: Vec<&str> = record.content.split(' ').collect();
                let serial = serial.to_string();
                fields[2] = &serial;
                record.content = fields.join(" ");
            }
            record
        })
        .collect();
    records.sort_by(|a, b| (&a.name, &a.rtype, &a.content).cmp(&(&b.name, &b.rtype, &b.content)));
    records
}

/// Runs `test` against a fresh SQLite file and, when configured, PostgreSQL.
async fn on_every_backend<F, Fut>(test: F)
where
    F: Fn(Store) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/nested/pooldns.db", dir.path().display());
    let store = Store::open(&url).await.expect("sqlite store opens");
    assert_eq!(store.backend(), Backend::Sqlite);
    test(store).await;
    if let Some(url) = testkit::postgres_url("store tests") {
        let store = Store::open(&url).await.expect("postgres store opens");
        assert_eq!(store.backend(), Backend::Postgres);
        test(store).await;
    }
}

#[tokio::test]
async fn zones_round_trip() {
    on_every_backend(|store| async move {
        let zone = unique_zone("roundtrip");
        create(&store, &zone, &minimal(&zone)).await.expect("stored");
        assert_eq!(store.zone_records_by_name(&zone).await.expect("read"), minimal(&zone));
        let listed = store.list_zones().await.expect("list");
        assert!(listed.contains(&(zone.clone(), 3)), "{listed:?}");
        let versions = store.zone_versions().await.expect("versions");
        let before = versions.iter().find(|v| v.name == zone).expect("zone listed").clone();

        let mut bigger = minimal(&zone);
        bigger.push(record(&zone, "www", "A", "192.0.2.80"));
        replace(&store, &zone, &bigger).await.expect("replaced");
        // The offered serial (1) is not ahead of the stored one: bumped.
        assert_eq!(sorted(&store, &zone).await, expect(&bigger, 2));
        let after = store.zone_versions().await.expect("versions");
        let after = after.iter().find(|v| v.name == zone).expect("zone listed");
        assert_eq!(after.id, before.id);
        assert!(after.version > before.version, "a write moves the change counter");

        delete(&store, &zone).await.expect("deleted");
        assert!(matches!(
            store.zone_records_by_name(&zone).await,
            Err(StoreError::NoSuchZone(_))
        ));
        assert!(matches!(delete(&store, &zone).await, Err(ChangeError::NoSuchZone(_))));
        let journal = store.zone_changes(&zone, 0, 100).await.expect("journal");
        let kinds: Vec<(&str, Option<u32>, Option<u32>)> = journal
            .iter()
            .map(|entry| (entry.kind.as_str(), entry.old_serial, entry.new_serial))
            .collect();
        assert_eq!(
            kinds,
            [
                ("create", None, Some(1)),
                ("update", Some(1), Some(2)),
                ("delete", Some(2), None)
            ]
        );
        // Only the difference is journalled, SOA first on each side.
        let update = &journal[1];
        assert_eq!(update.removed, vec![minimal(&zone)[0].clone()]);
        assert_eq!(update.added.len(), 2);
        assert_eq!(update.added[0].rtype, "SOA");
        assert_eq!(update.added[1], record(&zone, "www", "A", "192.0.2.80"));
    })
    .await;
}

#[tokio::test]
async fn edits_write_only_what_changes_and_bump_the_serial() {
    on_every_backend(|store| async move {
        let zone = unique_zone("edit");
        create(&store, &zone, &minimal(&zone)).await.expect("stored");
        let edit = |remove: Vec<Removal>, add: Vec<StoredRecord>| {
            ChangeSet::new(zone.clone(), ZoneChange::Edit { remove, add }, "test")
        };
        let www = record(&zone, "www", "A", "192.0.2.80");
        let applied = edit(vec![], vec![www.clone()]).apply_alone(&store).await.expect("edit");
        assert_eq!(
            (applied.old_serial, applied.new_serial, applied.changed),
            (Some(1), Some(2), true)
        );
        // The same addition again is no change: no serial, no journal entry.
        let again = edit(vec![], vec![www.clone()]).apply_alone(&store).await.expect("edit");
        assert!(!again.changed);
        // Another TTL is a change of TTL.
        let longer = StoredRecord {
            ttl: 900,
            ..www.clone()
        };
        edit(vec![], vec![longer.clone()])
            .apply_alone(&store)
            .await
            .expect("edit");
        let mut wanted = minimal(&zone);
        wanted.push(longer.clone());
        assert_eq!(sorted(&store, &zone).await, expect(&wanted, 3));
        // RRset removal, case-insensitively, and the SOA cannot be edited.
        let upper = zone.to_ascii_uppercase();
        edit(
            vec![Removal::RRset {
                name: format!("WWW.{upper}"),
                rtype: "a".into(),
            }],
            vec![],
        )
        .apply_alone(&store)
        .await
        .expect("edit");
        assert_eq!(sorted(&store, &zone).await, expect(&minimal(&zone), 4));
        let soa = record(
            &zone,
            "@",
            "SOA",
            &format!("ns.{zone} host.{zone} 99 3600 600 86400 60"),
        );
        let refused = edit(vec![], vec![soa]).apply_alone(&store).await;
        assert!(matches!(refused, Err(ChangeError::Invalid { .. })), "{refused:?}");
        let outside = record("elsewhere.test.", "x", "A", "192.0.2.1");
        let refused = edit(vec![], vec![outside]).apply_alone(&store).await;
        assert!(matches!(refused, Err(ChangeError::Invalid { .. })), "{refused:?}");
        assert_eq!(sorted(&store, &zone).await, expect(&minimal(&zone), 4));
        let journal = store.zone_changes(&zone, 0, 100).await.expect("journal");
        assert_eq!(journal.len(), 4, "create and three edits: {journal:?}");
        assert_eq!(journal[3].removed[1], StoredRecord { ttl: 900, ..www });
        delete(&store, &zone).await.expect("deleted");
    })
    .await;
}

#[tokio::test]
async fn the_journal_keeps_its_latest_entries_and_who_created_the_zone() {
    on_every_backend(|store| async move {
        let zone = unique_zone("journal");
        create(&store, &zone, &minimal(&zone)).await.expect("stored");
        let edits = JOURNAL_KEPT + 5;
        for n in 0..edits {
            let add = vec![record(&zone, "www", "TXT", &format!("\"{n}\""))];
            ChangeSet::new(zone.clone(), ZoneChange::Edit { remove: vec![], add }, "editor")
                .apply_alone(&store)
                .await
                .expect("edit");
        }
        let journal = store.zone_changes(&zone, 0, 2 * JOURNAL_KEPT).await.expect("journal");
        assert_eq!(
            journal.len() as i64,
            JOURNAL_KEPT + 1,
            "the latest edits and the creation"
        );
        assert_eq!(journal[0].kind, "create");
        assert_eq!(
            journal.last().and_then(|entry| entry.new_serial),
            Some(edits as u32 + 1)
        );
        assert_eq!(store.zone_creator(&zone).await.expect("creator"), Some("test".into()));
        delete(&store, &zone).await.expect("deleted");
    })
    .await;
}

#[tokio::test]
async fn every_zones_last_change_is_read_at_once() {
    on_every_backend(|store| async move {
        let (first, second) = (unique_zone("last-a"), unique_zone("last-b"));
        create(&store, &first, &minimal(&first)).await.expect("stored");
        create(&store, &second, &minimal(&second)).await.expect("stored");
        for n in 0..3 {
            let add = vec![record(&first, "www", "TXT", &format!("\"{n}\""))];
            ChangeSet::new(first.clone(), ZoneChange::Edit { remove: vec![], add }, "editor")
                .apply_alone(&store)
                .await
                .expect("edit");
        }
        let changes = store.last_changes().await.expect("last changes");
        let of = |zone: &str| changes.iter().find(|change| change.zone == zone).cloned();
        let first_change = of(&first).expect("the edited zone's change");
        assert_eq!(
            (
                first_change.kind.as_str(),
                first_change.author.as_str(),
                first_change.serial
            ),
            ("update", "editor", Some(4))
        );
        let second_change = of(&second).expect("the created zone's change");
        assert_eq!((second_change.kind.as_str(), second_change.serial), ("create", Some(1)));
        delete(&store, &first).await.expect("deleted");
        delete(&store, &second).await.expect("deleted");
    })
    .await;
}

#[tokio::test]
async fn concurrent_edits_lose_no_serial() {
    on_every_backend(|store| async move {
        let zone = unique_zone("concurrent");
        create(&store, &zone, &minimal(&zone)).await.expect("stored");
        let mut tasks = Vec::new();
        for i in 0..20 {
            let store = store.clone();
            let zone = zone.clone();
            tasks.push(tokio::spawn(async move {
                let add = vec![record(&zone, &format!("h{i}"), "A", "192.0.2.1")];
                ChangeSet::new(zone.clone(), ZoneChange::Edit { remove: vec![], add }, "test")
                    .apply_alone(&store)
                    .await
                    .expect("edit")
            }));
        }
        let mut serials = Vec::new();
        for task in tasks {
            serials.push(task.await.expect("task").new_serial.expect("serial"));
        }
        serials.sort_unstable();
        assert_eq!(serials, (2..22).collect::<Vec<u32>>(), "each edit got its own serial");
        assert_eq!(store.zone_records_by_name(&zone).await.expect("read").len(), 23);
        delete(&store, &zone).await.expect("deleted");
    })
    .await;
}

#[tokio::test]
async fn date_serials_and_serials_offered_ahead() {
    on_every_backend(|store| async move {
        let zone = unique_zone("date");
        let change = ZoneChange::Create {
            records: minimal(&zone),
            serial_policy: SerialPolicy::Date,
        };
        ChangeSet::new(zone.clone(), change, "test")
            .apply_alone(&store)
            .await
            .expect("stored");
        let add = vec![record(&zone, "www", "A", "192.0.2.80")];
        let applied = ChangeSet::new(zone.clone(), ZoneChange::Edit { remove: vec![], add }, "test")
            .apply_alone(&store)
            .await
            .expect("edit");
        let (year, month, day, ..) = base::time::civil(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("clock")
                .as_secs() as i64,
        );
        let today = (year * 1_000_000 + month * 10_000 + day * 100) as u32;
        assert!(
            applied.new_serial == Some(today) || applied.new_serial == Some(today + 100),
            "{applied:?} (today {today})"
        );
        // A replacement whose serial is ahead keeps it.
        let mut ahead = minimal(&zone);
        ahead[0] = record(
            &zone,
            "@",
            "SOA",
            &format!("ns.{zone} host.{zone} 4000000000 3600 600 86400 60"),
        );
        replace(&store, &zone, &ahead).await.expect("replaced");
        assert_eq!(sorted(&store, &zone).await, expect(&minimal(&zone), 4_000_000_000));
        delete(&store, &zone).await.expect("deleted");
    })
    .await;
}

#[tokio::test]
async fn duplicate_create_changes_nothing() {
    on_every_backend(|store| async move {
        let zone = unique_zone("duplicate");
        create(&store, &zone, &minimal(&zone)).await.expect("stored");
        let mut other = minimal(&zone);
        other.push(record(&zone, "extra", "TXT", "\"x\""));
        let error = create(&store, &zone, &other).await.expect_err("exists");
        assert!(matches!(error, ChangeError::ZoneExists(_)), "{error}");
        assert_eq!(store.zone_records_by_name(&zone).await.expect("read"), minimal(&zone));
        delete(&store, &zone).await.expect("deleted");
    })
    .await;
}

#[tokio::test]
async fn large_zone_is_written_in_one_transaction() {
    on_every_backend(|store| async move {
        let zone = unique_zone("large");
        let mut records = minimal(&zone);
        for i in 0..2_345 {
            records.push(record(
                &zone,
                &format!("h{i}"),
                "A",
                &format!("10.0.{}.{}", i / 256, i % 256),
            ));
        }
        create(&store, &zone, &records).await.expect("stored");
        assert_eq!(store.zone_records_by_name(&zone).await.expect("read"), records);

        // A write that fails half-way (a NUL in TEXT, which PostgreSQL
        // rejects) must leave the old zone as it was; on SQLite, which
        // accepts it, the write succeeds whole.
        let mut broken = records.clone();
        broken.push(record(&zone, "bad", "TXT", "\"a\0b\""));
        match replace(&store, &zone, &broken).await {
            Ok(()) => assert_eq!(sorted(&store, &zone).await, expect(&broken, 2)),
            Err(_) => assert_eq!(sorted(&store, &zone).await, expect(&records, 1)),
        }
        delete(&store, &zone).await.expect("deleted");
    })
    .await;
}

#[tokio::test]
async fn unusable_urls_get_clear_errors() {
    let error = Store::open("mysql://localhost/x").await.err().expect("unsupported");
    assert!(error.to_string().contains("sqlite://"), "{error}");
    let error = Store::open("postgres://nobody:hunter2@127.0.0.1:1/none")
        .await
        .err()
        .expect("unreachable");
    let text = error.to_string();
    assert!(text.contains("cannot open the store"), "{text}");
    assert!(!text.contains("hunter2"), "password leaked: {text}");
    let error = Store::open("postgres://nobody@127.0.0.1:1/none?sslmode=disable&password=hunter3")
        .await
        .err()
        .expect("unreachable");
    let text = error.to_string();
    assert!(
        !text.contains("hunter3") && text.contains("password=***"),
        "password leaked: {text}"
    );
    let error = Store::open("sqlite:///proc/forbidden/pooldns.db")
        .await
        .err()
        .expect("cannot create");
    assert!(error.to_string().contains("/proc/forbidden"), "{error}");
}

#[tokio::test]
async fn sqlite_files_are_the_owners_alone() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &std::path::Path| std::fs::metadata(path).expect("exists").permissions().mode() & 0o777;
    let dir = tempfile::tempdir().expect("temp dir");
    let nested = dir.path().join("keys/store");
    let file = nested.join("pooldns.db");
    let store = Store::open(&format!("sqlite://{}", file.display()))
        .await
        .expect("sqlite store opens");
    let zone = unique_zone("modes");
    create(&store, &zone, &minimal(&zone)).await.expect("write");
    assert_eq!(mode(&nested), 0o700, "new directory");
    for name in ["pooldns.db", "pooldns.db-wal", "pooldns.db-shm"] {
        assert_eq!(mode(&nested.join(name)), 0o600, "{name}");
    }
    store.close().await;

    // A database file left readable by others is tightened on open.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let store = Store::open(&format!("sqlite://{}", file.display()))
        .await
        .expect("sqlite store reopens");
    assert_eq!(mode(&file), 0o600);
    store.close().await;
}

#[tokio::test]
async fn health_check_states_round_trip() {
    on_every_backend(|store| async move {
        let key = |tag: &str| unique_zone(tag).replace('.', "");
        let fresh = HealthCheckRow {
            key: key("up"),
            target: "https://www.example.test/ via 192.0.2.1".into(),
            status: "up".into(),
            consecutive_failures: 0,
            consecutive_successes: 12,
            last_probe_at: Some(1_700_000_000),
            latency_us: Some(1_234),
            last_error: None,
            weight: Some(25),
            updated_at: 1_700_000_001,
        };
        let stale = HealthCheckRow {
            key: key("stale"),
            target: "192.0.2.2:443".into(),
            status: "down".into(),
            consecutive_failures: 3,
            consecutive_successes: 0,
            last_probe_at: None,
            latency_us: None,
            last_error: Some("TCP connect to 192.0.2.2:443: Connection refused".into()),
            weight: None,
            updated_at: 1_000,
        };
        store
            .save_health_checks(&[fresh.clone(), stale.clone()])
            .await
            .expect("saved");
        let ours = |rows: Vec<HealthCheckRow>| -> Vec<HealthCheckRow> {
            rows.into_iter()
                .filter(|row| row.key == fresh.key || row.key == stale.key)
                .collect()
        };
        let mut expected = vec![fresh.clone(), stale.clone()];
        expected.sort_by(|a, b| a.key.cmp(&b.key));
        assert_eq!(ours(store.health_checks().await.expect("read")), expected);

        // Saving a key again replaces its state.
        let down = HealthCheckRow {
            status: "down".into(),
            consecutive_failures: 1,
            consecutive_successes: 0,
            last_error: Some("HTTP status 503, expected 200".into()),
            weight: None,
            latency_us: None,
            ..fresh.clone()
        };
        store
            .save_health_checks(std::slice::from_ref(&down))
            .await
            .expect("saved again");
        let rows = ours(store.health_checks().await.expect("read"));
        assert!(rows.contains(&down) && rows.contains(&stale), "{rows:?}");
        assert_eq!(rows.len(), 2);

        let pruned = store.prune_health_checks(2_000).await.expect("pruned");
        assert!(pruned >= 1, "{pruned}");
        assert_eq!(ours(store.health_checks().await.expect("read")), vec![down.clone()]);
        store.prune_health_checks(i64::MAX).await.expect("pruned");
        assert!(ours(store.health_checks().await.expect("read")).is_empty());
    })
    .await;
}

#[tokio::test]
async fn notify_arriving_during_a_check_is_kept_for_the_next() {
    on_every_backend(|store| async move {
        let zone = unique_zone("notified");
        let primaries = pooldns::store::Primaries {
            addresses: vec!["192.0.2.1:53".into()],
            tsig_key: None,
            learned_from: None,
        };
        pooldns::secondary::create(&store, &zone, primaries, "test")
            .await
            .expect("secondary zone created");
        let pending = |store: Store, zone: String| async move {
            let zones = store.secondary_zones().await.expect("secondary zones");
            zones
                .iter()
                .find(|found| found.name == zone)
                .expect("listed")
                .notifications
        };
        store.mark_notified(&zone).await.expect("NOTIFY recorded");
        // A check starts, having seen one NOTIFY; a second arrives meanwhile.
        let seen = pending(store.clone(), zone.clone()).await;
        assert_eq!(seen, 1);
        store.mark_notified(&zone).await.expect("NOTIFY recorded");
        let id = store.zone_id(&zone).await.expect("zone id");
        store.take_notifications(id, seen).await.expect("check recorded");
        assert_eq!(pending(store.clone(), zone.clone()).await, 1, "the second NOTIFY waits");
        store.take_notifications(id, 1).await.expect("check recorded");
        assert_eq!(pending(store.clone(), zone.clone()).await, 0);
        delete(&store, &zone).await.expect("deleted");
    })
    .await;
}

/// A zone read in parts (as a large zone is loaded) is the zone read at
/// once, in the order written, however the parts fall: fewer rows than a
/// part, exactly a part, and parts with a rest; text that JSON escapes
/// comes back as stored.
#[tokio::test]
async fn a_zone_read_in_parts_is_the_zone_read_at_once() {
    on_every_backend(|store| async move {
        let zone = unique_zone("parts");
        let mut records = minimal(&zone);
        for i in 0..6 {
            records.push(record(&zone, &format!("h{i}"), "A", &format!("192.0.2.{i}")));
        }
        records.push(record(&zone, "t", "TXT", r#""say \"hi\"" "back\\slash" "caf\195\169""#));
        create(&store, &zone, &records).await.expect("stored");
        let id = store.zone_id(&zone).await.expect("id");
        let whole = store.zone_records(id).await.expect("read");
        assert_eq!(whole.len(), 10);
        let names = |rows: &[StoredRecord]| -> Vec<(String, String)> {
            rows.iter().map(|row| (row.name.clone(), row.rtype.clone())).collect()
        };
        let mut written = names(&records);
        // The SOA serial is the store's; the rest is as written.
        written.sort();
        let mut read = names(&whole);
        read.sort();
        assert_eq!(read, written);
        assert_eq!(whole.last(), records.last(), "TXT text as written");
        let as_rows = |parts: &[RowTexts]| -> Vec<StoredRecord> {
            parts
                .iter()
                .flat_map(|part| {
                    part.iter().map(|(name, rtype, ttl, content)| StoredRecord {
                        name: name.into(),
                        rtype: rtype.into(),
                        ttl,
                        content: content.into(),
                    })
                })
                .collect()
        };
        for rows in [1, 3, 10, 25] {
            let parts = read_parts(&store, id, rows).await;
            assert_eq!(parts.len(), 10usize.div_ceil(rows), "{rows} rows a part");
            assert!(parts.iter().all(|part| part.len() <= rows));
            assert_eq!(as_rows(&parts), whole, "{rows} rows a part");
        }
        delete(&store, &zone).await.expect("deleted");
        let parts = read_parts(&store, id, 3).await;
        assert!(parts.is_empty(), "a zone without rows has no parts: {parts:?}");
    })
    .await;
}

async fn read_parts(store: &Store, id: i64, rows: usize) -> Vec<RowTexts> {
    let (parts, read) = std::sync::mpsc::channel();
    store
        .zone_record_parts(id, rows, move |part| parts.send(part).expect("receiver kept"))
        .await
        .expect("read in parts");
    read.into_iter().collect()
}
