"""`make bench`: figures for the report pipeline on this machine (a benchmark, not a test).

Measures, against the real services and the real BFF and worker processes:
- `POST /v1/reports` throughput and latency at 50 concurrent connections on one BFF
  process (workers stopped meanwhile, so only the BFF is measured);
- time from POST to `done` for a 100-row XLSX with an idle worker, sequentially.

Prints a table and writes JSON under tests/bench/results/.
"""

import argparse
import asyncio
import json
import re
import shutil
import statistics
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import aio_pika
import httpx

from relatoria_shared.messaging.topology import Topology
from relatoria_shared.settings import Settings
from tests.bench.environment import bench_environment
from tests.support.api import bearer, table_request
from tests.support.processes import RunningProcess, start, wait_for_log, wait_ready
from tests.support.services import free_port

RESULTS = Path(__file__).parent / "results"
CONCURRENCY = 50


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank."""
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered)) - 1))
    return ordered[index]


async def post_load(base_url: str, total: int) -> dict[str, Any]:
    """`total` POSTs of a 10-row CSV report over CONCURRENCY connections."""
    body = table_request(
        "csv", [[f"row {i}", i, i / 3, True, "2026-01-01", None] for i in range(10)]
    )
    headers = bearer("bench-post")
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(total):
        queue.put_nowait(i)
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)

    async with httpx.AsyncClient(base_url=base_url, timeout=30, limits=limits) as client:

        async def user() -> None:
            while not queue.empty():
                queue.get_nowait()
                started = time.perf_counter()
                response = await client.post("/v1/reports", json=body, headers=headers)
                latencies.append(time.perf_counter() - started)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

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


def wrk_load(base_url: str, seconds: int) -> dict[str, Any] | None:
    """The same POST load with wrk (Debian's package), which costs the BFF's cores far less
    than a Python client does; None when wrk is not installed."""
    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    body = table_request(
        "csv", [[f"row {i}", i, i / 3, True, "2026-01-01", None] for i in range(10)]
    )
    token = bearer("bench-wrk")["Authorization"]
    script = (
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "{token}"\n'
        f"wrk.body = {json.dumps(json.dumps(body))}\n"
    )
    with TemporaryDirectory() as scratch:
        lua = Path(scratch) / "post.lua"
        lua.write_text(script)
        output = subprocess.run(
            [
                wrk,
                "-t2",
                f"-c{CONCURRENCY}",
                f"-d{seconds}s",
                "--latency",
                "-s",
                str(lua),
                f"{base_url}/v1/reports",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    return {
        "tool": "wrk",
        "seconds": seconds,
        "concurrency": CONCURRENCY,
        "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),  # type: ignore[union-attr]
        "p50_ms": _wrk_ms(output, "50%"),
        "p99_ms": _wrk_ms(output, "99%"),
        "non_2xx": int(m.group(1))
        if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", output))
        else 0,
    }


def _wrk_ms(output: str, label: str) -> float:
    match = re.search(rf"{re.escape(label)}\s+([\d.]+)(us|ms|s)", output)
    if match is None:
        raise RuntimeError(f"no {label} latency in wrk's output:\n{output}")
    value, unit = float(match.group(1)), match.group(2)
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


async def post_to_done(base_url: str, count: int) -> dict[str, Any]:
    """`count` sequential 100-row XLSX reports: POST-to-done as the client sees it."""
    rows = [
        [f"Cliente {i}", i, i * 1.25, i % 2 == 0, "2026-02-01", "2026-02-01T10:00:00+00:00"]
        for i in range(100)
    ]
    headers = bearer("bench-latency")
    observed: list[float] = []
    server_side: list[float] = []
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        for _ in range(count):
            started = time.perf_counter()
            created = await client.post(
                "/v1/reports", json=table_request("xlsx", rows), headers=headers
            )
            rid = created.json()["requestId"]
            while True:
                document = (await client.get(f"/v1/reports/{rid}", headers=headers)).json()
                if document["status"] in {"done", "error"}:
                    break
                await asyncio.sleep(0.005)
            observed.append(time.perf_counter() - started)
            if document["status"] != "done":
                raise RuntimeError(f"report failed: {document}")
            server_side.append(
                (
                    datetime.fromisoformat(document["finishedAt"])
                    - datetime.fromisoformat(document["createdAt"])
                ).total_seconds()
            )
    return {
        "reports": count,
        "observed_p50_ms": statistics.median(observed) * 1000,
        "observed_p95_ms": percentile(observed, 95) * 1000,
        "server_p50_ms": statistics.median(server_side) * 1000,
    }


async def purge_work_queue(settings: Settings) -> None:
    """Drop the jobs the POST load queued, so the latency run starts with an idle worker."""
    connection = await aio_pika.connect(settings.amqp_url.get_secret_value())
    async with connection:
        channel = await connection.channel()
        queue = await channel.get_queue(Topology(settings.amqp_namespace).work_queue)
        await queue.purge()


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer requests, for a fast look")
    args = parser.parse_args()
    posts, latency_runs = (500, 20) if args.quick else (3000, 50)

    results: dict[str, Any] = {"started_at": datetime.now(UTC).isoformat(), "quick": args.quick}
    with bench_environment() as (settings, base_env), TemporaryDirectory() as logs:
        port = free_port()
        env = base_env | {
            "RELATORIA_BFF_PORT": str(port),
            "RELATORIA_LOG_LEVEL": "WARNING",
            "RELATORIA_MAX_ROWS": "50000",
            "RELATORIA_MAX_BODY_BYTES": str(10 * 1024 * 1024),
        }
        base_url = f"http://127.0.0.1:{port}"
        processes: list[RunningProcess] = []
        try:
            bff = start("relatoria_bff.main", env, Path(logs) / "bff.log")
            processes.append(bff)
            wait_ready(f"{base_url}/readyz", bff)
            asyncio.run(post_load(base_url, 100))  # warm-up
            results["post"] = asyncio.run(post_load(base_url, posts))
            results["post_wrk"] = wrk_load(base_url, 5 if args.quick else 15)
            asyncio.run(purge_work_queue(settings))
            worker = start(
                "relatoria_worker.main",
                env | {"RELATORIA_LOG_LEVEL": "INFO"},
                Path(logs) / "worker.log",
            )
            processes.append(worker)
            wait_for_log(worker, "worker consuming")
            asyncio.run(post_to_done(base_url, 3))  # warm-up
            results["post_to_done_xlsx_100_rows"] = asyncio.run(
                post_to_done(base_url, latency_runs)
            )
        finally:
            for process in processes:
                process.stop()
    report(results)


def report(results: dict[str, Any]) -> None:
    """Print the figures and save them as JSON."""
    post, done = results["post"], results["post_to_done_xlsx_100_rows"]
    print()
    print("relatoria benchmark (2 cores; load generators on the same machine)")
    print(f"{'measure':<52} {'value':>12}")
    print(f"{'POST /v1/reports x50 (httpx): requests/s':<52} {post['requests_per_s']:>12.0f}")
    print(f"{'  latency p50 (ms)':<52} {post['p50_ms']:>12.1f}")
    print(f"{'  latency p99 (ms)':<52} {post['p99_ms']:>12.1f}")
    print(f"{'  requests, status codes':<52} {post['requests']:>6} {post['status_codes']}")
    if wrk := results.get("post_wrk"):
        print(f"{'POST /v1/reports x50 (wrk): requests/s':<52} {wrk['requests_per_s']:>12.0f}")
        print(f"{'  latency p50 (ms)':<52} {wrk['p50_ms']:>12.1f}")
        print(f"{'  latency p99 (ms)':<52} {wrk['p99_ms']:>12.1f}")
        print(f"{'  non-2xx responses':<52} {wrk['non_2xx']:>12}")
    else:
        print("(install Debian's wrk for a load generator that steals less CPU from the BFF)")
    print(
        f"{'100-row XLSX, POST to done (idle worker) p50 ms':<52} {done['observed_p50_ms']:>12.1f}"
    )
    print(f"{'  p95 (ms)':<52} {done['observed_p95_ms']:>12.1f}")
    print(f"{'  server side createdAt to finishedAt p50 (ms)':<52} {done['server_p50_ms']:>12.1f}")
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"pipeline-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(results, indent=2))
    print(f"\nsaved {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")


if __name__ == "__main__":
    main()
