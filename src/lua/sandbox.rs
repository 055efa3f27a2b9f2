//! The Lua sandbox for LUA records that are more than one literal call.
//!
//! Each worker thread keeps one Lua state with the `table`, `string`,
//! `math` and `utf8` libraries and the record functions, and nothing that
//! reaches outside the process: no `io`, `os`, `require`, `debug`,
//! coroutines, `load`/`dofile` (so no bytecode), `collectgarbage`.
//!
//! Nothing a script does survives it: every evaluation runs in a fresh
//! global table (also its `_G`) whose misses fall through to the shared
//! functions; the libraries are read-only proxies, the string metatable
//! is hidden, and `rawset` is gone. Nothing stops it early either: `pcall`
//! and `xpcall` are gone, so the instruction budget's error always ends
//! the evaluation, and metatables cannot carry `__gc` or `__close`, whose
//! handlers would run outside the budget (see [`fixed_setmetatable`]).
//! Once the budget is spent every further instruction fails.
//! Pattern functions refuse subjects and patterns large enough to
//! backtrack for long inside one instruction, and `string.rep` and
//! `table.concat` results larger than [`super::guards::MAX_STRING`].

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base::name::Name;
use base::types;
use mlua::{
    Function, HookTriggers, IntoLua, Lua, LuaOptions, MetaMethod, MultiValue, StdLib, Table, UserData, UserDataMethods,
    Value as LuaValue, VmState,
};

use super::call::{self, Call};
use super::candidate::Output;
use super::guards::{bounded_concat, bounded_pattern_function, bounded_rep, fixed_setmetatable, read_only};
use super::literal::{self, Value};
use super::{random, Client, Env, EvalError, Query, ZonePrograms};
use crate::health::Check;
use base::netmask::Netmask;

/// Names the sandbox defines besides the record functions.
pub const GLOBALS: &[&str] = &[
    "include",
    "newCA",
    "newCAFromRaw",
    "newNMG",
    "newDN",
    "pdnslog",
    "pdnsrandom",
];

/// Compiled scripts kept per worker; more start the cache over.
const MAX_SCRIPTS: usize = 512;

/// Compiled record-function calls kept per worker.
const MAX_CALLS: usize = 1024;

/// Tables nested deeper than this are refused when read from Lua.
const MAX_DEPTH: usize = 16;

/// Longest argument text whose compiled call is cached; longer calls are
/// compiled each time rather than fill the cache with large keys.
const MAX_CALL_KEY: usize = 4096;

/// Values (table entries included) one call's arguments may hold.
const MAX_VALUES: usize = 10_000;

/// With `exec_limit = 0`, how long an evaluation may run, checked every
/// [`UNLIMITED_CHECK`] instructions.
const UNLIMITED_DEADLINE: Duration = Duration::from_secs(1);
const UNLIMITED_CHECK: u32 = 100_000;

/// Log lines one evaluation may write, and their length.
const MAX_LOG_LINES: u32 = 8;
const MAX_LOG_BYTES: usize = 512;

thread_local! {
    static SANDBOX: RefCell<Option<Sandbox>> = const { RefCell::new(None) };
}

struct Sandbox {
    lua: Lua,
    /// The metatable of every evaluation's global table.
    environment_meta: Table,
    scripts: HashMap<Arc<str>, Function>,
}

/// Calls compiled from scripts, by the record they run for and their
/// arguments, so a script does not recompile (or re-register the checks
/// of) the same call on every query. Held in the state's app data.
#[derive(Default)]
struct CallCache(HashMap<CallKey, (Arc<Env>, Rc<Call>)>);

