"""Bursts of POSTs over 50 keep-alive connections, with two workers running and idle gaps
between the bursts as long as the BFF's old keep-alive timeout (5 s): every request is
answered, none meets a connection the server closed under it."""

import asyncio
import json
import uuid
from collections import Counter

import httpx
import pytest

from tests.support.api import bearer, table_request
from tests.support.cluster import Cluster

pytestmark = pytest.mark.chaos

BURSTS = 2
POSTS = 300
CONNECTIONS = 50


async def test_bursts_over_kept_alive_connections_are_all_answered(cluster: Cluster) -> None:
    for _ in range(2):
        cluster.start_worker()
    body = json.dumps(table_request("csv", [["x", 1, 1.0, True, None, None]])).encode()
    headers = bearer(f"bursts-{uuid.uuid4().hex[:6]}") | {"Content-Type": "application/json"}
    outcomes: Counter[str] = Counter()
    # As a browser or a backend's pool keeps them: idle connections kept for a minute.
    limits = httpx.Limits(max_connections=CONNECTIONS, keepalive_expiry=60)
    async with httpx.AsyncClient(base_url=cluster.base_url, limits=limits, timeout=30) as client:

        async def one_client(remaining: list[int]) -> None:
            while remaining[0] > 0:
                remaining[0] -= 1
                try:
                    response = await client.post("/v1/reports", content=body, headers=headers)
                    outcomes[str(response.status_code)] += 1
                except httpx.TransportError as exc:
                    outcomes[type(exc).__name__] += 1

        for burst in range(BURSTS):
            remaining = [POSTS]
            await asyncio.gather(*(one_client(remaining) for _ in range(CONNECTIONS)))
            if burst < BURSTS - 1:
                await asyncio.sleep(5.0)
    assert outcomes == Counter({"201": BURSTS * POSTS})
