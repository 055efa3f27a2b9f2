//! LUA records through a running server: native and scripted records,
//! the sandbox's limits, import-time errors, EDNS Client Subnet with a
//! GeoIP database, health-checked failover against real HTTP and TCP
//! servers, and DNSSEC-signed dynamic answers checked by delv.

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, ResponseCode};
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};
use hickory_proto::rr::{RData, RecordType};
use tempfile::TempDir;
use testkit::{free_port, query, Pooldns, PooldnsOptions, QueryOptions};

const ZONE: &str = "lua.test";

const SOA: &str =
    "$ORIGIN lua.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 300\n@ NS ns1\nns1 A 192.0.2.53\n";

/// A directory holding `lua.test.zone` with `records` after the SOA.
fn zone_dir(records: &str) -> TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    fs::write(dir.path().join("lua.test.zone"), format!("{SOA}{records}")).expect("write zone");
    dir
}

fn start(records: &str, extra_config: &str) -> (Pooldns, TempDir) {
    let dir = zone_dir(records);
    let mut options = PooldnsOptions::new(dir.path());
    options.extra_config = extra_config.to_string();
    (Pooldns::start_with(options), dir)
}

fn ask(server: &Pooldns, name: &str, qtype: RecordType, options: &QueryOptions) -> Message {
    query(server.dns, &format!("{name}.{ZONE}"), qtype, options)
}

/// The answer section as sorted presentation-format RDATA of `qtype`.
fn answers(message: &Message, qtype: RecordType) -> Vec<String> {
    let mut out: Vec<String> = message
        .answers
        .iter()
        .filter(|record| record.record_type() == qtype)
        .map(|record| match &record.data {
            RData::TXT(txt) => txt
                .txt_data
                .iter()
                .map(|part| String::from_utf8_lossy(part).into_owned())
                .collect::<String>(),
            data => data.to_string(),
        })
        .collect();
    out.sort();
    out
}

fn a(server: &Pooldns, name: &str) -> Vec<String> {
    let response = ask(server, name, RecordType::A, &QueryOptions::udp());
    assert_eq!(response.response_code, ResponseCode::NoError, "{name}: {response}");
    answers(&response, RecordType::A)
}

fn txt(server: &Pooldns, name: &str, options: &QueryOptions) -> Vec<String> {
    let response = ask(server, name, RecordType::TXT, options);
    assert_eq!(response.response_code, ResponseCode::NoError, "{name}: {response}");
    answers(&response, RecordType::TXT)
}

fn rcode(server: &Pooldns, name: &str, qtype: RecordType) -> ResponseCode {
    ask(server, name, qtype, &QueryOptions::udp()).response_code
}

fn subnet(address: &str, prefix: u8) -> QueryOptions {
    QueryOptions::udp().client_subnet(address.parse().expect("address"), prefix)
}

/// The scope prefix of the response's Client Subnet option, if any.
fn subnet_scope(message: &Message) -> Option<u8> {
    let edns: &Edns = message.edns.as_ref()?;
    match edns.option(EdnsCode::Subnet)? {
        EdnsOption::Subnet(subnet) => Some(subnet.scope_prefix()),
        _ => None,
    }
}

