//! Crash safety: the server or the command line killed with SIGKILL in the
//! middle of a write — a zone import, API PATCHes, UPDATEs — and started
//! again: every write is there whole or not at all, and what is served is
//! the last write that committed. A full disk under the store fails writes
//! with a clear error while DNS goes on answering.
//!
//! Kills during pool allocations and registrar calls are the subject of
//! `tests/pool_crash.rs`.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::json;
use testkit::pool::wait_until;
use testkit::{http_request, Pooldns, PooldnsOptions};

const KEY: &str = "crash-operator-key";
const TSIG_SECRET: &str = "Y3Jhc2gtY3Jhc2gtY3Jhc2gtY3Jhc2gtY3Jhc2gtY3I=";
const WAIT: Duration = Duration::from_secs(20);

/// A zone `zone` with `hosts` extra A records; `www` tells the versions
/// apart.
fn zone_text(zone: &str, www: &str, hosts: usize) -> String {
    let mut text = format!(
        "$ORIGIN {zone}\n$TTL 300\n@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ NS ns1\nns1 A 192.0.2.53\n\
         www A {www}\na TXT \"0\"\nb TXT \"0\"\nc TXT \"0\"\nd TXT \"0\"\n"
    );
    for i in 0..hosts {
        let _ = writeln!(text, "h{i} A 198.51.{}.{}", (i >> 8) & 0xff, i & 0xff);
    }
    text
}

fn options(zones: &Path, zone: &str) -> PooldnsOptions {
    let mut options = PooldnsOptions::new(zones);
    options.store_poll_ms = Some(100);
    options.extra_config = format!(
        "\n[[api.keys]]\nname = \"operator\"\nkey = \"{KEY}\"\n\
         [[tsig]]\nname = \"crash-update\"\nalgorithm = \"hmac-sha256\"\nsecret = \"{TSIG_SECRET}\"\n\
         [[update.grants]]\nkey = \"crash-update\"\nzone = \"{zone}\"\nnames = [\"c\", \"d\"]\ntypes = [\"TXT\"]\n"
    );
    options
}

/// The zone as the store holds it: `(www address, records)`.
fn stored(server: &Pooldns, zone: &str) -> (String, usize) {
    let text = server.cli_ok(&["zone", "export", zone]);
    let records: Vec<&str> = text
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with(';') && !line.starts_with('$'))
        .collect();
    let www = records
        .iter()
        .find(|line| line.starts_with(&format!("www.{zone}")))
        .and_then(|line| line.split_whitespace().last())
        .unwrap_or_default()
        .to_string();
    (www, records.len())
}

/// A 32-bit pseudo-random sequence (xorshift), seeded from the clock, so
/// that kills fall at different moments on every run.
struct Moments(u32);

impl Moments {
    fn new() -> Moments {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .subsec_nanos();
        Moments(nanos | 1)
    }

    fn next(&mut self, below: u64) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        Duration::from_millis(u64::from(self.0) % below)
    }
}

