//! The Lua sandbox for LUA records that are more than one literal call.
//!
//! Each worker thread keeps one Lua state: the `table`, `string`, `math`
//! and `utf8` libraries and the record functions, and nothing that
//! reaches outside the process (no `io`, `os`, `require`, `debug`, no
//! `load`/`dofile`, so no bytecode either). Every evaluation runs in a
//! fresh global table that falls back to the shared one, so nothing
//! persists between queries, under an instruction budget and the state's
//! memory limit.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use mlua::{
    Function, HookTriggers, Lua, LuaOptions, MetaMethod, MultiValue, StdLib, Table, UserData, UserDataMethods,
    Value as LuaValue, VmState,
};

use super::call::{self, Output};
use super::literal::{self, Value};
use super::netmask::Netmask;
use super::{random, Client, Env, EvalError, Query, ZonePrograms};
use crate::health::Check;
use crate::name::Name;
use crate::zone::types;

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

/// Compiled scripts kept per worker; more than this starts the cache over.
const MAX_SCRIPTS: usize = 4096;

/// Tables nested deeper than this are refused when read from Lua.
const MAX_DEPTH: usize = 16;

thread_local! {
    static SANDBOX: RefCell<Option<Sandbox>> = const { RefCell::new(None) };
}

struct Sandbox {
    lua: Lua,
    /// The shared globals each evaluation's environment falls back to.
    globals: Table,
    scripts: HashMap<Arc<str>, Function>,
}

