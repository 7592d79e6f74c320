"""The webhook sender against real HTTP receivers on 127.0.0.1: deliveries arrive intact;
answers, timeouts and connection failures are classified; redirects are not followed;
loopback is out of reach unless allow-listed (by URL, by resolved name, by the peer
actually reached); an endless response body does not hold the sender."""

import asyncio
import http
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpcore
import pytest

from relatoria_shared.domain.webhook_urls import AllowList
from relatoria_worker.webhooks.guarded_network import AddressRefused, GuardedNetworkBackend
from relatoria_worker.webhooks.sender import WebhookSender
from tests.support.services import free_port

pytestmark = pytest.mark.integration

LOOPBACK = AllowList.parse(["127.0.0.0/8"])
USER_AGENT = "relatoria-webhooks-test/1"
CHUNK = b"x" * 65_536


@dataclass
class Received:
    """One request as a receiver saw it (header names in lower case)."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A tiny HTTP/1.1 server on 127.0.0.1 that records requests and answers as told: with
    `status`, `headers` and `body` after `delay` seconds, or with an endless body."""

    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b'{"ok": true}'
    delay: float = 0.0
    endless: bool = False
    requests: list[Received] = field(default_factory=list)
    connections: int = 0
    went_away: asyncio.Event = field(default_factory=asyncio.Event)
    port: int = 0
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    def url(self, path: str = "/hook", scheme: str = "http", host: str = "127.0.0.1") -> str:
        return f"{scheme}://{host}:{self.port}{path}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            self.went_away.set()
        finally:
            writer.close()
            self._tasks.discard(task)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        request_line, *lines = head.split("\r\n")
        method, target, _ = request_line.split(" ", 2)
        headers = dict(
            (name.strip().lower(), value.strip())
            for name, value in (line.split(":", 1) for line in lines if line)
        )
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        self.requests.append(Received(method, target, headers, body))
        await asyncio.sleep(self.delay)
        if self.endless:
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            while True:  # until the sender hangs up
                writer.write(b"%x\r\n%b\r\n" % (len(CHUNK), CHUNK))
                await writer.drain()
        reason = http.HTTPStatus(self.status).phrase
        lines = [f"HTTP/1.1 {self.status} {reason}", f"Content-Length: {len(self.body)}"]
        lines += [f"{name}: {value}" for name, value in self.headers]
        lines += ["Connection: close", "", ""]
        writer.write("\r\n".join(lines).encode("latin-1") + self.body)
        await writer.drain()


@pytest.fixture
async def receiver() -> AsyncIterator[Callable[..., Awaitable[Receiver]]]:
    """Starts receivers (Receiver's fields as keywords); stops them all afterwards."""
    started: list[Receiver] = []

    async def start(**behaviour: Any) -> Receiver:
        receiver = Receiver(**behaviour)
        await receiver.start()
        started.append(receiver)
        return receiver

    yield start
    for one in started:
        await one.stop()


@pytest.fixture
async def sender() -> AsyncIterator[Callable[..., WebhookSender]]:
    """Makes senders (allow-listing 127.0.0.0/8 and with short timeouts unless told
    otherwise); closes them all afterwards."""
    made: list[WebhookSender] = []

    def make(allow: AllowList = LOOPBACK, **overrides: Any) -> WebhookSender:
        options: dict[str, Any] = {
            "connect_timeout": 1.0,
            "read_timeout": 1.0,
            "total_timeout": 5.0,
            "max_response_bytes": 65_536,
            "user_agent": USER_AGENT,
        }
        one = WebhookSender(allow, **(options | overrides))
        made.append(one)
        return one

    yield make
    for one in made:
        await one.aclose()


async def test_a_post_reaches_the_receiver_with_its_body_and_headers(
    receiver: Callable[..., Awaitable[Receiver]], sender: Callable[..., WebhookSender]
) -> None:
    target = await receiver()
    body = json.dumps({"type": "report.done", "data": {"id": "r-1"}}).encode()
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": "1765152000",
        "webhook-signature": "v1,c2ln",
    }

    attempted = await sender().send(target.url("/in/hooks?tenant=7"), headers, body)

    assert attempted.delivered
    assert (attempted.status_code, attempted.error) == (200, None)
    assert 0 <= attempted.duration_ms < 5_000
    [received] = target.requests
    assert (received.method, received.target, received.body) == ("POST", "/in/hooks?tenant=7", body)
    assert received.headers["host"] == f"127.0.0.1:{target.port}"
    assert received.headers["content-type"] == "application/json"
    assert received.headers["user-agent"] == USER_AGENT
    assert received.headers["content-length"] == str(len(body))
    assert {name: received.headers[name] for name in headers} == headers


