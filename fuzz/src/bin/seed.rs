//! Writes the seed corpora of the fuzz targets, `fuzz/corpus/<target>/`,
//! from the tests' data: the answer scenarios' queries and zones, the
//! zone-file cases, the LUA records served beside PowerDNS, UPDATE
//! messages, transfers of the scenario zones and the API's JSON bodies.
//!
//! `cargo run --manifest-path fuzz/Cargo.toml --bin seed`

use std::fs;
use std::path::{Path, PathBuf};

use base::{types, Name};
use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{DNSClass, RData, Record as HickoryRecord, RecordType};
use pooldns::zone::file::{format_record, parse_zone_file};
use pooldns::zone::Record;
use pooldns_fuzz::{data_dir, scenario_files, scenario_queries};

fn main() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let zone_texts = zone_texts();
    let records: Vec<Record> = zone_texts
        .iter()
        .filter_map(|(origin, text)| pooldns::import::parse_and_check(text, "seed", origin.as_ref()).ok())
        .flat_map(|(_, records)| records)
        .collect();

    let mut answer = Vec::new();
    for (index, path) in scenario_files().iter().enumerate() {
        let text = fs::read_to_string(path).expect("scenario");
        for query in scenario_queries(&text) {
            answer.push([&[index as u8][..], &query].concat());
        }
    }
    write(&corpus, "answer", answer);

    write(
        &corpus,
        "zone_file",
        zone_texts.iter().map(|(_, text)| text.as_bytes().to_vec()).collect(),
    );

    let mut rdata = Vec::new();
    for record in &records {
        if let Ok(line) = format_record(&record.owner, record.ttl, record.rtype, &record.rdata) {
            // "owner ttl IN TYPE RDATA" -> "TYPE RDATA"
            if let Some(typed) = line.splitn(4, ' ').nth(3) {
                rdata.push([b"\0", typed.as_bytes()].concat());
            }
        }
        rdata.push([&[1u8][..], &record.rtype.to_be_bytes(), &record.rdata].concat());
    }
    write(&corpus, "rdata", rdata);

    let lua = records
        .iter()
        .filter(|record| record.rtype == types::LUA)
        .filter_map(|record| base::rdata::format_rdata(types::LUA, &record.rdata).ok())
        .map(String::into_bytes)
        .collect();
    write(&corpus, "lua", lua);

    write(&corpus, "update", updates());
    write(&corpus, "transfer_in", transfers(&zone_texts));
    write(&corpus, "api_json", api_bodies());
}

/// Zone files of the tests: the zone-file cases, the differential zones,
/// the LUA zone and the answer scenarios' zones; with the origin each is
/// read with.
fn zone_texts() -> Vec<(Option<Name>, String)> {
    let data = data_dir();
    let mut texts = Vec::new();
    for dir in ["zonefile", "differential", "lua_powerdns"] {
        for path in files(&data.join(dir), "zone") {
            let origin = match dir {
                "zonefile" => Some("example.test.".parse().expect("name")),
                _ => None,
            };
            texts.push((origin, fs::read_to_string(&path).expect("zone file")));
        }
    }
    for path in scenario_files() {
        let text = fs::read_to_string(&path).expect("scenario");
        let mut lines = text.lines();
        while let Some(line) = lines.next() {
            if let ["zone", apex] = line.split_whitespace().collect::<Vec<_>>()[..] {
                let body: Vec<&str> = lines.by_ref().take_while(|line| line.trim() != "end").collect();
                texts.push((apex.parse().ok(), format!("$ORIGIN {apex}\n{}\n", body.join("\n"))));
            }
        }
    }
    texts
}

fn files(dir: &Path, extension: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .expect("data directory")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == extension))
        .collect();
    files.sort();
    files
}

