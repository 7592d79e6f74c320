"""500 requests across 2 workers while workers are killed at random: every request ends
`done`, with exactly one object each; none stuck, none duplicated."""

import asyncio
import json
import random
import time
import uuid

import asyncpg
import httpx
import pytest

from tests.support.api import table_request
from tests.support.cluster import Cluster, post

pytestmark = pytest.mark.chaos

REQUESTS = 500
KILLS = 6


async def counts(db: asyncpg.Connection, owner: str) -> dict[str, int]:
    rows = await db.fetch(
        "SELECT status, count(*) AS n FROM report_requests WHERE owner_id = $1 GROUP BY status",
        owner,
    )
    return {r["status"]: r["n"] for r in rows}


async def test_burst_with_random_worker_kills(
    cluster: Cluster, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    owner = f"burst-{uuid.uuid4().hex[:6]}"
    rng = random.Random(20261122)
    body = table_request("csv", [[f"r{i}", i, i / 7, True, "2026-03-01", None] for i in range(20)])
    started = time.monotonic()
    gate = asyncio.Semaphore(25)

    async def one() -> str:
        async with gate:
            return await post(client, body, owner)

    ids = await asyncio.gather(*(one() for _ in range(REQUESTS)))
    workers = [cluster.start_worker(), cluster.start_worker()]
    kills = 0
    deadline = time.monotonic() + 240
    while True:
        state = await counts(db, owner)
        if state.get("done", 0) == REQUESTS:
            break
        assert time.monotonic() < deadline, f"stuck: {state}"
        if kills < KILLS:
            await asyncio.sleep(rng.uniform(1.0, 2.5))
            victim = workers.pop(rng.randrange(len(workers)))
            cluster.kill(victim)
            kills += 1
            workers.append(cluster.start_worker())
        else:
            await asyncio.sleep(0.2)
    wall = time.monotonic() - started

    assert await counts(db, owner) == {"done": REQUESTS}
    keys = {
        o["Key"]
        for page in cluster.s3()
        .get_paginator("list_objects_v2")
        .paginate(Bucket=cluster.settings.s3_bucket, Prefix="reports/")
        for o in page.get("Contents", [])
    }
    assert {f"reports/{rid}.csv" for rid in ids} <= keys
    finished_by_logs = [
        json.loads(line)["request_id"]
        for process_log in cluster.logs.glob("worker-*.log")
        for line in process_log.read_text().splitlines()
        if line.startswith("{") and '"event": "job done"' in line
    ]
    ours = [rid for rid in finished_by_logs if rid in set(ids)]
    # None finished twice. (A worker killed between committing `done` and logging it
    # leaves no line, so fewer lines than requests is possible; duplicates are not.)
    assert len(ours) == len(set(ours))
    attempts = await db.fetchval(
        "SELECT sum(attempts) FROM report_requests WHERE owner_id = $1", owner
    )
    assert attempts > REQUESTS  # the kills did hit jobs in flight
    sizes = dict(
        await db.fetch(
            "SELECT object_key, size_bytes FROM report_requests WHERE owner_id = $1", owner
        )
    )
    s3 = cluster.s3()
    for key, size in list(sizes.items())[:100]:  # the stored object is the recorded one
        head = s3.head_object(Bucket=cluster.settings.s3_bucket, Key=key)
        assert head["ContentLength"] == size
    print(f"\n{REQUESTS} reports, {kills} kills: {wall:.1f}s wall, {attempts} attempts in total")
