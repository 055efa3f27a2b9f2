//! The host install files of `contrib/`: the systemd unit is one systemd
//! accepts, and its sandboxing keeps the service's exposure low.

use std::process::Command;

/// The unit with `ExecStart` pointing at the built binary, in a temporary
/// directory.
fn unit_file(dir: &std::path::Path) -> std::path::PathBuf {
    let unit = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/contrib/pooldns.service")).expect("unit");
    let path = dir.join("pooldns.service");
    let binary = testkit::pooldns_bin();
    std::fs::write(
        &path,
        unit.replace("/usr/local/bin/pooldns", &binary.display().to_string()),
    )
    .expect("write");
    path
}

#[test]
fn the_systemd_unit_is_valid_and_sandboxed() {
    let analyze = testkit::require("systemd-analyze", "systemd");
    let dir = tempfile::tempdir().expect("tempdir");
    let unit = unit_file(dir.path());
    let verified = Command::new(&analyze).arg("verify").arg(&unit).output().expect("runs");
    assert!(
        verified.status.success() && verified.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );
    let security = Command::new(&analyze)
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(&unit)
        .output()
        .expect("runs");
    let report = String::from_utf8_lossy(&security.stdout);
    let exposure: f64 = report
        .lines()
        .find_map(|line| line.split("Overall exposure level for pooldns.service:").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|level| level.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in {report}"));
    // systemd rates 0 (sealed) to 10 (unprotected); "OK" ends at 4.9.
    assert!(exposure <= 2.0, "exposure {exposure}:\n{report}");
}
