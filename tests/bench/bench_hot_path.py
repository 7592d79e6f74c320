"""`make bench` (hot path): relatoria's hot paths measured side by side with bare baselines
doing the least the same job needs, in one run on this machine (a benchmark, not a test).

Against the real services and the real BFF and worker processes (production default
settings: lease, heartbeat and sweep are not overridden):

1. `POST /v1/reports` (a 2-row `table` XLSX request) on one BFF process, workers stopped,
   driven by `wrk -t2 -c50 --latency` (a Python client when wrk is missing), against
   `baseline_post_app` (FastAPI + asyncpg INSERT ... RETURNING) under the same load:
   2xx requests/s, p50, p99, and CPU per request of the server process (/proc utime +
   stime over the run, divided by the requests completed).
2. `GET /v1/reports/{id}` of a queued report (its status cached in Redis by a first read)
   against `baseline_status_app` (FastAPI reading the same Redis hash field).
3. Drain: N inline 100-row x 5-column XLSX reports queued while no worker runs, then 2
   worker processes (interactive lane) started; from the first job's `started_at` to the
   last one's `finished_at` (PostgreSQL): reports/s, worker CPU per report (from each
   worker's "worker consuming" to the end of the drain) and peak RSS (VmHWM, both workers
   summed), against 2 `baseline_worker_loop` processes draining the same N jobs.
4. Online: the same N reports POSTed (by wrk, 24 connections, 24 owners) while the 2
   workers run: reports/s from the first POST to the last `finished_at`. (An httpx client
   would take about half a core from the BFF and workers it loads.)
5. Fair share: owner A POSTs a burst of N, owner B one report right after; B's
   `created_at` to `finished_at`, and when A's burst finished.
6. Recovery: a long PDF rendering on one of 2 workers, that worker SIGKILLed; seconds
   until the job is claimed again (its `attempts` goes to 2), over several trials.

N is 1,000 (300 with --quick). Prints a table of relatoria against the baselines with
ratios and PASS/MISS against each target, and writes JSON under tests/bench/results/.
A missed target is a figure; a figure that could not be measured (wrk saw no requests or
mostly errors, nothing drained, a SIGKILL that did not land, a wait that timed out) is a
failure: it is printed as such and the run exits non-zero.
"""

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import asyncpg
import httpx
from redis.asyncio import Redis
from sqlalchemy.engine import make_url

from relatoria_shared.cache.status_cache import StatusCache
from relatoria_shared.domain.lanes import Lane
from relatoria_shared.settings import Settings
from tests.bench import baseline_worker_loop
from tests.bench.environment import bench_environment
from tests.bench.hot_path_table import table
from tests.bench.http_load import (
    MeasuredNothingError,
    counted_posts,
    lua_script,
    python_load,
    wrk_load,
)
from tests.bench.proc_stats import cpu_seconds, peak_rss_mb, pid_alive
from tests.support.api import COLUMNS, bearer, table_request
from tests.support.cluster import long_pdf
from tests.support.database import connect
from tests.support.processes import RunningProcess, start, wait_ready
from tests.support.services import free_port

RESULTS = Path(__file__).parent / "results"
POST_OWNERS = 64  # the POST load comes from many users, as a BFF's does
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


# --- processes: starting them, their CPU time and peak memory from /proc ----------------


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


def ensure_workers(bench: Bench) -> None:
    """Make sure WORKERS relatoria workers are consuming."""
    for worker_id, running in list(bench.workers.items()):
        if running.process.poll() is not None:
            bench.workers.pop(worker_id)
    missing = WORKERS - len(bench.workers)
    if missing > 0:
        wait_lines(start_workers(bench, missing), "worker consuming", 60)


# --- HTTP load: wrk, or a Python client when wrk is missing (tests.bench.http_load) ------


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


# --- relatoria requests and the database ------------------------------------------------


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


# --- the sections ---------------------------------------------------------------------


