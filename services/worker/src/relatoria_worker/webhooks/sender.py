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
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass

import httpcore

from relatoria_shared.domain.webhook_urls import (
    AllowList,
    WebhookUrlRefused,
    checked_url,
)
from relatoria_worker.webhooks.guarded_network import AddressRefused, GuardedNetworkBackend

MAX_CONNECTIONS = 50
MAX_KEEPALIVE_CONNECTIONS = 10
KEEPALIVE_EXPIRY_SECONDS = 30.0
LOCATION_SHOWN = 200
"""Characters of a redirect's Location kept in the error."""
ERROR_SHOWN = 300
"""Characters of an exception's text kept in the error."""


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
