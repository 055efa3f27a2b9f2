//! LUA records: answers computed per query, as PowerDNS computes them.
//!
//! A record `www LUA A "ifurlup('https://www.example/', {'192.0.2.1', '198.51.100.1'})"`
//! is compiled once, when its zone snapshot is built:
//!
//! ```text
//! LUA RDATA ─> literal::parse_call ─┬─> call::compile ─> Program::Native   (no VM on the query path)
//!                                   └─> (anything else)   Program::Script   (sandbox::run, per worker)
//! ```
//!
//! Both run the same function implementations ([`call`]); the health
//! checks they use are registered at compile time ([`select`]). A query
//! evaluates the programs at its name whose type it asks for and gets
//! RDATA, or a failure the answer turns into SERVFAIL.
//!
//! `ALIAS` records compile here too, into one program for A and one for
//! AAAA that read their target's addresses as [`crate::alias`] last
//! resolved them: the answer path treats both kinds alike.

pub mod call;
pub mod candidate;
mod format;
mod guards;
pub mod hash;
mod libc;
pub mod literal;
pub mod names;
pub mod random;
pub mod sandbox;
pub mod select;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base::edns::ClientSubnet;
use base::name::Name;
use base::rdata::list;
use base::types;
use call::Call;
use candidate::Output;
use literal::Shape;

use crate::alias::{self, Aliases};
use crate::geoip::GeoDb;
use crate::health::{Check, HealthChecker};
use crate::zone::Zone;

/// Health checks one scripted record holds at most.
pub const MAX_HELD_CHECKS: usize = 256;

/// `[lua]` settings.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Lua VM instructions one script evaluation may run.
    pub exec_limit: u32,
    /// Memory one worker's Lua state may hold.
    pub memory_limit: usize,
    /// Default probe interval of health checks.
    pub health_check_interval: Duration,
    /// Default probe timeout of health checks.
    pub health_check_timeout: Duration,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            exec_limit: 1000,
            memory_limit: 16 << 20,
            health_check_interval: Duration::from_secs(5),
            health_check_timeout: Duration::from_secs(2),
        }
    }
}

/// What compiling a zone's LUA records needs from the process.
#[derive(Clone, Default)]
pub struct Runtime {
    pub settings: Arc<Settings>,
    pub geo: Option<Arc<GeoDb>>,
    pub health: Option<HealthChecker>,
}

/// Where a record's program runs: its type, names and the process's
/// GeoIP databases and health checker.
pub struct Env {
    /// The type the record produces.
    pub rtype: u16,
    pub apex: Name,
    pub owner: Name,
    pub geo: Option<Arc<GeoDb>>,
    pub health: Option<HealthChecker>,
    pub settings: Arc<Settings>,
    /// Set once a scripted record holds [`MAX_HELD_CHECKS`] checks: its
    /// queries then use the checks that exist and start none, so a script
    /// that builds targets from the query name cannot let clients start
    /// probes to addresses of their choosing.
    pub checks_full: AtomicBool,
}

impl Env {
    fn new(rtype: u16, apex: &Name, owner: &Name, runtime: &Runtime) -> Env {
        Env {
            rtype,
            apex: apex.clone(),
            owner: owner.clone(),
            geo: runtime.geo.clone(),
            health: runtime.health.clone(),
            settings: runtime.settings.clone(),
            checks_full: AtomicBool::new(false),
        }
    }
}

/// Who asked, as the preset variables describe it.
#[derive(Clone, Copy, Debug)]
pub struct Client {
    pub who: SocketAddr,
    pub local: SocketAddr,
    /// The EDNS Client Subnet, when the query carried one and ECS is on.
    pub subnet: Option<ClientSubnet>,
    pub dnssec_ok: bool,
    pub tcp: bool,
    /// The requestor's EDNS UDP payload size, 0 without EDNS.
    pub edns_size: u16,
}