async def section_post(bench: Bench) -> dict[str, Any]:
    """1. POST /v1/reports: relatoria's BFF against baseline_post_app."""
    seconds, warm = (5, 2) if bench.quick else (15, 3)
    body = json.dumps(tiny_report())
    owners = [f"bench-hot-post-{i}" for i in range(POST_OWNERS)]
    requests = [(bearer(owner) | {"Content-Type": "application/json"}, body) for owner in owners]
    port = free_port()
    baseline = start(
        "tests.bench.baseline_post_app",
        {},
        bench.logs / "baseline_post_app.log",
        ["--dsn", bench.dsn, "--port", str(port)],
    )
    bench.processes.append(baseline)
    try:
        base_url = f"http://127.0.0.1:{port}"
        wait_ready(f"{base_url}/healthz", baseline)
        servers = {"relatoria": (bench.bff, bench.base_url), "baseline": (baseline, base_url)}
        for server, url in servers.values():  # warm-up, not measured
            await measure_load(bench, server, f"{url}/v1/reports", "POST", requests, warm)
        result: dict[str, Any] = {}
        for name, (server, url) in servers.items():
            result[name] = await measure_load(
                bench, server, f"{url}/v1/reports", "POST", requests, seconds
            )
    finally:
        baseline.stop()
    await asyncio.sleep(1)  # the last requests wrk left in flight
    result["cancelled_afterwards"] = await cancel_pending(bench, owners)
    return result


async def section_get(bench: Bench) -> dict[str, Any]:
    """2. GET /v1/reports/{id} of a queued report: the BFF against baseline_status_app."""
    seconds, warm = (5, 2) if bench.quick else (15, 3)
    owner = "bench-hot-get"
    headers = bearer(owner)
    redis = Redis.from_url(bench.settings.redis_url.get_secret_value())
    cache = StatusCache.from_settings(redis, bench.settings)
    probe = uuid.uuid4()
    key_format = cache.key(probe).replace("{", "{{").replace("}", "}}").replace(str(probe), "{id}")
    port = free_port()
    baseline = start(
        "tests.bench.baseline_status_app",
        {},
        bench.logs / "baseline_status_app.log",
        [
            "--redis-url",
            bench.settings.redis_url.get_secret_value(),
            "--key-format",
            key_format,
            "--port",
            str(port),
        ],
    )
    bench.processes.append(baseline)
    result: dict[str, Any] = {"key_format": key_format}
    try:
        base_url = f"http://127.0.0.1:{port}"
        wait_ready(f"{base_url}/healthz", baseline)
        async with httpx.AsyncClient(base_url=bench.base_url, timeout=30) as client:

            async def fresh_report() -> str:
                # Unfinished reports are cached only briefly (status_cache_active_ttl):
                # a report of its own for each run keeps every run on the cached path.
                response = await client.post("/v1/reports", json=tiny_report(), headers=headers)
                if response.status_code != 201:
                    raise MeasuredNothingError(f"POST answered {response.status_code}")
                rid: str = response.json()["requestId"]
                # The first read caches the status document (the POST does not).
                read = await client.get(f"/v1/reports/{rid}", headers=headers)
                if read.status_code != 200:
                    raise MeasuredNothingError(f"GET answered {read.status_code}")
                key = cache.key(uuid.UUID(rid))
                if await redis.hget(key, "doc") is None:
                    raise MeasuredNothingError(f"the first read cached no status at {key}")
                ttl = await redis.ttl(key)
                if 0 <= ttl < seconds + warm:
                    bench.notes.append(
                        f"GET: the cached status lives {ttl}s, less than a {seconds}s run"
                    )
                return rid

            servers = {"relatoria": (bench.bff, bench.base_url), "baseline": (baseline, base_url)}
            for name, (server, url) in servers.items():
                rid = await fresh_report()
                target = f"{url}/v1/reports/{rid}"
                await measure_load(bench, server, target, "GET", [(headers, None)], warm)
                result[name] = await measure_load(
                    bench, server, target, "GET", [(headers, None)], seconds
                )
    finally:
        baseline.stop()
        await redis.aclose()
    await cancel_pending(bench, [owner])
    return result


