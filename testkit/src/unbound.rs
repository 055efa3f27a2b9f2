//! Unbound as a validating resolver: the judge of pooldns's signatures.

use std::fs::{self, File};
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use tempfile::TempDir;

use crate::client::{encode_query, next_id, parse_name, read_frame, write_frame, QueryOptions};
use crate::process::{free_port, require};
use crate::STARTUP_TIMEOUT;

/// How long Unbound may take to resolve and validate one query, including
/// the retries it makes when validation fails.
pub const RESOLVE_TIMEOUT: Duration = Duration::from_secs(30);

/// Log lines of Unbound printed when a test fails while it runs.
const UNBOUND_LOG_TAIL_LINES: usize = 60;

/// A record Unbound serves itself, to tell when it is ready.
const UNBOUND_READY_NAME: &str = "ready.harness.unbound";

/// A validating Unbound on a loopback port, killed when dropped.
pub struct Unbound {
    child: Child,
    dir: TempDir,
    log: PathBuf,
    /// Address Unbound answers on (UDP and TCP).
    pub addr: SocketAddr,
}

impl Unbound {
    /// Starts Unbound with `anchors` (DS records as zone-file lines) as its
    /// only trust anchors and a stub zone for each `(zone, server)`, and
    /// waits until it answers.
    pub fn start(anchors: &[String], stubs: &[(&str, SocketAddr)]) -> Unbound {
        let binary = require("unbound", "unbound");
        let dir = tempfile::Builder::new()
            .prefix("unbound-test-")
            .tempdir()
            .expect("create temporary directory");
        let addr: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let log = dir.path().join("unbound.log");
        let directory = dir.path().display().to_string();

        let mut config = String::new();
        let mut line = |text: String| {
            config.push_str(&text);
            config.push('\n');
        };
        line("server:".into());
        line(format!("    interface: {}", addr.ip()));
        line(format!("    port: {}", addr.port()));
        line("    do-ip6: no".into());
        line("    num-threads: 1".into());
        line("    so-reuseport: no".into());
        line("    do-not-query-localhost: no".into());
        line("    module-config: \"validator iterator\"".into());
        for anchor in anchors {
            line(format!("    trust-anchor: \"{anchor}\""));
        }
        line("    trust-anchor-signaling: no".into());
        line("    val-log-level: 2".into());
        line("    verbosity: 1".into());
        line("    username: \"\"".into());
        line("    chroot: \"\"".into());
        line(format!("    directory: \"{directory}\""));
        line(format!("    pidfile: \"{directory}/unbound.pid\""));
        line(format!("    logfile: \"{}\"", log.display()));
        line("    use-syslog: no".into());
        // `test.` is one of Unbound's default local zones (RFC 6761); without
        // this it would answer NXDOMAIN itself.
        line("    local-zone: \"test.\" nodefault".into());
        line("    local-zone: \"harness.unbound.\" static".into());
        line(format!("    local-data: \"{UNBOUND_READY_NAME}. 60 IN A 127.0.0.1\""));
        for (zone, server) in stubs {
            line("stub-zone:".into());
            line(format!("    name: \"{zone}\""));
            line(format!("    stub-addr: {}@{}", server.ip(), server.port()));
        }

        let config_path = dir.path().join("unbound.conf");
        fs::write(&config_path, &config).expect("write unbound.conf");
        let output = File::create(dir.path().join("unbound.out")).expect("create unbound.out");
        let child = Command::new(&binary)
            .arg("-d")
            .arg("-c")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(output.try_clone().expect("clone file handle"))
            .stderr(output)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", binary.display()));
        let mut unbound = Unbound { child, dir, log, addr };
        unbound.wait_ready();
        unbound
    }

    /// Waits until Unbound answers its own local record.
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll unbound") {
                panic!(
                    "unbound exited during start-up with {status} (where AppArmor confines /usr/sbin/unbound \
                     it cannot read its configuration from a temporary directory: point $UNBOUND at a copy \
                     of the binary)"
                );
            }
            if let Ok(reply) = self.try_resolve(UNBOUND_READY_NAME, RecordType::A, Duration::from_millis(500)) {
                if reply.response_code == ResponseCode::NoError && !reply.answers.is_empty() {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "unbound did not answer on {} within {STARTUP_TIMEOUT:?}",
                self.addr
            );
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// Sends a recursive query with DO set over TCP and returns the reply.
    pub fn try_resolve(&self, name: &str, qtype: RecordType, timeout: Duration) -> io::Result<Message> {
        let mut wire = encode_query(next_id(), &parse_name(name), qtype, &QueryOptions::tcp().dnssec_ok());
        wire[2] |= 0x01; // RD: ask Unbound to resolve
        let mut stream = TcpStream::connect_timeout(&self.addr, timeout)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        write_frame(&mut stream, &wire)?;
        let reply = read_frame(&mut stream)?
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "unbound closed the connection"))?;
        Message::from_vec(&reply).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))
    }

    /// Resolves `name`/`qtype`; panics if Unbound gives no reply.
    pub fn resolve(&self, name: &str, qtype: RecordType) -> Message {
        self.try_resolve(name, qtype, RESOLVE_TIMEOUT)
            .unwrap_or_else(|e| panic!("{name} {qtype} through unbound on {}: {e}", self.addr))
    }

    /// Everything Unbound logged so far.
    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The lines of the log about validation, for failure messages.
    pub fn validation_log(&self) -> String {
        let text = self.log_text();
        let lines: Vec<&str> = text
            .lines()
            .filter(|line| line.contains("validat") || line.contains("error") || line.contains("fail"))
            .collect();
        let lines = &lines[lines.len().saturating_sub(20)..];
        if lines.is_empty() {
            "(unbound logged nothing about validation)".into()
        } else {
            format!("unbound log:\n{}", lines.join("\n"))
        }
    }
}

impl Drop for Unbound {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
        if thread::panicking() {
            let text = format!(
                "{}{}",
                fs::read_to_string(self.dir.path().join("unbound.out")).unwrap_or_default(),
                self.log_text()
            );
            let lines: Vec<&str> = text.lines().collect();
            eprintln!(
                "---- last {UNBOUND_LOG_TAIL_LINES} lines of the unbound log ----\n{}\n---- end of unbound log ----",
                lines[lines.len().saturating_sub(UNBOUND_LOG_TAIL_LINES)..].join("\n")
            );
        }
    }
}
