"""Deliveries being handled, kept in a set: a stopping worker waits for them (jobs being
claimed, webhooks being sent) before it closes its connections."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aio_pika.abc import AbstractIncomingMessage

OnMessage = Callable[[AbstractIncomingMessage], Awaitable[None]]


def tracked(on_message: OnMessage, in_flight: set[asyncio.Task[Any]]) -> OnMessage:
    """`on_message`, its task in `in_flight` while it runs (a `queue.consume` callback)."""

    async def handling(message: AbstractIncomingMessage) -> None:
        task = asyncio.current_task()
        assert task is not None
        in_flight.add(task)
        try:
            await on_message(message)
        finally:
            in_flight.discard(task)

    return handling
