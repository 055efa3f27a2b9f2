//! DNSSEC: pooldns signs, independent validators judge.
//!
//! pooldns serves the parent zone `secure.test` and its signed child
//! `signed.secure.test` (`tests/data/dnssec/`), both secured with
//! `pooldns zone secure`. The signatures are then checked by software that
//! shares no code with pooldns:
//!
//! * `delv` (BIND 9) with the parent's DS from `pooldns zone ds` as its only
//!   trust anchor, for positive answers, a CNAME, wildcard answers, NXDOMAIN,
//!   NODATA (also at an empty non-terminal and from a wildcard), names in the
//!   signed child (validated through the DS in the parent), and the proof
//!   that the unsigned child has no DS;
//! * Unbound as a validating resolver with stub zones pointing at pooldns:
//!   the same cases must come back with the AD bit, and a name below the
//!   unsigned child (served by Knot DNS) must come back insecure, neither
//!   authenticated nor SERVFAIL. Two negative controls prove that the
//!   validation can fail: a proxy that corrupts every RRSIG in answers, and
//!   a trust anchor with a wrong digest, must both give SERVFAIL;
//! * `ldns-verify-zone` and `dnssec-verify` on `pooldns zone export --dnssec`,
//!   and on a tampered copy of it that they must reject.
//!
//! A chain test secures the parent first and the child later, and checks
//! that the parent's DS for the child follows without any further command,
//! so that the parent's key alone validates names in the child.
//!
//! Two more tests look at the records themselves, to report precisely what
//! a validator would only call bogus: signatures on every RRset, the
//! wildcard RRSIG labels, denial records of the configured kind, NSEC3
//! parameters (RFC 9276), which key signs what, CDS/CDNSKEY, nothing extra
//! without DO; and `zone ds` (both digests) and `key list` against the keys
//! served.
//!
//! Every test runs for each signing variant: NSEC and NSEC3 with ECDSA
//! P-256 (a combined signing key), NSEC with Ed25519, NSEC3 with opt-out,
//! and NSEC with a separate KSK and ZSK. With opt-out, answers whose proof
//! rests on a covering NSEC3 may be insecure rather than authenticated, as
//! RFC 5155 intends ([`Case::covering_proof`]); they must still never be
//! bogus.
//!
//! The peer programs come from the Debian packages `bind9-dnsutils` (delv),
//! `bind9-utils` (dnssec-verify), `ldnsutils` (ldns-verify-zone), `unbound`
//! and `knot`; `.ci/run` installs them.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use base::dnskey::key_tag;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecoder, BinEncodable, Restrict};
use testkit::{
    data_path, free_port, hex, parse_name, query, read_frame, write_frame, Knotd, Pooldns, QueryOptions, Unbound,
};

/// The parent zone.
const PARENT: &str = "secure.test";

/// The signed child, served by the same pooldns from its own zone file.
const CHILD: &str = "signed.secure.test";

/// The unsigned child; pooldns only serves the delegation to it.
const UNSIGNED_CHILD: &str = "unsigned.secure.test";

/// A name in the unsigned child and its address in
/// `tests/data/dnssec/unsigned/unsigned.secure.test.zone`.
const UNSIGNED_HOST: (&str, &str) = ("host.unsigned.secure.test", "192.0.2.71");

/// How long pooldns may take to serve a zone's keys and signatures after
/// `zone secure`, and to bring the parent's DS in line with a child's keys.
/// A running server picks up a change to the store within a second; this is
/// generous for busy machines.
const SIGNING_TIMEOUT: Duration = Duration::from_secs(20);

/// How long one run of delv, ldns-verify-zone, dnssec-verify or a pooldns
/// command may take.
const TOOL_TIMEOUT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------
// Signing variants
// ---------------------------------------------------------------------------

/// How authenticated denial of existence is done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Denial {
    Nsec,
    Nsec3 { opt_out: bool },
}

impl Denial {
    /// The record type of the proofs.
    fn record_type(self) -> RecordType {
        match self {
            Denial::Nsec => RecordType::NSEC,
            Denial::Nsec3 { .. } => RecordType::NSEC3,
        }
    }

    /// The record type that must never appear.
    fn other_record_type(self) -> RecordType {
        match self {
            Denial::Nsec => RecordType::NSEC3,
            Denial::Nsec3 { .. } => RecordType::NSEC,
        }
    }
}

/// One way of securing the zones.
#[derive(Clone, Copy, Debug)]
struct Variant {
    /// Arguments of `pooldns zone secure NAME` after the name.
    secure_args: &'static [&'static str],
    /// DNSSEC algorithm number of the keys (RFC 8624).
    algorithm: u8,
    denial: Denial,
    /// A KSK (flags 257) and a ZSK (flags 256) instead of one CSK (257).
    split_keys: bool,
}

const NSEC_ECDSA: Variant = Variant {
    secure_args: &[],
    algorithm: 13,
    denial: Denial::Nsec,
    split_keys: false,
};

const NSEC3_ECDSA: Variant = Variant {
    secure_args: &["--nsec3"],
    algorithm: 13,
    denial: Denial::Nsec3 { opt_out: false },
    split_keys: false,
};

const NSEC_ED25519: Variant = Variant {
    secure_args: &["--algorithm", "ed25519"],
    algorithm: 15,
    denial: Denial::Nsec,
    split_keys: false,
};

const NSEC3_OPT_OUT: Variant = Variant {
    secure_args: &["--nsec3", "--nsec3-opt-out"],
    algorithm: 13,
    denial: Denial::Nsec3 { opt_out: true },
    split_keys: false,
};

const NSEC_SPLIT_KEYS: Variant = Variant {
    secure_args: &["--split"],
    algorithm: 13,
    denial: Denial::Nsec,
    split_keys: true,
};

// ---------------------------------------------------------------------------
// The cases every validator checks
// ---------------------------------------------------------------------------

/// What a validated response must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// NOERROR with records of the queried type (possibly behind a CNAME).
    Answer,
    /// NXDOMAIN with a proof that the name does not exist.
    NxDomain,
    /// NOERROR without records of the queried type, with a proof.
    NoData,
}

/// One query the validators check.
#[derive(Clone, Copy, Debug)]
struct Case {
    what: &'static str,
    name: &'static str,
    qtype: RecordType,
    outcome: Outcome,
    /// The proof in the response rests on an NSEC3 record that covers a
    /// name (rather than matching one). Under NSEC3 opt-out such a record
    /// may span unsigned delegations, so validators can only treat the
    /// response as insecure (RFC 5155 section 6, RFC 7129 section 5.1);
    /// with opt-out these cases must therefore not be bogus, but need not
    /// be authenticated.
    covering_proof: bool,
}

const fn case(what: &'static str, name: &'static str, qtype: RecordType, outcome: Outcome) -> Case {
    Case {
        what,
        name,
        qtype,
        outcome,
        covering_proof: false,
    }
}

impl Case {
    /// Marks a case whose proof uses a covering NSEC3 record.
    const fn covering(self) -> Case {
        Case {
            covering_proof: true,
            ..self
        }
    }

    /// The trust the validators must reach for this case under `variant`.
    fn expected_trust(&self, variant: Variant) -> Trust {
        if self.covering_proof && variant.denial == (Denial::Nsec3 { opt_out: true }) {
            Trust::SecureOrInsecure
        } else {
            Trust::Secure
        }
    }
}

/// The validation status a check requires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Trust {
    /// Authenticated: delv "fully validated", Unbound's AD bit.
    Secure,
    /// Authenticated or provably insecure, but never bogus.
    SecureOrInsecure,
}

/// Queries with a validated outcome; see the comments in
/// `tests/data/dnssec/secure.test.zone` for what each name is.
const CASES: &[Case] = &[
    case("positive answer", "www.secure.test", RecordType::A, Outcome::Answer),
    case(
        "positive answer at the apex",
        "secure.test",
        RecordType::AAAA,
        Outcome::Answer,
    ),
    case("apex DNSKEY", "secure.test", RecordType::DNSKEY, Outcome::Answer),
    case("apex CDS", "secure.test", RecordType::CDS, Outcome::Answer),
    case("apex CDNSKEY", "secure.test", RecordType::CDNSKEY, Outcome::Answer),
    case(
        "CNAME to an in-zone name",
        "alias.secure.test",
        RecordType::A,
        Outcome::Answer,
    ),
    case(
        "wildcard answer",
        "anything.wild.secure.test",
        RecordType::A,
        Outcome::Answer,
    )
    .covering(),
    case(
        "wildcard answer two labels below the wildcard",
        "a.b.wild.secure.test",
        RecordType::TXT,
        Outcome::Answer,
    )
    .covering(),
    case("NXDOMAIN", "nope.secure.test", RecordType::A, Outcome::NxDomain).covering(),
    case(
        "NXDOMAIN below an existing name",
        "deeper.www.secure.test",
        RecordType::A,
        Outcome::NxDomain,
    )
    .covering(),
    case("NODATA", "www.secure.test", RecordType::TXT, Outcome::NoData),
    case(
        "NODATA at an empty non-terminal",
        "ent.secure.test",
        RecordType::A,
        Outcome::NoData,
    ),
    case(
        "NODATA from a wildcard",
        "anything.wild.secure.test",
        RecordType::MX,
        Outcome::NoData,
    )
    .covering(),
    case(
        "name in the signed child, through the parent's DS",
        "www.signed.secure.test",
        RecordType::A,
        Outcome::Answer,
    ),
    case(
        "NXDOMAIN in the signed child",
        "nope.signed.secure.test",
        RecordType::A,
        Outcome::NxDomain,
    )
    .covering(),
    case(
        "DS of the signed child",
        "signed.secure.test",
        RecordType::DS,
        Outcome::Answer,
    ),
    case(
        "DS of a signed child hosted elsewhere",
        "external.secure.test",
        RecordType::DS,
        Outcome::Answer,
    ),
    case(
        "proof that the unsigned child has no DS",
        "unsigned.secure.test",
        RecordType::DS,
        Outcome::NoData,
    )
    .covering(),
];

