"""Renders the Helm chart with Helm's own engine (PyPI helm-python-sdk),
lints it, and validates every manifest against the Kubernetes schemas
(PyPI kubernetes-validate).

Usage: chart_render.py CHART_DIR VALUES_FILE|- KUBE_VERSION

Prints one JSON object: the lint report, each manifest's kind, name and
validation result, the rendered pooldns.toml and the container's
environment.
"""

import json
import sys

import helm_python as helm
import kubernetes_validate
import yaml

# Kinds of the Prometheus operator's CRDs, which the Kubernetes schemas
# do not hold.
CRD_GROUPS = ("monitoring.coreos.com/",)


def main():
    chart_dir, values_file, kube_version = sys.argv[1:4]
    values = {}
    if values_file != "-":
        with open(values_file) as file:
            values = yaml.safe_load(file) or {}
    report = {"lint": helm.lint(chart_dir, values, strict=True, kube_version=f"v{kube_version}")}
    chart = helm.Chart.load(chart_dir)
    chart.validate_schema(values)
    rendered = chart.render(values, name="pooldns", namespace="dns", is_install=True)
    manifests, config, env = [], None, None
    for path, text in sorted(rendered.items()):
        if path.endswith("NOTES.txt"):
            continue
        for doc in yaml.safe_load_all(text):
            if not doc:
                continue
            entry = {"kind": doc.get("kind"), "name": doc.get("metadata", {}).get("name"), "api": doc.get("apiVersion")}
            if doc.get("apiVersion", "").startswith(CRD_GROUPS):
                entry["validated"] = "custom resource"
            else:
                try:
                    entry["validated"] = kubernetes_validate.validate(doc, kube_version, strict=True)
                except Exception as error:  # the report says which manifest failed and why
                    entry["error"] = f"{type(error).__name__}: {error}"
            manifests.append(entry)
            if doc.get("kind") == "ConfigMap" and "pooldns.toml" in doc.get("data", {}):
                config = doc["data"]["pooldns.toml"]
            if doc.get("kind") in ("Deployment", "StatefulSet"):
                env = doc["spec"]["template"]["spec"]["containers"][0].get("env", [])
    report.update(manifests=manifests, config=config, env=env)
    json.dump(report, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
