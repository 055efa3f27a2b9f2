//! The PowerDNS-compatible API of a running `pooldns serve`, driven with
//! the calls its clients make: external-dns's `pdns` provider (list, get,
//! PATCH with the whole zone object and `_externaldns.` TXT registry
//! records, deletes) and cert-manager-webhook-pdns (TXT challenges added
//! and cleaned up), answers checked with dig; bad input refused whole;
//! keys scoped to zones.

use serde_json::{json, Value};
use testkit::{http_request, Pooldns, PooldnsOptions};

const KEY: &str = "pdns-operator-key-42";
const SCOPED: &str = "pdns-scoped-key-77";
const READER: &str = "pdns-reader-key-99";
const ZONES: &str = "/api/v1/servers/localhost/zones";

struct Server {
    server: Pooldns,
    _zones: tempfile::TempDir,
}

fn start() -> Server {
    let zones = tempfile::tempdir().expect("temp dir");
    let mut options = PooldnsOptions::new(zones.path());
    options.extra_config = format!(
        "\n[[api.keys]]\nname = \"operator\"\nkey = \"{KEY}\"\n\
         [[api.keys]]\nname = \"sovereign-a\"\nkey = \"{SCOPED}\"\nzones = [\"a.example\"]\n\
         [[api.keys]]\nname = \"reader\"\nkey = \"{READER}\"\nread_only = true\n\
         [lua]\nenabled = false\n"
    );
    Server {
        server: Pooldns::start_with(options),
        _zones: zones,
    }
}

impl Server {
    fn call(&self, method: &str, path: &str, key: &str, body: Option<&Value>) -> (u16, Value) {
        let text = body.map(Value::to_string).unwrap_or_default();
        self.raw(method, path, key, "application/json", text.as_bytes())
    }

    fn raw(&self, method: &str, path: &str, key: &str, content_type: &str, body: &[u8]) -> (u16, Value) {
        let mut headers = vec![("X-API-Key", key)];
        if !body.is_empty() {
            headers.push(("Content-Type", content_type));
        }
        let response = http_request(self.server.api, method, path, &headers, body).expect("HTTP");
        (
            response.status,
            serde_json::from_str(&response.body).unwrap_or(Value::Null),
        )
    }

    fn dig(&self, name: &str, qtype: &str) -> Vec<String> {
        testkit::dig::short(self.server.dns, name, qtype)
    }

    fn wait_dig(&self, name: &str, qtype: &str, wanted: &[&str]) {
        testkit::dig::wait_short(self.server.dns, name, qtype, wanted)
    }

    fn zone(&self, zone: &str) -> Value {
        let (status, body) = self.call("GET", &format!("{ZONES}/{zone}"), KEY, None);
        assert_eq!(status, 200, "{body}");
        body
    }

    fn create(&self, name: &str) {
        let (status, body) = self.call(
            "POST",
            ZONES,
            KEY,
            Some(
                &json!({"name": name, "kind": "Native", "nameservers": [format!("ns1.{name}")],
                         "rrsets": [{"name": format!("ns1.{name}"), "type": "A", "ttl": 3600,
                                     "records": [{"content": "192.0.2.53", "disabled": false}]}]}),
            ),
        );
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["name"], name);
    }
}

fn rrset(name: &str, rtype: &str, changetype: &str, contents: &[&str]) -> Value {
    json!({
        "name": name, "type": rtype, "ttl": 300, "changetype": changetype,
        "records": contents.iter().map(|c| json!({"content": c, "disabled": false})).collect::<Vec<_>>(),
    })
}

