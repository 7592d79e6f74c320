"""Connecting to RabbitMQ: robust (it reconnects by itself once up), and patient at start.

`aio_pika.connect_robust` gives up if the broker is down at the very first attempt; a
process starting during a broker outage would then crash-loop. This waits for it instead,
with backoff, logging each miss.
"""

import asyncio
import logging

import aio_pika
from aio_pika.abc import AbstractRobustConnection

log = logging.getLogger(__name__)


async def connect(
    url: str, *, first_delay: float = 0.5, max_delay: float = 15.0
) -> AbstractRobustConnection:
    """A robust connection to `url`, retried until the broker answers."""
    delay = first_delay
    while True:
        try:
            return await aio_pika.connect_robust(url)
        except (OSError, aio_pika.exceptions.AMQPError) as exc:
            log.warning(
                "RabbitMQ unreachable; retrying",
                extra={"error": type(exc).__name__, "retry_in_s": delay},
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay)
