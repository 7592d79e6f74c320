"""SIGTERM: the worker stops taking work, finishes what it can within the grace period, and
hands the rest back without losing or duplicating it."""

import asyncpg
import httpx
import pytest

from tests.support.api import table_request
from tests.support.cluster import (
    TERMINAL,
    Cluster,
    assert_only_the_recorded_file,
    long_pdf,
    post,
    wait_processing,
    wait_status,
)

pytestmark = pytest.mark.chaos


async def test_in_flight_job_finishes_within_the_grace_period(
    cluster: Cluster, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    worker = cluster.start_worker(RELATORIA_SHUTDOWN_GRACE_SECONDS="60")
    rid = await post(client, long_pdf(6000))
    await wait_processing(db, rid, attempt=1)
    cluster.workers.pop(worker).stop(timeout=60)  # SIGTERM, then wait for it to exit
    done = await wait_status(client, rid, TERMINAL, seconds=5)
    assert (done["status"], done["attempts"]) == ("done", 1)


async def test_job_past_the_grace_period_is_handed_back_and_finished_elsewhere(
    cluster: Cluster, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    worker = cluster.start_worker(RELATORIA_SHUTDOWN_GRACE_SECONDS="1")
    rid = await post(client, long_pdf(25000))
    waiting = await post(client, table_request("csv", [["x", 1, 1.0, True, None, None]]))
    await wait_processing(db, rid, attempt=1)
    process = cluster.workers.pop(worker)
    process.stop(timeout=30)
    assert process.process.returncode == 0
    assert "job handed back at shutdown" in process.log()
    row = await db.fetchrow("SELECT status, attempts FROM report_requests WHERE id = $1::uuid", rid)
    assert (row["status"], row["attempts"]) == ("queued", 0)  # the attempt is not counted
    cluster.start_worker()
    for report in (rid, waiting):
        done = await wait_status(client, report, TERMINAL, seconds=60)
        assert (done["status"], done["attempts"]) == ("done", 1)
        assert_only_the_recorded_file(cluster, done)