async def section_drain(bench: Bench) -> dict[str, Any]:
    """3. N small XLSX reports drained by 2 workers, against 2 baseline worker loops."""
    body = small_report()
    result: dict[str, Any] = {"reports": bench.reports}
    try:
        result["baseline"] = await drain_baseline(bench, body)
    except MeasuredNothingError as exc:  # relatoria's figures are still worth having
        bench.fail(f"baseline drain: {exc}")
    result["relatoria"] = await drain_relatoria(bench, body)
    return result


async def drain_baseline(bench: Bench, body: dict[str, Any]) -> dict[str, Any]:
    """The baseline's drain: the same N jobs in `bench_jobs`, 2 baseline_worker_loop
    processes started at once."""
    await baseline_worker_loop.prepare(bench.dsn, bench.reports, body["parameters"], body["title"])
    s3 = bench.settings.s3_endpoint_url or ""
    processes = [
        start(
            "tests.bench.baseline_worker_loop",
            {},
            bench.logs / f"baseline-worker-{n}.log",
            [
                "--dsn",
                bench.dsn,
                "--s3-endpoint",
                s3,
                "--bucket",
                bench.settings.s3_bucket,
                "--redis-url",
                bench.settings.redis_url.get_secret_value(),
                "--redis-prefix",
                f"{bench.settings.redis_prefix}baseline:",
                "--worker-id",
                f"baseline-{n}",
            ],
        )
        for n in range(1, WORKERS + 1)
    ]
    bench.processes.extend(processes)
    try:
        cpu_at_ready = wait_lines(processes, baseline_worker_loop.READY, 60)
        deadline = time.monotonic() + drain_timeout(bench)
        while True:
            done = await bench.db.fetchval("SELECT count(*) FROM bench_jobs WHERE status = 'done'")
            if done >= bench.reports or time.monotonic() > deadline:
                break
            if any(p.process.poll() is not None for p in processes):
                break
            await asyncio.sleep(0.2)
        figures = drain_figures(processes, cpu_at_ready)
        span = await bench.db.fetchrow(
            "SELECT count(*) AS done, min(started_at) AS first_started,"
            " max(finished_at) AS last_finished FROM bench_jobs WHERE status = 'done'"
        )
    finally:
        for running in processes:
            running.stop()
    if 0 < span["done"] < bench.reports:
        bench.fail(f"baseline drain: {span['done']} of {bench.reports} done in time")
    return drain_result(bench, "baseline drain", span, figures, processes)


async def drain_relatoria(bench: Bench, body: dict[str, Any]) -> dict[str, Any]:
    """relatoria's drain: N reports POSTed while no worker runs, then 2 workers started."""
    for running in bench.workers.values():
        running.stop()
    bench.workers.clear()
    owners = [f"bench-hot-drain-{i}" for i in range(CLIENTS)]
    posted = await post_many(bench.base_url, body, owners, bench.reports, drain_timeout(bench))
    print(f"  queued {len(posted.ids)} in {posted.seconds:.1f}s {posted.statuses}", flush=True)
    if not posted.ids:
        raise MeasuredNothingError(f"no report was accepted: {posted.statuses}")
    workers = start_workers(bench, WORKERS)
    cpu_at_ready = wait_lines(workers, "worker consuming", 60)
    done, terminal, in_time = await wait_terminal(bench.db, posted.ids, drain_timeout(bench))
    figures = drain_figures(workers, cpu_at_ready)
    if not in_time:
        bench.fail(
            f"relatoria drain: {terminal} of {len(posted.ids)} finished within "
            f"{drain_timeout(bench):.0f}s"
        )
    span = await span_of(bench.db, posted.ids)
    result = drain_result(bench, "relatoria drain", span, figures, workers)
    return result | {
        "accepted": len(posted.ids),
        "post_statuses": posted.statuses,
        "errors": terminal - done,
    }


def reports_per_run(quick: bool) -> int:
    """N: how many small reports the drain, online and fair-share sections post."""
    return 300 if quick else 1000


def drain_timeout(bench: Bench) -> float:
    """How long a drain (or a batch of POSTs) of N small reports may take at most."""
    return max(120.0, bench.reports / 4)


