//! PowerDNS's JSON shapes: the zone object, RRsets with their comments,
//! and the PATCH body turned into one change set.

use std::collections::BTreeMap;

use base::name::Name;
use base::{rdata, types};
use serde_json::{json, Map, Value};

use crate::change::{soa_serial, Removal, SerialPolicy};
use crate::store::{DnssecSettings, StoredComment, StoredRecord, ZoneSummary};

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

/// The values of metadata `kind`, none when it is not set.
pub fn metadata_values<'a>(metadata: &'a [(String, Vec<String>)], kind: &str) -> &'a [String] {
    metadata
        .iter()
        .find(|(known, _)| known == kind)
        .map_or(&[], |(_, values)| values)
}

/// The `nsec3param` of a zone: "" unless it is secured with NSEC3, whose
/// parameters here are always RFC 9276's (SHA-1, no extra iterations, no
/// salt), with the opt-out flag as set.
pub fn nsec3param(dnssec: Option<&DnssecSettings>) -> String {
    match dnssec {
        Some(settings) if settings.denial == "nsec3" => format!("1 {} 0 -", u8::from(settings.nsec3_opt_out)),
        _ => String::new(),
    }
}

/// The denial of an `nsec3param` value: "" for NSEC; NSEC3 only with
/// RFC 9276's parameters (SHA-1, no extra iterations, no salt), the
/// opt-out flag as given.
pub fn denial(nsec3param: &str) -> Result<DnssecSettings, Refusal> {
    let fields: Vec<&str> = nsec3param.split_whitespace().collect();
    match fields[..] {
        [] => Ok(DnssecSettings {
            denial: "nsec".into(),
            nsec3_opt_out: false,
        }),
        ["1", flags @ ("0" | "1"), "0", "-" | ""] => Ok(DnssecSettings {
            denial: "nsec3".into(),
            nsec3_opt_out: flags == "1",
        }),
        _ => Err((
            422,
            format!(
                "NSEC3PARAM '{nsec3param}' is not supported: NSEC3 here is '1 0 0 -' or, with opt-out, '1 1 0 -' (RFC 9276: no extra iterations, no salt)"
            ),
        )),
    }
}

/// The zone object (without `rrsets`); `metadata` as stored.
pub fn zone_object(summary: &ZoneSummary, metadata: &[(String, Vec<String>)]) -> Map<String, Value> {
    let serial = soa_serial(&summary.soa).unwrap_or(0);
    let mut zone = Map::new();
    zone.insert("id".into(), json!(summary.name));
    zone.insert("name".into(), json!(summary.name));
    zone.insert("type".into(), json!("Zone"));
    zone.insert(
        "url".into(),
        json!(format!("/api/v1/servers/localhost/zones/{}", summary.name)),
    );
    let kind = if summary.primaries.is_empty() {
        "Native"
    } else {
        "Slave"
    };
    zone.insert("kind".into(), json!(kind));
    zone.insert("serial".into(), json!(serial));
    zone.insert("edited_serial".into(), json!(serial));
    zone.insert("notified_serial".into(), json!(0));
    zone.insert("masters".into(), json!(summary.primaries));
    zone.insert("dnssec".into(), json!(summary.dnssec.is_some()));
    zone.insert("nsec3param".into(), json!(nsec3param(summary.dnssec.as_ref())));
    zone.insert("nsec3narrow".into(), json!(false));
    zone.insert("presigned".into(), json!(false));
    let soa_edit = metadata_values(metadata, "SOA-EDIT")
        .first()
        .cloned()
        .unwrap_or_default();
    zone.insert("soa_edit".into(), json!(soa_edit));
    zone.insert("soa_edit_api".into(), json!(soa_edit_api(&summary.serial_policy)));
    let api_rectify = metadata_values(metadata, "API-RECTIFY") == ["1"];
    zone.insert("api_rectify".into(), json!(api_rectify));
    zone.insert("account".into(), json!(""));
    zone.insert("catalog".into(), json!(""));
    zone.insert(
        "master_tsig_key_ids".into(),
        json!(metadata_values(metadata, "TSIG-ALLOW-AXFR")),
    );
    zone.insert(
        "slave_tsig_key_ids".into(),
        json!(summary.primary_tsig.iter().collect::<Vec<_>>()),
    );
    zone
}