/// What the record functions need to know about the running evaluation.
struct Current {
    env: Arc<Env>,
    qname: Vec<u8>,
    client: Client,
    programs: Arc<ZonePrograms>,
    environment: Table,
    client_dependent: Cell<bool>,
    /// The health checks the evaluation's calls registered.
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

/// Runs a script for one query; returns the texts it produced.
pub fn run(code: &Arc<str>, query: &mut Query<'_>) -> Result<Vec<String>, EvalError> {
    run_collecting(code, query, &mut Vec::new())
}

/// Like [`run`], also handing back the health checks the script's calls
/// registered. The loader runs each script once this way when it builds a
/// snapshot, so the checks a script uses exist (and are probing) before
/// the first query, and the snapshot keeps them.
pub fn run_collecting(
    code: &Arc<str>,
    query: &mut Query<'_>,
    checks: &mut Vec<Check>,
) -> Result<Vec<String>, EvalError> {
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
        for name in ["dofile", "loadfile", "load", "require", "collectgarbage", "print"] {
            globals.raw_set(name, LuaValue::Nil)?;
        }
        if let Ok(string) = globals.raw_get::<Table>("string") {
            string.raw_set("dump", LuaValue::Nil)?;
        }
        for &name in call::FUNCTIONS {
            globals.raw_set(name, record_function(&lua, name)?)?;
        }
        register_helpers(&lua, &globals)?;
        lua.set_memory_limit(memory_limit)?;
        Ok(Sandbox {
            lua,
            globals,
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
        if limit > 0 {
            self.lua
                .set_hook(HookTriggers::new().every_nth_instruction(limit), |_, _| {
                    Err::<VmState, _>(mlua::Error::runtime("script took too long"))
                });
        }
        // The functions read the query through app data, which must be
        // 'static: hand them an owned copy of what they need.
        self.lua.set_app_data(Current {
            env: query.env.clone(),
            qname: query.qname.to_vec(),
            client: *query.client,
            programs: query.programs.clone(),
            environment,
            client_dependent: Cell::new(false),
            checks: RefCell::new(Vec::new()),
        });
        let result = function.call::<LuaValue>(());
        self.lua.remove_hook();
        if let Some(current) = self.lua.remove_app_data::<Current>() {
            query.client_dependent |= current.client_dependent.get();
            *checks = current.checks.into_inner();
        }
        if reads_client(code) {
            query.client_dependent = true;
        }
        let texts = result.map_err(script_error).and_then(|value| result_texts(&value));
        if texts.is_err() {
            // A script that ran out of memory leaves garbage behind.
            let _ = self.lua.gc_collect();
        }
        texts
    }

    /// A fresh global table for one evaluation, with the preset variables.
    fn environment(&self, query: &Query<'_>) -> mlua::Result<Table> {
        let lua = &self.lua;
        let environment = lua.create_table()?;
        let fallback = lua.create_table()?;
        fallback.raw_set("__index", self.globals.clone())?;
        environment.set_metatable(Some(fallback));
        let client = query.client;
        environment.raw_set("qname", LuaName(query.qname_text()))?;
        environment.raw_set("zone", LuaName(query.env.apex.to_string().to_ascii_lowercase()))?;
        environment.raw_set("zoneid", 0)?;
        environment.raw_set("who", LuaAddress(client.who))?;
        environment.raw_set("localwho", LuaAddress(client.local))?;
        environment.raw_set("bestwho", LuaAddress(SocketAddr::new(client.bestwho(), 0)))?;
        match client.subnet {
            Some(subnet) => environment.raw_set(
                "ecswho",
                LuaNetmasks(vec![(
                    format!("{}/{}", subnet.address, subnet.source_prefix),
                    format!("{}/{}", subnet.address, subnet.source_prefix)
                        .parse()
                        .unwrap_or_else(|_| "0.0.0.0/0".parse().expect("valid")),
                )]),
            )?,
            None => environment.raw_set("ecswho", LuaValue::Nil)?,
        }
        environment.raw_set("dnssecOK", client.dnssec_ok)?;
        environment.raw_set("tcp", client.tcp)?;
        environment.raw_set("ednsPKTSize", client.edns_size)?;
        Ok(environment)
    }
}

/// Whether code reads the client's address directly (`who`, `bestwho`,
/// `ecswho`): its answers then depend on the client, whatever it returns.
fn reads_client(code: &str) -> bool {
    code.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .any(|word| matches!(word, "who" | "bestwho" | "ecswho"))
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
fn result_texts(value: &LuaValue) -> Result<Vec<String>, EvalError> {
    match value {
        LuaValue::Table(table) => table
            .clone()
            .sequence_values::<LuaValue>()
            .map(|item| {
                let item = item.map_err(script_error)?;
                scalar(&item).ok_or_else(|| EvalError::Script("a returned list holds a non-string".into()))
            })
            .collect(),
        other => scalar(other)
            .map(|text| vec![text])
            .ok_or_else(|| EvalError::Script(format!("returned {}, not a string or a list", other.type_name()))),
    }
}

fn scalar(value: &LuaValue) -> Option<String> {
    match value {
        LuaValue::String(text) => Some(text.to_string_lossy()),
        LuaValue::Integer(n) => Some(n.to_string()),
        LuaValue::Number(n) => Some(n.to_string()),
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
/// and runs the call as the native path does.
fn record_function(lua: &Lua, name: &'static str) -> mlua::Result<Function> {
    lua.create_function(move |lua, args: MultiValue| {
        let args = args
            .iter()
            .map(|arg| to_value(arg, 0))
            .collect::<Result<Vec<Value>, String>>()
            .map_err(|error| mlua::Error::runtime(format!("{name}(): {error}")))?;
        let current = lua
            .app_data_ref::<Current>()
            .ok_or_else(|| mlua::Error::runtime("no query is being answered"))?;
        let compiled =
            call::compile(name, &args, &current.env).map_err(|error| mlua::Error::runtime(error.to_string()))?;
        let mut query = current.query();
        let output = compiled
            .run(&mut query)
            .map_err(|error| mlua::Error::runtime(format!("{name}(): {error}")))?;
        if query.client_dependent {
            current.client_dependent.set(true);
        }
        current.checks.borrow_mut().extend(compiled.checks().iter().cloned());
        let text = |index: usize| lua.create_string(&*compiled.candidates[index].text);
        Ok(match output {
            Output::One(index) => LuaValue::String(text(index)?),
            Output::Many(indexes) => {
                let table = lua.create_table()?;
                for index in indexes {
                    table.push(text(index)?)?;
                }
                LuaValue::Table(table)
            }
            Output::All => {
                let table = lua.create_table()?;
                for index in 0..compiled.candidates.len() {
                    table.push(text(index)?)?;
                }
                LuaValue::Table(table)
            }
            Output::Text(value) => LuaValue::String(lua.create_string(&value)?),
            Output::Bool(value) => LuaValue::Boolean(value),
        })
    })
}

/// A Lua value as a literal, for compiling a call.
fn to_value(value: &LuaValue, depth: usize) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err("tables nest too deep".into());
    }
    Ok(match value {
        LuaValue::Nil => Value::Nil,
        LuaValue::Boolean(b) => Value::Bool(*b),
        LuaValue::Integer(n) => Value::Number(*n as f64),
        LuaValue::Number(n) => Value::Number(*n),
        LuaValue::String(text) => Value::Str(text.to_string_lossy()),
        LuaValue::Table(table) => {
            let mut out = literal::Table::default();
            let length = table.raw_len();
            for index in 1..=length {
                let item: LuaValue = table.raw_get(index).map_err(|error| error.to_string())?;
                out.items.push(to_value(&item, depth + 1)?);
            }
            for pair in table.clone().pairs::<LuaValue, LuaValue>() {
                let (key, item) = pair.map_err(|error| error.to_string())?;
                if let LuaValue::Integer(index) = key {
                    if index >= 1 && index as usize <= length {
                        continue;
                    }
                }
                out.keyed
                    .push((to_value(&key, depth + 1)?, to_value(&item, depth + 1)?));
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
            match lua.app_data_ref::<Current>() {
                Some(current) => tracing::info!(owner = %current.env.owner, "{message}"),
                None => tracing::info!("{message}"),
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
            if codes.iter().any(|code| reads_client(code)) {
                current.client_dependent.set(true);
            }
            drop(current);
            for code in codes {
                // As in PowerDNS, a failing include is logged, not fatal.
                let result = lua
                    .load(&*code)
                    .set_name(label.as_str())
                    .set_mode(mlua::ChunkMode::Text)
                    .set_environment(environment.clone())
                    .exec();
                if let Err(error) = result {
                    tracing::info!(%label, error = %first_line(&error.to_string()), "include failed");
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
        methods.add_method("isPartOf", |_, this, other: LuaValue| {
            let other = scalar(&other).unwrap_or_default().to_ascii_lowercase();
            let this = this.0.to_ascii_lowercase();
            Ok(other == "." || this == other || this.ends_with(&format!(".{other}")))
        });
        methods.add_meta_method(MetaMethod::ToString, |_, this, ()| Ok(this.0.clone()));
        methods.add_meta_method(MetaMethod::Eq, |_, this, other: LuaValue| {
            Ok(scalar(&other).is_some_and(|other| other.eq_ignore_ascii_case(&this.0)))
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
        methods.add_method("match", |_, this, address: LuaValue| {
            let address = scalar(&address).and_then(|text| text.parse::<IpAddr>().ok());
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