/// The record's environment (by address; the entry keeps it alive), the
/// function and its arguments as text.
type CallKey = (usize, &'static str, String);

/// What the record functions need to know about the running evaluation.
struct Current {
    env: Arc<Env>,
    qname: Vec<u8>,
    client: Client,
    programs: Arc<ZonePrograms>,
    environment: Table,
    started: Instant,
    client_dependent: Cell<bool>,
    /// The budget ran out; nothing may carry on.
    exceeded: Cell<bool>,
    logged: Cell<u32>,
    /// Health checks of calls compiled during this evaluation.
    checks: RefCell<Vec<Check>>,
}

impl Current {
    fn query(&self) -> Query<'_> {
        Query {
            env: &self.env,
            qname: &self.qname,
            client: &self.client,
            programs: &self.programs,
            client_dependent: false,
        }
    }
}

/// Runs a script for one query; returns the texts it produced, and adds
/// to `checks` the health checks its calls registered for the first time
/// on this worker.
pub fn run(code: &Arc<str>, query: &mut Query<'_>, checks: &mut Vec<Check>) -> Result<Vec<String>, EvalError> {
    SANDBOX.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(Sandbox::new(query.env.settings.memory_limit).map_err(script_error)?);
        }
        let sandbox = slot.as_mut().expect("created above");
        sandbox.run(code, query, checks)
    })
}

/// Checks that `code` compiles: as a chunk, or as an expression.
pub fn check_syntax(code: &str, chunk: bool) -> Result<(), String> {
    let lua = Lua::new_with(StdLib::NONE, LuaOptions::new()).map_err(|error| error.to_string())?;
    let source = if chunk {
        code.to_string()
    } else {
        format!("return {code}")
    };
    lua.load(source)
        .set_name("record")
        .set_mode(mlua::ChunkMode::Text)
        .into_function()
        .map(drop)
        .map_err(|error| format!("syntax error: {}", first_line(&error.to_string())))
}

impl Sandbox {
    fn new(memory_limit: usize) -> mlua::Result<Sandbox> {
        let lua = Lua::new_with(
            StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::UTF8,
            LuaOptions::new(),
        )?;
        let globals = lua.globals();
        for name in [
            "dofile",
            "loadfile",
            "load",
            "require",
            "collectgarbage",
            "print",
            "rawset",
            "pcall",
            "xpcall",
        ] {
            globals.raw_set(name, LuaValue::Nil)?;
        }
        let string: Table = globals.raw_get("string")?;
        string.raw_set("dump", LuaValue::Nil)?;
        for name in ["find", "match", "gmatch", "gsub"] {
            let original: Function = string.raw_get(name)?;
            string.raw_set(name, bounded_pattern_function(&lua, name, original)?)?;
        }
        let original: Function = string.raw_get("rep")?;
        string.raw_set("rep", bounded_rep(&lua, original)?)?;
        let table: Table = globals.raw_get("table")?;
        let original: Function = table.raw_get("concat")?;
        table.raw_set("concat", bounded_concat(&lua, original)?)?;
        globals.raw_set("setmetatable", fixed_setmetatable(&lua)?)?;
        // The string metatable leads to the real string library: point it
        // at the read-only proxy and hide it from getmetatable.
        let string_meta: Table = lua.load("return getmetatable('')").eval()?;
        for name in ["string", "table", "math", "utf8"] {
            let library: Table = globals.raw_get(name)?;
            let proxy = read_only(&lua, library)?;
            if name == "string" {
                string_meta.raw_set("__index", proxy.clone())?;
                string_meta.raw_set("__metatable", false)?;
            }
            globals.raw_set(name, proxy)?;
        }
        for &name in call::FUNCTIONS {
            globals.raw_set(name, record_function(&lua, name)?)?;
        }
        register_helpers(&lua, &globals)?;
        let environment_meta = lua.create_table()?;
        environment_meta.raw_set("__index", global_lookup(&lua, globals)?)?;
        environment_meta.raw_set("__metatable", false)?;
        lua.set_app_data(CallCache::default());
        lua.set_memory_limit(memory_limit)?;
        Ok(Sandbox {
            lua,
            environment_meta,
            scripts: HashMap::new(),
        })
    }

