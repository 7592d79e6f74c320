"""Sections 3 and 4 of `bench_hot_path`: N small XLSX reports drained by 2 relatoria
workers against 2 bare worker loops, then POSTed while the workers run."""

import asyncio
import json
import shutil
import time
from collections.abc import Sequence
from typing import Any

import asyncpg

from tests.bench import baseline_worker_loop
from tests.bench.hot_path_context import (
    CLIENTS,
    WORKERS,
    Bench,
    Posted,
    cancel_pending,
    drain_timeout,
    ensure_workers,
    post_many,
    small_report,
    span_of,
    start_workers,
    stop_workers,
    wait_lines,
    wait_terminal,
)
from tests.bench.http_load import MeasuredNothingError, counted_posts
from tests.bench.proc_stats import cpu_seconds, peak_rss_mb
from tests.support.api import bearer
from tests.support.processes import RunningProcess, start


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
    stop_workers(bench)
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