impl Client {
    /// A client that tells nothing about itself: 0.0.0.0, no EDNS.
    pub fn anonymous() -> Client {
        Client {
            who: SocketAddr::from(([0, 0, 0, 0], 0)),
            local: SocketAddr::from(([0, 0, 0, 0], 0)),
            subnet: None,
            dnssec_ok: false,
            tcp: false,
            edns_size: 0,
        }
    }

    /// `bestwho`: the client subnet's address, else the source address.
    pub fn bestwho(&self) -> IpAddr {
        self.subnet.map_or(self.who.ip(), |subnet| subnet.address)
    }
}

/// One query's view of a program.
pub struct Query<'a> {
    pub env: &'a Arc<Env>,
    /// The query name in wire format, in the case it was asked.
    pub qname: &'a [u8],
    pub client: &'a Client,
    pub programs: &'a Arc<ZonePrograms>,
    /// Whether the answer depended on the client's address (for the ECS
    /// scope of the response).
    pub client_dependent: bool,
}

impl Query<'_> {
    pub fn bestwho(&mut self) -> IpAddr {
        self.client_dependent = true;
        self.client.bestwho()
    }

    /// The query name as text with the trailing dot, in the case asked.
    pub fn qname_text(&self) -> String {
        Name::from_wire(self.qname)
            .map(|name| name.to_string())
            .unwrap_or_default()
    }
}

/// Why a LUA record gave no answer; the query gets SERVFAIL.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("{0}")]
    Run(#[from] call::RunError),
    #[error("{0}")]
    Script(String),
    #[error("result {text:?} is not {rtype} content: {reason}")]
    Result {
        text: String,
        rtype: String,
        reason: String,
    },
    #[error("record was not loaded: {0}")]
    Broken(String),
    #[error("{0}")]
    Unresolved(#[from] alias::Unresolved),
}

/// A compiled LUA record.
pub struct Program {
    env: Arc<Env>,
    body: Body,
    /// Health checks a script has used, held so they keep probing while
    /// the snapshot is served (at most [`MAX_HELD_CHECKS`]).
    held: Mutex<Vec<Check>>,
    /// When this record's last failure was logged (UNIX seconds).
    last_logged: AtomicU64,
}

enum Body {
    Native(Call),
    Script(Arc<str>),
    /// Compiling failed; every query fails the same way.
    Broken(String),
    /// An ALIAS record: its target's addresses of the program's type.
    Alias(Arc<alias::Target>),
}

impl Program {
    /// The type the record produces.
    pub fn rtype(&self) -> u16 {
        self.env.rtype
    }

    /// The code a script record runs.
    pub fn script(&self) -> Option<&Arc<str>> {
        match &self.body {
            Body::Script(code) => Some(code),
            _ => None,
        }
    }

    /// Evaluates the record for one query, appending each RDATA to `out`
    /// with a 2-octet length. Returns whether the answer depended on the
    /// client.
    pub fn evaluate(
        &self,
        qname: &[u8],
        client: &Client,
        programs: &Arc<ZonePrograms>,
        out: &mut Vec<u8>,
    ) -> Result<bool, EvalError> {
        let mut query = Query {
            env: &self.env,
            qname,
            client,
            programs,
            client_dependent: false,
        };
        let result = match &self.body {
            Body::Native(call) => call
                .run(&mut query)
                .map_err(EvalError::from)
                .and_then(|output| write_output(call, output, self.env.rtype, out)),
            Body::Script(code) => self
                .run_script(code, &mut query)
                .and_then(|texts| texts.iter().try_for_each(|text| push_text(self.env.rtype, text, out))),
            Body::Broken(reason) => Err(EvalError::Broken(reason.clone())),
            // Resolution failures are logged where they happen, once.
            Body::Alias(target) => return target.answer(out).map(|()| false).map_err(EvalError::from),
        };
        if let Err(error) = &result {
            self.log_failure(error);
        }
        result.map(|()| query.client_dependent)
    }

    /// Runs a script, holding the health checks it registered.
    fn run_script(&self, code: &Arc<str>, query: &mut Query<'_>) -> Result<Vec<String>, EvalError> {
        let mut checks = Vec::new();
        let result = sandbox::run(code, query, &mut checks);
        if !checks.is_empty() {
            let mut held = self.held.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            for check in checks {
                if held.len() < MAX_HELD_CHECKS && !held.iter().any(|known| known.id() == check.id()) {
                    held.push(check);
                }
            }
            if held.len() >= MAX_HELD_CHECKS {
                self.env.checks_full.store(true, Ordering::Relaxed);
            }
        }
        result
    }

    /// Counts a failure and logs it, at most once a minute per record.
    fn log_failure(&self, error: &EvalError) {
        FAILURES.fetch_add(1, Ordering::Relaxed);
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let last = self.last_logged.load(Ordering::Relaxed);
        if now >= last + 60
            && self
                .last_logged
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(
                zone = %self.env.apex,
                owner = %self.env.owner,
                rtype = %types::type_to_string(self.env.rtype),
                %error,
                "LUA record failed; answering SERVFAIL"
            );
        }
    }
}

