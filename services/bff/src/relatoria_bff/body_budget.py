"""How many bytes of large request bodies one BFF process reads and parses at once.

A parsed table takes several times its JSON's size in memory, and parsing it keeps a core
busy: twelve 10 MB bodies parsed together took a process from 125 MB to over 1.3 GB, and
its health checks waited seconds. A large body waits here, unread (TCP holds the client
back meanwhile), until the bytes in flight leave room for it; one larger than the whole
budget goes alone. A body that waits past `wait_seconds` is answered `503` with
`Retry-After`, never read. Small bodies (most requests) do not wait at all.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator

from relatoria_bff.errors import ApiError

LARGE_BODY_BYTES = 256 * 1024
"""Bodies past this size take their turn; smaller ones are read at once."""
READ_SECONDS = 60.0
"""How long a large body may take to arrive once its turn came: a client sending a byte
a second must not hold the budget from everyone else (408 past it)."""
RETRY_AFTER_SECONDS = 5


class BodyBudget:
    """A budget of bytes for the large bodies being read and parsed at once."""

    def __init__(self, budget_bytes: int, wait_seconds: float) -> None:
        self._budget = budget_bytes
        self._wait = wait_seconds
        self._in_flight = 0
        self._turns = asyncio.Condition()  # bound to the serving loop at its first use

    @contextlib.asynccontextmanager
    async def reserve(self, size: int) -> AsyncIterator[None]:
        """Hold `size` bytes of the budget (nothing, if the body is small) for the block;
        raises a 503 `ApiError` if no room was made within the wait."""
        if size <= LARGE_BODY_BYTES:
            yield
            return
        async with self._turns:
            try:
                async with asyncio.timeout(self._wait):
                    await self._turns.wait_for(lambda: self._has_room(size))
            except TimeoutError:
                raise _busy() from None
            self._in_flight += size
        try:
            yield
        finally:
            self._in_flight -= size  # first, with no await: a cancellation cannot skip it
            async with self._turns:
                self._turns.notify_all()

    def _has_room(self, size: int) -> bool:
        # One body larger than the whole budget goes alone.
        return not self._in_flight or self._in_flight + size <= self._budget


def _busy() -> ApiError:
    return ApiError(
        503,
        "SERVER_BUSY",
        "the server is reading other large requests; retry shortly",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )
