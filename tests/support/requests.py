"""Recording and claiming requests directly in PostgreSQL, for tests that drive states."""

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from relatoria_shared.db.requests import PgRequestRepository, Recorded
from relatoria_shared.db.rows import STATUS_COLUMNS, record_of
from relatoria_shared.domain.formats import ReportFormat
from relatoria_shared.domain.lanes import Lane
from relatoria_shared.domain.owner_limits import OwnerLimits
from relatoria_shared.domain.report import NewReport, ReportRecord, summarise_parameters
from relatoria_shared.domain.status import ReportStatus
from relatoria_shared.domain.status_document import StatusDocument, status_document

ONE_ROW = {"columns": [{"key": "a", "label": "a", "type": "string"}], "rows": [["x"]]}
GENEROUS = OwnerLimits(
    max_in_flight=1_000_000,
    posts_per_second=1_000_000.0,
    post_burst=1_000_000,
    interactive_quantum_seconds=0.1,
    bulk_quantum_seconds=60.0,
)


def owner_limits(**changes: Any) -> OwnerLimits:
    """`GENEROUS`, but for `changes` (the limits a test sets low)."""
    return dataclasses.replace(GENEROUS, **changes)


def processing_record(
    lane: Lane = Lane.INTERACTIVE, fmt: ReportFormat = ReportFormat.XLSX
) -> ReportRecord:
    """A request as a worker holds it once claimed (first attempt), never stored."""
    now = datetime.now(UTC)
    return ReportRecord(
        id=uuid.uuid4(),
        owner_id="o",
        report_type="table",
        lane=lane,
        format=fmt,
        title="Vendas",
        parameter_summary={},
        status=ReportStatus.PROCESSING,
        attempts=1,
        max_attempts=3,
        version=2,
        created_at=now,
        updated_at=now,
        started_at=now,
    )


def status_at(
    report_id: uuid.UUID, version: int, status: str, owner: str = "cache-owner", title: str = "t"
) -> StatusDocument:
    """The status document of a request in `status` at `version` (as a transition would
    announce it), never stored."""
    now = datetime.now(UTC)
    return status_document(
        ReportRecord(
            id=report_id,
            owner_id=owner,
            report_type="table",
            lane=Lane.INTERACTIVE,
            format=ReportFormat.CSV,
            title=title,
            parameter_summary={"rowCount": 1},
            status=ReportStatus(status),
            attempts=1,
            max_attempts=3,
            version=version,
            created_at=now,
            updated_at=now,
        )
    )


def new_report(
    owner: str = "alice",
    *,
    key: str | None = None,
    digest: str | None = None,
    report_type: str = "table",
    lane: Lane = Lane.INTERACTIVE,
    parameters: dict[str, Any] | None = None,
    max_attempts: int = 3,
    fmt: ReportFormat = ReportFormat.CSV,
) -> NewReport:
    """A request as the BFF records it."""
    parameters = parameters if parameters is not None else ONE_ROW
    return NewReport(
        owner_id=owner,
        report_type=report_type,
        lane=lane,
        format=fmt,
        title="t",
        parameters=parameters,
        parameter_summary=summarise_parameters(report_type, parameters),
        max_attempts=max_attempts,
        idempotency_key=key,
        request_fingerprint=digest,
    )


async def record(
    requests: PgRequestRepository, new: NewReport, limits: OwnerLimits = GENEROUS
) -> ReportRecord:
    """Record `new`, which must be accepted; its record."""
    recorded = await requests.record(new, limits)
    assert isinstance(recorded, Recorded), recorded
    return recorded.record


async def claim_by_id(
    pool: asyncpg.Pool, report_id: uuid.UUID, worker_id: str, lease: timedelta
) -> ReportRecord:
    """Claim one given request as a worker's claim would (tests that drive a particular
    request's states; workers claim whatever is due)."""
    row = await pool.fetchrow(
        f"""UPDATE report_requests SET status = 'processing', worker_id = $2,
              attempts = attempts + 1, started_at = now(),
              lease_expires_at = now() + $3::interval, updated_at = now(),
              version = version + 1
             WHERE id = $1 AND status = 'queued' RETURNING {STATUS_COLUMNS}""",
        report_id,
        worker_id,
        lease,
    )
    assert row is not None, f"{report_id} is not queued"
    return record_of(row)
