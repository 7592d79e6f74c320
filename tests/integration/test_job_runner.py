"""The worker's job runner against real PostgreSQL, Redis and S3 (moto): failure paths."""

import uuid
from collections.abc import AsyncIterator
from concurrent.futures import Executor

import aio_pika
import pytest

from relatoria_shared.cache.status_cache import StatusCache, create_redis
from relatoria_shared.db.engine import create_engine
from relatoria_shared.db.repository import ReportRepository
from relatoria_shared.domain.errors import ErrorCode
from relatoria_shared.domain.formats import ReportFormat
from relatoria_shared.domain.report import NewReport
from relatoria_shared.domain.status import ReportStatus
from relatoria_shared.messaging.contract import JobMessage
from relatoria_shared.messaging.publisher import JobPublisher
from relatoria_shared.messaging.topology import declare_for
from relatoria_shared.settings import Settings
from relatoria_shared.storage.object_store import ObjectStore
from relatoria_worker.job_runner import JobRunner
from relatoria_worker.worker import create_job_runner, render_executors

pytestmark = pytest.mark.integration


async def runner_for(
    settings: Settings, repository: ReportRepository, cache: StatusCache
) -> JobRunner:
    store = ObjectStore(settings)
    connection = await aio_pika.connect(settings.amqp_url.get_secret_value())
    channel = await connection.channel(publisher_confirms=True)
    declared = await declare_for(connection, channel, settings)
    OPEN_CONNECTIONS.append(connection)
    executors = render_executors(settings)
    OPEN_EXECUTORS.extend(executors.values())
    return create_job_runner(
        settings,
        repository=repository,
        cache=cache,
        publisher=JobPublisher(declared, 5),
        store=store,
        executors=executors,
    )


OPEN_CONNECTIONS: list[aio_pika.abc.AbstractConnection] = []
OPEN_EXECUTORS: list[Executor] = []


@pytest.fixture(autouse=True)
async def close_connections() -> AsyncIterator[None]:
    yield
    while OPEN_CONNECTIONS:
        await OPEN_CONNECTIONS.pop().close()
    while OPEN_EXECUTORS:
        OPEN_EXECUTORS.pop().shutdown()


@pytest.fixture
async def repository(settings: Settings) -> AsyncIterator[ReportRepository]:
    engine = create_engine(settings)
    yield ReportRepository(engine)
    await engine.dispose()


@pytest.fixture
async def cache(settings: Settings) -> AsyncIterator[StatusCache]:
    redis = create_redis(settings)
    yield StatusCache.from_settings(redis, settings)
    await redis.aclose()


async def test_storage_failure_ends_as_storage_error_with_a_message_for_users(
    settings: Settings, repository: ReportRepository, cache: StatusCache
) -> None:
    # One attempt only, so the first failure is final.
    missing_bucket = settings.model_copy(
        update={"s3_bucket": f"absent-{uuid.uuid4().hex[:8]}", "worker_id": "runner-test"}
    )
    runner = await runner_for(missing_bucket, repository, cache)
    record, _ = await repository.create(
        NewReport(
            owner_id="runner",
            report_type="table",
            format=ReportFormat.XLSX,
            title="t",
            parameters={"columns": [{"key": "a", "label": "A", "type": "string"}], "rows": [["x"]]},
            max_attempts=1,
        )
    )
    claimed = await runner.claim(JobMessage(request_id=record.id))
    assert claimed is not None
    await runner.process(claimed)
    failed = await repository.get(record.id)
    assert failed is not None
    assert failed.status is ReportStatus.ERROR
    assert failed.error_code is ErrorCode.STORAGE_ERROR
    assert failed.error_message == "the report file could not be stored"
    cached = await cache.get(record.id)
    assert cached is not None
    assert (cached["status"], cached["errorCode"]) == ("error", "STORAGE_ERROR")
