"""The BFF's repository: record a request (within its owner's limits), read, list, cancel.

Recording is one statement: the owner's fair-queueing clock and POST token bucket move in
the same statement that inserts the request, which also sends its wake-up (a notification
delivered once it commits, `db.wake_channel`); the owner's in-flight count is kept by the
table's trigger. The clock never runs further ahead of the present than the owner's
requests in flight justify (finished work leaves no debt), and the bucket never refills
backwards (`now()` is each statement's start). Nothing here reads the inline table back.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import asyncpg

from relatoria_shared.db.rows import DELETE_PARAMETERS, STATUS_COLUMNS, qualified, record_of
from relatoria_shared.db.wake_channel import WAKE_CHANNEL
from relatoria_shared.domain.owner_limits import OwnerLimits
from relatoria_shared.domain.report import NewReport, ReportRecord
from relatoria_shared.domain.status import ReportStatus


@dataclass(frozen=True)
class PageCursor:
    """Where a keyset page starts: strictly after this (created_at, id), newest first."""

    created_at: datetime
    id: uuid.UUID


@dataclass(frozen=True)
class Recorded:
    """A request as recorded: newly, or earlier under the same idempotency key."""

    record: ReportRecord
    created: bool
    request_fingerprint: str | None = None


@dataclass(frozen=True)
class Cancelled:
    """A request just cancelled, and the key of the file it had recorded (to delete)."""

    record: ReportRecord
    recorded_key: str | None


@dataclass(frozen=True)
class OverLimit:
    """Nothing recorded: the owner is over a limit."""

    in_flight: int
    tokens: float


@dataclass(frozen=True)
class QueuePlace:
    """A queued request's lane, and its place there: 1 is the next to be claimed."""

    lane: str
    position: int


class RequestRepository(Protocol):
    """What the BFF reads and writes of requests."""

    async def record(self, new: NewReport, limits: OwnerLimits) -> Recorded | OverLimit:
        """Record `new` as `queued`, unless its key was used (then: the earlier request) or
        its owner is over a limit."""
        ...

    async def get(self, report_id: uuid.UUID) -> ReportRecord | None:
        """The request's state, or None."""
        ...

    async def list_for_owner(
        self, owner_id: str, *, limit: int, after: PageCursor | None, status: ReportStatus | None
    ) -> list[ReportRecord]:
        """The owner's requests, newest first, at most `limit`, starting after `after`."""
        ...

    async def cancel(self, report_id: uuid.UUID, owner_id: str) -> Cancelled | None:
        """Cancel the owner's queued, processing or done request; None if not cancellable."""
        ...

    async def queue_place(self, report_id: uuid.UUID) -> QueuePlace | None:
        """Where a queued request stands in its lane; None if it is not queued."""
        ...

    async def ping(self) -> None:
        """Raise if PostgreSQL cannot answer."""
        ...


# Every number typed: PostgreSQL infers a parameter's type from its first use, and a
# quantum taken for an integer would be truncated to 0 s.
_RECORD = f"""
WITH owner AS (
  INSERT INTO report_owners AS o (owner_id, lane, clock, tokens, refilled_at)
  VALUES ($2, $6, now(), $16::float8 - 1, now())
  ON CONFLICT (owner_id, lane) DO UPDATE SET
    clock = greatest(
      least(o.clock, now() + make_interval(secs => $14::float8 * o.in_flight))
        + make_interval(secs => $14::float8),
      now()),
    tokens = least($16::float8, o.tokens
      + greatest(extract(epoch FROM now() - o.refilled_at), 0) * $15::float8) - 1,
    refilled_at = greatest(o.refilled_at, now())
  WHERE o.in_flight < $13
    AND least($16::float8, o.tokens
      + greatest(extract(epoch FROM now() - o.refilled_at), 0) * $15::float8) >= 1
  RETURNING o.clock
), inserted AS (
  INSERT INTO report_requests (
    id, owner_id, idempotency_key, request_fingerprint, report_type, lane, format, title,
    parameters, parameter_summary, max_attempts, traceparent, callback_url, fair_at, status)
  SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $17, owner.clock, 'queued'
    FROM owner
  ON CONFLICT (owner_id, idempotency_key) DO NOTHING
  RETURNING created_at
), woken AS (
  SELECT pg_notify('{WAKE_CHANNEL}', $6) FROM inserted
)
SELECT (SELECT clock FROM owner) AS clock, (SELECT created_at FROM inserted) AS created_at,
  -- Read, so that the notifying CTE runs: an unreferenced SELECT CTE never does.
  (SELECT count(*) FROM woken) AS woken
"""
_BY_KEY = f"""
SELECT {STATUS_COLUMNS}, request_fingerprint FROM report_requests
 WHERE owner_id = $1 AND idempotency_key = $2
"""
_OWNER = "SELECT in_flight, tokens, refilled_at, now() AS now FROM report_owners "
_OWNER += "WHERE owner_id = $1 AND lane = $2"
_GET = f"SELECT {STATUS_COLUMNS} FROM report_requests WHERE id = $1"
# The due queued requests of the lane claimed before this one (`fair_at` order, as the
# claim takes them; ties, which the claim takes in any order, by id): a range of the
# claim's own partial index.
_QUEUE_PLACE = """
SELECT me.lane, 1 + (
  SELECT count(*) FROM report_requests r
   WHERE r.status = 'queued' AND r.lane = me.lane
     AND (r.fair_at < me.fair_at OR (r.fair_at = me.fair_at AND r.id < me.id))
     AND (r.next_attempt_at IS NULL OR r.next_attempt_at <= now())
) AS position
FROM report_requests me WHERE me.id = $1 AND me.status = 'queued'
"""
# The row is locked before it is read, so the key returned is the one recorded when the
# cancel took effect (a worker's concurrent `done` either lands first or not at all).
_CANCEL = f"""
UPDATE report_requests r SET
  status = 'cancelled', error_code = 'CANCELLED', error_message = 'cancelled by its owner',
  finished_at = now(), lease_expires_at = NULL, object_key = NULL, content_type = NULL,
  file_name = NULL, size_bytes = NULL, sha256 = NULL, row_count = NULL, page_count = NULL,
  {DELETE_PARAMETERS}, updated_at = now(), version = r.version + 1
FROM (SELECT id, object_key FROM report_requests WHERE id = $1 AND owner_id = $2
      FOR UPDATE) recorded
WHERE r.id = recorded.id AND r.status IN ('queued', 'processing', 'done')
RETURNING {qualified("r")}, recorded.object_key AS recorded_key
"""


