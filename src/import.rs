//! Moving zones between zone files, records and store rows.
//!
//! An import parses the whole file, checks the whole zone, and only then
//! writes it in one transaction: a file with one bad line imports nothing.

use std::path::Path;
use std::time::Instant;

use base::name::Name;
use base::rdata::{self, RdataError};
use base::types;

use crate::change::{ChangeError, ChangeSet, SerialPolicy, ZoneChange};
use crate::lua;
use crate::store::{RowTexts, Store, StoredRecord};
use crate::zone::check::ZoneProblem;
use crate::zone::file::{self, ZoneFileError};
use crate::zone::{check_zone, Record, ZoneError};

/// Why a zone file could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{0}")]
    Parse(#[from] ZoneFileError),
    #[error("{file}:{line}: {error}")]
    CheckAt {
        file: String,
        line: usize,
        error: ZoneError,
    },
    #[error("{file}: {error}")]
    Check { file: String, error: ZoneError },
    #[error("{file}: the file is for zone {found}, not {expected}")]
    WrongOrigin { file: String, found: Name, expected: Name },
    #[error("{0}")]
    Rdata(#[from] RdataError),
    #[error("{0}")]
    Change(#[from] ChangeError),
}

/// Why stored rows do not make a zone.
#[derive(Debug, thiserror::Error)]
pub enum RowError {
    #[error("record {name} {rtype}: {message}")]
    Invalid {
        name: String,
        rtype: String,
        message: String,
    },
    #[error("{0}")]
    Check(#[from] ZoneError),
}

/// Reads, checks and stores the zone in `path`: a new zone with
/// `serial_policy`, or with `replace` the new content of an existing one
/// (only the difference is written and journalled). Returns the zone's
/// name and its number of records. `step` hears what is being done, for
/// a progress display.
pub async fn import_file(
    store: &Store,
    path: &Path,
    zone: Option<&Name>,
    replace: bool,
    serial_policy: SerialPolicy,
    step: &(dyn Fn(String) + Sync),
) -> Result<(Name, usize), ImportError> {
    let file_name = path.display().to_string();
    step("reading".into());
    let text = std::fs::read_to_string(path).map_err(|source| ImportError::Read {
        path: file_name.clone(),
        source,
    })?;
    let started = Instant::now();
    step(format!("parsing and checking {} bytes", text.len()));
    let (apex, records) = parse_and_check(&text, &file_name, zone)?;
    let rows = to_rows(&records)?;
    let parsed = started.elapsed();
    step(format!("storing {} records", records.len()));
    let name = apex.to_lowercase().to_string();
    let exists = replace && store.zone_id(&name).await.is_ok();
    let change = if exists {
        ZoneChange::Replace { records: rows }
    } else {
        ZoneChange::Create {
            records: rows,
            serial_policy,
        }
    };
    ChangeSet::new(name, change, "cli").apply_alone(store).await?;
    tracing::debug!(zone = %apex, records = records.len(), ?parsed, stored = ?started.elapsed() - parsed, "zone file imported");
    Ok((apex, records.len()))
}

/// Parses and checks a zone file without storing it.
pub fn parse_and_check(text: &str, file_name: &str, zone: Option<&Name>) -> Result<(Name, Vec<Record>), ImportError> {
    let (apex, parsed) = file::parse_zone_file(text, file_name, zone)?;
    if let Some(expected) = zone {
        if !apex.eq_ignore_case(expected) {
            return Err(ImportError::WrongOrigin {
                file: file_name.to_string(),
                found: apex,
                expected: expected.clone(),
            });
        }
    }
    let lines: Vec<usize> = parsed.iter().map(|record| record.line).collect();
    let records: Vec<Record> = parsed
        .into_iter()
        .map(|record| Record {
            owner: record.owner,
            ttl: record.ttl,
            rtype: record.rtype,
            rdata: record.rdata,
        })
        .collect();
    check_zone(&apex, &records)
        .and_then(|()| check_lua_records(&apex, &records))
        .map_err(|error| match error.record.and_then(|index| lines.get(index)) {
            Some(&line) => ImportError::CheckAt {
                file: file_name.to_string(),
                line,
                error,
            },
            None => ImportError::Check {
                file: file_name.to_string(),
                error,
            },
        })?;
    Ok((apex, records))
}

/// Records as store rows, in presentation format.
pub fn to_rows(records: &[Record]) -> Result<Vec<StoredRecord>, RdataError> {
    records
        .iter()
        .map(|record| {
            Ok(StoredRecord {
                name: record.owner.to_string(),
                rtype: types::type_to_string(record.rtype),
                ttl: i64::from(record.ttl),
                content: rdata::format_rdata(record.rtype, &record.rdata)?,
            })
        })
        .collect()
}

/// Store rows as records of the zone `apex`, checked as a zone. Each row
/// is freed as it is converted, which keeps the peak memory of loading a
/// large zone near the size of one copy of it; a large zone is converted
/// on every core, in order.
pub fn from_rows(apex: &Name, rows: Vec<StoredRecord>) -> Result<Vec<Record>, RowError> {
    let records = convert_rows(apex, rows, |row| (&row.name, &row.rtype, row.ttl, &row.content))?;
    check_zone(apex, &records)?;
    Ok(records)
}

/// Store rows as records of the zone `apex`, each on its own: the
/// records of a change, not a whole zone to check.
pub fn changed_records(apex: &Name, rows: &[StoredRecord]) -> Result<Vec<Record>, RowError> {
    rows.iter()
        .map(|row| convert_row(apex, (&row.name, &row.rtype, row.ttl, &row.content)))
        .collect()
}

/// One part of a zone's stored rows as records of the zone `apex`, not yet
/// checked as a zone (the caller checks all parts together).
pub fn from_row_texts(apex: &Name, rows: &RowTexts) -> Result<Vec<Record>, RowError> {
    rows.iter().map(|row| convert_row(apex, row)).collect()
}

/// Converts `rows`, each giving (owner, type, TTL, content) through
/// `fields`, on every core for a large zone, keeping their order; the
/// records are not checked as a zone.
fn convert_rows<R: Send>(
    apex: &Name,
    mut rows: Vec<R>,
    fields: fn(&R) -> (&str, &str, i64, &str),
) -> Result<Vec<Record>, RowError> {
    let total = rows.len();
    let convert = |part: Vec<R>| {
        part.into_iter()
            .map(|row| convert_row(apex, fields(&row)))
            .collect::<Result<Vec<Record>, RowError>>()
    };
    // Threads pay off for large zones only; a fleet has many small ones.
    if total < 50_000 {
        return convert(rows);
    }
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let size = total.div_ceil(threads).max(1);
    let mut parts = Vec::with_capacity(threads);
    while rows.len() > size {
        parts.push(rows.split_off(rows.len() - size));
    }
    parts.push(rows);
    parts.reverse();
    let converted: Vec<Result<Vec<Record>, RowError>> = std::thread::scope(|scope| {
        let running: Vec<_> = parts
            .into_iter()
            .map(|part| {
                let convert = &convert;
                scope.spawn(move || convert(part))
            })
            .collect();
        running
            .into_iter()
            .map(|part| part.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    });
    let mut records = Vec::with_capacity(total);
    for part in converted {
        records.extend(part?);
    }
    Ok(records)
}

fn convert_row(apex: &Name, (name, rtype, ttl, content): (&str, &str, i64, &str)) -> Result<Record, RowError> {
    let invalid = |message: String| RowError::Invalid {
        name: name.to_string(),
        rtype: rtype.to_string(),
        message,
    };
    let owner = Name::parse(name, Some(apex)).map_err(|error| invalid(error.to_string()))?;
    let rtype_number = types::type_from_str(rtype).ok_or_else(|| invalid("unknown record type".into()))?;
    let ttl = u32::try_from(ttl).map_err(|_| invalid(format!("TTL {ttl} out of range")))?;
    let rdata = rdata::parse_rdata_text(rtype_number, content, apex).map_err(|error| invalid(error.to_string()))?;
    Ok(Record {
        owner,
        ttl,
        rtype: rtype_number,
        rdata,
    })
}

/// Compiles every LUA record as the server will, so that broken code,
/// unknown functions and bad arguments are refused now rather than
/// answered with SERVFAIL later.
pub fn check_lua_records(apex: &Name, records: &[Record]) -> Result<(), ZoneError> {
    for (index, record) in records.iter().enumerate() {
        if record.rtype != types::LUA {
            continue;
        }
        if let Err(problem) = lua::check_record(apex, &record.owner, &record.rdata) {
            return Err(ZoneError {
                record: Some(index),
                problem: ZoneProblem::Lua {
                    owner: record.owner.clone(),
                    apex: apex.clone(),
                    problem,
                },
            });
        }
    }
    Ok(())
}

/// The zone as a zone file: SOA first, then the records in store order.
pub fn export(apex: &Name, records: &[Record]) -> String {
    let mut out = format!("$ORIGIN {apex}\n");
    let soa = records.iter().filter(|record| record.rtype == types::SOA);
    let rest = records.iter().filter(|record| record.rtype != types::SOA);
    for record in soa.chain(rest) {
        out.push_str(&record.to_line());
        out.push('\n');
    }
    out
}
