"""What the sections of `bench_hot_path` share: the `Bench` (environment, BFF, workers,
database), starting workers, loading a server, the reports they post and the queries
that follow those reports to their end."""

import asyncio
import json
import shutil
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from relatoria_shared.domain.lanes import Lane
from relatoria_shared.settings import Settings
from tests.bench.http_load import MeasuredNothingError, lua_script, python_load, wrk_load
from tests.bench.proc_stats import cpu_seconds
from tests.support.api import COLUMNS, bearer, table_request
from tests.support.processes import RunningProcess, start

CLIENTS = 24  # concurrent clients posting the small reports (wrk: 12 per thread)
WORKERS = 2
TERMINAL = ("done", "error", "cancelled", "expired")
SMALL_TITLE = "Relatório pequeno"
BFF_ENV = {
    "RELATORIA_LOG_LEVEL": "WARNING",
    # The recovery trials post a 40,000-row PDF (tests.support.cluster.long_pdf).
    "RELATORIA_MAX_ROWS": "60000",
    "RELATORIA_MAX_BODY_BYTES": str(16 * 1024 * 1024),
}


@dataclass
class Bench:
    """What the sections share: the environment, the BFF, the workers, the database."""

    settings: Settings
    env: dict[str, str]
    logs: Path
    base_url: str
    bff: RunningProcess
    dsn: str
    db: asyncpg.Connection
    quick: bool
    reports: int
    processes: list[RunningProcess] = field(default_factory=list)
    workers: dict[str, RunningProcess] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    _started_workers: int = 0

    def fail(self, message: str) -> None:
        """Record a figure that was not measured (the run will exit non-zero)."""
        print(f"  FAILED: {message}", flush=True)
        self.failures.append(message)


def wait_lines(processes: Sequence[RunningProcess], text: str, timeout: float) -> list[float]:
    """Wait until every process has printed `text`; each one's CPU seconds at the moment
    its line was seen (polled every 20 ms)."""
    seen: list[float | None] = [None] * len(processes)
    deadline = time.monotonic() + timeout
    while True:
        for index, running in enumerate(processes):
            if seen[index] is not None:
                continue
            if text in running.log():
                seen[index] = cpu_seconds(running.process.pid)
            elif running.process.poll() is not None:
                raise MeasuredNothingError(
                    f"{running.log_path.name} exited before printing {text!r}:\n"
                    f"{running.log()[-3000:]}"
                )
        if all(value is not None for value in seen):
            return [value for value in seen if value is not None]
        if time.monotonic() > deadline:
            raise MeasuredNothingError(f"{text!r} not printed by every process in {timeout}s")
        time.sleep(0.02)


def start_workers(bench: Bench, count: int) -> list[RunningProcess]:
    """Start `count` relatoria workers at once (the environment `start_worker` gives them,
    the interactive lane, a worker id of ours each); not waited for."""
    started = []
    for _ in range(count):
        bench._started_workers += 1
        worker_id = f"bench-hot-worker-{bench._started_workers}"
        env = bench.env | {
            "RELATORIA_LOG_LEVEL": "INFO",
            "RELATORIA_WORKER_LANES": Lane.INTERACTIVE.value,
            "RELATORIA_WORKER_ID": worker_id,
        }
        running = start("relatoria_worker.main", env, bench.logs / f"{worker_id}.log")
        bench.processes.append(running)
        bench.workers[worker_id] = running
        started.append(running)
    return started


def stop_workers(bench: Bench) -> None:
    """Stop every relatoria worker (the next section starts its own)."""
    for running in bench.workers.values():
        running.stop()
    bench.workers.clear()


def ensure_workers(bench: Bench) -> None:
    """Make sure WORKERS relatoria workers are consuming."""
    for worker_id, running in list(bench.workers.items()):
        if running.process.poll() is not None:
            bench.workers.pop(worker_id)
    missing = WORKERS - len(bench.workers)
    if missing > 0:
        wait_lines(start_workers(bench, missing), "worker consuming", 60)


async def measure_load(
    bench: Bench,
    server: RunningProcess,
    url: str,
    method: str,
    requests: Sequence[tuple[dict[str, str], str | None]],
    seconds: int,
) -> dict[str, Any]:
    """Load `server` at `url` for `seconds`; the load's figures and the server process's
    CPU milliseconds per request completed."""
    pid = server.process.pid
    before = cpu_seconds(pid)
    if shutil.which("wrk"):
        result = wrk_load(url, lua_script(method, requests), seconds, bench.logs)
    else:
        result = await python_load(url, method, requests, seconds)
    cpu = cpu_seconds(pid) - before
    if server.process.poll() is not None:
        raise MeasuredNothingError(f"the server died under load:\n{server.log()[-3000:]}")
    if result["requests"] == 0:
        raise MeasuredNothingError(f"{method} {url}: no request completed ({result})")
    if result["non_2xx"] * 2 > result["requests"]:
        raise MeasuredNothingError(
            f"{method} {url}: {result['non_2xx']} of {result['requests']} answers not 2xx"
        )
    if result["non_2xx"]:
        bench.notes.append(f"{method} {url}: {result['non_2xx']} non-2xx answers")
    return result | {"cpu_seconds": cpu, "cpu_ms_per_request": cpu * 1000 / result["requests"]}