/// UPDATE messages for `example.test.` (RFC 2136 §2.4, §2.5): additions,
/// deletions of records, RRsets and names, with prerequisites. Even first
/// byte: the target signs them.
fn updates() -> Vec<Vec<u8>> {
    let zone = hickory_proto::rr::Name::from_ascii("example.test.").expect("name");
    let name = |text: &str| hickory_proto::rr::Name::from_ascii(text).expect("name");
    let a = |owner: &str, address: [u8; 4]| {
        HickoryRecord::from_rdata(name(owner), 300, RData::A(std::net::Ipv4Addr::from(address).into()))
    };
    let with_class = |mut record: HickoryRecord, class: DNSClass, ttl: u32| {
        record.dns_class = class;
        record.ttl = ttl;
        record
    };
    let any = |owner: &str, rtype: RecordType| {
        let mut record = HickoryRecord::update0(name(owner), 0, rtype);
        record.dns_class = DNSClass::ANY;
        record
    };
    let cases: Vec<(Vec<HickoryRecord>, Vec<HickoryRecord>)> = vec![
        (Vec::new(), vec![a("new.example.test.", [192, 0, 2, 1])]),
        (
            Vec::new(),
            vec![with_class(a("www.example.test.", [192, 0, 2, 80]), DNSClass::NONE, 0)],
        ),
        (Vec::new(), vec![any("www.example.test.", RecordType::TXT)]),
        (Vec::new(), vec![any("mail.example.test.", RecordType::ANY)]),
        (
            vec![any("www.example.test.", RecordType::ANY)],
            vec![a("www.example.test.", [192, 0, 2, 81])],
        ),
        (
            vec![with_class(
                any("absent.example.test.", RecordType::ANY),
                DNSClass::NONE,
                0,
            )],
            vec![a("absent.example.test.", [192, 0, 2, 9])],
        ),
        (
            Vec::new(),
            vec![HickoryRecord::from_rdata(
                name("alias.example.test."),
                300,
                RData::CNAME(hickory_proto::rr::rdata::CNAME(name("www.example.test."))),
            )],
        ),
    ];
    cases
        .into_iter()
        .enumerate()
        .map(|(id, (prerequisites, updates))| {
            let mut message = Message::new(id as u16, MessageType::Query, OpCode::Update);
            message.add_query(Query::query(zone.clone(), RecordType::SOA));
            message.answers.extend(prerequisites);
            message.authorities.extend(updates);
            [&[0u8][..], &message.to_vec().expect("UPDATE encodes")].concat()
        })
        .collect()
}

/// AXFR answers of the scenario zones of `example.test.`, in one message
/// and record by record; and an IXFR answer adding and removing a record.
fn transfers(zone_texts: &[(Option<Name>, String)]) -> Vec<Vec<u8>> {
    let apex: Name = "example.test.".parse().expect("name");
    let mut seeds = Vec::new();
    for (origin, text) in zone_texts.iter().filter(|(origin, _)| origin.as_ref() == Some(&apex)) {
        let Ok((_, records)) = parse_zone_file(text, "seed", origin.as_ref()) else {
            continue;
        };
        let Some(soa) = records.iter().find(|record| record.rtype == types::SOA) else {
            continue;
        };
        let mut body: Vec<Vec<u8>> = vec![wire_record(&soa.owner, soa.rtype, soa.ttl, &soa.rdata)];
        body.extend(
            records
                .iter()
                .filter(|record| record.rtype != types::SOA)
                .map(|record| wire_record(&record.owner, record.rtype, record.ttl, &record.rdata)),
        );
        body.push(body[0].clone());
        let mut whole = vec![0u8];
        frame(&mut whole, &message(&apex, types::AXFR, &body));
        seeds.push(whole);
        let mut split = vec![0u8];
        for record in &body {
            frame(&mut split, &message(&apex, types::AXFR, std::slice::from_ref(record)));
        }
        seeds.push(split);
        if seeds.len() > 6 {
            break;
        }
    }
    // IXFR from serial 1 to 2: a record out, a record in.
    let soa = |serial: u32| {
        let rdata = base::rdata::parse_rdata_text(
            types::SOA,
            &format!("ns1 hostmaster {serial} 7200 3600 1209600 300"),
            &apex,
        )
        .expect("SOA");
        wire_record(&apex, types::SOA, 300, &rdata)
    };
    let www: Name = "www.example.test.".parse().expect("name");
    let body = vec![
        soa(2),
        soa(1),
        wire_record(&www, types::A, 300, &[192, 0, 2, 80]),
        soa(2),
        wire_record(&www, types::A, 300, &[192, 0, 2, 81]),
        soa(2),
    ];
    let mut ixfr = vec![1u8];
    frame(&mut ixfr, &message(&apex, types::IXFR, &body));
    seeds.push(ixfr);
    seeds
}

