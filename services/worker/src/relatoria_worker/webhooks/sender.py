"""The HTTP client that delivers webhooks, built so that a client-chosen URL cannot make the
worker reach what it should not (server-side request forgery).

Guarantees:

- Only https URLs are called, unless an operator allow-listed the host (plain http is then
  accepted too); the URL is re-checked with `checked_url` before every attempt, since the
  settings may have changed since it was registered.
- The name is resolved by `GuardedNetworkBackend`, not by the socket layer, and EVERY
  address it resolves to must be public (or allow-listed): a name answering both a public
  and a private address is refused (DNS rebinding). The connection is made to one of those
  checked address literals, so no second resolution can swap it; the TLS server name and
  the Host header still carry the name. Once connected, the peer address is checked again.
- Redirects are never followed (httpcore has no notion of them): a 3xx is a failed attempt.
- Connect, read and write timeouts, a pool timeout, and a deadline over the whole attempt.
- At most `max_response_bytes` of the response body is read; the rest is left unread and
  the connection closed, so a receiver cannot hold a worker with an endless body.

Network problems never raise: each attempt ends in an `Attempted`, retryable or not.
"""

import asyncio
import contextlib
import ipaddress
import socket
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass

import httpcore

from relatoria_shared.domain.webhook_urls import (
    AllowList,
    IPAddress,
    WebhookUrlRefused,
    address_allowed,
    address_kind,
    checked_url,
)

MAX_CONNECTIONS = 50
MAX_KEEPALIVE_CONNECTIONS = 10
KEEPALIVE_EXPIRY_SECONDS = 30.0
LOCATION_SHOWN = 200
"""Characters of a redirect's Location kept in the error."""
ERROR_SHOWN = 300
"""Characters of an exception's text kept in the error."""

Resolver = Callable[[str, int], Awaitable[list[str]]]
"""Resolves (host, port) to IP address literals, in the order to try them."""


class AddressRefused(httpcore.ConnectError):
    """A connection the guard would not make (or kept): the host resolved to, or the
    connection reached, an address that is neither public nor allow-listed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _refused(host: str, address: str, ip: IPAddress | None) -> AddressRefused:
    kind = address_kind(ip) if ip is not None else "not an IP address"
    return AddressRefused(f"the address {address} of {host} is not allowed ({kind})")


def _ip(text: str) -> IPAddress | None:
    """An address literal as resolvers and sockets spell them (maybe with %scope)."""
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


async def resolve(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to for a TCP connection, in the resolver's order,
    without duplicates."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that resolves names itself and connects only to
    addresses `address_allowed` admits: all resolved addresses are checked before
    connecting to one of them, and the peer actually reached is checked again."""

    def __init__(
        self,
        allow: AllowList,
        inner: httpcore.AsyncNetworkBackend | None = None,
        resolver: Resolver = resolve,
    ) -> None:
        self._allow = allow
        self._inner = inner if inner is not None else httpcore.AnyIOBackend()
        self._resolve = resolver

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """A connection to `host`:`port` through one of its addresses, all of which must be
        allowed. Raises AddressRefused, or httpcore's ConnectError/ConnectTimeout."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        try:
            async with asyncio.timeout_at(deadline):
                addresses = await self._resolve(host, port)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from exc
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        if not addresses:
            raise httpcore.ConnectError(f"{host} resolves to no address")
        # Every address, not just the one we would use: otherwise a name answering a
        # public and a private address could land on the private one on another try.
        for address in addresses:
            ip = _ip(address)
            if ip is None or not address_allowed(ip, host, self._allow):
                raise _refused(host, address, ip)
        failure: httpcore.ConnectError | None = None
        for address in addresses:
            remaining = None if deadline is None else max(deadline - loop.time(), 0.0)
            try:
                # An address literal: the inner backend does not resolve again.
                stream = await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=remaining,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as exc:  # refused, unreachable: try the next one
                failure = exc
                continue
            await self._check_peer(stream, host)
            return stream
        assert failure is not None
        raise failure

    async def _check_peer(self, stream: httpcore.AsyncNetworkStream, host: str) -> None:
        """Close `stream` and refuse unless the address it is connected to is allowed
        (belt and braces: whatever the inner backend did, this is where bytes go)."""
        peer = stream.get_extra_info("server_addr")
        address = str(peer[0]) if isinstance(peer, tuple) and peer else repr(peer)
        ip = _ip(address)
        if ip is None or not address_allowed(ip, host, self._allow):
            await stream.aclose()
            raise _refused(host, address, ip)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Refused: webhooks go over TCP only (the pool is never given a socket path)."""
        raise AddressRefused(f"the Unix socket {path} is not allowed")

    async def sleep(self, seconds: float) -> None:
        """The inner backend's sleep (httpcore's pause between connection retries)."""
        await self._inner.sleep(seconds)


@dataclass(frozen=True)
class Attempted:
    """The outcome of one delivery attempt."""

    status_code: int | None
    """The receiver's answer, or None if none came (refused, unreachable, timed out)."""
    error: str | None
    """What went wrong, in a short English sentence; None when delivered."""
    retryable: bool
    """Whether another attempt may succeed (5xx, 429, timeouts, connection failures)."""
    duration_ms: int

    @property
    def delivered(self) -> bool:
        """True if the receiver answered 2xx."""
        return self.status_code is not None and 200 <= self.status_code < 300


