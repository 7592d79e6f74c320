"""Sections 1 and 2 of `bench_hot_path`: `POST /v1/reports` and `GET /v1/reports/{id}` of
relatoria's BFF, each against its bare baseline app under the same load."""

import asyncio
import json
import uuid
from typing import Any

import httpx
from redis.asyncio import Redis

from relatoria_shared.cache.status_cache import StatusCache
from tests.bench.hot_path_context import Bench, cancel_pending, measure_load, tiny_report
from tests.bench.http_load import MeasuredNothingError
from tests.support.api import bearer
from tests.support.processes import start, wait_ready
from tests.support.services import free_port

POST_OWNERS = 64  # the POST load comes from many users, as a BFF's does


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
