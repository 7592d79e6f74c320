"""`relatoria-admin` against the real PostgreSQL, RabbitMQ, Redis and S3: queues, inspect,
requeue and cleanup, run as an operator runs them.

The commands get a database, an AMQP namespace and a Redis prefix of their own, with no
worker consuming or sweeping them: every message they publish stays countable, and no
other test's requests are touched.
"""

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
import pytest
from aio_pika.abc import AbstractIncomingMessage
from aiormq.exceptions import ChannelNotFoundEntity
from sqlalchemy.engine import make_url

from relatoria_shared.cache.status_cache import StatusCache, create_redis
from relatoria_shared.db.jobs import PgJobRepository
from relatoria_shared.db.maintenance import PgMaintenanceRepository
from relatoria_shared.db.pool import open_pool
from relatoria_shared.db.requests import PgRequestRepository
from relatoria_shared.db.worker_presence import worker_presence
from relatoria_shared.domain.errors import ErrorCode
from relatoria_shared.domain.lanes import Lane
from relatoria_shared.domain.report import Artifact, NewReport, ReportRecord
from relatoria_shared.domain.status import ReportStatus
from relatoria_shared.domain.status_document import status_document
from relatoria_shared.messaging.contract import JobMessage
from relatoria_shared.messaging.publisher import JobPublisher
from relatoria_shared.messaging.topology import Topology, declare_for
from relatoria_shared.settings import Settings
from relatoria_shared.storage.object_store import ObjectStore
from relatoria_worker.admin import build_parser, run
from tests.conftest import settings_env
from tests.support.cleanup import remove_broker_and_cache_state
from tests.support.database import connect, migrated_database
from tests.support.requests import claim_by_id
from tests.support.requests import new_report as any_report
from tests.support.requests import record as record_new

pytestmark = pytest.mark.integration
LEASE = timedelta(seconds=60)


@pytest.fixture(scope="module")
def admin_settings(settings: Settings) -> Iterator[Settings]:
    """The test run's services, with a database, namespace and prefix of the module's own."""
    url = make_url(settings.database_url.get_secret_value())
    own = url.set(database=f"{url.database}_admin").render_as_string(hide_password=False)
    with migrated_database(own):
        isolated = settings.model_copy(
            update={
                "database_url": settings.database_url.__class__(own),
                "amqp_namespace": f"{settings.amqp_namespace}-admin",
                "redis_prefix": f"{settings.redis_prefix}admin:",
            }
        )
        yield isolated
        asyncio.run(remove_broker_and_cache_state(isolated))


class Rows:
    """Drives requests' states directly in PostgreSQL, as the BFF and workers would."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.requests = PgRequestRepository(pool)
        self.jobs = PgJobRepository(pool)
        self.maintenance = PgMaintenanceRepository(pool)

    async def create(self, new: NewReport) -> ReportRecord:
        return await record_new(self.requests, new)

    async def claim(self, report_id: uuid.UUID, worker: str, lease: timedelta) -> ReportRecord:
        return await claim_by_id(self.pool, report_id, worker, lease)

    async def complete(self, claimed: ReportRecord, artifact: Artifact) -> ReportRecord | None:
        return await self.jobs.complete(claimed, artifact, timedelta(days=7))

    async def fail(
        self, claimed: ReportRecord, code: ErrorCode, message: str
    ) -> ReportRecord | None:
        return await self.jobs.fail(claimed, code, message)

    async def get(self, report_id: uuid.UUID) -> ReportRecord | None:
        return await self.maintenance.get(report_id)

    async def cancel(self, report_id: uuid.UUID, owner: str) -> ReportRecord | None:
        cancelled = await self.requests.cancel(report_id, owner)
        return None if cancelled is None else cancelled.record


@pytest.fixture
async def repository(admin_settings: Settings) -> AsyncIterator[Rows]:
    pool = await open_pool(admin_settings)
    yield Rows(pool)
    await pool.close()


@pytest.fixture
async def cache(admin_settings: Settings) -> AsyncIterator[StatusCache]:
    redis = create_redis(admin_settings)
    yield StatusCache.from_settings(redis, admin_settings)
    await redis.aclose()


@pytest.fixture
async def admin_db(admin_settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    conn = await connect(admin_settings)
    yield conn
    await conn.close()


@pytest.fixture
def store(admin_settings: Settings) -> ObjectStore:
    return ObjectStore(admin_settings)


async def admin(
    settings: Settings, capsys: pytest.CaptureFixture[str], *argv: str
) -> tuple[int, str, str]:
    """Run one `relatoria-admin` command in this process: (exit status, stdout, stderr)."""
    code = await run(build_parser().parse_args(list(argv)), settings)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def new_report(report_type: str = "table") -> NewReport:
    return any_report("admin-cli", report_type=report_type)


async def done_report(
    repository: Rows, store: ObjectStore, tmp_path: Path, content: bytes = b"a\nx\n"
) -> ReportRecord:
    """A `done` request whose file is in S3."""
    recorded = await repository.create(new_report())
    claimed = await repository.claim(recorded.id, "w", LEASE)
    key = f"reports/{recorded.id}.csv"
    path = tmp_path / f"{recorded.id}.csv"
    path.write_bytes(content)
    await asyncio.to_thread(store.upload_file, path, key, "text/csv", "admin.csv")
    artifact = Artifact(key, "text/csv", "admin.csv", len(content), "0" * 64, 1, None)
    done = await repository.complete(claimed, artifact)
    assert done is not None
    return done


async def error_report(repository: Rows, report_type: str) -> ReportRecord:
    recorded = await repository.create(new_report(report_type))
    claimed = await repository.claim(recorded.id, "w", LEASE)
    failed = await repository.fail(claimed, ErrorCode.RENDER_ERROR, "broken")
    assert failed is not None
    return failed


async def take_published(settings: Settings, lane: Lane = Lane.INTERACTIVE) -> list[uuid.UUID]:
    """The request ids of every job now in `lane`'s work queue, removing them."""
    connection = await aio_pika.connect(settings.amqp_url.get_secret_value())
    ids: list[uuid.UUID] = []
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(
            Topology(settings.amqp_namespace).work_queue(lane), passive=True
        )
        while (message := await queue.get(no_ack=True, fail=False)) is not None:
            ids.append(JobMessage.decode(message.body).request_id)
    return ids


