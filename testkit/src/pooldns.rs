//! `pooldns` itself: its command line, and `pooldns serve` on free
//! loopback ports with a throw-away configuration and SQLite store.

use std::fmt::Write as _;
use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::http::{http_get, HttpResponse};
use crate::process::{free_port, log_stdio, send_sigterm, stop_and_report, toml_string};
use crate::STARTUP_TIMEOUT;

/// Number of log lines printed when a test fails while pooldns runs.
const LOG_TAIL_LINES: usize = 80;

/// Path of the `pooldns` binary Cargo built beside the running test: the
/// test executable sits in `target/<profile>/deps`, the binary one level up.
pub fn pooldns_bin() -> PathBuf {
    let test = std::env::current_exe().expect("path of the running test");
    let profile = test
        .parent()
        .and_then(Path::parent)
        .expect("tests run from target/<profile>/deps");
    let binary = profile.join("pooldns");
    assert!(
        binary.exists(),
        "{} is missing: the pooldns package's tests build it (cargo test -p pooldns)",
        binary.display()
    );
    binary
}

/// Environment variables that override the configuration file; they are
/// removed from every `pooldns` the tests run, so that the developer's
/// environment cannot redirect a test to another store or port.
const CONFIG_OVERRIDES: [&str; 4] = [
    "POOLDNS_CONFIG",
    "POOLDNS_DNS_LISTEN",
    "POOLDNS_API_LISTEN",
    "POOLDNS_STORE_URL",
];

/// A `pooldns` command with no standard input and no configuration
/// overrides from the environment.
fn pooldns_command() -> Command {
    let mut command = Command::new(pooldns_bin());
    command.stdin(Stdio::null());
    for name in CONFIG_OVERRIDES {
        command.env_remove(name);
    }
    command
}

/// Starts `pooldns serve --config <config>`, its output appended to `log`.
fn spawn_serve(config: &Path, log: &Path) -> Child {
    let (stdout, stderr) = log_stdio(log);
    let mut command = pooldns_command();
    command
        .arg("serve")
        .arg("--config")
        .arg(config)
        .stdout(stdout)
        .stderr(stderr);
    if std::env::var_os("POOLDNS_LOG").is_none() {
        command.env("POOLDNS_LOG", "debug");
    }
    command.spawn().expect("spawn pooldns serve")
}

/// Runs the `pooldns` command line with `args` and returns its output.
///
/// Nothing is added to `args`; use [`Pooldns::cli`] to run a command against
/// the configuration of a running server.
pub fn run_cli(args: &[&str]) -> Output {
    pooldns_command()
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run pooldns {args:?}: {e}"))
}

/// How a [`Pooldns`] instance is configured.
#[derive(Clone, Debug)]
pub struct PooldnsOptions {
    /// `[zones] directory`: every `*.zone` file there is imported into an
    /// empty store at start-up.
    pub zones_dir: PathBuf,
    /// `[store] url`; `None` uses a fresh SQLite file in the instance's
    /// temporary directory.
    pub store_url: Option<String>,
    /// `[store] poll_interval_ms`; `None` keeps the default.
    pub store_poll_ms: Option<u64>,
    /// Whether starting waits for `/readyz` (every zone loaded); `false`
    /// waits only until the DNS listener answers.
    pub wait_ready: bool,
    /// `[dns] tcp_idle_timeout` in seconds; `None` keeps the default.
    pub tcp_idle_timeout: Option<u64>,
    /// Further lines of the `[dns]` section, e.g. `ecs = true` (a TOML table
    /// cannot be reopened by `extra_config`).
    pub dns_config: String,
    /// Further lines of the `[api]` section.
    pub api_config: String,
    /// TOML appended to the generated configuration (whole sections).
    pub extra_config: String,
}

impl PooldnsOptions {
    /// Options serving the zone files of `zones_dir` from a fresh SQLite store.
    pub fn new(zones_dir: impl Into<PathBuf>) -> Self {
        Self {
            zones_dir: zones_dir.into(),
            store_url: None,
            store_poll_ms: None,
            wait_ready: true,
            tcp_idle_timeout: None,
            dns_config: String::new(),
            api_config: String::new(),
            extra_config: String::new(),
        }
    }
}

/// A running `pooldns serve`, killed when dropped.
///
/// Its stdout and stderr go to a log file in its temporary directory; the
/// end of that log is printed when the instance is dropped during a panic,
/// which is how a failing test shows what the server was doing.
pub struct Pooldns {
    child: Child,
    dir: TempDir,
    config: PathBuf,
    log: PathBuf,
    /// Address of the DNS listener (UDP and TCP).
    pub dns: SocketAddr,
    /// Address of the HTTP API.
    pub api: SocketAddr,
}

impl Pooldns {
    /// Serves the zone files of `zones_dir` from a fresh SQLite store and
    /// waits until `/readyz` answers 200.
    pub fn start(zones_dir: &Path) -> Self {
        Self::start_with(PooldnsOptions::new(zones_dir))
    }

