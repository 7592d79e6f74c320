"""The worker's repository: claim the next request of a lane fairly, and record a claimed
job's life (heartbeats, progress, outcome), each write fenced by the claim.

Claiming is one statement: the due `queued` request of the lane with the earliest fair
time (`FOR UPDATE SKIP LOCKED`, so concurrent workers never wait on each other) becomes
`processing` for this worker, its attempt counted. The attempt number is the fencing token:
once another claim has counted an attempt, this one's writes match no row.
"""

import uuid
from datetime import timedelta
from typing import Protocol

import asyncpg

from relatoria_shared.db.rows import (
    DELETE_PARAMETERS,
    DUE_SINCE,
    STATUS_COLUMNS,
    file_holders,
    qualified,
    record_of,
)
from relatoria_shared.domain.artifact_keys import FileHolder
from relatoria_shared.domain.errors import ErrorCode
from relatoria_shared.domain.lanes import Lane
from relatoria_shared.domain.report import Artifact, Job, Progress, ReportRecord

MAX_MESSAGE = 2000


class JobRepository(Protocol):
    """What a worker reads and writes of the jobs it runs."""

    async def claim_next(self, lane: Lane, worker_id: str, lease: timedelta) -> Job | None:
        """Claim the next due request of `lane` for `worker_id`; None if there is none."""
        ...

    async def heartbeat(self, claimed: ReportRecord, lease: timedelta) -> bool:
        """Extend the lease; False if the claim is no longer held."""
        ...

    async def progress(
        self, claimed: ReportRecord, lease: timedelta, progress: Progress
    ) -> ReportRecord | None:
        """Extend the lease and record `progress`; None if the claim is no longer held."""
        ...

    async def complete(
        self, claimed: ReportRecord, artifact: Artifact, retention: timedelta
    ) -> ReportRecord | None:
        """Mark the job `done` with its file, kept for `retention`; None if not held."""
        ...

    async def retry(
        self, claimed: ReportRecord, code: ErrorCode, message: str, delay: timedelta
    ) -> ReportRecord | None:
        """Back to `queued` until `delay` has passed, the error visible; None if not held."""
        ...

    async def fail(
        self, claimed: ReportRecord, code: ErrorCode, message: str
    ) -> ReportRecord | None:
        """Mark the job `error`; None if not held."""
        ...

    async def release(self, claimed: ReportRecord) -> ReportRecord | None:
        """Hand the job back unfinished, its attempt uncounted; None if not held."""
        ...

    async def file_holder(self, report_id: uuid.UUID) -> FileHolder | None:
        """The request's status, attempt and recorded file now (after a lost claim: was it
        cancelled, and is this attempt's upload recorded after all?)."""
        ...


_CLAIM = f"""
UPDATE report_requests r SET
  status = 'processing', worker_id = $2, attempts = r.attempts + 1, started_at = now(),
  lease_expires_at = now() + $3::interval, next_attempt_at = NULL, rows_written = NULL,
  rows_expected = NULL, updated_at = now(), version = r.version + 1
FROM (
  SELECT id, {DUE_SINCE} AS due_since FROM report_requests
   WHERE status = 'queued' AND lane = $1
     AND (next_attempt_at IS NULL OR next_attempt_at <= now())
   ORDER BY fair_at LIMIT 1 FOR UPDATE SKIP LOCKED
) next
WHERE r.id = next.id
RETURNING {qualified("r")}, r.parameters, r.traceparent, next.due_since
"""
_HELD = "id = $1 AND status = 'processing' AND worker_id = $2 AND attempts = $3"
_VERSION = "updated_at = now(), version = version + 1"
_FAILURE = (
    "error_code = $4, error_message = $5, first_failed_at = coalesce(first_failed_at, now()), "
    "last_failed_at = now()"
)
_HEARTBEAT = f"UPDATE report_requests SET lease_expires_at = now() + $4::interval WHERE {_HELD}"
_PROGRESS = f"""
UPDATE report_requests SET lease_expires_at = now() + $4::interval, rows_written = $5,
  rows_expected = $6, {_VERSION}
WHERE {_HELD} RETURNING {STATUS_COLUMNS}
"""
_COMPLETE = f"""
UPDATE report_requests SET status = 'done', object_key = $4, content_type = $5,
  file_name = $6, size_bytes = $7, sha256 = $8, row_count = $9::integer, page_count = $10,
  rows_written = $9::bigint, rows_expected = $9::bigint, finished_at = now(),
  expires_at = now() + $11::interval, lease_expires_at = NULL, error_code = NULL,
  error_message = NULL, {DELETE_PARAMETERS}, {_VERSION}
WHERE {_HELD} RETURNING {STATUS_COLUMNS}
"""
_RETRY = f"""
UPDATE report_requests SET status = 'queued', {_FAILURE},
  next_attempt_at = now() + $6::interval, fair_at = now() + $6::interval,
  lease_expires_at = NULL, worker_id = NULL, {_VERSION}
WHERE {_HELD} RETURNING {STATUS_COLUMNS}
"""
_FAIL = f"""
UPDATE report_requests SET status = 'error', {_FAILURE}, finished_at = now(),
  lease_expires_at = NULL, {_VERSION}
WHERE {_HELD} RETURNING {STATUS_COLUMNS}
"""
_RELEASE = f"""
UPDATE report_requests SET status = 'queued', attempts = attempts - 1,
  lease_expires_at = NULL, worker_id = NULL, {_VERSION}
WHERE {_HELD} RETURNING {STATUS_COLUMNS}
"""


