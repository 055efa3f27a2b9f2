//! PowerDNS's JSON shapes: the zone object, RRsets, and the PATCH body
//! turned into one change set.

use std::collections::BTreeMap;

use base::name::Name;
use base::{rdata, types};
use serde_json::{json, Map, Value};

use crate::change::{soa_serial, Removal, SerialPolicy};
use crate::store::{StoredRecord, ZoneSummary};

/// A PowerDNS-style error: status and message.
pub type Refusal = (u16, String);

/// PowerDNS's name for a serial policy (SOA-EDIT-API).
pub fn soa_edit_api(policy: &str) -> &'static str {
    match SerialPolicy::from_stored(policy) {
        SerialPolicy::Increment => "INCREASE",
        SerialPolicy::Date => "DEFAULT",
        SerialPolicy::Epoch => "EPOCH",
    }
}

/// The serial policy of a SOA-EDIT-API value.
pub fn serial_policy(soa_edit_api: &str) -> Result<SerialPolicy, Refusal> {
    match soa_edit_api.to_ascii_uppercase().as_str() {
        "" | "DEFAULT" | "INCEPTION-INCREMENT" => Ok(SerialPolicy::Date),
        "INCREASE" => Ok(SerialPolicy::Increment),
        "EPOCH" => Ok(SerialPolicy::Epoch),
        other => Err((422, format!("Unsupported SOA-EDIT-API kind '{other}'"))),
    }
}

/// The zone object (without `rrsets`).
pub fn zone_object(summary: &ZoneSummary) -> Map<String, Value> {
    let serial = soa_serial(&summary.soa).unwrap_or(0);
    let mut zone = Map::new();
    zone.insert("id".into(), json!(summary.name));
    zone.insert("name".into(), json!(summary.name));
    zone.insert("type".into(), json!("Zone"));
    zone.insert(
        "url".into(),
        json!(format!("/api/v1/servers/localhost/zones/{}", summary.name)),
    );
    zone.insert("kind".into(), json!("Native"));
    zone.insert("serial".into(), json!(serial));
    zone.insert("edited_serial".into(), json!(serial));
    zone.insert("notified_serial".into(), json!(0));
    zone.insert("masters".into(), json!([]));
    zone.insert("dnssec".into(), json!(summary.secured));
    zone.insert("nsec3param".into(), json!(""));
    zone.insert("nsec3narrow".into(), json!(false));
    zone.insert("presigned".into(), json!(false));
    zone.insert("soa_edit".into(), json!(""));
    zone.insert("soa_edit_api".into(), json!(soa_edit_api(&summary.serial_policy)));
    zone.insert("api_rectify".into(), json!(false));
    zone.insert("account".into(), json!(""));
    zone.insert("catalog".into(), json!(""));
    zone.insert("master_tsig_key_ids".into(), json!([]));
    zone.insert("slave_tsig_key_ids".into(), json!([]));
    zone
}

/// Records grouped into RRsets, by name then type.
pub fn rrsets(records: &[StoredRecord], name: Option<&str>, rtype: Option<&str>) -> Vec<Value> {
    let mut sets: BTreeMap<(String, String), (i64, Vec<Value>)> = BTreeMap::new();
    for record in records {
        let owner = record.name.to_ascii_lowercase();
        let kind = record.rtype.to_ascii_uppercase();
        if name.is_some_and(|wanted| !wanted.eq_ignore_ascii_case(&owner))
            || rtype.is_some_and(|wanted| !wanted.eq_ignore_ascii_case(&kind))
        {
            continue;
        }
        let entry = sets.entry((owner, kind)).or_insert((record.ttl, Vec::new()));
        entry.0 = entry.0.min(record.ttl);
        entry.1.push(json!({ "content": record.content, "disabled": false }));
    }
    sets.into_iter()
        .map(|((name, rtype), (ttl, records))| {
            json!({ "name": name, "type": rtype, "ttl": ttl, "records": records, "comments": [] })
        })
        .collect()
}

/// What a PATCH asks for, checked: removals, additions, and whether it
/// names the SOA.
pub struct Patch {
    pub remove: Vec<Removal>,
    pub add: Vec<StoredRecord>,
}