#[test]
fn literal_calls_and_scripts_answer() {
    let (server, _dir) = start(
        r#"
all      LUA A    "all({'192.0.2.1', '192.0.2.2'})"
rand     LUA A    "pickrandom({'192.0.2.1', '192.0.2.2'})"
sample   LUA TXT  "pickrandomsample(2, {'bob', 'alice', 'john'})"
wrand    LUA A    "pickwrandom({{10, '192.0.2.1'}, {20, '192.0.2.2'}})"
v6       LUA AAAA "pickrandom({'2001:db8::1', '2001:db8::2'})"
mixed    A        192.0.2.9
mixed    LUA A    "all({'192.0.2.10'})"
script   LUA A    ";local base = '192.0.2.' return {base .. 20, base .. 21}"
expr     LUA TXT  "'a' .. 'b'"
who      LUA TXT  ";return bestwho:toString()"
truth    LUA TXT  "netmask({'127.0.0.0/8'})"
cname    LUA CNAME "'all.lua.test.'"
config   LUA LUA  "pool = {'192.0.2.31', '192.0.2.32'}"
include  LUA A    ";include('config') return pool"
*.wild   LUA TXT  ";return qname:toString()"
empty    LUA A    "pickrandomsample(0, {'192.0.2.1'})"
ca       LUA A    "newCAFromRaw('ABCD'):toString()"
loop     LUA CNAME "'loop.lua.test.'"
ffempty  LUA A    "filterForward('10.0.0.1', newNMG({'192.0.2.0/24'}), '')"
dedupe   LUA PTR  ";return {'A.example.', 'a.example.'}"
chain    CNAME    broken
broken   LUA A    ";error('deliberate')"
number   LUA TXT  ";return 1/3"
"#,
        "",
    );
    assert_eq!(a(&server, "all"), ["192.0.2.1", "192.0.2.2"]);
    for _ in 0..10 {
        let picked = a(&server, "rand");
        assert!(picked == ["192.0.2.1"] || picked == ["192.0.2.2"], "{picked:?}");
        let weighted = a(&server, "wrand");
        assert!(weighted == ["192.0.2.1"] || weighted == ["192.0.2.2"], "{weighted:?}");
        let sample = txt(&server, "sample", &QueryOptions::udp());
        assert_eq!(sample.len(), 2, "{sample:?}");
        assert_ne!(sample[0], sample[1]);
    }
    let v6 = answers(
        &ask(&server, "v6", RecordType::AAAA, &QueryOptions::udp()),
        RecordType::AAAA,
    );
    assert!(v6 == ["2001:db8::1"] || v6 == ["2001:db8::2"], "{v6:?}");
    // Static and LUA records of one type make one RRset.
    assert_eq!(a(&server, "mixed"), ["192.0.2.10", "192.0.2.9"]);
    assert_eq!(a(&server, "script"), ["192.0.2.20", "192.0.2.21"]);
    assert_eq!(txt(&server, "expr", &QueryOptions::udp()), ["ab"]);
    assert_eq!(txt(&server, "who", &QueryOptions::udp()), ["127.0.0.1"]);
    assert_eq!(txt(&server, "truth", &QueryOptions::udp()), ["true"]);
    assert_eq!(a(&server, "include"), ["192.0.2.31", "192.0.2.32"]);
    assert_eq!(txt(&server, "x.wild", &QueryOptions::udp()), ["x.wild.lua.test."]);
    assert_eq!(a(&server, "ca"), ["65.66.67.68"]);

    // A LUA CNAME is followed like a static one.
    let response = ask(&server, "cname", RecordType::A, &QueryOptions::udp());
    assert_eq!(answers(&response, RecordType::CNAME), ["all.lua.test."]);
    assert_eq!(answers(&response, RecordType::A), ["192.0.2.1", "192.0.2.2"]);

    // An empty result is NODATA; the LUA record itself is never served.
    let response = ask(&server, "empty", RecordType::A, &QueryOptions::udp());
    assert_eq!(response.response_code, ResponseCode::NoError);
    assert!(response.answers.is_empty(), "{response}");
    assert!(ask(&server, "all", RecordType::Unknown(65402), &QueryOptions::udp())
        .answers
        .is_empty());
    // A LUA CNAME to itself is written once.
    let response = ask(&server, "loop", RecordType::A, &QueryOptions::udp());
    assert_eq!(answers(&response, RecordType::CNAME), ["loop.lua.test."], "{response}");
    // filterForward with an empty fallback: no address, NODATA.
    let response = ask(&server, "ffempty", RecordType::A, &QueryOptions::udp());
    assert_eq!(response.response_code, ResponseCode::NoError);
    assert!(response.answers.is_empty(), "{response}");
    // Records equal as DNSSEC compares them are one record.
    let response = ask(&server, "dedupe", RecordType::PTR, &QueryOptions::udp());
    assert_eq!(response.answers.len(), 1, "{response}");
    // A failing LUA record fails the answer, CNAME before it included.
    let response = ask(&server, "chain", RecordType::A, &QueryOptions::udp());
    assert_eq!(response.response_code, ResponseCode::ServFail);
    assert!(response.answers.is_empty(), "{response}");
    // Numbers read as Lua prints them.
    assert_eq!(txt(&server, "number", &QueryOptions::udp()), ["0.33333333333333"]);
    // ANY: the lowest type, synthesized like any other (RFC 8482).
    let response = ask(&server, "all", RecordType::ANY, &QueryOptions::udp());
    assert_eq!(answers(&response, RecordType::A), ["192.0.2.1", "192.0.2.2"]);
}

