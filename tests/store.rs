//! The store against real databases: a SQLite file, and PostgreSQL at
//! `POOLDNS_TEST_PG_URL` (required under CI). Every test runs on both
//! backends.

use std::sync::atomic::{AtomicU32, Ordering};

use pooldns::store::{Backend, HealthCheckRow, Store, StoreError, StoredRecord, WriteMode};

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
        store
            .put_zone(&zone, &minimal(&zone), WriteMode::CreateOnly)
            .await
            .expect("stored");
        assert_eq!(store.zone_records_by_name(&zone).await.expect("read"), minimal(&zone));
        let listed = store.list_zones().await.expect("list");
        assert!(listed.contains(&(zone.clone(), 3)), "{listed:?}");
        let versions = store.zone_versions().await.expect("versions");
        let before = versions.iter().find(|v| v.name == zone).expect("zone listed").clone();

        let mut bigger = minimal(&zone);
        bigger.push(record(&zone, "www", "A", "192.0.2.80"));
        store
            .put_zone(&zone, &bigger, WriteMode::Replace)
            .await
            .expect("replaced");
        assert_eq!(store.zone_records_by_name(&zone).await.expect("read"), bigger);
        let after = store.zone_versions().await.expect("versions");
        let after = after.iter().find(|v| v.name == zone).expect("zone listed");
        assert_eq!(after.id, before.id);
        assert!(after.version > before.version, "a write moves the change counter");

        store.delete_zone(&zone).await.expect("deleted");
        assert!(matches!(
            store.zone_records_by_name(&zone).await,
            Err(StoreError::NoSuchZone(_))
        ));
        assert!(matches!(store.delete_zone(&zone).await, Err(StoreError::NoSuchZone(_))));
    })
    .await;
}

#[tokio::test]
async fn duplicate_create_changes_nothing() {
    on_every_backend(|store| async move {
        let zone = unique_zone("duplicate");
        store
            .put_zone(&zone, &minimal(&zone), WriteMode::CreateOnly)
            .await
            .expect("stored");
        let mut other = minimal(&zone);
        other.push(record(&zone, "extra", "TXT", "\"x\""));
        let error = store
            .put_zone(&zone, &other, WriteMode::CreateOnly)
            .await
            .expect_err("exists");
        assert!(matches!(error, StoreError::ZoneExists(_)), "{error}");
        assert!(error.to_string().contains("--replace"), "{error}");
        assert_eq!(store.zone_records_by_name(&zone).await.expect("read"), minimal(&zone));
        store.delete_zone(&zone).await.expect("deleted");
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
        store
            .put_zone(&zone, &records, WriteMode::CreateOnly)
            .await
            .expect("stored");
        assert_eq!(store.zone_records_by_name(&zone).await.expect("read"), records);

        // A batch that fails half-way (one content too large for nothing:
        // here, a NUL in TEXT, which PostgreSQL rejects) must leave the old
        // zone as it was; on SQLite, which accepts it, the write succeeds
        // whole.
        let mut broken = records.clone();
        broken.push(record(&zone, "bad", "TXT", "\"a\0b\""));
        match store.put_zone(&zone, &broken, WriteMode::Replace).await {
            Ok(()) => assert_eq!(store.zone_records_by_name(&zone).await.expect("read"), broken),
            Err(_) => assert_eq!(store.zone_records_by_name(&zone).await.expect("read"), records),
        }
        store.delete_zone(&zone).await.expect("deleted");
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
    store
        .put_zone(&zone, &minimal(&zone), WriteMode::CreateOnly)
        .await
        .expect("write");
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
