//! Helpers shared by the integration tests.
//!
//! * [`Pooldns`] runs the `pooldns` binary on free loopback ports with a
//!   throw-away configuration and SQLite store, and [`run_cli`] runs its
//!   command-line interface.
//! * [`Knotd`] runs Knot DNS on the same zone files, as the reference server
//!   of the differential test; [`pdns::PdnsServer`] runs PowerDNS
//!   Authoritative, the reference of the LUA record test.
//! * A small DNS client ([`query`], [`exchange`], [`encode_query`], ...) that
//!   talks raw DNS over UDP and length-framed TCP, so that tests can also
//!   send messages no well-behaved client library would produce.
//! * A minimal HTTP/1.0 client ([`http_get`]) for the API endpoints.
//!
//! Every test crate uses a different subset of these helpers.
#![allow(dead_code)]

pub mod compare;
pub mod pdns;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use hickory_proto::serialize::binary::BinEncodable;
use tempfile::TempDir;

/// How long a server may take to become ready. Generous on purpose: the
/// machines running the tests are shared and may be busy compiling.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// How long to wait for one UDP reply before sending the query again.
pub const UDP_TIMEOUT: Duration = Duration::from_secs(2);

/// How often a UDP query is sent before giving up.
pub const UDP_ATTEMPTS: u32 = 3;

/// Read/write timeout of TCP exchanges.
pub const TCP_TIMEOUT: Duration = Duration::from_secs(10);

/// Number of log lines printed when a test fails while pooldns runs.
const LOG_TAIL_LINES: usize = 80;

/// Number of Knot log lines printed when a test fails while Knot runs; Knot
/// only logs start-up and zone loading, so this shows whether it served.
const KNOT_LOG_TAIL_LINES: usize = 20;

/// Absolute path of a file or directory below `tests/data/`.
pub fn data_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(relative)
}

// ---------------------------------------------------------------------------
// Ports
// ---------------------------------------------------------------------------

/// Ports already handed out by [`free_port`] in this test process, so that
/// tests running in parallel threads never get the same one.
static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// Picks a loopback port that is currently free for both TCP and UDP.
///
/// The port is released before it is returned, so another process could in
/// theory take it in between; the kernel hands out ephemeral ports in a way
/// that makes this unlikely enough for tests.
pub fn free_port() -> u16 {
    loop {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral TCP port");
        let port = listener.local_addr().expect("local address").port();
        if UdpSocket::bind(("127.0.0.1", port)).is_err() {
            continue;
        }
        if HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner()).insert(port) {
            return port;
        }
    }
}

// ---------------------------------------------------------------------------
// Child processes
// ---------------------------------------------------------------------------

/// Returns the last `lines` lines of the file at `path` (or a note why not).
fn file_tail(path: &Path, lines: usize) -> String {
    match fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(e) => format!("<cannot read {}: {e}>", path.display()),
    }
}

/// Opens `path` for a child's stdout and stderr.
fn log_stdio(path: &Path) -> (Stdio, Stdio) {
    let file = File::create(path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
    let clone = file.try_clone().expect("clone log file handle");
    (Stdio::from(clone), Stdio::from(file))
}

/// Sends SIGTERM to a process (through kill(1), to avoid a libc dependency).
fn send_sigterm(pid: u32) {
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("run kill(1)");
    assert!(status.success(), "kill -TERM {pid} failed: {status}");
}

/// Kills a child unless it already exited and reaps it.
fn kill_and_reap(child: &mut Child) {
    if let Ok(None) = child.try_wait() {
        let _ = child.kill();
    }
    let _ = child.wait();
}

/// Escapes `s` as a TOML basic string (including the quotes).
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

// ---------------------------------------------------------------------------
// pooldns
// ---------------------------------------------------------------------------

/// Path of the `pooldns` binary built by Cargo for these tests.
pub fn pooldns_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_pooldns"))
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
    /// `[dns] tcp_idle_timeout` in seconds; `None` keeps the default.
    pub tcp_idle_timeout: Option<u64>,
    /// Further lines of the `[dns]` section, e.g. `ecs = true` (a TOML table
    /// cannot be reopened by `extra_config`).
    pub dns_config: String,
    /// TOML appended to the generated configuration (whole sections).
    pub extra_config: String,
}

