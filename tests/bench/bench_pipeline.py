"""`make bench`: figures for the report pipeline on this machine (a benchmark, not a test).

Measures, against the real services and the real BFF and worker processes:
- `POST /v1/reports` throughput and latency at 50 concurrent connections on one BFF
  process (workers stopped meanwhile, so only the BFF is measured);
- small reports end to end: inline 100-row XLSX reports across 2 worker processes, by a
  few users each posting the next once the last is done: reports/s and latency
  percentiles alone and while a bulk export (a year of transactions as XLSX from a demo
  reporting database) is always rendering, in alternating blocks (`ROUNDS` of each) so
  that the machine's drift weighs on both sides. Two deployments are measured:
  - lanes on their own workers (as the README recommends): the 2 workers serve the
    interactive lane and a third, bulk-only worker renders the export;
  - one pool: 2 workers serving both lanes, the export rendering on one of them.
  Each "with bulk" block starts only once an export is seen streaming rows, and the run
  fails if no export row was written during those blocks (they would have compared two
  idle runs: with quick blocks shorter than a heartbeat, progress used to read 0).

Prints a table and writes JSON under tests/bench/results/.
"""

import argparse
import asyncio
import json
import shutil
import time
from collections.abc import Awaitable
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any, TypeVar

import httpx

from relatoria_shared.report_types.demo_dataset import PERIOD_END, PERIOD_START
from relatoria_shared.settings import Settings
from tests.bench.environment import bench_environment, reporting_database, start_worker
from tests.bench.http_load import WRK_CONNECTIONS, lua_script, percentile, wrk_load
from tests.bench.results import save_results
from tests.support.api import bearer, table_request
from tests.support.database import connect
from tests.support.processes import RunningProcess, start, wait_ready
from tests.support.services import free_port

CONCURRENCY = WRK_CONNECTIONS  # the httpx POST load uses as many connections as wrk
SMALL_CLIENTS = 4
ROUNDS = 4
POST_OWNER, WRK_OWNER = "bench-post", "bench-wrk"  # the POST loads' users
T = TypeVar("T")


async def post_load(base_url: str, total: int) -> dict[str, Any]:
    """`total` POSTs of a 10-row CSV report over CONCURRENCY connections."""
    body = table_request(
        "csv", [[f"row {i}", i, i / 3, True, "2026-01-01", None] for i in range(10)]
    )
    headers = bearer(POST_OWNER)
    latencies: list[float] = []
    statuses: dict[int | str, int] = {}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(total):
        queue.put_nowait(i)
    # Idle connections expire before uvicorn's 5-second keep-alive does.
    limits = httpx.Limits(
        max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY, keepalive_expiry=2
    )

    async with httpx.AsyncClient(base_url=base_url, timeout=30, limits=limits) as client:

        async def user() -> None:
            while not queue.empty():
                queue.get_nowait()
                started = time.perf_counter()
                try:
                    response = await client.post("/v1/reports", json=body, headers=headers)
                except httpx.TransportError as exc:  # counted, not hidden
                    outcome: int | str = type(exc).__name__
                else:
                    outcome = response.status_code
                latencies.append(time.perf_counter() - started)
                statuses[outcome] = statuses.get(outcome, 0) + 1

        began = time.perf_counter()
        await asyncio.gather(*(user() for _ in range(CONCURRENCY)))
        elapsed = time.perf_counter() - began
    return {
        "requests": total,
        "concurrency": CONCURRENCY,
        "status_codes": statuses,
        "requests_per_s": total / elapsed,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "max_ms": max(latencies) * 1000,
    }


def wrk_post_load(base_url: str, seconds: int, scratch: Path) -> dict[str, Any] | None:
    """The same POST load with wrk (Debian's package), which costs the BFF's cores far less
    than a Python client does; None when wrk is not installed."""
    if shutil.which("wrk") is None:
        return None
    body = table_request(
        "csv", [[f"row {i}", i, i / 3, True, "2026-01-01", None] for i in range(10)]
    )
    headers = bearer(WRK_OWNER) | {"Content-Type": "application/json"}
    script = lua_script("POST", [(headers, json.dumps(body))])
    load = wrk_load(f"{base_url}/v1/reports", script, seconds, scratch)
    return load | {"requests_per_s": load["requests"] / load["seconds"]}


