"""Reading a Server-Sent Events stream as a browser's EventSource would."""

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class Event:
    """One event, or a block of comments and fields without data (`kind` "")."""

    kind: str = ""
    id: str | None = None
    data: str = ""
    retry: int | None = None
    comments: list[str] = field(default_factory=list)

    @property
    def document(self) -> dict[str, Any]:
        """The status document the event carries."""
        parsed: dict[str, Any] = json.loads(self.data)
        return parsed


async def events(response: httpx.Response) -> AsyncIterator[Event]:
    """The events of `response`, as they arrive (pings included, as comment blocks)."""
    event = Event()
    async for line in response.aiter_lines():
        if line == "":
            if event.data or event.kind or event.comments or event.retry is not None:
                yield event
            event = Event()
        elif line.startswith(":"):
            event.comments.append(line[1:].strip())
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                event.kind = value
            elif name == "id":
                event.id = value
            elif name == "data":
                event.data = f"{event.data}\n{value}" if event.data else value
            elif name == "retry" and value.isdigit():
                event.retry = int(value)


async def data_events(response: httpx.Response) -> AsyncIterator[Event]:
    """The events of `response` that carry data (no pings, no bare hints)."""
    async for event in events(response):
        if event.data:
            yield event
