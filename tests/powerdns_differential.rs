//! The same PowerDNS API calls sent to pooldns and to PowerDNS 4.7
//! (gsqlite3): status codes compared call by call, and the zones' RRsets
//! compared after the successful calls. Every accepted difference is named
//! below with its reason (the README lists them too); a new difference, or
//! one that went away, fails the test.

use std::collections::BTreeSet;

use serde_json::{json, Value};
use testkit::pdns_api::PdnsApi;
use testkit::{http_request, Pooldns, PooldnsOptions};

const KEY: &str = "differential-key-31";
const ZONES: &str = "/api/v1/servers/localhost/zones";
const ZONE: &str = "diff.example.";

/// Calls whose answers differ, and why.
const ACCEPTED: &[(&str, &str)] = &[
    (
        "patch SOA",
        "the SOA is the server's: its serial follows soa_edit_api, other fields come from zone files",
    ),
    (
        "patch EXTEND",
        "EXTEND and PRUNE are PowerDNS 5's; PowerDNS 4.7 does not know them",
    ),
    (
        "patch PRUNE",
        "EXTEND and PRUNE are PowerDNS 5's; PowerDNS 4.7 does not know them",
    ),
    (
        "patch relative CNAME target",
        "record content is read like a zone file line, relative names completed with the zone",
    ),
    (
        "metadata ALLOW-AXFR-FROM not an address",
        "metadata the server will act on is checked: ALLOW-AXFR-FROM takes addresses and networks",
    ),
    ("put kind Bogus", "an unknown zone kind is refused, not stored"),
    (
        "create NSEC3 with iterations",
        "NSEC3 follows RFC 9276: no extra iterations, no salt",
    ),
];

/// RRsets of the final zone that differ, and why.
const ACCEPTED_RRSETS: &[(&str, &str)] = &[
    (
        "dis.diff.example. A",
        "disabled records are not stored: pooldns serves what it stores",
    ),
    (
        "rel.diff.example. CNAME",
        "the relative target was completed with the zone",
    ),
    ("www.diff.example. A", "EXTEND and PRUNE were applied"),
    (
        "sub.diff.example. DS",
        "DS digests are written in uppercase hex, as RFC 4034 §5.3 shows them",
    ),
];

struct Peer {
    api: std::net::SocketAddr,
}

impl Peer {
    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let text = body.map(Value::to_string).unwrap_or_default();
        let mut headers = vec![("X-API-Key", KEY)];
        if body.is_some() {
            headers.push(("Content-Type", "application/json"));
        }
        let answer = http_request(self.api, method, path, &headers, text.as_bytes()).expect("HTTP");
        (answer.status, serde_json::from_str(&answer.body).unwrap_or(Value::Null))
    }
}