    fn run(
        &mut self,
        code: &Arc<str>,
        query: &mut Query<'_>,
        checks: &mut Vec<Check>,
    ) -> Result<Vec<String>, EvalError> {
        let function = match self.scripts.get(code) {
            Some(function) => function.clone(),
            None => {
                let function = self
                    .lua
                    .load(&**code)
                    .set_name("record")
                    .set_mode(mlua::ChunkMode::Text)
                    .into_function()
                    .map_err(script_error)?;
                if self.scripts.len() >= MAX_SCRIPTS {
                    self.scripts.clear();
                }
                self.scripts.insert(code.clone(), function.clone());
                function
            }
        };
        let environment = self.environment(query).map_err(script_error)?;
        function.set_environment(environment.clone()).map_err(script_error)?;
        let limit = query.env.settings.exec_limit;
        // The functions read the query through app data, which must be
        // 'static: hand them an owned copy of what they need.
        self.lua.set_app_data(Current {
            env: query.env.clone(),
            qname: query.qname.to_vec(),
            client: *query.client,
            programs: query.programs.clone(),
            environment,
            started: Instant::now(),
            client_dependent: Cell::new(false),
            exceeded: Cell::new(false),
            logged: Cell::new(0),
            checks: RefCell::new(Vec::new()),
        });
        let every = if limit > 0 { limit } else { UNLIMITED_CHECK };
        self.lua
            .set_hook(HookTriggers::new().every_nth_instruction(every), move |lua, _| {
                let Some(current) = lua.app_data_ref::<Current>() else {
                    return Ok(VmState::Continue);
                };
                if limit > 0 || current.started.elapsed() > UNLIMITED_DEADLINE {
                    current.exceeded.set(true);
                    // The error unwinds through `__close` handlers, which
                    // would start a fresh count (and may open more of
                    // themselves): from now on every instruction fails.
                    lua.set_hook(HookTriggers::new().every_nth_instruction(1), |_, _| {
                        Err(mlua::Error::runtime("script took too long"))
                    });
                    return Err(mlua::Error::runtime("script took too long"));
                }
                Ok(VmState::Continue)
            });
        let result = function
            .call::<LuaValue>(())
            .map_err(script_error)
            .and_then(|value| result_texts(&self.lua, &value));
        self.lua.remove_hook();
        if let Some(current) = self.lua.remove_app_data::<Current>() {
            query.client_dependent |= current.client_dependent.get();
            checks.extend(current.checks.into_inner());
        }
        if result.is_err() {
            // An evaluation that ran out of memory leaves garbage, and the
            // cached scripts may be what fills the state.
            if self.lua.used_memory() > query.env.settings.memory_limit / 2 {
                self.scripts.clear();
                if let Some(mut calls) = self.lua.app_data_mut::<CallCache>() {
                    calls.0.clear();
                }
            }
            let _ = self.lua.gc_collect();
        }
        result
    }

    /// A fresh global table for one evaluation, with the preset variables
    /// (`who`, `bestwho` and `ecswho` are looked up through
    /// [`global_lookup`], which notes that the answer depends on them).
    fn environment(&self, query: &Query<'_>) -> mlua::Result<Table> {
        let lua = &self.lua;
        let environment = lua.create_table()?;
        environment.set_metatable(Some(self.environment_meta.clone()));
        environment.raw_set("_G", environment.clone())?;
        environment.raw_set("qname", LuaName(query.qname_text()))?;
        environment.raw_set("zone", LuaName(query.env.apex.to_string().to_ascii_lowercase()))?;
        environment.raw_set("zoneid", 0)?;
        environment.raw_set("localwho", LuaAddress(query.client.local))?;
        environment.raw_set("dnssecOK", query.client.dnssec_ok)?;
        environment.raw_set("tcp", query.client.tcp)?;
        environment.raw_set("ednsPKTSize", query.client.edns_size)?;
        Ok(environment)
    }
}