def _answered(status: int, location: str | None) -> tuple[str | None, bool]:
    """The error and retryability of an answer with `status`."""
    if 200 <= status < 300:
        return None, False
    if 300 <= status < 400:
        # Following would let a receiver point us anywhere, past the URL's checks.
        shown = (location or "")[:LOCATION_SHOWN]
        return f"redirect not followed (Location: {shown})", False
    # 429 and 5xx may pass; any other 4xx is the receiver refusing this delivery for good.
    return f"the receiver answered {status}", status == 429 or status >= 500


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    value = next((v for k, v in headers if k.lower() == name), None)
    return None if value is None else value.decode("latin-1")


def _host_header(host: str, port: int | None, scheme: str) -> bytes:
    """The Host header; httpcore's own leaves the brackets off an IPv6 literal."""
    text = f"[{host}]" if ":" in host else host
    if port is not None and port != (443 if scheme == "https" else 80):
        text = f"{text}:{port}"
    return text.encode("ascii")


def _described(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text[:ERROR_SHOWN]


class WebhookSender:
    """POSTs webhook bodies: SSRF-guarded, never following redirects, time- and
    size-bounded. Safe to share between concurrent deliveries; `aclose` when done."""

    def __init__(
        self,
        allow: AllowList,
        *,
        connect_timeout: float,
        read_timeout: float,
        total_timeout: float,
        max_response_bytes: int,
        user_agent: str,
    ) -> None:
        self._allow = allow
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._total_timeout = total_timeout
        self._max_response_bytes = max_response_bytes
        self._user_agent = user_agent
        self._pool = httpcore.AsyncConnectionPool(
            network_backend=GuardedNetworkBackend(allow),
            max_connections=MAX_CONNECTIONS,
            max_keepalive_connections=MAX_KEEPALIVE_CONNECTIONS,
            keepalive_expiry=KEEPALIVE_EXPIRY_SECONDS,
            http1=True,
            http2=False,
            retries=0,  # retrying is the delivery schedule's business
        )

    async def send(self, url: str, headers: Mapping[str, str], body: bytes) -> Attempted:
        """POST `body` (JSON) to `url` with `headers`, once. Never raises for network
        problems or refused URLs: the outcome says what happened."""
        started = time.monotonic()
        error, status, retryable = await self._attempt(url, headers, body)
        return Attempted(
            status_code=status,
            error=error,
            retryable=retryable,
            duration_ms=round((time.monotonic() - started) * 1000),
        )

    async def _attempt(
        self, url: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[str | None, int | None, bool]:
        """(error, status, retryable) of one attempt."""
        try:
            url = checked_url(url, self._allow)
        except WebhookUrlRefused as exc:
            return exc.reason, None, False
        parts = urllib.parse.urlsplit(url)
        scheme, host = parts.scheme.lower(), parts.hostname or ""
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        ours = {"host", "content-type", "user-agent", "content-length", "transfer-encoding"}
        request_headers = [
            (b"Host", _host_header(host, parts.port, scheme)),
            (b"Content-Type", b"application/json"),
            (b"User-Agent", self._user_agent.encode("ascii")),
            *(
                (k.encode("ascii"), v.encode("ascii"))
                for k, v in headers.items()
                if k.lower() not in ours
            ),
        ]
        status: int | None = None
        location: str | None = None
        try:
            async with asyncio.timeout(self._total_timeout):
                async with self._pool.stream(
                    "POST",
                    httpcore.URL(scheme=scheme, host=host, port=parts.port, target=target),
                    headers=request_headers,
                    content=body,
                    extensions={"timeout": self._timeouts()},
                ) as response:
                    status, location = response.status, _header(response.headers, b"location")
                    await self._read_some(response)
        except TimeoutError:
            if status is None:
                return f"timed out after {self._total_timeout:g} s", None, True
        except AddressRefused as exc:
            return exc.reason, None, False
        except httpcore.TimeoutException as exc:
            return self._timed_out(exc), None, True
        except (httpcore.NetworkError, httpcore.RemoteProtocolError, OSError) as exc:
            # Refused, reset, unresolvable, TLS failures, a garbled answer: may pass.
            return f"connection failed: {_described(exc)}", None, True
        assert status is not None
        error, retryable = _answered(status, location)
        return error, status, retryable

    def _timeouts(self) -> dict[str, float]:
        return {
            "connect": self._connect_timeout,
            "read": self._read_timeout,
            "write": self._read_timeout,
            # Waiting for one of the pool's connections to free up.
            "pool": self._connect_timeout,
        }

    def _timed_out(self, exc: httpcore.TimeoutException) -> str:
        if isinstance(exc, httpcore.ConnectTimeout | httpcore.PoolTimeout):
            return f"timed out after {self._connect_timeout:g} s (connecting)"
        return f"timed out after {self._read_timeout:g} s (waiting for the receiver)"

    async def _read_some(self, response: httpcore.Response) -> None:
        """Read up to about `max_response_bytes` of the body (a read returns at most
        64 KiB), then stop: the body is only read so the connection may be reused, and
        leaving the rest unread closes the connection. Errors reading it are ignored: the
        status line already said how the delivery went."""
        if self._max_response_bytes <= 0:
            return
        read = 0
        chunks = response.aiter_stream()
        with contextlib.suppress(
            httpcore.TimeoutException, httpcore.NetworkError, httpcore.RemoteProtocolError
        ):
            async for chunk in chunks:
                read += len(chunk)
                if read >= self._max_response_bytes:
                    break

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self._pool.aclose()