    /// Like [`Pooldns::start`], with explicit options.
    pub fn start_with(options: PooldnsOptions) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("pooldns-test-")
            .tempdir()
            .expect("create temporary directory");
        let dns: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let api: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let zones_dir = fs::canonicalize(&options.zones_dir)
            .unwrap_or_else(|e| panic!("zones directory {}: {e}", options.zones_dir.display()));
        let store_url = options
            .store_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("pooldns.db").display()));

        let mut config = String::new();
        writeln!(config, "[dns]").unwrap();
        writeln!(config, "listen = [{}]", toml_string(&dns.to_string())).unwrap();
        if let Some(seconds) = options.tcp_idle_timeout {
            writeln!(config, "tcp_idle_timeout = {seconds}").unwrap();
        }
        config.push_str(&options.dns_config);
        if !options.dns_config.is_empty() && !options.dns_config.ends_with('\n') {
            config.push('\n');
        }
        writeln!(config, "\n[api]").unwrap();
        writeln!(config, "listen = {}", toml_string(&api.to_string())).unwrap();
        config.push_str(&options.api_config);
        if !options.api_config.is_empty() && !options.api_config.ends_with('\n') {
            config.push('\n');
        }
        writeln!(config, "\n[store]").unwrap();
        writeln!(config, "url = {}", toml_string(&store_url)).unwrap();
        if let Some(ms) = options.store_poll_ms {
            writeln!(config, "poll_interval_ms = {ms}").unwrap();
        }
        writeln!(config, "\n[zones]").unwrap();
        writeln!(config, "directory = {}", toml_string(&zones_dir.to_string_lossy())).unwrap();
        config.push_str(&options.extra_config);

        let config_path = dir.path().join("pooldns.toml");
        fs::write(&config_path, config).expect("write pooldns.toml");
        let log = dir.path().join("pooldns.log");
        let child = spawn_serve(&config_path, &log);

        let mut server = Self {
            child,
            dir,
            config: config_path,
            log,
            dns,
            api,
        };
        if options.wait_ready {
            server.wait_ready();
        } else {
            server.wait_listening();
        }
        server
    }

    /// Polls the DNS listener until it answers any query.
    fn wait_listening(&mut self) {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        let query = crate::client::encode_query(
            crate::client::next_id(),
            &crate::client::parse_name("."),
            hickory_proto::rr::RecordType::SOA,
            &crate::client::QueryOptions::udp(),
        );
        loop {
            if let Some(status) = self.child.try_wait().expect("poll pooldns") {
                panic!("pooldns exited during start-up with {status}");
            }
            if let Ok(Some(_)) = crate::client::udp_exchange(self.dns, &query, Duration::from_millis(200)) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "pooldns did not answer DNS on {} in time",
                self.dns
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the process with SIGKILL, as a crash or an OOM kill would, and
    /// reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the server again on the same configuration, store and
    /// ports (after [`Pooldns::kill`] or [`Pooldns::terminate`]) and waits
    /// until it is ready. The log continues in the same file.
    pub fn restart(&mut self) {
        self.kill();
        self.child = spawn_serve(&self.config, &self.log);
        self.wait_ready();
    }

    /// Polls `/readyz` until it answers 200, panicking with the log if the
    /// process exits or [`STARTUP_TIMEOUT`] passes first.
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll pooldns") {
                panic!("pooldns exited during start-up with {status}");
            }
            if let Ok(response) = http_get(self.api, "/readyz") {
                if response.status == 200 {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "pooldns did not report ready on http://{}/readyz within {STARTUP_TIMEOUT:?}",
                self.api
            );
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// Path of the configuration file the server runs with.
    pub fn config_path(&self) -> &Path {
        &self.config
    }

    /// The instance's temporary directory (removed on drop).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Everything the server logged so far.
    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Runs the command line with `args` followed by `--config FILE`.
    pub fn cli(&self, args: &[&str]) -> Output {
        pooldns_command()
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .output()
            .unwrap_or_else(|e| panic!("run pooldns {args:?}: {e}"))
    }

    /// The command [`Pooldns::cli`] runs, not yet started, for callers that
    /// need to bound how long it may take or redirect its output.
    pub fn cli_command(&self, args: &[&str]) -> Command {
        let mut command = pooldns_command();
        command.args(args).arg("--config").arg(&self.config);
        command
    }

    /// Like [`Pooldns::cli`], panicking unless the command succeeds; returns
    /// its standard output.
    pub fn cli_ok(&self, args: &[&str]) -> String {
        let output = self.cli(args);
        assert!(
            output.status.success(),
            "pooldns {args:?} failed with {}\nstdout:\n{}\nstderr:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// GET `path` from the API.
    pub fn http_get(&self, path: &str) -> HttpResponse {
        http_get(self.api, path).unwrap_or_else(|e| panic!("GET http://{}{path}: {e}", self.api))
    }

    /// The process's resident memory in KiB (VmRSS).
    pub fn resident_kib(&self) -> u64 {
        let status = fs::read_to_string(format!("/proc/{}/status", self.child.id())).expect("/proc status");
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.split_whitespace().next()?.parse().ok())
            .expect("VmRSS")
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends SIGTERM and waits up to `timeout` for the process to exit.
    pub fn terminate(&mut self, timeout: Duration) -> ExitStatus {
        send_sigterm(self.child.id());
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll pooldns") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "pooldns did not exit within {timeout:?} of SIGTERM"
            );
            thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Pooldns {
    fn drop(&mut self) {
        stop_and_report(&mut self.child, "pooldns", &self.log, LOG_TAIL_LINES);
    }
}