async def leave_unacked(message: AbstractIncomingMessage) -> None:
    """A consumer that takes nothing in (the queue it consumes is empty)."""


async def test_queues_counts_ready_messages_and_consumers(
    admin_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    connection = await aio_pika.connect(admin_settings.amqp_url.get_secret_value())
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        declared = await declare_for(connection, channel, admin_settings)
        publisher = JobPublisher(declared, admin_settings.publish_timeout_seconds)
        for _ in range(3):
            await publisher.publish(JobMessage(request_id=uuid.uuid4(), attempt=1), Lane.BULK)
        consuming = await connection.channel()
        dead = await consuming.get_queue(declared.topology.dead_queue)
        await dead.consume(leave_unacked, no_ack=False)

        code, out, _ = await admin(admin_settings, capsys, "queues", "--json")
        assert code == 0
        depths = {row["name"]: row for row in json.loads(out)}
        topology = declared.topology
        assert depths[topology.work_queue(Lane.BULK)]["messages"] == 3
        assert depths[topology.work_queue(Lane.BULK)]["consumers"] == 0
        assert depths[topology.dead_queue]["consumers"] == 1
        retry_names = {
            topology.retry_queue(delay, lane)
            for lane in Lane
            for delay in admin_settings.retry_policy.levels()
        }
        assert retry_names <= depths.keys()
        assert all(row["exists"] for row in depths.values())

        code, out, _ = await admin(admin_settings, capsys, "queues")
        assert code == 0
        line = next(li for li in out.splitlines() if li.startswith(topology.work_queue(Lane.BULK)))
        assert line.split()[-2:] == ["3", "0"]
        await declared.work_queues[Lane.BULK].purge()


async def test_queues_reports_missing_queues_without_creating_them(
    admin_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    nowhere = admin_settings.model_copy(
        update={"amqp_namespace": f"{admin_settings.amqp_namespace}-nowhere"}
    )
    code, out, _ = await admin(nowhere, capsys, "queues", "--json")
    assert code == 0
    rows = json.loads(out)
    assert rows
    assert not any(row["exists"] for row in rows)
    code, out, _ = await admin(nowhere, capsys, "queues")
    assert "absent" in out
    connection = await aio_pika.connect(nowhere.amqp_url.get_secret_value())
    async with connection:
        channel = await connection.channel()
        with pytest.raises(ChannelNotFoundEntity):
            await channel.declare_queue(Topology(nowhere.amqp_namespace).dead_queue, passive=True)


async def test_inspect_shows_the_row_the_cache_entry_and_the_object(
    admin_settings: Settings,
    capsys: pytest.CaptureFixture[str],
    repository: Rows,
    cache: StatusCache,
    store: ObjectStore,
    tmp_path: Path,
) -> None:
    done = await done_report(repository, store, tmp_path, b"a\nx\ny\n")
    await cache.put(status_document(done))

    code, out, _ = await admin(admin_settings, capsys, "inspect", str(done.id), "--json")
    assert code == 0
    found = json.loads(out)
    row = found["database"]
    assert (row["status"], row["version"], row["attempts"]) == ("done", done.version, 1)
    assert row["object_key"] == f"reports/{done.id}.csv"
    assert row["expires_at"] is not None
    assert found["cache"]["document"]["status"] == "done"
    assert found["cache"]["version"] == done.version
    assert 0 < found["cache"]["ttlSeconds"] <= admin_settings.status_cache_ttl_seconds
    assert found["object"]["exists"] is True
    assert found["object"]["sizeBytes"] == 6

    code, out, _ = await admin(admin_settings, capsys, "inspect", str(done.id))
    assert code == 0
    assert 'status: "done"' in out
    assert "6 bytes" in out

    await asyncio.to_thread(store.delete, f"reports/{done.id}.csv")
    redis = create_redis(admin_settings)
    await redis.delete(cache.key(done.id))
    await redis.aclose()
    code, out, _ = await admin(admin_settings, capsys, "inspect", str(done.id))
    assert code == 0
    assert out.count("absent") == 2  # the cache entry and the object

    code, out, _ = await admin(admin_settings, capsys, "inspect", str(uuid.uuid4()))
    assert code == 1
    assert "PostgreSQL (report_requests):\n  absent" in out


async def test_requeue_refuses_done_expired_and_cancelled_requests(
    admin_settings: Settings,
    capsys: pytest.CaptureFixture[str],
    repository: Rows,
    admin_db: asyncpg.Connection,
    store: ObjectStore,
    tmp_path: Path,
) -> None:
    done = await done_report(repository, store, tmp_path)
    expired = await done_report(repository, store, tmp_path)
    await admin_db.execute(
        "UPDATE report_requests SET status = 'expired' WHERE id = $1", expired.id
    )
    queued = await repository.create(new_report())
    cancelled = await repository.cancel(queued.id, "admin-cli")
    assert cancelled is not None
    await take_published(admin_settings)
    for record, status in ((done, "done"), (expired, "expired"), (cancelled, "cancelled")):
        before = await repository.get(record.id)
        code, _, err = await admin(admin_settings, capsys, "requeue", "--id", str(record.id))
        assert code == 1
        assert f"refused: request {record.id} is {status}" in err
        assert await repository.get(record.id) == before
    assert await take_published(admin_settings) == []


async def test_requeue_failed_gives_error_requests_a_fresh_round(
    admin_settings: Settings, capsys: pytest.CaptureFixture[str], repository: Rows
) -> None:
    kind = f"admin-type-{uuid.uuid4().hex[:6]}"
    first, second = await error_report(repository, kind), await error_report(repository, kind)
    other = await error_report(repository, f"{kind}-other")
    await take_published(admin_settings)

    code, out, _ = await admin(
        admin_settings, capsys, "requeue", "--failed", "--type", kind, "--json"
    )
    assert code == 0
    assert json.loads(out)["requeued"] == 2
    for record in (first, second):
        now = await repository.get(record.id)
        assert now is not None
        assert (now.status, now.attempts, now.error_code) == (ReportStatus.QUEUED, 0, None)
    assert sorted(await take_published(admin_settings)) == sorted([first.id, second.id])
    untouched = await repository.get(other.id)
    assert untouched is not None
    assert untouched.status is ReportStatus.ERROR

    code, out, _ = await admin(admin_settings, capsys, "requeue", "--failed", "--type", kind)
    assert (code, out.split(";")[0]) == (0, "requeued 0 failed request(s)")
    assert await take_published(admin_settings) == []

    code, out, _ = await admin(admin_settings, capsys, "requeue", "--id", str(other.id))
    assert code == 0
    assert out.startswith("requeued 1 failed request")
    assert await take_published(admin_settings) == [other.id]


async def test_requeue_by_id_publishes_queued_and_abandoned_work_only(
    admin_settings: Settings, capsys: pytest.CaptureFixture[str], repository: Rows
) -> None:
    queued = await repository.create(new_report())
    await take_published(admin_settings)
    code, out, _ = await admin(admin_settings, capsys, "requeue", "--id", str(queued.id))
    assert (code, out.strip()) == (0, f"woke workers for queued request {queued.id} again")
    assert await take_published(admin_settings) == [queued.id]

    live = admin_settings.model_copy(update={"worker_id": f"live-{uuid.uuid4().hex[:6]}"})
    async with worker_presence(live, lambda _: None) as presence:
        await presence.held.wait()
        recorded = await repository.create(new_report())
        running = await repository.claim(recorded.id, live.worker_id, LEASE)
        code, _, err = await admin(admin_settings, capsys, "requeue", "--id", str(recorded.id))
        assert code == 1
        assert "a live worker holds it" in err
        assert await repository.get(recorded.id) == running

    record = await repository.create(new_report())
    abandoned = await repository.claim(record.id, "dead-worker", LEASE)  # its lock is gone
    assert abandoned is not None
    code, out, _ = await admin(admin_settings, capsys, "requeue", "--id", str(record.id))
    assert code == 0
    assert f"request {record.id} is now queued" in out
    now = await repository.get(record.id)
    assert now is not None
    assert (now.status, now.error_code) == (ReportStatus.QUEUED, ErrorCode.INTERNAL_ERROR)


async def test_requeue_stuck_takes_back_abandoned_and_republishes_long_queued_work(
    admin_settings: Settings,
    capsys: pytest.CaptureFixture[str],
    repository: Rows,
    admin_db: asyncpg.Connection,
) -> None:
    code, _, _ = await admin(admin_settings, capsys, "requeue", "--stuck", "--older-than", "60")
    assert code == 0  # earlier tests' leftovers out of the way
    old = await repository.create(new_report())
    fresh = await repository.create(new_report())
    await admin_db.execute(
        "UPDATE report_requests SET updated_at = now() - interval '1 hour' WHERE id = $1", old.id
    )
    record = await repository.create(new_report())
    abandoned = await repository.claim(record.id, "dead-worker", timedelta(seconds=-1))
    assert abandoned is not None
    await take_published(admin_settings)

    code, out, _ = await admin(
        admin_settings, capsys, "requeue", "--stuck", "--older-than", "60", "--json"
    )
    assert code == 0
    counts = json.loads(out)
    assert (counts["requeued"], counts["failed"], counts["published"]) == (1, 0, 1)
    published = await take_published(admin_settings)
    assert old.id in published
    assert record.id in published  # taken back: a worker is woken for it at once
    assert fresh.id not in published
    taken_back = await repository.get(record.id)
    assert taken_back is not None
    assert taken_back.status is ReportStatus.QUEUED

    code, out, _ = await admin(
        admin_settings, capsys, "requeue", "--stuck", "--older-than", "60", "--json"
    )
    counts = json.loads(out)
    # Nothing left to take back; the old request, still queued (no worker here), is woken
    # for again: a duplicate wake-up finds it claimed or claims it, harmless either way.
    assert (counts["requeued"], counts["failed"], counts["published"]) == (0, 0, 1)
    assert await take_published(admin_settings) == [old.id]


async def test_cleanup_expires_due_reports_once(
    admin_settings: Settings,
    capsys: pytest.CaptureFixture[str],
    repository: Rows,
    cache: StatusCache,
    admin_db: asyncpg.Connection,
    store: ObjectStore,
    tmp_path: Path,
) -> None:
    due = await done_report(repository, store, tmp_path)
    kept = await done_report(repository, store, tmp_path)
    await admin_db.execute(
        "UPDATE report_requests SET expires_at = now() - interval '1 minute' WHERE id = $1",
        due.id,
    )

    # The real console entry point, in its own process, as the CronJob runs it.
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "relatoria_worker.admin", "cleanup", "--json"],
        env={**os.environ, **settings_env(admin_settings)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    counts: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    assert (counts["expired"], counts["failed"]) == (1, 0)
    expired = await repository.get(due.id)
    assert expired is not None
    assert (expired.status, expired.version) == (ReportStatus.EXPIRED, due.version + 1)
    cached = await cache.get(due.id)
    assert cached is not None
    assert cached.body["status"] == "expired"
    assert await asyncio.to_thread(store.head, f"reports/{due.id}.csv") is None
    assert await asyncio.to_thread(store.head, f"reports/{kept.id}.csv") is not None
    assert await repository.get(kept.id) == kept

    code, out, _ = await admin(admin_settings, capsys, "cleanup")
    assert (code, out.strip()) == (0, "expired 0 report(s); 0 delete failure(s) (retried next run)")
    assert await repository.get(due.id) == expired


def test_requeue_stuck_refuses_an_age_that_would_republish_every_pass() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["requeue", "--stuck", "--older-than", "0"])
    args = build_parser().parse_args(["requeue", "--stuck", "--older-than", "60"])
    assert args.older_than == 60