def drain_figures(
    processes: Sequence[RunningProcess], cpu_at_ready: Sequence[float]
) -> dict[str, Any]:
    """The workers' CPU since each was ready, and their peak RSS, read now."""
    cpu = sum(
        cpu_seconds(p.process.pid) - ready for p, ready in zip(processes, cpu_at_ready, strict=True)
    )
    return {
        "cpu_seconds": cpu,
        "peak_rss_mb": sum(peak_rss_mb(p.process.pid) for p in processes),
        "alive": all(p.process.poll() is None for p in processes),
    }


def drain_result(
    bench: Bench,
    name: str,
    span: asyncpg.Record,
    figures: dict[str, Any],
    processes: Sequence[RunningProcess],
) -> dict[str, Any]:
    """reports/s, CPU per report and RSS of one drain; a drain of nothing fails."""
    done = int(span["done"])
    if not figures["alive"]:
        logs = "\n".join(p.log()[-1500:] for p in processes if p.process.poll() is not None)
        bench.fail(f"{name}: a worker process died during the drain:\n{logs}")
    if done == 0 or span["first_started"] is None:
        raise MeasuredNothingError(f"{name}: no report was drained")
    seconds = (span["last_finished"] - span["first_started"]).total_seconds()
    return {
        "done": done,
        "seconds": seconds,
        "reports_per_s": done / seconds if seconds > 0 else None,
        "cpu_ms_per_report": figures["cpu_seconds"] * 1000 / done,
        "peak_rss_mb": figures["peak_rss_mb"],
    }


async def section_online(bench: Bench) -> dict[str, Any]:
    """4. N small reports POSTed while the 2 workers run: first POST to last done."""
    ensure_workers(bench)
    owners = [f"bench-hot-online-{i}" for i in range(CLIENTS)]
    posted = await post_online(bench, small_report(), owners)
    if not posted.ids:
        raise MeasuredNothingError(f"no report was accepted: {posted.statuses}")
    done, terminal, in_time = await wait_terminal(bench.db, posted.ids, drain_timeout(bench))
    if not in_time:
        bench.fail(f"online: {terminal} of {len(posted.ids)} finished in time")
        await cancel_pending(bench, owners)
    span = await span_of(bench.db, posted.ids)
    if not span["done"]:
        raise MeasuredNothingError("online: no report was done")
    seconds = span["last_finished"].timestamp() - posted.first_sent
    return {
        "load_generator": "wrk" if shutil.which("wrk") else "httpx",
        "accepted": len(posted.ids),
        "post_statuses": posted.statuses,
        "post_retries": posted.retried,
        "posting_seconds": posted.seconds,
        "done": int(span["done"]),
        "errors": terminal - done,
        "seconds": seconds,
        "reports_per_s": int(span["done"]) / seconds,
    }


async def post_online(bench: Bench, body: dict[str, Any], owners: Sequence[str]) -> Posted:
    """POST `body` N times as `owners` in turn: with wrk (its CPU is next to nothing), the
    accepted requests then read back by owner; with httpx when wrk is missing."""
    if not shutil.which("wrk"):
        return await post_many(bench.base_url, body, owners, bench.reports, drain_timeout(bench))
    content = json.dumps(body)
    requests = [(bearer(owner) | {"Content-Type": "application/json"}, content) for owner in owners]
    counted = await counted_posts(
        f"{bench.base_url}/v1/reports",
        requests,
        bench.reports,
        connections=CLIENTS,
        within=drain_timeout(bench),
        scratch=bench.logs,
    )
    ids = await bench.db.fetch(
        "SELECT id::text FROM report_requests WHERE owner_id = ANY($1::text[])", list(owners)
    )
    accepted = [row["id"] for row in ids]
    if len(accepted) != counted.statuses.get("201", 0):
        bench.fail(f"online: wrk saw {counted.statuses}, the database holds {len(accepted)}")
    return Posted(accepted, counted.statuses, 0, counted.first_sent, counted.seconds)