/// Collects the failed checks of a test, so that one run reports all of
/// them instead of stopping at the first.
#[derive(Default)]
struct Failures(Vec<String>);

impl Failures {
    fn add(&mut self, failure: impl Into<String>) {
        self.0.push(failure.into());
    }

    /// Records `result` if it is an error, prefixed with `context`.
    fn check(&mut self, context: impl std::fmt::Display, result: Result<(), String>) {
        if let Err(e) = result {
            self.add(format!("{context}: {e}"));
        }
    }

    /// Panics listing every failure, if there was one.
    fn assert_none(self, what: &str) {
        if !self.0.is_empty() {
            let mut message = format!("{} of the {what} checks failed:\n", self.0.len());
            for failure in &self.0 {
                let _ = writeln!(message, "\n- {}", failure.replace('\n', "\n  "));
            }
            panic!("{message}");
        }
    }
}

// ---------------------------------------------------------------------------
// Records
// ---------------------------------------------------------------------------

/// Lowercase presentation form of `name` without the final dot.
fn lower(name: &Name) -> String {
    name.to_ascii().trim_end_matches('.').to_ascii_lowercase()
}

/// The RDATA of `record` in wire format.
///
/// Works whether or not hickory-proto was built with its DNSSEC types:
/// without them RRSIG, DNSKEY, NSEC and friends are kept as opaque RDATA,
/// which encodes back to the same octets.
fn rdata(record: &Record) -> Vec<u8> {
    record
        .data
        .to_bytes()
        .unwrap_or_else(|e| panic!("encode the RDATA of {record}: {e}"))
}

/// The fields of an RRSIG (RFC 4034 section 3.1) the tests look at.
#[derive(Clone, Debug)]
struct Rrsig {
    owner: String,
    type_covered: RecordType,
    algorithm: u8,
    labels: u8,
    key_tag: u16,
}

impl Rrsig {
    fn parse(record: &Record) -> Rrsig {
        let data = rdata(record);
        assert!(data.len() > 18, "RRSIG RDATA too short: {record}");
        Rrsig {
            owner: lower(&record.name),
            type_covered: RecordType::from(u16::from_be_bytes([data[0], data[1]])),
            algorithm: data[2],
            labels: data[3],
            key_tag: u16::from_be_bytes([data[16], data[17]]),
        }
    }
}

/// A DNSKEY's flags, algorithm, key tag and RDATA.
#[derive(Clone, Debug)]
struct Dnskey {
    flags: u16,
    protocol: u8,
    algorithm: u8,
    key_tag: u16,
    rdata: Vec<u8>,
}

impl Dnskey {
    fn from_rdata(data: Vec<u8>) -> Dnskey {
        assert!(data.len() > 4, "DNSKEY RDATA too short: {}", hex(&data));
        Dnskey {
            flags: u16::from_be_bytes([data[0], data[1]]),
            protocol: data[2],
            algorithm: data[3],
            key_tag: key_tag(&data),
            rdata: data,
        }
    }

    /// The public key, base64-encoded as in a zone file.
    fn public_key_base64(&self) -> String {
        data_encoding::BASE64.encode(&self.rdata[4..])
    }

    /// Whether the SEP flag (257: KSK or CSK) is set.
    fn is_sep(&self) -> bool {
        self.flags & 1 == 1
    }
}

/// A DS record (RFC 4034 section 5).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Ds {
    /// Lowercase owner name without the final dot.
    owner: String,
    key_tag: u16,
    algorithm: u8,
    digest_type: u8,
    /// Uppercase hexadecimal.
    digest: String,
}

impl Ds {
    /// Parses a zone-file line such as `NAME. 3600 IN DS 12345 13 2 ABCD...`.
    fn parse_line(line: &str) -> Result<Ds, String> {
        let tokens: Vec<&str> = line
            .split_whitespace()
            .filter(|token| *token != "(" && *token != ")")
            .collect();
        let position = tokens
            .iter()
            .position(|token| token.eq_ignore_ascii_case("DS"))
            .ok_or_else(|| format!("no DS type in {line:?}"))?;
        if position == 0 || tokens.len() < position + 5 {
            return Err(format!("not a DS line: {line:?}"));
        }
        let field = |i: usize, what: &str| {
            tokens[position + i]
                .parse::<u64>()
                .map_err(|e| format!("bad {what} in {line:?}: {e}"))
        };
        let digest: String = tokens[position + 4..].concat().to_ascii_uppercase();
        if digest.is_empty() || !digest.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(format!("bad digest in {line:?}"));
        }
        Ok(Ds {
            owner: tokens[0].trim_end_matches('.').to_ascii_lowercase(),
            key_tag: u16::try_from(field(1, "key tag")?).map_err(|e| e.to_string())?,
            algorithm: u8::try_from(field(2, "algorithm")?).map_err(|e| e.to_string())?,
            digest_type: u8::try_from(field(3, "digest type")?).map_err(|e| e.to_string())?,
            digest,
        })
    }

    /// A DS or CDS record received over DNS.
    fn from_record(record: &Record) -> Ds {
        let data = rdata(record);
        assert!(data.len() > 4, "DS RDATA too short: {record}");
        Ds {
            owner: lower(&record.name),
            key_tag: u16::from_be_bytes([data[0], data[1]]),
            algorithm: data[2],
            digest_type: data[3],
            digest: hex(&data[4..]).to_ascii_uppercase(),
        }
    }

    /// The record as a zone-file line, as Unbound's `trust-anchor:` takes it.
    fn zone_file_line(&self) -> String {
        format!(
            "{}. 3600 IN DS {} {} {} {}",
            self.owner, self.key_tag, self.algorithm, self.digest_type, self.digest
        )
    }

    /// The record as an entry of BIND's `trust-anchors` statement.
    fn bind_trust_anchor(&self) -> String {
        format!(
            "{}. static-ds {} {} {} \"{}\";",
            self.owner, self.key_tag, self.algorithm, self.digest_type, self.digest
        )
    }

    /// The same record with the first digit of the digest changed: a trust
    /// anchor that matches no key.
    fn with_wrong_digest(&self) -> Ds {
        let mut digest: Vec<char> = self.digest.chars().collect();
        digest[0] = if digest[0] == '0' { '1' } else { '0' };
        Ds {
            digest: digest.into_iter().collect(),
            ..self.clone()
        }
    }
}

/// DS records as the zone-file lines Unbound takes as trust anchors.
fn anchor_lines(ds: &[Ds]) -> Vec<String> {
    ds.iter().map(Ds::zone_file_line).collect()
}

/// Parses the DS lines of `pooldns zone ds` output, skipping blank lines
/// and comments.
fn parse_ds_output(output: &str) -> Result<Vec<Ds>, String> {
    let lines: Vec<&str> = output
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with(';'))
        .collect();
    if lines.is_empty() {
        return Err(format!("no DS record in {output:?}"));
    }
    lines.into_iter().map(Ds::parse_line).collect()
}

/// Record types of a denial-of-existence proof or a signature.
fn is_dnssec_metadata(rtype: RecordType) -> bool {
    matches!(rtype, RecordType::RRSIG | RecordType::NSEC | RecordType::NSEC3)
}

/// Every record of a message except the OPT record, with its section.
fn all_records(message: &Message) -> impl Iterator<Item = (&'static str, &Record)> {
    let answers = message.answers.iter().map(|r| ("answer", r));
    let authorities = message.authorities.iter().map(|r| ("authority", r));
    let additionals = message.additionals.iter().map(|r| ("additional", r));
    answers.chain(authorities).chain(additionals)
}

/// Renders a message compactly for failure messages.
fn describe(message: &Message) -> String {
    let mut text = format!(
        "rcode {:?}, aa {}, ad {}",
        message.response_code, message.authoritative, message.authentic_data
    );
    for (section, record) in all_records(message) {
        let _ = write!(text, "\n  {section}: {record}");
    }
    text
}