async def test_an_allow_listed_name_is_resolved_and_keeps_its_name_in_the_host_header(
    receiver: Callable[..., Awaitable[Receiver]], sender: Callable[..., WebhookSender]
) -> None:
    target = await receiver()

    attempted = await sender(AllowList.parse(["localhost"])).send(
        target.url(host="localhost"), {}, b"{}"
    )

    assert attempted.delivered, attempted.error
    [received] = target.requests
    assert received.headers["host"] == f"localhost:{target.port}"


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(500, True), (503, True), (429, True), (404, False), (400, False), (410, False)],
)
async def test_answers_other_than_2xx_fail_retryable_or_not(
    receiver: Callable[..., Awaitable[Receiver]],
    sender: Callable[..., WebhookSender],
    status: int,
    retryable: bool,
) -> None:
    target = await receiver(status=status)

    attempted = await sender().send(target.url(), {}, b"{}")

    assert not attempted.delivered
    assert attempted.status_code == status
    assert attempted.retryable is retryable
    assert attempted.error == f"the receiver answered {status}"
    assert len(target.requests) == 1


async def test_2xx_other_than_200_is_delivered(
    receiver: Callable[..., Awaitable[Receiver]], sender: Callable[..., WebhookSender]
) -> None:
    target = await receiver(status=204, body=b"")

    attempted = await sender().send(target.url(), {}, b"{}")

    assert attempted.delivered
    assert (attempted.status_code, attempted.error) == (204, None)


async def test_a_redirect_is_not_followed(
    receiver: Callable[..., Awaitable[Receiver]], sender: Callable[..., WebhookSender]
) -> None:
    elsewhere = await receiver()
    redirecting = await receiver(status=302, headers=[("Location", elsewhere.url("/other"))])

    attempted = await sender().send(redirecting.url(), {}, b"{}")

    assert not attempted.delivered
    assert attempted.status_code == 302
    assert not attempted.retryable
    assert attempted.error == f"redirect not followed (Location: {elsewhere.url('/other')})"
    assert len(redirecting.requests) == 1
    await asyncio.sleep(0.1)  # a follow-up request, if any, would have arrived by now
    assert (elsewhere.connections, elsewhere.requests) == (0, [])


async def test_a_receiver_slower_than_the_read_timeout_is_retried(
    receiver: Callable[..., Awaitable[Receiver]], sender: Callable[..., WebhookSender]
) -> None:
    slow = await receiver(delay=2.0)

    attempted = await sender(read_timeout=0.3).send(slow.url(), {}, b"{}")

    assert not attempted.delivered
    assert attempted.status_code is None
    assert attempted.retryable
    assert attempted.error is not None
    assert attempted.error.startswith("timed out after 0.3 s")
    assert 250 <= attempted.duration_ms < 1_500
    assert len(slow.requests) == 1


async def test_the_total_deadline_bounds_an_attempt(
    receiver: Callable[..., Awaitable[Receiver]], sender: Callable[..., WebhookSender]
) -> None:
    slow = await receiver(delay=2.0)

    attempted = await sender(read_timeout=5.0, total_timeout=0.4).send(slow.url(), {}, b"{}")

    assert (attempted.status_code, attempted.retryable) == (None, True)
    assert attempted.error == "timed out after 0.4 s"
    assert 350 <= attempted.duration_ms < 1_500


async def test_a_closed_port_is_a_retryable_connection_failure(
    sender: Callable[..., WebhookSender],
) -> None:
    attempted = await sender().send(f"http://127.0.0.1:{free_port()}/hook", {}, b"{}")

    assert (attempted.status_code, attempted.retryable) == (None, True)
    assert attempted.error is not None
    assert attempted.error.startswith("connection failed")


async def test_an_unresolvable_name_is_a_retryable_connection_failure(
    sender: Callable[..., WebhookSender],
) -> None:
    attempted = await sender().send("https://no-such-host.invalid/hook", {}, b"{}")

    assert (attempted.status_code, attempted.retryable) == (None, True)
    assert attempted.error is not None
    assert attempted.error.startswith("connection failed: cannot resolve no-such-host.invalid")


@pytest.mark.parametrize(
    ("scheme", "reason"),
    [("http", "only https URLs are accepted"), ("https", "the address 127.0.0.1 is loopback")],
)
async def test_without_the_allow_list_a_loopback_url_is_refused_before_connecting(
    receiver: Callable[..., Awaitable[Receiver]],
    sender: Callable[..., WebhookSender],
    scheme: str,
    reason: str,
) -> None:
    target = await receiver()

    attempted = await sender(AllowList()).send(target.url(scheme=scheme), {}, b"{}")

    assert (attempted.status_code, attempted.retryable, attempted.error) == (None, False, reason)
    await asyncio.sleep(0.1)
    assert target.connections == 0


