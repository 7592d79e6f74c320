"""`make bench` (failure recovery): how fast a killed worker's job is picked up again, and
what a burst with random worker kills costs, at the production default timings (lease,
heartbeat and sweep interval are not overridden; the run prints them).

Prints a table and writes JSON under tests/bench/results/. Exits non-zero when a figure
measured nothing: a SIGKILL that did not land, or a burst in which no kill interrupted a
job.
"""

import argparse
import asyncio
import json
import random
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import asyncpg
import httpx

from tests.bench.environment import bench_environment
from tests.support.api import table_request
from tests.support.cluster import (
    Burst,
    Cluster,
    finished_in_logs,
    http_client,
    isolated_cluster,
    long_pdf,
    post,
    wait_processing,
)
from tests.support.database import connect

RESULTS = Path(__file__).parent / "results"
CLUSTER_ENV = {"RELATORIA_MAX_ROWS": "60000", "RELATORIA_MAX_BODY_BYTES": str(16 * 1024 * 1024)}


async def pickup_after_kill(cluster: Cluster, trials: int) -> dict[str, Any]:
    """SIGKILL the worker rendering a long PDF; time until another worker claims it."""
    db = await connect(cluster.settings)
    times = []
    async with http_client(cluster) as client:
        cluster.start_worker()
        for _ in range(trials):
            # Two workers before the job is posted: one claims it, the other survives the
            # kill, which comes as soon as the job is seen processing (a worker started
            # only then could miss it: the PDF takes a few seconds).
            cluster.start_worker()
            rid = await post(client, long_pdf(40000), "bench-kill")
            await wait_processing(db, rid, attempt=1, seconds=60)
            holder = await db.fetchval(
                "SELECT worker_id FROM report_requests WHERE id = $1::uuid", rid
            )
            process = cluster.workers[holder].process
            cluster.kill(holder)
            killed = time.monotonic()
            if process.poll() is None:
                raise RuntimeError(f"SIGKILL did not land: {holder} is still running")
            await wait_processing(db, rid, attempt=2, seconds=120)
            times.append(time.monotonic() - killed)
    await db.close()
    return {
        "lease_seconds": cluster.settings.lease_seconds,
        "sweep_interval_seconds": cluster.settings.sweep_interval_seconds,
        "pickup_seconds": [round(t, 2) for t in times],
    }


async def burst_with_kills(
    cluster: Cluster,
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    *,
    owner: str,
    requests: int,
    kills: int,
    seed: int,
    seconds: float = 240,
) -> Burst:
    """POST `requests` small CSV reports, start 2 workers at once and, from the moment
    one consumes, every 0.3-1 s SIGKILL a worker in the middle of a job (starting a
    replacement each time) until `kills` kills have interrupted one or the burst is
    done; then wait until all are `done`.

    `tests.support.cluster.burst_with_kills` starts the two workers one after the other:
    on this machine the first drained the whole burst while the second was still
    starting, so its kill loop never found a job to interrupt (0 kills landed)."""
    rng = random.Random(seed)
    body = table_request("csv", [[f"r{i}", i, i / 7, True, "2026-03-01", None] for i in range(100)])
    gate = asyncio.Semaphore(25)

    async def one() -> str:
        async with gate:
            return await post(client, body, owner)

    started = time.monotonic()
    ids = list(await asyncio.gather(*(one() for _ in range(requests))))
    workers = [cluster.start_worker(wait=False), cluster.start_worker(wait=False)]
    deadline = time.monotonic() + seconds
    while not any("worker consuming" in cluster.workers[name].log() for name in workers):
        assert time.monotonic() < deadline, "no worker started consuming"
        await asyncio.sleep(0.02)
    landed = 0
    next_kill = time.monotonic() + rng.uniform(0.3, 1.0)
    while True:
        done = await db.fetchval(
            "SELECT count(*) FROM report_requests WHERE owner_id = $1 AND status = 'done'", owner
        )
        if done == requests:
            return Burst(ids=ids, kills=landed, wall_seconds=time.monotonic() - started)
        assert time.monotonic() < deadline, f"only {done} of {requests} done in {seconds}s"
        due = landed < kills and time.monotonic() >= next_kill
        if due and await kill_one_mid_job(cluster, db, owner, workers, rng):
            landed += 1
            next_kill = time.monotonic() + rng.uniform(0.3, 1.0)
        await asyncio.sleep(0.05)


