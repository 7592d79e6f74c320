"""Riding out a PostgreSQL outage: retry a database call with backoff, for a while."""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

from relatoria_shared.db.pool import OUTAGES, is_outage

log = logging.getLogger(__name__)
T = TypeVar("T")


async def through_outage(
    call: Callable[[], Awaitable[T]],
    *,
    what: str,
    patience_seconds: float,
    max_delay_seconds: float,
    context: Mapping[str, object],
    give_up: Callable[[], bool] = lambda: False,
) -> T:
    """Await `call()`, retrying with backoff while PostgreSQL is unreachable; re-raise once
    `patience_seconds` would run out, or as soon as `give_up()` says so."""
    deadline = time.monotonic() + patience_seconds
    delay = 0.5
    while True:
        try:
            return await call()
        except OUTAGES as exc:
            if not is_outage(exc) or give_up() or time.monotonic() + delay > deadline:
                raise
            log.warning(
                "%s failed; retrying",
                what,
                extra={**context, "error": type(exc).__name__, "retry_in_s": delay},
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay_seconds)