/// RRsets as comparable text, SOA left out (its serial follows each
/// server's policy), records sorted.
fn rrsets(zone: &Value) -> BTreeSet<String> {
    zone["rrsets"]
        .as_array()
        .map(|sets| {
            sets.iter()
                .filter(|set| set["type"] != "SOA")
                .map(|set| {
                    let mut records: Vec<String> = set["records"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|record| {
                            format!(
                                "{}{}",
                                record["content"].as_str().unwrap_or(""),
                                if record["disabled"] == true { " (disabled)" } else { "" }
                            )
                        })
                        .collect();
                    records.sort();
                    // Comments by content and account: `modified_at`
                    // defaults to each server's clock.
                    let comments: Vec<String> = set["comments"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|comment| format!("#{} ({})", comment["content"], comment["account"]))
                        .collect();
                    format!(
                        "{} {} {} {} {}",
                        set["name"].as_str().unwrap_or(""),
                        set["type"].as_str().unwrap_or(""),
                        set["ttl"],
                        records.join(" | "),
                        comments.join(" ")
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn set(name: &str, rtype: &str, changetype: &str, contents: &[&str]) -> Value {
    json!({"name": name, "type": rtype, "ttl": 300, "changetype": changetype,
           "records": contents.iter().map(|c| json!({"content": c, "disabled": false})).collect::<Vec<_>>()})
}

fn patch(sets: Vec<Value>) -> Option<Value> {
    Some(json!({ "rrsets": sets }))
}

#[test]
fn the_same_calls_get_the_same_answers_as_powerdns() {
    let pdns = PdnsApi::start(KEY);
    let zones_dir = tempfile::tempdir().expect("temp dir");
    let mut options = PooldnsOptions::new(zones_dir.path());
    options.extra_config = format!("\n[[api.keys]]\nname = \"operator\"\nkey = \"{KEY}\"\n");
    let ours = Pooldns::start_with(options);
    let peers = [
        ("pooldns", Peer { api: ours.api }),
        ("PowerDNS", Peer { api: pdns.api }),
    ];

    let zone = format!("{ZONES}/{ZONE}");
    let n = |label: &str| format!("{label}.{ZONE}");
    let create = |name: &str| {
        Some(json!({"name": name, "kind": "Native", "nameservers": [format!("ns1.{name}"), format!("ns2.{name}")]}))
    };
    let corpus: Vec<(&str, &str, String, Option<Value>)> = vec![
        (
            "create zone",
            "POST",
            ZONES.into(),
            Some(
                json!({"name": ZONE, "kind": "Native", "nameservers": [n("ns1"), n("ns2")],
                        "rrsets": [{"name": n("ns1"), "type": "A", "ttl": 3600, "records": [{"content": "192.0.2.1", "disabled": false}]},
                                   {"name": n("ns2"), "type": "A", "ttl": 3600, "records": [{"content": "192.0.2.2", "disabled": false}]}]}),
            ),
        ),
        ("create zone again", "POST", ZONES.into(), create(ZONE)),
        (
            "create zone without dot",
            "POST",
            ZONES.into(),
            Some(json!({"name": "nodot.example", "kind": "Native", "nameservers": []})),
        ),
        (
            "create kind Master",
            "POST",
            ZONES.into(),
            Some(json!({"name": "master.example.", "kind": "Master", "nameservers": ["ns1.master.example."]})),
        ),
        (
            "create kind Slave",
            "POST",
            ZONES.into(),
            Some(json!({"name": "slave.example.", "kind": "Slave", "masters": ["192.0.2.9"]})),
        ),
        (
            "create signed",
            "POST",
            ZONES.into(),
            Some(
                json!({"name": "signed.example.", "kind": "Native", "dnssec": true, "nameservers": ["ns1.signed.example."]}),
            ),
        ),
        (
            "create with NS rrset and nameservers",
            "POST",
            ZONES.into(),
            Some(
                json!({"name": "both.example.", "kind": "Native", "nameservers": ["ns1.both.example."],
                        "rrsets": [{"name": "both.example.", "type": "NS", "ttl": 3600, "records": [{"content": "ns9.both.example.", "disabled": false}]}]}),
            ),
        ),
        (
            "create with bad record",
            "POST",
            ZONES.into(),
            Some(
                json!({"name": "badrec.example.", "kind": "Native", "nameservers": ["ns1.badrec.example."],
                        "rrsets": [{"name": "www.badrec.example.", "type": "A", "ttl": 300, "records": [{"content": "300.1.1.1", "disabled": false}]}]}),
            ),
        ),
        (
            "create with SOA",
            "POST",
            ZONES.into(),
            Some(
                json!({"name": "soa.example.", "kind": "Native", "nameservers": ["ns1.soa.example."],
                        "rrsets": [{"name": "soa.example.", "type": "SOA", "ttl": 3600, "records": [{"content": "ns1.soa.example. hostmaster.soa.example. 5 3600 600 604800 300", "disabled": false}]}]}),
            ),
        ),
        (
            "create without name",
            "POST",
            ZONES.into(),
            Some(json!({"kind": "Native"})),
        ),
        (
            "create bad label",
            "POST",
            ZONES.into(),
            Some(json!({"name": "bad..example.", "kind": "Native", "nameservers": []})),
        ),
        ("servers", "GET", "/api/v1/servers".into(), None),
        ("server", "GET", "/api/v1/servers/localhost".into(), None),
        ("other server", "GET", "/api/v1/servers/elsewhere".into(), None),
        ("zones", "GET", ZONES.into(), None),
        ("zones filtered", "GET", format!("{ZONES}?zone={ZONE}"), None),
        ("zone", "GET", zone.clone(), None),
        ("zone without rrsets", "GET", format!("{zone}?rrsets=false"), None),
        ("missing zone", "GET", format!("{ZONES}/missing.example."), None),
        (
            "get zone without trailing dot",
            "GET",
            format!("{ZONES}/diff.example"),
            None,
        ),
        (
            "patch A",
            "PATCH",
            zone.clone(),
            patch(vec![set(&n("www"), "A", "REPLACE", &["192.0.2.80", "192.0.2.81"])]),
        ),
        (
            "patch AAAA",
            "PATCH",
            zone.clone(),
            patch(vec![set(&n("www"), "AAAA", "REPLACE", &["2001:db8::80"])]),
        ),
        (
            "patch TXT",
            "PATCH",
            zone.clone(),
            patch(vec![set(
                &n("txt"),
                "TXT",
                "REPLACE",
                &["\"hello world\"", "\"two\" \"strings\""],
            )]),
        ),
        (
            "patch MX",
            "PATCH",
            zone.clone(),
            patch(vec![set(ZONE, "MX", "REPLACE", &["10 mail.diff.example."])]),
        ),
        (
            "patch CNAME",
            "PATCH",
            zone.clone(),
            patch(vec![set(&n("alias"), "CNAME", "REPLACE", &["www.diff.example."])]),
        ),
        (
            "patch SRV",
            "PATCH",
            zone.clone(),
            patch(vec![set(
                &n("_sip._tcp"),
                "SRV",
                "REPLACE",
                &["10 20 5060 sip.diff.example."],
            )]),
        ),
        (
            "patch CAA",
            "PATCH",
            zone.clone(),
            patch(vec![set(ZONE, "CAA", "REPLACE", &["0 issue \"letsencrypt.org\""])]),
        ),
        (
            "patch wildcard",
            "PATCH",
            zone.clone(),
            patch(vec![set(&n("*.apps"), "A", "REPLACE", &["192.0.2.90"])]),
        ),
        (
            "patch delegation",
            "PATCH",
            zone.clone(),
            patch(vec![
                set(&n("sub"), "NS", "REPLACE", &["ns1.sub.diff.example."]),
                set(&n("ns1.sub"), "A", "REPLACE", &["192.0.2.53"]),
            ]),
        ),
        (
            "patch DS",
            "PATCH",
            zone.clone(),
            patch(vec![set(
                &n("sub"),
                "DS",
                "REPLACE",
                &["12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"],
            )]),
        ),
        (
            "patch LUA",
            "PATCH",
            zone.clone(),
            patch(vec![set(&n("lua"), "LUA", "REPLACE", &["A \"'192.0.2.7'\""])]),
        ),
        (
            "patch several",
            "PATCH",
            zone.clone(),
            patch(vec![
                set(&n("a1"), "A", "REPLACE", &["192.0.2.11"]),
                set(&n("a2"), "A", "REPLACE", &["192.0.2.12"]),
                set(&n("a3"), "TXT", "REPLACE", &["\"x\""]),
            ]),
        ),
        (
            "patch replace again",
            "PATCH",
            zone.clone(),
            patch(vec![set(&n("www"), "A", "REPLACE", &["192.0.2.80", "192.0.2.81"])]),
        ),
        (
            "patch empty REPLACE",
            "PATCH",
            zone.clone(),
            patch(vec![set(&n("www"), "AAAA", "REPLACE", &[])]),
        ),
        (
            "patch DELETE",
            "PATCH",
            zone.clone(),
            patch(vec![set(&n("txt"), "TXT", "DELETE", &[])]),
        ),
        (
            "patch DELETE absent",
            "PATCH",
            zone.clone(),
            patch(vec![set(&n("nothing"), "TXT", "DELETE", &[])]),
        ),
        (
            "patch CNAME beside A",
            "PATCH",
            zone.clone(),
            patch(vec![set(&n("www"), "CNAME", "REPLACE", &["other.example."])]),
        ),
        (
            "patch A beside CNAME",
            "PATCH",
            zone.clone(),
            patch(vec![set(&n("alias"), "A", "REPLACE", &["192.0.2.1"])]),
        ),
        (
            "patch out of zone",
            "PATCH",
            zone.clone(),
            patch(vec![set("www.other.example.", "A", "REPLACE", &["192.0.2.1"])]),
        ),
        (
            "patch relative name",
            "PATCH",
            zone.clone(),
            patch(vec![set("www", "A", "REPLACE", &["192.0.2.1"])]),
        ),
        (
            "patch unknown changetype",
            "PATCH",
            zone.clone(),
            patch(vec![set(&n("x"), "A", "UPSERT", &["192.0.2.1"])]),
        ),
        (
            "patch without changetype",
            "PATCH",
            zone.clone(),
            Some(json!({"rrsets": [{"name": n("x"), "type": "A", "ttl": 300, "records": []}]})),
        ),
        (
            "patch without ttl",
            "PATCH",
            zone.clone(),
            Some(
                json!({"rrsets": [{"name": n("x"), "type": "A", "changetype": "REPLACE", "records": [{"content": "192.0.2.1", "disabled": false}]}]}),
            ),
        ),
        (
            "patch bad A",
            "PATCH",
            zone.clone(),
            patch(vec![set(&n("x"), "A", "REPLACE", &["192.0.2.300"])]),
        ),
        (
            "patch bad AAAA",
            "PATCH",
            zone.clone(),
            patch(vec![set(&n("x"), "AAAA", "REPLACE", &["2001:db8::g"])]),
        ),
        (
            "patch bad MX",
            "PATCH",
            zone.clone(),
            patch(vec![set(&n("x"), "MX", "REPLACE", &["mail.example."])]),
        ),
        (
            "patch unknown type",
            "PATCH",
            zone.clone(),
            patch(vec![set(&n("x"), "BOGUS", "REPLACE", &["1"])]),
        ),
        (
            "patch duplicate records",
            "PATCH",
            zone.clone(),
            patch(vec![set(&n("x"), "A", "REPLACE", &["192.0.2.1", "192.0.2.1"])]),
        ),
        (
            "patch duplicate RRsets",
            "PATCH",
            zone.clone(),
            patch(vec![
                set(&n("x"), "A", "REPLACE", &["192.0.2.1"]),
                set(&n("x"), "A", "REPLACE", &["192.0.2.2"]),
            ]),
        ),
        (
            "patch half bad",
            "PATCH",
            zone.clone(),
            patch(vec![
                set(&n("good"), "A", "REPLACE", &["192.0.2.1"]),
                set(&n("bad"), "A", "REPLACE", &["nonsense"]),
            ]),
        ),
        (
            "patch relative CNAME target",
            "PATCH",
            zone.clone(),
            patch(vec![set(&n("rel"), "CNAME", "REPLACE", &["www"])]),
        ),
        (
            "patch SOA",
            "PATCH",
            zone.clone(),
            patch(vec![set(
                ZONE,
                "SOA",
                "REPLACE",
                &["ns1.diff.example. hostmaster.diff.example. 99 3600 600 604800 300"],
            )]),
        ),
        (
            "patch EXTEND",
            "PATCH",
            zone.clone(),
            patch(vec![set(&n("www"), "A", "EXTEND", &["192.0.2.82"])]),
        ),
        (
            "patch PRUNE",
            "PATCH",
            zone.clone(),
            patch(vec![set(&n("www"), "A", "PRUNE", &["192.0.2.80"])]),
        ),
        (
            "patch disabled record",
            "PATCH",
            zone.clone(),
            Some(
                json!({"rrsets": [{"name": n("dis"), "type": "A", "ttl": 300, "changetype": "REPLACE",
                                   "records": [{"content": "192.0.2.5", "disabled": true}, {"content": "192.0.2.6", "disabled": false}]}]}),
            ),
        ),
        (
            "patch missing zone",
            "PATCH",
            format!("{ZONES}/missing.example."),
            patch(vec![set("www.missing.example.", "A", "REPLACE", &["192.0.2.1"])]),
        ),
        (
            "patch not JSON",
            "PATCH",
            zone.clone(),
            Some(Value::String("not an object".into())),
        ),
        (
            "patch without rrsets",
            "PATCH",
            zone.clone(),
            Some(json!({"kind": "Native"})),
        ),
        ("zone after patches", "GET", zone.clone(), None),
        (
            "put soa_edit_api",
            "PUT",
            zone.clone(),
            Some(json!({"soa_edit_api": "INCREASE"})),
        ),
        (
            "put missing zone",
            "PUT",
            format!("{ZONES}/missing.example."),
            Some(json!({"soa_edit_api": "INCREASE"})),
        ),
        ("rectify", "PUT", format!("{zone}/rectify"), None),
        (
            "rectify missing zone",
            "PUT",
            format!("{ZONES}/missing.example./rectify"),
            None,
        ),
        ("export", "GET", format!("{zone}/export"), None),
        (
            "export missing zone",
            "GET",
            format!("{ZONES}/missing.example./export"),
            None,
        ),
        // Metadata.
        ("metadata list", "GET", format!("{zone}/metadata"), None),
        (
            "metadata add ALLOW-AXFR-FROM",
            "POST",
            format!("{zone}/metadata"),
            Some(json!({"kind": "ALLOW-AXFR-FROM", "metadata": ["192.0.2.0/24"]})),
        ),
        (
            "metadata add to a kind",
            "POST",
            format!("{zone}/metadata"),
            Some(json!({"kind": "ALLOW-AXFR-FROM", "metadata": ["198.51.100.1", "192.0.2.0/24"]})),
        ),
        ("metadata get", "GET", format!("{zone}/metadata/ALLOW-AXFR-FROM"), None),
        (
            "metadata replace",
            "PUT",
            format!("{zone}/metadata/ALLOW-AXFR-FROM"),
            Some(json!({"metadata": ["10.0.0.1"]})),
        ),
        (
            "metadata add ALSO-NOTIFY",
            "POST",
            format!("{zone}/metadata"),
            Some(json!({"kind": "ALSO-NOTIFY", "metadata": ["192.0.2.7:53"]})),
        ),
        (
            "metadata add X- kind",
            "POST",
            format!("{zone}/metadata"),
            Some(json!({"kind": "X-OWNER", "metadata": ["team-a"]})),
        ),
        (
            "metadata add SOA-EDIT-API",
            "POST",
            format!("{zone}/metadata"),
            Some(json!({"kind": "SOA-EDIT-API", "metadata": ["EPOCH"]})),
        ),
        (
            "metadata add NSEC3PARAM",
            "POST",
            format!("{zone}/metadata"),
            Some(json!({"kind": "NSEC3PARAM", "metadata": ["1 0 0 -"]})),
        ),
        (
            "metadata add unknown kind",
            "POST",
            format!("{zone}/metadata"),
            Some(json!({"kind": "BOGUS", "metadata": ["1"]})),
        ),
        (
            "metadata add lowercase kind",
            "POST",
            format!("{zone}/metadata"),
            Some(json!({"kind": "also-notify", "metadata": ["192.0.2.8"]})),
        ),
        (
            "metadata add TSIG-ALLOW-AXFR",
            "POST",
            format!("{zone}/metadata"),
            Some(json!({"kind": "TSIG-ALLOW-AXFR", "metadata": ["xfr."]})),
        ),
        (
            "metadata without kind",
            "POST",
            format!("{zone}/metadata"),
            Some(json!({"metadata": ["1"]})),
        ),
        (
            "metadata not an array",
            "POST",
            format!("{zone}/metadata"),
            Some(json!({"kind": "X-OWNER", "metadata": "team-b"})),
        ),
        (
            "metadata not strings",
            "POST",
            format!("{zone}/metadata"),
            Some(json!({"kind": "X-OWNER", "metadata": [5]})),
        ),
        (
            "metadata get TSIG-ALLOW-AXFR",
            "GET",
            format!("{zone}/metadata/TSIG-ALLOW-AXFR"),
            None,
        ),
        (
            "metadata get SOA-EDIT-API",
            "GET",
            format!("{zone}/metadata/SOA-EDIT-API"),
            None,
        ),
        (
            "metadata get unknown kind",
            "GET",
            format!("{zone}/metadata/BOGUS"),
            None,
        ),
        ("metadata delete", "DELETE", format!("{zone}/metadata/X-OWNER"), None),
        (
            "metadata delete NSEC3PARAM",
            "DELETE",
            format!("{zone}/metadata/NSEC3PARAM"),
            None,
        ),
        ("metadata list after changes", "GET", format!("{zone}/metadata"), None),
        (
            "metadata ALLOW-AXFR-FROM not an address",
            "POST",
            format!("{zone}/metadata"),
            Some(json!({"kind": "ALLOW-AXFR-FROM", "metadata": ["not-an-address"]})),
        ),
        (
            "metadata of missing zone",
            "GET",
            format!("{ZONES}/missing.example./metadata"),
            None,
        ),
        // Comments.
        (
            "patch with comments",
            "PATCH",
            zone.clone(),
            Some(
                json!({"rrsets": [{"name": n("www"), "type": "A", "ttl": 300, "changetype": "REPLACE",
                "records": [{"content": "192.0.2.80", "disabled": false}],
                "comments": [{"content": "the web front", "account": "ops", "modified_at": 100}]}]}),
            ),
        ),
        (
            "patch comments only",
            "PATCH",
            zone.clone(),
            Some(
                json!({"rrsets": [{"name": n("www"), "type": "A", "changetype": "REPLACE",
                "comments": [{"content": "moved", "account": "ops2", "modified_at": 200}]}]}),
            ),
        ),
        (
            "patch records keep comments",
            "PATCH",
            zone.clone(),
            patch(vec![set(&n("www"), "A", "REPLACE", &["192.0.2.81"])]),
        ),
        (
            "patch comment without account",
            "PATCH",
            zone.clone(),
            Some(
                json!({"rrsets": [{"name": n("www"), "type": "A", "changetype": "REPLACE",
                "comments": [{"content": "no account"}]}]}),
            ),
        ),
        (
            "patch comments on no records",
            "PATCH",
            zone.clone(),
            Some(
                json!({"rrsets": [{"name": n("note"), "type": "TXT", "changetype": "REPLACE",
                "comments": [{"content": "reserved for later", "account": "ops", "modified_at": 300}]}]}),
            ),
        ),
        (
            "patch delete removes comments",
            "PATCH",
            zone.clone(),
            Some(json!({"rrsets": [{"name": n("note"), "type": "TXT", "changetype": "DELETE"}]})),
        ),
        // ALIAS, as external-dns sends a CNAME to a name outside the zone.
        (
            "patch ALIAS",
            "PATCH",
            zone.clone(),
            patch(vec![
                set(&n("lb"), "ALIAS", "REPLACE", &["elb.cloud.example."]),
                set(ZONE, "ALIAS", "REPLACE", &["apex.cloud.example."]),
            ]),
        ),
        ("zone after comments and ALIAS", "GET", zone.clone(), None),
        // Search and statistics.
        (
            "search names",
            "GET",
            "/api/v1/servers/localhost/search-data?q=www*&max=10".into(),
            None,
        ),
        (
            "search comments",
            "GET",
            "/api/v1/servers/localhost/search-data?q=mov*&max=10&object_type=comment".into(),
            None,
        ),
        (
            "search blank",
            "GET",
            "/api/v1/servers/localhost/search-data?q=&max=10".into(),
            None,
        ),
        (
            "search max 0",
            "GET",
            "/api/v1/servers/localhost/search-data?q=www*&max=0".into(),
            None,
        ),
        (
            "search unknown object_type",
            "GET",
            "/api/v1/servers/localhost/search-data?q=www*&max=5&object_type=host".into(),
            None,
        ),
        ("statistics", "GET", "/api/v1/servers/localhost/statistics".into(), None),
        (
            "statistic uptime",
            "GET",
            "/api/v1/servers/localhost/statistics?statistic=uptime".into(),
            None,
        ),
        (
            "statistic unknown",
            "GET",
            "/api/v1/servers/localhost/statistics?statistic=nothing-like-it".into(),
            None,
        ),
        // Transfers: zones here are primaries.
        ("axfr-retrieve", "PUT", format!("{zone}/axfr-retrieve"), None),
        (
            "axfr-retrieve missing zone",
            "PUT",
            format!("{ZONES}/missing.example./axfr-retrieve"),
            None,
        ),
        ("notify", "PUT", format!("{zone}/notify"), None),
        // Zone settings.
        (
            "put api_rectify",
            "PUT",
            zone.clone(),
            Some(json!({"api_rectify": true})),
        ),
        (
            "put unknown TSIG key",
            "PUT",
            zone.clone(),
            Some(json!({"master_tsig_key_ids": ["nokey."]})),
        ),
        (
            "put nsec3param on an unsigned zone",
            "PUT",
            zone.clone(),
            Some(json!({"nsec3param": "1 0 0 -"})),
        ),
        ("put kind Bogus", "PUT", zone.clone(), Some(json!({"kind": "Bogus"}))),
        (
            "create NSEC3 zone",
            "POST",
            ZONES.into(),
            Some(
                json!({"name": "n3.example.", "kind": "Native", "nameservers": ["ns1.n3.example."],
                        "dnssec": true, "nsec3param": "1 0 0 -", "api_rectify": true}),
            ),
        ),
        (
            "NSEC3 zone metadata",
            "GET",
            format!("{ZONES}/n3.example./metadata"),
            None,
        ),
        (
            "create nsec3param unsigned",
            "POST",
            ZONES.into(),
            Some(
                json!({"name": "n4.example.", "kind": "Native", "nameservers": ["ns1.n4.example."],
                        "nsec3param": "1 0 0 -"}),
            ),
        ),
        (
            "create NSEC3 with iterations",
            "POST",
            ZONES.into(),
            Some(
                json!({"name": "n5.example.", "kind": "Native", "nameservers": ["ns1.n5.example."],
                        "dnssec": true, "nsec3param": "1 0 5 ab"}),
            ),
        ),
        // DNSSEC keys.
        ("create zone for keys", "POST", ZONES.into(), create("keys.example.")),
        (
            "cryptokeys of unsigned zone",
            "GET",
            format!("{ZONES}/keys.example./cryptokeys"),
            None,
        ),
        (
            "cryptokey bad keytype",
            "POST",
            format!("{ZONES}/keys.example./cryptokeys"),
            Some(json!({"keytype": "bogus"})),
        ),
        (
            "cryptokey without keytype",
            "POST",
            format!("{ZONES}/keys.example./cryptokeys"),
            Some(json!({"active": true})),
        ),
        (
            "cryptokey unknown algorithm",
            "POST",
            format!("{ZONES}/keys.example./cryptokeys"),
            Some(json!({"keytype": "csk", "algorithm": "nope"})),
        ),
        (
            "cryptokey create csk",
            "POST",
            format!("{ZONES}/keys.example./cryptokeys"),
            Some(json!({"keytype": "csk", "active": true, "algorithm": "ECDSAP256SHA256"})),
        ),
        (
            "cryptokeys list",
            "GET",
            format!("{ZONES}/keys.example./cryptokeys"),
            None,
        ),
        (
            "cryptokey get missing",
            "GET",
            format!("{ZONES}/keys.example./cryptokeys/99999"),
            None,
        ),
        (
            "cryptokey delete missing",
            "DELETE",
            format!("{ZONES}/keys.example./cryptokeys/99999"),
            None,
        ),
        (
            "put nsec3param on a signed zone",
            "PUT",
            format!("{ZONES}/keys.example."),
            Some(json!({"nsec3param": "1 0 0 -"})),
        ),
        ("signed zone", "GET", format!("{ZONES}/keys.example."), None),
        (
            "put dnssec false",
            "PUT",
            format!("{ZONES}/keys.example."),
            Some(json!({"dnssec": false})),
        ),
        (
            "cryptokeys after unsigning",
            "GET",
            format!("{ZONES}/keys.example./cryptokeys"),
            None,
        ),
        (
            "cryptokeys of missing zone",
            "GET",
            format!("{ZONES}/missing.example./cryptokeys"),
            None,
        ),
        (
            "delete missing zone",
            "DELETE",
            format!("{ZONES}/missing.example."),
            None,
        ),
        ("delete zone", "DELETE", format!("{ZONES}/master.example."), None),
        ("deleted zone", "GET", format!("{ZONES}/master.example."), None),
    ];
    assert!(corpus.len() >= 60, "{} calls", corpus.len());

    let mut differences = Vec::new();
    let mut rrset_differences = BTreeSet::new();
    for (label, method, path, body) in &corpus {
        let answers: Vec<(u16, Value)> = peers
            .iter()
            .map(|(_, peer)| peer.call(method, path, body.as_ref()))
            .collect();
        let (ours, theirs) = (&answers[0], &answers[1]);
        if ours.0 != theirs.0 {
            differences.push((
                label.to_string(),
                format!("status {} vs {} ({} / {})", ours.0, theirs.0, ours.1, theirs.1),
            ));
        } else if ours.0 >= 400 && theirs.1.get("error").is_some() && ours.1.get("error").is_none() {
            // PowerDNS answers some errors in plain text; where it answers
            // JSON, so must pooldns.
            differences.push((label.to_string(), format!("error bodies {} / {}", ours.1, theirs.1)));
        } else if path.contains("/metadata") && ours.0 < 300 && ours.1 != theirs.1 {
            // Metadata is compared whole: kinds, values and their order.
            differences.push((label.to_string(), format!("metadata {} / {}", ours.1, theirs.1)));
        } else if ours.0 == 200 && ours.1.get("rrsets").is_some() {
            let (mine, peer) = (rrsets(&ours.1), rrsets(&theirs.1));
            for line in mine.symmetric_difference(&peer) {
                let key: Vec<&str> = line.splitn(3, ' ').take(2).collect();
                rrset_differences.insert(key.join(" "));
            }
        }
    }
    let found: BTreeSet<&str> = differences.iter().map(|(label, _)| label.as_str()).collect();
    let accepted: BTreeSet<&str> = ACCEPTED.iter().map(|(label, _)| *label).collect();
    let report: String = differences
        .iter()
        .map(|(label, what)| format!("\n- {label}: {what}"))
        .collect();
    let version = testkit::pdns::PdnsServer::version();
    assert_eq!(found, accepted, "differences from {version}:{report}");
    let accepted_rrsets: BTreeSet<String> = ACCEPTED_RRSETS.iter().map(|(key, _)| key.to_string()).collect();
    assert_eq!(rrset_differences, accepted_rrsets, "RRsets that differ from {version}");
}