/// Reads a PATCH body's `rrsets` against zone `apex`. Errors name the
/// offending RRset, as PowerDNS's do.
pub fn patch(body: &Value, apex: &Name, lua_enabled: bool) -> Result<Patch, Refusal> {
    let sets = body
        .get("rrsets")
        .and_then(Value::as_array)
        .ok_or((422, "No rrsets given in update request".to_string()))?;
    let mut patch = Patch {
        remove: Vec::new(),
        add: Vec::new(),
    };
    let mut seen = std::collections::HashSet::new();
    for set in sets {
        let text = |key: &str| {
            set.get(key)
                .and_then(Value::as_str)
                .ok_or((422, format!("Key '{key}' not present or not a String")))
        };
        let name = text("name")?.to_ascii_lowercase();
        let rtype = text("type")?.to_ascii_uppercase();
        let changetype = text("changetype")?.to_ascii_uppercase();
        let label = format!("RRset {name} IN {rtype}");
        if !name.ends_with('.') {
            return Err((422, format!("{label}: Name '{name}' is not canonical")));
        }
        let owner = Name::parse(&name, None).map_err(|error| (422, format!("{label}: {error}")))?;
        if !owner.to_lowercase().ends_with(&apex.to_lowercase()) {
            return Err((422, format!("{label}: Name is out of zone")));
        }
        let code = types::type_from_str(&rtype).ok_or((422, format!("{label}: Unknown type '{rtype}'")))?;
        if code == types::SOA {
            return Err((
                422,
                format!("{label}: the SOA is managed by the server (its serial follows soa_edit_api)"),
            ));
        }
        if code == types::LUA && !lua_enabled {
            return Err((
                422,
                format!("{label}: LUA records are disabled on this server ([lua] enabled = false)"),
            ));
        }
        if !seen.insert((name.clone(), rtype.clone())) {
            return Err((422, format!("Duplicate RRset {name} IN {rtype}")));
        }
        let records = || -> Result<Vec<StoredRecord>, Refusal> {
            let ttl = set
                .get("ttl")
                .and_then(Value::as_u64)
                .filter(|ttl| *ttl <= i32::MAX as u64)
                .ok_or((422, format!("{label}: Key 'ttl' not present or not an Integer")))?;
            let list = set
                .get("records")
                .and_then(Value::as_array)
                .ok_or((422, format!("{label}: Key 'records' not present or not an Array")))?;
            let mut out: Vec<StoredRecord> = Vec::new();
            for record in list {
                if record.get("disabled").and_then(Value::as_bool) == Some(true) {
                    // Disabled records are not served; pooldns does not keep them.
                    continue;
                }
                let content = record
                    .get("content")
                    .and_then(Value::as_str)
                    .ok_or((422, format!("{label}: Key 'content' not present or not a String")))?;
                let wire = rdata::parse_rdata_text(code, content, apex).map_err(|error| {
                    (
                        422,
                        format!("Record {name}/{rtype} '{content}': Parsing record content: {error}"),
                    )
                })?;
                let canonical = rdata::format_rdata(code, &wire).map_err(|error| (422, error.to_string()))?;
                if out.iter().any(|other| other.content == canonical) {
                    return Err((422, format!("Duplicate record in {label} with content \"{content}\"")));
                }
                out.push(StoredRecord {
                    name: name.clone(),
                    rtype: rtype.clone(),
                    ttl: ttl as i64,
                    content: canonical,
                });
            }
            Ok(out)
        };
        match changetype.as_str() {
            "REPLACE" => {
                patch.remove.push(Removal::RRset {
                    name: name.clone(),
                    rtype: rtype.clone(),
                });
                patch.add.extend(records()?);
            }
            "DELETE" => patch.remove.push(Removal::RRset {
                name: name.clone(),
                rtype: rtype.clone(),
            }),
            "EXTEND" => patch.add.extend(records()?),
            "PRUNE" => patch.remove.extend(records()?.into_iter().map(Removal::Record)),
            other => return Err((422, format!("Changetype '{other}' not understood"))),
        }
    }
    Ok(patch)
}
