"""Workers killed with SIGKILL: another worker finishes the job, with exactly one artifact."""

import asyncio
import time
import uuid

import asyncpg
import httpx
import pytest

from tests.support.cluster import (
    TERMINAL,
    Cluster,
    assert_only_the_recorded_file,
    long_pdf,
    post,
    status_of,
    wait_processing,
    wait_status,
)

pytestmark = pytest.mark.chaos


async def test_sigkill_mid_render_is_finished_by_another_worker(
    cluster: Cluster, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    first = cluster.start_worker()
    rid = await post(client, long_pdf())
    await wait_processing(db, rid, attempt=1)
    await asyncio.sleep(0.3)  # well inside the render
    cluster.kill(first)
    killed_at = time.monotonic()
    cluster.start_worker()
    await wait_processing(db, rid, attempt=2, seconds=30)
    picked_up_after = time.monotonic() - killed_at
    done = await wait_status(client, rid, TERMINAL, seconds=60)
    assert done["status"] == "done"
    # Either the next attempt rendered it again, or the killed worker's own `done` (a
    # statement PostgreSQL had already received, blocked on our lock) completed once the
    # lock was gone: either way one object, the one recorded.
    assert done["attempts"] in (1, 2)
    assert_only_the_recorded_file(cluster, done)
    # About the lease (3 s in tests) plus a sweep interval: seconds, not minutes.
    lease = cluster.settings.lease_seconds
    assert picked_up_after < lease + 5
    print(f"\npicked up {picked_up_after:.1f}s after SIGKILL (lease {lease}s)")


async def test_sigkill_after_upload_before_done_leaves_one_object(
    cluster: Cluster, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    first = cluster.start_worker()
    rid = await post(client, long_pdf(6000))
    await wait_processing(db, rid, attempt=1)
    # Hold the row: the worker can render and upload, but its `done` UPDATE waits on us.
    lock = db.transaction()
    await lock.start()
    await db.execute("SELECT 1 FROM report_requests WHERE id = $1 FOR UPDATE", uuid.UUID(rid))
    deadline = time.monotonic() + 30
    while not cluster.s3_keys(rid):
        assert time.monotonic() < deadline, "the worker never uploaded"
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)  # its UPDATE is now blocked behind our lock
    cluster.kill(first)
    await lock.rollback()
    row = await db.fetchrow("SELECT status FROM report_requests WHERE id = $1", uuid.UUID(rid))
    # Uploaded; its `done` statement was already with PostgreSQL, which may still complete
    # it now that our lock is gone (a statement needs no live client to commit).
    assert row["status"] in {"processing", "done"}
    cluster.start_worker()
    done = await wait_status(client, rid, TERMINAL, seconds=60)
    assert done["status"] == "done"
    # Either the next attempt rendered it again, or the killed worker's own `done` (a
    # statement PostgreSQL had already received, blocked on our lock) completed once the
    # lock was gone: either way one object, the one recorded.
    assert done["attempts"] in (1, 2)
    assert_only_the_recorded_file(cluster, done)


async def test_a_job_that_kills_its_worker_every_time_ends_as_error(
    cluster: Cluster, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    rid = await post(client, long_pdf())
    max_attempts = cluster.settings.max_attempts
    for attempt in range(1, max_attempts + 1):
        worker = cluster.start_worker()
        await wait_processing(db, rid, attempt=attempt)
        cluster.kill(worker)  # as if it ran out of memory on this report, every time
    cluster.start_worker()  # its sweeper finds the last lease expired, no attempts left
    ended = await wait_status(client, rid, TERMINAL, seconds=30)
    assert ended["status"] == "error"
    assert ended["attempts"] == max_attempts
    assert ended["errorCode"] == "INTERNAL_ERROR"
    assert "worker" in ended["errorMessage"]
    assert cluster.s3_keys(rid) == []
    again = await status_of(client, rid)
    assert again["status"] == "error"  # and it stays there: no endless loop