/// The `__index` of every evaluation's globals: the shared functions, and
/// the client's addresses, whose reading makes the answer client-dependent
/// (for the ECS scope).
fn global_lookup(lua: &Lua, globals: Table) -> mlua::Result<Function> {
    lua.create_function(move |lua, (_, key): (LuaValue, LuaValue)| {
        let client_variable = match &key {
            LuaValue::String(name) => match &*name.as_bytes() {
                b"who" => Some(0),
                b"bestwho" => Some(1),
                b"ecswho" => Some(2),
                _ => None,
            },
            _ => None,
        };
        let Some(variable) = client_variable else {
            return globals.raw_get::<LuaValue>(key);
        };
        let Some(current) = lua.app_data_ref::<Current>() else {
            return Ok(LuaValue::Nil);
        };
        current.client_dependent.set(true);
        let client = current.client;
        drop(current);
        match variable {
            0 => LuaAddress(client.who).into_lua(lua),
            1 => LuaAddress(SocketAddr::new(client.bestwho(), 0)).into_lua(lua),
            _ => match client.subnet {
                Some(subnet) => {
                    let text = format!("{}/{}", subnet.address, subnet.source_prefix);
                    let mut group = LuaNetmasks(Vec::new());
                    group.add(&text)?;
                    group.into_lua(lua)
                }
                None => Ok(LuaValue::Nil),
            },
        }
    })
}

fn script_error(error: mlua::Error) -> EvalError {
    let text = match &error {
        mlua::Error::MemoryError(_) => "script ran out of memory".to_string(),
        mlua::Error::CallbackError { cause, .. } => first_line(&cause.to_string()).to_string(),
        other => first_line(&other.to_string()).to_string(),
    };
    EvalError::Script(text)
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text)
}

/// What a script returned, as record texts.
fn result_texts(lua: &Lua, value: &LuaValue) -> Result<Vec<String>, EvalError> {
    match value {
        LuaValue::Table(table) => table
            .clone()
            .sequence_values::<LuaValue>()
            .map(|item| {
                let item = item.map_err(script_error)?;
                scalar(lua, &item).ok_or_else(|| EvalError::Script("a returned list holds a non-string".into()))
            })
            .collect(),
        other => scalar(lua, other)
            .map(|text| vec![text])
            .ok_or_else(|| EvalError::Script(format!("returned {}, not a string or a list", other.type_name()))),
    }
}

/// A returned value as text: strings, numbers as Lua prints them,
/// booleans, names and addresses.
fn scalar(lua: &Lua, value: &LuaValue) -> Option<String> {
    match value {
        LuaValue::String(text) => Some(text.to_string_lossy()),
        LuaValue::Integer(_) | LuaValue::Number(_) => lua
            .coerce_string(value.clone())
            .ok()
            .flatten()
            .map(|text| text.to_string_lossy()),
        LuaValue::Boolean(b) => Some(b.to_string()),
        LuaValue::UserData(data) => {
            if let Ok(name) = data.borrow::<LuaName>() {
                Some(name.0.clone())
            } else if let Ok(address) = data.borrow::<LuaAddress>() {
                Some(address.0.ip().to_string())
            } else {
                None
            }
        }
        _ => None,
    }
}