#[test]
fn an_import_killed_midway_leaves_the_old_zone_or_the_new() {
    let zone = "import.crash.test.";
    let zones = tempfile::tempdir().expect("temp dir");
    std::fs::write(zones.path().join("import.zone"), zone_text(zone, "192.0.2.1", 0)).expect("zone");
    let server = Pooldns::start_with(options(zones.path(), zone));
    let files = tempfile::tempdir().expect("temp dir");
    let small = files.path().join("small.zone");
    let large = files.path().join("large.zone");
    std::fs::write(&small, zone_text(zone, "192.0.2.1", 0)).expect("zone");
    std::fs::write(&large, zone_text(zone, "192.0.2.2", 60_000)).expect("zone");
    let versions = [("192.0.2.1".to_string(), 8), ("192.0.2.2".to_string(), 60_008)];

    // How long a whole import of the large zone takes here: kills fall
    // within it.
    let started = Instant::now();
    server.cli_ok(&["zone", "import", "--replace", &large.to_string_lossy()]);
    let span = started.elapsed().as_millis() as u64 + 1;
    server.cli_ok(&["zone", "import", "--replace", &small.to_string_lossy()]);

    let mut moments = Moments::new();
    let mut completed = 0;
    for round in 0..8 {
        let file = if round % 2 == 0 { &large } else { &small };
        let mut child = server
            .cli_command(&["zone", "import", "--replace", &file.to_string_lossy()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("import runs");
        thread::sleep(moments.next(span));
        let _ = child.kill();
        if child.wait().expect("import reaped").success() {
            completed += 1;
        }
        let now = stored(&server, zone);
        assert!(versions.contains(&now), "round {round}: the store holds a mix: {now:?}");
        // The server serves what the store holds.
        wait_until("the server to serve the stored zone", WAIT, || {
            testkit::dig::short(server.dns, &format!("www.{zone}"), "A") == [now.0.clone()]
        });
    }
    println!("{completed} of 8 imports finished before the kill");
}

/// Writes through the API (two RRsets in one PATCH) and by UPDATE (two
/// names in one message), each numbered, until `stop`; the last number
/// acknowledged of each goes to `acked`, the last sent to `sent`.
struct Writers {
    stop: Arc<AtomicBool>,
    /// Set: the writers send nothing new; `busy` says whether one is
    /// still waiting for an answer.
    paused: Arc<AtomicBool>,
    busy: [Arc<AtomicBool>; 2],
    acked: [Arc<AtomicU64>; 2],
    sent: [Arc<AtomicU64>; 2],
    threads: Vec<thread::JoinHandle<()>>,
}

impl Writers {
    fn start(server: &Pooldns, zone: &str) -> Writers {
        let stop = Arc::new(AtomicBool::new(false));
        let paused = Arc::new(AtomicBool::new(false));
        let busy = [Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false))];
        let acked = [Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0))];
        let sent = [Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0))];
        let mut threads = Vec::new();

        let (api, path) = (server.api, format!("/api/v1/servers/localhost/zones/{zone}"));
        let (zone_name, done, ack, out) = (zone.to_string(), stop.clone(), acked[0].clone(), sent[0].clone());
        let (hold, working) = (paused.clone(), busy[0].clone());
        threads.push(thread::spawn(move || {
            for n in 1.. {
                if !wait_turn(&done, &hold, &working) {
                    break;
                }
                let rrset = |owner: &str| {
                    json!({"name": format!("{owner}.{zone_name}"), "type": "TXT", "ttl": 300, "changetype": "REPLACE",
                           "records": [{"content": format!("\"{n}\""), "disabled": false}]})
                };
                let body = json!({"rrsets": [rrset("a"), rrset("b")]}).to_string();
                out.store(n, Ordering::SeqCst);
                let headers = [("X-API-Key", KEY), ("Content-Type", "application/json")];
                let answer = http_request(api, "PATCH", &path, &headers, body.as_bytes());
                working.store(false, Ordering::SeqCst);
                match answer {
                    Ok(response) if response.status == 204 => ack.store(n, Ordering::SeqCst),
                    _ => thread::sleep(Duration::from_millis(20)),
                }
            }
        }));

        let nsupdate = testkit::require("nsupdate", "bind9-dnsutils");
        let dns = server.dns;
        let (zone_name, done, ack, out) = (zone.to_string(), stop.clone(), acked[1].clone(), sent[1].clone());
        let (hold, working) = (paused.clone(), busy[1].clone());
        threads.push(thread::spawn(move || {
            for n in 1.. {
                if !wait_turn(&done, &hold, &working) {
                    break;
                }
                let script = format!(
                    "server {} {}\nzone {zone_name}\nupdate delete c.{zone_name} TXT\nupdate add c.{zone_name} 300 TXT \"{n}\"\n\
                     update delete d.{zone_name} TXT\nupdate add d.{zone_name} 300 TXT \"{n}\"\nsend\n",
                    dns.ip(),
                    dns.port()
                );
                out.store(n, Ordering::SeqCst);
                let mut child = Command::new(&nsupdate)
                    .args(["-v", "-t", "3", "-y", &format!("hmac-sha256:crash-update:{TSIG_SECRET}")])
                    .stdin(Stdio::piped())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("nsupdate runs");
                let _ = child.stdin.take().expect("stdin").write_all(script.as_bytes());
                let succeeded = child.wait().expect("nsupdate ends").success();
                working.store(false, Ordering::SeqCst);
                if succeeded {
                    ack.store(n, Ordering::SeqCst);
                } else {
                    thread::sleep(Duration::from_millis(20));
                }
            }
        }));
        Writers {
            stop,
            paused,
            busy,
            acked,
            sent,
            threads,
        }
    }

    /// Holds the writers until [`Writers::resume`], once no write is in
    /// flight.
    fn pause(&self) {
        self.paused.store(true, Ordering::SeqCst);
        wait_until("the writers to finish their writes", WAIT, || {
            self.busy.iter().all(|busy| !busy.load(Ordering::SeqCst))
        });
    }

    fn resume(&self) {
        self.paused.store(false, Ordering::SeqCst);
    }

    fn stop(self) -> ([u64; 2], [u64; 2]) {
        self.stop.store(true, Ordering::SeqCst);
        for thread in self.threads {
            thread.join().expect("writer thread");
        }
        let load = |values: &[Arc<AtomicU64>; 2]| values.each_ref().map(|value| value.load(Ordering::SeqCst));
        (load(&self.acked), load(&self.sent))
    }
}