#[test]
fn external_dns_call_sequence() {
    let pdns = start();
    pdns.create("ext.example.");
    let (status, servers) = pdns.call("GET", "/api/v1/servers", KEY, None);
    assert_eq!((status, servers[0]["id"].as_str()), (200, Some("localhost")));

    // List, then get each zone by its id.
    let (status, zones) = pdns.call("GET", ZONES, KEY, None);
    assert_eq!(status, 200);
    let listed = zones
        .as_array()
        .expect("zones")
        .iter()
        .find(|zone| zone["name"] == "ext.example.")
        .expect("listed")
        .clone();
    assert!(listed.get("rrsets").is_none(), "the list has no rrsets");
    let id = listed["id"].as_str().expect("id").to_string();
    let zone = pdns.zone(&id);
    let serial = zone["serial"].as_u64().expect("serial");

    // The provider PATCHes the zone object it listed, plus rrsets.
    let owner = "\"heritage=external-dns,external-dns/owner=sovereign-a,external-dns/resource=service/web/app\"";
    let mut body = listed.clone();
    body["rrsets"] = json!([
        rrset("app.ext.example.", "A", "REPLACE", &["192.0.2.10"]),
        rrset("_externaldns.app.ext.example.", "TXT", "REPLACE", &[owner]),
    ]);
    let (status, answer) = pdns.call("PATCH", &format!("{ZONES}/{id}"), KEY, Some(&body));
    assert_eq!(status, 204, "{answer}");
    pdns.wait_dig("app.ext.example", "A", &["192.0.2.10"]);
    assert_eq!(pdns.dig("_externaldns.app.ext.example", "TXT"), [owner]);
    let after = pdns.zone(&id)["serial"].as_u64().expect("serial");
    assert!(after > serial, "the serial moved: {serial} -> {after}");

    // The same PATCH again changes nothing, not even the serial.
    assert_eq!(pdns.call("PATCH", &format!("{ZONES}/{id}"), KEY, Some(&body)).0, 204);
    assert_eq!(pdns.zone(&id)["serial"].as_u64(), Some(after));

    // An update, then the deletes.
    body["rrsets"] = json!([rrset("app.ext.example.", "A", "REPLACE", &["192.0.2.11", "192.0.2.12"])]);
    assert_eq!(pdns.call("PATCH", &format!("{ZONES}/{id}"), KEY, Some(&body)).0, 204);
    pdns.wait_dig("app.ext.example", "A", &["192.0.2.11", "192.0.2.12"]);
    body["rrsets"] = json!([
        rrset("app.ext.example.", "A", "DELETE", &[]),
        rrset("_externaldns.app.ext.example.", "TXT", "DELETE", &[]),
    ]);
    assert_eq!(pdns.call("PATCH", &format!("{ZONES}/{id}"), KEY, Some(&body)).0, 204);
    pdns.wait_dig("app.ext.example", "A", &[]);
    let sets = pdns.zone(&id)["rrsets"].as_array().expect("rrsets").len();
    assert_eq!(sets, 3, "SOA, NS and the glue A are left");

    // The zone's journal is readable as a zone file export.
    let export = http_request(
        pdns.server.api,
        "GET",
        &format!("{ZONES}/{id}/export"),
        &[("X-API-Key", KEY)],
        b"",
    )
    .expect("export");
    assert!(
        export.body.contains("ns1.ext.example. 3600 IN A 192.0.2.53"),
        "{}",
        export.body
    );
}

