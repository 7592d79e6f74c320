"""The repository of the sweeper, the retention cleanup and the admin commands.

The sweeper's batches lock their rows with `FOR UPDATE SKIP LOCKED`, so every worker can
run them at once without handling a row twice; which abandoned job is retried and which
given up is the caller's decision (the retry policy), taken while the rows are locked.
The expiry holds no lock while S3 deletes files: its marks are conditional instead.
"""

import uuid
from collections.abc import Awaitable, Callable, Collection
from datetime import datetime, timedelta
from typing import Any, Protocol

import asyncpg

from relatoria_shared.db.rows import (
    DELETE_PARAMETERS,
    DUE_SINCE,
    STATUS_COLUMNS,
    file_holders,
    record_of,
)
from relatoria_shared.db.worker_presence import LOCK_NAMESPACE
from relatoria_shared.domain.artifact_keys import FileHolder
from relatoria_shared.domain.lanes import Lane
from relatoria_shared.domain.report import ReportRecord
from relatoria_shared.domain.status import ReportStatus

FAILED_DELETES_IN_A_ROW = 3
"""Failed deletes in a row that stop a cleanup batch: S3 itself is failing."""

GivesUp = Callable[[int, int], bool]
"""Given (attempts, max_attempts) of an abandoned job: whether to give it up."""
Delete = Callable[[ReportRecord], Awaitable[bool]]


class MaintenanceRepository(Protocol):
    """What the sweeper, the cleanup and the admin commands read and write."""

    async def take_back_abandoned(
        self, limit: int, message: str, gives_up: GivesUp, lease: timedelta
    ) -> tuple[list[ReportRecord], list[ReportRecord]]:
        """Take back `processing` jobs whose worker is gone (its liveness lock released)
        or silent (lease expired): (requeued at once, given up as `error`). For a `lease`
        after PostgreSQL itself started, only expired leases count: every worker lost its
        lock with the restart, and live ones are taking theirs again."""
        ...

    async def expire_due(
        self, limit: int, *, delete: Delete, skip: Collection[uuid.UUID], now: datetime | None
    ) -> tuple[list[ReportRecord], list[uuid.UUID]]:
        """Delete the files of `done` requests past their expiry and mark them `expired`:
        (expired, ids whose delete failed)."""
        ...

    async def stamp_missing_expiry(self, retention: timedelta, limit: int = 1_000) -> int:
        """Give `done` requests without an expiry `finished_at + retention`."""
        ...

    async def replay(
        self, *, report_id: uuid.UUID | None, report_type: str | None, error_code: str | None
    ) -> list[ReportRecord]:
        """Give chosen `error` requests a fresh round of attempts."""
        ...

    async def get(self, report_id: uuid.UUID) -> ReportRecord | None:
        """The request's state, or None."""
        ...

    async def row(self, report_id: uuid.UUID) -> dict[str, Any] | None:
        """Every column of the request (for an operator's inspection)."""
        ...

    async def statuses(self, report_ids: list[uuid.UUID]) -> dict[uuid.UUID, ReportStatus]:
        """The current status of each of `report_ids` that exists."""
        ...

    async def queued_longer_than(self, seconds: float, limit: int) -> list[ReportRecord]:
        """`queued` requests due for longer than `seconds`, oldest first."""
        ...

    async def oldest_queued_ages(self) -> dict[Lane, float]:
        """Per lane, seconds since its oldest due `queued` request became due."""
        ...

    async def file_holders(self, report_ids: list[uuid.UUID]) -> dict[uuid.UUID, FileHolder]:
        """What each of `report_ids` that exists says about its stored files."""
        ...

    async def delete_parameters(self, report_ids: list[uuid.UUID]) -> int:
        """Delete the parameters (inline tables) of those of `report_ids` that are `error`
        (their dead letters discarded: no replay will need them); how many."""
        ...

    async def delete_old_error_parameters(self, older_than: timedelta, limit: int) -> int:
        """Delete the parameters of `error` requests that failed more than `older_than`
        ago, at most `limit`; how many."""
        ...