fn write_output(call: &Call, output: Output, rtype: u16, out: &mut Vec<u8>) -> Result<(), EvalError> {
    let mut push_candidate = |index: usize| {
        let candidate = &call.candidates[index];
        match &candidate.rdata {
            Some(rdata) => {
                list::push(out, rdata);
                Ok(())
            }
            None => push_text(rtype, &candidate.text, out),
        }
    };
    match output {
        Output::One(index) => push_candidate(index),
        Output::Many(indexes) => indexes.into_iter().try_for_each(push_candidate),
        Output::All => (0..call.candidates.len()).try_for_each(push_candidate),
        Output::Text(text) => push_text(rtype, &text, out),
        Output::Bool(value) => push_text(rtype, if value { "true" } else { "false" }, out),
    }
}

fn push_text(rtype: u16, text: &str, out: &mut Vec<u8>) -> Result<(), EvalError> {
    let rdata = candidate::to_rdata(rtype, text).map_err(|reason| EvalError::Result {
        text: text.to_string(),
        rtype: types::type_to_string(rtype),
        reason,
    })?;
    list::push(out, &rdata);
    Ok(())
}

/// LUA evaluations that failed since the process started. Failures are
/// rare, so one shared counter costs nothing on the answer path.
static FAILURES: AtomicU64 = AtomicU64::new(0);

/// How many LUA evaluations failed, for `/metrics`.
pub fn failures() -> u64 {
    FAILURES.load(Ordering::Relaxed)
}

/// The programs of one zone snapshot, by owner.
#[derive(Default)]
pub struct ZonePrograms {
    /// The ALIAS targets the programs read, held while the snapshot is
    /// served.
    alias_targets: Vec<Arc<alias::Target>>,
    /// Lowercased owner wire name to the programs of its LUA RRset, in
    /// the RRset's order.
    by_owner: HashMap<Box<[u8]>, Box<[Program]>, foldhash::fast::RandomState>,
}

