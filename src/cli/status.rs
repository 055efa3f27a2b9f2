//! `pooldns status`: a running server summarised from its API — readiness,
//! zones, health checks that are down, rollovers in progress, the store.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};

use super::Output;
use crate::config::Config;

/// One sample of `/metrics`: the labels and the value.
type Samples = BTreeMap<String, Vec<(BTreeMap<String, String>, f64)>>;

/// Asks the server the configuration describes, at `[api] listen` (a
/// wildcard address is asked on loopback), and prints what it says.
pub async fn status(config: &Config, output: Output) -> anyhow::Result<()> {
    let mut address = config.api.listen;
    if address.ip().is_unspecified() {
        address.set_ip(if address.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    let mut client = reqwest::Client::builder().timeout(Duration::from_secs(5));
    let scheme = match &config.api.tls_cert_file {
        // The server's own certificate is the one to trust.
        Some(cert) => {
            let pem = std::fs::read(cert).map_err(|error| anyhow::anyhow!("{}: {error}", cert.display()))?;
            client = client.add_root_certificate(reqwest::Certificate::from_pem(&pem)?);
            "https"
        }
        None => "http",
    };
    let client = client.build()?;
    let base = format!("{scheme}://{address}");
    let key = config.api_keys()?.into_iter().next().map(|key| key.secret);
    let get = |path: &str| {
        let mut request = client.get(format!("{base}{path}"));
        if let Some(key) = &key {
            request = request.header("X-API-Key", key.expose());
        }
        request.send()
    };
    let ready = get("/readyz").await.map_err(|error| {
        anyhow::anyhow!("no pooldns answers at {base}: {error} (is `pooldns serve` running with this configuration?)")
    })?;
    let ready_ok = ready.status().is_success();
    let readiness = ready.text().await?.trim().to_string();
    let metrics = parse_metrics(&get("/metrics").await?.error_for_status()?.text().await?);
    let checks: Value = match get("/api/v1/health-checks").await?.error_for_status() {
        Ok(response) => response.json().await?,
        Err(error) => anyhow::bail!("{base}/api/v1/health-checks: {error} (does the configuration hold the API key?)"),
    };
    let value = |name: &str| -> f64 {
        metrics
            .get(name)
            .map_or(0.0, |samples| samples.iter().map(|s| s.1).sum())
    };
    let down: Vec<Value> = checks["checks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|check| check["status"] == "down" && check["in_use"] == true)
        .map(|check| json!({ "target": check["target"], "last_error": check["last_error"] }))
        .collect();
    let by_status = |status: &str| -> f64 {
        metrics.get("pooldns_health_checks").map_or(0.0, |samples| {
            samples
                .iter()
                .filter(|(labels, _)| labels.get("status").map(String::as_str) == Some(status))
                .map(|sample| sample.1)
                .sum()
        })
    };
    let rolls: Vec<Value> = metrics
        .get("pooldns_dnssec_roll")
        .into_iter()
        .flatten()
        .map(|(labels, _)| json!({ "zone": labels.get("zone"), "role": labels.get("role"), "phase": labels.get("phase") }))
        .collect();
    let summary = json!({
        "server": base,
        "ready": ready_ok,
        "readiness": readiness,
        "zones": value("pooldns_zones") as u64,
        "zones_signed": metrics.get("pooldns_dnssec_signatures_expire_seconds").map_or(0, Vec::len),
        "zones_failing": value("pooldns_zones_failed") as u64,
        "records": value("pooldns_records") as u64,
        "store_reachable": value("pooldns_store_reachable") > 0.0,
        "health_checks": { "up": by_status("up") as u64, "down": by_status("down") as u64, "unknown": by_status("unknown") as u64 },
        "checks_down": down,
        "rollovers": rolls,
        "answers": value("pooldns_queries_total") as u64,
    });
    match output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&summary)?),
        Output::Text => print_text(&summary),
    }
    if ready_ok {
        Ok(())
    } else {
        anyhow::bail!("the server is not ready: {readiness}")
    }
}

fn print_text(summary: &Value) {
    let count = |key: &str| summary[key].as_u64().unwrap_or(0);
    println!(
        "server   {} ({})",
        summary["server"].as_str().unwrap_or(""),
        summary["readiness"].as_str().unwrap_or("")
    );
    println!(
        "zones    {} served, {} signed, {} failing to load; {} records",
        count("zones"),
        count("zones_signed"),
        count("zones_failing"),
        count("records")
    );
    let checks = &summary["health_checks"];
    println!(
        "checks   {} up, {} down, {} not probed yet",
        checks["up"], checks["down"], checks["unknown"]
    );
    for check in summary["checks_down"].as_array().into_iter().flatten() {
        println!(
            "  down   {}: {}",
            check["target"].as_str().unwrap_or(""),
            check["last_error"].as_str().unwrap_or("no answer")
        );
    }
    for roll in summary["rollovers"].as_array().into_iter().flatten() {
        println!(
            "rolling  {} {} key, phase {}",
            roll["zone"].as_str().unwrap_or(""),
            roll["role"].as_str().unwrap_or("").to_uppercase(),
            roll["phase"].as_str().unwrap_or("")
        );
    }
    let store = if summary["store_reachable"] == true {
        "reachable"
    } else {
        "UNREACHABLE: answering from the last snapshots, writes fail"
    };
    println!("store    {store}");
    println!("answers  {} since start", count("answers"));
}

/// The samples of a Prometheus text exposition, by metric name.
fn parse_metrics(text: &str) -> Samples {
    let mut samples = Samples::new();
    for line in text.lines().filter(|line| !line.starts_with('#') && !line.is_empty()) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => (name, parse_labels(rest.trim_end_matches('}'))),
            None => (series, BTreeMap::new()),
        };
        samples.entry(name.to_string()).or_default().push((labels, value));
    }
    samples
}

/// `a="x",b="y"` (values escaped as the exposition format escapes them).
fn parse_labels(text: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut rest = text;
    while let Some((name, after)) = rest.split_once("=\"") {
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = after.len();
        while let Some((index, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, other)) => value.push(other),
                    None => {}
                },
                '"' => {
                    end = index + 1;
                    break;
                }
                c => value.push(c),
            }
        }
        labels.insert(name.trim_start_matches(',').to_string(), value);
        rest = &after[end..];
    }
    labels
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_read_back_with_their_labels() {
        let samples = parse_metrics(
            "# HELP m Help.\n# TYPE m gauge\nm{a=\"x\\\"y\\\\z\\nw\",b=\"2\"} 1.5\nm 3\npooldns_zones 4\n",
        );
        assert_eq!(samples["pooldns_zones"], vec![(BTreeMap::new(), 4.0)]);
        let labels: BTreeMap<String, String> = [("a", "x\"y\\z\nw"), ("b", "2")]
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .into();
        assert_eq!(samples["m"], vec![(labels, 1.5), (BTreeMap::new(), 3.0)]);
    }
}
