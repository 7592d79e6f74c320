"""A report request as the system knows it, and the status document clients read."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from relatoria_shared.domain.errors import ErrorCode
from relatoria_shared.domain.formats import ReportFormat
from relatoria_shared.domain.status import ReportStatus


@dataclass(frozen=True)
class NewReport:
    """A validated request, ready to be recorded."""

    owner_id: str
    report_type: str
    format: ReportFormat
    title: str
    parameters: dict[str, Any]
    idempotency_key: str | None = None
    request_fingerprint: str | None = None
    max_attempts: int = 5


@dataclass(frozen=True)
class Artifact:
    """The file a worker produced and stored."""

    object_key: str
    content_type: str
    file_name: str
    size_bytes: int
    sha256: str
    row_count: int
    page_count: int | None


@dataclass(frozen=True)
class Progress:
    """How far a running report has got: rows written, and the rows expected in all when
    known (exact for inline tables, the query planner's estimate for data sources)."""

    rows_written: int
    rows_expected: int | None = None


@dataclass(frozen=True)
class ReportRecord:
    """One row of `report_requests`: the authoritative state of a request."""

    id: uuid.UUID
    owner_id: str
    report_type: str
    format: ReportFormat
    title: str
    parameters: dict[str, Any]
    status: ReportStatus
    attempts: int
    max_attempts: int
    version: int
    created_at: datetime
    updated_at: datetime
    idempotency_key: str | None = None
    request_fingerprint: str | None = None
    error_code: ErrorCode | None = None
    error_message: str | None = None
    worker_id: str | None = None
    lease_expires_at: datetime | None = None
    published_at: datetime | None = None
    next_attempt_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    expires_at: datetime | None = None
    first_failed_at: datetime | None = None
    last_failed_at: datetime | None = None
    artifact: Artifact | None = None
    progress: Progress | None = None


def summarise_parameters(report_type: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """The parameters echoed in status documents.

    Inline rows can run to megabytes; clients polling a status should not download them
    again each time, so a table's rows are replaced by their count.
    """
    if report_type == "table":
        return {
            "columns": parameters.get("columns", []),
            "rowCount": len(parameters.get("rows", [])),
        }
    return dict(parameters)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def status_document(record: ReportRecord) -> dict[str, Any]:
    """The client-facing status of `record`, without the presigned URL (added on read).

    Keys are camelCase (the HTTP contract). `ownerId`, `objectKey` and `version` are
    internal: the cache needs them, the BFF strips them before answering.
    """
    artifact = record.artifact
    return {
        "requestId": str(record.id),
        "type": record.report_type,
        "format": record.format.value,
        "title": record.title,
        "parameters": summarise_parameters(record.report_type, record.parameters),
        "status": record.status.value,
        "errorCode": record.error_code.value if record.error_code else None,
        "errorMessage": record.error_message,
        "attempts": record.attempts,
        "maxAttempts": record.max_attempts,
        "createdAt": _iso(record.created_at),
        "updatedAt": _iso(record.updated_at),
        "startedAt": _iso(record.started_at),
        "finishedAt": _iso(record.finished_at),
        "nextAttemptAt": _iso(record.next_attempt_at),
        "firstFailedAt": _iso(record.first_failed_at),
        "lastFailedAt": _iso(record.last_failed_at),
        "expiresAt": _iso(record.expires_at),
        "progress": _progress(record),
        "result": None
        if artifact is None
        else {
            "fileName": artifact.file_name,
            "contentType": artifact.content_type,
            "sizeBytes": artifact.size_bytes,
            "sha256": artifact.sha256,
            "rowCount": artifact.row_count,
            "pageCount": artifact.page_count,
        },
        "ownerId": record.owner_id,
        "objectKey": artifact.object_key if artifact else None,
        "version": record.version,
    }


def _progress(record: ReportRecord) -> dict[str, Any] | None:
    """Progress while a report renders, and its final count once done; none otherwise
    (a queued retry or a failure would show a past attempt's)."""
    progress = record.progress
    running = record.status is ReportStatus.PROCESSING
    if progress is None or not (running or record.status is ReportStatus.DONE):
        return None
    return {
        "rowsWritten": progress.rows_written,
        "rowsExpected": progress.rows_expected,
        # Inline tables know their size; a running query's total is the planner's estimate.
        "rowsExpectedIsEstimate": running
        and record.report_type != "table"
        and progress.rows_expected is not None,
    }


INTERNAL_STATUS_KEYS = ("ownerId", "objectKey", "version")