#[test]
fn hostile_scripts_fail_alone() {
    let (server, _dir) = start(
        r#"
ok       A        192.0.2.1
loop     LUA A    ";while true do end"
recurse  LUA A    ";local function f() return f() + 1 end return f()"
hog      LUA A    ";local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 1024) end"
os       LUA A    ";return os.getenv('HOME')"
io       LUA A    ";return io.open('/etc/passwd'):read('*a')"
require  LUA A    ";return require('os')"
load     LUA A    ";return load('return 1')()"
dofile   LUA A    ";return dofile('/etc/passwd')"
dump     LUA A    ";return string.dump(print)"
error    LUA A    ";error('deliberate')"
nothing  LUA A    ";return nil"
table    LUA A    ";return {{}}"
bad      LUA A    "'not an address'"
globals  LUA A    ";leak = (leak or 0) + 1 return '192.0.2.' .. leak"
shadow   LUA A    ";_G.pickrandom = function() return '203.0.113.66' end return '192.0.2.1'"
victim   LUA A    ";return pickrandom({'192.0.2.7'})"
strlib   LUA A    ";string.upper = nil return '192.0.2.1'"
strmeta  LUA A    ";getmetatable('').__index.format = nil return '192.0.2.1'"
rawset   LUA A    ";rawset(_G, 'x', 1) return '192.0.2.1'"
pcall    LUA A    ";while true do pcall(function() while true do end end) end"
config   LUA LUA  "shared = 1"
inclusive LUA A   ";for i = 1, 1e18 do include('config') end"
gc       LUA A    ";setmetatable({}, {__gc = function() while true do end end}) error('x')"
bomb     LUA A    ";local t = {'192.0.2.1'} for i = 1, 15 do t = {t, t, t, t, t, t, t, t, t, t, t, t, t, t, t, t} end return pickrandom(t)"
pattern  LUA A    ";return string.find(string.rep('a', 70000), 'a')"
huge     LUA TXT  ";return string.rep('a', 70000)"
closing  LUA A    ";local function again() local t <close> = setmetatable({}, {__close = function() again() end}) while true do end end again()"
closelate LUA A   ";local mt = {} local t = setmetatable({}, mt) mt.__close = function() while true do end end local v <close> = t while true do end"
metaok   LUA A    ";local mt = {__index = function(t, k) return '192.0.2.1' end} local t = setmetatable({}, mt) mt.__index = nil return getmetatable(t) == mt and t.anything"
rep      LUA A    ";local s = string.rep('a', 2000000) return '192.0.2.1'"
concat   LUA A    ";local t = {} for i = 1, 3 do t[i] = string.rep('a', 500000) end local s = table.concat(t) return '192.0.2.1'"
"#,
        "[lua]\nexec_limit = 100000\nmemory_limit_mb = 8\n",
    );
    for name in [
        "loop",
        "recurse",
        "hog",
        "os",
        "io",
        "require",
        "load",
        "dofile",
        "dump",
        "error",
        "nothing",
        "table",
        "bad",
        "strlib",
        "strmeta",
        "rawset",
        "pcall",
        "inclusive",
        "gc",
        "bomb",
        "pattern",
        "closing",
        "closelate",
        "rep",
        "concat",
    ] {
        for transport in [QueryOptions::udp(), QueryOptions::tcp()] {
            let response = ask(&server, name, RecordType::A, &transport);
            assert_eq!(response.response_code, ResponseCode::ServFail, "{name}: {response}");
            assert!(response.answers.is_empty(), "{name}: {response}");
        }
        assert_eq!(a(&server, "ok"), ["192.0.2.1"], "after {name}");
    }
    assert_eq!(rcode(&server, "huge", RecordType::TXT), ResponseCode::ServFail);
    // A metatable works as it was when set.
    assert_eq!(a(&server, "metaok"), ["192.0.2.1"]);
    // Globals do not survive an evaluation, nor can a script change what
    // the next one sees.
    for _ in 0..5 {
        assert_eq!(a(&server, "globals"), ["192.0.2.1"]);
        assert_eq!(a(&server, "shadow"), ["192.0.2.1"]);
        assert_eq!(a(&server, "victim"), ["192.0.2.7"]);
    }
    let log = server.log_text();
    assert!(log.contains("script took too long"), "{log}");
    let metrics = server.http_get("/metrics").body;
    assert!(metrics.contains("pooldns_lua_records{kind=\"script\"} 31"), "{metrics}");
    assert!(metrics.contains("pooldns_lua_records{kind=\"native\"} 0"), "{metrics}");
    let failures: u64 = metrics
        .lines()
        .find_map(|line| line.strip_prefix("pooldns_lua_failures_total "))
        .and_then(|value| value.parse().ok())
        .expect("failure counter");
    assert!(failures >= 42, "{failures}");
    assert!(log.contains("owner=loop.lua.test."), "{log}");
}

#[test]
fn instruction_limit_applies_to_scripts_only() {
    let (server, _dir) = start(
        r#"
native   LUA A "all({'192.0.2.1', '192.0.2.2', '192.0.2.3'})"
script   LUA A ";local n = 0 for i = 1, 100 do n = n + i end return '192.0.2.' .. (n % 250)"
"#,
        "[lua]\nexec_limit = 50\n",
    );
    assert_eq!(a(&server, "native").len(), 3);
    assert_eq!(rcode(&server, "script", RecordType::A), ResponseCode::ServFail);
}

#[test]
fn disabled_lua_records_are_absent() {
    let (server, _dir) = start("www LUA A \"all({'192.0.2.1'})\"\n", "[lua]\nenabled = false\n");
    let response = ask(&server, "www", RecordType::A, &QueryOptions::udp());
    assert_eq!(response.response_code, ResponseCode::NoError);
    assert!(response.answers.is_empty(), "{response}");
}

