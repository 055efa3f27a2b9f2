//! DNSSEC key handling through the command line and a running server:
//! keys sealed at rest, a zone whose keys cannot be opened is not served
//! (and readiness says so) while other zones are, and misuse gets clear
//! errors.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A scratch directory with a store and configuration files.
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let setup = Setup {
            dir: tempfile::tempdir().expect("temp dir"),
        };
        for (zone, address) in [("sealed.test", "192.0.2.1"), ("plain.test", "192.0.2.2")] {
            let text = format!(
                "$ORIGIN {zone}.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 60\n@ NS ns1\nns1 A {address}\nwww A {address}\n"
            );
            std::fs::write(setup.path(&format!("{zone}.zone")), text).expect("zone written");
        }
        setup
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a config using `kek` (a key file's contents) if given.
    fn config(&self, name: &str, kek: Option<&str>, dns: SocketAddr, api: SocketAddr) -> PathBuf {
        let mut text = format!(
            "[dns]\nlisten = [\"{dns}\"]\n[api]\nlisten = \"{api}\"\n[store]\nurl = \"sqlite://{}\"\n[zones]\ndirectory = \"{}\"\n",
            self.path("pooldns.db").display(),
            self.path("no-seed").display()
        );
        if let Some(kek) = kek {
            let file = self.path(&format!("{name}.kek"));
            std::fs::write(&file, kek).expect("key file written");
            text.push_str(&format!("[dnssec]\nkey_encryption_key_file = \"{}\"\n", file.display()));
        }
        let path = self.path(&format!("{name}.toml"));
        std::fs::write(&path, text).expect("config written");
        path
    }

    fn cli(&self, config: &Path, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_pooldns"))
            .arg("--config")
            .arg(config)
            .args(args)
            .env_remove("POOLDNS_CONFIG")
            .env_remove("POOLDNS_STORE_URL")
            .output()
            .expect("pooldns runs")
    }
}

/// A running server, killed on drop.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_address() -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let address = socket.local_addr().expect("address");
    // The TCP side of the same port must be free too.
    match std::net::TcpListener::bind(address) {
        Ok(_) => address,
        Err(_) => free_address(),
    }
}

/// The API key the servers of these tests accept.
const API_KEY: &str = "readyz-test-key";

/// GET over HTTP/1.0 without an API key; (status, body).
fn http_get(api: SocketAddr, path: &str) -> Option<(u16, String)> {
    http_get_as(api, path, None)
}

/// GET over HTTP/1.0, with `key` if given; (status, body).
fn http_get_as(api: SocketAddr, path: &str, key: Option<&str>) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&api, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let key = key.map_or(String::new(), |key| format!("X-API-Key: {key}\r\n"));
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n{key}\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n").map_or("", |(_, body)| body).to_string();
    Some((status, body))
}