impl PooldnsOptions {
    /// Options serving the zone files of `zones_dir` from a fresh SQLite store.
    pub fn new(zones_dir: impl Into<PathBuf>) -> Self {
        Self {
            zones_dir: zones_dir.into(),
            store_url: None,
            tcp_idle_timeout: None,
            dns_config: String::new(),
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
        writeln!(config, "\n[store]").unwrap();
        writeln!(config, "url = {}", toml_string(&store_url)).unwrap();
        writeln!(config, "\n[zones]").unwrap();
        writeln!(config, "directory = {}", toml_string(&zones_dir.to_string_lossy())).unwrap();
        config.push_str(&options.extra_config);

        let config_path = dir.path().join("pooldns.toml");
        fs::write(&config_path, config).expect("write pooldns.toml");
        let log = dir.path().join("pooldns.log");
        let (stdout, stderr) = log_stdio(&log);

        let mut command = pooldns_command();
        command
            .arg("serve")
            .arg("--config")
            .arg(&config_path)
            .stdout(stdout)
            .stderr(stderr);
        if std::env::var_os("POOLDNS_LOG").is_none() {
            command.env("POOLDNS_LOG", "debug");
        }
        let child = command.spawn().expect("spawn pooldns serve");

        let mut server = Self {
            child,
            dir,
            config: config_path,
            log,
            dns,
            api,
        };
        server.wait_ready();
        server
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
        kill_and_reap(&mut self.child);
        if thread::panicking() {
            eprintln!(
                "---- last {LOG_TAIL_LINES} lines of the pooldns log ({}) ----\n{}\n---- end of pooldns log ----",
                self.log.display(),
                file_tail(&self.log, LOG_TAIL_LINES)
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Knot DNS
// ---------------------------------------------------------------------------

/// A running Knot DNS server, the reference of the differential test,
/// killed when dropped.
pub struct Knotd {
    child: Child,
    dir: TempDir,
    log: PathBuf,
    /// Address Knot listens on (UDP and TCP).
    pub addr: SocketAddr,
}

impl Knotd {
    /// Path of the `knotd` binary: `$KNOTD`, or the Debian location.
    pub fn binary() -> PathBuf {
        std::env::var_os("KNOTD")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/usr/sbin/knotd"))
    }

    /// Serves `zones` (zone name, zone file) and waits until every zone
    /// answers its SOA authoritatively.
    ///
    /// Knot keeps its run-time state (control socket, timer database) in a
    /// temporary directory, loads each zone file whole, never writes the zone
    /// files back and keeps no journal, so the shared zone files stay
    /// untouched. Only Knot's mandatory semantic checks apply.
    pub fn start(zones: &[(&str, &Path)]) -> Self {
        let binary = Self::binary();
        assert!(
            binary.exists(),
            "{} not found: install Knot DNS (Debian package `knot`) or point $KNOTD at knotd",
            binary.display()
        );
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

        let config_path = dir.path().join("knot.conf");
        fs::write(&config_path, config).expect("write knot.conf");
        let log = dir.path().join("knotd.log");
        let (stdout, stderr) = log_stdio(&log);
        let child = Command::new(&binary)
            .arg("--config")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", binary.display()));

        let mut knot = Self { child, dir, log, addr };
        for (name, _) in zones {
            knot.wait_for_zone(name);
        }
        knot
    }

    /// Waits until Knot answers the SOA of `zone` authoritatively.
    fn wait_for_zone(&mut self, zone: &str) {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        let name = parse_name(zone);
        loop {
            if let Some(status) = self.child.try_wait().expect("poll knotd") {
                panic!("knotd exited during start-up with {status}");
            }
            let query = encode_query(next_id(), &name, RecordType::SOA, &QueryOptions::udp());
            if let Ok(Some(reply)) = udp_exchange(self.addr, &query, Duration::from_millis(500)) {
                if let Ok(message) = Message::from_vec(&reply) {
                    if message.response_code == ResponseCode::NoError && message.authoritative {
                        return;
                    }
                }
            }
            assert!(
                Instant::now() < deadline,
                "knotd did not serve {zone} within {STARTUP_TIMEOUT:?}"
            );
            thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Knotd {
    fn drop(&mut self) {
        kill_and_reap(&mut self.child);
        if thread::panicking() {
            eprintln!(
                "---- last {KNOT_LOG_TAIL_LINES} lines of the knotd log ----\n{}\n---- end of knotd log ----",
                file_tail(&self.log, KNOT_LOG_TAIL_LINES)
            );
        }
    }
}

// ---------------------------------------------------------------------------
// DNS client
// ---------------------------------------------------------------------------

/// How a query travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    Udp,
    Tcp,
}

/// Options of a query built by [`encode_query`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryOptions {
    pub transport: Transport,
    /// UDP payload size advertised in an EDNS(0) OPT record; `None` sends
    /// no OPT record. Values below 512 are sent as they are.
    pub edns_payload: Option<u16>,
    /// The DO bit of the OPT record (RFC 3225).
    pub dnssec_ok: bool,
    /// An EDNS Client Subnet option (RFC 7871): address and source prefix
    /// length; `None` sends none.
    pub client_subnet: Option<(IpAddr, u8)>,
}

impl Default for QueryOptions {
    /// UDP with EDNS(0), a payload size of 1232 and DO clear.
    fn default() -> Self {
        Self {
            transport: Transport::Udp,
            edns_payload: Some(1232),
            dnssec_ok: false,
            client_subnet: None,
        }
    }
}

impl QueryOptions {
    /// The defaults, over UDP.
    pub fn udp() -> Self {
        Self::default()
    }

    /// The defaults, over TCP.
    pub fn tcp() -> Self {
        Self {
            transport: Transport::Tcp,
            ..Self::default()
        }
    }

    /// Sends no OPT record.
    pub fn no_edns(mut self) -> Self {
        self.edns_payload = None;
        self.dnssec_ok = false;
        self.client_subnet = None;
        self
    }

    /// Sends an EDNS Client Subnet option for `address`/`source_prefix`
    /// (adding an OPT record if there was none). Address bits past the
    /// prefix are cleared, as RFC 7871 §6 requires.
    pub fn client_subnet(mut self, address: IpAddr, source_prefix: u8) -> Self {
        self.edns_payload.get_or_insert(1232);
        self.client_subnet = Some((address, source_prefix));
        self
    }

    /// Advertises `size` as the UDP payload size.
    pub fn payload(mut self, size: u16) -> Self {
        self.edns_payload = Some(size);
        self
    }

    /// Sets the DO bit (adding an OPT record if there was none).
    pub fn dnssec_ok(mut self) -> Self {
        self.edns_payload.get_or_insert(1232);
        self.dnssec_ok = true;
        self
    }
}

/// A query ID that differs from the previous ones of this process.
pub fn next_id() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    // Start somewhere that depends on the process so that two test binaries
    // running at the same time do not use the same sequence.
    let offset = (std::process::id() as u16).wrapping_mul(7919);
    NEXT.fetch_add(1, Ordering::Relaxed).wrapping_add(offset)
}

/// Parses a domain name in presentation format, keeping its case; a missing
/// final dot is added.
pub fn parse_name(name: &str) -> Name {
    let fqdn = if name.ends_with('.') {
        name.to_string()
    } else {
        format!("{name}.")
    };
    Name::from_ascii(&fqdn).unwrap_or_else(|e| panic!("invalid domain name {name:?}: {e}"))
}

/// Wire format of `name`, uncompressed and with its case kept.
pub fn name_wire(name: &Name) -> Vec<u8> {
    name.to_bytes().expect("encode name")
}

/// An OPT pseudo-record (RFC 6891 §6.1.2) owned by `owner` (wire format),
/// with no options.
pub fn opt_record(owner: &[u8], payload: u16, version: u8, dnssec_ok: bool) -> Vec<u8> {
    opt_record_with_options(owner, payload, version, dnssec_ok, &[])
}

/// Like [`opt_record`], with `options` (already encoded, see
/// [`client_subnet_option`]) as the RDATA.
pub fn opt_record_with_options(owner: &[u8], payload: u16, version: u8, dnssec_ok: bool, options: &[u8]) -> Vec<u8> {
    let mut rr = owner.to_vec();
    rr.extend_from_slice(&u16::from(RecordType::OPT).to_be_bytes());
    rr.extend_from_slice(&payload.to_be_bytes());
    rr.push(0); // extended RCODE
    rr.push(version);
    rr.extend_from_slice(&(if dnssec_ok { 0x8000u16 } else { 0 }).to_be_bytes());
    let rdlength = u16::try_from(options.len()).expect("EDNS options fit an RDATA");
    rr.extend_from_slice(&rdlength.to_be_bytes());
    rr.extend_from_slice(options);
    rr
}

/// An EDNS Client Subnet option (RFC 7871 §6), code and length included:
/// FAMILY 1 or 2, SOURCE PREFIX-LENGTH, SCOPE PREFIX-LENGTH 0 and the
/// address cut to `ceil(source_prefix / 8)` octets, bits past the prefix
/// cleared. `source_prefix` is clamped to the address width.
pub fn client_subnet_option(address: IpAddr, source_prefix: u8) -> Vec<u8> {
    let (family, octets): (u16, Vec<u8>) = match address {
        IpAddr::V4(v4) => (1, v4.octets().to_vec()),
        IpAddr::V6(v6) => (2, v6.octets().to_vec()),
    };
    let prefix = usize::from(source_prefix).min(octets.len() * 8);
    let mut address: Vec<u8> = octets[..prefix.div_ceil(8)].to_vec();
    if prefix % 8 != 0 {
        if let Some(last) = address.last_mut() {
            *last &= 0xffu8 << (8 - prefix % 8);
        }
    }
    let mut option = Vec::with_capacity(8 + address.len());
    option.extend_from_slice(&8u16.to_be_bytes()); // OPTION-CODE: Client Subnet
    option.extend_from_slice(&((4 + address.len()) as u16).to_be_bytes());
    option.extend_from_slice(&family.to_be_bytes());
    option.push(prefix as u8);
    option.push(0); // SCOPE PREFIX-LENGTH, 0 in queries (RFC 7871 §6)
    option.extend_from_slice(&address);
    option
}

/// Encodes a standard query (opcode QUERY, RD clear, class IN) for `name`
/// and `qtype`. The transport in `options` is not used here.
pub fn encode_query(id: u16, name: &Name, qtype: RecordType, options: &QueryOptions) -> Vec<u8> {
    let additional: u16 = if options.edns_payload.is_some() { 1 } else { 0 };
    let mut wire = Vec::with_capacity(64);
    wire.extend_from_slice(&id.to_be_bytes());
    wire.extend_from_slice(&[0, 0]); // QR=0, opcode QUERY, no flags
    wire.extend_from_slice(&1u16.to_be_bytes()); // QDCOUNT
    wire.extend_from_slice(&0u16.to_be_bytes()); // ANCOUNT
    wire.extend_from_slice(&0u16.to_be_bytes()); // NSCOUNT
    wire.extend_from_slice(&additional.to_be_bytes()); // ARCOUNT
    wire.extend_from_slice(&name_wire(name));
    wire.extend_from_slice(&u16::from(qtype).to_be_bytes());
    wire.extend_from_slice(&1u16.to_be_bytes()); // class IN
    if let Some(payload) = options.edns_payload {
        let subnet = options
            .client_subnet
            .map(|(address, prefix)| client_subnet_option(address, prefix))
            .unwrap_or_default();
        wire.extend_from_slice(&opt_record_with_options(&[0], payload, 0, options.dnssec_ok, &subnet));
    }
    wire
}

/// The ID of a DNS message, if it is long enough to have one.
pub fn message_id(wire: &[u8]) -> Option<u16> {
    wire.get(..2).map(|b| u16::from_be_bytes([b[0], b[1]]))
}

/// Sends `query` once over UDP and waits up to `timeout` for a reply with the
/// same ID. Returns `Ok(None)` on timeout. Datagrams with another ID (late
/// replies to earlier queries) are ignored.
pub fn udp_exchange(addr: SocketAddr, query: &[u8], timeout: Duration) -> io::Result<Option<Vec<u8>>> {
    let socket = UdpSocket::bind("127.0.0.1:0")?;
    socket.connect(addr)?;
    socket.send(query)?;
    let id = message_id(query);
    let deadline = Instant::now() + timeout;
    let mut buf = vec![0u8; 65535];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        socket.set_read_timeout(Some(left))?;
        match socket.recv(&mut buf) {
            Ok(n) if id.is_none() || message_id(&buf[..n]) == id => return Ok(Some(buf[..n].to_vec())),
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => return Ok(None),
            Err(e) => return Err(e),
        }
    }
}

/// Writes one length-framed DNS message (RFC 7766 §8) to a TCP stream.
pub fn write_frame(stream: &mut TcpStream, message: &[u8]) -> io::Result<()> {
    let len = u16::try_from(message.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "message over 65535 octets"))?;
    let mut frame = Vec::with_capacity(message.len() + 2);
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(message);
    stream.write_all(&frame)
}

/// Reads one length-framed DNS message from a TCP stream; `Ok(None)` when
/// the peer closed the connection cleanly before a new frame started.
pub fn read_frame(stream: &mut TcpStream) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 2];
    let mut got = 0;
    while got < 2 {
        match stream.read(&mut len[got..])? {
            0 if got == 0 => return Ok(None),
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => got += n,
        }
    }
    let mut message = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut message)?;
    Ok(Some(message))
}