// ---------------------------------------------------------------------------
// Running programs
// ---------------------------------------------------------------------------

/// Exit status and output of a program run by [`run_bounded`].
struct ToolOutput {
    status: ExitStatus,
    stdout: String,
    stderr: String,
    /// The command line, for failure messages.
    command: String,
}

impl ToolOutput {
    /// Standard output followed by standard error.
    fn text(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// The command, its status and its output, for failure messages.
    fn report(&self) -> String {
        format!("$ {}\n(exit {})\n{}", self.command, self.status, self.text().trim_end())
    }
}

/// Reads a temporary file written by a child from the start.
fn read_back(mut file: File) -> String {
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0)).expect("rewind output file");
    file.read_to_end(&mut bytes).expect("read output file");
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Runs `command` with no input, killing it if it takes longer than
/// `timeout`. Output goes to temporary files, so that a chatty program
/// cannot block on a full pipe.
fn run_bounded(mut command: Command, timeout: Duration) -> ToolOutput {
    let description = format!(
        "{} {}",
        command.get_program().to_string_lossy(),
        command
            .get_args()
            .map(|arg| arg.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    );
    let stdout = tempfile::tempfile().expect("temporary file");
    let stderr = tempfile::tempfile().expect("temporary file");
    let mut child = command
        .stdin(Stdio::null())
        .stdout(stdout.try_clone().expect("clone file handle"))
        .stderr(stderr.try_clone().expect("clone file handle"))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {description}: {e}"));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll child") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{description} did not finish within {timeout:?}; its output so far:\n{}{}",
                read_back(stdout),
                read_back(stderr)
            );
        }
        thread::sleep(Duration::from_millis(20));
    };
    ToolOutput {
        status,
        stdout: read_back(stdout),
        stderr: read_back(stderr),
        command: description,
    }
}

/// Runs a pooldns command against `server`'s configuration; panics unless
/// it succeeds, and returns its standard output.
fn pooldns_ok(server: &Pooldns, args: &[&str]) -> String {
    let output = run_bounded(server.cli_command(args), TOOL_TIMEOUT);
    assert!(output.status.success(), "pooldns command failed:\n{}", output.report());
    output.stdout
}

/// Polls `check` every 100 ms until it succeeds; panics with its last error
/// after `timeout`.
fn wait_until(timeout: Duration, what: &str, mut check: impl FnMut() -> Result<(), String>) {
    let deadline = Instant::now() + timeout;
    loop {
        match check() {
            Ok(()) => return,
            Err(e) if Instant::now() >= deadline => panic!("{what}: not done within {timeout:?}; last state: {e}"),
            Err(_) => thread::sleep(Duration::from_millis(100)),
        }
    }
}

// ---------------------------------------------------------------------------
// pooldns with signed zones
// ---------------------------------------------------------------------------

/// Runs `pooldns zone secure ZONE` with the variant's options.
fn secure_zone(server: &Pooldns, zone: &str, variant: Variant) {
    let mut args = vec!["zone", "secure", zone];
    args.extend_from_slice(variant.secure_args);
    pooldns_ok(server, &args);
}

/// The DS records `pooldns zone ds ZONE` prints, with extra arguments.
fn zone_ds(server: &Pooldns, zone: &str, extra: &[&str]) -> Vec<Ds> {
    let mut args = vec!["zone", "ds", zone];
    args.extend_from_slice(extra);
    let output = pooldns_ok(server, &args);
    parse_ds_output(&output).unwrap_or_else(|e| panic!("pooldns zone ds {zone} {extra:?}: {e}"))
}

/// Queries the server at `dns` over TCP with DO set (TCP, so that no answer
/// is truncated).
fn query_do(dns: SocketAddr, name: &str, qtype: RecordType) -> Message {
    query(dns, name, qtype, &QueryOptions::tcp().dnssec_ok())
}

/// The DNSKEY RRset the server at `dns` serves for `zone`, if it is served
/// signed.
fn served_keys(dns: SocketAddr, zone: &str) -> Result<Vec<Dnskey>, String> {
    let reply = query_do(dns, zone, RecordType::DNSKEY);
    let keys: Vec<Dnskey> = reply
        .answers
        .iter()
        .filter(|r| r.record_type() == RecordType::DNSKEY)
        .map(|r| Dnskey::from_rdata(rdata(r)))
        .collect();
    let signed = reply
        .answers
        .iter()
        .any(|r| r.record_type() == RecordType::RRSIG && Rrsig::parse(r).type_covered == RecordType::DNSKEY);
    if keys.is_empty() || !signed {
        return Err(format!("{zone} DNSKEY with DO: {}", describe(&reply)));
    }
    Ok(keys)
}

/// Waits until `server` serves `zone` signed: a DNSKEY RRset with an RRSIG.
fn wait_for_keys(server: &Pooldns, zone: &str) -> Vec<Dnskey> {
    let mut keys = Vec::new();
    wait_until(SIGNING_TIMEOUT, &format!("serving {zone} signed"), || {
        keys = served_keys(server.dns, zone)?;
        Ok(())
    });
    keys
}

/// The DS records the server at `dns` serves for `child`.
fn served_ds(dns: SocketAddr, child: &str) -> Vec<Ds> {
    query_do(dns, child, RecordType::DS)
        .answers
        .iter()
        .filter(|r| r.record_type() == RecordType::DS)
        .map(Ds::from_record)
        .collect()
}

/// Whether the parent's DS set for `child` is in step with the child's keys:
/// it holds every record `zone ds CHILD` prints and none for other keys.
fn ds_in_step(served: &[Ds], expected: &[Ds]) -> Result<(), String> {
    let tags: BTreeSet<u16> = expected.iter().map(|ds| ds.key_tag).collect();
    let missing: Vec<&Ds> = expected.iter().filter(|ds| !served.contains(ds)).collect();
    let stale: Vec<&Ds> = served.iter().filter(|ds| !tags.contains(&ds.key_tag)).collect();
    if missing.is_empty() && stale.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the parent serves {served:?}; `zone ds` prints {expected:?}; missing {missing:?}, for other keys {stale:?}"
        ))
    }
}

/// Waits until the parent's DS for `child` matches `pooldns zone ds CHILD`.
fn wait_for_ds_in_step(server: &Pooldns, child: &str) {
    let expected = zone_ds(server, child, &[]);
    wait_until(
        SIGNING_TIMEOUT,
        &format!("the parent's DS for {child} following its keys"),
        || ds_in_step(&served_ds(server.dns, child), &expected),
    );
}

/// pooldns serving `secure.test` and `signed.secure.test`, both secured.
struct SignedZones {
    server: Pooldns,
    /// The parent's DS records: the trust anchor of every validator.
    parent_ds: Vec<Ds>,
}

impl SignedZones {
    /// Starts pooldns on `tests/data/dnssec`, secures the child and then
    /// the parent (the chain test covers the other order), and waits until
    /// both are served signed with the child's DS in the parent.
    fn start(variant: Variant) -> SignedZones {
        let server = Pooldns::start(&data_path("dnssec"));
        secure_zone(&server, CHILD, variant);
        secure_zone(&server, PARENT, variant);
        wait_for_keys(&server, CHILD);
        wait_for_keys(&server, PARENT);
        wait_for_ds_in_step(&server, CHILD);
        let parent_ds = zone_ds(&server, PARENT, &[]);
        SignedZones { server, parent_ds }
    }
}

// ---------------------------------------------------------------------------
// delv
// ---------------------------------------------------------------------------

/// Writes a BIND `trust-anchors` file with `entries` into `dir`.
fn write_bind_anchors(dir: &Path, file_name: &str, entries: &[String]) -> PathBuf {
    let mut text = String::from("trust-anchors {\n");
    for entry in entries {
        let _ = writeln!(text, "    {entry}");
    }
    text.push_str("};\n");
    let path = dir.join(file_name);
    fs::write(&path, text).expect("write trust anchors");
    path
}

/// Asks `server` for `name`/`qtype` with delv, validating from the trust
/// anchor for `secure.test` in `anchors`.
///
/// delv sends every query (also for DS and DNSKEY) to `server` and follows
/// no referrals, which is why it only sees the zones pooldns serves.
fn delv(server: SocketAddr, anchors: &Path, name: &str, qtype: RecordType) -> ToolOutput {
    let mut command = Command::new(testkit::require("delv", "bind9-dnsutils"));
    command
        .arg(format!("@{}", server.ip()))
        .args(["-p", &server.port().to_string()])
        .arg("-a")
        .arg(anchors)
        .arg(format!("+root={PARENT}"))
        .args(["-q", name, "-t", &qtype.to_string()]);
    run_bounded(command, TOOL_TIMEOUT)
}

/// Words in delv's output that mean validation failed.
const DELV_FAILURE_WORDS: &[&str] = &[
    "broken trust chain",
    "bogus",
    "insecurity proof failed",
    "no valid signature",
    "no valid RRSIG",
];

