"""`make bench` (large bodies): 12 clients each POST a valid ~9.8 MB inline table at once to
one BFF process, while a probe asks `/healthz` every 20 ms (a benchmark, not a test).

Prints the BFF's resident-memory growth (its peak, VmHWM, minus its resident memory
before) and the probe's p99, beside their targets (at most 250 MB, at most 200 ms), and
what each POST was answered: every one must be a 201, or a 429/503 carrying Retry-After.
Also sends the same body without a token, and reports whether the 401 came before the
body was sent. Writes JSON under tests/bench/results/. Fails when a target is missed or
nothing was measured (no POST answered, no probe answered during the load).
"""

import asyncio
import json
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import httpx

from tests.bench.bench_listing_memory import memory_mb
from tests.bench.environment import bench_environment
from tests.bench.results import save_results, verdict_line
from tests.support.api import COLUMNS, bearer
from tests.support.processes import start, wait_ready
from tests.support.services import free_port

CLIENTS = 12
BODY_BYTES = 9_800_000
RSS_GROWTH_TARGET_MB = 250.0
PROBE_P99_TARGET_MS = 200.0
PROBE_EVERY_S = 0.02


def large_body() -> bytes:
    """A valid `table` request of about `BODY_BYTES`, with cells that vary."""
    row = ["Fornecedor {} — serviço prestado", 12, 1234.5, True, "2026-03-01", None]
    one = len(json.dumps(row)) + 10
    rows = [[row[0].format(uuid.uuid4().hex[:12]), *row[1:]] for _ in range(BODY_BYTES // one)]
    body = {
        "type": "table",
        "format": "csv",
        "title": "Grande",
        "parameters": {"columns": COLUMNS, "rows": rows},
    }
    return json.dumps(body).encode()


async def probe(base_url: str, stop: asyncio.Event, latencies: list[float]) -> None:
    """Ask /healthz every PROBE_EVERY_S until `stop`, noting each answer's latency."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        while not stop.is_set():
            started = time.monotonic()
            response = await client.get("/healthz")
            if response.status_code == 200:
                latencies.append((time.monotonic() - started) * 1000)
            await asyncio.sleep(PROBE_EVERY_S)


async def post_all(base_url: str, body: bytes) -> list[tuple[int, str | None]]:
    """Each client POSTs `body` once, all at once: (status, Retry-After) of each."""
    headers = {"Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=CLIENTS)
    async with httpx.AsyncClient(base_url=base_url, timeout=120, limits=limits) as client:

        async def one(index: int) -> tuple[int, str | None]:
            response = await client.post(
                "/v1/reports", content=body, headers=headers | bearer(f"big-{index}")
            )
            return response.status_code, response.headers.get("retry-after")

        return await asyncio.gather(*(one(i) for i in range(CLIENTS)))


async def unauthenticated_answer(base_url: str, body_bytes: int) -> tuple[int, bool]:
    """Send only the headers of a large POST without a token: the status, and whether it
    came before any of the body was sent."""
    host, port = base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(
            (
                "POST /v1/reports HTTP/1.1\r\nHost: bff\r\nContent-Type: application/json\r\n"
                f"Content-Length: {body_bytes}\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n"), 5)
        except TimeoutError:
            return 0, False  # it waited for the body
        return int(head.split(b" ", 2)[1]), True
    finally:
        writer.close()


async def load(base_url: str, body: bytes) -> dict[str, Any]:
    stop = asyncio.Event()
    latencies: list[float] = []
    probing = asyncio.create_task(probe(base_url, stop, latencies))
    await asyncio.sleep(0.5)
    quiet = len(latencies)
    started = time.monotonic()
    answers = await post_all(base_url, body)
    seconds = time.monotonic() - started
    stop.set()
    await probing
    during = latencies[quiet:]
    return {"answers": answers, "seconds": seconds, "probe_ms": during}


def main() -> None:
    """Run the benchmark and print its figures."""
    body = large_body()
    with bench_environment() as (_, base_env), TemporaryDirectory() as logs:
        port = free_port()
        env = base_env | {
            "RELATORIA_BFF_PORT": str(port),
            "RELATORIA_LOG_LEVEL": "WARNING",
            "RELATORIA_MAX_ROWS": "200000",
        }
        bff = start("relatoria_bff.main", env, Path(logs) / "bff.log")
        try:
            base_url = f"http://127.0.0.1:{port}"
            wait_ready(f"{base_url}/readyz", bff)
            unauthenticated, before_body = asyncio.run(unauthenticated_answer(base_url, len(body)))
            before = memory_mb(bff, "VmRSS")
            measured = asyncio.run(load(base_url, body))
            peak = memory_mb(bff, "VmHWM")
        finally:
            bff.stop()
    answers = measured["answers"]
    probe_ms = measured["probe_ms"]
    p99 = statistics.quantiles(probe_ms, n=100)[98] if len(probe_ms) >= 2 else float("nan")
    growth = peak - before
    statuses: dict[str, int] = {}
    for status, _ in answers:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    clean = all(s == 201 or (s in (429, 503) and retry) for s, retry in answers)
    results = {
        "started_at": datetime.now(UTC).isoformat(),
        "clients": CLIENTS,
        "body_bytes": len(body),
        "statuses": statuses,
        "seconds": round(measured["seconds"], 2),
        "bff_rss_before_mb": round(before, 1),
        "bff_peak_rss_mb": round(peak, 1),
        "bff_rss_growth_mb": round(growth, 1),
        "healthz_p99_ms": round(p99, 1),
        "healthz_probes": len(probe_ms),
        "unauthenticated_status": unauthenticated,
        "unauthenticated_answered_before_the_body": before_body,
    }
    verdict = {
        "rss": growth <= RSS_GROWTH_TARGET_MB,
        "p99": p99 <= PROBE_P99_TARGET_MS,
        "answers": clean,
        "401 first": unauthenticated == 401 and before_body,
    }
    print()
    print(f"{CLIENTS} clients POSTing a {len(body) / 1e6:.1f} MB table at once (one BFF)")
    print(f"  answers                          {statuses} in {measured['seconds']:.1f} s")
    print(f"  BFF RSS growth (MB)              {growth:8.1f}  target <= {RSS_GROWTH_TARGET_MB:g}")
    print(f"  /healthz p99 meanwhile (ms)      {p99:8.1f}  target <= {PROBE_P99_TARGET_MS:g}")
    print(f"  /healthz answers meanwhile       {len(probe_ms):8d}")
    print(f"  without a token                  {unauthenticated}, before the body: {before_body}")
    print("  verdicts                         " + verdict_line(verdict))
    save_results("large-bodies", results | {"verdicts": verdict})
    if not answers or len(probe_ms) < 2:
        print("measured nothing: no POST was answered, or no probe during the load")
        sys.exit(1)
    if not all(verdict.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