/// Sends an A query for `name` and returns the RCODE.
fn rcode_of(dns: SocketAddr, name: &str) -> Option<u8> {
    let socket = UdpSocket::bind("127.0.0.1:0").ok()?;
    socket.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let mut query = vec![0xab, 0xcd, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.trim_end_matches('.').split('.') {
        query.push(label.len() as u8);
        query.extend_from_slice(label.as_bytes());
    }
    query.extend_from_slice(&[0, 0, 1, 0, 1]);
    socket.send_to(&query, dns).ok()?;
    let mut reply = [0u8; 1500];
    let len = socket.recv(&mut reply).ok()?;
    (len >= 12).then(|| reply[3] & 0x0f)
}

fn start(setup: &Setup, config: &Path) -> Server {
    let log = std::fs::File::create(setup.path("serve.log")).expect("log file");
    let child = Command::new(env!("CARGO_BIN_EXE_pooldns"))
        .arg("--config")
        .arg(config)
        .arg("serve")
        .env_remove("POOLDNS_CONFIG")
        .env_remove("POOLDNS_STORE_URL")
        .env("POOLDNS_API_KEY", API_KEY)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("serve starts");
    Server(child)
}

/// Polls until `check` holds or 30 s pass.
fn eventually(mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

const KEK_A: &str = "q2Z0cGQ0V3J5bWZ0c2VjcmV0a2V5LWZvci10ZXN0cyE=\n";
const KEK_B: &str = "c29tZS1vdGhlci0zMi1vY3RldC1zZWNyZXQtaGVyZSE=\n";

#[test]
fn a_zone_whose_keys_cannot_be_opened_is_not_served() {
    let setup = Setup::new();
    let (dns, api) = (free_address(), free_address());
    let with_a = setup.config("a", Some(KEK_A), dns, api);
    for zone in ["sealed.test", "plain.test"] {
        let file = setup.path(&format!("{zone}.zone"));
        let output = setup.cli(&with_a, &["zone", "import", file.to_str().expect("utf-8")]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }
    let output = setup.cli(&with_a, &["zone", "secure", "sealed.test"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("CSK") && stdout.contains("ECDSAP256SHA256"), "{stdout}");

    // The key is sealed: the store holds no PKCS#8 in the clear (a DER
    // SEQUENCE is "MI..." in base64).
    let mut store = std::fs::read(setup.path("pooldns.db")).expect("store readable");
    store.extend(std::fs::read(setup.path("pooldns.db-wal")).unwrap_or_default());
    assert!(
        !String::from_utf8_lossy(&store).contains("plain:MI"),
        "private key stored in the clear"
    );

    // Securing twice is an error that changes nothing.
    let again = setup.cli(&with_a, &["zone", "secure", "sealed.test", "--algorithm", "ed25519"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already secured"));
    let keys = setup.cli(&with_a, &["key", "list", "sealed.test"]);
    assert_eq!(
        String::from_utf8_lossy(&keys.stdout).lines().count(),
        2,
        "one header, one key"
    );

    // With the wrong key-encryption key the zone is refused, readiness
    // names it (to a caller with an API key), and the other zone is served.
    let with_b = setup.config("b", Some(KEK_B), dns, api);
    let server = start(&setup, &with_b);
    let detailed = || http_get_as(api, "/readyz", Some(API_KEY));
    assert!(
        eventually(|| detailed().is_some_and(|(status, body)| status == 503 && body.contains("sealed.test"))),
        "readyz must fail naming the zone: {:?}",
        detailed()
    );
    let (_, body) = detailed().expect("readyz answers");
    assert!(body.contains("cannot be decrypted"), "{body}");
    assert_eq!(
        http_get(api, "/readyz"),
        Some((503, "zones not served: 1\n".to_string())),
        "without a key: one line, no details"
    );
    assert!(
        !body.contains(KEK_A.trim()) && !body.contains(KEK_B.trim()),
        "secret in body: {body}"
    );
    assert_eq!(rcode_of(dns, "www.plain.test"), Some(0), "other zones keep serving");
    // Ours but not servable: SERVFAIL (as BIND and Knot answer for a zone
    // that failed to load), so resolvers ask another server.
    assert_eq!(
        rcode_of(dns, "www.sealed.test"),
        Some(2),
        "not served with broken signatures"
    );
    drop(server);
    let log = std::fs::read_to_string(setup.path("serve.log")).expect("log");
    assert!(
        log.contains("sealed.test") && log.contains("cannot be decrypted"),
        "{log}"
    );

    // Without any key-encryption key: the same, with a message saying why.
    let without = setup.config("none", None, dns, api);
    let server = start(&setup, &without);
    assert!(
        eventually(|| http_get_as(api, "/readyz", Some(API_KEY))
            .is_some_and(|(status, body)| status == 503 && body.contains("no [dnssec] key_encryption_key_file"))),
        "{:?}",
        http_get_as(api, "/readyz", Some(API_KEY))
    );
    drop(server);
    let log = std::fs::read_to_string(setup.path("serve.log")).expect("log");
    assert!(
        log.lines()
            .any(|line| line.contains("WARN") && line.contains("key_encryption_key_file while zones are secured")),
        "{log}"
    );

    // With the right key it signs.
    let server = start(&setup, &with_a);
    assert!(eventually(
        || http_get(api, "/readyz").is_some_and(|(status, _)| status == 200)
    ));
    assert_eq!(rcode_of(dns, "www.sealed.test"), Some(0));
    drop(server);
}

#[test]
fn ds_and_key_listing() {
    let setup = Setup::new();
    let (dns, api) = (free_address(), free_address());
    let config = setup.config("plain", None, dns, api);
    let file = setup.path("plain.test.zone");
    assert!(setup
        .cli(&config, &["zone", "import", file.to_str().expect("utf-8")])
        .status
        .success());
    let unsecured = setup.cli(&config, &["zone", "ds", "plain.test"]);
    assert!(!unsecured.status.success());
    assert!(String::from_utf8_lossy(&unsecured.stderr).contains("not secured"));

    let output = setup.cli(
        &config,
        &["zone", "secure", "plain.test", "--split", "--algorithm", "ed25519"],
    );
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("unencrypted"),
        "warns about clear keys"
    );
    let keys = String::from_utf8_lossy(&setup.cli(&config, &["key", "list", "plain.test"]).stdout).to_string();
    assert!(keys.contains("KSK\tED25519") && keys.contains("\t257\t"), "{keys}");
    assert!(keys.contains("ZSK\tED25519") && keys.contains("\t256\t"), "{keys}");

    let ds = String::from_utf8_lossy(&setup.cli(&config, &["zone", "ds", "plain.test"]).stdout).to_string();
    let fields: Vec<&str> = ds.split_whitespace().collect();
    assert_eq!(ds.lines().count(), 1, "one DS, for the KSK only: {ds}");
    assert_eq!(&fields[..4], ["plain.test.", "3600", "IN", "DS"], "{ds}");
    assert_eq!(&fields[5..7], ["15", "2"], "{ds}");
    assert_eq!(fields[7].len(), 64, "SHA-256 digest: {ds}");
    let sha384 = String::from_utf8_lossy(
        &setup
            .cli(&config, &["zone", "ds", "plain.test", "--digest", "sha384"])
            .stdout,
    )
    .to_string();
    assert!(
        sha384
            .split_whitespace()
            .nth(7)
            .is_some_and(|digest| digest.len() == 96),
        "{sha384}"
    );
    assert_eq!(
        fields[4],
        sha384.split_whitespace().nth(4).unwrap_or_default(),
        "same key tag"
    );
}

#[test]
fn additional_addresses_carry_their_signatures() {
    let setup = Setup::new();
    let (dns, api) = (free_address(), free_address());
    let config = setup.config("mx", None, dns, api);
    let zone = "$ORIGIN mx.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 60\n@ NS ns1\n@ MX 10 mail\nns1 A 192.0.2.1\nmail A 192.0.2.25\n";
    let file = setup.path("mx.test.zone");
    std::fs::write(&file, zone).expect("zone written");
    assert!(setup
        .cli(&config, &["zone", "import", file.to_str().expect("utf-8")])
        .status
        .success());
    assert!(setup.cli(&config, &["zone", "secure", "mx.test"]).status.success());
    let _server = start(&setup, &config);
    assert!(eventually(
        || http_get(api, "/readyz").is_some_and(|(status, _)| status == 200)
    ));
    let dig = |flags: &[&str]| {
        let output = Command::new(testkit::require("dig", "bind9-dnsutils"))
            .args([
                &format!("@{}", dns.ip()),
                "-p",
                &dns.port().to_string(),
                "mx.test",
                "MX",
                "+norec",
            ])
            .args(flags)
            .output()
            .expect("dig runs");
        String::from_utf8_lossy(&output.stdout).to_string()
    };
    let additional = |text: &str| {
        text.split(";; ADDITIONAL SECTION:")
            .nth(1)
            .map(|rest| rest.split("\n\n").next().unwrap_or_default().to_string())
            .unwrap_or_default()
    };
    // RFC 4035 §3.1.1: a signed RRset in the additional section brings
    // its RRSIGs; without DO there are none.
    let signed = additional(&dig(&["+dnssec"]));
    assert!(
        signed.contains("mail.mx.test.") && signed.contains("RRSIG\tA 13"),
        "{signed}"
    );
    let plain = additional(&dig(&[]));
    assert!(plain.contains("mail.mx.test.") && !plain.contains("RRSIG"), "{plain}");
}
