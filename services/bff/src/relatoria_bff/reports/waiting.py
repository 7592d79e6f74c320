"""Long polls: a request that waits (`?wait=N`, `Prefer: wait=N`) for its report to change.

A waiter is woken by the status feed (`relatoria_bff.status_watch`), not by a loop of its
own; while the feed is down it re-reads the status every 2 s, and at its deadline in any
case (a publish may have been lost). Whatever fails while it waits (a worker, the broker,
Redis, PostgreSQL), the wait ends with the status last seen: a long poll never turns
into a 5xx once its report was read.
"""

import asyncio
import logging
from collections.abc import Callable

from relatoria_bff.bootstrap import Resources
from relatoria_bff.reports import service
from relatoria_shared.db.pool import OUTAGES
from relatoria_shared.domain.status import ReportStatus
from relatoria_shared.domain.status_document import StatusDocument

log = logging.getLogger(__name__)

REREAD_SECONDS = 2.0
"""The longest a waiter's re-read may take (a database dropping packets would otherwise
hold it for the pool's timeout, past the wait it was given)."""
_UNFINISHED = frozenset({ReportStatus.QUEUED.value, ReportStatus.PROCESSING.value})


def requested_wait(query: int | None, prefer: str | None, cap: int) -> int | None:
    """How long the request asked to wait, in seconds, at most `cap`: its `wait` query
    parameter, else the `wait` preference of its `Prefer` header (RFC 7240; a preference
    that cannot be read is ignored, as the RFC has it); None if it asked for neither."""
    if query is not None:
        return min(query, cap)
    for preference in (prefer or "").split(","):
        name, _, value = preference.partition(";")[0].partition("=")
        value = value.strip().strip('"')
        if name.strip().lower() == "wait" and value.isdigit():
            return min(int(value), cap)
    return None


def finished(document: StatusDocument) -> bool:
    """Whether the report has reached an end (done, error, cancelled, expired): what
    `POST ?wait=N` waits for."""
    return document.body["status"] not in _UNFINISHED


def changed_from(seen: StatusDocument) -> Callable[[StatusDocument], bool]:
    """What `GET ?wait=N` waits for: a newer document than `seen` (a new state or more
    progress), or none at all once the report is finished."""
    return lambda document: finished(document) or document.version > seen.version


async def wait_until(
    resources: Resources,
    seen: StatusDocument,
    settled: Callable[[StatusDocument], bool],
    seconds: float,
) -> StatusDocument:
    """The report's newest status document once `settled` holds for it, or after
    `seconds`, whichever comes first."""
    if seconds <= 0 or settled(seen):
        return seen
    watch = resources.watch
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    with watch.watching_report(seen.request_id) as listener:
        # Read again once listening: a change between the first read and now is not missed.
        latest = await reread(resources, seen)
        while not settled(latest) and (remaining := deadline - loop.time()) > 0:
            arrived, stale = await watch.changes_for(listener, remaining)
            for document in arrived:
                if document.version > latest.version:
                    latest = document
            if stale:  # also at the deadline: the answer is the status as it is then
                latest = await reread(resources, latest)
    return latest


async def reread(resources: Resources, seen: StatusDocument) -> StatusDocument:
    """The report's status document as stored now, or `seen` if it cannot be read (or
    what is read is older)."""
    try:
        async with asyncio.timeout(REREAD_SECONDS):
            latest = await service.read_status(
                resources=resources, owner_id=seen.owner_id, report_id=str(seen.request_id)
            )
    except OUTAGES as exc:
        log.warning(
            "a waiting request could not re-read its report; it keeps the status it has",
            extra={"request_id": str(seen.request_id), "error": type(exc).__name__},
        )
        return seen
    return latest if latest.version >= seen.version else seen