/// Waits while the writers are paused; false once they are to stop.
/// Marks the writer busy before it writes.
fn wait_turn(stop: &AtomicBool, paused: &AtomicBool, busy: &AtomicBool) -> bool {
    loop {
        if stop.load(Ordering::SeqCst) {
            return false;
        }
        busy.store(true, Ordering::SeqCst);
        if !paused.load(Ordering::SeqCst) {
            return true;
        }
        busy.store(false, Ordering::SeqCst);
        thread::sleep(Duration::from_millis(10));
    }
}

/// The TXT value of `owner` in `zone` as served, as a number.
fn served(server: &Pooldns, owner: &str, zone: &str) -> Option<u64> {
    let answer = testkit::dig::short(server.dns, &format!("{owner}.{zone}"), "TXT");
    match answer.as_slice() {
        [one] => one.trim_matches('"').parse().ok(),
        _ => None,
    }
}

fn killed_amid_patches_and_updates(store_url: Option<String>, zone: &str) {
    let zones = tempfile::tempdir().expect("temp dir");
    std::fs::write(zones.path().join("writes.zone"), zone_text(zone, "192.0.2.1", 200)).expect("zone");
    let mut options = options(zones.path(), zone);
    options.store_url = store_url;
    let mut server = Pooldns::start_with(options);
    // A PostgreSQL store is shared: the zone may be there from an earlier
    // run, and the zone files are imported only into an empty store.
    server.cli_ok(&[
        "zone",
        "import",
        "--replace",
        &zones.path().join("writes.zone").to_string_lossy(),
    ]);
    wait_until("the zone to be served", WAIT, || served(&server, "a", zone) == Some(0));

    let writers = Writers::start(&server, zone);
    let mut moments = Moments::new();
    for round in 0..6 {
        thread::sleep(Duration::from_millis(300) + moments.next(900));
        server.kill();
        writers.pause();
        server.restart();
        // What the restarted server serves holds each pair whole.
        let pairs = [("a", "b"), ("c", "d")].map(|(x, y)| (served(&server, x, zone), served(&server, y, zone)));
        for (first, second) in pairs {
            assert_eq!(first, second, "round {round}: a change served in part");
        }
        writers.resume();
    }
    let (acked, sent) = writers.stop();
    assert!(
        acked.iter().all(|&n| n > 0),
        "writes went through between the kills: {acked:?}"
    );

    // The store holds each pair whole, at or after the last acknowledged
    // write, and the server serves exactly that.
    let exported = server.cli_ok(&["zone", "export", zone]);
    let value = |owner: &str| -> u64 {
        let prefix = format!("{owner}.{zone}");
        exported
            .lines()
            .find(|line| line.starts_with(&prefix) && line.contains("TXT"))
            .and_then(|line| line.split_whitespace().last())
            .and_then(|text| text.trim_matches('"').parse().ok())
            .unwrap_or_else(|| panic!("no TXT at {prefix} in\n{exported}"))
    };
    for (index, (x, y)) in [("a", "b"), ("c", "d")].into_iter().enumerate() {
        let (first, second) = (value(x), value(y));
        assert_eq!(first, second, "{x} and {y} were written together: {exported}");
        assert!(
            acked[index] <= first && first <= sent[index],
            "{x}: stored {first}, acknowledged {}, sent {}",
            acked[index],
            sent[index]
        );
        wait_until("the server to serve the stored pair", WAIT, || {
            served(&server, x, zone) == Some(first) && served(&server, y, zone) == Some(first)
        });
    }
    println!("acknowledged {acked:?} of {sent:?} sent across 6 kills");
}

