"""Accepted requests are never lost for want of a wake-up: a new request wakes a worker
through a PostgreSQL notification sent when it commits, messages only wake workers, and
idle workers look for due work on their own, so what no worker heard of, and what the
broker lost, still run."""

import asyncio
import json
import time
import uuid

import asyncpg
import httpx
import pytest

from tests.support.api import COLUMNS, table_request
from tests.support.cluster import (
    TERMINAL,
    Cluster,
    assert_only_the_recorded_file,
    post,
    wait_status,
)

pytestmark = pytest.mark.chaos


async def test_committed_but_never_published_request_completes(
    cluster: Cluster, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    # What a BFF that crashed between its commit and its publish leaves behind.
    rid = uuid.uuid4()
    parameters = {"columns": COLUMNS, "rows": [["x", 1, 1.5, True, "2026-01-01", None]]}
    await db.execute(
        "INSERT INTO report_requests (id, owner_id, report_type, format, title, parameters,"
        " max_attempts) VALUES ($1, 'chaos', 'table', 'csv', 'orphan', $2, 3)",
        rid,
        json.dumps(parameters),
    )
    cluster.start_worker()
    done = await wait_status(client, str(rid), TERMINAL, seconds=30)
    assert done["status"] == "done"
    assert_only_the_recorded_file(cluster, done)


async def test_a_new_request_wakes_an_idle_worker_at_once(
    cluster: Cluster, client: httpx.AsyncClient
) -> None:
    # An idle poll far longer than the wait: only the request's own notification can
    # start it in time.
    cluster.start_worker(RELATORIA_IDLE_POLL_SECONDS="120")
    await asyncio.sleep(1)  # the worker's start-up look for due work is over
    started = time.monotonic()
    rid = await post(client, table_request("csv", [["x", 1, 1.5, True, None, None]]))
    done = await wait_status(client, rid, TERMINAL, seconds=10)
    assert done["status"] == "done"
    assert time.monotonic() - started < 5


async def test_a_request_no_worker_heard_of_still_runs(
    cluster: Cluster, client: httpx.AsyncClient
) -> None:
    # Posted while no worker listens: its notification reaches nobody.
    rid = await post(client, table_request("csv", [["x", 1, 1.5, True, None, None]]))
    cluster.start_worker()
    done = await wait_status(client, rid, TERMINAL, seconds=30)
    assert done["status"] == "done"


async def test_a_retry_whose_message_the_broker_lost_still_runs(
    cluster: Cluster, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    rid = await post(client, table_request("csv", [["x", 1, 1.5, True, None, None]]))
    # A retry whose delayed wake-up the broker lost: due in a second, and no message
    # anywhere (no worker ran yet, so there is not even a queue to hold one).
    await db.execute(
        "UPDATE report_requests SET attempts = 1, next_attempt_at = now() + interval '1 second'"
        " WHERE id = $1",
        uuid.UUID(rid),
    )
    cluster.start_worker()
    done = await wait_status(client, rid, TERMINAL, seconds=30)
    assert done["status"] == "done"
    assert done["attempts"] == 2
