"""Estimates shown beside a status document, computed when it is read (nothing is rewritten
at each claim): a queued report's position in its lane and estimated start and finish,
and a running report's estimated finish from its own rate.

A queued report's position is one index-backed count in PostgreSQL, looked up at most
every `POSITION_SECONDS` per report in this process; the lane's throughput (jobs finished
per second over the last minutes, and seconds per job) comes from counters the
transition service keeps in Redis, read at most every `RATE_SECONDS` per lane. So a
client polling a queued report every few hundred milliseconds costs the database little,
and the cached read stays cached. Every figure is an estimate; none is ever worth a 5xx:
what cannot be read is left out (null).
"""

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from relatoria_shared.cache.status_cache import LaneRate, StatusCache
from relatoria_shared.db.pool import OUTAGES
from relatoria_shared.db.requests import RequestRepository
from relatoria_shared.domain.status import ReportStatus
from relatoria_shared.domain.status_document import StatusDocument

POSITION_SECONDS = 2.0
RATE_SECONDS = 5.0
LOOKUP_SECONDS = 1.0  # an estimate is not worth holding a read longer
_MAX_REMEMBERED = 10_000  # reports' estimates kept at most; past it, the memo starts afresh


class QueueEstimates:
    """The process's estimates, each worked out afresh only once it is old."""

    def __init__(self, requests: RequestRepository, cache: StatusCache) -> None:
        self._requests = requests
        self._cache = cache
        self._views: dict[uuid.UUID, tuple[float, dict[str, Any] | None]] = {}
        self._rates: dict[str, tuple[float, LaneRate]] = {}

    async def queue(self, document: StatusDocument) -> dict[str, Any] | None:
        """`{position, estimatedStartAt, estimatedFinishAt}` of a queued report (the same
        for `POSITION_SECONDS`); None for any other, or when its place cannot be read."""
        if document.body["status"] != ReportStatus.QUEUED.value:
            return None
        now = time.monotonic()
        known = self._views.get(document.request_id)
        if known is not None and now - known[0] < POSITION_SECONDS:
            return known[1]
        view = await self._view(document)  # None remembered too: a database down is
        if len(self._views) >= _MAX_REMEMBERED:  # not asked at every read
            self._views.clear()
        self._views[document.request_id] = (now, view)
        return view

    async def _view(self, document: StatusDocument) -> dict[str, Any] | None:
        try:
            async with asyncio.timeout(LOOKUP_SECONDS):
                place = await self._requests.queue_place(document.request_id)
        except OUTAGES:
            return None
        if place is None:
            return None
        rate = await self._rate(place.lane)
        start = finish = None
        if rate.per_second > 0:
            start = datetime.now(UTC) + timedelta(seconds=(place.position - 1) / rate.per_second)
            retry_at = document.body["nextAttemptAt"]
            if retry_at is not None:  # waiting out a retry's backoff: not before it is due
                start = max(start, datetime.fromisoformat(retry_at))
            finish = start + timedelta(seconds=rate.seconds_per_job)
        return {
            "position": place.position,
            "estimatedStartAt": start.isoformat() if start else None,
            "estimatedFinishAt": finish.isoformat() if finish else None,
        }

    async def _rate(self, lane: str) -> LaneRate:
        now = time.monotonic()
        known = self._rates.get(lane)
        if known is not None and now - known[0] < RATE_SECONDS:
            return known[1]
        rate = await self._cache.lane_rate(lane)
        self._rates[lane] = (now, rate)
        return rate


def estimated_finish(document: StatusDocument, now: datetime | None = None) -> str | None:
    """When a running report with a known total should finish, at the rate it has written
    rows since it started; None otherwise."""
    body = document.body
    progress, started = body["progress"], body["startedAt"]
    if body["status"] != ReportStatus.PROCESSING.value or not progress or not started:
        return None
    written, expected = progress["rowsWritten"], progress["rowsExpected"]
    now = now or datetime.now(UTC)
    elapsed = (now - datetime.fromisoformat(started)).total_seconds()
    if not expected or written <= 0 or elapsed <= 0:
        return None
    remaining = max(expected - written, 0) / (written / elapsed)
    return (now + timedelta(seconds=remaining)).isoformat()