#[test]
fn killed_amid_patches_and_updates_every_change_is_whole_sqlite() {
    killed_amid_patches_and_updates(None, "writes.crash.test.");
}

#[test]
fn killed_amid_patches_and_updates_every_change_is_whole_postgres() {
    let Some(url) = testkit::postgres_url("killed_amid_patches_and_updates_every_change_is_whole_postgres") else {
        return;
    };
    killed_amid_patches_and_updates(Some(url), "writes-pg.crash.test.");
}

/// A tmpfs of `size` mounted at a new directory, unmounted when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> SmallDisk {
        let dir = tempfile::tempdir().expect("temp dir");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("mount runs");
        assert!(
            status.success(),
            "mounting a {size} tmpfs failed: the full-disk test needs root (CAP_SYS_ADMIN)"
        );
        SmallDisk { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fills the disk but for nothing; returns the filler file.
    fn fill(&self) -> std::path::PathBuf {
        let filler = self.path().join("filler");
        let mut file = std::fs::File::create(&filler).expect("filler");
        let chunk = vec![0u8; 64 * 1024];
        while file.write_all(&chunk).is_ok() {}
        let small = [0u8; 512];
        while file.write_all(&small).is_ok() {}
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

#[test]
fn a_full_disk_fails_writes_clearly_and_dns_keeps_answering() {
    let zone = "full.crash.test.";
    let disk = SmallDisk::mount("16m");
    let zones = tempfile::tempdir().expect("temp dir");
    std::fs::write(zones.path().join("full.zone"), zone_text(zone, "192.0.2.1", 10)).expect("zone");
    let mut options = options(zones.path(), zone);
    options.store_url = Some(format!("sqlite://{}", disk.path().join("pooldns.db").display()));
    let mut server = Pooldns::start_with(options);
    let path = format!("/api/v1/servers/localhost/zones/{zone}");
    let headers = [("X-API-Key", KEY), ("Content-Type", "application/json")];
    // A PATCH larger than any room the database and its log keep.
    let records: Vec<_> = (0..4000)
        .map(|i| json!({"content": format!("\"{i:04} {}\"", "x".repeat(200)), "disabled": false}))
        .collect();
    let big = json!({"rrsets": [
        {"name": format!("big.{zone}"), "type": "TXT", "ttl": 300, "changetype": "REPLACE", "records": records},
        {"name": format!("marker.{zone}"), "type": "TXT", "ttl": 300, "changetype": "REPLACE",
         "records": [{"content": "\"written\"", "disabled": false}]},
    ]})
    .to_string();

    let filler = disk.fill();
    let response = http_request(server.api, "PATCH", &path, &headers, big.as_bytes()).expect("PATCH answered");
    assert_eq!(response.status, 507, "{}", response.body);
    assert!(response.body.contains("disk is full"), "{}", response.body);
    // The command line says so too, and nothing was half written.
    let other = zones.path().join("other.zone");
    std::fs::write(&other, zone_text("other.crash.test.", "192.0.2.9", 20_000)).expect("zone");
    let import = server.cli(&["zone", "import", &other.to_string_lossy()]);
    assert!(!import.status.success(), "an import onto a full disk fails");
    let stderr = String::from_utf8_lossy(&import.stderr);
    assert!(stderr.contains("full"), "the import says the disk is full: {stderr}");

    // DNS answers from what is loaded, unchanged.
    assert!(server.is_running(), "the server stays up");
    assert_eq!(
        testkit::dig::short(server.dns, &format!("www.{zone}"), "A"),
        ["192.0.2.1"]
    );
    assert!(testkit::dig::short(server.dns, &format!("marker.{zone}"), "TXT").is_empty());

    // Room again: the same write goes through and is served.
    std::fs::remove_file(filler).expect("filler removed");
    let response = http_request(server.api, "PATCH", &path, &headers, big.as_bytes()).expect("PATCH answered");
    assert_eq!(response.status, 204, "{}", response.body);
    wait_until("the write to be served", WAIT, || {
        testkit::dig::short(server.dns, &format!("marker.{zone}"), "TXT") == ["\"written\""]
    });
    assert!(!server.cli_ok(&["zone", "list"]).contains("other.crash.test"));
}
