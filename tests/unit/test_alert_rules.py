"""The Prometheus alert rules (helm/relatoria/files/relatoria-alerts.yaml): a valid rule
file whose every expression parses, names only metrics relatoria or RabbitMQ's plugin
export (with labels they carry), and matches the queues the real topology declares."""

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from relatoria_shared.domain.lanes import Lane
from relatoria_shared.messaging.topology import Topology
from tests.support.helm_chart import ALERT_RULES
from tests.support.promql import DURATION, RABBITMQ_METRICS, check_expression, exported_metrics

pytestmark = pytest.mark.unit

RUNBOOK = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
RUNBOOK_ANCHORS = {
    "RelatoriaDeadLettersPresent": "dead-letters-present",
    "RelatoriaOldestQueuedTooOld": "oldest-queued-too-old",
    "RelatoriaJobErrorRateHigh": "job-error-rate-high",
    "RelatoriaNoConsumers": "no-consumers",
    "RelatoriaBffHigh5xxRate": "bff-5xx-rate",
    "RelatoriaWebhookDeliveriesDead": "webhook-deliveries-dead",
}
SEVERITIES = {"warning", "critical"}


@pytest.fixture(scope="module")
def rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(ALERT_RULES.read_text())
    assert set(document) == {"groups"}
    found: list[dict[str, Any]] = []
    for group in document["groups"]:
        assert set(group) <= {"name", "interval", "rules"}
        assert group["name"]
        found.extend(group["rules"])
    return found


def test_the_rule_file_holds_the_alerts_the_runbook_describes(rules: list[dict[str, Any]]) -> None:
    assert [rule["alert"] for rule in rules] == list(RUNBOOK_ANCHORS)
    headings = {
        re.sub(r"[^a-z0-9 -]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in RUNBOOK.read_text().splitlines()
        if line.startswith("#")
    }
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}
        assert DURATION.match(rule["for"])
        assert rule["labels"]["severity"] in SEVERITIES
        annotations = rule["annotations"]
        assert annotations["summary"]
        assert annotations["description"]
        anchor = RUNBOOK_ANCHORS[rule["alert"]]
        assert annotations["runbook_url"] == f"docs/operations.md#{anchor}"
        assert anchor in headings, f"docs/operations.md has no heading for #{anchor}"


def test_every_expression_parses_and_names_only_exported_metrics(
    rules: list[dict[str, Any]],
) -> None:
    known = exported_metrics() | RABBITMQ_METRICS
    used: set[str] = set()
    for rule in rules:
        used |= check_expression(rule["expr"], known)
    assert {"relatoria_jobs_total", "relatoria_http_requests_total"} <= used
    assert "relatoria_oldest_queued_request_age_seconds" in used


@pytest.mark.parametrize(
    "expr",
    [
        "sum(rate(relatoria_jobs_total[15m])",  # unbalanced
        "relatoria_jobs_totl > 0",  # no such metric
        'relatoria_jobs_total{queue="x"} > 0',  # no such label
        "rate(relatoria_jobs_total[15 minutes])",  # not a duration
        'relatoria_jobs_total{outcome="done} > 0',  # unclosed string
    ],
)
def test_the_expression_check_refuses_broken_expressions(expr: str) -> None:
    with pytest.raises(AssertionError):
        check_expression(expr, exported_metrics())


def test_queue_patterns_match_the_real_queue_names(rules: list[dict[str, Any]]) -> None:
    topology = Topology("relatoria")
    retries = [topology.retry_queue(2.0, lane) for lane in Lane]
    webhooks = [topology.webhooks_queue, topology.webhooks_retry_queue(5.0)]
    patterns: dict[str, set[str]] = {}
    excluded: dict[str, set[str]] = {}
    for rule in rules:
        for pattern in re.findall(r'queue=~("(?:[^"\\]|\\.)*")', rule["expr"]):
            patterns.setdefault(rule["alert"], set()).add(yaml.safe_load(pattern))
        for pattern in re.findall(r'queue!~("(?:[^"\\]|\\.)*")', rule["expr"]):
            excluded.setdefault(rule["alert"], set()).add(yaml.safe_load(pattern))

    def matching(alert: str) -> set[str]:
        names = {
            topology.dead_queue,
            topology.webhooks_dead_queue,
            *(topology.work_queue(lane) for lane in Lane),
            *retries,
            *webhooks,
        }
        return {
            n
            for n in names
            if any(re.fullmatch(p, n) for p in patterns[alert])
            and not any(re.fullmatch(p, n) for p in excluded.get(alert, set()))
        }

    assert matching("RelatoriaDeadLettersPresent") == {topology.dead_queue}
    assert matching("RelatoriaWebhookDeliveriesDead") == {topology.webhooks_dead_queue}
    assert matching("RelatoriaNoConsumers") == {topology.work_queue(lane) for lane in Lane}