/// Connects to `addr` over TCP with [`TCP_TIMEOUT`] for every operation.
pub fn tcp_connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&addr, TCP_TIMEOUT)?;
    stream.set_read_timeout(Some(TCP_TIMEOUT))?;
    stream.set_write_timeout(Some(TCP_TIMEOUT))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Sends `query` over a new TCP connection and reads one reply.
pub fn tcp_exchange(addr: SocketAddr, query: &[u8]) -> io::Result<Vec<u8>> {
    let mut stream = tcp_connect(addr)?;
    write_frame(&mut stream, query)?;
    let reply = read_frame(&mut stream)?
        .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed without a reply"))?;
    let _ = stream.shutdown(Shutdown::Both);
    Ok(reply)
}

/// Sends `query` and returns the raw reply. Over UDP the query is sent up to
/// [`UDP_ATTEMPTS`] times, [`UDP_TIMEOUT`] apart, before giving up.
pub fn exchange(addr: SocketAddr, query: &[u8], transport: Transport) -> io::Result<Vec<u8>> {
    match transport {
        Transport::Tcp => tcp_exchange(addr, query),
        Transport::Udp => {
            for _ in 0..UDP_ATTEMPTS {
                if let Some(reply) = udp_exchange(addr, query, UDP_TIMEOUT)? {
                    return Ok(reply);
                }
            }
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no UDP reply from {addr} after {UDP_ATTEMPTS} attempts"),
            ))
        }
    }
}