async def test_without_the_allow_list_a_name_resolving_to_loopback_is_refused(
    receiver: Callable[..., Awaitable[Receiver]], sender: Callable[..., WebhookSender]
) -> None:
    # The URL itself passes (names are not resolved at registration); the connection not.
    target = await receiver()

    attempted = await sender(AllowList()).send(
        target.url(scheme="https", host="localhost"), {}, b"{}"
    )

    assert (attempted.status_code, attempted.retryable) == (None, False)
    assert attempted.error in {
        f"the address {address} of localhost is not allowed (loopback)"
        for address in ("127.0.0.1", "::1")
    }
    await asyncio.sleep(0.1)
    assert target.connections == 0


async def test_an_endless_response_body_is_cut_short(
    receiver: Callable[..., Awaitable[Receiver]], sender: Callable[..., WebhookSender]
) -> None:
    # Were the whole body read, the attempt would last until the total deadline.
    endless = await receiver(endless=True)

    attempted = await sender(total_timeout=10.0, max_response_bytes=100_000).send(
        endless.url(), {}, b"{}"
    )

    assert attempted.delivered
    assert attempted.error is None
    assert attempted.duration_ms < 2_000
    await asyncio.wait_for(endless.went_away.wait(), timeout=2.0)


async def test_a_name_with_one_disallowed_address_is_refused(
    receiver: Callable[..., Awaitable[Receiver]],
) -> None:
    # DNS rebinding: the first address is fine, the second is not; no connection is made.
    target = await receiver()

    async def both(host: str, port: int) -> list[str]:
        return ["127.0.0.1", "10.0.0.1"]

    guard = GuardedNetworkBackend(LOOPBACK, resolver=both)
    with pytest.raises(AddressRefused) as refused:
        await guard.connect_tcp("rebind.example", target.port, timeout=1.0)

    assert refused.value.reason == (
        "the address 10.0.0.1 of rebind.example is not allowed (private)"
    )
    await asyncio.sleep(0.1)
    assert target.connections == 0


async def test_the_guard_connects_to_the_resolved_addresses_in_turn(
    receiver: Callable[..., Awaitable[Receiver]],
) -> None:
    # Nothing listens on 127.0.0.2 (the receiver binds 127.0.0.1): the next one is tried.
    target = await receiver()
    asked: list[tuple[str, int]] = []

    async def two(host: str, port: int) -> list[str]:
        asked.append((host, port))
        return ["127.0.0.2", "127.0.0.1"] if port == target.port else []

    guard = GuardedNetworkBackend(LOOPBACK, resolver=two)
    stream = await guard.connect_tcp("receiver.example", target.port, timeout=1.0)
    try:
        assert stream.get_extra_info("server_addr") == ("127.0.0.1", target.port)
    finally:
        await stream.aclose()
    assert asked == [("receiver.example", target.port)]


class _LyingStream(httpcore.AsyncNetworkStream):
    """A real connection that claims to be connected to the metadata service."""

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self.inner = inner
        self.closed = False

    def get_extra_info(self, info: str) -> Any:
        if info == "server_addr":
            return ("169.254.169.254", 80)
        return self.inner.get_extra_info(info)

    async def aclose(self) -> None:
        self.closed = True
        await self.inner.aclose()


class _LyingBackend(httpcore.AsyncNetworkBackend):
    def __init__(self) -> None:
        self.streams: list[_LyingStream] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        inner = await httpcore.AnyIOBackend().connect_tcp(host, port, timeout=timeout)
        self.streams.append(_LyingStream(inner))
        return self.streams[-1]


async def test_the_peer_actually_reached_is_checked_again(
    receiver: Callable[..., Awaitable[Receiver]],
) -> None:
    target = await receiver()
    lying = _LyingBackend()
    guard = GuardedNetworkBackend(LOOPBACK, inner=lying)

    with pytest.raises(AddressRefused) as refused:
        await guard.connect_tcp("127.0.0.1", target.port, timeout=1.0)

    assert refused.value.reason == (
        "the address 169.254.169.254 of 127.0.0.1 is not allowed (link-local)"
    )
    [stream] = lying.streams
    assert stream.closed


async def test_unix_sockets_are_refused() -> None:
    guard = GuardedNetworkBackend(LOOPBACK)
    with pytest.raises(AddressRefused):
        await guard.connect_unix_socket("/var/run/docker.sock")