class PgJobRepository:
    """`JobRepository` on PostgreSQL."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def claim_next(self, lane: Lane, worker_id: str, lease: timedelta) -> Job | None:
        """See `JobRepository.claim_next`."""
        row = await self._pool.fetchrow(_CLAIM, lane.value, worker_id, lease)
        if row is None:
            return None
        return Job(
            record=record_of(row),
            parameters=row["parameters"],
            due_since=row["due_since"],
            traceparent=row["traceparent"],
        )

    async def heartbeat(self, claimed: ReportRecord, lease: timedelta) -> bool:
        """See `JobRepository.heartbeat`."""
        result: str = await self._pool.execute(_HEARTBEAT, *_fence(claimed), lease)
        return result != "UPDATE 0"

    async def progress(
        self, claimed: ReportRecord, lease: timedelta, progress: Progress
    ) -> ReportRecord | None:
        """See `JobRepository.progress`."""
        return await self._write(
            _PROGRESS, claimed, lease, progress.rows_written, progress.rows_expected
        )

    async def complete(
        self, claimed: ReportRecord, artifact: Artifact, retention: timedelta
    ) -> ReportRecord | None:
        """See `JobRepository.complete`."""
        return await self._write(
            _COMPLETE,
            claimed,
            artifact.object_key,
            artifact.content_type,
            artifact.file_name,
            artifact.size_bytes,
            artifact.sha256,
            artifact.row_count,
            artifact.page_count,
            retention,
        )

    async def retry(
        self, claimed: ReportRecord, code: ErrorCode, message: str, delay: timedelta
    ) -> ReportRecord | None:
        """See `JobRepository.retry`."""
        return await self._write(_RETRY, claimed, code.value, message[:MAX_MESSAGE], delay)

    async def fail(
        self, claimed: ReportRecord, code: ErrorCode, message: str
    ) -> ReportRecord | None:
        """See `JobRepository.fail`."""
        return await self._write(_FAIL, claimed, code.value, message[:MAX_MESSAGE])

    async def release(self, claimed: ReportRecord) -> ReportRecord | None:
        """See `JobRepository.release`."""
        return await self._write(_RELEASE, claimed)

    async def file_holder(self, report_id: uuid.UUID) -> FileHolder | None:
        """See `JobRepository.file_holder`."""
        holders = await file_holders(self._pool, [report_id])
        return holders.get(report_id)

    async def _write(self, sql: str, claimed: ReportRecord, *args: object) -> ReportRecord | None:
        row = await self._pool.fetchrow(sql, *_fence(claimed), *args)
        return None if row is None else record_of(row)


def _fence(claimed: ReportRecord) -> tuple[object, ...]:
    return claimed.id, claimed.worker_id, claimed.attempts