#[test]
fn import_refuses_broken_records_with_their_line() {
    let cases = [
        ("f LUA A \"pickrandom({'192.0.2.1'}\"", "syntax error"),
        ("f LUA A \";return (\"", "syntax error"),
        ("f LUA A \"pickrandon({'192.0.2.1'})\"", "unknown function pickrandon()"),
        (
            "f LUA A \"ifurlup('ftp://x.example/', {'192.0.2.1'})\"",
            "not http:// or https://",
        ),
        ("f LUA A \"ifportup(70000, {'192.0.2.1'})\"", "70000"),
        (
            "f LUA A \"ifportup(443, {'192.0.2.1'}, {interval='soon'})\"",
            "option interval",
        ),
        (
            "f LUA A \"ifportup(443, {'192.0.2.1'}, {selector='nearest'})\"",
            "unknown selector",
        ),
        (
            "f LUA A \"ifportup(443, {'192.0.2.1'}, {timout=2})\"",
            "unknown option timout",
        ),
        ("f LUA A \"ifportup(443, {'www.example.com'})\"", "is not an IP address"),
        ("f LUA A \"pickwhashed({{0, '192.0.2.1'}})\"", "weight 0"),
        ("f LUA A \"pickwhashed({{1.5, '192.0.2.1'}})\"", "weight 1.5"),
        ("f LUA A \"pickrandomsample(1, {})\"", "the list is empty"),
        (
            "f LUA A \"ifurlup('http://user:s3cret@[::1/', {'192.0.2.1'})\"",
            "health-check URL",
        ),
        ("f LUA AAAA \"pickrandom({'192.0.2.1'})\"", "is not AAAA content"),
        (
            "f LUA A \"view({{{'10.0.0.0/33'}, {'192.0.2.1'}}})\"",
            "is not a netmask",
        ),
    ];
    let pooldns = |store: &str, args: &[&str]| {
        Command::new(testkit::pooldns_bin())
            .args(args)
            .env("POOLDNS_STORE_URL", store)
            .output()
            .expect("run pooldns")
    };
    for (record, expected) in cases {
        // A good version of the zone is in the store; the broken one is
        // refused whole and the good one stays.
        let good = zone_dir("ok A 192.0.2.1\ng LUA A \"all({'192.0.2.9'})\"\n");
        let store = format!("sqlite://{}", good.path().join("store.db").display());
        let good_file = good.path().join("lua.test.zone");
        assert!(pooldns(&store, &["zone", "import", &good_file.to_string_lossy()])
            .status
            .success());
        let dir = zone_dir(&format!("ok A 192.0.2.1\n{record}\n"));
        let file = dir.path().join("lua.test.zone");
        let output = pooldns(&store, &["zone", "import", &file.to_string_lossy(), "--replace"]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{record} was imported");
        // The SOA prefix is five lines, then `ok`, then the record.
        assert!(stderr.contains("lua.test.zone:7:"), "{record}: no line in {stderr}");
        assert!(stderr.contains("f.lua.test."), "{record}: no owner in {stderr}");
        assert!(stderr.contains("zone lua.test."), "{record}: no zone in {stderr}");
        assert!(stderr.contains(expected), "{record}: expected {expected:?} in {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        // URLs may carry credentials: errors do not repeat them.
        assert!(!stderr.contains("s3cret"), "{stderr}");
        let export = pooldns(&store, &["zone", "export", "lua.test"]);
        let exported = String::from_utf8_lossy(&export.stdout);
        assert!(
            exported.contains("all({'192.0.2.9'})"),
            "{record}: good zone lost: {exported}"
        );
        assert!(!exported.contains("f.lua.test"), "{record}: half imported: {exported}");
    }
}

/// PowerDNS's GeoIP regression fixture (reference networks: 1.1.1.0/24
/// AU/OC AS4242 at (1, 1); 1.2.3.0/24 US/NA/CA AS3320 at (47.913,
/// -122.3042); 192.0.2.0/24 at (0, -179); 198.51.100.0/24 at (0, 179);
/// 203.0.113.0/24 at (0, -160)).
fn geo_config(dir: &Path) -> String {
    let path = dir.join("fixture.mmdb");
    fs::write(&path, testkit::mmdb::fixture()).expect("write MMDB");
    format!("\n[geoip]\nmmdb = [{:?}]\n", path.display().to_string())
}

#[test]
fn client_subnet_drives_geographic_answers() {
    let dir = zone_dir(
        r#"
closest   LUA A   "pickclosest({'1.1.1.2', '1.2.3.4'})"
west      LUA A   "pickclosest({'198.51.100.1', '203.0.113.1'})"
east      LUA A   "pickclosest({'192.0.2.1', '203.0.113.1'})"
country   LUA TXT "country('US')"
code      LUA TXT "countryCode()"
continent LUA TXT "continentCode()"
region    LUA TXT "regionCode()"
asn       LUA TXT "asnum({'AS4242'})"
latlon    LUA TXT "latlon()"
loc       LUA TXT "latlonloc()"
hashed    LUA A   "pickhashed({'192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4'})"
all       LUA A   "all({'192.0.2.1'})"
static    A       192.0.2.80
indirect  LUA TXT ";return _ENV['best' .. 'who']:toString()"
"#,
    );
    let mut options = PooldnsOptions::new(dir.path());
    options.extra_config = geo_config(dir.path());
    options.dns_config = "ecs = true\n".into();
    let server = Pooldns::start_with(options);

    let from = |network: &str| {
        let (address, prefix) = network.split_once('/').expect("network");
        subnet(address, prefix.parse().expect("prefix"))
    };
    let pick = |name: &str, network: &str| answers(&ask(&server, name, RecordType::A, &from(network)), RecordType::A);
    assert_eq!(pick("closest", "1.1.1.0/24"), ["1.1.1.2"]);
    assert_eq!(pick("closest", "1.2.3.0/24"), ["1.2.3.4"]);
    // Unknown clients count as (0, 0), as in PowerDNS.
    assert_eq!(pick("closest", "17.1.0.0/16"), ["1.1.1.2"]);
    // Across the antimeridian: (0, -179) is 2 degrees from (0, 179).
    assert_eq!(pick("west", "192.0.2.0/24"), ["198.51.100.1"]);
    assert_eq!(pick("east", "198.51.100.0/24"), ["192.0.2.1"]);

    let text = |name: &str, network: &str| txt(&server, name, &from(network));
    assert_eq!(text("country", "1.2.3.0/24"), ["true"]);
    assert_eq!(text("country", "1.1.1.0/24"), ["false"]);
    assert_eq!(text("code", "1.1.1.0/24"), ["au"]);
    assert_eq!(text("code", "17.1.0.0/16"), ["--"]);
    assert_eq!(text("continent", "1.2.3.0/24"), ["na"]);
    assert_eq!(text("region", "1.2.3.0/24"), ["ca"]);
    assert_eq!(text("asn", "1.1.1.0/24"), ["true"]);
    assert_eq!(text("asn", "1.2.3.0/24"), ["false"]);
    assert_eq!(text("latlon", "1.2.3.0/24"), ["47.913000 -122.304200"]);
    assert_eq!(
        text("loc", "1.2.3.0/24"),
        ["47 54 46.8 N 122 18 15.12 W 0.00m 1.00m 10000.00m 10.00m"]
    );

    // The same subnet always gets the same hashed answer; the scope is
    // the source prefix for answers that depend on the client, 0 else.
    let first = ask(&server, "hashed", RecordType::A, &from("203.0.113.0/24"));
    assert_eq!(subnet_scope(&first), Some(24));
    for _ in 0..5 {
        let again = ask(&server, "hashed", RecordType::A, &from("203.0.113.0/24"));
        assert_eq!(answers(&again, RecordType::A), answers(&first, RecordType::A));
    }
    assert_eq!(
        subnet_scope(&ask(&server, "all", RecordType::A, &from("203.0.113.0/24"))),
        Some(0)
    );
    // However a script reads the client's address, the answer is scoped.
    let indirect = ask(&server, "indirect", RecordType::TXT, &from("203.0.113.0/24"));
    assert_eq!(answers(&indirect, RecordType::TXT), ["203.0.113.0"]);
    assert_eq!(subnet_scope(&indirect), Some(24));
    assert_eq!(
        subnet_scope(&ask(&server, "static", RecordType::A, &from("203.0.113.0/24"))),
        Some(0)
    );
    assert_eq!(
        subnet_scope(&ask(&server, "closest", RecordType::A, &from("2001:db8::/56"))),
        Some(56)
    );
    // Without ECS the source address decides, and no option comes back.
    let plain = ask(&server, "code", RecordType::TXT, &QueryOptions::udp());
    assert_eq!(subnet_scope(&plain), None);
}

#[test]
fn malformed_client_subnet_is_a_format_error() {
    let (server, _dir) = {
        let dir = zone_dir("www A 192.0.2.1\n");
        let mut options = PooldnsOptions::new(dir.path());
        options.dns_config = "ecs = true\n".into();
        (Pooldns::start_with(options), dir)
    };
    let ask_with = |options: &[u8]| {
        let mut wire = testkit::encode_query(
            testkit::next_id(),
            &testkit::parse_name("www.lua.test"),
            RecordType::A,
            &QueryOptions::udp().no_edns(),
        );
        wire[11] = 1;
        wire.extend_from_slice(&testkit::opt_record_with_options(&[0], 1232, 0, false, options));
        let response = testkit::udp_exchange(server.dns, &wire, Duration::from_secs(2))
            .expect("exchange")
            .expect("response");
        testkit::decode(&response).response_code
    };
    // Family 1, source /24, scope 0, but four address octets (RFC 7871 §6).
    assert_eq!(
        ask_with(&[0, 8, 0, 8, 0, 1, 24, 0, 192, 0, 2, 0]),
        ResponseCode::FormErr
    );
    // A valid option alone is fine; the same twice is ambiguous.
    let valid = [0, 8, 0, 7, 0, 1, 24, 0, 192, 0, 2];
    assert_eq!(ask_with(&valid), ResponseCode::NoError);
    assert_eq!(ask_with(&[valid, valid].concat()), ResponseCode::FormErr);
}

//------------ Failover ------------------------------------------------------

/// A minimal HTTP server on one loopback address, until stopped: `/missing`
/// is 404, `/weight` answers the body `5`, `/needs-header` is 200 only
/// with `X-Check: yes`, anything else 200. A silent one accepts and never
/// answers.
struct HttpServer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl HttpServer {
    fn start(address: SocketAddr) -> HttpServer {
        HttpServer::spawn(address, false)
    }

    fn silent(address: SocketAddr) -> HttpServer {
        HttpServer::spawn(address, true)
    }

    fn spawn(address: SocketAddr, silent: bool) -> HttpServer {
        let listener = TcpListener::bind(address).expect("bind HTTP server");
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = thread::spawn(move || {
            let mut held = Vec::new();
            while !stopping.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut stream, _)) => {
                        if silent {
                            held.push(stream);
                            continue;
                        }
                        let _ = stream.set_nonblocking(false);
                        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                        let mut request = [0u8; 2048];
                        let read = stream.read(&mut request).unwrap_or(0);
                        let request = String::from_utf8_lossy(&request[..read]).to_ascii_lowercase();
                        let path = request.split_whitespace().nth(1).unwrap_or("/");
                        let (status, body) = match path {
                            "/missing" => ("404 Not Found", "no"),
                            "/weight" => ("200 OK", "5"),
                            "/needs-header" if !request.contains("\r\nx-check: yes\r\n") => ("403 Forbidden", "no"),
                            _ => ("200 OK", "ok"),
                        };
                        let _ = write!(
                            stream,
                            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        );
                    }
                    Err(_) => thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        HttpServer {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops accepting and closes the socket: probes are refused.
    fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Polls until every answer for `name` is within `expected` and all of
/// `expected` has been seen; returns how long that took.
fn wait_for_answers(server: &Pooldns, name: &str, expected: &[&str]) -> Duration {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(30);
    loop {
        let mut seen: Vec<String> = Vec::new();
        let mut only_expected = true;
        for _ in 0..12 {
            for address in a(server, name) {
                only_expected &= expected.contains(&address.as_str());
                if !seen.contains(&address) {
                    seen.push(address);
                }
            }
        }
        if only_expected && expected.iter().all(|wanted| seen.iter().any(|s| s == wanted)) {
            return started.elapsed();
        }
        assert!(
            Instant::now() < deadline,
            "{name}: still answering {seen:?}, expected {expected:?}\n{}",
            server.log_text()
        );
        thread::sleep(Duration::from_millis(50));
    }
}

fn failover(kind: &str) {
    let port = free_port();
    let region_a: SocketAddr = ([127, 0, 0, 2], port).into();
    let region_b: SocketAddr = ([127, 0, 0, 3], port).into();
    let mut server_a = HttpServer::start(region_a);
    let mut server_b = HttpServer::start(region_b);
    let options = "{interval = 1, timeout = 1, minimumFailures = 2, backupSelector = 'all'}";
    let record = match kind {
        "ifurlup" => format!(
            "www LUA A \"ifurlup('http://www.lua.test:{port}/health', {{'127.0.0.2', '127.0.0.3'}}, {options})\"\n"
        ),
        _ => format!("www LUA A \"ifportup({port}, {{'127.0.0.2', '127.0.0.3'}}, {options})\"\n"),
    };
    let (server, _dir) = start(&record, "");
    let interval_times_failures = Duration::from_secs(2);

    let both = wait_for_answers(&server, "www", &["127.0.0.2", "127.0.0.3"]);
    println!("{kind}: both regions answered {both:?} after start");

    server_a.stop();
    let removed = wait_for_answers(&server, "www", &["127.0.0.3"]);
    println!("{kind}: 127.0.0.2 removed {removed:?} after it stopped (interval x minimumFailures = {interval_times_failures:?})");

    server_a = HttpServer::start(region_a);
    let back = wait_for_answers(&server, "www", &["127.0.0.2", "127.0.0.3"]);
    println!("{kind}: 127.0.0.2 back {back:?} after it started");

    server_a.stop();
    server_b.stop();
    // All down: backupSelector 'all' answers with every address.
    let all_down = Instant::now();
    loop {
        let answer = a(&server, "www");
        if answer == ["127.0.0.2", "127.0.0.3"] {
            let body = server.http_get("/api/v1/health-checks").body;
            if body.matches("\"status\":\"down\"").count() >= 2 {
                break;
            }
        }
        assert!(
            all_down.elapsed() < Duration::from_secs(30),
            "backup answer not seen: {answer:?}"
        );
        thread::sleep(Duration::from_millis(50));
    }
    println!(
        "{kind}: both down, backupSelector answered after {:?}",
        all_down.elapsed()
    );

    let checks = server.http_get("/api/v1/health-checks");
    assert_eq!(checks.status, 200);
    assert!(
        checks.body.contains("127.0.0.2") && checks.body.contains("127.0.0.3"),
        "{}",
        checks.body
    );
    let metrics = server.http_get("/metrics").body;
    assert!(metrics.contains("pooldns_health_check_transitions_total"), "{metrics}");
}

#[test]
fn ifurlup_fails_over_between_regions() {
    failover("ifurlup");
}

#[test]
fn ifportup_fails_over_between_regions() {
    failover("ifportup");
}

//------------ DNSSEC --------------------------------------------------------

/// delv, with the zone's own DS as trust anchor, must validate a LUA
/// answer and the NODATA of an empty LUA result (whose denial must not
/// claim the type), for NSEC and NSEC3.
#[test]
fn signed_lua_answers_validate() {
    let delv = testkit::require("delv", "bind9-dnsutils");
    // NSEC and NSEC3 with LUA records answered, and NSEC with them off.
    let variants: [(&[&str], &str); 3] = [(&[], ""), (&["--nsec3"], ""), (&[], "[lua]\nenabled = false\n")];
    for (denial, config) in variants {
        let lua_on = config.is_empty();
        let (server, _dir) = start(
            r#"
www    LUA A    "pickrandom({'192.0.2.1', '192.0.2.2'})"
both   LUA A    "all({'192.0.2.1', '192.0.2.2'})"
empty  LUA A    "ifportup(9, {'192.0.2.1'}, {backupSelector = 'empty'})"
*.wild LUA TXT  ";return qname:toStringNoDot()"
*.none LUA A    "ifportup(9, {'192.0.2.1'}, {backupSelector = 'empty'})"
config LUA LUA  "shared = 1"
"#,
            config,
        );
        let mut args = vec!["zone", "secure", ZONE];
        args.extend_from_slice(denial);
        server.cli_ok(&args);
        // Wait until the reloaded, secured zone is served.
        let deadline = Instant::now() + Duration::from_secs(20);
        while query(server.dns, ZONE, RecordType::SOA, &QueryOptions::udp().dnssec_ok())
            .answers
            .iter()
            .all(|record| record.record_type() != RecordType::RRSIG)
        {
            assert!(Instant::now() < deadline, "zone not secured in time");
            thread::sleep(Duration::from_millis(100));
        }
        let ds = server.cli_ok(&["zone", "ds", ZONE]);
        let anchors = server.dir().join("anchors.conf");
        let mut text = String::from("trust-anchors {\n");
        for line in ds.lines().filter(|line| line.contains(" DS ")) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let at = fields.iter().position(|field| *field == "DS").expect("DS");
            let rest = &fields[at + 1..];
            text.push_str(&format!(
                "  \"{ZONE}.\" static-ds {} {} {} \"{}\";\n",
                rest[0],
                rest[1],
                rest[2],
                rest[3..].join("")
            ));
        }
        text.push_str("};\n");
        fs::write(&anchors, text).expect("write anchors");
        let delv = |name: &str, qtype: &str| -> String {
            let output = Command::new(&delv)
                .arg(format!("@{}", server.dns.ip()))
                .args(["-p", &server.dns.port().to_string()])
                .arg("-a")
                .arg(&anchors)
                .arg(format!("+root={ZONE}"))
                .args(["-q", &format!("{name}.{ZONE}"), "-t", qtype])
                .output()
                .expect("run delv");
            format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )
        };
        let negative = |name: &str, qtype: &str| {
            let output = delv(name, qtype);
            assert!(
                output.contains("; negative response, fully validated"),
                "{denial:?} {config:?} {name} {qtype}: {output}"
            );
        };
        // LUA configuration snippets are never data: NODATA, provably.
        negative("config", "TYPE65402");
        negative("config", "A");
        if !lua_on {
            // Off, LUA records are absent, and so are their types from
            // the denial records.
            for name in ["www", "both", "x.wild"] {
                negative(name, "A");
            }
            continue;
        }
        for (name, qtype) in [("www", "A"), ("both", "A"), ("x.wild", "TXT")] {
            let output = delv(name, qtype);
            assert!(output.contains("; fully validated"), "{denial:?} {name}: {output}");
        }
        // Empty results, also from a wildcard, where the wildcard's own
        // denial record may be needed by two proofs at once.
        for name in [
            "empty", "a.none", "b.none", "c.none", "d.none", "e.none", "f.none", "g.none",
        ] {
            negative(name, "A");
        }
        // The denial in that answer does not list A.
        let response = ask(&server, "empty", RecordType::A, &QueryOptions::udp().dnssec_ok());
        for record in response.authorities {
            let text = record.to_string();
            if matches!(record.record_type(), RecordType::NSEC | RecordType::NSEC3) {
                assert!(!text.split_whitespace().any(|word| word == "A"), "{text}");
            }
        }
    }
}

/// Scripts register their checks when the zone loads, like literal calls:
/// the first answer already knows which region is up.
#[test]
fn scripted_checks_exist_before_the_first_query() {
    let port = free_port();
    let _region = HttpServer::start(([127, 0, 0, 2], port).into());
    let (server, _dir) = start(
        &format!(
            r#"
config LUA LUA "targets = {{'127.0.0.2', '127.0.0.3'}}"
www    LUA A   ";include('config') return ifportup({port}, targets, {{interval = 1}})"
"#
        ),
        "",
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let body = server.http_get("/api/v1/health-checks").body;
        if body.contains(&format!("127.0.0.2:{port}")) && body.contains("\"status\":\"up\"") {
            assert!(body.contains(&format!("127.0.0.3:{port}")), "{body}");
            break;
        }
        assert!(Instant::now() < deadline, "checks not registered at load: {body}");
        thread::sleep(Duration::from_millis(50));
    }
    for _ in 0..5 {
        assert_eq!(a(&server, "www"), ["127.0.0.2"]);
    }
}

/// The other health-checked functions and options, against real HTTP
/// servers: ifurlextup (checks by URL), pickselfweighted (weights from the
/// body), custom headers, and failOnIncompleteCheck while the first probe
/// of a silent target is still running.
#[test]
fn health_checked_functions_and_options() {
    let port = free_port();
    let _web = HttpServer::start(([127, 0, 0, 2], port).into());
    let _silent = HttpServer::silent(([127, 0, 0, 4], port).into());
    let base = format!("http://127.0.0.2:{port}");
    let (server, _dir) = start(
        &format!(
            r#"
ext      LUA A "ifurlextup({{ {{['192.0.2.1'] = '{base}/missing', ['192.0.2.2'] = '{base}/ok'}} }}, {{interval = 1}})"
weighted LUA A "pickselfweighted('http://weights.lua.test:{port}/weight', {{'127.0.0.2', '127.0.0.3'}}, {{interval = 1}})"
header   LUA A "ifurlup('http://web.lua.test:{port}/needs-header', {{'127.0.0.2', '127.0.0.3'}}, {{headers = {{X_Check = 'yes'}}, interval = 1, backupSelector = 'empty'}})"
noheader LUA A "ifurlup('http://web.lua.test:{port}/needs-header', {{'127.0.0.2', '127.0.0.3'}}, {{interval = 1, backupSelector = 'empty'}})"
strict   LUA A "ifurlup('http://slow.lua.test:{port}/', {{'127.0.0.4'}}, {{timeout = 20, failOnIncompleteCheck = true}})"
lenient  LUA A "ifurlup('http://slow.lua.test:{port}/', {{'127.0.0.4'}}, {{timeout = 20}})"
"#
        ),
        "",
    );
    // The silent target's first probe runs for 20 s: no check has
    // completed, which only failOnIncompleteCheck turns into SERVFAIL.
    assert_eq!(rcode(&server, "strict", RecordType::A), ResponseCode::ServFail);
    assert_eq!(a(&server, "lenient"), ["127.0.0.4"]);

    wait_for_answers(&server, "ext", &["192.0.2.2"]);
    wait_for_answers(&server, "weighted", &["127.0.0.2"]);
    wait_for_answers(&server, "header", &["127.0.0.2"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let body = server.http_get("/api/v1/health-checks").body;
        // Both needs-header checks have been probed: one up, one down.
        if body.matches("needs-header").count() >= 4 && body.contains("HTTP status 403") {
            break;
        }
        assert!(Instant::now() < deadline, "header checks not probed: {body}");
        thread::sleep(Duration::from_millis(50));
    }
    // Without the header the server refuses: no address is up.
    let response = ask(&server, "noheader", RecordType::A, &QueryOptions::udp());
    assert_eq!(response.response_code, ResponseCode::NoError);
    assert!(response.answers.is_empty(), "{response}");
    // The header's value is never shown.
    assert!(!server.http_get("/api/v1/health-checks").body.contains("\"yes\""));
}

/// A check a script reaches only on some queries is registered by the
/// first such query and then held by the record: it keeps probing, and is
/// not forgotten as an unused check would be, even once the worker's cache
/// of compiled calls has started over.
#[test]
fn checks_on_script_branches_are_kept() {
    let port = free_port();
    let _region = HttpServer::start(([127, 0, 0, 3], port).into());
    let (server, _dir) = start(
        &format!(
            r#"
*.branch LUA A ";if qname:toString():sub(1, 2) == 'b.' then return ifportup({port}, {{'127.0.0.3'}}, {{interval = 1}}) end return '192.0.2.1'"
evict    LUA A ";for i = 1, 1100 do pickrandom({{'x' .. i}}) end return '192.0.2.1'"
"#
        ),
        "[lua]\nexec_limit = 0\n",
    );
    let target = format!("127.0.0.3:{port}");
    assert!(!server.http_get("/api/v1/health-checks").body.contains(&target));
    a(&server, "b.branch");
    // Fill every worker's call cache past its size, so it starts over.
    for _ in 0..40 {
        a(&server, "evict");
    }
    // Unused checks are forgotten three intervals after their last use;
    // this one must still be there, in use, well after that.
    thread::sleep(Duration::from_secs(5));
    let body = server.http_get("/api/v1/health-checks").body;
    let check = body
        .split("},{")
        .find(|check| check.contains(&target))
        .unwrap_or_else(|| panic!("check of {target} forgotten: {body}"));
    assert!(check.contains("\"in_use\":true"), "{check}");
    assert_eq!(a(&server, "b.branch"), ["127.0.0.3"]);
}

/// A script that makes check targets from the query name can have a
/// bounded number of targets probed: past the record's limit, a name that
/// needs a new target fails (SERVFAIL) and starts no probe, while names
/// whose targets are checked already still answer.
#[test]
fn clients_cannot_make_a_script_probe_targets_without_end() {
    let (server, _dir) = start(
        r#"
*.dyn LUA A ";local n = tonumber(qname:toString():match('^(%d+)%.')) or 0 return ifportup(9, {'127.1.' .. math.floor(n / 256) .. '.' .. (n % 256)}, {interval = 60})"
"#,
        "",
    );
    let limit = pooldns::lua::MAX_HELD_CHECKS;
    let mut failed = Vec::new();
    for n in 0..limit + 40 {
        if rcode(&server, &format!("{n}.dyn"), RecordType::A) == ResponseCode::ServFail {
            failed.push(n);
        }
    }
    assert!(!failed.is_empty() && failed.len() <= 41, "failed: {failed:?}");
    assert!(
        failed.iter().all(|&n| n >= limit - 1),
        "only past the limit: {failed:?}"
    );
    let body = server.http_get("/api/v1/health-checks").body;
    let checks = body.matches(":9\"").count();
    assert!(
        (limit - 1..=limit).contains(&checks),
        "{checks} checks for at most {limit} targets: {body}"
    );
    // A name whose target is checked already still answers.
    assert_eq!(rcode(&server, "5.dyn", RecordType::A), ResponseCode::NoError);
}
