//! The standard library functions the sandbox replaces, each bounded so
//! that no single instruction, and nothing that runs outside the
//! instruction count, can keep a worker busy.

use mlua::{Function, Lua, MultiValue, Table, Value as LuaValue};

/// Longest result of `string.rep` and `table.concat`: each is one
/// instruction to the budget, however much it copies.
pub(super) const MAX_STRING: usize = 1 << 20;

/// Longest pattern, and subject, the string pattern functions accept.
const MAX_PATTERN: usize = 256;
const MAX_SUBJECT: usize = 64 * 1024;

/// A table that reads through to `library` and refuses writes.
pub(super) fn read_only(lua: &Lua, library: Table) -> mlua::Result<Table> {
    let proxy = lua.create_table()?;
    let meta = lua.create_table()?;
    meta.raw_set("__index", library)?;
    meta.raw_set(
        "__newindex",
        lua.create_function(|_, _: MultiValue| {
            Err::<(), _>(mlua::Error::runtime("the standard libraries are read-only"))
        })?,
    )?;
    meta.raw_set("__metatable", false)?;
    proxy.set_metatable(Some(meta));
    Ok(proxy)
}

/// A string pattern function that refuses inputs large enough to keep the
/// matcher busy for long within a single instruction.
pub(super) fn bounded_pattern_function(lua: &Lua, name: &'static str, original: Function) -> mlua::Result<Function> {
    lua.create_function(move |_, args: MultiValue| {
        let length = |index: usize| match args.get(index) {
            Some(LuaValue::String(text)) => text.as_bytes().len(),
            _ => 0,
        };
        if length(0) > MAX_SUBJECT || length(1) > MAX_PATTERN {
            return Err(mlua::Error::runtime(format!(
                "string.{name}: subject over {MAX_SUBJECT} or pattern over {MAX_PATTERN} bytes"
            )));
        }
        original.call::<MultiValue>(args)
    })
}

/// `setmetatable` whose metatables take effect as they are when set: the
/// table gets a copy without `__gc` (finalizers would run outside the
/// budget) and `__close` (to-be-closed variables would run while an error
/// unwinds, where no budget applies), and `getmetatable` still answers the
/// script's own table, so changing that later changes nothing.
pub(super) fn fixed_setmetatable(lua: &Lua) -> mlua::Result<Function> {
    lua.create_function(|lua, (table, meta): (Table, Option<Table>)| {
        if let Some(current) = table.metatable() {
            // Our copies point `__metatable` at the script's table; any
            // other value there is the script's own protection.
            let protected = match current.raw_get::<LuaValue>("__metatable")? {
                LuaValue::Table(original) => !original.raw_get::<LuaValue>("__metatable")?.is_nil(),
                LuaValue::Nil => false,
                _ => true,
            };
            if protected {
                return Err(mlua::Error::runtime("cannot change a protected metatable"));
            }
        }
        let Some(meta) = meta else {
            table.set_metatable(None);
            return Ok(table);
        };
        for refused in ["__gc", "__close"] {
            if !meta.raw_get::<LuaValue>(refused)?.is_nil() {
                return Err(mlua::Error::runtime(format!("{refused} metamethods are not allowed")));
            }
        }
        let copy = lua.create_table()?;
        for pair in meta.pairs::<LuaValue, LuaValue>() {
            let (key, value) = pair?;
            copy.raw_set(key, value)?;
        }
        if copy.raw_get::<LuaValue>("__metatable")?.is_nil() {
            copy.raw_set("__metatable", meta)?;
        }
        table.set_metatable(Some(copy));
        Ok(table)
    })
}

/// `string.rep` refusing results over [`MAX_STRING`] before it copies.
pub(super) fn bounded_rep(lua: &Lua, original: Function) -> mlua::Result<Function> {
    lua.create_function(
        move |_, (text, count, separator): (mlua::String, i64, Option<mlua::String>)| {
            let count = u64::try_from(count).unwrap_or(0);
            let piece = text.as_bytes().len() as u64;
            let separator_length = separator
                .as_ref()
                .map_or(0, |separator| separator.as_bytes().len() as u64);
            let total = count
                .saturating_mul(piece)
                .saturating_add(count.saturating_sub(1).saturating_mul(separator_length));
            if total > MAX_STRING as u64 {
                return Err(mlua::Error::runtime(format!(
                    "string.rep: result over {MAX_STRING} bytes"
                )));
            }
            original.call::<LuaValue>((text, count, separator))
        },
    )
}

/// `table.concat` refusing results over [`MAX_STRING`] before it copies.
pub(super) fn bounded_concat(lua: &Lua, original: Function) -> mlua::Result<Function> {
    lua.create_function(move |_, args: MultiValue| {
        if let Some(LuaValue::Table(list)) = args.front() {
            let separator = match args.get(1) {
                Some(LuaValue::String(separator)) => separator.as_bytes().len(),
                _ => 0,
            };
            let first = match args.get(2) {
                Some(LuaValue::Integer(first)) => *first,
                _ => 1,
            };
            let last = match args.get(3) {
                Some(LuaValue::Integer(last)) => *last,
                _ => list.raw_len() as i64,
            };
            let mut total = 0usize;
            let mut index = first;
            while index <= last {
                let length = match list.raw_get::<LuaValue>(index)? {
                    LuaValue::String(text) => text.as_bytes().len(),
                    LuaValue::Integer(_) | LuaValue::Number(_) => 24,
                    // Not concatenable: the original says so.
                    _ => break,
                };
                total = total.saturating_add(length).saturating_add(separator);
                if total > MAX_STRING {
                    return Err(mlua::Error::runtime(format!(
                        "table.concat: result over {MAX_STRING} bytes"
                    )));
                }
                index += 1;
            }
        }
        original.call::<LuaValue>(args)
    })
}
