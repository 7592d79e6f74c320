"""The worker's job runner against real PostgreSQL, Redis and S3 (moto): failure paths."""

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from relatoria_shared.cache.status_cache import StatusCache, create_redis
from relatoria_shared.db.engine import create_engine
from relatoria_shared.db.repository import ReportRepository
from relatoria_shared.domain.errors import ErrorCode
from relatoria_shared.domain.formats import ReportFormat
from relatoria_shared.domain.report import NewReport
from relatoria_shared.domain.status import ReportStatus
from relatoria_shared.messaging.contract import JobMessage
from relatoria_shared.settings import Settings
from relatoria_shared.storage.object_store import ObjectStore
from relatoria_worker.artifact_builder import ArtifactBuilder
from relatoria_worker.job_runner import JobRunner

pytestmark = pytest.mark.integration


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
    missing_bucket = settings.model_copy(update={"s3_bucket": f"absent-{uuid.uuid4().hex[:8]}"})
    runner = JobRunner(
        repository=repository,
        cache=cache,
        builder=ArtifactBuilder(ObjectStore(missing_bucket), "reports/", None),
        worker_id="runner-test",
        lease=timedelta(seconds=30),
    )
    record, _ = await repository.create(
        NewReport(
            owner_id="runner",
            report_type="table",
            format=ReportFormat.XLSX,
            title="t",
            parameters={"columns": [{"key": "a", "label": "A", "type": "string"}], "rows": [["x"]]},
        )
    )
    await runner.run(JobMessage(request_id=record.id))
    failed = await repository.get(record.id)
    assert failed is not None
    assert failed.status is ReportStatus.ERROR
    assert failed.error_code is ErrorCode.STORAGE_ERROR
    assert failed.error_message == "the report file could not be stored"
    cached = await cache.get(record.id)
    assert cached is not None
    assert (cached["status"], cached["errorCode"]) == ("error", "STORAGE_ERROR")
