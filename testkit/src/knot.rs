//! Knot DNS on the same zone files as pooldns: the reference server of the
//! differential tests.

use std::fmt::Write as _;
use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use tempfile::TempDir;

use crate::client::{encode_query, next_id, parse_name, udp_exchange, QueryOptions};
use crate::process::{free_port, log_stdio, require, stop_and_report};
use crate::STARTUP_TIMEOUT;

/// Number of Knot log lines printed when a test fails while Knot runs; Knot
/// only logs start-up and zone loading, so this shows whether it served.
const KNOT_LOG_TAIL_LINES: usize = 20;

/// A running Knot DNS server, the reference of the differential test,
/// killed when dropped.
pub struct Knotd {
    child: Child,
    /// Knot's run-time state; removed when the server is dropped.
    state: TempDir,
    log: PathBuf,
    /// Address Knot listens on (UDP and TCP).
    pub addr: SocketAddr,
}

impl Knotd {
    /// Serves `zones` (zone name, zone file) and waits until every zone
    /// answers its SOA authoritatively.
    ///
    /// Knot keeps its run-time state (control socket, timer database) in a
    /// temporary directory, loads each zone file whole, never writes the zone
    /// files back and keeps no journal, so the shared zone files stay
    /// untouched. Only Knot's mandatory semantic checks apply.
    pub fn start(zones: &[(&str, &Path)]) -> Self {
        let binary = require("knotd", "knot");
        let dir = tempfile::Builder::new()
            .prefix("knotd-test-")
            .tempdir()
            .expect("create temporary directory");
        let addr: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let state = dir.path().display().to_string();

        let mut config = String::new();
        writeln!(config, "server:").unwrap();
        writeln!(config, "    rundir: \"{state}\"").unwrap();
        writeln!(config, "    listen: {}@{}", addr.ip(), addr.port()).unwrap();
        writeln!(config, "    udp-workers: 1").unwrap();
        writeln!(config, "    tcp-workers: 1").unwrap();
        writeln!(config, "    background-workers: 1").unwrap();
        writeln!(config, "log:\n  - target: stderr\n    any: info").unwrap();
        writeln!(config, "database:\n    storage: \"{state}\"").unwrap();
        writeln!(config, "template:\n  - id: default").unwrap();
        writeln!(config, "    storage: \"{state}\"").unwrap();
        writeln!(config, "    zonefile-load: whole").unwrap();
        writeln!(config, "    zonefile-sync: -1").unwrap();
        writeln!(config, "    journal-content: none").unwrap();
        writeln!(config, "    semantic-checks: off").unwrap();
        writeln!(config, "zone:").unwrap();
        for (name, file) in zones {
            let file = fs::canonicalize(file).unwrap_or_else(|e| panic!("zone file {}: {e}", file.display()));
            let name = if name.ends_with('.') {
                name.to_string()
            } else {
                format!("{name}.")
            };
            writeln!(config, "  - domain: \"{name}\"").unwrap();
            writeln!(config, "    file: \"{}\"", file.display()).unwrap();
        }

        let names: Vec<&str> = zones.iter().map(|(name, _)| *name).collect();
        Self::spawn(&binary, config, dir, addr, &names)
    }

    /// A Knot primary of `zones` (zone name, zone file) whose changes
    /// (made with [`Knotd::knotc`]) bump the serial, are kept in its
    /// journal for IXFR, and are announced by NOTIFY to `notify`; it
    /// serves transfers to 127.0.0.1, signed with `key` (`(name,
    /// algorithm, base64 secret)`) when given.
    pub fn primary(zones: &[(&str, &Path)], notify: SocketAddr, key: Option<(&str, &str, &str)>) -> Self {
        let binary = require("knotd", "knot");
        let dir = tempfile::Builder::new()
            .prefix("knotd-primary-")
            .tempdir()
            .expect("create temporary directory");
        let addr: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let state = dir.path().display().to_string();
        let mut config = common_config(&state, addr, key);
        writeln!(
            config,
            "remote:\n  - id: secondary\n    address: {}@{}",
            notify.ip(),
            notify.port()
        )
        .unwrap();
        writeln!(
            config,
            "acl:\n  - id: transfer\n    address: 127.0.0.1\n    action: transfer"
        )
        .unwrap();
        if let Some((name, _, _)) = key {
            writeln!(config, "    key: {name}").unwrap();
        }
        writeln!(config, "template:\n  - id: default\n    storage: \"{state}\"").unwrap();
        writeln!(
            config,
            "    zonefile-load: whole\n    zonefile-sync: -1\n    journal-content: changes\n    semantic-checks: off"
        )
        .unwrap();
        writeln!(
            config,
            "    serial-policy: increment\n    notify: secondary\n    acl: transfer"
        )
        .unwrap();
        writeln!(config, "zone:").unwrap();
        for (name, file) in zones {
            let file = fs::canonicalize(file).unwrap_or_else(|e| panic!("zone file {}: {e}", file.display()));
            writeln!(
                config,
                "  - domain: \"{}\"\n    file: \"{}\"",
                absolute(name),
                file.display()
            )
            .unwrap();
        }
        let names: Vec<&str> = zones.iter().map(|(name, _)| *name).collect();
        Self::spawn(&binary, config, dir, addr, &names)
    }