def small_report() -> dict[str, Any]:
    """An inline 100-row x 5-column XLSX `table` request (the drain's report)."""
    rows = [[f"Cliente {i}", i, i * 1.25, i % 2 == 0, "2026-02-01"] for i in range(100)]
    return {
        "type": "table",
        "format": "xlsx",
        "title": SMALL_TITLE,
        "parameters": {"columns": COLUMNS[:5], "rows": rows},
    }


def tiny_report() -> dict[str, Any]:
    """A 2-row XLSX `table` request (the POST and GET loads')."""
    rows = [
        ["Ana", 1, 1.5, True, "2026-01-01", "2026-01-01T10:00:00+00:00"],
        ["Bruno", 2, 2.5, False, "2026-01-02", None],
    ]
    return table_request("xlsx", rows)


@dataclass
class Posted:
    """What a batch of POSTs gave."""

    ids: list[str]
    statuses: dict[str, int]
    retried: int
    first_sent: float  # time.time() when the first POST went out
    seconds: float


async def post_many(
    base_url: str, body: dict[str, Any], owners: Sequence[str], total: int, seconds: float
) -> Posted:
    """POST `body` `total` times from CLIENTS concurrent clients, client i posting as
    `owners[i % len(owners)]`. A 429/503 is retried after its Retry-After (at most 5 s), as
    a frontend would; every other answer is counted, not retried."""
    content = json.dumps(body).encode()
    headers = [
        bearer(owner) | {"Content-Type": "application/json"} for owner in owners
    ]  # one token each: signing them per request would load this process, not the BFF
    ids: list[str] = []
    statuses: dict[str, int] = {}
    retried = 0
    remaining = [total]
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=CLIENTS, keepalive_expiry=2)
    async with httpx.AsyncClient(base_url=base_url, timeout=30, limits=limits) as client:

        async def one_client(index: int) -> None:
            nonlocal retried
            while remaining[0] > 0 and time.monotonic() < deadline:
                remaining[0] -= 1
                while True:
                    try:
                        response = await client.post(
                            "/v1/reports", content=content, headers=headers[index % len(headers)]
                        )
                        outcome = str(response.status_code)
                    except httpx.TransportError as exc:
                        outcome = type(exc).__name__
                    if outcome in {"429", "503"} and time.monotonic() < deadline:
                        retried += 1
                        pause = response.headers.get("Retry-After", "0.5")
                        await asyncio.sleep(min(5.0, float(pause) if _is_number(pause) else 0.5))
                        continue
                    break
                statuses[outcome] = statuses.get(outcome, 0) + 1
                if outcome == "201":
                    ids.append(response.json()["requestId"])

        first_sent = time.time()
        began = time.monotonic()
        await asyncio.gather(*(one_client(i) for i in range(CLIENTS)))
    return Posted(ids, statuses, retried, first_sent, time.monotonic() - began)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


async def wait_terminal(
    db: asyncpg.Connection, ids: Sequence[str], seconds: float, interval: float = 0.2
) -> tuple[int, int, bool]:
    """Poll until every request of `ids` is terminal: (done, terminal, finished in time)."""
    uuids = [uuid.UUID(i) for i in ids]
    deadline = time.monotonic() + seconds
    while True:
        row = await db.fetchrow(
            "SELECT count(*) FILTER (WHERE status = 'done') AS done,"
            " count(*) FILTER (WHERE status = ANY($2::text[])) AS terminal"
            " FROM report_requests WHERE id = ANY($1::uuid[])",
            uuids,
            list(TERMINAL),
        )
        if row["terminal"] >= len(uuids):
            return row["done"], row["terminal"], True
        if time.monotonic() > deadline:
            return row["done"], row["terminal"], False
        await asyncio.sleep(interval)


async def span_of(db: asyncpg.Connection, ids: Sequence[str]) -> asyncpg.Record:
    """count, min(started_at), max(finished_at) of the done requests among `ids`."""
    return await db.fetchrow(
        "SELECT count(*) AS done, min(started_at) AS first_started,"
        " max(finished_at) AS last_finished FROM report_requests"
        " WHERE id = ANY($1::uuid[]) AND status = 'done'",
        [uuid.UUID(i) for i in ids],
    )


async def cancel_pending(bench: Bench, owners: Sequence[str]) -> int:
    """Put the owners' still-queued requests out of the workers' way (cancelled): what
    the POST and GET loads left behind must not be drained with the next figures. (They
    left no messages: a new request's wake-up is a PostgreSQL notification.)"""
    cancelled: int = await bench.db.fetchval(
        "WITH c AS (UPDATE report_requests SET status = 'cancelled', finished_at = now(),"
        " updated_at = now(), version = version + 1"
        " WHERE owner_id = ANY($1::text[]) AND status = 'queued' RETURNING 1)"
        " SELECT count(*) FROM c",
        list(owners),
    )
    return cancelled


def reports_per_run(quick: bool) -> int:
    """N: how many small reports the drain, online and fair-share sections post."""
    return 300 if quick else 1000


def drain_timeout(bench: Bench) -> float:
    """How long a drain (or a batch of POSTs) of N small reports may take at most."""
    return max(120.0, bench.reports / 4)
