"""`ReportRepository`: every read and state transition of `report_requests`.

Transitions are single conditional UPDATEs, so concurrent workers and duplicate
deliveries resolve in PostgreSQL: whoever's UPDATE matches wins, everyone else gets
`None` and does nothing.
"""

import logging
import uuid
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from relatoria_shared.db.tables import report_requests as t
from relatoria_shared.domain.errors import ErrorCode
from relatoria_shared.domain.formats import ReportFormat
from relatoria_shared.domain.report import Artifact, NewReport, Progress, ReportRecord
from relatoria_shared.domain.retry_policy import Retry, RetryPolicy
from relatoria_shared.domain.status import ReportStatus

_FAILED_DELETES_IN_A_ROW = 3
"""Failed deletes in a row that stop a cleanup batch: S3 itself is failing."""
_NOW = sa.func.now()
log = logging.getLogger(__name__)

# The POST path's statements, built once: SQLAlchemy then reuses their compiled form
# instead of rebuilding and re-keying a statement per request.
_INSERT_COLUMNS = (
    "id",
    "owner_id",
    "idempotency_key",
    "request_fingerprint",
    "report_type",
    "format",
    "title",
    "parameters",
    "status",
    "max_attempts",
)
_INSERT = (
    insert(t)
    .values({name: sa.bindparam(name, type_=t.c[name].type) for name in _INSERT_COLUMNS})
    .on_conflict_do_nothing(index_elements=[t.c.owner_id, t.c.idempotency_key])
    .returning(*t.c)
)
_BY_IDEMPOTENCY_KEY = sa.select(t).where(
    t.c.owner_id == sa.bindparam("owner_id"),
    t.c.idempotency_key == sa.bindparam("idempotency_key"),
)
_MARK_PUBLISHED = (
    sa.update(t)
    .where(t.c.id == sa.bindparam("report_id"), t.c.published_at.is_(None))
    .values(published_at=_NOW)
)


@dataclass(frozen=True)
class PageCursor:
    """Where a keyset page starts: strictly after this (created_at, id), newest first."""

    created_at: datetime
    id: uuid.UUID


