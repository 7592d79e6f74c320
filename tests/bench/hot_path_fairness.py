"""Sections 5 and 6 of `bench_hot_path`: one owner's report beside another's burst (fair
share), and a SIGKILLed worker's job claimed again (recovery)."""

import asyncio
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
import httpx

from tests.bench.hot_path_context import (
    TERMINAL,
    Bench,
    cancel_pending,
    drain_timeout,
    ensure_workers,
    post_many,
    small_report,
    span_of,
    stop_workers,
    wait_terminal,
)
from tests.bench.http_load import MeasuredNothingError
from tests.bench.proc_stats import pid_alive
from tests.support.api import bearer
from tests.support.cluster import long_pdf

_ROW = (
    "SELECT status, attempts, worker_id, created_at, started_at, finished_at"
    " FROM report_requests WHERE id = $1"
)


async def section_fair(bench: Bench) -> dict[str, Any]:
    """5. Owner A's burst of N, then owner B's one report: B's created_at to finished_at.

    The burst is queued whole before the 2 workers start (posting from Python is slower
    than they drain, so with them running there would be no backlog to be fair about); B
    posts once they are working through it."""
    stop_workers(bench)
    timeout = 60.0 if bench.quick else 120.0
    owner_a, owner_b = "bench-hot-fair-a", "bench-hot-fair-b"
    body = small_report()
    burst = await post_many(bench.base_url, body, [owner_a], bench.reports, drain_timeout(bench))
    if not burst.ids:
        raise MeasuredNothingError(f"owner A's burst: nothing accepted: {burst.statuses}")
    ensure_workers(bench)
    deadline = time.monotonic() + 30
    while not await bench.db.fetchval(
        "SELECT count(*) FROM report_requests WHERE owner_id = $1 AND status <> 'queued'", owner_a
    ):
        if time.monotonic() > deadline:
            raise MeasuredNothingError("fair share: the workers never started on A's burst")
        await asyncio.sleep(0.02)
    async with httpx.AsyncClient(base_url=bench.base_url, timeout=30) as client:
        response = await client.post("/v1/reports", json=body, headers=bearer(owner_b))
    if response.status_code != 201:
        raise MeasuredNothingError(f"owner B's POST answered {response.status_code}")
    b_id = uuid.UUID(response.json()["requestId"])
    a_queued = await bench.db.fetchval(
        "SELECT count(*) FROM report_requests WHERE id = ANY($1::uuid[]) AND status = 'queued'",
        [uuid.UUID(i) for i in burst.ids],
    )
    result: dict[str, Any] = {
        "a_accepted": len(burst.ids),
        "a_post_statuses": burst.statuses,
        "a_post_retries": burst.retried,
        "a_posting_seconds": burst.seconds,
        "a_queued_at_b": a_queued,
        "b_timeout_seconds": timeout,
    }
    finished = await poll_row(bench.db, b_id, lambda r: r["status"] in TERMINAL, timeout)
    row = finished or await bench.db.fetchrow(_ROW, b_id)
    if row["status"] != "done":
        result["b_seconds"] = timeout
        result["b_status"] = row["status"]
        bench.fail(f"fair share: B's report still {row['status']} after {timeout:.0f}s")
    else:
        result["b_seconds"] = (row["finished_at"] - row["created_at"]).total_seconds()
        result["b_status"] = "done"
    _, terminal, in_time = await wait_terminal(bench.db, burst.ids, drain_timeout(bench))
    span = await span_of(bench.db, burst.ids)
    if not in_time:
        bench.fail(f"fair share: only {terminal} of A's {len(burst.ids)} finished in time")
        await cancel_pending(bench, [owner_a])
    if span["done"]:
        a_end = span["last_finished"].timestamp()
        result["a_finished_seconds"] = a_end - burst.first_sent
        if row["finished_at"] is not None:
            result["b_before_a_end_seconds"] = a_end - row["finished_at"].timestamp()
    return result


async def section_recovery(bench: Bench) -> dict[str, Any]:
    """6. SIGKILL the worker rendering a long PDF; seconds until it is claimed again."""
    trials = 3 if bench.quick else 5
    owner = "bench-hot-recovery"
    headers = bearer(owner)
    body = long_pdf(40000)
    pickups: list[float] = []
    reclaimed_by: list[str | None] = []
    void = 0
    timeout = 120.0
    async with httpx.AsyncClient(base_url=bench.base_url, timeout=60) as client:
        for _ in range(trials * 2):  # a trial whose job finished before the kill is redone
            if len(pickups) == trials:
                break
            ensure_workers(bench)
            response = await client.post("/v1/reports", json=body, headers=headers)
            if response.status_code != 201:
                raise MeasuredNothingError(f"the long PDF's POST answered {response.status_code}")
            rid = uuid.UUID(response.json()["requestId"])
            row = await poll_row(
                bench.db, rid, lambda r: r["status"] == "processing" and r["attempts"] == 1, 60
            )
            if row is None:
                raise MeasuredNothingError("the long PDF was never claimed within 60s")
            holder = row["worker_id"]
            victim = bench.workers.pop(holder, None)
            if victim is None:
                raise MeasuredNothingError(
                    f"the job is held by {holder!r}, none of our workers {list(bench.workers)}"
                )
            victim.kill()
            killed = time.monotonic()
            if pid_alive(victim.process.pid):
                raise MeasuredNothingError(f"SIGKILL did not land: {holder} is still alive")
            after = await bench.db.fetchrow(
                "SELECT status, attempts, worker_id FROM report_requests WHERE id = $1", rid
            )
            if not (after["status"] == "processing" and after["worker_id"] == holder):
                void += 1  # it finished just before the kill: nothing to recover
                continue
            again = await poll_row(bench.db, rid, claimed_again(row), timeout)
            if again is None:
                bench.fail(f"recovery: the killed job was not claimed again within {timeout:.0f}s")
                pickups.append(timeout)
            else:
                pickups.append(time.monotonic() - killed)
                reclaimed_by.append(again["worker_id"])
            print(f"  pickup after SIGKILL: {pickups[-1]:.2f}s", flush=True)
            # Stop rendering it (the survivor notices at its next heartbeat).
            await client.delete(f"/v1/reports/{rid}", headers=headers)
    if not pickups:
        raise MeasuredNothingError(f"no SIGKILL interrupted a job ({void} came too late)")
    return {
        "lease_seconds": bench.settings.lease_seconds,
        "heartbeat_seconds": bench.settings.heartbeat_seconds,
        "sweep_interval_seconds": bench.settings.sweep_interval_seconds,
        "pickup_seconds": [round(p, 2) for p in pickups],
        "p50_seconds": statistics.median(pickups),
        "max_seconds": max(pickups),
        "void_trials": void,
        "reclaimed_by": reclaimed_by,
    }


def claimed_again(first: asyncpg.Record) -> Callable[[asyncpg.Record], bool]:
    """Whether a later row of the request shows it claimed after `first`: another attempt
    counted, a new start, or another holder."""

    def check(row: asyncpg.Record) -> bool:
        return bool(
            row["attempts"] > first["attempts"]
            or row["started_at"] not in (None, first["started_at"])
            or row["worker_id"] not in (None, first["worker_id"])
        )

    return check


async def poll_row(
    db: asyncpg.Connection,
    rid: uuid.UUID,
    condition: Callable[[asyncpg.Record], bool],
    seconds: float,
) -> asyncpg.Record | None:
    """Poll the request's row every 20 ms until `condition` holds; None after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        row = await db.fetchrow(_ROW, rid)
        if row is not None and condition(row):
            return row
        await asyncio.sleep(0.02)
    return None
