//! delv (bind9-dnsutils) as the judge of DNSSEC chains: trust anchors made
//! from a server's served keys, and whether a name validates from them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::process::require;

/// Writes a delv trust-anchor file into `dir` holding the SEP keys (flags
/// 257) `zone` serves at `dns`; returns its path.
pub fn anchor_file(dns: SocketAddr, zone: &str, dir: &Path) -> PathBuf {
    let output = Command::new(require("dig", "bind9-dnsutils"))
        .args([&format!("@{}", dns.ip()), "-p", &dns.port().to_string()])
        .args([zone, "DNSKEY", "+short", "+norec"])
        .output()
        .expect("dig runs");
    let mut text = String::from("trust-anchors {\n");
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() >= 4 && fields[0] == "257" {
            text.push_str(&format!(
                "  {zone}. static-key {} {} {} \"{}\";\n",
                fields[0],
                fields[1],
                fields[2],
                fields[3..].concat()
            ));
        }
    }
    text.push_str("};\n");
    let path = dir.join(format!("{zone}.anchors"));
    std::fs::write(&path, text).expect("anchors written");
    path
}

/// Whether delv, asking `dns`, validates `name` A from `root`'s anchors;
/// the error is delv's output.
pub fn validates(dns: SocketAddr, anchors: &Path, root: &str, name: &str) -> Result<String, String> {
    validates_type(dns, anchors, root, name, "A")
}

/// Whether delv, asking `dns`, validates the `qtype` answer for `name`
/// (data or a proven denial) from `root`'s anchors; the error is delv's
/// output.
pub fn validates_type(dns: SocketAddr, anchors: &Path, root: &str, name: &str, qtype: &str) -> Result<String, String> {
    let output = Command::new(require("delv", "bind9-dnsutils"))
        .arg(format!("@{}", dns.ip()))
        .args(["-p", &dns.port().to_string(), "-a"])
        .arg(anchors)
        .arg(format!("+root={root}"))
        .args([name, qtype])
        .output()
        .map_err(|error| format!("delv: {error}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if text.contains("fully validated") && !text.contains("resolution failed") {
        Ok(text)
    } else {
        Err(text)
    }
}