/// A record function callable from Lua: converts the arguments, compiles
/// the call (once per record and arguments on this worker) and runs it as
/// the native path does.
fn record_function(lua: &Lua, name: &'static str) -> mlua::Result<Function> {
    lua.create_function(move |lua, args: MultiValue| {
        let mut budget = MAX_VALUES;
        let args = args
            .iter()
            .map(|arg| to_value(arg, 0, &mut budget))
            .collect::<Result<Vec<Value>, String>>()
            .map_err(|error| mlua::Error::runtime(format!("{name}(): {error}")))?;
        let current = lua
            .app_data_ref::<Current>()
            .ok_or_else(|| mlua::Error::runtime("no query is being answered"))?;
        let key = (Arc::as_ptr(&current.env) as usize, name, format!("{args:?}"));
        let cached = lua
            .app_data_ref::<CallCache>()
            .and_then(|cache| cache.0.get(&key).map(|(_, compiled)| compiled.clone()));
        let compiled = match cached {
            Some(compiled) => compiled,
            None => {
                let compiled = Rc::new(
                    call::compile(name, &args, &current.env)
                        .map_err(|error| mlua::Error::runtime(error.to_string()))?,
                );
                current.checks.borrow_mut().extend(compiled.checks().iter().cloned());
                let cache = lua.app_data_mut::<CallCache>().filter(|_| key.2.len() <= MAX_CALL_KEY);
                if let Some(mut cache) = cache {
                    if cache.0.len() >= MAX_CALLS {
                        cache.0.clear();
                    }
                    cache.0.insert(key, (current.env.clone(), compiled.clone()));
                }
                compiled
            }
        };
        let mut query = current.query();
        let output = compiled
            .run(&mut query)
            .map_err(|error| mlua::Error::runtime(format!("{name}(): {error}")))?;
        if query.client_dependent {
            current.client_dependent.set(true);
        }
        let text = |index: usize| lua.create_string(&*compiled.candidates[index].text);
        let list = |indexes: &mut dyn Iterator<Item = usize>| -> mlua::Result<LuaValue> {
            let table = lua.create_table()?;
            for index in indexes {
                table.push(text(index)?)?;
            }
            Ok(LuaValue::Table(table))
        };
        Ok(match output {
            Output::One(index) => LuaValue::String(text(index)?),
            Output::Many(indexes) => list(&mut indexes.into_iter())?,
            Output::All => list(&mut (0..compiled.candidates.len()))?,
            Output::Text(value) => LuaValue::String(lua.create_string(&value)?),
            Output::Bool(value) => LuaValue::Boolean(value),
        })
    })
}

/// A Lua value as a literal, for compiling a call; at most `budget`
/// values in all, however the tables share and nest.
fn to_value(value: &LuaValue, depth: usize, budget: &mut usize) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err("tables nest too deep".into());
    }
    *budget = budget.checked_sub(1).ok_or("arguments hold too many values")?;
    Ok(match value {
        LuaValue::Nil => Value::Nil,
        LuaValue::Boolean(b) => Value::Bool(*b),
        LuaValue::Integer(n) => Value::Number(*n as f64),
        LuaValue::Number(n) => Value::Number(*n),
        LuaValue::String(text) => Value::Str(text.to_string_lossy()),
        LuaValue::Table(table) => {
            let mut out = literal::Table::default();
            let length = table.raw_len();
            if length > *budget {
                return Err("arguments hold too many values".into());
            }
            for index in 1..=length {
                let item: LuaValue = table.raw_get(index).map_err(|error| error.to_string())?;
                out.items.push(to_value(&item, depth + 1, budget)?);
            }
            for pair in table.clone().pairs::<LuaValue, LuaValue>() {
                let (key, item) = pair.map_err(|error| error.to_string())?;
                if let LuaValue::Integer(index) = key {
                    if index >= 1 && index as usize <= length {
                        continue;
                    }
                }
                out.keyed
                    .push((to_value(&key, depth + 1, budget)?, to_value(&item, depth + 1, budget)?));
            }
            Value::Table(out)
        }
        LuaValue::UserData(data) => {
            if let Ok(masks) = data.borrow::<LuaNetmasks>() {
                let items = masks.0.iter().map(|(text, _)| Value::Str(text.clone())).collect();
                Value::Call(
                    "newNMG".into(),
                    vec![Value::Table(literal::Table { items, keyed: vec![] })],
                )
            } else if let Ok(name) = data.borrow::<LuaName>() {
                Value::Str(name.0.clone())
            } else if let Ok(address) = data.borrow::<LuaAddress>() {
                Value::Str(address.0.ip().to_string())
            } else {
                return Err("unsupported userdata argument".into());
            }
        }
        other => return Err(format!("unsupported {} argument", other.type_name())),
    })
}

