"""The BFF's connections, served by a real uvicorn server as `relatoria-bff` serves them:
an error no handler takes is a 500 that leaves the connection usable (before, uvicorn
closed a connection whose application raised, and the client's next request on it was
reset); the server's closes of idle keep-alive connections, and requests cut short, are
logged. PostgreSQL refuses one title, through a trigger in the module's own database;
everything else is the real BFF and services."""

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator

import pytest

from relatoria_shared.settings import Settings
from tests.support.api import bearer, table_request
from tests.support.database import refusing_writes
from tests.support.in_process_bff import served_bff
from tests.support.services import free_port

pytestmark = pytest.mark.integration

REFUSED_TITLE = f"refused-{uuid.uuid4().hex[:8]}"
KEEP_ALIVE = 1  # seconds (75 in production)


@pytest.fixture
async def refusing_database(own_settings: Settings) -> AsyncIterator[None]:
    async with refusing_writes(own_settings, f"NEW.title = '{REFUSED_TITLE}'"):
        yield


@pytest.fixture
async def served(own_settings: Settings, refusing_database: None) -> AsyncIterator[str]:
    port = free_port()
    async with served_bff(own_settings.model_copy(update={"bff_port": port}), KEEP_ALIVE):
        yield f"http://127.0.0.1:{port}"


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes]:
    """Send one HTTP/1.1 request on an open connection; its status and body."""
    writer.write(request)
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    status = int(head.split(b" ", 2)[1])
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    return status, await asyncio.wait_for(reader.readexactly(length), 10)


def request(method: str, path: str, authorization: str, body: bytes = b"") -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        "Host: bff",
        f"Authorization: {authorization}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def test_after_a_500_the_same_connection_serves_the_next_request(served: str) -> None:
    authorization = bearer("unhandled")["Authorization"]
    body = table_request("csv", [["x", 1, 1.0, True, None, None]], REFUSED_TITLE)
    host, port = served.removeprefix("http://").split(":")
    # One connection, kept alive: what a client's connection pool reuses.
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        status, answer = await exchange(
            reader, writer, request("POST", "/v1/reports", authorization, json.dumps(body).encode())
        )
        assert status == 500
        assert json.loads(answer)["code"] == "INTERNAL_ERROR"
        assert b"refused" not in answer  # never the error's own text
        for _ in range(3):
            status, _ = await exchange(reader, writer, request("GET", "/v1/reports", authorization))
            assert status == 200
    finally:
        writer.close()


async def test_an_idle_connection_closed_by_the_server_is_logged(
    served: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "relatoria_bff.http_protocol")
    host, port = served.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        status, _ = await exchange(reader, writer, request("GET", "/healthz", "none"))
        assert status == 200
        # Idle past the keep-alive timeout: the server closes, and a request sent now
        # would meet a closed connection (the race a client loses without a word).
        assert await asyncio.wait_for(reader.read(), KEEP_ALIVE + 5) == b""
    finally:
        writer.close()
    closes = [r for r in caplog.records if r.getMessage().startswith("idle keep-alive")]
    assert len(closes) == 1


async def test_a_request_cut_short_by_its_client_is_logged(
    served: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    host, port = served.removeprefix("http://").split(":")
    _, writer = await asyncio.open_connection(host, int(port))
    body = b'{"type": "table", "format": "csv"'
    head = request("POST", "/v1/reports", bearer("cut")["Authorization"], body)
    writer.write(head.replace(f"Content-Length: {len(body)}".encode(), b"Content-Length: 1000"))
    await writer.drain()
    writer.transport.abort()  # gone before sending the rest
    for _ in range(50):
        if any(r.getMessage().startswith("connection lost") for r in caplog.records):
            break
        await asyncio.sleep(0.05)
    (cut,) = [r for r in caplog.records if r.getMessage().startswith("connection lost")]
    assert cut.__dict__["path"] == "/v1/reports"
    # A client that went away is no server error.
    assert not [r for r in caplog.records if r.getMessage() == "unhandled error"]
