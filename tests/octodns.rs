//! octoDNS with its PowerDNS provider (PyPI `octodns`, `octodns-powerdns`)
//! against pooldns's PowerDNS API: a YAML zone synced, a second sync
//! planning nothing, and an edited YAML applying exactly the difference.

use std::process::Command;

use testkit::{http_request, Pooldns, PooldnsOptions};

const KEY: &str = "octodns-key-5150";

const ZONE_V1: &str = "---\n'':\n  - type: NS\n    values:\n      - ns1.octo.example.\n\
mail:\n  type: MX\n  value:\n    exchange: mx.octo.example.\n    preference: 10\n\
txt:\n  type: TXT\n  value: hello world\n\
www:\n  type: A\n  values:\n    - 192.0.2.10\n    - 192.0.2.11\n";

const ZONE_V2: &str = "---\n'':\n  - type: NS\n    values:\n      - ns1.octo.example.\n\
mail:\n  type: MX\n  value:\n    exchange: mx.octo.example.\n    preference: 10\n\
www:\n  type: A\n  values:\n    - 192.0.2.12\n";

fn sync(dir: &std::path::Path, apply: bool) -> String {
    let mut command = Command::new(testkit::require(
        "octodns-sync",
        "(none: PyPI octodns and octodns-powerdns, which .ci/run installs)",
    ));
    command.current_dir(dir).args(["--config-file", "octodns.yaml"]);
    if apply {
        command.arg("--doit");
    }
    let output = command.output().expect("octodns-sync runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "octodns-sync failed:\n{text}");
    text
}

fn dig(server: &Pooldns, name: &str, qtype: &str) -> Vec<String> {
    testkit::dig::short(server.dns, name, qtype)
}

fn wait_dig(server: &Pooldns, name: &str, qtype: &str, wanted: &[&str]) {
    testkit::dig::wait_short(server.dns, name, qtype, wanted)
}

#[test]
fn octodns_syncs_and_then_plans_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("zones")).expect("zones");
    std::fs::create_dir(dir.path().join("config")).expect("config");
    let mut options = PooldnsOptions::new(dir.path().join("zones"));
    options.extra_config = format!("\n[[api.keys]]\nname = \"octodns\"\nkey = \"{KEY}\"\n");
    let server = Pooldns::start_with(options);
    let created = http_request(
        server.api,
        "POST",
        "/api/v1/servers/localhost/zones",
        &[("X-API-Key", KEY), ("Content-Type", "application/json")],
        br#"{"name": "octo.example.", "kind": "Native", "nameservers": ["ns1.octo.example."]}"#,
    )
    .expect("create");
    assert_eq!(created.status, 201, "{}", created.body);
    std::fs::write(
        dir.path().join("octodns.yaml"),
        format!(
            "---\nproviders:\n  config:\n    class: octodns.provider.yaml.YamlProvider\n    directory: ./config\n\
             \x20 pooldns:\n    class: octodns_powerdns.PowerDnsProvider\n    host: {}\n    port: {}\n\
             \x20   api_key: {KEY}\n    scheme: http\n\
             zones:\n  octo.example.:\n    sources:\n      - config\n    targets:\n      - pooldns\n",
            server.api.ip(),
            server.api.port()
        ),
    )
    .expect("octodns.yaml");
    let zone_file = dir.path().join("config/octo.example.yaml");

    std::fs::write(&zone_file, ZONE_V1).expect("zone");
    let first = sync(dir.path(), true);
    assert!(first.contains("Creates=3, Updates=0, Deletes=0"), "{first}");
    wait_dig(&server, "www.octo.example", "A", &["192.0.2.10", "192.0.2.11"]);
    assert_eq!(dig(&server, "mail.octo.example", "MX"), ["10 mx.octo.example."]);
    assert_eq!(dig(&server, "txt.octo.example", "TXT"), ["\"hello world\""]);

    let second = sync(dir.path(), false);
    assert!(second.contains("No changes were planned"), "{second}");

    std::fs::write(&zone_file, ZONE_V2).expect("zone");
    let third = sync(dir.path(), true);
    assert!(third.contains("Creates=0, Updates=1, Deletes=1"), "{third}");
    wait_dig(&server, "www.octo.example", "A", &["192.0.2.12"]);
    wait_dig(&server, "txt.octo.example", "TXT", &[]);
    assert_eq!(dig(&server, "mail.octo.example", "MX"), ["10 mx.octo.example."]);
    let again = sync(dir.path(), false);
    assert!(again.contains("No changes were planned"), "{again}");
}
