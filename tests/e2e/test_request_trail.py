"""A request's trail across the BFF and the worker: JSON log lines carrying its id and
trace id on both sides (and never the token or the report's data), and the worker's spans
descending from the BFF's, exported over OTLP to a real receiver."""

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from relatoria_shared.settings import Settings
from tests.conftest import RunningSystem, settings_env
from tests.support.api import bearer, table_request, wait_for
from tests.support.cluster import Cluster, isolated_cluster
from tests.support.otlp_collector import Collector, ReceivedSpan, otlp_collector

pytestmark = pytest.mark.e2e

WORKER_STAGES = {"claim", "render", "upload", "finalize"}


def json_lines(log: str) -> list[dict[str, Any]]:
    """Every line of a process's output, each of which must be one JSON object."""
    lines = []
    for number, line in enumerate(log.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            document = json.loads(line)
        except json.JSONDecodeError:
            pytest.fail(f"line {number} is not JSON: {line[:300]}")
        assert isinstance(document, dict), line
        lines.append(document)
    return lines


async def test_logs_follow_a_request_from_bff_to_worker_without_its_token_or_data(
    system: RunningSystem,
) -> None:
    owner = f"trail-{uuid.uuid4().hex[:8]}"
    headers = bearer(owner)
    token = headers["Authorization"].removeprefix("Bearer ")
    cell = f"cell-value-{uuid.uuid4().hex}"
    body = table_request("csv", [[cell, 7, 1.5, True, "2026-01-31", None]])
    async with httpx.AsyncClient(base_url=system.base_url) as client:
        created = await client.post("/v1/reports", json=body, headers=headers)
        assert created.status_code == 201, created.text
        report_id = created.json()["requestId"]
        done = await wait_for(client, report_id, headers)
    assert done["status"] == "done"

    deadline = time.monotonic() + 10
    while '"job done"' not in system.worker.log() or report_id not in system.worker.log():
        assert time.monotonic() < deadline, "the worker never logged the job's end"
        await asyncio.sleep(0.1)
    bff_lines = json_lines(system.bff.log())
    worker_lines = json_lines(system.worker.log())

    for line in bff_lines + worker_lines:
        assert {"timestamp", "level", "service", "event"} <= line.keys(), line
    (accepted,) = [
        line
        for line in bff_lines
        if line["event"] == "http request"
        and line.get("request_id") == report_id
        and line["method"] == "POST"
    ]
    assert accepted["owner_id"] == owner
    assert accepted["status"] == 201
    assert accepted["route"] == "/v1/reports"
    assert accepted["service"] == "bff"

    job_lines = [line for line in worker_lines if line.get("request_id") == report_id]
    events = {line["event"] for line in job_lines}
    assert {"job started", "job done"} <= events
    for line in job_lines:
        assert line["service"] == "worker"
        assert line["worker_id"] == "worker-e2e-1"
        assert line["attempt"] == 1
    # One trace from the BFF's request to the worker's job.
    assert accepted["trace_id"]
    assert {line.get("trace_id") for line in job_lines} == {accepted["trace_id"]}

    for output in (system.bff.log(), system.worker.log()):
        assert token not in output
        assert cell not in output


def ancestors(span: ReceivedSpan, by_id: dict[str, ReceivedSpan]) -> list[ReceivedSpan]:
    """The spans above `span`, nearest first, as far as they were received."""
    chain = []
    while span.parent_span_id in by_id:
        span = by_id[span.parent_span_id]
        chain.append(span)
    return chain


def spans_of(collector: Collector, trace_id: str) -> list[ReceivedSpan]:
    return [span for span in collector.spans() if span.trace_id == trace_id]


@pytest.fixture
def traced(settings: Settings, tmp_path: Path) -> Iterator[tuple[Cluster, Collector]]:
    """A BFF and a worker exporting their spans to a receiver of the test's own."""
    with otlp_collector() as collector:
        env = settings_env(settings) | {
            "RELATORIA_OTLP_ENDPOINT": collector.url,
            "OTEL_BSP_SCHEDULE_DELAY": "100",  # export within a test's patience
        }
        with isolated_cluster(settings, env, tmp_path) as cluster:
            cluster.start_worker()
            yield cluster, collector


async def test_worker_spans_descend_from_the_bff_request(
    traced: tuple[Cluster, Collector],
) -> None:
    cluster, collector = traced
    trace_id = uuid.uuid4().hex  # the frontend's own trace, continued by the BFF
    traceparent = f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"
    headers = bearer("tracer") | {"traceparent": traceparent}
    body = table_request("xlsx", [["x", 1, 1.0, True, None, None]])
    async with httpx.AsyncClient(base_url=cluster.base_url) as client:
        created = await client.post("/v1/reports", json=body, headers=headers)
        assert created.status_code == 201, created.text
        done = await wait_for(client, created.json()["requestId"], bearer("tracer"))
    assert done["status"] == "done"
    deadline = time.monotonic() + 15
    while not {s.name for s in spans_of(collector, trace_id)} >= WORKER_STAGES:
        assert time.monotonic() < deadline, [s.name for s in collector.spans()]
        await asyncio.sleep(0.1)

    spans = spans_of(collector, trace_id)
    by_id = {span.span_id: span for span in spans}
    (request,) = [s for s in spans if s.service == "relatoria-bff" and s.name == "POST /v1/reports"]
    assert request.parent_span_id == traceparent.split("-")[2]
    (job,) = [s for s in spans if s.service == "relatoria-worker" and s.name == "report job"]
    # The job continues the POST's own trace (its context is stored with the request),
    # under the request's span, whatever woke the worker.
    parent = by_id[job.parent_span_id]
    assert parent.service == "relatoria-bff"
    assert request in [parent, *ancestors(parent, by_id)]
    for stage in WORKER_STAGES:
        (span,) = [s for s in spans if s.name == stage]
        assert span.service == "relatoria-worker"
        assert span.parent_span_id == job.span_id, stage
