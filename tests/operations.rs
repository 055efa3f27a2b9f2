//! How pooldns runs for operators: the API over TLS, and logs as JSON
//! lines for log pipelines.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use testkit::{Pooldns, PooldnsOptions};

/// `url` fetched by curl, trusting only `cert`.
fn https_get(curl: &Path, cert: &Path, url: &str) -> std::process::Output {
    Command::new(curl)
        .args(["-sS", "--max-time", "5", "--cacert"])
        .arg(cert)
        .arg(url)
        .output()
        .expect("curl runs")
}

#[test]
fn the_api_answers_over_tls_and_only_over_tls() {
    let curl = testkit::require("curl", "curl");
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .expect("certificate");
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).expect("write");
    std::fs::write(&key, certified.key_pair.serialize_pem()).expect("write");
    let mut options = PooldnsOptions::new(testkit::data_path("differential"));
    options.api_config = format!("tls_cert_file = {:?}\ntls_key_file = {:?}\n", cert, key);
    // Readiness is asked over HTTPS below.
    options.wait_ready = false;
    let server = Pooldns::start_with(options);
    let url = format!("https://127.0.0.1:{}/readyz", server.api.port());
    let deadline = Instant::now() + Duration::from_secs(30);
    let answer = loop {
        let output = https_get(&curl, &cert, &url);
        let body = String::from_utf8_lossy(&output.stdout).into_owned();
        if output.status.success() && body.starts_with("ready") {
            break body;
        }
        assert!(
            Instant::now() < deadline,
            "no ready answer over TLS: {body}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(answer.contains("zones"), "{answer}");
    // Plain HTTP on the same port gets no API answer.
    let plain = testkit::http_get(server.api, "/readyz");
    assert!(
        plain.as_ref().map_or(true, |response| response.status != 200),
        "{plain:?}"
    );
    // Served still, after the plain-text attempt.
    let again = https_get(&curl, &cert, &url);
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
}

#[test]
fn a_tls_key_that_does_not_load_stops_the_start_with_the_file_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cert = dir.path().join("cert.pem");
    std::fs::write(&cert, "not a certificate\n").expect("write");
    let config = dir.path().join("pooldns.toml");
    std::fs::write(
        &config,
        format!(
            "[store]\nurl = \"sqlite://{}/pooldns.db\"\n[dns]\nlisten = [\"127.0.0.1:{}\"]\n\
             [api]\nlisten = \"127.0.0.1:{}\"\ntls_cert_file = {:?}\ntls_key_file = {:?}\n",
            dir.path().display(),
            testkit::free_port(),
            testkit::free_port(),
            cert,
            dir.path().join("key.pem"),
        ),
    )
    .expect("write");
    let output = Command::new(testkit::pooldns_bin())
        .args(["serve", "--config"])
        .arg(&config)
        .env_remove("POOLDNS_STORE_URL")
        .output()
        .expect("pooldns runs");
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{error}");
    assert!(error.contains("tls_cert_file") && error.contains("cert.pem"), "{error}");
}

#[test]
fn logs_are_json_lines_when_asked() {
    let mut options = PooldnsOptions::new(testkit::data_path("differential"));
    options.extra_config = "[log]\nformat = \"json\"\n".into();
    let server = Pooldns::start_with(options);
    let log = server.log_text();
    let mut listening = false;
    for line in log.lines().filter(|line| !line.trim().is_empty()) {
        let entry: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|error| panic!("not a JSON line ({error}): {line}"));
        assert!(entry["timestamp"].is_string() && entry["level"].is_string(), "{line}");
        if entry["message"] == "HTTP API listening" {
            assert_eq!(entry["address"], server.api.to_string(), "{line}");
            listening = true;
        }
    }
    assert!(listening, "the listener's start is logged with its fields:\n{log}");
}

#[test]
fn status_summarises_the_running_server() {
    let server = Pooldns::start(&testkit::data_path("differential"));
    let text = server.cli_ok(&["status"]);
    assert!(text.contains("ready") && text.contains("served"), "{text}");
    assert!(text.contains("store    reachable"), "{text}");
    let output = server.cli_ok(&["status", "--output", "json"]);
    let summary: serde_json::Value = serde_json::from_str(&output).unwrap_or_else(|error| panic!("{error}: {output}"));
    assert_eq!(summary["ready"], true, "{summary}");
    assert!(summary["zones"].as_u64() >= Some(1), "{summary}");
    assert_eq!(summary["zones_failing"], 0, "{summary}");
    assert_eq!(summary["store_reachable"], true, "{summary}");
    // A server that is not running is said so, with what to check.
    let mut stopped = server;
    stopped.kill();
    let output = stopped.cli(&["status"]);
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{error}");
    assert!(error.contains("no pooldns answers at"), "{error}");
}