impl ZonePrograms {
    /// Compiles the LUA records of `zone` when `lua` is given, and its
    /// ALIAS records when `aliases` is. Records that do not compile
    /// (stored before a check existed, or by another writer) fail their
    /// queries and are logged here.
    pub fn compile(zone: &Zone, lua: Option<&Runtime>, aliases: Option<&Aliases>) -> Arc<ZonePrograms> {
        let mut by_owner = HashMap::default();
        let mut alias_targets = Vec::new();
        for node in zone.nodes() {
            let owner = || Name::from_wire(node.name_wire()).unwrap_or_else(|_| Name::root());
            let mut programs = Vec::new();
            if let (Some(runtime), Some(rrset)) = (lua, node.rrset(types::LUA)) {
                let owner = owner();
                programs.extend(rrset.rdata().map(|rdata| {
                    let program = compile_record(zone.apex(), &owner, rdata, runtime);
                    if let Body::Broken(reason) = &program.body {
                        tracing::warn!(zone = %zone.apex(), %owner, %reason, "LUA record does not compile");
                    }
                    program
                }));
            }
            if let (Some(aliases), Some(rrset)) = (aliases, node.rrset(types::ALIAS)) {
                let owner = owner();
                for rdata in rrset.rdata() {
                    let Ok(target) = Name::from_wire(rdata) else {
                        continue;
                    };
                    for rtype in [types::A, types::AAAA] {
                        let target = aliases.target(&target.to_string(), rtype);
                        alias_targets.push(target.clone());
                        programs.push(Program {
                            env: Arc::new(Env::new(rtype, zone.apex(), &owner, &Runtime::default())),
                            body: Body::Alias(target),
                            held: Mutex::new(Vec::new()),
                            last_logged: AtomicU64::new(0),
                        });
                    }
                }
            }
            if !programs.is_empty() {
                by_owner.insert(node.name_wire().into(), programs.into_boxed_slice());
            }
        }
        let programs = Arc::new(ZonePrograms {
            alias_targets,
            by_owner,
        });
        programs.register_script_checks(zone.apex());
        programs
    }

    /// The ALIAS targets the zone's programs read.
    pub fn alias_targets(&self) -> &[Arc<alias::Target>] {
        &self.alias_targets
    }

    /// Runs every script once, as a query from 0.0.0.0 would, so that the
    /// health checks it calls are registered (and probing) before the
    /// first query, held by the snapshot. Checks on branches this run does
    /// not take are registered, and held, when a query first takes them.
    fn register_script_checks(self: &Arc<Self>, apex: &Name) {
        let client = Client::anonymous();
        for (owner, programs) in &self.by_owner {
            for program in programs.iter() {
                let Body::Script(code) = &program.body else {
                    continue;
                };
                if program.env.rtype == types::LUA || program.env.health.is_none() {
                    continue;
                }
                let mut query = Query {
                    env: &program.env,
                    qname: owner,
                    client: &client,
                    programs: self,
                    client_dependent: false,
                };
                if let Err(error) = program.run_script(code, &mut query) {
                    tracing::debug!(zone = %apex, owner = %program.env.owner, %error, "script failed when loaded");
                }
            }
        }
    }

    /// What the programs answer now, for a client that tells nothing
    /// about itself: each owner (lowercased wire name) with the types its
    /// programs produce and the RDATA list of each. A type whose programs
    /// fail now is left out. Zone transfers send these to servers that do
    /// not run LUA or ALIAS records.
    pub fn current_answers(self: &Arc<Self>) -> Vec<(&[u8], u16, Vec<u8>)> {
        let client = Client::anonymous();
        let mut answers = Vec::new();
        for (owner, programs) in &self.by_owner {
            let mut types: Vec<u16> = programs
                .iter()
                .map(Program::rtype)
                .filter(|&rtype| rtype != types::LUA)
                .collect();
            types.sort_unstable();
            types.dedup();
            for rtype in types {
                let mut rdata = Vec::new();
                let evaluated = programs
                    .iter()
                    .filter(|program| program.rtype() == rtype)
                    .try_for_each(|program| program.evaluate(owner, &client, self, &mut rdata).map(|_| ()));
                if evaluated.is_ok() {
                    answers.push((&owner[..], rtype, rdata));
                }
            }
        }
        answers
    }

    /// Whether the zone has no LUA records.
    pub fn is_empty(&self) -> bool {
        self.by_owner.is_empty()
    }

    /// The owners (lowercased wire names) that have programs.
    pub fn owners(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.by_owner.keys().map(|owner| &owner[..])
    }

    /// The programs at a node (its stored, lowercased name).
    pub fn at(&self, owner: &[u8]) -> &[Program] {
        self.by_owner.get(owner).map_or(&[], |programs| programs)
    }

