//! dig (bind9-dnsutils) as the tests' look at what a server answers.

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::process::require;

/// The answer lines of `dig +short +norec`, sorted.
pub fn short(dns: SocketAddr, name: &str, qtype: &str) -> Vec<String> {
    let output = Command::new(require("dig", "bind9-dnsutils"))
        .args([&format!("@{}", dns.ip()), "-p", &dns.port().to_string()])
        .args([name, qtype, "+short", "+norec", "+time=2", "+tries=1"])
        .output()
        .expect("dig runs");
    let mut lines: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    lines.sort();
    lines
}

/// dig's whole output for `args` against `dns`, one try of 3 s.
pub fn output(dns: SocketAddr, args: &[&str]) -> String {
    let output = Command::new(require("dig", "bind9-dnsutils"))
        .args([
            &format!("@{}", dns.ip()),
            "-p",
            &dns.port().to_string(),
            "+time=3",
            "+tries=1",
        ])
        .args(args)
        .output()
        .expect("dig runs");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The answer section of `dig +dnssec +norec`, one record per line with
/// single spaces.
pub fn dnssec_answer(dns: SocketAddr, name: &str, qtype: &str) -> Vec<String> {
    let output = Command::new(require("dig", "bind9-dnsutils"))
        .args([&format!("@{}", dns.ip()), "-p", &dns.port().to_string()])
        .args([
            name, qtype, "+dnssec", "+norec", "+noall", "+answer", "+time=2", "+tries=1",
        ])
        .output()
        .expect("dig runs");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

/// Polls [`short`] until it answers `wanted` (sorted), for up to 10 s: a
/// change reaches the answers within a moment, not at once.
pub fn wait_short(dns: SocketAddr, name: &str, qtype: &str, wanted: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = short(dns, name, qtype);
        if got == wanted {
            return;
        }
        assert!(Instant::now() < deadline, "{name} {qtype}: {got:?}, wanted {wanted:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
