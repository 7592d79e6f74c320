"""A stale attempt never touches the recorded file: two job runners (two worker identities)
race through a lease expiry against real PostgreSQL, Redis, RabbitMQ and S3 (moto); the
cleanup removes what a killed attempt left behind, and a cancelled report's file that its
cancel could not delete."""

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack

import asyncpg
import pytest

from relatoria_shared.connections import Connections, open_connections
from relatoria_shared.db.maintenance import PgMaintenanceRepository
from relatoria_shared.db.requests import PgRequestRepository
from relatoria_shared.domain.artifact_keys import attempt_key
from relatoria_shared.domain.formats import ReportFormat
from relatoria_shared.domain.lanes import Lane
from relatoria_shared.domain.report import Job, ReportRecord
from relatoria_shared.domain.status import ReportStatus
from relatoria_shared.settings import Settings
from relatoria_shared.transitions.maintenance import MaintenanceTransitions
from relatoria_shared.transitions.requests import RequestTransitions
from relatoria_worker.job_runner import JobRunner
from relatoria_worker.metrics import WorkerMetrics
from relatoria_worker.retention import ArtifactCleanup
from relatoria_worker.worker import job_runner_on, render_executors
from tests.support.requests import GENEROUS, new_report, record

pytestmark = pytest.mark.integration

COLUMNS = [{"key": "n", "label": "Número", "type": "number"}]
XLSX = ReportFormat.XLSX


class Worker:
    """One worker identity's job runner and render threads."""

    def __init__(self, connections: Connections, executors: dict[Lane, ThreadPoolExecutor]):
        self.connections = connections
        self.executors = executors
        metrics = WorkerMetrics()
        self.runner: JobRunner = job_runner_on(
            connections, connections.announcer(metrics), executors, metrics
        )

    async def claim(self, report_id: uuid.UUID) -> Job:
        job = await self.runner.claim(Lane.INTERACTIVE)
        assert job is not None
        assert job.record.id == report_id
        return job


@pytest.fixture
async def workers(own_settings: Settings) -> AsyncIterator[tuple[Worker, Worker]]:
    async with AsyncExitStack() as stack:
        pair = []
        for name in ("stale", "winner"):
            settings = own_settings.model_copy(update={"worker_id": f"race-{name}"})
            connections = await stack.enter_async_context(open_connections(settings))
            executors = render_executors(settings)
            for executor in executors.values():
                stack.callback(executor.shutdown)
            pair.append(Worker(connections, executors))
        yield pair[0], pair[1]


async def take_over(stale: Worker, report_id: uuid.UUID) -> None:
    """The stale worker's lease runs out (its heartbeats no longer arrive) and the sweeper
    gives the job back to the queue, as it does for a silent worker."""
    pool = stale.connections.pool
    await pool.execute(
        "UPDATE report_requests SET lease_expires_at = now() - interval '1 second' WHERE id = $1",
        report_id,
    )
    settings = stale.connections.settings
    sweeper = MaintenanceTransitions(
        PgMaintenanceRepository(pool),
        stale.connections.announcer(WorkerMetrics()),
        settings.retry_policy,
        settings.lease,
    )
    assert await sweeper.take_back_abandoned(10) == (1, 0)


def cleanup_of(worker: Worker) -> ArtifactCleanup:
    settings = worker.connections.settings
    return ArtifactCleanup(
        settings=settings,
        transitions=MaintenanceTransitions(
            PgMaintenanceRepository(worker.connections.pool),
            worker.connections.announcer(WorkerMetrics()),
            settings.retry_policy,
            settings.lease,
        ),
        store=worker.connections.store,
    )


def stored_keys(connections: Connections, report_id: uuid.UUID) -> list[str]:
    keys, _ = connections.store.list_page(f"{connections.settings.s3_key_prefix}{report_id}")
    return keys


def assert_recorded_file_intact(connections: Connections, done: ReportRecord) -> None:
    assert done.status is ReportStatus.DONE
    assert done.artifact is not None
    body = connections.store._client.get_object(
        Bucket=connections.store.bucket, Key=done.artifact.object_key
    )["Body"].read()
    assert len(body) == done.artifact.size_bytes
    assert hashlib.sha256(body).hexdigest() == done.artifact.sha256


