//! `search-data` (names, contents and comments matching a pattern) and
//! `statistics` (the counters dashboards read), as PowerDNS shapes them.

use axum::extract::{Path, Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{check_server, PdnsError};
use crate::api::auth::Caller;
use crate::api::AppState;

/// A search pattern (`*` any run, `?` one character, any case) as SQL
/// LIKE, other characters escaped.
fn like(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 2);
    for c in pattern.to_lowercase().chars() {
        match c {
            '*' => out.push('%'),
            '?' => out.push('_'),
            '%' | '_' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// Whether `text` matches the glob `pattern`, any case.
fn glob(pattern: &[char], text: &[char]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some(('*', rest)) => (0..=text.len()).any(|skip| glob(rest, &text[skip..])),
        Some((p, rest)) => text
            .split_first()
            .is_some_and(|(t, others)| (*p == '?' || p == t) && glob(rest, others)),
    }
}

fn matches(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.to_lowercase().chars().collect();
    let text: Vec<char> = text.to_lowercase().chars().collect();
    glob(&pattern, &text)
}

/// `GET /api/v1/servers/localhost/search-data`: zones, records and
/// comments whose name (or content) matches `q`, at most `max` of them,
/// in the zones the caller may read.
pub async fn search_data(
    caller: Caller,
    State(state): State<AppState>,
    Path(server): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, PdnsError> {
    check_server(&server)?;
    // `?q=&max=&object_type=`, read here so that every bad value gets
    // PowerDNS's 422 and its message.
    let param = |name: &str| {
        query
            .iter()
            .rev()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    let q = param("q")
        .filter(|q| !q.trim().is_empty())
        .ok_or_else(|| PdnsError::new(422, "Query q can't be blank"))?
        .to_string();
    let max = match param("max") {
        None => 100,
        Some(text) => text.parse::<i64>().unwrap_or(0),
    };
    if max <= 0 {
        return Err(PdnsError::new(422, "Maximum entries must be larger than 0"));
    }
    let kind = param("object_type").unwrap_or("all");
    if !matches!(kind, "all" | "zone" | "record" | "comment") {
        return Err(PdnsError::new(
            422,
            "object_type must be one of the following options: all, zone, record, comment",
        ));
    }
    let wanted = |object: &str| kind == "all" || kind == object;
    let pattern = like(&q);
    let mut found = Vec::new();
    let zones: Vec<String> = state
        .store
        .zone_summaries()
        .await?
        .into_iter()
        .map(|summary| summary.name)
        .filter(|zone| caller.may_use_zone(zone))
        .collect();
    let full = |found: &Vec<Value>| found.len() as i64 >= max;
    for zone in &zones {
        if wanted("zone") && !full(&found) && matches(&q, zone) {
            found.push(json!({ "object_type": "zone", "name": zone, "zone_id": zone }));
        }
    }
    for zone in &zones {
        if !wanted("record") || full(&found) {
            break;
        }
        let remaining = max - found.len() as i64;
        for record in state.store.search_records(zone, &pattern, remaining).await? {
            found.push(json!({
                "object_type": "record", "name": record.name, "type": record.rtype, "ttl": record.ttl,
                "content": record.content, "disabled": false, "zone": zone, "zone_id": zone,
            }));
        }
    }
    for zone in &zones {
        if !wanted("comment") || full(&found) {
            break;
        }
        for comment in state.store.zone_comments(zone).await? {
            if full(&found) {
                break;
            }
            if matches(&q, &comment.name) || matches(&q, &comment.content) {
                found.push(json!({
                    "object_type": "comment", "name": comment.name, "type": comment.rtype,
                    "content": comment.content, "zone": zone, "zone_id": zone,
                }));
            }
        }
    }
    Ok(Json(Value::Array(found)))
}

/// `?statistic=`.
#[derive(Deserialize)]
pub struct StatisticsQuery {
    statistic: Option<String>,
}

/// `GET /api/v1/servers/localhost/statistics`: the counters pooldns keeps
/// under PowerDNS's names (the same counters `/metrics` exposes).
pub async fn statistics(
    _caller: Caller,
    State(state): State<AppState>,
    Path(server): Path<String>,
    Query(query): Query<StatisticsQuery>,
) -> Result<Json<Value>, PdnsError> {
    check_server(&server)?;
    let totals = state.metrics.totals();
    let by_rcode = |wanted: &str| -> u64 {
        totals
            .queries
            .iter()
            .filter(|(rcode, _, _)| *rcode == wanted)
            .map(|(_, _, count)| count)
            .sum()
    };
    let answered: u64 = totals.queries.iter().map(|(_, _, count)| count).sum();
    let latency_us = if answered == 0 {
        0
    } else {
        (totals.latency_seconds * 1e6 / answered as f64) as u64
    };
    let item = |name: &str, value: u64| json!({ "name": name, "type": "StatisticItem", "value": value.to_string() });
    let map = |name: &str, pick: &dyn Fn(&(&'static str, String, u64)) -> String| {
        let mut counts: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
        for entry in &totals.queries {
            *counts.entry(pick(entry)).or_default() += entry.2;
        }
        let values: Vec<Value> = counts
            .into_iter()
            .map(|(name, count)| json!({ "name": name, "value": count.to_string() }))
            .collect();
        json!({ "name": name, "type": "MapStatisticItem", "value": values })
    };
    let items = vec![
        item("uptime", state.metrics.uptime().as_secs()),
        item("noerror-packets", by_rcode("NOERROR")),
        item("nxdomain-packets", by_rcode("NXDOMAIN")),
        item("servfail-packets", by_rcode("SERVFAIL")),
        item("latency", latency_us),
        map("response-by-qtype", &|entry| entry.1.clone()),
        map("response-by-rcode", &|entry| entry.0.to_string()),
    ];
    match query.statistic {
        None => Ok(Json(Value::Array(items))),
        Some(wanted) => items
            .into_iter()
            .find(|item| item["name"] == wanted.as_str())
            .map(|item| Json(Value::Array(vec![item])))
            .ok_or_else(|| PdnsError::new(422, "Unknown statistic name")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_as_powerdns_reads_them() {
        assert_eq!(like("*.Example?%_"), "%.example_\\%\\_");
        assert!(matches("www*", "www.m.example."));
        assert!(matches("*M.EXAMPLE*", "www.m.example."));
        assert!(matches("192.0.2.?", "192.0.2.1"));
        assert!(!matches("192.0.2.?", "192.0.2.10"));
        assert!(!matches("web", "web server"));
    }
}
