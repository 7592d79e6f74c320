"""The worker's job runner against real PostgreSQL, Redis, RabbitMQ and S3 (moto):
failure paths."""

import uuid
from collections.abc import AsyncIterator

import pytest

from relatoria_shared.connections import Connections, open_connections
from relatoria_shared.db.jobs import PgJobRepository
from relatoria_shared.db.requests import PgRequestRepository
from relatoria_shared.domain.errors import ErrorCode
from relatoria_shared.domain.formats import ReportFormat
from relatoria_shared.domain.lanes import Lane
from relatoria_shared.domain.status import ReportStatus
from relatoria_shared.settings import Settings
from relatoria_shared.transitions.jobs import JobTransitions
from relatoria_worker.metrics import Outcome, WorkerMetrics
from relatoria_worker.worker import create_job_runner, render_executors
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
    settings = connections.settings
    metrics = WorkerMetrics()
    executors = render_executors(settings)
    runner = create_job_runner(
        settings,
        transitions=JobTransitions(
            PgJobRepository(connections.pool),
            connections.announcer(metrics),
            worker_id=settings.worker_id,
            lease=settings.lease,
            retention=settings.artifact_retention,
        ),
        store=connections.store,
        executors=executors,
        metrics=metrics,
    )
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
