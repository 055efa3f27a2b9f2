//! The `pooldns` command line against a real SQLite file: zone import,
//! export, list and delete, and how bad input is reported.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A scratch directory with a config file pointing at its own store.
struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new() -> Workspace {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = format!("[store]\nurl = \"sqlite://{}/pooldns.db\"\n", dir.path().display());
        std::fs::write(dir.path().join("pooldns.toml"), config).expect("config written");
        Workspace { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).expect("file written");
        path
    }

    fn run(&self, args: &[&str]) -> Output {
        let config = self.path("pooldns.toml");
        Command::new(env!("CARGO_BIN_EXE_pooldns"))
            .arg("--config")
            .arg(&config)
            .args(args)
            .env_remove("POOLDNS_STORE_URL")
            .env_remove("POOLDNS_CONFIG")
            .output()
            .expect("pooldns runs")
    }

    fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "pooldns {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("utf-8 output")
    }

    fn fails(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(!output.status.success(), "pooldns {args:?} should have failed");
        String::from_utf8(output.stderr).expect("utf-8 output")
    }
}

const ZONE: &str = r#"$ORIGIN cli.test.
$TTL 300
@       SOA  ns1 hostmaster ( 1 3600 600
                              86400 60 )
        NS   ns1
ns1     A    192.0.2.1
www     A    192.0.2.80
        AAAA 2001:db8::80
txt     TXT  "hello world" "with \"quotes\"" semi\;colon
lua     LUA  A "ifportup(443, {'192.0.2.1', '192.0.2.2'})"
"#;

