"""The status document: what clients read of a request, and what the cache holds.

One type for both. `body` is the client's view, camelCase as the HTTP contract has it,
without the presigned URL (signed on each read). The other fields are what the cache and
the BFF need besides: the owner (reads are owner-checked), the stored file's key (to
sign), the version (the cache never goes backwards) and the expiry (a cached `done`
document past it is checked against PostgreSQL).
"""

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypedDict

from relatoria_shared.domain.report import ReportRecord
from relatoria_shared.domain.status import ReportStatus


class ProgressView(TypedDict):
    """Rows written so far and expected in all (a planner's estimate for data sources)."""

    rowsWritten: int
    rowsExpected: int | None
    rowsExpectedIsEstimate: bool


class ResultView(TypedDict):
    """What the finished file is."""

    fileName: str
    contentType: str
    sizeBytes: int
    sha256: str
    rowCount: int
    pageCount: int | None


class StatusBody(TypedDict):
    """The client's view of a request (the HTTP contract's status document)."""

    requestId: str
    type: str
    format: str
    title: str
    parameters: dict[str, Any]
    status: str
    errorCode: str | None
    errorMessage: str | None
    attempts: int
    maxAttempts: int
    createdAt: str
    updatedAt: str
    startedAt: str | None
    finishedAt: str | None
    nextAttemptAt: str | None
    firstFailedAt: str | None
    lastFailedAt: str | None
    expiresAt: str | None
    progress: ProgressView | None
    result: ResultView | None


@dataclass(frozen=True)
class StatusDocument:
    """A request's status document and the facts kept beside it."""

    body: StatusBody
    owner_id: str
    version: int
    object_key: str | None

    @property
    def request_id(self) -> uuid.UUID:
        """The request's id."""
        return uuid.UUID(self.body["requestId"])

    @property
    def status(self) -> ReportStatus:
        """The request's status."""
        return ReportStatus(self.body["status"])

    def body_json(self) -> str:
        """The body as JSON text."""
        return json.dumps(self.body, separators=(",", ":"), ensure_ascii=False)

    def past_expiry(self, now: datetime | None = None) -> bool:
        """A `done` document past its expiry: its file may be deleted by now."""
        expires_at = self.body["expiresAt"]
        return (
            self.body["status"] == ReportStatus.DONE.value
            and expires_at is not None
            and datetime.fromisoformat(expires_at) <= (now or datetime.now(UTC))
        )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def status_document(record: ReportRecord) -> StatusDocument:
    """The status document of `record`."""
    artifact = record.artifact
    body: StatusBody = {
        "requestId": str(record.id),
        "type": record.report_type,
        "format": record.format.value,
        "title": record.title,
        "parameters": record.parameter_summary,
        "status": record.status.value,
        "errorCode": record.error_code.value if record.error_code else None,
        "errorMessage": record.error_message,
        "attempts": record.attempts,
        "maxAttempts": record.max_attempts,
        "createdAt": record.created_at.isoformat(),
        "updatedAt": record.updated_at.isoformat(),
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
    }
    return StatusDocument(
        body=body,
        owner_id=record.owner_id,
        version=record.version,
        object_key=artifact.object_key if artifact else None,
    )


def _progress(record: ReportRecord) -> ProgressView | None:
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
