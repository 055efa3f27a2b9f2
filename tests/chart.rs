//! The Helm chart (`charts/pooldns`) rendered by Helm's own engine (PyPI
//! `helm-python-sdk`): linted, every manifest validated against the
//! Kubernetes schemas (PyPI `kubernetes-validate`), and the configuration
//! it gives the container accepted by `pooldns check-config`.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// The Kubernetes release the manifests are validated against.
const KUBE_VERSION: &str = "1.30.0";

fn chart_dir() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("charts/pooldns")
        .display()
        .to_string()
}

/// Renders the chart with `values` (a file, or `-` for the defaults):
/// the report of tests/data/chart_render.py, or the engine's error.
fn render(values: &str) -> Result<Value, String> {
    let python = testkit::require(
        "chart-python",
        "(none: the Python of a venv with PyPI helm-python-sdk and kubernetes-validate, which .ci/run installs)",
    );
    let output = Command::new(python)
        .arg(testkit::data_path("chart_render.py"))
        .args([&chart_dir(), values, KUBE_VERSION])
        .output()
        .expect("python runs");
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    Ok(serde_json::from_slice(&output.stdout).expect("a JSON report"))
}

/// The chart's manifests for `values`, checked: no lint warning or error,
/// every manifest valid; returns their kinds.
fn valid_manifests(values: &str) -> (Value, BTreeSet<String>) {
    let report = render(values).unwrap_or_else(|error| panic!("{values}: {error}"));
    let lint = &report["lint"];
    assert_eq!(lint["errors"], Value::Array(vec![]), "{values}: {lint}");
    for message in lint["messages"].as_array().expect("messages") {
        assert!(message["severity"].as_u64() < Some(2), "{values}: {message}");
    }
    let mut kinds = BTreeSet::new();
    for manifest in report["manifests"].as_array().expect("manifests") {
        assert!(manifest.get("error").is_none(), "{values}: {manifest}");
        assert!(manifest["validated"].is_string(), "{values}: {manifest}");
        kinds.insert(manifest["kind"].as_str().expect("kind").to_string());
    }
    println!(
        "{values}: {}",
        serde_json::to_string(&report["manifests"]).expect("json")
    );
    (report, kinds)
}

/// Runs `pooldns check-config` on the rendered pooldns.toml with the
/// container's environment, values from Secrets stood in for.
fn check_config(report: &Value) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("pooldns.toml");
    std::fs::write(&config, report["config"].as_str().expect("a pooldns.toml")).expect("write");
    let mut command = Command::new(testkit::pooldns_bin());
    command.args(["check-config", "--config"]).arg(&config).env_clear();
    for variable in report["env"].as_array().expect("env") {
        let name = variable["name"].as_str().expect("name");
        let value = match (&variable["value"], name) {
            (Value::String(value), _) => value.clone(),
            (_, "POOLDNS_STORE_URL") => "postgres://pooldns@db.example.invalid/pooldns".into(),
            (_, "POOLDNS_API_KEY") => "key-from-a-secret".into(),
            _ => panic!("unexpected variable {variable}"),
        };
        command.env(name, value);
    }
    let output = command.output().expect("pooldns runs");
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}{}",
        printed,
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!printed.contains("key-from-a-secret"), "the API key is not printed");
}

#[test]
fn default_values_render_one_node_on_sqlite_that_checks_out() {
    let (report, kinds) = valid_manifests("-");
    assert_eq!(
        kinds,
        ["ConfigMap", "Service", "StatefulSet"].map(String::from).into(),
        "one node, its store on a volume"
    );
    check_config(&report);
}

#[test]
fn example_values_render_and_check_out() {
    let examples = Path::new(&chart_dir()).join("examples");
    let (single, kinds) = valid_manifests(&examples.join("single-node.yaml").display().to_string());
    assert!(kinds.contains("StatefulSet"), "{kinds:?}");
    check_config(&single);
    let (fleet, kinds) = valid_manifests(&examples.join("fleet.yaml").display().to_string());
    for kind in ["Deployment", "PodDisruptionBudget", "NetworkPolicy"] {
        assert!(kinds.contains(kind), "a fleet has a {kind}: {kinds:?}");
    }
    assert!(!kinds.contains("StatefulSet"), "{kinds:?}");
    check_config(&fleet);
}

#[test]
fn every_option_renders_valid_manifests() {
    let (report, kinds) = valid_manifests(&testkit::data_path("chart-values-full.yaml").display().to_string());
    for kind in [
        "Secret",
        "ServiceMonitor",
        "PrometheusRule",
        "NetworkPolicy",
        "PodDisruptionBudget",
    ] {
        assert!(kinds.contains(kind), "{kind}: {kinds:?}");
    }
    check_config(&report);
}

#[test]
fn values_the_chart_cannot_honour_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let refused = |values: &str| {
        let path = dir.path().join("values.yaml");
        std::fs::write(&path, values).expect("write");
        render(&path.display().to_string()).expect_err(values)
    };
    let error = refused("replicaCount: 3\n");
    assert!(error.contains("needs store.postgres"), "{error}");
    let error = refused("dns:\n  containerPrt: 53\n");
    assert!(error.contains("containerPrt"), "{error}");
}