async def racing_request(pool: asyncpg.Pool, rows: int) -> ReportRecord:
    table = {"columns": COLUMNS, "rows": [[i] for i in range(rows)]}
    return await record(PgRequestRepository(pool), new_report("race", parameters=table, fmt=XLSX))


async def test_a_stale_attempt_finishing_late_leaves_the_winners_file_alone(
    workers: tuple[Worker, Worker],
) -> None:
    stale, winner = workers
    recorded = await racing_request(stale.connections.pool, 3)
    late_job = await stale.claim(recorded.id)  # attempt 1, then it goes silent
    await take_over(stale, recorded.id)
    await winner.runner.process(await winner.claim(recorded.id))  # attempt 2: done
    done = await PgRequestRepository(winner.connections.pool).get(recorded.id)
    assert done is not None
    assert_recorded_file_intact(winner.connections, done)

    # The silent worker comes back a moment later (its file's modified time differs, so
    # its bytes do) and finishes its attempt: it renders and uploads (an upload cannot be
    # fenced), then fails to record it, and removes its own upload.
    await asyncio.sleep(1.1)
    await stale.runner.process(late_job)

    after = await PgRequestRepository(winner.connections.pool).get(recorded.id)
    assert after == done  # the winner's record, unchanged
    assert_recorded_file_intact(winner.connections, done)
    assert done.artifact is not None
    assert stored_keys(winner.connections, recorded.id) == [done.artifact.object_key]


async def test_the_cleanup_removes_what_a_killed_attempt_left(
    workers: tuple[Worker, Worker],
) -> None:
    stale, winner = workers
    recorded = await racing_request(stale.connections.pool, 3)
    late_job = await stale.claim(recorded.id)
    # The attempt uploads its file under its own key and is killed before it can record
    # or remove it.
    settings = stale.connections.settings
    left = attempt_key(settings.s3_key_prefix, recorded.id, late_job.record.attempts, XLSX)
    await asyncio.to_thread(
        stale.connections.store.put_bytes, b"PK half a file", left, XLSX.content_type, "x.xlsx"
    )
    await take_over(stale, recorded.id)
    await winner.runner.process(await winner.claim(recorded.id))
    done = await PgRequestRepository(winner.connections.pool).get(recorded.id)
    assert done is not None
    assert done.artifact is not None
    assert len(stored_keys(winner.connections, recorded.id)) == 2  # the winner's, the orphan

    result = await cleanup_of(winner).run_once()

    assert (result.orphans_removed, result.orphans_left) == (1, 0)
    assert stored_keys(winner.connections, recorded.id) == [done.artifact.object_key]
    assert_recorded_file_intact(winner.connections, done)
    again = await cleanup_of(winner).run_once()
    assert (again.orphans_removed, again.expired) == (0, 0)


async def test_a_cancelled_reports_file_left_by_a_failed_delete_is_removed_by_the_cleanup(
    workers: tuple[Worker, Worker],
) -> None:
    _, worker = workers
    pool = worker.connections.pool
    recorded = await racing_request(pool, 2)
    await worker.runner.process(await worker.claim(recorded.id))
    done = await PgRequestRepository(pool).get(recorded.id)
    assert done is not None
    assert done.artifact is not None
    cancelling = RequestTransitions(
        PgRequestRepository(pool), worker.connections.announcer(WorkerMetrics()), GENEROUS
    )

    cancelled = await cancelling.cancel(recorded.id, recorded.owner_id)

    assert cancelled is not None
    assert cancelled.recorded_key == done.artifact.object_key  # what the BFF deletes
    # Its delete failed (S3 was down): the row no longer points at the file.
    assert stored_keys(worker.connections, recorded.id) == [done.artifact.object_key]
    result = await cleanup_of(worker).run_once()
    assert (result.orphans_removed, result.orphans_left) == (1, 0)
    assert stored_keys(worker.connections, recorded.id) == []