class ReportRepository:
    """Reads and transitions of report requests in PostgreSQL."""

    def __init__(self, engine: AsyncEngine, *, artifact_retention: timedelta | None = None) -> None:
        """`artifact_retention`: how long a `done` report's file is kept; `complete` stamps
        `expires_at` with it (without it, `expires_at` stays NULL, which `expire_due`
        reads as `finished_at` plus its own retention)."""
        self._engine = engine
        self._retention = artifact_retention

    async def ping(self) -> None:
        """Raise if PostgreSQL cannot answer a trivial query."""
        async with self._engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))

    async def create(self, new: NewReport) -> tuple[ReportRecord, bool]:
        """Record `new` as `queued`; return it and whether it was created.

        With an idempotency key already used by the same owner, nothing is inserted and
        the original request comes back with `False`.
        """
        values = {
            "id": uuid.uuid4(),
            "owner_id": new.owner_id,
            "idempotency_key": new.idempotency_key,
            "request_fingerprint": new.request_fingerprint,
            "report_type": new.report_type,
            "format": new.format.value,
            "title": new.title,
            "parameters": new.parameters,
            "status": ReportStatus.QUEUED.value,
            "max_attempts": new.max_attempts,
        }
        key = {"owner_id": new.owner_id, "idempotency_key": new.idempotency_key}
        # Twice at most: the original holder of the key may be withdrawn between our
        # conflicting INSERT and our SELECT, and then the key is free again.
        for _ in range(2):
            async with self._engine.begin() as conn:
                row = (await conn.execute(_INSERT, values)).mappings().first()
                if row is not None:
                    return _record(row), True
                existing = (await conn.execute(_BY_IDEMPOTENCY_KEY, key)).mappings().first()
                if existing is not None:
                    return _record(existing), False
        raise RuntimeError("idempotency key kept changing hands")

    async def mark_published(self, report_id: uuid.UUID) -> None:
        """Note that the broker confirmed the request's message."""
        async with self._engine.begin() as conn:
            await conn.execute(_MARK_PUBLISHED, {"report_id": report_id})

    async def get(self, report_id: uuid.UUID) -> ReportRecord | None:
        """The request with this id, or None."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(sa.select(t).where(t.c.id == report_id))).mappings().first()
        return None if row is None else _record(row)

    async def list_for_owner(
        self,
        owner_id: str,
        *,
        limit: int,
        after: PageCursor | None = None,
        status: ReportStatus | None = None,
    ) -> list[ReportRecord]:
        """The owner's requests, newest first, at most `limit`, starting after `after`."""
        query = sa.select(t).where(t.c.owner_id == owner_id)
        if status is not None:
            query = query.where(t.c.status == status.value)
        if after is not None:
            query = query.where(sa.tuple_(t.c.created_at, t.c.id) < (after.created_at, after.id))
        query = query.order_by(t.c.created_at.desc(), t.c.id.desc()).limit(limit)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_record(row) for row in rows]

    async def claim(
        self, report_id: uuid.UUID, worker_id: str, lease: timedelta
    ) -> ReportRecord | None:
        """Take the request for `worker_id`, or None if it is not claimable.

        Claimable: `queued`, or `processing` whose lease has expired (its worker died)
        while attempts remain. Each claim counts an attempt, which is also the fencing token.
        """
        claimable = sa.or_(
            t.c.status == ReportStatus.QUEUED.value,
            sa.and_(
                t.c.status == ReportStatus.PROCESSING.value,
                t.c.lease_expires_at < _NOW,
                t.c.attempts < t.c.max_attempts,
            ),
        )
        return await self._transition(
            sa.and_(t.c.id == report_id, claimable),
            status=ReportStatus.PROCESSING.value,
            worker_id=worker_id,
            attempts=t.c.attempts + 1,
            started_at=_NOW,
            lease_expires_at=_NOW + lease,
            next_attempt_at=None,
            rows_written=None,
            rows_expected=None,
        )

    async def complete(self, claimed: ReportRecord, artifact: Artifact) -> ReportRecord | None:
        """Mark a claimed request `done`; None if the claim is no longer held."""
        return await self._transition(
            _held_by(claimed),
            status=ReportStatus.DONE.value,
            object_key=artifact.object_key,
            content_type=artifact.content_type,
            file_name=artifact.file_name,
            size_bytes=artifact.size_bytes,
            sha256=artifact.sha256,
            row_count=artifact.row_count,
            page_count=artifact.page_count,
            rows_written=artifact.row_count,
            rows_expected=artifact.row_count,
            finished_at=_NOW,
            expires_at=None if self._retention is None else _NOW + self._retention,
            lease_expires_at=None,
            error_code=None,
            error_message=None,
        )

    async def fail(
        self, claimed: ReportRecord, code: ErrorCode, message: str
    ) -> ReportRecord | None:
        """Mark a claimed request `error`; None if the claim is no longer held."""
        return await self._transition(
            _held_by(claimed),
            **_failure(code, message),
            status=ReportStatus.ERROR.value,
            finished_at=_NOW,
            lease_expires_at=None,
        )

    async def heartbeat(self, claimed: ReportRecord, lease: timedelta) -> bool:
        """Extend the claim's lease; False if it is no longer held (taken over, cancelled)."""
        statement = (
            sa.update(t)
            .where(_held_by(claimed))
            .values(lease_expires_at=_NOW + lease)
            .returning(t.c.id)
        )
        async with self._engine.begin() as conn:
            return (await conn.execute(statement)).first() is not None

    async def heartbeat_with_progress(
        self, claimed: ReportRecord, lease: timedelta, progress: Progress
    ) -> ReportRecord | None:
        """Extend the claim's lease and record `progress` (a new version of the status
        document); None if the claim is no longer held."""
        return await self._transition(
            _held_by(claimed),
            lease_expires_at=_NOW + lease,
            rows_written=progress.rows_written,
            rows_expected=progress.rows_expected,
        )

    async def schedule_retry(
        self, claimed: ReportRecord, code: ErrorCode, message: str, delay: timedelta
    ) -> ReportRecord | None:
        """Put a claimed request back to `queued` until `delay` has passed, keeping the error
        visible; None if the claim is no longer held."""
        return await self._transition(
            _held_by(claimed),
            **_failure(code, message),
            status=ReportStatus.QUEUED.value,
            next_attempt_at=_NOW + delay,
            published_at=None,
            lease_expires_at=None,
            worker_id=None,
        )

    async def release(self, claimed: ReportRecord) -> ReportRecord | None:
        """Hand a claimed request back unfinished (shutdown): queued again, attempt uncounted."""
        return await self._transition(
            _held_by(claimed),
            status=ReportStatus.QUEUED.value,
            attempts=t.c.attempts - 1,
            published_at=None,
            lease_expires_at=None,
            worker_id=None,
        )

    async def cancel(self, report_id: uuid.UUID, owner_id: str) -> ReportRecord | None:
        """Cancel the owner's queued, processing or done request; None if not cancellable."""
        cancellable = [
            ReportStatus.QUEUED.value,
            ReportStatus.PROCESSING.value,
            ReportStatus.DONE.value,
        ]
        return await self._transition(
            sa.and_(t.c.id == report_id, t.c.owner_id == owner_id, t.c.status.in_(cancellable)),
            status=ReportStatus.CANCELLED.value,
            error_code=ErrorCode.CANCELLED.value,
            error_message="cancelled by its owner",
            finished_at=_NOW,
            lease_expires_at=None,
            **dict.fromkeys(_ARTIFACT_COLUMNS),
        )

    async def replay(
        self,
        *,
        report_id: uuid.UUID | None = None,
        report_type: str | None = None,
        error_code: str | None = None,
    ) -> list[ReportRecord]:
        """Give `error` requests a fresh round of attempts: one by id, all of one type
        and/or error code, or all. Requests in any other state are left alone, so
        replaying twice is harmless."""
        condition = t.c.status == ReportStatus.ERROR.value
        if report_id is not None:
            condition = sa.and_(condition, t.c.id == report_id)
        if report_type is not None:
            condition = sa.and_(condition, t.c.report_type == report_type)
        if error_code is not None:
            condition = sa.and_(condition, t.c.error_code == error_code)
        statement = (
            sa.update(t)
            .where(condition)
            .values(
                status=ReportStatus.QUEUED.value,
                attempts=0,
                error_code=None,
                error_message=None,
                next_attempt_at=None,
                published_at=None,
                finished_at=None,
                first_failed_at=None,
                last_failed_at=None,
                updated_at=_NOW,
                version=t.c.version + 1,
            )
            .returning(*t.c)
        )
        async with self._engine.begin() as conn:
            rows = (await conn.execute(statement)).mappings().all()
        return [_record(row) for row in rows]

    async def statuses(self, report_ids: list[uuid.UUID]) -> dict[uuid.UUID, ReportStatus]:
        """The current status of each of `report_ids` that exists."""
        if not report_ids:
            return {}
        query = sa.select(t.c.id, t.c.status).where(t.c.id.in_(report_ids))
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return {row.id: ReportStatus(row.status) for row in rows}

    async def sweep_expired_leases(
        self, limit: int, lost_message: str, policy: RetryPolicy
    ) -> tuple[list[tuple[ReportRecord, float]], list[ReportRecord]]:
        """Take back `processing` requests whose worker stopped heartbeating.

        Returns (requeued, failed). With attempts left, a request goes back to `queued`
        until the retry policy's delay has passed (a job that killed its worker should not
        kill the next one at once); it comes with that delay, for the caller to park its
        job. Without, it ends as `error`. Rows other sweepers hold are skipped.
        """
        expired = (
            sa.select(t.c.id, t.c.attempts, t.c.max_attempts)
            .where(t.c.status == ReportStatus.PROCESSING.value, t.c.lease_expires_at < _NOW)
            .order_by(t.c.lease_expires_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        failure = _failure(ErrorCode.INTERNAL_ERROR, lost_message)
        requeued: list[tuple[ReportRecord, float]] = []
        give_up: list[uuid.UUID] = []
        async with self._engine.begin() as conn:
            for row in (await conn.execute(expired)).all():
                decision = policy.decide(ErrorCode.INTERNAL_ERROR, row.attempts, row.max_attempts)
                if not isinstance(decision, Retry):
                    give_up.append(row.id)
                    continue
                (record,) = await _update_many(
                    conn,
                    [row.id],
                    **failure,
                    status=ReportStatus.QUEUED.value,
                    next_attempt_at=_NOW + timedelta(seconds=decision.delay_seconds),
                    published_at=None,
                    lease_expires_at=None,
                    worker_id=None,
                )
                requeued.append((record, decision.delay_seconds))
            failed = await _update_many(
                conn,
                give_up,
                **failure,
                status=ReportStatus.ERROR.value,
                finished_at=_NOW,
                lease_expires_at=None,
            )
        return requeued, failed

    async def publish_due(
        self,
        limit: int,
        *,
        grace: timedelta,
        republish_after: timedelta,
        publish: Callable[[ReportRecord], Awaitable[bool]],
    ) -> int:
        """Publish `queued` requests that need it, under row locks other sweepers skip.

        Due: never confirmed published (and older than `grace`, so a BFF mid-publish is
        left alone) once any retry delay has passed; or published but still not picked up
        `republish_after` later (the broker may have lost the message). Duplicates are
        harmless: claims are idempotent. Returns how many were published.
        """
        now = sa.func.now()
        # PostgreSQL's GREATEST skips NULLs: the later of publish time and retry due time.
        due_at = sa.func.greatest(t.c.published_at, t.c.next_attempt_at)
        never_published = sa.and_(
            t.c.published_at.is_(None),
            t.c.updated_at < now - grace,
            sa.or_(t.c.next_attempt_at.is_(None), t.c.next_attempt_at <= now),
        )
        lost = sa.and_(t.c.published_at.is_not(None), due_at < now - republish_after)
        query = (
            sa.select(t)
            .where(t.c.status == ReportStatus.QUEUED.value, sa.or_(never_published, lost))
            .order_by(t.c.created_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        published: list[uuid.UUID] = []
        async with self._engine.begin() as conn:
            for row in (await conn.execute(query)).mappings().all():
                try:
                    record = _record(row)
                except ValueError:
                    log.exception(
                        "unreadable request skipped", extra={"request_id": str(row["id"])}
                    )
                    continue
                # The broker is failing: stop, rather than hold these row locks meanwhile.
                if not await publish(record):
                    break
                published.append(row["id"])
            if published:
                await conn.execute(
                    sa.update(t).where(t.c.id.in_(published)).values(published_at=now)
                )
        return len(published)

    async def stamp_missing_expiry(self, retention: timedelta, limit: int = 1_000) -> int:
        """Give `done` requests finished before expiries were stamped their `expires_at`
        (`finished_at + retention`), `limit` at a time; returns how many were stamped."""
        missing = (
            sa.select(t.c.id)
            .where(t.c.status == ReportStatus.DONE.value, t.c.expires_at.is_(None))
            .limit(limit)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        statement = (
            sa.update(t)
            .where(t.c.id.in_(missing))
            .values(expires_at=t.c.finished_at + retention, version=t.c.version + 1)
        )
        async with self._engine.begin() as conn:
            return (await conn.execute(statement)).rowcount

    async def expire_due(
        self,
        limit: int,
        *,
        delete: Callable[[ReportRecord], Awaitable[bool]],
        skip: Collection[uuid.UUID] = (),
        now: datetime | None = None,
    ) -> tuple[list[ReportRecord], list[uuid.UUID]]:
        """Expire `done` requests whose `expires_at` has passed, oldest first, under row
        locks other cleanups skip (`FOR UPDATE SKIP LOCKED`); `skip` leaves some out.

        `delete` removes each one's file and answers whether it could. A file that cannot
        be deleted leaves its request `done` for a later pass; after
        `_FAILED_DELETES_IN_A_ROW` in a row the batch stops (S3 is failing: do not hold the
        locks meanwhile). What was deleted is marked `expired` in one commit; a crash
        before it leaves the rows `done`, for the next pass to delete again (a missing
        object is fine) and mark. The artifact columns are kept: the status document still
        says what the file was. Returns the expired requests and the ids not deleted.
        """
        cutoff: Any = _NOW if now is None else sa.literal(now, sa.DateTime(timezone=True))
        query = (
            sa.select(t)
            .where(t.c.status == ReportStatus.DONE.value, t.c.expires_at <= cutoff)
            .order_by(t.c.expires_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        if skip:
            query = query.where(t.c.id.not_in(list(skip)))
        deleted: list[uuid.UUID] = []
        failed: list[uuid.UUID] = []
        in_a_row = 0
        async with self._engine.begin() as conn:
            for row in (await conn.execute(query)).mappings().all():
                if await delete(_record(row)):
                    deleted.append(row["id"])
                    in_a_row = 0
                    continue
                failed.append(row["id"])
                in_a_row += 1
                if in_a_row >= _FAILED_DELETES_IN_A_ROW:
                    break
            expired = await _update_many(conn, deleted, status=ReportStatus.EXPIRED.value)
        return expired, failed

    async def _transition(self, condition: Any, **values: Any) -> ReportRecord | None:
        statement = (
            sa.update(t)
            .where(condition)
            .values(**values, updated_at=_NOW, version=t.c.version + 1)
            .returning(*t.c)
        )
        async with self._engine.begin() as conn:
            row = (await conn.execute(statement)).mappings().first()
        return None if row is None else _record(row)

    # Metrics: read-only queries for the worker's gauges and histograms.

    async def due_at(self, report_id: uuid.UUID) -> datetime | None:
        """When the request became (or becomes) due (see `_due_since`); None if there is
        no such request."""
        query = sa.select(_due_since()).where(t.c.id == report_id)
        async with self._engine.connect() as conn:
            due: datetime | None = (await conn.execute(query)).scalar_one_or_none()
        return due

    async def oldest_queued_ages(self) -> dict[str, float]:
        """Per report type, the seconds since its oldest due `queued` request became due
        (see `_due_since`); types with none are left out."""
        due = _due_since()
        query = (
            sa.select(t.c.report_type, sa.extract("epoch", _NOW - sa.func.min(due)))
            .where(t.c.status == ReportStatus.QUEUED.value, due <= _NOW)
            .group_by(t.c.report_type)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return {report_type: float(age) for report_type, age in rows}


def _due_since() -> Any:
    """When a `queued` request became due: its retry's time, else when it last became
    `queued` (created, replayed, handed back, taken back from a dead worker), which is
    its last update while it waits."""
    return sa.func.coalesce(t.c.next_attempt_at, t.c.updated_at)


_ARTIFACT_COLUMNS = (
    "object_key",
    "content_type",
    "file_name",
    "size_bytes",
    "sha256",
    "row_count",
    "page_count",
)


def _failure(code: ErrorCode, message: str) -> dict[str, Any]:
    """The columns every failure sets: the error, and when failures started and last hit."""
    return {
        "error_code": code.value,
        "error_message": message[:2000],
        "first_failed_at": sa.func.coalesce(t.c.first_failed_at, _NOW),
        "last_failed_at": _NOW,
    }


async def _update_many(
    conn: AsyncConnection, ids: list[uuid.UUID], **values: Any
) -> list[ReportRecord]:
    if not ids:
        return []
    statement = (
        sa.update(t)
        .where(t.c.id.in_(ids))
        .values(**values, updated_at=_NOW, version=t.c.version + 1)
        .returning(*t.c)
    )
    return [_record(row) for row in (await conn.execute(statement)).mappings().all()]


def _held_by(claimed: ReportRecord) -> Any:
    # Fencing: the attempt number changes with every claim, so a worker whose lease
    # expired and was re-claimed can no longer match.
    return sa.and_(
        t.c.id == claimed.id,
        t.c.status == ReportStatus.PROCESSING.value,
        t.c.worker_id == claimed.worker_id,
        t.c.attempts == claimed.attempts,
    )


def _record(row: Any) -> ReportRecord:
    artifact = None
    if row["object_key"] is not None:
        artifact = Artifact(
            object_key=row["object_key"],
            content_type=row["content_type"],
            file_name=row["file_name"],
            size_bytes=row["size_bytes"],
            sha256=row["sha256"],
            row_count=row["row_count"],
            page_count=row["page_count"],
        )
    progress = None
    if row["rows_written"] is not None:
        progress = Progress(rows_written=row["rows_written"], rows_expected=row["rows_expected"])
    return ReportRecord(
        id=row["id"],
        owner_id=row["owner_id"],
        report_type=row["report_type"],
        format=ReportFormat(row["format"]),
        title=row["title"],
        parameters=row["parameters"],
        status=ReportStatus(row["status"]),
        attempts=row["attempts"],
        max_attempts=row["max_attempts"],
        version=row["version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        idempotency_key=row["idempotency_key"],
        request_fingerprint=row["request_fingerprint"],
        error_code=ErrorCode(row["error_code"]) if row["error_code"] else None,
        error_message=row["error_message"],
        worker_id=row["worker_id"],
        lease_expires_at=row["lease_expires_at"],
        published_at=row["published_at"],
        next_attempt_at=row["next_attempt_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        expires_at=row["expires_at"],
        first_failed_at=row["first_failed_at"],
        last_failed_at=row["last_failed_at"],
        artifact=artifact,
        progress=progress,
    )