/// Whether delv's output says that `case` validated with `trust`.
///
/// delv 9.18 prints `; fully validated` before a validated answer and
/// `; unsigned answer` before an insecure one. For a negative answer it
/// reports `;; resolution failed: ncache nxdomain` (or `ncache nxrrset` for
/// NODATA) followed by `; negative response, fully validated` (or
/// `; negative response, unsigned answer`). Its exit status is 0 either way.
fn delv_verdict(output: &ToolOutput, case: &Case, trust: Trust) -> Result<(), String> {
    let text = output.text();
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let failed = |why: &str| Err(format!("{why}\n{}", output.report()));
    if let Some(word) = DELV_FAILURE_WORDS.iter().find(|word| text.contains(**word)) {
        return failed(&format!("delv reports {word:?}"));
    }
    let (secure, insecure) = match case.outcome {
        Outcome::Answer => ("; fully validated", "; unsigned answer"),
        Outcome::NxDomain | Outcome::NoData => (
            "; negative response, fully validated",
            "; negative response, unsigned answer",
        ),
    };
    let status_ok = lines.contains(&secure) || (trust == Trust::SecureOrInsecure && lines.contains(&insecure));
    if !status_ok {
        return match trust {
            Trust::Secure => failed(&format!("expected {secure:?}")),
            Trust::SecureOrInsecure => failed(&format!("expected {secure:?} or {insecure:?}")),
        };
    }
    match case.outcome {
        Outcome::Answer => {
            if text.contains("resolution failed") {
                return failed("expected an answer");
            }
            let owner = case.name.to_ascii_lowercase();
            let qtype = case.qtype.to_string();
            let answered = lines.iter().any(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                !line.starts_with(';')
                    && fields.len() > 4
                    && fields[0].trim_end_matches('.').eq_ignore_ascii_case(&owner)
                    && (fields[3] == qtype || fields[3] == "CNAME")
            });
            if !answered {
                return failed(&format!("no {qtype} record for {owner} in the answer"));
            }
        }
        Outcome::NxDomain | Outcome::NoData => {
            let expected = if case.outcome == Outcome::NxDomain {
                ";; resolution failed: ncache nxdomain"
            } else {
                ";; resolution failed: ncache nxrrset"
            };
            if !lines.contains(&expected) {
                return failed(&format!("expected {expected:?}"));
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Unbound
// ---------------------------------------------------------------------------

/// Whether Unbound's reply to `case` has the expected outcome and, if
/// `trust` demands it, the AD bit. (A bogus answer is SERVFAIL.)
fn unbound_verdict(reply: &Message, case: &Case, trust: Trust) -> Result<(), String> {
    let expected_rcode = match case.outcome {
        Outcome::NxDomain => ResponseCode::NXDomain,
        Outcome::Answer | Outcome::NoData => ResponseCode::NoError,
    };
    let answers_qtype = reply.answers.iter().any(|r| r.record_type() == case.qtype);
    let wrong = if reply.response_code != expected_rcode {
        Some(format!("expected {expected_rcode:?}"))
    } else if trust == Trust::Secure && !reply.authentic_data {
        Some("expected the AD bit".to_string())
    } else if case.outcome == Outcome::Answer && !answers_qtype {
        Some(format!("expected {} records in the answer", case.qtype))
    } else if case.outcome == Outcome::NoData && answers_qtype {
        Some(format!("expected no {} records in the answer", case.qtype))
    } else {
        None
    };
    match wrong {
        Some(why) => Err(format!("{why}; unbound answered {}", describe(reply))),
        None => Ok(()),
    }
}

// ---------------------------------------------------------------------------
// A proxy that corrupts signatures
// ---------------------------------------------------------------------------

/// Counters of a [`CorruptingProxy`].
#[derive(Default)]
struct ProxyStats {
    /// Replies passed back to the client.
    replies: AtomicUsize,
    /// RRSIG records whose signature was changed.
    corrupted: AtomicUsize,
    /// Replies that hickory-proto could not decode (forwarded as they were).
    undecodable: AtomicUsize,
}

/// A UDP and TCP DNS proxy on a loopback port that forwards every query to
/// an upstream server and, while `corrupt` is set, flips one octet of the
/// signature of every RRSIG in the answer section of the replies.
///
/// The replies are decoded and re-encoded with hickory-proto in both modes,
/// so a test can first show that the proxy itself is transparent.
struct CorruptingProxy {
    addr: SocketAddr,
    corrupt: Arc<AtomicBool>,
    stats: Arc<ProxyStats>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

/// How long the proxy waits for the upstream server.
const PROXY_UPSTREAM_TIMEOUT: Duration = Duration::from_secs(10);

impl CorruptingProxy {
    fn start(upstream: SocketAddr, corrupt: bool) -> CorruptingProxy {
        let port = free_port();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let udp = Arc::new(UdpSocket::bind(addr).expect("bind the proxy's UDP socket"));
        udp.set_read_timeout(Some(Duration::from_millis(100)))
            .expect("set read timeout");
        let tcp = TcpListener::bind(addr).expect("bind the proxy's TCP socket");
        tcp.set_nonblocking(true).expect("non-blocking listener");

        let corrupt = Arc::new(AtomicBool::new(corrupt));
        let stats = Arc::new(ProxyStats::default());
        let stop = Arc::new(AtomicBool::new(false));
        let context = ProxyContext {
            upstream,
            corrupt: Arc::clone(&corrupt),
            stats: Arc::clone(&stats),
        };
        let udp_thread = {
            let (context, stop) = (context.clone(), Arc::clone(&stop));
            thread::spawn(move || proxy_udp(udp, context, stop))
        };
        let tcp_thread = {
            let (context, stop) = (context, Arc::clone(&stop));
            thread::spawn(move || proxy_tcp(tcp, context, stop))
        };
        CorruptingProxy {
            addr,
            corrupt,
            stats,
            stop,
            threads: vec![udp_thread, tcp_thread],
        }
    }

    fn set_corrupt(&self, corrupt: bool) {
        self.corrupt.store(corrupt, Ordering::SeqCst);
    }

    fn stats(&self) -> String {
        format!(
            "the proxy passed {} replies, corrupted {} RRSIGs, could not decode {} replies",
            self.stats.replies.load(Ordering::SeqCst),
            self.stats.corrupted.load(Ordering::SeqCst),
            self.stats.undecodable.load(Ordering::SeqCst)
        )
    }
}

impl Drop for CorruptingProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// What the proxy's threads share.
#[derive(Clone)]
struct ProxyContext {
    upstream: SocketAddr,
    corrupt: Arc<AtomicBool>,
    stats: Arc<ProxyStats>,
}

impl ProxyContext {
    /// Re-encodes a reply, corrupting its RRSIGs if asked to.
    fn rewrite(&self, reply: Vec<u8>) -> Vec<u8> {
        self.stats.replies.fetch_add(1, Ordering::SeqCst);
        match rewrite_reply(&reply, self.corrupt.load(Ordering::SeqCst)) {
            Ok((wire, corrupted)) => {
                self.stats.corrupted.fetch_add(corrupted, Ordering::SeqCst);
                wire
            }
            Err(_) => {
                self.stats.undecodable.fetch_add(1, Ordering::SeqCst);
                reply
            }
        }
    }
}

/// Decodes `reply`, flips the last octet of every RRSIG in the answer
/// section if `corrupt` is set, and encodes it again. The last octet of an
/// RRSIG's RDATA always belongs to its signature field (RFC 4034 section
/// 3.1). Returns the new reply and how many RRSIGs were changed.
fn rewrite_reply(reply: &[u8], corrupt: bool) -> Result<(Vec<u8>, usize), String> {
    let mut message = Message::from_vec(reply).map_err(|e| e.to_string())?;
    let mut corrupted = 0;
    if corrupt {
        for record in &mut message.answers {
            if record.record_type() != RecordType::RRSIG {
                continue;
            }
            let mut data = record.data.to_bytes().map_err(|e| e.to_string())?;
            let Some(last) = data.last_mut() else { continue };
            *last ^= 0xff;
            let length = u16::try_from(data.len()).map_err(|e| e.to_string())?;
            let mut decoder = BinDecoder::new(&data);
            record.data =
                RData::read(&mut decoder, RecordType::RRSIG, Restrict::new(length)).map_err(|e| e.to_string())?;
            corrupted += 1;
        }
    }
    let wire = message.to_vec().map_err(|e| e.to_string())?;
    Ok((wire, corrupted))
}

/// The proxy's UDP side: one thread per query, so that a slow upstream
/// reply does not hold up the others.
fn proxy_udp(socket: Arc<UdpSocket>, context: ProxyContext, stop: Arc<AtomicBool>) {
    let mut buf = vec![0u8; 65535];
    while !stop.load(Ordering::SeqCst) {
        let (len, client) = match socket.recv_from(&mut buf) {
            Ok(received) => received,
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => continue,
            Err(_) => return,
        };
        let query = buf[..len].to_vec();
        let (socket, context) = (Arc::clone(&socket), context.clone());
        thread::spawn(move || {
            let upstream = || -> io::Result<Vec<u8>> {
                let out = UdpSocket::bind("127.0.0.1:0")?;
                out.connect(context.upstream)?;
                out.set_read_timeout(Some(PROXY_UPSTREAM_TIMEOUT))?;
                out.send(&query)?;
                let mut reply = vec![0u8; 65535];
                let n = out.recv(&mut reply)?;
                reply.truncate(n);
                Ok(reply)
            };
            if let Ok(reply) = upstream() {
                let _ = socket.send_to(&context.rewrite(reply), client);
            }
        });
    }
}

/// The proxy's TCP side: one thread per connection, each with its own
/// upstream connection, one query at a time.
fn proxy_tcp(listener: TcpListener, context: ProxyContext, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((client, _)) => {
                let (context, stop) = (context.clone(), Arc::clone(&stop));
                thread::spawn(move || {
                    let _ = proxy_tcp_connection(client, &context, &stop);
                });
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => thread::sleep(Duration::from_millis(20)),
            Err(_) => return,
        }
    }
}

fn proxy_tcp_connection(mut client: TcpStream, context: &ProxyContext, stop: &AtomicBool) -> io::Result<()> {
    client.set_nonblocking(false)?;
    client.set_read_timeout(Some(PROXY_UPSTREAM_TIMEOUT))?;
    let mut upstream = TcpStream::connect_timeout(&context.upstream, PROXY_UPSTREAM_TIMEOUT)?;
    upstream.set_read_timeout(Some(PROXY_UPSTREAM_TIMEOUT))?;
    while !stop.load(Ordering::SeqCst) {
        let Some(query) = read_frame(&mut client)? else {
            return Ok(());
        };
        write_frame(&mut upstream, &query)?;
        let reply = read_frame(&mut upstream)?
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "upstream closed the connection"))?;
        write_frame(&mut client, &context.rewrite(reply))?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Offline verification
// ---------------------------------------------------------------------------

/// Runs ldns-verify-zone on a zone file.
fn ldns_verify_zone(file: &Path) -> ToolOutput {
    let mut command = Command::new(testkit::require("ldns-verify-zone", "ldnsutils"));
    command.arg(file);
    run_bounded(command, TOOL_TIMEOUT)
}

/// Runs BIND's dnssec-verify on a zone file. With a combined signing key
/// (`-z`) the KSK flag is not taken to mean that the key signs only the
/// DNSKEY RRset.
fn dnssec_verify(zone: &str, file: &Path, variant: Variant) -> ToolOutput {
    let mut command = Command::new(testkit::require("dnssec-verify", "bind9-utils"));
    if !variant.split_keys {
        command.arg("-z");
    }
    command.args(["-o", zone]).arg(file);
    run_bounded(command, TOOL_TIMEOUT)
}

// ---------------------------------------------------------------------------
// The checks
// ---------------------------------------------------------------------------

/// Checks the DNSSEC records pooldns serves, directly over the wire: what
/// the validators rely on, reported more precisely than they can.
fn served_records_follow_the_contract(variant: Variant) {
    let zones = SignedZones::start(variant);
    check_served_records(zones.server.dns, variant).assert_none("served-record");
}

/// The checks of [`served_records_follow_the_contract`] against the server
/// at `dns`.
fn check_served_records(dns: SocketAddr, variant: Variant) -> Failures {
    let denial = variant.denial.record_type();
    let mut failures = Failures::default();

    // Keys: the variant's algorithm; one CSK, or a KSK and a ZSK.
    for zone in [PARENT, CHILD] {
        let keys = served_keys(dns, zone).unwrap_or_else(|e| panic!("{e}"));
        let flags: Vec<u16> = keys.iter().map(|k| k.flags).collect();
        let expected_flags: &[u16] = if variant.split_keys { &[256, 257] } else { &[257] };
        let mut sorted = flags.clone();
        sorted.sort_unstable();
        if sorted != expected_flags {
            failures.add(format!(
                "{zone} DNSKEY flags are {flags:?}, expected {expected_flags:?}"
            ));
        }
        for key in &keys {
            if key.algorithm != variant.algorithm || key.protocol != 3 {
                failures.add(format!(
                    "{zone} DNSKEY {} has algorithm {} protocol {}, expected algorithm {} protocol 3",
                    key.key_tag, key.algorithm, key.protocol, variant.algorithm
                ));
            }
        }
        check_signers(dns, zone, &keys, variant, &mut failures);

        // CDNSKEY repeats the SEP keys; CDS points at them (RFC 7344).
        let sep: BTreeSet<Vec<u8>> = keys.iter().filter(|k| k.is_sep()).map(|k| k.rdata.clone()).collect();
        let cdnskey = query_do(dns, zone, RecordType::CDNSKEY);
        let published: BTreeSet<Vec<u8>> = cdnskey
            .answers
            .iter()
            .filter(|r| r.record_type() == RecordType::CDNSKEY)
            .map(rdata)
            .collect();
        if published != sep {
            failures.add(format!(
                "{zone} CDNSKEY must repeat the DNSKEYs with flags 257: {}",
                describe(&cdnskey)
            ));
        }
        let cds = query_do(dns, zone, RecordType::CDS);
        let sep_tags: BTreeSet<u16> = keys.iter().filter(|k| k.is_sep()).map(|k| k.key_tag).collect();
        let cds_records: Vec<Ds> = cds
            .answers
            .iter()
            .filter(|r| r.record_type() == RecordType::CDS)
            .map(Ds::from_record)
            .collect();
        if cds_records.is_empty() || cds_records.iter().any(|ds| !sep_tags.contains(&ds.key_tag)) {
            failures.add(format!(
                "{zone} CDS must point at the keys {sep_tags:?}: {}",
                describe(&cds)
            ));
        }
    }

    // NSEC3PARAM: RFC 9276 parameters, or none at all with NSEC.
    let param = query_do(dns, PARENT, RecordType::NSEC3PARAM);
    let params: Vec<Vec<u8>> = param
        .answers
        .iter()
        .filter(|r| r.record_type() == RecordType::NSEC3PARAM)
        .map(rdata)
        .collect();
    match variant.denial {
        Denial::Nsec if !params.is_empty() => failures.add(format!("NSEC3PARAM with NSEC: {}", describe(&param))),
        Denial::Nsec3 { .. } if params != [vec![1, 0, 0, 0, 0]] => failures.add(format!(
            "expected one NSEC3PARAM 1 0 0 - (SHA-1, no flags, no extra iterations, no salt): {}",
            describe(&param)
        )),
        _ => {}
    }

    // Every case: signatures for every RRset, proofs where needed.
    for case in CASES {
        let reply = query_do(dns, case.name, case.qtype);
        let context = format!("{} {} with DO ({})", case.name, case.qtype, case.what);
        failures.check(&context, every_rrset_signed(&reply));
        failures.check(&context, denial_records(&reply, case, variant));
    }

    // Wildcard answers: RRSIG labels without the `*` (RFC 4035 section
    // 5.3.4), plus a proof that the query name itself does not exist.
    for (name, qtype) in [
        ("anything.wild.secure.test", RecordType::A),
        ("a.b.wild.secure.test", RecordType::TXT),
    ] {
        let reply = query_do(dns, name, qtype);
        let labels: Vec<u8> = reply
            .answers
            .iter()
            .filter(|r| r.record_type() == RecordType::RRSIG)
            .map(|r| Rrsig::parse(r).labels)
            .collect();
        if labels != [3] {
            failures.add(format!(
                "{name} {qtype}: expected one RRSIG with labels 3 (wild.secure.test), got labels {labels:?}: {}",
                describe(&reply)
            ));
        }
        if !reply.authorities.iter().any(|r| r.record_type() == denial) {
            failures.add(format!(
                "{name} {qtype}: a wildcard answer needs a {denial} proof that the name does not exist: {}",
                describe(&reply)
            ));
        }
    }

    // Referrals: with DS to a signed child, with a proof of no DS otherwise.
    let referral = query_do(dns, "www.external.secure.test", RecordType::A);
    let has = |message: &Message, rtype: RecordType| message.authorities.iter().any(|r| r.record_type() == rtype);
    if referral.authoritative
        || !has(&referral, RecordType::NS)
        || !has(&referral, RecordType::DS)
        || has(&referral, denial)
    {
        failures.add(format!(
            "referral to the signed external child: expected NS, DS and RRSIG(DS) in authority, AA clear: {}",
            describe(&referral)
        ));
    }
    failures.check("referral to the signed external child", every_rrset_signed(&referral));
    let referral = query_do(dns, UNSIGNED_HOST.0, RecordType::A);
    if referral.authoritative
        || !has(&referral, RecordType::NS)
        || has(&referral, RecordType::DS)
        || !has(&referral, denial)
    {
        failures.add(format!(
            "referral to the unsigned child: expected NS and a {denial} proof of no DS in authority, AA clear: {}",
            describe(&referral)
        ));
    }
    failures.check("referral to the unsigned child", every_rrset_signed(&referral));

    // Without DO: no signatures and no proofs, not even in referrals.
    let names = CASES.iter().map(|c| (c.name, c.qtype)).chain([
        ("www.external.secure.test", RecordType::A),
        (UNSIGNED_HOST.0, RecordType::A),
    ]);
    for (name, qtype) in names {
        let reply = query(dns, name, qtype, &QueryOptions::tcp());
        let extra: Vec<String> = all_records(&reply)
            .filter(|(section, r)| {
                is_dnssec_metadata(r.record_type()) || (*section == "authority" && r.record_type() == RecordType::DS)
            })
            .map(|(section, r)| format!("{section}: {r}"))
            .collect();
        if !extra.is_empty() {
            failures.add(format!("{name} {qtype} without DO carries DNSSEC records: {extra:?}"));
        }
    }

    failures
}

/// Checks which keys sign what: the DNSKEY RRset at least by a key with
/// flags 257 (a ZSK may sign it too), everything else only by the ZSK
/// (split keys) or the CSK, always with the variant's algorithm.
fn check_signers(dns: SocketAddr, zone: &str, keys: &[Dnskey], variant: Variant, failures: &mut Failures) {
    let all: BTreeSet<u16> = keys.iter().map(|k| k.key_tag).collect();
    let sep: BTreeSet<u16> = keys.iter().filter(|k| k.is_sep()).map(|k| k.key_tag).collect();
    let zsk: BTreeSet<u16> = keys
        .iter()
        .filter(|k| !variant.split_keys || !k.is_sep())
        .map(|k| k.key_tag)
        .collect();
    for (qtype, allowed, required, role) in [
        (RecordType::DNSKEY, &all, &sep, "a key with flags 257"),
        (RecordType::SOA, &zsk, &zsk, "the zone-signing key"),
    ] {
        let reply = query_do(dns, zone, qtype);
        let signers: Vec<(u8, u16)> = reply
            .answers
            .iter()
            .filter(|r| r.record_type() == RecordType::RRSIG)
            .map(Rrsig::parse)
            .filter(|sig| sig.type_covered == qtype)
            .map(|sig| (sig.algorithm, sig.key_tag))
            .collect();
        let wrong_signer = signers
            .iter()
            .any(|(alg, tag)| *alg != variant.algorithm || !allowed.contains(tag));
        if wrong_signer || !signers.iter().any(|(_, tag)| required.contains(tag)) {
            failures.add(format!(
                "{zone} {qtype} must be signed by {role} {required:?} (and no key but {allowed:?}) with algorithm {}; \
                 signers (algorithm, key tag): {signers:?}",
                variant.algorithm
            ));
        }
    }
}

/// Checks that every RRset in the answer and authority sections of a signed
/// reply has an RRSIG, except the NS RRset of a referral (RFC 4035 section
/// 3.1.4: delegation NS records are not signed).
fn every_rrset_signed(reply: &Message) -> Result<(), String> {
    let referral = !reply.authoritative;
    let mut missing = Vec::new();
    for (section, records) in [("answer", &reply.answers), ("authority", &reply.authorities)] {
        let signed: BTreeSet<(String, RecordType)> = records
            .iter()
            .filter(|r| r.record_type() == RecordType::RRSIG)
            .map(Rrsig::parse)
            .map(|sig| (sig.owner, sig.type_covered))
            .collect();
        for record in records {
            let rtype = record.record_type();
            if rtype == RecordType::RRSIG || (referral && section == "authority" && rtype == RecordType::NS) {
                continue;
            }
            let key = (lower(&record.name), rtype);
            if !signed.contains(&key) && !missing.contains(&(section, key.clone())) {
                missing.push((section, key));
            }
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!("RRsets without RRSIG: {missing:?}; reply: {}", describe(reply)))
    }
}

/// Checks the denial-of-existence records of a reply: the variant's type
/// (never the other one) in every negative answer, with NSEC3 parameters
/// per RFC 9276 and the opt-out flag as configured.
fn denial_records(reply: &Message, case: &Case, variant: Variant) -> Result<(), String> {
    let denial = variant.denial.record_type();
    let other = variant.denial.other_record_type();
    if all_records(reply).any(|(_, r)| r.record_type() == other) {
        return Err(format!("{other} records with {denial} signing: {}", describe(reply)));
    }
    let proofs: Vec<&Record> = reply.authorities.iter().filter(|r| r.record_type() == denial).collect();
    if case.outcome != Outcome::Answer && proofs.is_empty() {
        return Err(format!(
            "a negative answer without {denial} records: {}",
            describe(reply)
        ));
    }
    if let Denial::Nsec3 { opt_out } = variant.denial {
        for proof in proofs {
            let data = rdata(proof);
            let bad = data.len() < 5 || data[0] != 1 || data[1] & 1 != u8::from(opt_out) || data[2..5] != [0, 0, 0];
            if bad {
                return Err(format!(
                    "expected NSEC3 with hash 1, opt-out {}, 0 iterations and no salt, got {proof}",
                    u8::from(opt_out)
                ));
            }
        }
    }
    Ok(())
}

/// `zone ds`, `zone ds --digest sha384` and `key list` agree with the keys
/// served, and delv accepts both digests as trust anchors.
fn cli_reports_the_served_keys(variant: Variant) {
    let zones = SignedZones::start(variant);
    let server = &zones.server;
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut failures = Failures::default();
    let keys = served_keys(server.dns, PARENT).unwrap_or_else(|e| panic!("{e}"));
    let sep_tags: BTreeSet<u16> = keys.iter().filter(|k| k.is_sep()).map(|k| k.key_tag).collect();

    for (digest, digest_type, hex_len) in [(None, 2u8, 64usize), (Some("sha256"), 2, 64), (Some("sha384"), 4, 96)] {
        let extra: Vec<&str> = digest.map(|d| vec!["--digest", d]).unwrap_or_default();
        let records = zone_ds(server, PARENT, &extra);
        let tags: BTreeSet<u16> = records.iter().map(|ds| ds.key_tag).collect();
        let well_formed = records.iter().all(|ds| {
            ds.owner == PARENT
                && ds.algorithm == variant.algorithm
                && ds.digest_type == digest_type
                && ds.digest.len() == hex_len
        });
        if tags != sep_tags || !well_formed {
            failures.add(format!(
                "zone ds {PARENT} {extra:?}: expected one DS of digest type {digest_type} per key with flags 257 {sep_tags:?}, got {records:?}"
            ));
            continue;
        }
        let entries: Vec<String> = records.iter().map(Ds::bind_trust_anchor).collect();
        let anchors = write_bind_anchors(dir.path(), &format!("anchors-{digest_type}.conf"), &entries);
        let case = &CASES[0];
        let output = delv(server.dns, &anchors, case.name, case.qtype);
        failures.check(
            format!(
                "delv {} {} with the DS of digest type {digest_type} as trust anchor",
                case.name, case.qtype
            ),
            delv_verdict(&output, case, Trust::Secure),
        );
    }

    // `key list` must name every key that is served, by its key tag.
    let list = pooldns_ok(server, &["key", "list", PARENT]);
    let words: BTreeSet<&str> = list
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    for key in &keys {
        if !words.contains(key.key_tag.to_string().as_str()) {
            failures.add(format!(
                "`key list {PARENT}` does not mention key tag {} (flags {}):\n{list}",
                key.key_tag, key.flags
            ));
        }
    }
    failures.assert_none("command-line");
}

/// delv validates every case from the parent's trust anchor.
fn delv_validates_every_case(variant: Variant) {
    let zones = SignedZones::start(variant);
    check_delv(zones.server.dns, &zones.parent_ds, variant).assert_none("delv");
}

/// The checks of [`delv_validates_every_case`] against the server at `dns`,
/// with `parent_ds` as trust anchor.
fn check_delv(dns: SocketAddr, parent_ds: &[Ds], variant: Variant) -> Failures {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut failures = Failures::default();

    // First with the served key itself as anchor, so that a failure below
    // can be told apart from a wrong `zone ds`.
    let keys = served_keys(dns, PARENT).unwrap_or_else(|e| panic!("{e}"));
    let entries: Vec<String> = keys
        .iter()
        .filter(|k| k.is_sep())
        .map(|k| {
            format!(
                "{PARENT}. static-key {} {} {} \"{}\";",
                k.flags,
                k.protocol,
                k.algorithm,
                k.public_key_base64()
            )
        })
        .collect();
    let key_anchors = write_bind_anchors(dir.path(), "keys.conf", &entries);
    let output = delv(dns, &key_anchors, CASES[0].name, CASES[0].qtype);
    failures.check(
        "delv with the served DNSKEY as trust anchor",
        delv_verdict(&output, &CASES[0], Trust::Secure),
    );

    let entries: Vec<String> = parent_ds.iter().map(Ds::bind_trust_anchor).collect();
    let anchors = write_bind_anchors(dir.path(), "ds.conf", &entries);
    for case in CASES {
        let output = delv(dns, &anchors, case.name, case.qtype);
        failures.check(
            format!(
                "delv {} {} ({}, expected {:?})",
                case.name, case.qtype, case.what, case.outcome
            ),
            delv_verdict(&output, case, case.expected_trust(variant)),
        );
    }
    failures
}

/// Unbound validates every case (AD set), and resolves a name below the
/// unsigned child as insecure: an answer without AD, not SERVFAIL.
fn unbound_validates_every_case(variant: Variant) {
    let zones = SignedZones::start(variant);
    let unsigned_child = Knotd::start(&[(UNSIGNED_CHILD, &data_path("dnssec/unsigned/unsigned.secure.test.zone"))]);
    check_unbound(zones.server.dns, &zones.parent_ds, unsigned_child.addr, variant).assert_none("unbound");
}

/// The checks of [`unbound_validates_every_case`] with stub zones for the
/// server at `dns` and for the unsigned child at `unsigned_child`, and
/// `parent_ds` as trust anchor.
fn check_unbound(dns: SocketAddr, parent_ds: &[Ds], unsigned_child: SocketAddr, variant: Variant) -> Failures {
    let unbound = Unbound::start(
        &anchor_lines(parent_ds),
        &[(PARENT, dns), (CHILD, dns), (UNSIGNED_CHILD, unsigned_child)],
    );
    let mut failures = Failures::default();
    for case in CASES {
        let reply = unbound.resolve(case.name, case.qtype);
        failures.check(
            format!(
                "{} {} ({}, expected {:?})",
                case.name, case.qtype, case.what, case.outcome
            ),
            unbound_verdict(&reply, case, case.expected_trust(variant))
                .map_err(|e| format!("{e}\n{}", unbound.validation_log())),
        );
    }

    let (name, address) = UNSIGNED_HOST;
    let reply = unbound.resolve(name, RecordType::A);
    let answered = reply
        .answers
        .iter()
        .any(|r| r.record_type() == RecordType::A && r.data.to_string() == address);
    if reply.response_code != ResponseCode::NoError || reply.authentic_data || !answered {
        failures.add(format!(
            "{name} A below the unsigned child: expected NOERROR with {address} and no AD (insecure), got {}\n{}",
            describe(&reply),
            unbound.validation_log()
        ));
    }
    failures
}

/// Negative control: with every RRSIG in answers corrupted on the way,
/// Unbound must refuse the data that it validates without the corruption.
fn unbound_rejects_corrupted_signatures(variant: Variant) {
    let zones = SignedZones::start(variant);
    check_corruption_detected(zones.server.dns, &zones.parent_ds);
}

/// The checks of [`unbound_rejects_corrupted_signatures`] against the
/// server at `dns`, with `parent_ds` as trust anchor.
fn check_corruption_detected(dns: SocketAddr, parent_ds: &[Ds]) {
    let case = &CASES[0];
    let proxy = CorruptingProxy::start(dns, false);
    let stubs = [(PARENT, proxy.addr), (CHILD, proxy.addr)];

    // The proxy re-encodes every reply; without corruption that must not
    // change the outcome.
    let unbound = Unbound::start(&anchor_lines(parent_ds), &stubs);
    let reply = unbound.resolve(case.name, case.qtype);
    if let Err(e) = unbound_verdict(&reply, case, Trust::Secure) {
        panic!(
            "through the proxy in pass-through mode, {} {}: {e}\n{}\n{}",
            case.name,
            case.qtype,
            proxy.stats(),
            unbound.validation_log()
        );
    }
    drop(unbound);

    proxy.set_corrupt(true);
    let unbound = Unbound::start(&anchor_lines(parent_ds), &stubs);
    let reply = unbound.resolve(case.name, case.qtype);
    assert!(
        proxy.stats.corrupted.load(Ordering::SeqCst) > 0,
        "the proxy corrupted no RRSIG; {}",
        proxy.stats()
    );
    assert!(
        reply.response_code == ResponseCode::ServFail && !reply.authentic_data,
        "with corrupted signatures, {} {} must fail validation (SERVFAIL), got {}\n{}\n{}",
        case.name,
        case.qtype,
        describe(&reply),
        proxy.stats(),
        unbound.validation_log()
    );
    assert!(
        unbound.log_text().contains("validation failure"),
        "unbound answered SERVFAIL but logged no validation failure; {}\n{}",
        proxy.stats(),
        unbound.log_text()
    );
}

/// Negative control: a trust anchor whose digest matches no key makes
/// validation fail, in delv and in Unbound.
fn wrong_trust_anchor_fails_validation(variant: Variant) {
    let zones = SignedZones::start(variant);
    check_wrong_anchor_fails(zones.server.dns, &zones.parent_ds);
}

/// The checks of [`wrong_trust_anchor_fails_validation`] against the
/// server at `dns`, whose right trust anchor is `parent_ds`.
fn check_wrong_anchor_fails(dns: SocketAddr, parent_ds: &[Ds]) {
    let case = &CASES[0];
    let wrong: Vec<Ds> = parent_ds.iter().map(Ds::with_wrong_digest).collect();

    let dir = tempfile::tempdir().expect("temporary directory");
    let entries: Vec<String> = wrong.iter().map(Ds::bind_trust_anchor).collect();
    let anchors = write_bind_anchors(dir.path(), "wrong.conf", &entries);
    let output = delv(dns, &anchors, case.name, case.qtype);
    let text = output.text();
    assert!(
        text.contains("resolution failed") && !text.contains("fully validated"),
        "delv must not validate with a wrong trust anchor:\n{}",
        output.report()
    );

    let unbound = Unbound::start(&anchor_lines(&wrong), &[(PARENT, dns), (CHILD, dns)]);
    let reply = unbound.resolve(case.name, case.qtype);
    assert!(
        reply.response_code == ResponseCode::ServFail && !reply.authentic_data,
        "with a wrong trust anchor, {} {} must fail validation (SERVFAIL), got {}\n{}",
        case.name,
        case.qtype,
        describe(&reply),
        unbound.validation_log()
    );
}

/// ldns-verify-zone and dnssec-verify accept `zone export --dnssec` of both
/// zones, and reject the parent once a signed address is changed.
fn exported_zones_verify_offline(variant: Variant) {
    let zones = SignedZones::start(variant);
    let server = &zones.server;
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut failures = Failures::default();

    for zone in [PARENT, CHILD] {
        let text = pooldns_ok(server, &["zone", "export", zone, "--dnssec"]);
        verify_offline(zone, &text, variant, dir.path(), &mut failures);
    }
    failures.assert_none("offline verification");
}

/// Runs both offline verifiers on `text`, the signed zone `zone`, in `dir`;
/// for the parent zone also checks that a tampered copy is rejected.
fn verify_offline(zone: &str, text: &str, variant: Variant, dir: &Path, failures: &mut Failures) {
    let file = dir.join(format!("{zone}.signed"));
    fs::write(&file, text).expect("write the exported zone");
    let output = ldns_verify_zone(&file);
    if !output.status.success() || !output.stdout.contains("Zone is verified and complete") {
        failures.add(format!("ldns-verify-zone rejects {zone}:\n{}", output.report()));
    }
    let output = dnssec_verify(zone, &file, variant);
    if !output.status.success() || !output.text().contains("Zone fully signed") {
        failures.add(format!("dnssec-verify rejects {zone}:\n{}", output.report()));
    }

    if zone == PARENT {
        // The control: a changed signed record must be caught.
        let (original, changed) = ("192.0.2.80", "192.0.2.81");
        assert!(
            text.contains(original),
            "the export of {zone} lacks {original}:\n{text}"
        );
        let tampered = dir.join(format!("{zone}.tampered"));
        fs::write(&tampered, text.replace(original, changed)).expect("write the tampered zone");
        let output = ldns_verify_zone(&tampered);
        if output.status.success() {
            failures.add(format!(
                "ldns-verify-zone accepts a tampered {zone}:\n{}",
                output.report()
            ));
        }
        let output = dnssec_verify(zone, &tampered, variant);
        if output.status.success() {
            failures.add(format!("dnssec-verify accepts a tampered {zone}:\n{}", output.report()));
        }
    }
}

/// The chain of trust from the parent's key alone: the parent is secured
/// first, the child later, and the parent's DS follows the child's keys by
/// itself.
fn parent_ds_follows_the_child(variant: Variant) {
    let server = Pooldns::start(&data_path("dnssec"));
    secure_zone(&server, PARENT, variant);
    wait_for_keys(&server, PARENT);
    let parent_ds = zone_ds(&server, PARENT, &[]);
    let dir = tempfile::tempdir().expect("temporary directory");
    let entries: Vec<String> = parent_ds.iter().map(Ds::bind_trust_anchor).collect();
    let anchors = write_bind_anchors(dir.path(), "parent.conf", &entries);

    // Before the child is secured the parent proves that it has no DS, and
    // the child's data is insecure.
    let no_ds = case("no DS for the child yet", CHILD, RecordType::DS, Outcome::NoData).covering();
    let output = delv(server.dns, &anchors, no_ds.name, no_ds.qtype);
    if let Err(e) = delv_verdict(&output, &no_ds, no_ds.expected_trust(variant)) {
        panic!("before `zone secure {CHILD}`: {e}");
    }
    let output = delv(server.dns, &anchors, "www.signed.secure.test", RecordType::A);
    assert!(
        output.text().lines().any(|line| line.trim() == "; unsigned answer"),
        "before `zone secure {CHILD}`, delv must call its data insecure (\"; unsigned answer\"):\n{}",
        output.report()
    );

    secure_zone(&server, CHILD, variant);
    wait_for_keys(&server, CHILD);
    wait_for_ds_in_step(&server, CHILD);

    let mut failures = Failures::default();
    let child_cases = [
        case(
            "name in the child",
            "www.signed.secure.test",
            RecordType::A,
            Outcome::Answer,
        ),
        case(
            "NXDOMAIN in the child",
            "nope.signed.secure.test",
            RecordType::A,
            Outcome::NxDomain,
        )
        .covering(),
        case("the child's DNSKEY", CHILD, RecordType::DNSKEY, Outcome::Answer),
    ];
    for case in &child_cases {
        let output = delv(server.dns, &anchors, case.name, case.qtype);
        failures.check(
            format!("delv {} {}", case.name, case.qtype),
            delv_verdict(&output, case, case.expected_trust(variant)),
        );
    }
    let unbound = Unbound::start(&anchor_lines(&parent_ds), &[(PARENT, server.dns), (CHILD, server.dns)]);
    for case in &child_cases {
        let reply = unbound.resolve(case.name, case.qtype);
        failures.check(
            format!("unbound {} {}", case.name, case.qtype),
            unbound_verdict(&reply, case, case.expected_trust(variant))
                .map_err(|e| format!("{e}\n{}", unbound.validation_log())),
        );
    }
    failures.assert_none("chain-of-trust");
}

/// Runs every check for one signing variant.
macro_rules! variant_tests {
    ($module:ident, $variant:expr) => {
        mod $module {
            #[test]
            fn served_records_follow_the_contract() {
                super::served_records_follow_the_contract($variant);
            }

            #[test]
            fn cli_reports_the_served_keys() {
                super::cli_reports_the_served_keys($variant);
            }

            #[test]
            fn delv_validates_every_case() {
                super::delv_validates_every_case($variant);
            }

            #[test]
            fn unbound_validates_every_case() {
                super::unbound_validates_every_case($variant);
            }

            #[test]
            fn unbound_rejects_corrupted_signatures() {
                super::unbound_rejects_corrupted_signatures($variant);
            }

            #[test]
            fn wrong_trust_anchor_fails_validation() {
                super::wrong_trust_anchor_fails_validation($variant);
            }

            #[test]
            fn exported_zones_verify_offline() {
                super::exported_zones_verify_offline($variant);
            }

            #[test]
            fn parent_ds_follows_the_child() {
                super::parent_ds_follows_the_child($variant);
            }
        }
    };
}

variant_tests!(nsec_ecdsa, super::NSEC_ECDSA);
variant_tests!(nsec3_ecdsa, super::NSEC3_ECDSA);
variant_tests!(nsec_ed25519, super::NSEC_ED25519);
variant_tests!(nsec3_opt_out, super::NSEC3_OPT_OUT);
variant_tests!(nsec_split_keys, super::NSEC_SPLIT_KEYS);

// ---------------------------------------------------------------------------
// Self-tests of the harness (no peer programs, no pooldns)
// ---------------------------------------------------------------------------

#[test]
fn ds_lines_parse() {
    let ds = Ds::parse_line("secure.test. 3600 IN DS 43837 13 2 6cca0fd1736858f0 0593b6ad").unwrap();
    assert_eq!(
        ds,
        Ds {
            owner: "secure.test".into(),
            key_tag: 43837,
            algorithm: 13,
            digest_type: 2,
            digest: "6CCA0FD1736858F00593B6AD".into(),
        }
    );
    assert_eq!(
        ds.zone_file_line(),
        "secure.test. 3600 IN DS 43837 13 2 6CCA0FD1736858F00593B6AD"
    );
    assert_eq!(ds.with_wrong_digest().digest, "0CCA0FD1736858F00593B6AD");
    assert!(Ds::parse_line("secure.test. 3600 IN DNSKEY 257 3 13 AAAA").is_err());
    assert!(parse_ds_output("; nothing\n\n").is_err());
}

#[test]
fn delv_output_is_judged() {
    let output = |text: &str| ToolOutput {
        status: std::process::Command::new("true").status().unwrap(),
        stdout: text.into(),
        stderr: String::new(),
        command: "delv".into(),
    };
    let positive = case("positive", "www.secure.test", RecordType::A, Outcome::Answer);
    let nxdomain = case("nxdomain", "nope.secure.test", RecordType::A, Outcome::NxDomain);
    let nodata = case("nodata", "www.secure.test", RecordType::TXT, Outcome::NoData);
    let (secure, either) = (Trust::Secure, Trust::SecureOrInsecure);

    let validated = "; fully validated\nwww.secure.test.\t3600\tIN\tA\t192.0.2.80\n\
                     www.secure.test.\t3600\tIN\tRRSIG\tA 13 3 3600 20261226104821 20261126104821 43837 secure.test. x\n";
    assert!(delv_verdict(&output(validated), &positive, secure).is_ok());
    assert!(delv_verdict(&output(validated), &nxdomain, either).is_err());
    let other_name = validated.replace("www.secure.test.", "ftp.secure.test.");
    assert!(delv_verdict(&output(&other_name), &positive, secure).is_err());

    let negative = ";; resolution failed: ncache nxdomain\n; negative response, fully validated\n";
    assert!(delv_verdict(&output(negative), &nxdomain, secure).is_ok());
    assert!(delv_verdict(&output(negative), &nodata, secure).is_err());
    assert!(delv_verdict(&output(negative), &positive, either).is_err());

    let insecure = "; unsigned answer\nwww.secure.test. 3600 IN A 192.0.2.80\n";
    assert!(delv_verdict(&output(insecure), &positive, secure).is_err());
    assert!(delv_verdict(&output(insecure), &positive, either).is_ok());
    let insecure = ";; resolution failed: ncache nxrrset\n; negative response, unsigned answer\n";
    assert!(delv_verdict(&output(insecure), &nodata, secure).is_err());
    assert!(delv_verdict(&output(insecure), &nodata, either).is_ok());

    let bogus = ";; no valid RRSIG resolving 'www.secure.test/A/IN': 127.0.0.1#53\n\
                 ;; broken trust chain resolving 'www.secure.test/A/IN': 127.0.0.1#53\n\
                 ;; resolution failed: broken trust chain\n";
    assert!(delv_verdict(&output(bogus), &positive, either).is_err());
}

#[test]
fn proxy_corrupts_only_rrsig_signatures() {
    // A reply with an A record and an RRSIG over it, as raw wire format.
    let name = testkit::name_wire(&parse_name("www.secure.test"));
    let mut wire = vec![0x12, 0x34, 0x84, 0x00, 0, 1, 0, 2, 0, 0, 0, 0];
    wire.extend_from_slice(&name);
    wire.extend_from_slice(&[0, 1, 0, 1]);
    let mut a = name.clone();
    a.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 192, 0, 2, 80]);
    wire.extend_from_slice(&a);
    let signer = testkit::name_wire(&parse_name("secure.test"));
    let mut sig = vec![0, 1, 13, 3, 0, 0, 0x0e, 0x10, 0x70, 0, 0, 0, 0x60, 0, 0, 0, 0xab, 0xcd];
    sig.extend_from_slice(&signer);
    sig.extend_from_slice(&[0x55; 64]);
    let mut rrsig = name.clone();
    rrsig.extend_from_slice(&[0, 46, 0, 1, 0, 0, 0x0e, 0x10]);
    rrsig.extend_from_slice(&(sig.len() as u16).to_be_bytes());
    rrsig.extend_from_slice(&sig);
    wire.extend_from_slice(&rrsig);

    let (same, changed) = rewrite_reply(&wire, false).unwrap();
    assert_eq!(changed, 0);
    let (corrupt, changed) = rewrite_reply(&wire, true).unwrap();
    assert_eq!(changed, 1);
    let before = Message::from_vec(&same).unwrap();
    let after = Message::from_vec(&corrupt).unwrap();
    assert_eq!(before.answers[0], after.answers[0], "the A record must pass unchanged");
    let (old, new) = (rdata(&before.answers[1]), rdata(&after.answers[1]));
    assert_eq!(old, sig);
    assert_eq!(old.len(), new.len());
    assert_eq!(
        old[..old.len() - 1],
        new[..new.len() - 1],
        "only the signature may change"
    );
    assert_eq!(new[new.len() - 1], 0x55 ^ 0xff);
}
