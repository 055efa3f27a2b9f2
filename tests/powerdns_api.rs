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
         [[tsig]]\nname = \"xfr\"\nalgorithm = \"hmac-sha256\"\nsecret = \"eGZyLXhmci14ZnIteGZyLXhmci14ZnIteGZyLXhmci0=\"\n\
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

#[test]
fn cryptokeys_secure_roll_and_unsecure_a_zone() {
    let pdns = start();
    pdns.create("keys.example.");
    let keys = format!("{ZONES}/keys.example./cryptokeys");
    assert_eq!(pdns.call("GET", &keys, KEY, None), (200, json!([])));

    // The first key secures the zone; no private key is ever shown.
    let (status, key) = pdns.call("POST", &keys, KEY, Some(&json!({"keytype": "csk", "active": true})));
    assert_eq!(status, 201, "{key}");
    assert_eq!(
        (key["keytype"].as_str(), key["active"].as_bool()),
        (Some("csk"), Some(true))
    );
    assert_eq!(key["algorithm"], "ECDSAP256SHA256");
    let id = key["id"].as_i64().expect("id");
    let dnskey = key["dnskey"].as_str().expect("dnskey").to_string();
    assert!(dnskey.starts_with("257 3 13 "), "{dnskey}");
    assert_eq!(key["ds"].as_array().map(Vec::len), Some(2), "SHA-256 and SHA-384");
    let (status, one) = pdns.call("GET", &format!("{keys}/{id}"), KEY, None);
    assert_eq!((status, &one), (200, &key));
    let (_, listed) = pdns.call("GET", &keys, KEY, None);
    for text in [key.to_string(), one.to_string(), listed.to_string()] {
        assert!(!text.contains("privatekey") && !text.contains("Private-key"), "{text}");
    }
    testkit::pool::wait_until("the key to be served", std::time::Duration::from_secs(10), || {
        pdns.dig("keys.example", "DNSKEY")
            .iter()
            .any(|line| line.replace(' ', "") == dnskey.replace(' ', ""))
    });
    assert_eq!(pdns.zone("keys.example.")["dnssec"], true);

    // Another CSK starts a rollover: published, not yet signing.
    let (status, next) = pdns.call("POST", &keys, KEY, Some(&json!({"keytype": "csk"})));
    assert_eq!(status, 201, "{next}");
    assert_eq!(
        (next["published"].as_bool(), next["active"].as_bool()),
        (Some(true), Some(false))
    );
    let (status, busy) = pdns.call("POST", &keys, KEY, Some(&json!({"keytype": "csk"})));
    assert_eq!(status, 422, "one roll at a time: {busy}");
    let (status, body) = pdns.call("POST", &keys, KEY, Some(&json!({"keytype": "zsk"})));
    assert_eq!(status, 422, "a CSK zone has no ZSK to roll: {body}");

    // The signing key and a key in a roll stay.
    let (status, body) = pdns.call("DELETE", &format!("{keys}/{id}"), KEY, None);
    assert_eq!(status, 422, "{body}");
    assert_eq!(pdns.call("DELETE", &format!("{keys}/424242"), KEY, None).0, 404);
    assert_eq!(pdns.call("DELETE", &format!("{keys}/{id}"), READER, None).0, 403);

    // dnssec false stops signing; the keys go.
    let (status, body) = pdns.call(
        "PUT",
        &format!("{ZONES}/keys.example."),
        KEY,
        Some(&json!({"dnssec": false})),
    );
    assert_eq!(status, 204, "{body}");
    assert_eq!(pdns.call("GET", &keys, KEY, None), (200, json!([])));
    pdns.wait_dig("keys.example", "DNSKEY", &[]);

    // Secured again with NSEC3 from the zone object.
    let (status, body) = pdns.call(
        "PUT",
        &format!("{ZONES}/keys.example."),
        KEY,
        Some(&json!({"dnssec": true, "nsec3param": "1 0 0 -"})),
    );
    assert_eq!(status, 204, "{body}");
    assert_eq!(pdns.zone("keys.example.")["nsec3param"], "1 0 0 -");
    pdns.wait_dig("keys.example", "NSEC3PARAM", &["1 0 0 -"]);
}