/// The helpers PowerDNS scripts use besides the record functions.
fn register_helpers(lua: &Lua, globals: &Table) -> mlua::Result<()> {
    globals.raw_set(
        "newCA",
        lua.create_function(|_, text: String| {
            let address = text
                .parse::<SocketAddr>()
                .or_else(|_| text.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 0)))
                .map_err(|_| mlua::Error::runtime(format!("{text:?} is not an address")))?;
            Ok(LuaAddress(address))
        })?,
    )?;
    globals.raw_set(
        "newCAFromRaw",
        lua.create_function(|_, (raw, port): (mlua::String, Option<u16>)| {
            let raw = raw.as_bytes();
            let ip = match raw.len() {
                4 => IpAddr::from(<[u8; 4]>::try_from(&raw[..]).expect("length checked")),
                16 => IpAddr::from(<[u8; 16]>::try_from(&raw[..]).expect("length checked")),
                n => {
                    return Err(mlua::Error::runtime(format!(
                        "a raw address has 4 or 16 octets, not {n}"
                    )))
                }
            };
            Ok(LuaAddress(SocketAddr::new(ip, port.unwrap_or(0))))
        })?,
    )?;
    globals.raw_set(
        "newNMG",
        lua.create_function(|_, masks: Option<Vec<String>>| {
            let mut group = LuaNetmasks(Vec::new());
            for mask in masks.unwrap_or_default() {
                group.add(&mask)?;
            }
            Ok(group)
        })?,
    )?;
    globals.raw_set(
        "newDN",
        lua.create_function(|_, text: String| {
            let name = Name::parse(&text, Some(&Name::root()))
                .map_err(|error| mlua::Error::runtime(format!("{text:?}: {error}")))?;
            Ok(LuaName(name.to_string()))
        })?,
    )?;
    globals.raw_set(
        "pdnslog",
        lua.create_function(|lua, (message, _level): (String, Option<i64>)| {
            if let Some(current) = lua.app_data_ref::<Current>() {
                if current.logged.get() < MAX_LOG_LINES {
                    current.logged.set(current.logged.get() + 1);
                    let message = truncated(&message, MAX_LOG_BYTES);
                    tracing::info!(owner = %current.env.owner, "{message}");
                }
            }
            Ok(())
        })?,
    )?;
    globals.raw_set(
        "pdnsrandom",
        lua.create_function(|_, below: Option<u32>| {
            Ok(match below {
                Some(0) | None => random::next_u32(),
                Some(n) => random::below(n as usize) as u32,
            })
        })?,
    )?;
    globals.raw_set(
        "include",
        lua.create_function(|lua, label: String| {
            let current = lua
                .app_data_ref::<Current>()
                .ok_or_else(|| mlua::Error::runtime("no query is being answered"))?;
            let owner = Name::parse(&label, Some(&current.env.apex))
                .map_err(|error| mlua::Error::runtime(format!("include({label:?}): {error}")))?
                .to_lowercase();
            let environment = current.environment.clone();
            let codes: Vec<Arc<str>> = current
                .programs
                .at(owner.as_wire())
                .iter()
                .filter(|program| program.rtype() == types::LUA)
                .filter_map(|program| program.script().cloned())
                .collect();
            drop(current);
            for code in codes {
                let result = lua
                    .load(&*code)
                    .set_name(label.as_str())
                    .set_mode(mlua::ChunkMode::Text)
                    .set_environment(environment.clone())
                    .exec();
                let Err(error) = result else {
                    continue;
                };
                // As in PowerDNS a failing include is logged, not fatal;
                // but running out of time or memory ends the evaluation.
                let exhausted = matches!(error, mlua::Error::MemoryError(_))
                    || lua
                        .app_data_ref::<Current>()
                        .is_some_and(|current| current.exceeded.get());
                if exhausted {
                    return Err(error);
                }
                if let Some(current) = lua.app_data_ref::<Current>() {
                    if current.logged.get() < MAX_LOG_LINES {
                        current.logged.set(current.logged.get() + 1);
                        let error = truncated(first_line(&error.to_string()), MAX_LOG_BYTES).to_string();
                        tracing::info!(%label, %error, "include failed");
                    }
                }
            }
            Ok(())
        })?,
    )?;
    let attributes = lua.create_table()?;
    for (index, name) in [
        "ASn",
        "City",
        "Continent",
        "Country",
        "Country2",
        "Name",
        "Region",
        "Location",
    ]
    .into_iter()
    .enumerate()
    {
        attributes.raw_set(name, index)?;
    }
    globals.raw_set("GeoIPQueryAttribute", attributes)?;
    Ok(())
}

