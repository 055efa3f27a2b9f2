//! certbot's `dns-rfc2136` plugin (PyPI `certbot-dns-rfc2136`) against
//! pooldns: its client's perform and cleanup steps (no ACME server needed)
//! add and delete a challenge's TXT record with TSIG-signed UPDATEs; a key
//! it does not hold gets nothing changed.

use std::process::Command;

use testkit::{Pooldns, PooldnsOptions};

const SECRET: &str = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ=";
const WRONG: &str = "d3Jvbmctd3Jvbmctd3Jvbmctd3Jvbmctd3Jvbmct";

fn certbot(server: &Pooldns, secret: &str, step: &str, content: &str) -> (bool, String) {
    let python = testkit::require(
        "certbot-python",
        "(none: the Python of a venv with PyPI certbot-dns-rfc2136, which .ci/run installs)",
    );
    let output = Command::new(python)
        .arg(testkit::data_path("certbot_rfc2136.py"))
        .args([
            &server.dns.ip().to_string(),
            &server.dns.port().to_string(),
            "acme-update",
            secret,
            step,
        ])
        .args(["_acme-challenge.www.cert.test", content])
        .output()
        .expect("python runs");
    (
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

#[test]
fn certbot_rfc2136_perform_and_cleanup() {
    let zones = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        zones.path().join("cert.test.zone"),
        "$ORIGIN cert.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 900 1209600 300\n@ NS ns1\nns1 A 192.0.2.53\n",
    )
    .expect("zone");
    let mut options = PooldnsOptions::new(zones.path());
    options.extra_config = format!(
        "\n[[tsig]]\nname = \"acme-update\"\nalgorithm = \"hmac-sha256\"\nsecret = \"{SECRET}\"\n\
         [[update.grants]]\nkey = \"acme-update\"\nzone = \"cert.test\"\nnames = [\"_acme-challenge.*\"]\ntypes = [\"TXT\"]\n"
    );
    let server = Pooldns::start_with(options);

    let (ok, text) = certbot(&server, SECRET, "perform", "challenge-token-1");
    assert!(ok, "{text}");
    testkit::dig::wait_short(
        server.dns,
        "_acme-challenge.www.cert.test",
        "TXT",
        &["\"challenge-token-1\""],
    );
    let (ok, text) = certbot(&server, WRONG, "perform", "forged");
    assert!(!ok, "a wrong secret was accepted: {text}");
    let (ok, text) = certbot(&server, SECRET, "cleanup", "challenge-token-1");
    assert!(ok, "{text}");
    testkit::dig::wait_short(server.dns, "_acme-challenge.www.cert.test", "TXT", &[]);
}
