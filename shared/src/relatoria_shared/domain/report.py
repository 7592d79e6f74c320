"""A report request as the system knows it: new, recorded, and claimed by a worker."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from relatoria_shared.domain.errors import ErrorCode
from relatoria_shared.domain.formats import ReportFormat
from relatoria_shared.domain.lanes import Lane
from relatoria_shared.domain.status import ReportStatus


@dataclass(frozen=True)
class NewReport:
    """A validated request, ready to be recorded."""

    owner_id: str
    report_type: str
    lane: Lane
    format: ReportFormat
    title: str
    parameters: dict[str, Any]
    parameter_summary: dict[str, Any]
    max_attempts: int
    idempotency_key: str | None = None
    request_fingerprint: str | None = None
    traceparent: str | None = None
    # Where its end is announced (a webhook signed with the owner's signing secret).
    callback_url: str | None = None


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
    """The state of a request as PostgreSQL holds it: every column a status document or a
    transition needs, and never the inline table (`Job.parameters`)."""

    id: uuid.UUID
    owner_id: str
    report_type: str
    lane: Lane
    format: ReportFormat
    title: str
    parameter_summary: dict[str, Any]
    status: ReportStatus
    attempts: int
    max_attempts: int
    version: int
    created_at: datetime
    updated_at: datetime
    error_code: ErrorCode | None = None
    error_message: str | None = None
    worker_id: str | None = None
    lease_expires_at: datetime | None = None
    next_attempt_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    expires_at: datetime | None = None
    first_failed_at: datetime | None = None
    last_failed_at: datetime | None = None
    artifact: Artifact | None = None
    progress: Progress | None = None


@dataclass(frozen=True)
class Job:
    """A request a worker has claimed: its state, and what only the renderer reads."""

    record: ReportRecord
    parameters: dict[str, Any]
    """The request's parameters, inline table included."""
    due_since: datetime
    """When the request became due (created, or its retry time): queue time counts from it."""
    traceparent: str | None = None
    """The W3C trace context of the POST that created the request."""


def summarise_parameters(report_type: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """The parameters echoed in status documents, stored with the request.

    Inline rows can run to megabytes; clients polling a status should not download them
    again each time, so a table's rows are replaced by their count.
    """
    if report_type == "table":
        return {
            "columns": parameters.get("columns", []),
            "rowCount": len(parameters.get("rows", [])),
        }
    return dict(parameters)