fn wire_record(owner: &Name, rtype: u16, ttl: u32, rdata: &[u8]) -> Vec<u8> {
    let mut out = owner.as_wire().to_vec();
    out.extend_from_slice(&rtype.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&ttl.to_be_bytes());
    out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    out.extend_from_slice(rdata);
    out
}

/// An answer to a transfer request: the question, then `records`.
fn message(apex: &Name, qtype: u16, records: &[Vec<u8>]) -> Vec<u8> {
    let mut out = vec![0, 0, 0x84, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    out[6..8].copy_from_slice(&(records.len() as u16).to_be_bytes());
    out.extend_from_slice(apex.as_wire());
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    for record in records {
        out.extend_from_slice(record);
    }
    out
}

fn frame(out: &mut Vec<u8>, message: &[u8]) {
    out.extend_from_slice(&(message.len() as u16).to_be_bytes());
    out.extend_from_slice(message);
}

/// Bodies of the API routes, by the route index of the `api_json` target.
fn api_bodies() -> Vec<Vec<u8>> {
    let bodies: &[(u8, &str)] = &[
        (
            0,
            r#"{"rrsets":[{"name":"www.example.test.","type":"A","ttl":300,"changetype":"REPLACE","records":[{"content":"192.0.2.1","disabled":false}]}]}"#,
        ),
        (
            0,
            r#"{"rrsets":[{"name":"www.example.test.","type":"A","changetype":"DELETE"},{"name":"txt.example.test.","type":"TXT","ttl":60,"changetype":"REPLACE","records":[{"content":"\"hello\""}],"comments":[{"content":"c","account":"a"}]}]}"#,
        ),
        (
            0,
            r#"{"rrsets":[{"name":"lua.example.test.","type":"LUA","ttl":30,"changetype":"REPLACE","records":[{"content":"A \"ifportup(443, {'192.0.2.1', '192.0.2.2'})\""}]}]}"#,
        ),
        (
            1,
            r#"{"name":"new.test.","kind":"Native","nameservers":["ns1.new.test."],"rrsets":[{"name":"ns1.new.test.","type":"A","ttl":300,"records":[{"content":"192.0.2.53"}]}]}"#,
        ),
        (
            1,
            r#"{"name":"signed.test.","kind":"Master","dnssec":true,"nsec3param":"1 0 0 -","nameservers":["ns1.example.test."]}"#,
        ),
        (
            1,
            r#"{"name":"second.test.","kind":"Slave","masters":["192.0.2.1:53"]}"#,
        ),
        (2, r#"{"kind":"Native","soa_edit_api":"INCREASE"}"#),
        (3, r#"{"kind":"ALLOW-AXFR-FROM","metadata":["192.0.2.0/24"]}"#),
        (4, r#"{"kind":"ALSO-NOTIFY","metadata":["192.0.2.10:53"]}"#),
        (5, r#"{"keytype":"csk","active":true,"algorithm":"ECDSAP256SHA256"}"#),
        (6, r#"{"subdomain":"acme","createdBy":"catalyst-api/deployment-7"}"#),
        (
            7,
            r#"{"subdomain":"acme","sovereignFQDN":"acme.pool.example.test","loadBalancerIP":"192.0.2.7"}"#,
        ),
        (8, r#"{"subdomain":"acme"}"#),
    ];
    bodies
        .iter()
        .map(|(route, body)| [&[*route][..], body.as_bytes()].concat())
        .collect()
}

/// Writes `seeds` into `corpus/<target>/`, each file named by its content
/// so that seeding again adds nothing twice.
fn write(corpus: &Path, target: &str, seeds: Vec<Vec<u8>>) {
    let dir = corpus.join(target);
    fs::create_dir_all(&dir).expect("corpus directory");
    let count = seeds.len();
    for seed in seeds {
        fs::write(dir.join(format!("seed-{:016x}", fnv(&seed))), seed).expect("seed written");
    }
    println!("{target}: {count} seeds");
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3)
    })
}
