//! PowerDNS Authoritative with its HTTP API on a gsqlite3 database: the
//! reference of the PowerDNS API differential test.
//!
//! [`PdnsApi::start`] creates the database from the schema Debian's
//! `pdns-backend-sqlite3` ships, and runs `pdns_server` in the foreground
//! on free loopback ports (DNS and API) with everything in a temporary
//! directory.

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::http::http_request;
use crate::pdns::PdnsServer;
use crate::process::{file_tail, free_port, log_stdio, require, stop_and_report};
use crate::STARTUP_TIMEOUT;

/// Where Debian puts the gsqlite3 schema.
const SCHEMAS: [&str; 2] = [
    "/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql",
    "/usr/share/doc/pdns-backend-sqlite3/schema.sqlite3.sql",
];

/// A running `pdns_server` with the API on, killed when dropped.
pub struct PdnsApi {
    child: Child,
    _dir: TempDir,
    log: PathBuf,
    /// DNS (UDP and TCP).
    pub dns: SocketAddr,
    /// The HTTP API.
    pub api: SocketAddr,
}

impl PdnsApi {
    /// Starts PowerDNS with the API key `key` and waits until the API
    /// answers.
    pub fn start(key: &str) -> PdnsApi {
        let binary = PdnsServer::binary();
        let sqlite = require("sqlite3", "sqlite3");
        let schema = SCHEMAS
            .iter()
            .map(Path::new)
            .find(|path| path.exists())
            .unwrap_or_else(|| {
                panic!("the gsqlite3 schema is missing: install the Debian package `pdns-backend-sqlite3`")
            });
        let dir = tempfile::Builder::new()
            .prefix("pdns-api-test-")
            .tempdir()
            .expect("temporary directory");
        let database = dir.path().join("pdns.sqlite3");
        let status = Command::new(sqlite)
            .arg(&database)
            .stdin(fs::File::open(schema).expect("schema"))
            .status()
            .expect("sqlite3 runs");
        assert!(status.success(), "sqlite3 could not create the database");
        let dns: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let api: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let config = format!(
            "launch=gsqlite3\ngsqlite3-database={}\ngsqlite3-dnssec=yes\nsecurity-poll-suffix=\n\
             local-address=127.0.0.1\nlocal-port={}\nsocket-dir={}\ndaemon=no\nguardian=no\n\
             disable-syslog=yes\napi=yes\napi-key={key}\nwebserver=yes\nwebserver-address=127.0.0.1\n\
             webserver-port={}\nwebserver-allow-from=127.0.0.1\nenable-lua-records=yes\n\
             default-soa-edit-signed=INCEPTION-EPOCH\n",
            database.display(),
            dns.port(),
            dir.path().display(),
            api.port()
        );
        fs::write(dir.path().join("pdns.conf"), config).expect("pdns.conf");
        let log = dir.path().join("pdns.log");
        let (stdout, stderr) = log_stdio(&log);
        let child = Command::new(binary)
            .arg(format!("--config-dir={}", dir.path().display()))
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .expect("spawn pdns_server");
        let mut server = PdnsApi {
            child,
            _dir: dir,
            log,
            dns,
            api,
        };
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Some(status) = server.child.try_wait().expect("poll pdns_server") {
                panic!("pdns_server exited with {status}:\n{}", file_tail(&server.log, 40));
            }
            let answer = http_request(api, "GET", "/api/v1/servers/localhost", &[("X-API-Key", key)], b"");
            if answer.is_ok_and(|answer| answer.status == 200) {
                return server;
            }
            assert!(
                Instant::now() < deadline,
                "the PowerDNS API did not answer within {STARTUP_TIMEOUT:?}"
            );
            thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for PdnsApi {
    fn drop(&mut self) {
        stop_and_report(&mut self.child, "pdns_server", &self.log, 40);
    }
}