#[test]
fn metadata_comments_search_and_statistics() {
    let pdns = start();
    pdns.create("meta.example.");
    pdns.create("a.example.");
    let zone = format!("{ZONES}/meta.example.");

    // TSIG-ALLOW-AXFR comes from the zone's master_tsig_key_ids, which
    // must name a known key.
    let (status, body) = pdns.call("PUT", &zone, KEY, Some(&json!({"master_tsig_key_ids": ["nokey"]})));
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"], "A TSIG key with the name 'nokey' does not exist");
    let (status, body) = pdns.call("PUT", &zone, KEY, Some(&json!({"master_tsig_key_ids": ["xfr"]})));
    assert_eq!(status, 204, "{body}");
    assert_eq!(pdns.zone("meta.example.")["master_tsig_key_ids"], json!(["xfr."]));
    let (status, body) = pdns.call("GET", &format!("{zone}/metadata/TSIG-ALLOW-AXFR"), KEY, None);
    assert_eq!((status, &body["metadata"]), (200, &json!(["xfr."])));
    let (status, _) = pdns.call(
        "POST",
        &format!("{zone}/metadata"),
        READER,
        Some(&json!({"kind": "X-OWNER", "metadata": ["a"]})),
    );
    assert_eq!(status, 403, "a read-only key cannot set metadata");

    // Comments are kept with their RRset and go with it.
    let patch = json!({"rrsets": [{"name": "www.meta.example.", "type": "A", "ttl": 300, "changetype": "REPLACE",
        "records": [{"content": "192.0.2.80", "disabled": false}],
        "comments": [{"content": "front door", "account": "ops"}]}]});
    assert_eq!(pdns.call("PATCH", &zone, KEY, Some(&patch)).0, 204);
    let (_, got) = pdns.call(
        "GET",
        &format!("{zone}?rrset_name=www.meta.example.&rrset_type=A"),
        KEY,
        None,
    );
    let comment = &got["rrsets"][0]["comments"][0];
    assert_eq!(
        (comment["content"].as_str(), comment["account"].as_str()),
        (Some("front door"), Some("ops"))
    );
    assert!(comment["modified_at"].as_i64().is_some_and(|time| time > 1_700_000_000));

    // search-data finds names, content and comments, in the caller's zones.
    let search = |key: &str, q: &str| {
        pdns.call(
            "GET",
            &format!("/api/v1/servers/localhost/search-data?q={q}&max=50"),
            key,
            None,
        )
    };
    let (status, found) = search(KEY, "*front*");
    assert_eq!(status, 200);
    assert_eq!(found.as_array().map(Vec::len), Some(1), "{found}");
    assert_eq!(found[0]["object_type"], "comment");
    let (_, found) = search(KEY, "192.0.2.80");
    assert_eq!(found[0]["name"], "www.meta.example.", "{found}");
    let (_, found) = search(SCOPED, "*.example.");
    assert!(
        found
            .as_array()
            .expect("list")
            .iter()
            .all(|item| item["zone_id"] == "a.example."),
        "a scoped key finds only its zones: {found}"
    );

    let delete = json!({"rrsets": [{"name": "www.meta.example.", "type": "A", "changetype": "DELETE"}]});
    assert_eq!(pdns.call("PATCH", &zone, KEY, Some(&delete)).0, 204);
    let (_, found) = search(KEY, "*front*");
    assert_eq!(found, json!([]), "the comments went with the RRset");

    // Deleting the zone takes its metadata.
    assert_eq!(pdns.call("DELETE", &zone, KEY, None).0, 204);
    pdns.create("meta.example.");
    let (_, kinds) = pdns.call("GET", &format!("{zone}/metadata"), KEY, None);
    assert_eq!(
        kinds,
        json!([{"type": "Metadata", "kind": "SOA-EDIT-API", "metadata": ["DEFAULT"]}])
    );

    // Statistics count the answers.
    pdns.wait_dig("ns1.meta.example", "A", &["192.0.2.53"]);
    let (status, stats) = pdns.call("GET", "/api/v1/servers/localhost/statistics", KEY, None);
    assert_eq!(status, 200);
    let item = |name: &str| {
        stats
            .as_array()
            .expect("list")
            .iter()
            .find(|item| item["name"] == name)
            .cloned()
    };
    let noerror: u64 = item("noerror-packets").expect("noerror-packets")["value"]
        .as_str()
        .and_then(|value| value.parse().ok())
        .expect("a count");
    assert!(noerror >= 1, "{stats}");
    let by_qtype = item("response-by-qtype").expect("response-by-qtype");
    assert!(
        by_qtype["value"]
            .as_array()
            .expect("map")
            .iter()
            .any(|entry| entry["name"] == "A"),
        "{by_qtype}"
    );
}
