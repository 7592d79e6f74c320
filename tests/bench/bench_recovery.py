"""`make bench` (failure recovery): how fast a killed worker's job is picked up again, and
what a burst with random worker kills costs, at the production default timings (lease,
heartbeat and sweep interval are not overridden; the run prints them).

Prints a table and writes JSON under tests/bench/results/. Exits non-zero when a figure
measured nothing: a SIGKILL that did not land, or a burst in which no kill interrupted a
job.
"""

import argparse
import asyncio
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from tests.bench.environment import bench_environment
from tests.bench.results import save_results
from tests.support.cluster import (
    Cluster,
    burst_with_kills,
    finished_in_logs,
    http_client,
    isolated_cluster,
    long_pdf,
    post,
    wait_processing,
)
from tests.support.database import connect

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
    recorded = dict(
        await db.fetch(
            "SELECT id::text, object_key FROM report_requests WHERE owner_id = $1", owner
        )
    )
    await db.close()
    # Killed attempts may leave uploads of their own: a cleanup pass removes them.
    cluster.admin("cleanup")
    ids = set(result.ids)
    ours = [rid for rid in finished_in_logs(cluster) if rid in ids]
    return {
        "requests": requests,
        "kills": result.kills,
        "wall_seconds": round(result.wall_seconds, 1),
        "attempts_total": attempts,
        "done": requests,
        "objects": sum(1 for rid in ids if cluster.s3_keys(rid) == [recorded[rid]]),
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
        f"{burst['done']} done, {burst['objects']} with one object (the recorded one) after "
        "a cleanup, "
        f"{burst['finished_twice']} finished twice"
    )
    path = save_results("recovery", results)
    print(f"  saved {path}")
    if burst["kills"] == 0:
        sys.exit(
            "FAILED: no SIGKILL interrupted a job during the burst: it measured a burst "
            "without failures, not recovery"
        )


if __name__ == "__main__":
    main()
