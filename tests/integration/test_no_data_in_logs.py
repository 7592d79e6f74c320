"""No report data in logs: when PostgreSQL refuses a statement with a message that quotes
the request's data (as its own errors quote the values they could not take), neither the
BFF nor the worker logs it. A trigger in the module's own database plays the refusing
server; everything else is the real BFF app, job runner and services."""

import io
import logging
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from relatoria_shared.connections import open_connections
from relatoria_shared.db.requests import PgRequestRepository
from relatoria_shared.domain.formats import ReportFormat
from relatoria_shared.domain.lanes import Lane
from relatoria_shared.logging_setup import configure_logging
from relatoria_shared.settings import Settings
from relatoria_worker.metrics import WorkerMetrics
from relatoria_worker.worker import job_runner_on, render_executors
from tests.support.api import bearer, table_request
from tests.support.database import refusing_writes
from tests.support.in_process_bff import in_process_bff
from tests.support.requests import new_report, record

pytestmark = pytest.mark.integration

SENTINEL = f"sentinela-{uuid.uuid4().hex[:8]}"

# Where only the BFF's insert or the worker's `done` meets the sentinel.
REFUSED = (
    f"NEW.parameters::text LIKE '%{SENTINEL}%' AND (TG_OP = 'INSERT' OR NEW.status = 'done') "
    f"OR (TG_OP = 'UPDATE' AND NEW.status = 'done' AND NEW.title LIKE '%{SENTINEL}%')"
)


@pytest.fixture
async def refusing_database(own_settings: Settings) -> AsyncIterator[None]:
    async with refusing_writes(own_settings, REFUSED):
        yield


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """Every log line of the process, as the services write them (JSON)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    captured = io.StringIO()
    configure_logging("test", "INFO", "json", captured)
    yield captured
    root.handlers[:] = handlers
    root.setLevel(level)


async def test_the_bff_does_not_log_what_a_refused_insert_quoted(
    own_settings: Settings, refusing_database: None, logs: io.StringIO
) -> None:
    body = table_request("csv", [[SENTINEL, 1, 1.0, True, None, None]], title=SENTINEL)
    async with in_process_bff(own_settings) as client:
        response = await client.post("/v1/reports", json=body, headers=bearer("logs"))

    assert response.status_code == 500
    assert SENTINEL not in response.text
    written = logs.getvalue()
    assert "message withheld" in written  # the error was logged, without its message
    assert "P0001" in written
    assert SENTINEL not in written


async def test_the_worker_does_not_log_what_a_refused_outcome_quoted(
    own_settings: Settings, refusing_database: None, logs: io.StringIO
) -> None:
    settings = own_settings.model_copy(update={"worker_id": "logs-worker"})
    async with open_connections(settings) as connections:
        # Recorded with an innocent title, then given the sentinel where only the worker's
        # `done` meets it.
        recorded = await record(
            PgRequestRepository(connections.pool), new_report("logs", fmt=ReportFormat.CSV)
        )
        await connections.pool.execute(
            "UPDATE report_requests SET title = $2 WHERE id = $1", recorded.id, SENTINEL
        )
        executors = render_executors(settings)
        metrics = WorkerMetrics()
        runner = job_runner_on(connections, connections.announcer(metrics), executors, metrics)
        try:
            job = await runner.claim(Lane.INTERACTIVE)
            assert job is not None
            await runner.process(job)
        finally:
            for executor in executors.values():
                executor.shutdown()

    written = logs.getvalue()
    assert "job outcome not recorded" in written
    assert "message withheld" in written
    assert SENTINEL not in written