async def section_fair(bench: Bench) -> dict[str, Any]:
    """5. Owner A's burst of N, then owner B's one report: B's created_at to finished_at.

    The burst is queued whole before the 2 workers start (posting from Python is slower
    than they drain, so with them running there would be no backlog to be fair about); B
    posts once they are working through it."""
    for running in bench.workers.values():
        running.stop()
    bench.workers.clear()
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
    b_id = response.json()["requestId"]
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
    deadline = time.monotonic() + timeout
    while True:
        row = await bench.db.fetchrow(
            "SELECT status, created_at, finished_at FROM report_requests WHERE id = $1",
            uuid.UUID(b_id),
        )
        if row["status"] in TERMINAL or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
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
        row = await db.fetchrow(
            "SELECT status, attempts, worker_id, started_at FROM report_requests WHERE id = $1",
            rid,
        )
        if row is not None and condition(row):
            return row
        await asyncio.sleep(0.02)
    return None


SECTIONS: list[tuple[str, Callable[[Bench], Awaitable[dict[str, Any]]]]] = [
    ("post", section_post),
    ("get", section_get),
    ("drain", section_drain),
    ("online", section_online),
    ("fair_share", section_fair),
    ("recovery", section_recovery),
]


async def run_sections(bench: Bench, results: dict[str, Any], only: set[str]) -> None:
    """Every section in turn; one that fails is recorded and the next one still runs."""
    for name, section in SECTIONS:
        if only and name not in only:
            continue
        print(f"== {name}", flush=True)
        began = time.monotonic()
        try:
            results[name] = await section(bench)
        except MeasuredNothingError as exc:
            bench.fail(f"{name}: {exc}")
            results[name] = {"failed": str(exc)}
        except Exception as exc:
            traceback.print_exc()
            bench.fail(f"{name}: crashed: {exc!r}")
            results[name] = {"failed": repr(exc)}
        print(f"   ({time.monotonic() - began:.0f}s)", flush=True)


async def run(
    settings: Settings, env: dict[str, str], logs: Path, quick: bool, only: set[str]
) -> tuple[dict[str, Any], list[str], list[str]]:
    """Start the BFF, run the sections, stop every process started."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    bff = start(
        "relatoria_bff.main", env | BFF_ENV | {"RELATORIA_BFF_PORT": str(port)}, logs / "bff.log"
    )
    url = make_url(settings.database_url.get_secret_value()).set(drivername="postgresql")
    db = await connect(settings)
    bench = Bench(
        settings=settings,
        env=env | BFF_ENV,
        logs=logs,
        base_url=base_url,
        bff=bff,
        dsn=url.render_as_string(hide_password=False),
        db=db,
        quick=quick,
        reports=reports_per_run(quick),
        processes=[bff],
    )
    results: dict[str, Any] = {}
    try:
        wait_ready(f"{base_url}/readyz", bff)
        await run_sections(bench, results, only)
    finally:
        for running in bench.processes:
            if not running.log_file.closed:
                running.stop()
        await db.close()
    return results, bench.failures, bench.notes


def main() -> None:
    """Run the benchmark, print its table, save its JSON; exit 1 if anything measured
    nothing."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="shorter runs, fewer reports")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        choices=[name for name, _ in SECTIONS],
        help="run only this section (repeatable); for development",
    )
    args = parser.parse_args()
    results: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(),
        "quick": args.quick,
        "reports": reports_per_run(args.quick),
        "cores": os.cpu_count(),
        "load_generator": "wrk" if shutil.which("wrk") else "httpx (wrk not installed)",
    }
    if not shutil.which("wrk"):
        print("wrk is not installed: the HTTP loads use a Python client (noisier, heavier)")
    with bench_environment() as (settings, env), TemporaryDirectory() as logs:
        figures, failures, notes = asyncio.run(
            run(settings, env, Path(logs), args.quick, set(args.only))
        )
    results |= figures | {"failures": failures, "notes": notes}
    print()
    print(
        f"relatoria hot path vs bare baselines ({os.cpu_count()} cores, shared; load "
        "generators on the same machine)"
    )
    for line in table(results):
        print(line)
    for note in notes:
        print(f"note: {note}")
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"hot_path-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(results, indent=2, default=str))
    print(f"\nsaved {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    if failures:
        print(f"\nFAILED: {len(failures)} figure(s) measured nothing:", file=sys.stderr)
        for failure in failures:
            print(f"  - {failure.splitlines()[0]}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