/// Decodes a DNS message, panicking with a hex dump if it is malformed.
pub fn decode(wire: &[u8]) -> Message {
    Message::from_vec(wire).unwrap_or_else(|e| panic!("undecodable reply ({e}): {}", hex(wire)))
}

/// Sends a query for `name` and `qtype` to `addr` and returns the raw reply,
/// panicking if there is none.
pub fn query_wire(addr: SocketAddr, name: &str, qtype: RecordType, options: &QueryOptions) -> Vec<u8> {
    let query = encode_query(next_id(), &parse_name(name), qtype, options);
    exchange(addr, &query, options.transport)
        .unwrap_or_else(|e| panic!("query {name} {qtype} to {addr} ({options:?}): {e}"))
}

/// Sends a query for `name` and `qtype` to `addr` and returns the decoded
/// reply, panicking if there is none or it does not decode.
pub fn query(addr: SocketAddr, name: &str, qtype: RecordType, options: &QueryOptions) -> Message {
    decode(&query_wire(addr, name, qtype, options))
}

/// Lowercase hexadecimal rendering of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

// ---------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------

/// Status and body of an HTTP response.
#[derive(Clone, Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub body: String,
}

/// A plain HTTP/1.0 GET of `path`; the server closes the connection after
/// the response, so the body is everything after the headers.
pub fn http_get(addr: SocketAddr, path: &str) -> io::Result<HttpResponse> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let invalid = || io::Error::new(io::ErrorKind::InvalidData, format!("bad HTTP response: {text:?}"));
    let (head, body) = text.split_once("\r\n\r\n").ok_or_else(invalid)?;
    let status = head
        .lines()
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(invalid)?;
    Ok(HttpResponse {
        status,
        body: body.to_string(),
    })
}