    /// Runs `knotc` against this server (e.g. `zone-begin`, `zone-set`,
    /// `zone-commit`) and returns its output; panics when it fails.
    pub fn knotc(&self, args: &[&str]) -> String {
        let binary = require("knotc", "knot");
        let output = Command::new(binary)
            .arg("--config")
            .arg(self.state.path().join("knot.conf"))
            .args(args)
            .output()
            .expect("knotc runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(output.status.success(), "knotc {args:?} failed: {text}");
        text
    }

    /// A Knot secondary on `addr` of `zones` (names), transferring them
    /// from `primary` (signed with `key`, `(name, algorithm, base64
    /// secret)`, when given) and accepting its NOTIFY; `catalog` names a
    /// catalog zone (RFC 9432) of `primary` whose members Knot serves too.
    /// Waits until every zone of `zones` is served.
    pub fn secondary(
        addr: SocketAddr,
        zones: &[&str],
        catalog: Option<&str>,
        primary: SocketAddr,
        key: Option<(&str, &str, &str)>,
    ) -> Self {
        let binary = require("knotd", "knot");
        let dir = tempfile::Builder::new()
            .prefix("knotd-secondary-")
            .tempdir()
            .expect("create temporary directory");
        let state = dir.path().display().to_string();
        let mut config = common_config(&state, addr, key);
        writeln!(
            config,
            "remote:\n  - id: primary\n    address: {}@{}",
            primary.ip(),
            primary.port()
        )
        .unwrap();
        if let Some((name, _, _)) = key {
            writeln!(config, "    key: {name}").unwrap();
        }
        writeln!(
            config,
            "acl:\n  - id: notify\n    address: {}\n    action: notify",
            primary.ip()
        )
        .unwrap();
        writeln!(config, "template:\n  - id: default\n    storage: \"{state}\"").unwrap();
        writeln!(
            config,
            "    master: primary\n    acl: notify\n    zonefile-sync: -1\n    zonefile-load: none"
        )
        .unwrap();
        writeln!(config, "    journal-content: changes\n    semantic-checks: off").unwrap();
        if catalog.is_some() {
            writeln!(
                config,
                "  - id: members\n    storage: \"{state}\"\n    master: primary\n    acl: notify"
            )
            .unwrap();
            writeln!(
                config,
                "    zonefile-sync: -1\n    zonefile-load: none\n    journal-content: changes"
            )
            .unwrap();
        }
        writeln!(config, "zone:").unwrap();
        for name in zones {
            writeln!(config, "  - domain: \"{}\"", absolute(name)).unwrap();
        }
        if let Some(catalog) = catalog {
            writeln!(
                config,
                "  - domain: \"{}\"\n    catalog-role: interpret\n    catalog-template: members",
                absolute(catalog)
            )
            .unwrap();
        }
        Self::spawn(&binary, config, dir, addr, zones)
    }

    /// Runs `binary` on `config` written into `dir`, and waits until every
    /// zone of `zones` answers its SOA.
    fn spawn(binary: &Path, config: String, dir: TempDir, addr: SocketAddr, zones: &[&str]) -> Self {
        let config_path = dir.path().join("knot.conf");
        fs::write(&config_path, config).expect("write knot.conf");
        let log = dir.path().join("knotd.log");
        let (stdout, stderr) = log_stdio(&log);
        let child = Command::new(binary)
            .arg("--config")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", binary.display()));
        let mut knot = Self {
            child,
            state: dir,
            log,
            addr,
        };
        for name in zones {
            knot.wait_for_zone(name);
        }
        knot
    }

    /// The end of Knot's log, for test failure messages.
    pub fn log_tail(&self) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Waits until Knot answers the SOA of `zone` authoritatively.
    fn wait_for_zone(&mut self, zone: &str) {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll knotd") {
                panic!("knotd exited during start-up with {status}");
            }
            if serves_soa(self.addr, zone) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "knotd did not serve {zone} within {STARTUP_TIMEOUT:?}"
            );
            thread::sleep(Duration::from_millis(100));
        }
    }
}

/// The server, log, database and key sections of a Knot that keeps its
/// state in `state` and listens on `addr`, with `key` (`(name, algorithm,
/// base64 secret)`) when given.
fn common_config(state: &str, addr: SocketAddr, key: Option<(&str, &str, &str)>) -> String {
    let mut config = String::new();
    writeln!(config, "server:\n    rundir: \"{state}\"").unwrap();
    writeln!(config, "    listen: {}@{}", addr.ip(), addr.port()).unwrap();
    writeln!(
        config,
        "    udp-workers: 1\n    tcp-workers: 1\n    background-workers: 1"
    )
    .unwrap();
    writeln!(config, "log:\n  - target: stderr\n    any: info").unwrap();
    writeln!(config, "database:\n    storage: \"{state}\"").unwrap();
    if let Some((name, algorithm, secret)) = key {
        writeln!(
            config,
            "key:\n  - id: {name}\n    algorithm: {algorithm}\n    secret: {secret}"
        )
        .unwrap();
    }
    config
}

/// Whether the server at `addr` answers the SOA of `zone` authoritatively.
pub fn serves_soa(addr: SocketAddr, zone: &str) -> bool {
    let query = encode_query(next_id(), &parse_name(zone), RecordType::SOA, &QueryOptions::udp());
    let Ok(Some(reply)) = udp_exchange(addr, &query, Duration::from_millis(500)) else {
        return false;
    };
    Message::from_vec(&reply)
        .is_ok_and(|message| message.response_code == ResponseCode::NoError && message.authoritative)
}

/// `name` with the trailing dot.
fn absolute(name: &str) -> String {
    if name.ends_with('.') {
        name.to_string()
    } else {
        format!("{name}.")
    }
}

impl Drop for Knotd {
    fn drop(&mut self) {
        stop_and_report(&mut self.child, "knotd", &self.log, KNOT_LOG_TAIL_LINES);
    }
}