#[test]
fn cert_manager_webhook_call_sequence() {
    let pdns = start();
    pdns.create("acme.example.");
    let path = format!("{ZONES}/acme.example.");
    let challenge = "_acme-challenge.www.acme.example.";
    let patch =
        |contents: &[&str], changetype: &str| json!({"rrsets": [rrset(challenge, "TXT", changetype, contents)]});
    assert_eq!(
        pdns.call("PATCH", &path, KEY, Some(&patch(&["\"token-one\""], "REPLACE")))
            .0,
        204
    );
    pdns.wait_dig("_acme-challenge.www.acme.example", "TXT", &["\"token-one\""]);
    // A second challenge for the same name keeps the first.
    assert_eq!(
        pdns.call(
            "PATCH",
            &path,
            KEY,
            Some(&patch(&["\"token-one\"", "\"token-two\""], "REPLACE"))
        )
        .0,
        204
    );
    pdns.wait_dig(
        "_acme-challenge.www.acme.example",
        "TXT",
        &["\"token-one\"", "\"token-two\""],
    );
    // Clean-up: one value, then the RRset.
    assert_eq!(
        pdns.call("PATCH", &path, KEY, Some(&patch(&["\"token-two\""], "REPLACE")))
            .0,
        204
    );
    pdns.wait_dig("_acme-challenge.www.acme.example", "TXT", &["\"token-two\""]);
    assert_eq!(pdns.call("PATCH", &path, KEY, Some(&patch(&[], "DELETE"))).0, 204);
    pdns.wait_dig("_acme-challenge.www.acme.example", "TXT", &[]);
    // PowerDNS 5's EXTEND and PRUNE add and remove single records.
    assert_eq!(
        pdns.call("PATCH", &path, KEY, Some(&patch(&["\"a\""], "EXTEND"))).0,
        204
    );
    assert_eq!(
        pdns.call("PATCH", &path, KEY, Some(&patch(&["\"b\""], "EXTEND"))).0,
        204
    );
    assert_eq!(pdns.call("PATCH", &path, KEY, Some(&patch(&["\"a\""], "PRUNE"))).0, 204);
    pdns.wait_dig("_acme-challenge.www.acme.example", "TXT", &["\"b\""]);
}

