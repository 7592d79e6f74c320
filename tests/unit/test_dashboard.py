"""The Grafana dashboard (infra/grafana/relatoria-dashboard.json): a current schema, its
Prometheus data source a template variable, and every query a valid expression over
metrics relatoria or RabbitMQ's plugin export, covering every relatoria metric."""

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.promql import RABBITMQ_METRICS, check_expression, exported_metrics

pytestmark = pytest.mark.unit

DASHBOARD = Path(__file__).resolve().parents[2] / "infra" / "grafana" / "relatoria-dashboard.json"
VARIABLES = {"$__rate_interval": "5m", "$amqp_namespace": "relatoria"}


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def test_the_data_source_is_a_prometheus_template_variable(dashboard: dict[str, Any]) -> None:
    assert dashboard["schemaVersion"] >= 39
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert (variables["datasource"]["type"], variables["datasource"]["query"]) == (
        "datasource",
        "prometheus",
    )
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        for target in panel["targets"]:
            assert target["datasource"] == panel["datasource"]


def test_panels_do_not_overlap(dashboard: dict[str, Any]) -> None:
    cells: set[tuple[int, int]] = set()
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24
        area = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not area & cells, panel["title"]
        cells |= area


def test_every_query_parses_and_every_metric_has_a_panel(dashboard: dict[str, Any]) -> None:
    exported = exported_metrics()
    used: set[str] = set()
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for variable, value in VARIABLES.items():
                expr = expr.replace(variable, value)
            used |= check_expression(expr, exported | RABBITMQ_METRICS)
    families = {name.removesuffix(s) for name in exported for s in ("_bucket",) if name.endswith(s)}
    plain = {n for n in exported if not n.endswith(("_bucket", "_count", "_sum"))}
    assert (plain | {f"{f}_bucket" for f in families}) <= used
    assert {"rabbitmq_queue_messages_ready", "rabbitmq_queue_consumers"} <= used
