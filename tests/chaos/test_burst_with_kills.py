"""500 requests across 2 workers while workers are killed at random: every request ends
`done`, with exactly one object each; none stuck, none duplicated."""

import uuid

import asyncpg
import httpx
import pytest

from tests.support.cluster import Cluster, burst_with_kills, finished_in_logs

pytestmark = pytest.mark.chaos

REQUESTS = 500
KILLS = 3


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
    burst = await burst_with_kills(
        cluster, client, db, owner=owner, requests=REQUESTS, kills=KILLS, seed=20261122
    )
    ids = burst.ids
    assert await counts(db, owner) == {"done": REQUESTS}
    recorded = dict(
        await db.fetch(
            "SELECT id::text, object_key FROM report_requests WHERE owner_id = $1", owner
        )
    )
    # Killed attempts may have left uploads of their own; after a cleanup pass, each
    # report has exactly one object, the one it recorded.
    cluster.admin("cleanup")
    stored = [
        o["Key"]
        for page in cluster.s3()
        .get_paginator("list_objects_v2")
        .paginate(Bucket=cluster.settings.s3_bucket, Prefix=cluster.settings.s3_key_prefix)
        for o in page.get("Contents", [])
    ]
    assert sorted(stored) == sorted(recorded[rid] for rid in ids)
    finished_by_logs = finished_in_logs(cluster)
    ours = [rid for rid in finished_by_logs if rid in set(ids)]
    # None finished twice. (A worker killed between committing `done` and logging it
    # leaves no line, so fewer lines than requests is possible; duplicates are not.)
    assert len(ours) == len(set(ours))
    attempts = await db.fetchval(
        "SELECT sum(attempts) FROM report_requests WHERE owner_id = $1", owner
    )
    assert burst.kills == KILLS
    assert attempts >= REQUESTS + KILLS  # each kill interrupted a job, which ran again
    sizes = dict(
        await db.fetch(
            "SELECT object_key, size_bytes FROM report_requests WHERE owner_id = $1", owner
        )
    )
    s3 = cluster.s3()
    for key, size in list(sizes.items())[:100]:  # the stored object is the recorded one
        head = s3.head_object(Bucket=cluster.settings.s3_bucket, Key=key)
        assert head["ContentLength"] == size
    print(
        f"\n{REQUESTS} reports, {burst.kills} kills: {burst.wall_seconds:.1f}s, {attempts} attempts"
    )