async def small_reports(base_url: str, total: int, clients: int) -> tuple[list[float], float]:
    """`total` 100-row inline XLSX reports by `clients` users, each posting its next report
    once the last is done: each one's latency and the seconds it all took. Latency is the
    server's `createdAt` to `finishedAt` (polling at 100 ms would blur the client's view
    and load the BFF)."""
    rows = [
        [f"Cliente {i}", i, i * 1.25, i % 2 == 0, "2026-02-01", "2026-02-01T10:00:00+00:00"]
        for i in range(100)
    ]
    body = table_request("xlsx", rows)
    latencies: list[float] = []
    remaining = [total]

    async def user(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        while remaining[0] > 0:
            remaining[0] -= 1
            created = await client.post("/v1/reports", json=body, headers=headers)
            rid = created.json()["requestId"]
            while True:
                await asyncio.sleep(0.1)
                document = (await client.get(f"/v1/reports/{rid}", headers=headers)).json()
                if document["status"] in {"done", "error"}:
                    break
            if document["status"] != "done":
                raise RuntimeError(f"report failed: {document}")
            latencies.append(
                (
                    datetime.fromisoformat(document["finishedAt"])
                    - datetime.fromisoformat(document["createdAt"])
                ).total_seconds()
            )

    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        began = time.perf_counter()
        await asyncio.gather(*(user(client, bearer(f"bench-small-{i}")) for i in range(clients)))
        elapsed = time.perf_counter() - began
    return latencies, elapsed


async def alone_and_with_bulk(
    base_url: str, total: int, clients: int, rounds: int, heartbeat_seconds: float
) -> tuple[dict[str, Any], dict[str, Any]]:
    """`total` small reports alone and `total` while a bulk export runs, measured in
    `rounds` alternating blocks so that the machine's drift (2 shared cores) weighs on
    both sides alike; the figures of each side over all its blocks. After each busy
    block, a heartbeat and a second let the worker notice that the export still running
    was cancelled, so that no export runs into an "alone" block. Raises if no export
    row was written during the busy blocks (they would have measured nothing)."""
    sides: dict[str, tuple[list[float], list[float]]] = {"alone": ([], []), "busy": ([], [])}
    written = 0
    busy_shares = []
    for _ in range(rounds):
        latencies, seconds = await small_reports(base_url, total // rounds, clients)
        sides["alone"][0].extend(latencies)
        sides["alone"][1].append(seconds)
        (latencies, seconds), rows, busy_share = await with_bulk_exports(
            base_url, small_reports(base_url, total // rounds, clients), heartbeat_seconds
        )
        sides["busy"][0].extend(latencies)
        sides["busy"][1].append(seconds)
        written += rows
        busy_shares.append(busy_share)
        await asyncio.sleep(heartbeat_seconds + 1)
    if written == 0:
        raise RuntimeError(
            "no bulk export row was written during the 'with bulk' blocks: they measured "
            "the small reports alone, so the comparison would be of two idle runs"
        )
    alone, busy = (
        _summary(latencies, sum(seconds), clients) for latencies, seconds in sides.values()
    )
    return alone, busy | {
        "bulk_rows_written": written,
        "bulk_rendering_share": sum(busy_shares) / len(busy_shares),
        "rounds": rounds,
    }


def _summary(latencies: list[float], seconds: float, clients: int) -> dict[str, Any]:
    return {
        "reports": len(latencies),
        "clients": clients,
        "reports_per_s": len(latencies) / seconds,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p95_ms": percentile(latencies, 95) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
    }


async def with_bulk_exports(
    base_url: str, measure: Awaitable[T], heartbeat_seconds: float
) -> tuple[T, int, float]:
    """Run `measure` while a bulk export (a year of transactions as XLSX) is rendering
    throughout: the first one is seen streaming rows (a progress heartbeat with rows
    written) before `measure` starts, and a new one is posted whenever the last finishes.
    Returns what `measure` gave, the export rows written meanwhile and the share of the
    status polls (every 0.2 s) that saw an export `processing`.

    Progress reaches the status only at heartbeats (every `heartbeat_seconds`): the rows
    of the export still running when `measure` ends are read at its next heartbeat, so
    the count may include up to one heartbeat's worth written just after. Raises when no
    export renders (refused, failed, or not streaming within a minute)."""
    headers = bearer("bench-bulk")
    body = {
        "type": "transactions",
        "format": "xlsx",
        "title": "Transactions",
        "parameters": {"startDate": PERIOD_START.isoformat(), "endDate": PERIOD_END.isoformat()},
    }
    terminal = {"done", "error", "cancelled", "expired"}
    running = True
    polls = busy = 0

    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:

        async def post_export() -> str:
            response = await client.post("/v1/reports", json=body, headers=headers)
            if response.status_code != 201:
                raise RuntimeError(f"bulk export refused: {response.status_code} {response.text}")
            request_id: str = response.json()["requestId"]
            return request_id

        async def rows_of(rid: str) -> tuple[str, int]:
            document = (await client.get(f"/v1/reports/{rid}", headers=headers)).json()
            return document["status"], (document["progress"] or {}).get("rowsWritten", 0)

        current = await post_export()
        deadline = time.monotonic() + 60
        while True:
            status, rows = await rows_of(current)
            if status == "processing" and rows > 0:
                break
            if status in terminal or time.monotonic() > deadline:
                raise RuntimeError(f"the bulk export never streamed rows (it is {status})")
            await asyncio.sleep(0.2)
        written = -rows  # those came before the measure

        async def exports() -> None:
            nonlocal current, written, polls, busy
            while running:
                status, rows = await rows_of(current)
                polls += 1
                busy += status == "processing"
                if status in terminal:
                    written += rows if status == "done" else 0
                    current = await post_export()
                await asyncio.sleep(0.2)

        background = asyncio.create_task(exports())
        try:
            result = await measure
        finally:
            running = False
            await background
        status, last = await rows_of(current)
        deadline = time.monotonic() + heartbeat_seconds + 2
        while status == "processing" and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            status, rows = await rows_of(current)
            if rows != last or status in terminal:
                last = rows
                break
        written += last
        if status not in terminal:
            # Cancelled, so no export outlives this measure into the next.
            await client.delete(f"/v1/reports/{current}", headers=headers)
    return result, max(written, 0), busy / polls if polls else 0.0


async def cancel_post_load(settings: Settings) -> None:
    """Cancel the requests the POST load queued, so the latency run starts with an idle
    worker. (They left no messages: a new request's wake-up is a PostgreSQL notification.)"""
    db = await connect(settings)
    try:
        await db.execute(
            "UPDATE report_requests SET status = 'cancelled', finished_at = now(),"
            " updated_at = now(), version = version + 1"
            " WHERE owner_id = ANY($1::text[]) AND status = 'queued'",
            [POST_OWNER, WRK_OWNER],
        )
    finally:
        await db.close()


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer requests, for a fast look")
    args = parser.parse_args()
    posts, small, export_rows = (500, 200, 100_000) if args.quick else (3000, 1000, 200_000)

    results: dict[str, Any] = {"started_at": datetime.now(UTC).isoformat(), "quick": args.quick}
    with (
        bench_environment() as (settings, base_env),
        reporting_database(export_rows) as reporting,
        TemporaryDirectory() as logs,
    ):
        port = free_port()
        env = base_env | {
            "RELATORIA_BFF_PORT": str(port),
            "RELATORIA_LOG_LEVEL": "WARNING",
            "RELATORIA_MAX_ROWS": "50000",
            "RELATORIA_MAX_BODY_BYTES": str(10 * 1024 * 1024),
            "RELATORIA_REPORTING_DATABASE_URL": reporting,
        }
        base_url = f"http://127.0.0.1:{port}"
        processes: list[RunningProcess] = []
        try:
            bff = start("relatoria_bff.main", env, Path(logs) / "bff.log")
            processes.append(bff)
            wait_ready(f"{base_url}/readyz", bff)
            asyncio.run(post_load(base_url, 100))  # warm-up
            results["post"] = asyncio.run(post_load(base_url, posts))
            results["post_wrk"] = wrk_post_load(base_url, 5 if args.quick else 15, Path(logs))
            asyncio.run(cancel_post_load(settings))
            for name, lanes in (("own_workers", "interactive"), ("one_pool", "interactive,bulk")):
                workers = [
                    start_worker(env, Path(logs) / f"{name}-{number}.log", lanes)
                    for number in (1, 2)
                ]
                if name == "own_workers":
                    workers.append(start_worker(env, Path(logs) / f"{name}-bulk.log", "bulk"))
                processes.extend(workers)
                asyncio.run(small_reports(base_url, 50, SMALL_CLIENTS))  # warm-up
                alone, with_bulk = asyncio.run(
                    alone_and_with_bulk(
                        base_url, small, SMALL_CLIENTS, ROUNDS, settings.heartbeat_seconds
                    )
                )
                results[name] = {"alone": alone, "with_bulk": with_bulk}
                for worker in workers:
                    worker.stop()
        finally:
            for process in processes:
                process.stop()
    report(results)


def report(results: dict[str, Any]) -> None:
    """Print the figures and save them as JSON."""
    post = results["post"]
    print()
    print("relatoria benchmark (2 cores; load generators on the same machine)")
    print(f"{'measure':<60} {'value':>12}")
    print(f"{'POST /v1/reports x50 (httpx): requests/s':<60} {post['requests_per_s']:>12.0f}")
    print(f"{'  latency p50 (ms)':<60} {post['p50_ms']:>12.1f}")
    print(f"{'  latency p99 (ms)':<60} {post['p99_ms']:>12.1f}")
    print(f"{'  requests, status codes':<60} {post['requests']:>6} {post['status_codes']}")
    if wrk := results.get("post_wrk"):
        print(f"{'POST /v1/reports x50 (wrk): requests/s':<60} {wrk['requests_per_s']:>12.0f}")
        print(f"{'  latency p50 (ms)':<60} {wrk['p50_ms']:>12.1f}")
        print(f"{'  latency p99 (ms)':<60} {wrk['p99_ms']:>12.1f}")
        print(f"{'  non-2xx responses':<60} {wrk['non_2xx']:>12}")
    else:
        print("(install Debian's wrk for a load generator that steals less CPU from the BFF)")
    for name, deployment in (
        ("own_workers", "bulk export on a bulk-only worker"),
        ("one_pool", "bulk export on one of the same workers"),
    ):
        alone, busy = results[name]["alone"], results[name]["with_bulk"]
        clients = alone["clients"]
        print(f"{alone['reports']} inline 100-row XLSX, 2 workers, {clients} users; {deployment}")
        print(f"{'':<60} {'alone':>12} {'with bulk':>12}")
        for key, label in (
            ("reports_per_s", "  reports/s"),
            ("p50_ms", "  createdAt to finishedAt p50 (ms)"),
            ("p95_ms", "  p95 (ms)"),
            ("p99_ms", "  p99 (ms)"),
        ):
            print(f"{label:<60} {alone[key]:>12.1f} {busy[key]:>12.1f}")
        print(f"{'  p95 with bulk / p95 alone':<60} {busy['p95_ms'] / alone['p95_ms']:>25.2f}")
        print(f"{'  bulk export rows written meanwhile':<60} {busy['bulk_rows_written']:>25}")
        share = busy["bulk_rendering_share"] * 100
        print(f"{'  share of the time an export was rendering (%)':<60} {share:>25.0f}")
    path = save_results("pipeline", results)
    print(f"\nsaved {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")


if __name__ == "__main__":
    main()