#[test]
fn bad_input_is_refused_whole() {
    let pdns = start();
    pdns.create("bad.example.");
    let path = format!("{ZONES}/bad.example.");
    let before = pdns.zone("bad.example.");
    let good = rrset("ok.bad.example.", "A", "REPLACE", &["192.0.2.1"]);
    let cases: Vec<(&str, (u16, Value), u16, &str)> = vec![
        (
            "malformed JSON",
            pdns.raw("PATCH", &path, KEY, "application/json", b"{\"rrsets\": ["),
            400,
            "JSON",
        ),
        (
            "wrong content type",
            pdns.raw("PATCH", &path, KEY, "text/plain", br#"{"rrsets": []}"#),
            415,
            "application/json",
        ),
        (
            "unknown changetype",
            pdns.call(
                "PATCH",
                &path,
                KEY,
                Some(&json!({"rrsets": [good, rrset("x.bad.example.", "A", "UPSERT", &["192.0.2.1"])]})),
            ),
            422,
            "UPSERT",
        ),
        (
            "CNAME beside other data",
            pdns.call(
                "PATCH",
                &path,
                KEY,
                Some(&json!({"rrsets": [good, rrset("ok.bad.example.", "CNAME", "REPLACE", &["elsewhere.example."])]})),
            ),
            422,
            "CNAME",
        ),
        (
            "out of zone",
            pdns.call(
                "PATCH",
                &path,
                KEY,
                Some(&json!({"rrsets": [good, rrset("x.other.example.", "A", "REPLACE", &["192.0.2.1"])]})),
            ),
            422,
            "out of zone",
        ),
        (
            "duplicate record",
            pdns.call(
                "PATCH",
                &path,
                KEY,
                Some(&json!({"rrsets": [good, rrset("d.bad.example.", "A", "REPLACE", &["192.0.2.1", "192.0.2.1"])]})),
            ),
            422,
            "Duplicate record",
        ),
        (
            "LUA while disabled",
            pdns.call(
                "PATCH",
                &path,
                KEY,
                Some(&json!({"rrsets": [good, rrset("l.bad.example.", "LUA", "REPLACE", &["A \"'192.0.2.1'\""])]})),
            ),
            422,
            "LUA",
        ),
        (
            "unparsable content",
            pdns.call(
                "PATCH",
                &path,
                KEY,
                Some(&json!({"rrsets": [good, rrset("c.bad.example.", "A", "REPLACE", &["192.0.2.300"])]})),
            ),
            422,
            "192.0.2.300",
        ),
        (
            "relative name",
            pdns.call(
                "PATCH",
                &path,
                KEY,
                Some(&json!({"rrsets": [rrset("rel", "A", "REPLACE", &["192.0.2.1"])]})),
            ),
            422,
            "canonical",
        ),
        (
            "no such zone",
            pdns.call(
                "PATCH",
                &format!("{ZONES}/none.example."),
                KEY,
                Some(&json!({"rrsets": [good]})),
            ),
            404,
            "none.example.",
        ),
        (
            "read-only key",
            pdns.call("PATCH", &path, READER, Some(&json!({"rrsets": [good]}))),
            403,
            "read",
        ),
        (
            "another zone's key",
            pdns.call("PATCH", &path, SCOPED, Some(&json!({"rrsets": [good]}))),
            404,
            "bad.example.",
        ),
        (
            "apex NS deleted",
            pdns.call(
                "PATCH",
                &path,
                KEY,
                Some(&json!({"rrsets": [good, rrset("bad.example.", "NS", "DELETE", &[])]})),
            ),
            422,
            "NS",
        ),
        (
            "zone without NS",
            pdns.call(
                "POST",
                ZONES,
                KEY,
                Some(&json!({"name": "nons.example.", "kind": "Native", "nameservers": []})),
            ),
            422,
            "NS",
        ),
        (
            "zone exists",
            pdns.call(
                "POST",
                ZONES,
                KEY,
                Some(&json!({"name": "bad.example.", "kind": "Native", "nameservers": []})),
            ),
            409,
            "exists",
        ),
    ];
    for (what, (status, body), expected, fragment) in cases {
        assert_eq!(status, expected, "{what}: {body}");
        let message = body["error"].as_str().unwrap_or_default();
        assert!(message.contains(fragment), "{what}: {message:?} lacks {fragment:?}");
    }
    let (status, _) = pdns.call("GET", ZONES, "wrong-key", None);
    assert_eq!(status, 401);
    assert_eq!(
        pdns.zone("bad.example."),
        before,
        "nothing changed, not even the serial"
    );
    assert!(pdns.dig("ok.bad.example", "A").is_empty(), "no partial PATCH");
}

#[test]
fn keys_scoped_to_zones_see_and_change_only_theirs() {
    let pdns = start();
    pdns.create("a.example.");
    pdns.create("b.example.");
    let (status, zones) = pdns.call("GET", ZONES, SCOPED, None);
    assert_eq!(status, 200);
    let names: Vec<&str> = zones
        .as_array()
        .expect("zones")
        .iter()
        .filter_map(|zone| zone["name"].as_str())
        .collect();
    assert_eq!(names, ["a.example."]);
    let patch = json!({"rrsets": [rrset("www.a.example.", "A", "REPLACE", &["192.0.2.7"])]});
    assert_eq!(
        pdns.call("PATCH", &format!("{ZONES}/a.example."), SCOPED, Some(&patch))
            .0,
        204
    );
    pdns.wait_dig("www.a.example", "A", &["192.0.2.7"]);
    assert_eq!(pdns.call("GET", &format!("{ZONES}/b.example."), SCOPED, None).0, 404);
    assert_eq!(pdns.call("DELETE", &format!("{ZONES}/b.example."), SCOPED, None).0, 404);
    // Zones below its own it may create; others not.
    let create = |name: &str| {
        pdns.call(
            "POST",
            ZONES,
            SCOPED,
            Some(&json!({"name": name, "kind": "Native", "nameservers": ["ns1.a.example."]})),
        )
        .0
    };
    assert_eq!(create("sub.a.example."), 201);
    assert_eq!(create("c.example."), 404);
    assert_eq!(pdns.call("DELETE", &format!("{ZONES}/b.example."), KEY, None).0, 204);
    assert_eq!(pdns.call("GET", &format!("{ZONES}/b.example."), KEY, None).0, 404);
}
