"""Render the Helm chart offline (helm_python, no helm binary, no cluster) and look into
what it renders: documents by kind and name, pod specs, their containers and env."""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import helm_python
import yaml

CHART_DIR = Path(__file__).resolve().parents[2] / "helm" / "relatoria"
PRODUCTION_VALUES = CHART_DIR / "values-production.yaml"
RELEASE = "rel"
NAMESPACE = "reports"
FULLNAME = f"{RELEASE}-relatoria"

POD_TEMPLATE_KINDS = frozenset({"Deployment", "Job", "StatefulSet", "DaemonSet", "CronJob"})
CUSTOM_KINDS = frozenset(
    {"ScaledObject", "TriggerAuthentication", "ServiceMonitor", "PodMonitor", "PrometheusRule"}
)
ALERT_RULES = CHART_DIR / "files" / "relatoria-alerts.yaml"
"""The one rule file: the chart's PrometheusRule carries it, infra/prometheus links to it."""

Doc = dict[str, Any]


def production_values() -> dict[str, Any]:
    """values-production.yaml as a dict, as `helm install -f` would read it."""
    values: dict[str, Any] = yaml.safe_load(PRODUCTION_VALUES.read_text())
    return values


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`override` deep-merged over `base` (dicts merge, everything else replaces)."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


@dataclass(frozen=True)
class Rendered:
    """The manifests of one `helm install`, parsed."""

    docs: list[Doc]
    notes: str

    def kinds(self) -> list[str]:
        return sorted(doc["kind"] for doc in self.docs)

    def of_kind(self, kind: str) -> list[Doc]:
        return [doc for doc in self.docs if doc["kind"] == kind]

    def named(self, kind: str, name: str) -> Doc:
        matches = [doc for doc in self.of_kind(kind) if doc["metadata"]["name"] == name]
        assert len(matches) == 1, f"expected one {kind} {name}, got {len(matches)}"
        return matches[0]

    def config_map(self) -> dict[str, str]:
        data: dict[str, str] = self.named("ConfigMap", FULLNAME)["data"]
        return data

    def pod_owners(self) -> list[Doc]:
        return [doc for doc in self.docs if doc["kind"] in POD_TEMPLATE_KINDS]


def render(chart: helm_python.Chart, values: dict[str, Any] | None = None) -> Rendered:
    """Render an install of `chart` with `values` and parse every manifest."""
    manifests = chart.render(values=values, name=RELEASE, namespace=NAMESPACE, is_install=True)
    docs: list[Doc] = []
    notes = ""
    for path, text in sorted(manifests.items()):
        if path.endswith("NOTES.txt"):
            notes = text
            continue
        docs.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return Rendered(docs=docs, notes=notes)


def pod_template(owner: Doc) -> Doc:
    """The pod template of a pod owner (a CronJob's is inside its job template)."""
    spec = owner["spec"]["jobTemplate"]["spec"] if owner["kind"] == "CronJob" else owner["spec"]
    template: Doc = spec["template"]
    return template


def pod_spec(owner: Doc) -> Doc:
    spec: Doc = pod_template(owner)["spec"]
    return spec


def containers(owner: Doc) -> Iterator[Doc]:
    """Every container of a pod template, init containers included."""
    spec = pod_spec(owner)
    yield from spec.get("initContainers", [])
    yield from spec["containers"]


def plain_env(container: Doc) -> dict[str, str]:
    """The container's literal `env` values (valueFrom entries left out)."""
    return {item["name"]: item["value"] for item in container.get("env", []) if "value" in item}


def env_of(rendered: Rendered, container: Doc) -> dict[str, str]:
    """What the process sees: the chart's ConfigMap (envFrom), then the container's env."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            assert source["configMapRef"]["name"] == FULLNAME
            env.update(rendered.config_map())
    env.update(plain_env(container))
    return env


def hook_weight(doc: Doc) -> int:
    return int(doc["metadata"].get("annotations", {}).get("helm.sh/hook-weight", "0"))
