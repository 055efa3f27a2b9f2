//! Changes applied to the served snapshot in place, from the journal,
//! against the same zone built from all its records.
//!
//! A zone signed with NSEC, one signed with NSEC3 (opt-out) and an unsigned
//! one take a series of changes with
//! `zone import --replace`: new names with empty non-terminals, removed
//! names, changed RRsets, glue below a cut, a new delegation at a leaf, a
//! wildcard, and one change that moves names out of the zone (a cut above
//! existing names), which must be built the long way. After each, the
//! server must answer the new serial, and `/metrics` must show how the
//! snapshot was made. Then the zone as transferred by AXFR must be, record
//! for record and signature for signature, what the server transfers after
//! a restart builds it from the store (the signatures are read back from
//! the signature cache on disk, so they are the same when the signed data
//! is); and `ldns-verify-zone` (Debian `ldnsutils`) must accept it.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use testkit::{Pooldns, PooldnsOptions};

/// One change to the zone: records added to the base text and names of
/// the base left out, and whether the snapshot changes in place.
struct Step {
    extra: &'static str,
    without: &'static [&'static str],
    in_place: bool,
}

const STEPS: &[Step] = &[
    // A name with two empty non-terminals above it.
    Step {
        extra: "x.y.h10 A 192.0.2.10\n",
        without: &[],
        in_place: true,
    },
    // A name goes; another changes type; the last name of the chain goes.
    Step {
        extra: "x.y.h10 A 192.0.2.10\nh20 AAAA 2001:db8::20\n",
        without: &["h5 ", "h20 ", "zz "],
        in_place: true,
    },
    // Glue below a cut, a DS at it, a new delegation at a leaf, a wildcard.
    Step {
        extra: "x.y.h10 A 192.0.2.10\nh20 AAAA 2001:db8::20\nns2.deleg A 192.0.2.202\n\
                deleg DS 12345 13 2 0000000000000000000000000000000000000000000000000000000000000000\n\
                newdeleg NS ns.other.test.\n*.wild TXT \"wild\"\n",
        without: &["h5 ", "h20 ", "zz "],
        in_place: true,
    },
    // The empty non-terminals go with the only name below them; a name
    // below h1 comes.
    Step {
        extra: "h20 AAAA 2001:db8::20\nsub.h1 A 192.0.2.1\n",
        without: &["h5 ", "h20 ", "zz "],
        in_place: true,
    },
    // A cut above an existing name: sub.h1 leaves the zone's authority,
    // which is more than the changed names.
    Step {
        extra: "h20 AAAA 2001:db8::20\nsub.h1 A 192.0.2.1\nh1 NS ns.other.test.\n",
        without: &["h5 ", "h20 ", "zz "],
        in_place: false,
    },
    // A cut at a leaf, with glue added below it in the same change.
    Step {
        extra: "h20 AAAA 2001:db8::20\nsub.h1 A 192.0.2.1\nh1 NS ns.other.test.\nh2 NS ns.h2\nns.h2 A 192.0.2.2\n",
        without: &["h5 ", "h20 ", "zz "],
        in_place: true,
    },
];

/// The zone's text: the base, without the lines starting with `without`,
/// plus `extra`.
fn zone_text(zone: &str, serial: u32, step: Option<&Step>) -> String {
    let mut text = format!(
        "$ORIGIN {zone}.\n$TTL 300\n@ SOA ns1 hostmaster {serial} 3600 900 1209600 300\n@ NS ns1\n\
         ns1 A 192.0.2.53\ndeleg NS ns.deleg\nns.deleg A 192.0.2.201\nzz A 192.0.2.99\n"
    );
    for i in 0..3_000 {
        let _ = writeln!(text, "h{i} A 10.0.{}.{}", i / 256, i % 256);
    }
    let Some(step) = step else {
        return text;
    };
    let mut kept: String = text
        .lines()
        .filter(|line| !step.without.iter().any(|gone| line.starts_with(gone)))
        .map(|line| format!("{line}\n"))
        .collect();
    kept.push_str(step.extra);
    kept
}

/// The zone by AXFR, one record per line with single spaces, sorted.
fn axfr(server: SocketAddr, zone: &str) -> Vec<String> {
    let text = testkit::dig::output(server, &[zone, "AXFR", "+nocmd", "+nostats", "+nocomments"]);
    let mut lines: Vec<String> = text
        .lines()
        .filter(|line| !line.starts_with(';') && !line.trim().is_empty())
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    // The SOA opens and closes a transfer.
    lines.sort();
    lines.dedup();
    assert!(lines.len() > 3_000, "AXFR of {zone}: {text}");
    lines
}