/// Records grouped into RRsets with their comments, by name then type.
/// An RRset with comments but no records is listed with none (TTL 0), as
/// PowerDNS lists it.
pub fn rrsets(
    records: &[StoredRecord],
    comments: &[StoredComment],
    name: Option<&str>,
    rtype: Option<&str>,
) -> Vec<Value> {
    #[derive(Default)]
    struct Set {
        ttl: Option<i64>,
        records: Vec<Value>,
        comments: Vec<Value>,
    }
    let wanted = |owner: &str, kind: &str| {
        name.is_none_or(|wanted| wanted.eq_ignore_ascii_case(owner))
            && rtype.is_none_or(|wanted| wanted.eq_ignore_ascii_case(kind))
    };
    let mut sets: BTreeMap<(String, String), Set> = BTreeMap::new();
    for record in records {
        let owner = record.name.to_ascii_lowercase();
        let kind = record.rtype.to_ascii_uppercase();
        if !wanted(&owner, &kind) {
            continue;
        }
        let set = sets.entry((owner, kind)).or_default();
        set.ttl = Some(set.ttl.map_or(record.ttl, |ttl| ttl.min(record.ttl)));
        set.records
            .push(json!({ "content": record.content, "disabled": false }));
    }
    for comment in comments {
        if !wanted(&comment.name, &comment.rtype) {
            continue;
        }
        let set = sets.entry((comment.name.clone(), comment.rtype.clone())).or_default();
        set.comments.push(json!({
            "content": comment.content,
            "account": comment.account,
            "modified_at": comment.modified_at,
        }));
    }
    sets.into_iter()
        .map(|((name, rtype), set)| {
            json!({ "name": name, "type": rtype, "ttl": set.ttl.unwrap_or(0), "records": set.records, "comments": set.comments })
        })
        .collect()
}

/// The `comments` of a PATCH RRset, when it has the key: PowerDNS's rules
/// (`content` and `account` strings, `modified_at` defaulting to now).
fn comments(
    set: &Value,
    name: &str,
    rtype: &str,
    label: &str,
    now: i64,
) -> Result<Option<Vec<StoredComment>>, Refusal> {
    let Some(list) = set.get("comments") else {
        return Ok(None);
    };
    let list = list
        .as_array()
        .ok_or((422, format!("{label}: Key 'comments' is not an Array")))?;
    list.iter()
        .map(|comment| {
            let text = |key: &str| {
                comment
                    .get(key)
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .ok_or((422, format!("Key '{key}' not present or not a String")))
            };
            Ok(StoredComment {
                name: name.to_string(),
                rtype: rtype.to_string(),
                content: text("content")?,
                account: text("account")?,
                modified_at: comment.get("modified_at").and_then(Value::as_i64).unwrap_or(now),
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// What a PATCH asks for, checked: removals, additions, and whether it
/// names the SOA.
pub struct Patch {
    pub remove: Vec<Removal>,
    pub add: Vec<StoredRecord>,
    /// RRsets whose comments change: (name, type, the new comments).
    pub comments: Vec<(String, String, Vec<StoredComment>)>,
}

/// Reads a PATCH body's `rrsets` against zone `apex`. Errors name the
/// offending RRset, as PowerDNS's do.
pub fn patch(body: &Value, apex: &Name, lua_enabled: bool, now: i64) -> Result<Patch, Refusal> {
    let sets = body
        .get("rrsets")
        .and_then(Value::as_array)
        .ok_or((422, "No rrsets given in update request".to_string()))?;
    let mut patch = Patch {
        remove: Vec::new(),
        add: Vec::new(),
        comments: Vec::new(),
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
        let new_comments = comments(set, &name, &rtype, &label, now)?;
        match changetype.as_str() {
            // Without `records`, only the comments change.
            "REPLACE" if set.get("records").is_none() && new_comments.is_some() => {}
            "REPLACE" => {
                patch.remove.push(Removal::RRset {
                    name: name.clone(),
                    rtype: rtype.clone(),
                });
                patch.add.extend(records()?);
            }
            "DELETE" => {
                patch.remove.push(Removal::RRset {
                    name: name.clone(),
                    rtype: rtype.clone(),
                });
                patch.comments.push((name.clone(), rtype.clone(), Vec::new()));
            }
            "EXTEND" => patch.add.extend(records()?),
            "PRUNE" => patch.remove.extend(records()?.into_iter().map(Removal::Record)),
            other => return Err((422, format!("Changetype '{other}' not understood"))),
        }
        if let Some(new_comments) = new_comments.filter(|_| changetype != "DELETE") {
            patch.comments.push((name.clone(), rtype.clone(), new_comments));
        }
    }
    Ok(patch)
}
