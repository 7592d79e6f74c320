"""The worker's job runner against real PostgreSQL, Redis, RabbitMQ and S3 (moto):
failure paths, and where small reports are rendered."""

import threading
import uuid
from collections.abc import AsyncIterator
from typing import BinaryIO

import pytest

from relatoria_shared.connections import Connections, open_connections
from relatoria_shared.db.requests import PgRequestRepository
from relatoria_shared.domain.errors import ErrorCode
from relatoria_shared.domain.formats import ReportFormat
from relatoria_shared.domain.lanes import Lane
from relatoria_shared.domain.status import ReportStatus
from relatoria_shared.domain.table import TableData
from relatoria_shared.settings import Settings
from relatoria_worker.artifact_builder import ON_LOOP_CELLS
from relatoria_worker.metrics import Outcome, WorkerMetrics
from relatoria_worker.renderers.base import RenderStats
from relatoria_worker.renderers.xlsx import XlsxRenderer
from relatoria_worker.worker import job_runner_on, render_executors
from tests.support.requests import new_report, record

pytestmark = pytest.mark.integration


@pytest.fixture
async def connections(own_settings: Settings) -> AsyncIterator[Connections]:
    # One attempt only, so the first failure is final; a bucket that does not exist.
    missing_bucket = own_settings.model_copy(
        update={"s3_bucket": f"absent-{uuid.uuid4().hex[:8]}", "worker_id": "runner-test"}
    )
    async with open_connections(missing_bucket) as opened:
        yield opened


async def test_storage_failure_ends_as_storage_error_with_a_message_for_users(
    connections: Connections,
) -> None:
    metrics = WorkerMetrics()
    executors = render_executors(connections.settings)
    runner = job_runner_on(connections, connections.announcer(metrics), executors, metrics)
    requests = PgRequestRepository(connections.pool)
    recorded = await record(requests, new_report("runner", max_attempts=1, fmt=ReportFormat.XLSX))
    try:
        job = await runner.claim(Lane.INTERACTIVE)
        assert job is not None
        assert job.record.id == recorded.id
        await runner.process(job)
    finally:
        for executor in executors.values():
            executor.shutdown()
    failed = await requests.get(recorded.id)
    assert failed is not None
    assert failed.status is ReportStatus.ERROR
    assert failed.error_code is ErrorCode.STORAGE_ERROR
    assert failed.error_message == "the report file could not be stored"
    cached = await connections.cache.get(recorded.id)
    assert cached is not None
    assert (cached.body["status"], cached.body["errorCode"]) == ("error", "STORAGE_ERROR")
    dead = metrics.jobs.labels("interactive", Outcome.DEAD_LETTERED.value, "STORAGE_ERROR")
    assert dead._value.get() == 1


async def test_a_tiny_report_renders_on_the_event_loop_and_a_larger_one_in_a_thread(
    own_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Handing a render of a few milliseconds to a thread costs the worker more than the
    render; anything larger must not hold up the loop. Both end `done`, stored whole."""
    render_threads: list[int] = []
    real_render = XlsxRenderer.render

    def noting_thread(self: XlsxRenderer, table: TableData, out: BinaryIO) -> RenderStats:
        render_threads.append(threading.get_ident())
        return real_render(self, table, out)

    monkeypatch.setattr(XlsxRenderer, "render", noting_thread)
    column = {"key": "a", "label": "a", "type": "string"}
    tables = {
        "tiny": {"columns": [column], "rows": [["x"]] * 2},
        "larger": {"columns": [column], "rows": [["x"]] * (ON_LOOP_CELLS + 1)},
    }
    settings = own_settings.model_copy(update={"worker_id": "runner-routing"})
    async with open_connections(settings) as connections:
        requests = PgRequestRepository(connections.pool)
        executors = render_executors(settings)
        metrics = WorkerMetrics()
        runner = job_runner_on(connections, connections.announcer(metrics), executors, metrics)
        rendered_in: dict[str, int] = {}
        try:
            for name, table in tables.items():
                recorded = await record(
                    requests, new_report("routing", parameters=table, fmt=ReportFormat.XLSX)
                )
                job = await runner.claim(Lane.INTERACTIVE)
                assert job is not None
                assert job.record.id == recorded.id
                await runner.process(job)
                rendered_in[name] = render_threads[-1]
                done = await requests.get(recorded.id)
                assert done is not None
                assert done.status is ReportStatus.DONE
                assert done.artifact is not None
                stored = connections.store.head(done.artifact.object_key)
                assert stored is not None
                assert stored.size_bytes == done.artifact.size_bytes
        finally:
            for executor in executors.values():
                executor.shutdown()
    assert rendered_in["tiny"] == threading.get_ident()  # the event loop's thread
    assert rendered_in["larger"] != threading.get_ident()
