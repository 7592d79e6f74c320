"""The chart's KEDA triggers run their query against the real schema: each lane's demand is
its requests processing plus those queued and due, nothing else."""

import json
import uuid

import asyncpg
import helm_python
import pytest

from relatoria_shared.domain.lanes import Lane
from tests.support.helm_chart import CHART_DIR, FULLNAME, render

pytestmark = pytest.mark.integration

ROWS = [
    # (lane, status, retry due in seconds): counted?
    (Lane.INTERACTIVE, "queued", None, True),
    (Lane.INTERACTIVE, "queued", -5, True),  # a retry whose backoff is over
    (Lane.INTERACTIVE, "queued", 300, False),  # a retry still waiting out its backoff
    (Lane.INTERACTIVE, "processing", None, True),
    (Lane.INTERACTIVE, "done", None, False),
    (Lane.INTERACTIVE, "error", None, False),
    (Lane.INTERACTIVE, "cancelled", None, False),
    (Lane.BULK, "queued", None, True),
    (Lane.BULK, "processing", None, True),
    (Lane.BULK, "processing", None, True),
]


def trigger_queries() -> dict[Lane, str]:
    with helm_python.Chart.load(CHART_DIR) as chart:
        rendered = render(chart)
    queries = {}
    for lane in Lane:
        scaled = rendered.named("ScaledObject", f"{FULLNAME}-worker-{lane.value}")
        (trigger,) = scaled["spec"]["triggers"]
        queries[lane] = trigger["metadata"]["query"]
    return queries


async def test_each_lanes_trigger_counts_its_running_and_due_requests(
    pool: asyncpg.Pool,
) -> None:
    await pool.execute("TRUNCATE report_requests, report_owners")
    for lane, status, retry_in, _ in ROWS:
        await pool.execute(
            "INSERT INTO report_requests (id, owner_id, report_type, lane, format, title,"
            " parameters, max_attempts, status, next_attempt_at) VALUES ($1, 'scaler', 'table',"
            " $2, 'csv', 't', $3, 3, $4,"
            " CASE WHEN $5::float8 IS NULL THEN NULL"
            " ELSE now() + make_interval(secs => $5::float8) END)",
            uuid.uuid4(),
            lane.value,
            json.dumps({"columns": [], "rows": []}),
            status,
            retry_in,
        )
    for lane, query in trigger_queries().items():
        expected = sum(1 for row_lane, *_, counted in ROWS if row_lane is lane and counted)
        assert await pool.fetchval(query) == expected, lane
