"""The network backend under the webhook sender: it resolves each name itself, refuses
unless every address it resolves to is public (or allow-listed), connects to one of those
checked address literals (so no second resolution can swap it), and checks the address
actually connected to again. See `relatoria_worker.webhooks.sender`."""

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable

import httpcore

from relatoria_shared.domain.webhook_urls import (
    AllowList,
    IPAddress,
    address_allowed,
    address_kind,
)

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