_ABANDONED = f"""
SELECT id, attempts, max_attempts FROM report_requests r
 WHERE status = 'processing'
   AND (lease_expires_at < now() OR (pg_postmaster_start_time() < now() - $2::interval
    AND NOT EXISTS (
     SELECT 1 FROM pg_locks l
      WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
        AND l.classid = {LOCK_NAMESPACE}::oid AND l.objid = hashtext(r.worker_id)::oid
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()))))
 ORDER BY lease_expires_at LIMIT $1 FOR UPDATE SKIP LOCKED
"""
_LOST = """
error_code = 'INTERNAL_ERROR', error_message = $2,
first_failed_at = coalesce(first_failed_at, now()), last_failed_at = now(),
lease_expires_at = NULL, updated_at = now(), version = version + 1
"""
# A job whose worker died is due again at once (no backoff: the crash was the worker's,
# not necessarily the job's), ahead of later arrivals (its fair time is kept). Its attempt
# stays counted, so a job that keeps killing workers ends as `error`.
_REQUEUE = f"""
UPDATE report_requests SET status = 'queued', worker_id = NULL, next_attempt_at = NULL, {_LOST}
 WHERE id = ANY($1) RETURNING {STATUS_COLUMNS}
"""
_GIVE_UP = f"""
UPDATE report_requests SET status = 'error', finished_at = now(), {_LOST}
 WHERE id = ANY($1) RETURNING {STATUS_COLUMNS}
"""
_DUE = f"""
SELECT {STATUS_COLUMNS} FROM report_requests
 WHERE status = 'done' AND expires_at <= coalesce($1, now()) AND NOT id = ANY($2)
 ORDER BY expires_at LIMIT $3
"""
_EXPIRE = f"""
UPDATE report_requests SET status = 'expired', updated_at = now(), version = version + 1
 WHERE id = ANY($1) AND status = 'done' RETURNING {STATUS_COLUMNS}
"""


