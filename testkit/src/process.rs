//! Child processes and the resources tests share: free loopback ports,
//! log files, peer programs that must be installed.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

/// Whether the tests run under continuous integration, where every peer
/// program and database must be there.
pub fn under_ci() -> bool {
    std::env::var_os("CI").is_some()
}

/// The path of `program`, which the Debian package `package` installs;
/// `$ENV_NAME` (the program's name in capitals) points elsewhere. Panics
/// with what to install when it is missing: a test never passes without
/// the peer it needs.
pub fn require(program: &str, package: &str) -> PathBuf {
    let variable = program.to_ascii_uppercase().replace('-', "_");
    if let Some(path) = std::env::var_os(&variable) {
        return PathBuf::from(path);
    }
    let found = [
        "/usr/sbin",
        "/usr/bin",
        "/sbin",
        "/bin",
        "/usr/local/bin",
        "/usr/local/sbin",
    ]
    .iter()
    .map(|dir| Path::new(dir).join(program))
    .find(|path| path.exists());
    found.unwrap_or_else(|| {
        panic!(
            "{program} is missing: install the Debian package `{package}` (`bash .ci/run` installs every peer \
             the tests use), or point ${variable} at the program"
        )
    })
}

/// The PostgreSQL URL of the store tests (`POOLDNS_TEST_PG_URL`). Under
/// CI a missing URL fails the test; elsewhere the PostgreSQL half is
/// skipped, saying so.
pub fn postgres_url(test: &str) -> Option<String> {
    match std::env::var("POOLDNS_TEST_PG_URL") {
        Ok(url) => Some(url),
        Err(_) if under_ci() => panic!(
            "{test}: POOLDNS_TEST_PG_URL is not set under CI; set it to a PostgreSQL database such as \
             postgres://postgres@127.0.0.1:5432/test"
        ),
        Err(_) => {
            eprintln!("{test}: POOLDNS_TEST_PG_URL is not set: the PostgreSQL half does not run here");
            None
        }
    }
}

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

/// Returns the last `lines` lines of the file at `path` (or a note why not).
pub(crate) fn file_tail(path: &Path, lines: usize) -> String {
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
pub(crate) fn log_stdio(path: &Path) -> (Stdio, Stdio) {
    // Appending: a restarted process continues the same log.
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
    let clone = file.try_clone().expect("clone log file handle");
    (Stdio::from(clone), Stdio::from(file))
}

/// Sends SIGTERM to a process (through kill(1), to avoid a libc dependency).
pub(crate) fn send_sigterm(pid: u32) {
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("run kill(1)");
    assert!(status.success(), "kill -TERM {pid} failed: {status}");
}

/// Kills a child unless it already exited and reaps it.
pub(crate) fn kill_and_reap(child: &mut Child) {
    if let Ok(None) = child.try_wait() {
        let _ = child.kill();
    }
    let _ = child.wait();
}

/// Stops a peer program; during a panic, prints the end of its log so a
/// failing test shows what the peer said.
pub(crate) fn stop_and_report(child: &mut Child, program: &str, log: &Path, lines: usize) {
    kill_and_reap(child);
    if std::thread::panicking() {
        eprintln!(
            "---- last {lines} lines of the {program} log ({}) ----\n{}\n---- end of {program} log ----",
            log.display(),
            file_tail(log, lines)
        );
    }
}

/// Escapes `s` as a TOML basic string (including the quotes).
pub(crate) fn toml_string(s: &str) -> String {
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
