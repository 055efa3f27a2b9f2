//! A `pooldns serve` managing one pool domain, and the calls the pool
//! tests make to it: JSON over HTTP, dig, and the CLI.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

use crate::http::http_request;
use crate::pooldns::{Pooldns, PooldnsOptions};
use crate::process::require;

/// The key that may do everything.
pub const OPERATOR_KEY: &str = "pool-operator-key-5d1c";
/// A read-only key.
pub const READER_KEY: &str = "pool-reader-key-77aa";

/// A pool domain no other test (or earlier run against a shared
/// PostgreSQL) uses.
pub fn unique_pool(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.subsec_nanos());
    format!("{tag}{}x{nanos}.test", std::process::id())
}

/// How a [`PoolServer`] is configured.
#[derive(Clone, Debug, Default)]
pub struct PoolOptions {
    /// `[store] url`; `None` is a fresh SQLite file.
    pub store_url: Option<String>,
    /// Lines added to the `[pool]` section.
    pub pool: String,
    /// Lines added to the `[api]` section.
    pub api: String,
    /// Whole TOML sections appended to the configuration.
    pub extra: String,
    /// Whether the pool domain's zone is served (and signed) here.
    pub serve_parent: bool,
    /// The pool domain; `None` makes up a fresh one.
    pub domain: Option<String>,
    /// The base URL of a Cloudflare mock hosting `example.com`: the pool is
    /// `example.com`, delegated there with the mock's token.
    pub cloudflare: Option<String>,
}

/// A running server managing `pool`.
pub struct PoolServer {
    pub server: Pooldns,
    pub pool: String,
    dir: TempDir,
    /// Whether the store is a PostgreSQL database other tests share.
    shared_store: bool,
}

