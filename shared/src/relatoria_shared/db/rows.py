"""Rows of `report_requests` as the domain's types: the status columns, and the mapping."""

import uuid
from typing import Any

import asyncpg

from relatoria_shared.domain.artifact_keys import FileHolder
from relatoria_shared.domain.errors import ErrorCode
from relatoria_shared.domain.formats import ReportFormat
from relatoria_shared.domain.lanes import Lane
from relatoria_shared.domain.report import Artifact, Progress, ReportRecord
from relatoria_shared.domain.status import ReportStatus

STATUS_COLUMNS = (
    "id, owner_id, report_type, lane, format, title, parameter_summary, status, attempts, "
    "max_attempts, version, created_at, updated_at, error_code, error_message, worker_id, "
    "lease_expires_at, next_attempt_at, started_at, finished_at, expires_at, "
    "first_failed_at, last_failed_at, object_key, content_type, file_name, size_bytes, "
    "sha256, row_count, page_count, rows_written, rows_expected"
)
"""What a status document or a transition reads of a request: everything but the inline
table (`parameters`), its idempotency fingerprint and its trace context."""


DELETE_PARAMETERS = "parameters = '{}'::jsonb, parameters_deleted_at = now()"
"""The assignments that delete a request's parameters (an inline table's cells) once no
attempt can need them; its `parameter_summary` stays, for status documents and listings."""


DUE_SINCE = "coalesce(next_attempt_at, updated_at)"
"""When a `queued` request became due: its retry's time, else when it last became `queued`
(its last update while it waits)."""


def qualified(alias: str) -> str:
    """`STATUS_COLUMNS`, each prefixed with a table alias."""
    return ", ".join(f"{alias}.{name.strip()}" for name in STATUS_COLUMNS.split(","))


def record_of(row: Any) -> ReportRecord:
    """The `ReportRecord` of a row holding `STATUS_COLUMNS`."""
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
        lane=Lane(row["lane"]),
        format=ReportFormat(row["format"]),
        title=row["title"],
        parameter_summary=row["parameter_summary"],
        status=ReportStatus(row["status"]),
        attempts=row["attempts"],
        max_attempts=row["max_attempts"],
        version=row["version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        error_code=ErrorCode(row["error_code"]) if row["error_code"] else None,
        error_message=row["error_message"],
        worker_id=row["worker_id"],
        lease_expires_at=row["lease_expires_at"],
        next_attempt_at=row["next_attempt_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        expires_at=row["expires_at"],
        first_failed_at=row["first_failed_at"],
        last_failed_at=row["last_failed_at"],
        artifact=artifact,
        progress=progress,
    )


async def file_holders(
    pool: asyncpg.Pool, report_ids: list[uuid.UUID]
) -> dict[uuid.UUID, FileHolder]:
    """What each of `report_ids` that exists says about its stored files."""
    rows = await pool.fetch(
        "SELECT id, status, attempts, object_key FROM report_requests WHERE id = ANY($1)",
        report_ids,
    )
    return {
        row["id"]: FileHolder(ReportStatus(row["status"]), row["attempts"], row["object_key"])
        for row in rows
    }