/// Sum of the samples of `pooldns_zone_builds_total{how}`.
fn builds(server: &Pooldns, how: &str) -> u64 {
    let text = server.http_get("/metrics").body;
    let series = format!("pooldns_zone_builds_total{{how=\"{how}\"}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&series))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {series} in /metrics:\n{text}"))
}

/// Waits until the server answers `serial` in the zone's SOA.
fn wait_serial(server: SocketAddr, zone: &str, serial: u32) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let soa = testkit::dig::short(server, zone, "SOA");
        if soa
            .first()
            .is_some_and(|soa| soa.split_whitespace().nth(2) == Some(&serial.to_string()))
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{zone}: serial {serial} never served: {soa:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn scenario(zone: &str, secure: Option<&[&str]>) {
    let signed = secure.is_some();
    let zones = tempfile::tempdir().expect("temp dir");
    let file = zones.path().join(format!("{zone}.zone"));
    std::fs::write(&file, zone_text(zone, 1, None)).expect("zone file");
    let mut options = PooldnsOptions::new(zones.path());
    options.extra_config = "\n[transfer]\nallow = [\"127.0.0.1\"]\n".into();
    let mut server = Pooldns::start_with(options);
    if let Some(options) = secure {
        let mut args = vec!["zone", "secure", zone];
        args.extend_from_slice(options);
        server.cli_ok(&args);
        let deadline = Instant::now() + Duration::from_secs(60);
        while !testkit::dig::dnssec_answer(server.dns, &format!("h1.{zone}"), "A")
            .iter()
            .any(|line| line.contains("RRSIG"))
        {
            assert!(Instant::now() < deadline, "{zone} was never signed");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    for (number, step) in STEPS.iter().enumerate() {
        let serial = number as u32 + 2;
        let (full, in_place) = (builds(&server, "full"), builds(&server, "in_place"));
        std::fs::write(&file, zone_text(zone, serial, Some(step))).expect("zone file");
        server.cli_ok(&["zone", "import", file.to_str().expect("path"), "--replace"]);
        wait_serial(server.dns, zone, serial);
        let made = if step.in_place { "in_place" } else { "full" };
        let after = (builds(&server, "full"), builds(&server, "in_place"));
        let expected = if step.in_place {
            (full, in_place + 1)
        } else {
            (full + 1, in_place)
        };
        assert_eq!(after, expected, "step {number} of {zone} should be made {made}");
    }
    let served = axfr(server.dns, zone);
    for (name, present) in [
        ("x.y.h10", false),
        ("h5", false),
        ("zz", false),
        ("newdeleg", false),
        ("ns.h2", true),
        ("sub.h1", true),
    ] {
        let owner = format!("{name}.{zone}. ");
        assert_eq!(
            served.iter().any(|line| line.starts_with(&owner)),
            present,
            "{owner} in {served:#?}"
        );
    }
    server.terminate(Duration::from_secs(20));
    server.restart();
    wait_serial(server.dns, zone, STEPS.len() as u32 + 1);
    let rebuilt = axfr(server.dns, zone);
    assert_eq!(
        served, rebuilt,
        "the zone changed in place differs from the zone built again"
    );
    if signed {
        ldns_verify_zone(zones.path(), &served);
    }
}

/// `ldns-verify-zone` on the transferred zone: every signature and the
/// NSEC chain.
fn ldns_verify_zone(dir: &Path, lines: &[String]) {
    let file = dir.join("transferred.zone");
    std::fs::write(&file, lines.join("\n") + "\n").expect("zone file");
    let output = Command::new(testkit::require("ldns-verify-zone", "ldnsutils"))
        .arg(&file)
        .output()
        .expect("ldns-verify-zone runs");
    assert!(
        output.status.success(),
        "ldns-verify-zone rejects the zone changed in place:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn an_nsec_zone_changed_in_place_is_the_zone_built_again() {
    scenario("inplace-nsec.test", Some(&[]));
}

#[test]
fn an_nsec3_zone_changed_in_place_is_the_zone_built_again() {
    scenario("inplace-nsec3.test", Some(&["--nsec3", "--nsec3-opt-out"]));
}

#[test]
fn an_unsigned_zone_changed_in_place_is_the_zone_built_again() {
    scenario("inplace.test", None);
}