impl PoolServer {
    /// Starts a server managing a pool domain (by default a fresh
    /// `<tag>….test`), with
    /// name servers `ns1`/`ns2` inside it; with `serve_parent` the pool's
    /// zone is imported and secured first.
    pub fn start(tag: &str, options: PoolOptions) -> PoolServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let zones = dir.path().join("zones");
        std::fs::create_dir(&zones).expect("zones dir");
        let mut options = options;
        if let Some(base_url) = &options.cloudflare {
            let credential = dir.path().join("cloudflare-token");
            std::fs::write(&credential, crate::mocks::cloudflare::TOKEN).expect("credential");
            options.domain = Some("example.com".into());
            writeln!(
                options.extra,
                "[pool.delegation.\"example.com\"]\nregistrar = \"cloudflare\"\ncredential_file = \"{}\"\n\
                 [registrars.cloudflare]\nbase_url = \"{base_url}\"",
                credential.display()
            )
            .expect("write");
        }
        let pool = options.domain.clone().unwrap_or_else(|| unique_pool(tag));
        let mut config = String::new();
        writeln!(
            config,
            "\n[[api.keys]]\nname = \"operator\"\nkey = \"{OPERATOR_KEY}\"\nany_nameservers = true\n\
             [[api.keys]]\nname = \"reader\"\nkey = \"{READER_KEY}\"\nread_only = true\n\
             [health]\ninterval = 1\ntimeout = 1\n\
             [pool]\ndomains = [\"{pool}\"]\nnameservers = [\"ns1.{pool}\", \"ns2.{pool}\"]\nreconcile_interval = 1\n{}\n{}",
            options.pool, options.extra
        )
        .expect("write");
        let mut server_options = PooldnsOptions::new(&zones);
        let shared_store = options.store_url.is_some();
        server_options.store_url = options.store_url;
        server_options.api_config = options.api;
        server_options.extra_config = config;
        let server = Pooldns::start_with(server_options);
        let started = PoolServer {
            server,
            pool,
            dir,
            shared_store,
        };
        if options.serve_parent {
            started.serve_parent();
        }
        started
    }

    /// Imports and secures the pool domain's zone.
    pub fn serve_parent(&self) {
        let pool = &self.pool;
        let file = self.dir.path().join("pool.zone");
        std::fs::write(
            &file,
            format!(
                "$ORIGIN {pool}.\n$TTL 3600\n@ SOA ns1 hostmaster 1 3600 900 1209600 300\n@ NS ns1\n@ NS ns2\n\
                 ns1 A 127.0.0.1\nns2 A 127.0.0.2\n"
            ),
        )
        .expect("zone file");
        self.server.cli_ok(&["zone", "import", path(&file)]);
        self.server.cli_ok(&["zone", "secure", pool]);
    }

    /// A scratch directory that lives as long as the server.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Sends `body` as JSON (or nothing) with `key`; returns the status and
    /// the JSON answer (`Null` when it is not JSON).
    pub fn call(&self, method: &str, path: &str, key: Option<&str>, body: Option<&Value>) -> (u16, Value) {
        let body = body.map(|body| body.to_string()).unwrap_or_default();
        self.raw(method, path, key, Some("application/json"), body.as_bytes())
    }

    /// Like [`PoolServer::call`] with any content type and body.
    pub fn raw(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        content_type: Option<&str>,
        body: &[u8],
    ) -> (u16, Value) {
        let mut headers = Vec::new();
        if let Some(key) = key {
            headers.push(("X-API-Key", key));
        }
        if let Some(content_type) = content_type.filter(|_| !body.is_empty()) {
            headers.push(("Content-Type", content_type));
        }
        let response = http_request(self.server.api, method, path, &headers, body)
            .unwrap_or_else(|error| panic!("{method} {path}: {error}"));
        (
            response.status,
            serde_json::from_str(&response.body).unwrap_or(Value::Null),
        )
    }

    /// `/api/v1/pool/<pool>/<action>`.
    pub fn route(&self, action: &str) -> String {
        format!("/api/v1/pool/{}/{action}", self.pool)
    }

    /// Reserves `sub` with the operator key; returns its token.
    pub fn reserve(&self, sub: &str) -> String {
        let (status, body) = self.call(
            "POST",
            &self.route("reserve"),
            Some(OPERATOR_KEY),
            Some(&serde_json::json!({ "subdomain": sub })),
        );
        assert_eq!(status, 201, "reserve {sub}: {body}");
        body["reservationToken"].as_str().expect("token").to_string()
    }

    /// Commits `sub` to `ip` with the operator key.
    pub fn commit(&self, sub: &str, token: &str, ip: &str) -> Value {
        let (status, body) = self.call(
            "POST",
            &self.route("commit"),
            Some(OPERATOR_KEY),
            Some(&serde_json::json!({
                "subdomain": sub, "reservationToken": token,
                "sovereignFQDN": format!("{sub}.{}", self.pool), "loadBalancerIP": ip,
            })),
        );
        assert_eq!(status, 200, "commit {sub}: {body}");
        body
    }

    /// `dig +norec <name> <qtype>` against the server, whole output.
    pub fn dig(&self, name: &str, qtype: &str, extra: &[&str]) -> String {
        let output = Command::new(require("dig", "bind9-dnsutils"))
            .args([
                &format!("@{}", self.server.dns.ip()),
                "-p",
                &self.server.dns.port().to_string(),
            ])
            .args([name, qtype, "+norec", "+time=2", "+tries=1"])
            .args(extra)
            .output()
            .expect("dig runs");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// The answer lines of `dig +short`, sorted.
    pub fn dig_short(&self, name: &str, qtype: &str) -> Vec<String> {
        crate::dig::short(self.server.dns, name, qtype)
    }

    /// Zone names in the store.
    pub fn zones(&self) -> Vec<String> {
        self.server
            .cli_ok(&["zone", "list"])
            .lines()
            .filter_map(|line| line.split('\t').next())
            .map(str::to_string)
            .collect()
    }
}

impl Drop for PoolServer {
    /// Takes the pool's zones out of a shared database, so that it does
    /// not grow with every run (every server loads every zone at start).
    fn drop(&mut self) {
        if !self.shared_store {
            return;
        }
        let suffix = format!(".{}.", self.pool);
        let parent = format!("{}.", self.pool);
        let listed = self.server.cli(&["zone", "list"]);
        let listed = String::from_utf8_lossy(&listed.stdout);
        for zone in listed.lines().filter_map(|line| line.split('\t').next()) {
            if zone.ends_with(&suffix) || zone == parent {
                let _ = self.server.cli(&["zone", "delete", zone]);
            }
        }
    }
}

/// Polls `done` every 100 ms until it holds, panicking with `what` after
/// `limit`.
pub fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        thread::sleep(Duration::from_millis(100));
    }
}

fn path(file: &Path) -> &str {
    file.to_str().expect("UTF-8 path")
}