class PgRequestRepository:
    """`RequestRepository` on PostgreSQL."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def record(self, new: NewReport, limits: OwnerLimits) -> Recorded | OverLimit:
        """See `RequestRepository.record`."""
        report_id = uuid.uuid4()
        # Twice at most: a key whose holder was rolled back between our two statements
        # is free again.
        for _ in range(2):
            async with self._pool.acquire() as conn:
                row = await conn.fetchrow(
                    _RECORD,
                    report_id,
                    new.owner_id,
                    new.idempotency_key,
                    new.request_fingerprint,
                    new.report_type,
                    new.lane.value,
                    new.format.value,
                    new.title,
                    new.parameters,
                    new.parameter_summary,
                    new.max_attempts,
                    new.traceparent,
                    limits.max_in_flight,
                    limits.quantum_seconds(new.lane),
                    limits.posts_per_second,
                    float(limits.post_burst),
                    new.callback_url,
                )
                if row["created_at"] is not None:
                    return Recorded(_new_record(report_id, new, row["created_at"]), created=True)
                if new.idempotency_key is not None:
                    earlier = await conn.fetchrow(_BY_KEY, new.owner_id, new.idempotency_key)
                    if earlier is not None:
                        return Recorded(
                            record_of(earlier),
                            created=False,
                            request_fingerprint=earlier["request_fingerprint"],
                        )
                if row["clock"] is None:
                    return await _over_limit(conn, new, limits)
        raise RuntimeError("idempotency key kept changing hands")

    async def queue_place(self, report_id: uuid.UUID) -> QueuePlace | None:
        """See `RequestRepository.queue_place`."""
        row = await self._pool.fetchrow(_QUEUE_PLACE, report_id)
        return QueuePlace(row["lane"], row["position"]) if row else None

    async def get(self, report_id: uuid.UUID) -> ReportRecord | None:
        """See `RequestRepository.get`."""
        row = await self._pool.fetchrow(_GET, report_id)
        return None if row is None else record_of(row)

    async def list_for_owner(
        self, owner_id: str, *, limit: int, after: PageCursor | None, status: ReportStatus | None
    ) -> list[ReportRecord]:
        """See `RequestRepository.list_for_owner`."""
        query = f"SELECT {STATUS_COLUMNS} FROM report_requests WHERE owner_id = $1"
        args: list[Any] = [owner_id]
        if status is not None:
            args.append(status.value)
            query += f" AND status = ${len(args)}"
        if after is not None:
            args += [after.created_at, after.id]
            query += f" AND (created_at, id) < (${len(args) - 1}, ${len(args)})"
        args.append(limit)
        query += f" ORDER BY created_at DESC, id DESC LIMIT ${len(args)}"
        return [record_of(row) for row in await self._pool.fetch(query, *args)]

    async def cancel(self, report_id: uuid.UUID, owner_id: str) -> Cancelled | None:
        """See `RequestRepository.cancel`."""
        row = await self._pool.fetchrow(_CANCEL, report_id, owner_id)
        return None if row is None else Cancelled(record_of(row), row["recorded_key"])

    async def ping(self) -> None:
        """See `RequestRepository.ping`."""
        await self._pool.fetchval("SELECT 1")


async def _over_limit(conn: Any, new: NewReport, limits: OwnerLimits) -> OverLimit:
    row = await conn.fetchrow(_OWNER, new.owner_id, new.lane.value)
    elapsed = (row["now"] - row["refilled_at"]).total_seconds()
    tokens = min(float(limits.post_burst), row["tokens"] + elapsed * limits.posts_per_second)
    return OverLimit(in_flight=row["in_flight"], tokens=tokens)


def _new_record(report_id: uuid.UUID, new: NewReport, created_at: datetime) -> ReportRecord:
    return ReportRecord(
        id=report_id,
        owner_id=new.owner_id,
        report_type=new.report_type,
        lane=new.lane,
        format=new.format,
        title=new.title,
        parameter_summary=new.parameter_summary,
        status=ReportStatus.QUEUED,
        attempts=0,
        max_attempts=new.max_attempts,
        version=1,
        created_at=created_at,
        updated_at=created_at,
    )