/// `text` cut to at most `max` bytes, at a character boundary.
fn truncated(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// A DNS name (`qname`, `zone`, `newDN`), as text with the trailing dot.
struct LuaName(String);

impl UserData for LuaName {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_method("toString", |_, this, ()| Ok(this.0.clone()));
        methods.add_method("toStringNoDot", |_, this, ()| {
            Ok(this
                .0
                .strip_suffix('.')
                .filter(|s| !s.is_empty())
                .unwrap_or(&this.0)
                .to_string())
        });
        methods.add_method("countLabels", |_, this, ()| {
            Ok(this
                .0
                .trim_end_matches('.')
                .split('.')
                .filter(|l| !l.is_empty())
                .count())
        });
        methods.add_method("isPartOf", |lua, this, other: LuaValue| {
            let other = scalar(lua, &other).unwrap_or_default().to_ascii_lowercase();
            let this = this.0.to_ascii_lowercase();
            Ok(other == "." || this == other || this.ends_with(&format!(".{other}")))
        });
        methods.add_meta_method(MetaMethod::ToString, |_, this, ()| Ok(this.0.clone()));
        methods.add_meta_method(MetaMethod::Eq, |lua, this, other: LuaValue| {
            Ok(scalar(lua, &other).is_some_and(|other| other.eq_ignore_ascii_case(&this.0)))
        });
    }
}

/// An address (`who`, `bestwho`, `newCA`), as PowerDNS's ComboAddress.
struct LuaAddress(SocketAddr);

impl UserData for LuaAddress {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_method("toString", |_, this, ()| Ok(this.0.ip().to_string()));
        methods.add_method("toStringWithPort", |_, this, ()| Ok(this.0.to_string()));
        methods.add_method("getPort", |_, this, ()| Ok(this.0.port()));
        methods.add_method("isIPv4", |_, this, ()| Ok(this.0.is_ipv4()));
        methods.add_method("isIPv6", |_, this, ()| Ok(this.0.is_ipv6()));
        methods.add_method("getRaw", |lua, this, ()| {
            lua.create_string(match this.0.ip() {
                IpAddr::V4(v4) => v4.octets().to_vec(),
                IpAddr::V6(v6) => v6.octets().to_vec(),
            })
        });
        methods.add_meta_method(MetaMethod::ToString, |_, this, ()| Ok(this.0.ip().to_string()));
    }
}

/// A netmask group (`newNMG`, `ecswho`).
struct LuaNetmasks(Vec<(String, Netmask)>);

impl LuaNetmasks {
    fn add(&mut self, text: &str) -> mlua::Result<()> {
        let mask = text
            .parse::<Netmask>()
            .map_err(|_| mlua::Error::runtime(format!("{text:?} is not a netmask")))?;
        self.0.push((text.to_string(), mask));
        Ok(())
    }
}

impl UserData for LuaNetmasks {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_method_mut("addMask", |_, this, text: String| this.add(&text));
        methods.add_method("match", |lua, this, address: LuaValue| {
            let address = scalar(lua, &address).and_then(|text| text.parse::<IpAddr>().ok());
            Ok(address.is_some_and(|address| this.0.iter().any(|(_, mask)| mask.contains(address))))
        });
        methods.add_method("toString", |_, this, ()| {
            Ok(this
                .0
                .iter()
                .map(|(text, _)| text.as_str())
                .collect::<Vec<_>>()
                .join(" "))
        });
        methods.add_meta_method(MetaMethod::ToString, |_, this, ()| {
            Ok(this
                .0
                .iter()
                .map(|(text, _)| text.as_str())
                .collect::<Vec<_>>()
                .join(" "))
        });
    }
}