    /// How many LUA records compiled to each kind: (native, script, broken).
    pub fn counts(&self) -> (usize, usize, usize) {
        let mut counts = (0, 0, 0);
        for program in self.by_owner.values().flat_map(|programs| programs.iter()) {
            match program.body {
                Body::Native(_) => counts.0 += 1,
                Body::Script(_) => counts.1 += 1,
                Body::Broken(_) => counts.2 += 1,
                Body::Alias(_) => {}
            }
        }
        counts
    }
}

/// Splits LUA RDATA (as stored: type, then code) into type and code.
pub fn split_rdata(rdata: &[u8]) -> Option<(u16, &str)> {
    let rtype = u16::from_be_bytes([*rdata.first()?, *rdata.get(1)?]);
    Some((rtype, std::str::from_utf8(&rdata[2..]).ok()?))
}

fn compile_record(apex: &Name, owner: &Name, rdata: &[u8], runtime: &Runtime) -> Program {
    let split = split_rdata(rdata);
    let env = Env::new(split.map_or(0, |(rtype, _)| rtype), apex, owner, runtime);
    let body = match split {
        Some((_, code)) => compile_code(code, &env).unwrap_or_else(Body::Broken),
        None => Body::Broken("LUA code is not UTF-8".into()),
    };
    Program {
        env: Arc::new(env),
        body,
        held: Mutex::new(Vec::new()),
        last_logged: AtomicU64::new(0),
    }
}

/// Compiles code: a literal call natively, anything else for the sandbox
/// after a syntax check.
fn compile_code(code: &str, env: &Env) -> Result<Body, String> {
    if env.rtype == types::LUA {
        // Shared code for include(): run as written, never answered.
        sandbox::check_syntax(code, true)?;
        return Ok(Body::Script(Arc::from(code)));
    }
    if let Some(script) = code.strip_prefix(';') {
        sandbox::check_syntax(script, true)?;
        return Ok(Body::Script(Arc::from(script)));
    }
    match literal::parse_call(code) {
        Ok((function, args)) => match call::compile(&function, &args, env) {
            Ok(call) => {
                check_candidates(&call, env)?;
                Ok(Body::Native(call))
            }
            // include() and the Lua helpers (newCA, ...) are script-only.
            Err(call::CompileError::UnknownFunction(name)) if sandbox::GLOBALS.contains(&name.as_str()) => {
                sandbox::check_syntax(code, false)?;
                Ok(Body::Script(Arc::from(format!("return {code}"))))
            }
            Err(error) => Err(error.to_string()),
        },
        Err(Shape::Syntax(error)) => Err(format!("syntax error: {error}")),
        Err(Shape::NotLiteral) => {
            sandbox::check_syntax(code, false)?;
            Ok(Body::Script(Arc::from(format!("return {code}"))))
        }
    }
}

/// A literal candidate that is not content of the record's type can
/// never be answered: refuse it now rather than fail queries later.
fn check_candidates(call: &Call, env: &Env) -> Result<(), String> {
    let returns_candidates = !matches!(
        call.kind,
        call::Kind::Netmask(_) | call::Kind::GeoMatch(..) | call::Kind::FilterForward(..)
    );
    if !returns_candidates || env.rtype == types::LUA {
        return Ok(());
    }
    match call.candidates.iter().find(|candidate| candidate.rdata.is_none()) {
        Some(candidate) => Err(format!(
            "{:?} is not {} content",
            candidate.text,
            types::type_to_string(env.rtype)
        )),
        None => Ok(()),
    }
}

/// Checks one LUA record as an import would: syntax, known functions,
/// argument shapes, URLs, ports and options. Nothing is registered.
pub fn check_record(apex: &Name, owner: &Name, rdata: &[u8]) -> Result<(), String> {
    let (rtype, code) = split_rdata(rdata).ok_or("LUA code is not UTF-8")?;
    compile_code(code, &Env::new(rtype, apex, owner, &Runtime::default())).map(drop)
}