fn path_str(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

#[test]
fn import_export_round_trip() {
    let ws = Workspace::new();
    let file = ws.write("cli.zone", ZONE);
    let out = ws.ok(&["zone", "import", path_str(&file)]);
    assert!(out.contains("imported cli.test.: 7 records"), "{out}");
    assert!(ws.ok(&["zone", "list"]).contains("cli.test.\t7 records"));

    let exported = ws.ok(&["zone", "export", "cli.test"]);
    assert!(
        exported.contains("lua.cli.test. 300 IN LUA A \"ifportup(443, {'192.0.2.1', '192.0.2.2'})\""),
        "{exported}"
    );
    let again = ws.write("again.zone", &exported);
    ws.ok(&["zone", "import", path_str(&again), "--replace"]);
    assert_eq!(
        ws.ok(&["zone", "export", "cli.test."]),
        exported,
        "export imports back to the same data"
    );

    assert!(ws.ok(&["zone", "delete", "CLI.test"]).contains("deleted cli.test."));
    assert_eq!(ws.ok(&["zone", "list"]), "");
}

#[test]
fn duplicate_import_needs_replace() {
    let ws = Workspace::new();
    let file = ws.write("cli.zone", ZONE);
    ws.ok(&["zone", "import", path_str(&file)]);
    let changed = ws.write("changed.zone", &ZONE.replace("192.0.2.80", "192.0.2.81"));
    let error = ws.fails(&["zone", "import", path_str(&changed)]);
    assert!(
        error.contains("already exists") && error.contains("--replace"),
        "{error}"
    );
    assert!(
        ws.ok(&["zone", "export", "cli.test"]).contains("192.0.2.80"),
        "nothing changed"
    );
    ws.ok(&["zone", "import", path_str(&changed), "--replace"]);
    let exported = ws.ok(&["zone", "export", "cli.test"]);
    assert!(exported.contains("192.0.2.81"), "{exported}");
    // The content changed under the same serial: the serial moved on.
    assert!(exported.contains("hostmaster.cli.test. 2 3600"), "{exported}");
}

#[test]
fn date_serial_policy_moves_serials_to_today() {
    let ws = Workspace::new();
    let file = ws.write("cli.zone", ZONE);
    ws.ok(&["zone", "import", path_str(&file), "--serial-policy", "date"]);
    let changed = ws.write("changed.zone", &ZONE.replace("192.0.2.80", "192.0.2.81"));
    ws.ok(&["zone", "import", path_str(&changed), "--replace"]);
    let exported = ws.ok(&["zone", "export", "cli.test"]);
    let serial: u32 = exported
        .lines()
        .find(|line| line.contains(" SOA "))
        .and_then(|line| line.split_whitespace().nth(6))
        .and_then(|serial| serial.parse().ok())
        .expect("serial");
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        / 86_400;
    let (year, month, day, ..) = base::time::civil(days as i64 * 86_400);
    let today = (year * 1_000_000 + month * 10_000 + day * 100) as u32;
    assert!(
        serial == today || serial == today + 100,
        "{serial} for {today}: {exported}"
    );
    let error = ws.fails(&["zone", "import", path_str(&file), "--serial-policy", "weekly"]);
    assert!(error.contains("weekly"), "{error}");
}

#[test]
fn a_bad_line_imports_nothing_and_is_named() {
    let ws = Workspace::new();
    let good = ws.write("cli.zone", ZONE);
    ws.ok(&["zone", "import", path_str(&good)]);
    let cases = [
        ("www     A    192.0.2.80", "www     A    192.0.2.999", ":7:"),
        ("ns1     A    192.0.2.1", "ns1     MX   x", ":6:"),
        (
            "www     A    192.0.2.80",
            "www     CNAME ns1",
            ":8: CNAME at www.cli.test. has other data",
        ),
        (
            "ns1     A    192.0.2.1",
            "ns1.other.test.  A 192.0.2.1",
            "outside the zone",
        ),
    ];
    for (from, to, expected) in cases {
        let broken = ws.write("broken.zone", &ZONE.replace(from, to));
        let error = ws.fails(&["zone", "import", path_str(&broken), "--replace"]);
        assert!(error.contains("broken.zone"), "error names the file: {error}");
        assert_eq!(error.matches(expected).count(), 1, "said once: {error}");
        assert_eq!(error.lines().count(), 1, "{error}");
        assert!(error.contains(expected), "expected {expected:?} in: {error}");
        let exported = ws.ok(&["zone", "export", "cli.test"]);
        assert!(
            exported.contains("192.0.2.80") && exported.contains("ns1.cli.test. 300 IN A"),
            "store unchanged: {exported}"
        );
    }
    let no_soa = ws.write("nosoa.zone", "$ORIGIN x.test.\n@ 300 NS ns1\n");
    let error = ws.fails(&["zone", "import", path_str(&no_soa), "--zone", "x.test"]);
    assert!(error.contains("no SOA"), "{error}");
    let error = ws.fails(&["zone", "import", path_str(&ws.path("missing.zone"))]);
    assert!(error.contains("missing.zone"), "{error}");
}

#[test]
fn bad_configuration_is_reported() {
    let ws = Workspace::new();
    let config = ws.write("bad.toml", "[dns]\nlisten = [\"127.0.0.1:5300\"]\nlistne = 1\n");
    let output = Command::new(env!("CARGO_BIN_EXE_pooldns"))
        .args(["--config", path_str(&config), "check-config"])
        .output()
        .expect("pooldns runs");
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(error.contains("listne") && error.contains("bad.toml"), "{error}");

    let output = Command::new(env!("CARGO_BIN_EXE_pooldns"))
        .args(["zone", "list"])
        .env("POOLDNS_STORE_URL", "mysql://nowhere/x")
        .env_remove("POOLDNS_CONFIG")
        .output()
        .expect("pooldns runs");
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(error.contains("not supported"), "{error}");

    // What serve would refuse to start with, check-config refuses too.
    for (text, wanted) in [
        ("[transfer]\nallow = [\"bogus\"]\n", "[transfer] allow: \"bogus\""),
        ("[transfer]\ntsig_keys = [\"a..b\"]\n", "[transfer] tsig_keys: \"a..b\""),
        ("[catalog]\nzone = \"a..b\"\n", "[catalog] zone: \"a..b\""),
        (
            "[[secondary.catalogs]]\nzone = \"catalog.invalid\"\nprimaries = [\"ns1.example\"]\n",
            "primary \"ns1.example\" is not an address",
        ),
        (
            "[[secondary.catalogs]]\nzone = \"catalog.invalid\"\nprimaries = []\n",
            "catalog.invalid: primaries is empty",
        ),
        ("[dns]\nresolver = \"nope\"\n", "resolver \"nope\" is not an address"),
        ("[rrl]\nrate = 5\nexempt = [\"10/8\"]\n", "[rrl] exempt: \"10/8\""),
        ("[rrl]\nrate = 5\nslip = 11\n", "[rrl] slip = 11 is above 10"),
        ("[rrl]\nrate = -1\n", "rate"),
        (
            "[api]\ntls_cert_file = \"/etc/cert.pem\"\n",
            "tls_cert_file and tls_key_file go together",
        ),
        ("[log]\nformat = \"xml\"\n", "xml"),
        (
            "[dns]\ncookie_secret_file = \"/nonexistent/cookie\"\n",
            "/nonexistent/cookie",
        ),
    ] {
        let config = ws.write("bad.toml", text);
        let output = Command::new(env!("CARGO_BIN_EXE_pooldns"))
            .args(["--config", path_str(&config), "check-config"])
            .output()
            .expect("pooldns runs");
        let error = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{text}");
        assert!(error.contains(wanted), "{text}: {error}");
    }

    // A cookie secret that is not 16 bytes of hex.
    let secret = ws.write("cookie", "not hex at all");
    let config = ws.write(
        "bad.toml",
        &format!("[dns]\ncookie_secret_file = {:?}\n", path_str(&secret)),
    );
    let output = Command::new(env!("CARGO_BIN_EXE_pooldns"))
        .args(["--config", path_str(&config), "check-config"])
        .output()
        .expect("pooldns runs");
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(error.contains("must hold 32 hexadecimal digits"), "{error}");

    let shown = ws.ok(&["check-config"]);
    assert!(shown.contains("127.0.0.1:5300"), "{shown}");
}

#[test]
fn listings_print_json_for_programs() {
    let ws = Workspace::new();
    let zone = ws.write("cli.zone", ZONE);
    ws.ok(&["zone", "import", path_str(&zone)]);
    ws.ok(&["zone", "secure", "cli.test"]);
    ws.ok(&["tsig", "add", "ci-key"]);
    let json = |args: &[&str]| -> serde_json::Value {
        let mut args = args.to_vec();
        args.extend(["--output", "json"]);
        serde_json::from_str(&ws.ok(&args)).unwrap_or_else(|error| panic!("{args:?}: {error}"))
    };
    let zones = json(&["zone", "list"]);
    assert_eq!(zones[0]["name"], "cli.test.", "{zones}");
    assert!(zones[0]["records"].as_u64() > Some(5), "{zones}");
    assert!(zones[0]["secondary"].is_null(), "{zones}");
    let keys = json(&["key", "list", "cli.test"]);
    assert_eq!(keys["secured"], true, "{keys}");
    assert_eq!(keys["keys"][0]["role"], "csk", "{keys}");
    assert_eq!(keys["keys"][0]["algorithm"], "ECDSAP256SHA256", "{keys}");
    assert!(keys["keys"][0]["tag"].is_u64(), "{keys}");
    assert_eq!(keys["rolls"], serde_json::json!([]), "{keys}");
    let tsig = json(&["tsig", "list"]);
    assert_eq!(tsig[0]["name"], "ci-key.", "{tsig}");
    assert!(!tsig.to_string().contains("secret"), "never a secret: {tsig}");
    let pools = json(&["pool", "list", "omani.works"]);
    assert_eq!(pools, serde_json::json!([]));
    // Text stays the default.
    assert!(ws.ok(&["zone", "list"]).starts_with("cli.test.\t"));
}

#[test]
fn completions_and_a_manual_page_are_generated() {
    let ws = Workspace::new();
    for shell in ["bash", "zsh", "fish"] {
        let script = ws.ok(&["completions", shell]);
        assert!(
            script.contains("pooldns") && script.contains("check-config"),
            "{shell}: {script}"
        );
    }
    let man = ws.ok(&["man"]);
    assert!(man.starts_with(".ie") || man.starts_with(".TH"), "{man}");
    assert!(man.contains("pooldns") && man.contains("zone"), "{man}");
    let error = ws.fails(&["completions", "cmd.exe"]);
    assert!(error.contains("cmd.exe"), "{error}");
}

/// `pooldns args...` run under a pseudo-terminal by script(1); what the
/// terminal showed.
fn on_a_terminal(ws: &Workspace, args: &[&str]) -> String {
    let script = testkit::require("script", "bsdutils");
    let mut command = format!(
        "{} --config {}",
        env!("CARGO_BIN_EXE_pooldns"),
        path_str(&ws.path("pooldns.toml"))
    );
    for arg in args {
        command.push(' ');
        command.push_str(arg);
    }
    let output = Command::new(script)
        .args(["-qec", &command, "/dev/null"])
        .env_remove("POOLDNS_STORE_URL")
        .env_remove("POOLDNS_CONFIG")
        .output()
        .expect("script runs");
    let shown = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "pooldns {args:?} failed: {shown}");
    shown
}

#[test]
fn long_imports_and_exports_show_progress_on_a_terminal_only() {
    let ws = Workspace::new();
    let mut zone = String::from(
        "$ORIGIN big.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 60\n@ NS ns1\nns1 A 192.0.2.1\n",
    );
    for n in 0..200_000 {
        zone.push_str(&format!("h{n} A 192.0.{}.{}\n", n / 250 % 250, n % 250));
    }
    let file = ws.write("big.zone", &zone);

    let shown = on_a_terminal(&ws, &["zone", "import", path_str(&file)]);
    assert!(shown.contains("storing 200003 records"), "{shown}");
    assert!(shown.contains("imported big.test.: 200003 records"), "{shown}");
    let exported = ws.path("big.export");
    let shown = on_a_terminal(&ws, &["zone", "export", "big.test", ">", path_str(&exported)]);
    assert!(shown.contains("exporting big.test.: "), "{shown}");
    assert!(std::fs::read_to_string(&exported)
        .expect("export")
        .contains("h199999.big.test."));

    // Not on a terminal: only the result, nothing drawn.
    let output = ws.run(&["zone", "import", path_str(&file), "--replace"]);
    assert!(output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
}
