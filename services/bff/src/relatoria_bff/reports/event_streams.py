"""Live status events: the Server-Sent Events a stream of one report, or of all of an
owner's reports, sends.

Each event carries a status document as the API shows it (`downloadUrl` included once
done): `event: status` for a new state, `event: progress` for more rows in the same one.
Its `id` is the document's `updatedAt`. A stream first sends the current state, so a
client that reconnects (with `Last-Event-ID`) never misses an end it was away for; then
each change the status feed brings (`relatoria_bff.status_watch`), re-reading every 2 s
while the feed is down (and after 30 s of silence, in case a publish was lost). A
report's stream ends after its final state; every stream ends with a `retry:` hint when
the BFF shuts down.
"""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import anyio
from sse_starlette import ServerSentEvent

from relatoria_bff.bootstrap import Resources
from relatoria_bff.reports import service, waiting
from relatoria_bff.status_watch import Listener
from relatoria_shared import json_codec
from relatoria_shared.db.pool import OUTAGES
from relatoria_shared.domain.status_document import StatusDocument

EventStream = AsyncIterator[ServerSentEvent]

RETRY_MILLISECONDS = 2000
"""How long a client waits before it reconnects (told with the first event, and the last
one a shutdown sends)."""
RECENT_REPORTS = 100
"""How many of an owner's newest reports a stream of all of them looks at when it starts
or re-reads: those unfinished, or changed since `Last-Event-ID`."""
_UNFINISHED = frozenset({"queued", "processing"})
RESUME_MARGIN = timedelta(seconds=5)
"""A resumed stream also sends what changed shortly before its `Last-Event-ID`: a change
committed late may carry an earlier time. Duplicates are harmless (same version)."""
_SENT_KEPT = 1000  # reports a stream remembers; past it, it forgets the finished ones


class _Sent:
    """The versions and states a stream has sent, per report."""

    def __init__(self) -> None:
        self._sent: dict[uuid.UUID, tuple[int, str]] = {}

    def is_new(self, document: StatusDocument) -> bool:
        known = self._sent.get(document.request_id)
        return known is None or document.version > known[0]

    def kind(self, document: StatusDocument) -> str:
        known = self._sent.get(document.request_id)
        same_state = known is not None and known[1] == document.body["status"]
        return "progress" if same_state else "status"

    def note(self, document: StatusDocument) -> None:
        self._sent[document.request_id] = (document.version, document.body["status"])
        if len(self._sent) > _SENT_KEPT:  # a stream open for days: bounded all the same
            self._sent = {rid: sent for rid, sent in self._sent.items() if sent[1] in _UNFINISHED}


async def one_report(
    resources: Resources, seen: StatusDocument, shutdown: anyio.Event
) -> EventStream:
    """The events of the report of `seen` (already read, and the caller's), until its
    final state."""
    watch = resources.watch
    sent = _Sent()
    with watch.watching_report(seen.request_id) as listener, _stopped_by(shutdown, listener):
        latest = await waiting.reread(resources, seen)
        yield await _event(resources, latest, sent, first=True)
        while not waiting.finished(latest):
            arrived, stale = await watch.changes_for(listener)
            if shutdown.is_set():
                yield _farewell()
                return
            if stale:
                arrived.append(await waiting.reread(resources, latest))
            for document in sorted(arrived, key=lambda d: d.version):
                if sent.is_new(document):
                    latest = document
                    yield await _event(resources, document, sent)


async def owner_reports(
    resources: Resources, owner_id: str, since: datetime | None, shutdown: anyio.Event
) -> EventStream:
    """The events of all of `owner_id`'s reports: first those unfinished (or changed
    since `since`) among the newest, then each change, for as long as the client stays."""
    watch = resources.watch
    sent = _Sent()
    with watch.watching_owner(owner_id) as listener, _stopped_by(shutdown, listener):
        looked_at = datetime.now(UTC)
        current = await _recent(resources, owner_id, since)
        for index, document in enumerate(current):
            yield await _event(resources, document, sent, first=index == 0)
        if not current:
            yield ServerSentEvent(comment="no report in progress", retry=RETRY_MILLISECONDS)
        while True:
            arrived, stale = await watch.changes_for(listener)
            if shutdown.is_set():
                yield _farewell()
                return
            if stale:
                previous, looked_at = looked_at, datetime.now(UTC)
                arrived += await _recent(resources, owner_id, previous)
            for document in arrived:
                if sent.is_new(document):
                    yield await _event(resources, document, sent)


async def _recent(
    resources: Resources, owner_id: str, since: datetime | None
) -> list[StatusDocument]:
    """Among the owner's newest reports, oldest first, those unfinished or updated since
    `since` (a little before it: see `RESUME_MARGIN`)."""
    try:
        documents, _ = await service.list_reports(
            resources=resources, owner_id=owner_id, limit=RECENT_REPORTS, cursor=None, status=None
        )
    except OUTAGES:
        return []  # PostgreSQL is down: the next re-read tries again
    floor = since - RESUME_MARGIN if since is not None else None
    return [
        d
        for d in reversed(documents)
        if not waiting.finished(d)
        or (floor is not None and datetime.fromisoformat(d.body["updatedAt"]) >= floor)
    ]


async def _event(
    resources: Resources, document: StatusDocument, sent: _Sent, first: bool = False
) -> ServerSentEvent:
    kind = sent.kind(document)
    sent.note(document)
    shown = await service.presented(resources, document, estimated=True)
    return ServerSentEvent(
        json_codec.dumps(shown),
        event=kind,
        id=document.body["updatedAt"],
        retry=RETRY_MILLISECONDS if first else None,
    )


def _farewell() -> ServerSentEvent:
    return ServerSentEvent(
        comment="the server is shutting down: reconnect", retry=RETRY_MILLISECONDS
    )


@contextlib.contextmanager
def _stopped_by(shutdown: anyio.Event, listener: Listener) -> Iterator[None]:
    """Wake `listener` when `shutdown` is set, so that its stream can say goodbye."""

    async def wake() -> None:
        await shutdown.wait()
        listener.interrupt()

    task = asyncio.get_running_loop().create_task(wake())
    try:
        yield
    finally:
        task.cancel()


def last_event_time(last_event_id: str | None) -> datetime | None:
    """The time a `Last-Event-ID` this API sent names; None for anything else."""
    if not last_event_id or len(last_event_id) > 64:
        return None
    try:
        moment = datetime.fromisoformat(last_event_id.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None
