"""`make bench` (waiters): 1,000 long polls (`GET /v1/reports/{id}?wait=25`) held at once by
one BFF process, then woken by their reports' changes (a benchmark, not a test).

1,000 reports are POSTed (no worker runs: they stay queued), then each is long-polled on a
connection of its own. Once the BFF's `relatoria_bff_status_listeners` gauge shows all of
them waiting, its resident memory is read; then the reports are cancelled one after the
other through the API, and each poll's answer timed from its report's cancel request.

Prints the BFF's resident-memory growth while they wait (target: at most +100 MB) and the
wake-up latency p50/p99 (target: p99 under 1 s, less than the 2 s of a waiter's re-read
while the feed is down: the wake-ups come from the feed). There is no bare baseline: the
figure is what holding a request costs, beside a fixed budget. Writes JSON under
tests/bench/results/. Fails when a target is missed or nothing was measured (waiters that
never all waited, answers that did not come, or not as `cancelled`).
"""

import asyncio
import json
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import httpx

from tests.bench.bench_listing_memory import memory_mb
from tests.bench.environment import bench_environment
from tests.bench.results import save_results, verdict_line
from tests.support.api import bearer, table_request
from tests.support.processes import start, wait_ready
from tests.support.services import free_port

WAITERS = 1000
OWNERS = 20
WAIT_SECONDS = 25
RSS_GROWTH_TARGET_MB = 100.0
WAKE_P99_TARGET_MS = 1000.0
BODY = table_request("csv", [["Linha", 1, 1.5, True, "2026-03-01", None]])


async def post_reports(client: httpx.AsyncClient) -> list[tuple[str, str]]:
    """(owner, report id) of each report POSTed."""
    gate = asyncio.Semaphore(20)

    async def one(index: int) -> tuple[str, str]:
        owner = f"bench-waiter-{index % OWNERS}"
        async with gate:
            response = await client.post("/v1/reports", json=BODY, headers=bearer(owner))
        if response.status_code != 201:
            raise RuntimeError(f"POST answered {response.status_code}: {response.text[:300]}")
        return owner, response.json()["requestId"]

    return await asyncio.gather(*(one(i) for i in range(WAITERS)))


async def long_poll(port: int, owner: str, report_id: str) -> tuple[int, str, float]:
    """One long poll on a connection of its own: (status code, report status, when)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    token = bearer(owner)["Authorization"]
    writer.write(
        (
            f"GET /v1/reports/{report_id}?wait={WAIT_SECONDS} HTTP/1.1\r\nHost: bff\r\n"
            f"Authorization: {token}\r\nConnection: close\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    answer = await reader.read()
    answered = time.monotonic()
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    code = int(head.split(b" ", 2)[1])
    status = json.loads(body).get("status", "") if code == 200 else ""
    return code, status, answered


async def gauge(client: httpx.AsyncClient, name: str) -> float:
    """A gauge of the BFF's /metrics."""
    text = (await client.get("/metrics")).text
    for line in text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    return float("nan")


async def measure(port: int, bff_memory: Any) -> dict[str, Any]:
    base_url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        reports = await post_reports(client)
        await asyncio.sleep(1)
        before = bff_memory()
        polls = [asyncio.create_task(long_poll(port, o, r)) for o, r in reports]
        deadline = time.monotonic() + 20
        waiting = 0.0
        while time.monotonic() < deadline:
            waiting = await gauge(client, "relatoria_bff_status_listeners")
            if waiting >= WAITERS:
                break
            await asyncio.sleep(0.1)
        during = bff_memory()
        feed_up = await gauge(client, "relatoria_bff_status_feed_up")
        cancelled_at: list[float] = []
        for owner, report_id in reports:
            cancelled_at.append(time.monotonic())
            response = await client.delete(f"/v1/reports/{report_id}", headers=bearer(owner))
            if response.status_code != 200:
                raise RuntimeError(f"DELETE answered {response.status_code}")
        answers = await asyncio.gather(*polls)
    pairs = zip(answers, cancelled_at, strict=True)
    latencies = [(answered - at) * 1000 for (_, _, answered), at in pairs]
    return {
        "waiting": waiting,
        "feed_up": feed_up,
        "rss_before_mb": before,
        "rss_waiting_mb": during,
        "answers": [(code, status) for code, status, _ in answers],
        "latencies_ms": latencies,
    }


def main() -> None:
    """Run the benchmark and print its figures."""
    with bench_environment() as (_, base_env), TemporaryDirectory() as logs:
        port = free_port()
        env = base_env | {"RELATORIA_BFF_PORT": str(port), "RELATORIA_LOG_LEVEL": "WARNING"}
        bff = start("relatoria_bff.main", env, Path(logs) / "bff.log")
        try:
            wait_ready(f"http://127.0.0.1:{port}/readyz", bff)
            measured = asyncio.run(measure(port, lambda: memory_mb(bff, "VmRSS")))
        finally:
            bff.stop()
    answers, latencies = measured["answers"], measured["latencies_ms"]
    woken = sum(1 for code, status in answers if code == 200 and status == "cancelled")
    growth = measured["rss_waiting_mb"] - measured["rss_before_mb"]
    p50 = statistics.median(latencies)
    p99 = statistics.quantiles(latencies, n=100)[98]
    results = {
        "started_at": datetime.now(UTC).isoformat(),
        "waiters": WAITERS,
        "seen_waiting": measured["waiting"],
        "feed_up": measured["feed_up"],
        "woken_cancelled": woken,
        "bff_rss_before_mb": round(measured["rss_before_mb"], 1),
        "bff_rss_waiting_mb": round(measured["rss_waiting_mb"], 1),
        "bff_rss_growth_mb": round(growth, 1),
        "wake_p50_ms": round(p50, 1),
        "wake_p99_ms": round(p99, 1),
    }
    verdict = {"rss": growth <= RSS_GROWTH_TARGET_MB, "wake p99": p99 <= WAKE_P99_TARGET_MS}
    print()
    print(f"{WAITERS} long polls (wait={WAIT_SECONDS}) held by one BFF, then woken by cancels")
    print(f"  waiting at once (gauge)          {measured['waiting']:8.0f}")
    print(
        f"  BFF RSS before / waiting (MB)    {measured['rss_before_mb']:8.1f} / "
        f"{measured['rss_waiting_mb']:.1f}"
    )
    print(f"  BFF RSS growth (MB)              {growth:8.1f}  target <= {RSS_GROWTH_TARGET_MB:g}")
    print(
        f"  wake-up p50 / p99 (ms)           {p50:8.1f} / {p99:.1f}  "
        f"target p99 <= {WAKE_P99_TARGET_MS:g}"
    )
    print(f"  answered 200 cancelled           {woken:8d} of {WAITERS}")
    print("  verdicts                         " + verdict_line(verdict))
    save_results("waiters", results | {"verdicts": verdict})
    if measured["waiting"] < WAITERS or woken < WAITERS or measured["feed_up"] != 1:
        print(
            "measured nothing: the waiters never all waited, the feed was down, or some "
            "were not answered as cancelled"
        )
        sys.exit(1)
    if not all(verdict.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
