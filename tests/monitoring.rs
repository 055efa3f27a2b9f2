//! The chart's alert rules and Grafana dashboard ask only for metrics that
//! `/metrics` exposes: a renamed or removed metric breaks this test, not
//! an operator's alerting.

use std::collections::BTreeSet;

use testkit::Pooldns;

/// Every `pooldns_*` name in `text`.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(start) = rest.find("pooldns_") {
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(tail.len());
        names.insert(tail[..end].to_string());
        rest = &tail[end..];
    }
    names
}

/// The series names `/metrics` exposes: every family, with a histogram's
/// `_bucket`, `_sum` and `_count`.
fn exposed(server: &Pooldns) -> BTreeSet<String> {
    let metrics = server.http_get("/metrics").body;
    let mut names = BTreeSet::new();
    for line in metrics.lines() {
        let mut words = line.split_whitespace();
        if let (Some("#"), Some("TYPE"), Some(name), Some(kind)) =
            (words.next(), words.next(), words.next(), words.next())
        {
            names.insert(name.to_string());
            if kind == "histogram" {
                for suffix in ["_bucket", "_sum", "_count"] {
                    names.insert(format!("{name}{suffix}"));
                }
            }
        }
    }
    names
}

#[test]
fn alerts_and_dashboard_use_only_exposed_metrics() {
    let server = Pooldns::start(&testkit::data_path("differential"));
    let exposed = exposed(&server);
    assert!(exposed.contains("pooldns_queries_total"), "{exposed:?}");
    let chart = concat!(env!("CARGO_MANIFEST_DIR"), "/charts/pooldns");
    for file in ["files/alerts.yaml", "dashboards/pooldns.json"] {
        let text = std::fs::read_to_string(format!("{chart}/{file}")).expect(file);
        let used = metric_names(&text);
        assert!(used.len() >= 5, "{file} uses {used:?}");
        let missing: Vec<_> = used.difference(&exposed).collect();
        assert!(
            missing.is_empty(),
            "{file} uses metrics /metrics does not expose: {missing:?}"
        );
        println!("{file}: {} metrics, all exposed: {used:?}", used.len());
    }
}