async def kill_one_mid_job(
    cluster: Cluster, db: asyncpg.Connection, owner: str, workers: list[str], rng: random.Random
) -> bool:
    """SIGKILL a worker holding a claim and start a replacement; True if its job was
    really interrupted (one that committed `done` just before the kill was not)."""
    rows = await db.fetch(
        "SELECT id, worker_id FROM report_requests WHERE owner_id = $1 AND status = 'processing'",
        owner,
    )
    held = [r for r in rows if r["worker_id"] in workers]
    if not held:
        return False
    target = rng.choice(held)
    name = target["worker_id"]
    process = cluster.workers[name].process
    workers.remove(name)
    cluster.kill(name)
    if process.poll() is None:
        raise RuntimeError(f"SIGKILL did not land: {name} is still running")
    workers.append(cluster.start_worker(wait=False))
    after = await db.fetchrow(
        "SELECT status, worker_id FROM report_requests WHERE id = $1", target["id"]
    )
    return bool(after["status"] == "processing" and after["worker_id"] == name)


async def burst_run(cluster: Cluster, requests: int, kills: int) -> dict[str, Any]:
    """`requests` small reports across 2 workers while `kills` workers are SIGKILLed."""
    db = await connect(cluster.settings)
    owner = f"bench-burst-{uuid.uuid4().hex[:6]}"
    async with http_client(cluster) as client:
        result = await burst_with_kills(
            cluster, client, db, owner=owner, requests=requests, kills=kills, seed=7
        )
    attempts = await db.fetchval(
        "SELECT sum(attempts) FROM report_requests WHERE owner_id = $1", owner
    )
    await db.close()
    ids = set(result.ids)
    ours = [rid for rid in finished_in_logs(cluster) if rid in ids]
    return {
        "requests": requests,
        "kills": result.kills,
        "wall_seconds": round(result.wall_seconds, 1),
        "attempts_total": attempts,
        "done": requests,
        "objects": sum(1 for rid in ids if cluster.s3_keys(rid) == [f"reports/{rid}.csv"]),
        "finished_twice": len(ours) - len(set(ours)),
    }


def main() -> None:
    """Run the recovery benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer trials and requests")
    args = parser.parse_args()
    trials, requests = (1, 200) if args.quick else (3, 500)
    results: dict[str, Any] = {"started_at": datetime.now(UTC).isoformat(), "quick": args.quick}
    with (
        bench_environment() as (settings, env),
        TemporaryDirectory() as logs,
        isolated_cluster(settings, env | CLUSTER_ENV, Path(logs)) as cluster,  # removed after
    ):
        results["pickup"] = asyncio.run(pickup_after_kill(cluster, trials))
        cluster.stop_workers()  # the burst starts its own two
        results["burst"] = asyncio.run(burst_run(cluster, requests, kills=6))
    pickup, burst = results["pickup"], results["burst"]
    print()
    print("relatoria failure recovery (production default timings)")
    print(
        f"  lease {pickup['lease_seconds']:g}s, sweep every {pickup['sweep_interval_seconds']:g}s"
    )
    print(f"  SIGKILL to pickup by another worker (s): {pickup['pickup_seconds']}")
    print(
        f"  burst: {burst['requests']} reports, 2 workers, {burst['kills']} SIGKILLs: "
        f"{burst['wall_seconds']}s wall, {burst['attempts_total']} attempts, "
        f"{burst['done']} done, {burst['objects']} objects, "
        f"{burst['finished_twice']} finished twice"
    )
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"recovery-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(results, indent=2))
    print(f"  saved {path}")
    if burst["kills"] == 0:
        sys.exit(
            "FAILED: no SIGKILL interrupted a job during the burst: it measured a burst "
            "without failures, not recovery"
        )


if __name__ == "__main__":
    main()