class PgMaintenanceRepository:
    """`MaintenanceRepository` on PostgreSQL."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def take_back_abandoned(
        self, limit: int, message: str, gives_up: GivesUp, lease: timedelta
    ) -> tuple[list[ReportRecord], list[ReportRecord]]:
        """See `MaintenanceRepository.take_back_abandoned`."""
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(_ABANDONED, limit, lease)
            if not rows:
                return [], []
            end: list[uuid.UUID] = []
            again: list[uuid.UUID] = []
            for r in rows:
                (end if gives_up(r["attempts"], r["max_attempts"]) else again).append(r["id"])
            requeued = await conn.fetch(_REQUEUE, again, message) if again else []
            failed = await conn.fetch(_GIVE_UP, end, message) if end else []
        return [record_of(r) for r in requeued], [record_of(r) for r in failed]

    async def expire_due(
        self, limit: int, *, delete: Delete, skip: Collection[uuid.UUID], now: datetime | None
    ) -> tuple[list[ReportRecord], list[uuid.UUID]]:
        """See `MaintenanceRepository.expire_due`. No row is locked while S3 deletes: the
        due rows are read, their files deleted, and those still `done` marked (a report
        cancelled meanwhile stays cancelled; a concurrent cleanup marks each row once). A
        file that cannot be deleted leaves its request `done` for a later pass; after
        `FAILED_DELETES_IN_A_ROW` the batch stops (S3 is failing). A crash before the mark
        leaves the rows `done`, for the next pass to delete again (a missing object is
        fine)."""
        due = await self._pool.fetch(_DUE, now, list(skip), limit)
        deleted: list[uuid.UUID] = []
        failed: list[uuid.UUID] = []
        in_a_row = 0
        for row in due:
            if await delete(record_of(row)):
                deleted.append(row["id"])
                in_a_row = 0
                continue
            failed.append(row["id"])
            in_a_row += 1
            if in_a_row >= FAILED_DELETES_IN_A_ROW:
                break
        expired = await self._pool.fetch(_EXPIRE, deleted) if deleted else []
        return [record_of(r) for r in expired], failed

    async def stamp_missing_expiry(self, retention: timedelta, limit: int = 1_000) -> int:
        """See `MaintenanceRepository.stamp_missing_expiry`."""
        result: str = await self._pool.execute(
            """
            UPDATE report_requests SET expires_at = finished_at + $1::interval,
              version = version + 1
             WHERE id IN (SELECT id FROM report_requests
                           WHERE status = 'done' AND expires_at IS NULL
                           LIMIT $2 FOR UPDATE SKIP LOCKED)
            """,
            retention,
            limit,
        )
        return int(result.rsplit(maxsplit=1)[-1])

    async def replay(
        self, *, report_id: uuid.UUID | None, report_type: str | None, error_code: str | None
    ) -> list[ReportRecord]:
        """See `MaintenanceRepository.replay`. Other states are left alone, so replaying
        twice is harmless; so are requests whose inline data was deleted (nothing to
        render)."""
        rows = await self._pool.fetch(
            f"""
            UPDATE report_requests SET status = 'queued', attempts = 0, error_code = NULL,
              error_message = NULL, next_attempt_at = NULL, finished_at = NULL,
              first_failed_at = NULL, last_failed_at = NULL, fair_at = now(),
              updated_at = now(), version = version + 1
             WHERE status = 'error' AND parameters_deleted_at IS NULL
               AND ($1::uuid IS NULL OR id = $1)
               AND ($2::text IS NULL OR report_type = $2)
               AND ($3::text IS NULL OR error_code = $3)
            RETURNING {STATUS_COLUMNS}
            """,
            report_id,
            report_type,
            error_code,
        )
        return [record_of(r) for r in rows]

    async def get(self, report_id: uuid.UUID) -> ReportRecord | None:
        """See `MaintenanceRepository.get`."""
        row = await self._pool.fetchrow(
            f"SELECT {STATUS_COLUMNS} FROM report_requests WHERE id = $1", report_id
        )
        return None if row is None else record_of(row)

    async def row(self, report_id: uuid.UUID) -> dict[str, Any] | None:
        """See `MaintenanceRepository.row`."""
        row = await self._pool.fetchrow("SELECT * FROM report_requests WHERE id = $1", report_id)
        return None if row is None else dict(row)

    async def statuses(self, report_ids: list[uuid.UUID]) -> dict[uuid.UUID, ReportStatus]:
        """See `MaintenanceRepository.statuses`."""
        rows = await self._pool.fetch(
            "SELECT id, status FROM report_requests WHERE id = ANY($1)", report_ids
        )
        return {row["id"]: ReportStatus(row["status"]) for row in rows}

    async def queued_longer_than(self, seconds: float, limit: int) -> list[ReportRecord]:
        """See `MaintenanceRepository.queued_longer_than`."""
        rows = await self._pool.fetch(
            f"""SELECT {STATUS_COLUMNS} FROM report_requests
                 WHERE status = 'queued' AND {DUE_SINCE} < now() - $1::interval
                 ORDER BY {DUE_SINCE} LIMIT $2""",
            timedelta(seconds=seconds),
            limit,
        )
        return [record_of(r) for r in rows]

    async def oldest_queued_ages(self) -> dict[Lane, float]:
        """See `MaintenanceRepository.oldest_queued_ages`."""
        rows = await self._pool.fetch(
            f"""SELECT lane, extract(epoch FROM now() - min({DUE_SINCE})) AS age
                  FROM report_requests WHERE status = 'queued' AND {DUE_SINCE} <= now()
                 GROUP BY lane"""
        )
        return {Lane(row["lane"]): float(row["age"]) for row in rows}

    async def file_holders(self, report_ids: list[uuid.UUID]) -> dict[uuid.UUID, FileHolder]:
        """See `MaintenanceRepository.file_holders`."""
        return await file_holders(self._pool, report_ids)

    async def delete_parameters(self, report_ids: list[uuid.UUID]) -> int:
        """See `MaintenanceRepository.delete_parameters`."""
        result: str = await self._pool.execute(
            f"""UPDATE report_requests SET {DELETE_PARAMETERS}
                 WHERE id = ANY($1) AND status = 'error' AND parameters_deleted_at IS NULL""",
            report_ids,
        )
        return int(result.rsplit(maxsplit=1)[-1])

    async def delete_old_error_parameters(self, older_than: timedelta, limit: int) -> int:
        """See `MaintenanceRepository.delete_old_error_parameters`."""
        result: str = await self._pool.execute(
            f"""UPDATE report_requests SET {DELETE_PARAMETERS}
                 WHERE id IN (SELECT id FROM report_requests
                               WHERE status = 'error' AND parameters_deleted_at IS NULL
                                 AND coalesce(finished_at, updated_at) < now() - $1::interval
                               LIMIT $2 FOR UPDATE SKIP LOCKED)""",
            older_than,
            limit,
        )
        return int(result.rsplit(maxsplit=1)[-1])
