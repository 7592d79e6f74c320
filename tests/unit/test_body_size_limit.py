"""The body-size middleware refuses oversized bodies while they stream, and reads nothing
the app does not ask for."""

import json

import pytest
from starlette.types import Message, Receive, Scope, Send

from relatoria_bff.body_limit import BodySizeLimit

pytestmark = pytest.mark.unit

CAP = 1000


class Recorder:
    """An inner app that notes whether it ran and what body it read."""

    def __init__(self) -> None:
        self.called = False
        self.body = b""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.called = True
        while True:
            message = await receive()
            self.body += message["body"]
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def chunked_body(chunks: int, size: int) -> tuple[Receive, list[int]]:
    pulled: list[int] = []

    async def receive() -> Message:
        pulled.append(1)
        more = len(pulled) < chunks
        return {"type": "http.request", "body": b"x" * size, "more_body": more}

    return receive, pulled


async def run(
    app: BodySizeLimit, receive: Receive, headers: list[tuple[bytes, bytes]]
) -> list[Message]:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {"type": "http", "method": "POST", "headers": headers}
    await app(scope, receive, send)
    return sent


async def test_chunked_body_over_the_cap_is_refused_as_it_is_read_and_reading_stops() -> None:
    inner = Recorder()
    receive, pulled = chunked_body(chunks=1000, size=100)  # 100 kB offered, cap 1 kB
    sent = await run(BodySizeLimit(inner, CAP), receive, [])
    assert len(sent) == 2  # the refusal only: the app never answered
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["code"] == "PAYLOAD_TOO_LARGE"
    assert len(pulled) == CAP // 100 + 1  # stopped at the first chunk past the cap


async def test_declared_length_over_the_cap_is_refused_without_reading() -> None:
    inner = Recorder()
    receive, pulled = chunked_body(chunks=1, size=10)
    sent = await run(BodySizeLimit(inner, CAP), receive, [(b"content-length", b"5000")])
    assert (inner.called, pulled, sent[0]["status"]) == (False, [], 413)


async def test_body_within_the_cap_reaches_the_app_whole() -> None:
    inner = Recorder()
    receive, _ = chunked_body(chunks=5, size=100)
    sent = await run(BodySizeLimit(inner, CAP), receive, [])
    assert inner.called
    assert inner.body == b"x" * 500
    assert sent[0]["status"] == 200


async def test_a_body_the_app_does_not_read_is_never_read() -> None:
    """A route that answers first (a 401 to a caller without a valid token) leaves the
    body unread: nothing is buffered ahead of it."""

    async def refuses_at_once(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 401, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    receive, pulled = chunked_body(chunks=5, size=100)
    sent = await run(BodySizeLimit(refuses_at_once, CAP), receive, [(b"content-length", b"500")])
    assert (sent[0]["status"], pulled) == (401, [])
