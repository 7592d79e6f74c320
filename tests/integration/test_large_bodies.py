"""Large request bodies, served by a real uvicorn server against the real services: a caller
without a valid token is answered 401 before a byte of its body is read; large bodies take
turns within the process's budget, and one that cannot get a turn in time is answered 503
with Retry-After, unread; a large valid body is recorded as a small one is."""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from relatoria_bff.body_budget import LARGE_BODY_BYTES, BodyBudget
from relatoria_shared.settings import Settings
from tests.support.api import bearer, table_request
from tests.support.in_process_bff import served_bff
from tests.support.services import free_port

pytestmark = pytest.mark.integration

BUDGET = 12 * 1024 * 1024


@pytest.fixture
async def bff(own_settings: Settings) -> AsyncIterator[tuple[FastAPI, str]]:
    port = free_port()
    settings = own_settings.model_copy(
        update={
            "bff_port": port,
            "bff_body_wait_seconds": 0.5,
            "max_rows": 100_000,
            "max_body_bytes": 10 * 1024 * 1024,
        }
    )
    assert settings.bff_body_budget_bytes == BUDGET  # the default
    async with served_bff(settings) as app:
        yield app, f"http://127.0.0.1:{port}"


def large_body() -> bytes:
    rows = [[f"linha {i}", i, i * 1.5, True, "2026-01-01", None] for i in range(12_000)]
    body = json.dumps(table_request("csv", rows)).encode()
    assert len(body) > LARGE_BODY_BYTES
    return body


async def answer_to_headers_only(base_url: str, headers: str, length: int) -> bytes:
    """Send a POST's headers, announcing `length` bytes of body, and none of the body:
    the status line of the answer that comes without it."""
    host, port = base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(
            (
                f"POST /v1/reports HTTP/1.1\r\nHost: bff\r\n{headers}"
                f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        return await asyncio.wait_for(reader.readuntil(b"\r\n"), 5)
    finally:
        writer.close()


async def test_no_valid_token_is_answered_401_before_the_body_is_sent(
    bff: tuple[FastAPI, str],
) -> None:
    _, base_url = bff
    length = 5_000_000
    assert b" 401 " in await answer_to_headers_only(base_url, "", length)
    forged = "Authorization: Bearer not.a.token\r\n"
    assert b" 401 " in await answer_to_headers_only(base_url, forged, length)


async def test_a_large_body_without_a_turn_in_time_is_answered_503_unread(
    bff: tuple[FastAPI, str],
) -> None:
    app, base_url = bff
    budget: BodyBudget = app.state.body_budget
    token = bearer("large")["Authorization"]
    async with budget.reserve(BUDGET):  # all of it, taken
        status = await answer_to_headers_only(
            base_url, f"Authorization: {token}\r\n", len(large_body())
        )
    assert b" 503 " in status  # answered though the body was never sent
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=30) as client,
        budget.reserve(BUDGET),
    ):
        refused = await client.post(
            "/v1/reports", content=large_body(), headers=bearer("large") | _JSON
        )
    assert refused.status_code == 503
    assert refused.json()["code"] == "SERVER_BUSY"
    assert refused.headers["Retry-After"] == "5"


class WatchedBudget(BodyBudget):
    """The real budget, noting how many bodies held it at once."""

    def __init__(self, budget_bytes: int, wait_seconds: float) -> None:
        super().__init__(budget_bytes, wait_seconds)
        self.holding = self.most_at_once = 0

    @contextlib.asynccontextmanager
    async def reserve(self, size: int) -> AsyncIterator[None]:
        async with super().reserve(size):
            self.holding += 1
            self.most_at_once = max(self.most_at_once, self.holding)
            try:
                yield
            finally:
                self.holding -= 1


async def test_large_bodies_take_turns_and_are_all_recorded(bff: tuple[FastAPI, str]) -> None:
    app, base_url = bff
    body = large_body()
    budget = WatchedBudget(len(body) + 1, wait_seconds=30)  # room for one at a time
    app.state.body_budget = budget
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        answers = await asyncio.gather(
            *(
                client.post("/v1/reports", content=body, headers=bearer(f"turns-{i}") | _JSON)
                for i in range(4)
            )
        )
        assert [a.status_code for a in answers] == [201] * 4
        assert budget.most_at_once == 1
        first = answers[0].json()["requestId"]
        status = (await client.get(f"/v1/reports/{first}", headers=bearer("turns-0"))).json()
    assert status["parameters"]["rowCount"] == 12_000


_JSON = {"Content-Type": "application/json"}
