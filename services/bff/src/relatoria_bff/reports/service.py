"""What the report routes do, free of HTTP: record, read, list, cancel, presign.

Refusals are domain errors (`relatoria_shared.domain.request_errors`), mapped to HTTP in
`relatoria_bff.errors`; reads return the one typed `StatusDocument`.
"""

import asyncio
import base64
import binascii
import hashlib
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from relatoria_bff.bootstrap import Resources
from relatoria_bff.reports.queue_estimates import estimated_finish
from relatoria_bff.reports.schemas import ReportCreate
from relatoria_bff.webhooks.callback import checked_callback
from relatoria_shared.catalog import ValidatedRequest, lane_for, validate_request
from relatoria_shared.db.requests import PageCursor
from relatoria_shared.domain.errors import StorageError
from relatoria_shared.domain.report import NewReport, ReportRecord, summarise_parameters
from relatoria_shared.domain.request_errors import (
    IdempotencyKeyReused,
    InvalidCursor,
    NotCancellable,
    ReportExpired,
    ReportNotFound,
    ReportNotReady,
)
from relatoria_shared.domain.status import ReportStatus
from relatoria_shared.domain.status_document import StatusDocument, status_document
from relatoria_shared.domain.table_validation import TableLimits
from relatoria_shared.tracing import trace_headers

log = logging.getLogger(__name__)

INLINE_CHECK_CELLS = 5_000
"""Tables up to this many cells are checked on the event loop (a fraction of a
millisecond); bigger ones in a thread, so the loop keeps serving meanwhile."""


@dataclass(frozen=True)
class Submission:
    """The outcome of a POST: the request, and whether it is an idempotent replay."""

    record: ReportRecord
    replayed: bool


def fingerprint(body: ReportCreate) -> str:
    """A digest of the request body, to tell a true retry from a reused key."""
    # Without a callback URL, the digest is what it was before callbacks existed: a retry
    # across an upgrade is still a retry.
    dumped = body.model_dump(exclude={"callbackUrl"} if body.callbackUrl is None else None)
    canonical = json.dumps(dumped, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def submit_report(
    *, resources: Resources, owner_id: str, body: ReportCreate, idempotency_key: str | None
) -> Submission:
    """Validate and record a request, or replay the one this key recorded."""
    limits = resources.settings.table_limits
    if _cells(body) <= INLINE_CHECK_CELLS:
        valid, digest = _validate_and_digest(body, limits, idempotency_key is not None)
    else:
        valid, digest = await asyncio.to_thread(
            _validate_and_digest, body, limits, idempotency_key is not None
        )
    callback_url = None
    if body.callbackUrl is not None:
        callback_url = await checked_callback(resources, owner_id, body.callbackUrl)
    recorded = await resources.transitions.accept(
        NewReport(
            owner_id=owner_id,
            report_type=valid.report_type,
            lane=lane_for(valid.report_type),
            format=valid.format,
            title=valid.title,
            parameters=valid.parameters,
            parameter_summary=summarise_parameters(valid.report_type, valid.parameters),
            max_attempts=resources.settings.max_attempts,
            idempotency_key=idempotency_key,
            request_fingerprint=digest,
            traceparent=trace_headers().get("traceparent"),
            callback_url=callback_url,
        )
    )
    if not recorded.created:
        if recorded.request_fingerprint != digest:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was already used with a different request body"
            )
        return Submission(record=recorded.record, replayed=True)
    record = recorded.record
    log.info(
        "report accepted",
        extra={
            "request_id": str(record.id),
            "owner_id": owner_id,
            "report_type": record.report_type,
            "format": record.format.value,
        },
    )
    return Submission(record=record, replayed=False)


def _cells(body: ReportCreate) -> int:
    rows = body.parameters.get("rows")
    columns = body.parameters.get("columns")
    if not isinstance(rows, list) or not isinstance(columns, list):
        return 0
    return len(rows) * max(len(columns), 1)


def _validate_and_digest(
    body: ReportCreate, limits: TableLimits, keyed: bool
) -> tuple[ValidatedRequest, str | None]:
    valid = validate_request(body.type, body.format, body.title, body.parameters, limits)
    return valid, fingerprint(body) if keyed else None


async def cancel_report(*, resources: Resources, owner_id: str, report_id: str) -> StatusDocument:
    """Cancel one of the caller's reports and remove its file, if any. Cancelling twice is
    harmless; a report past cancelling is refused."""
    rid = _parse_id(report_id)
    cancelled = await resources.transitions.cancel(rid, owner_id)
    if cancelled is None:
        current = await resources.requests.get(rid)
        if current is None or current.owner_id != owner_id:
            raise ReportNotFound
        if current.status is not ReportStatus.CANCELLED:
            raise NotCancellable(
                f"a report that is {current.status.value} cannot be cancelled",
                status=current.status.value,
            )
        return status_document(current)
    if cancelled.recorded_key is not None:
        try:
            await asyncio.to_thread(resources.store.delete, cancelled.recorded_key)
        except StorageError:
            log.warning(
                "file of a cancelled report not deleted; the cleanup will",
                extra={"request_id": str(rid)},
            )
    log.info("report cancelled", extra={"request_id": str(rid), "owner_id": owner_id})
    return status_document(cancelled.record)


async def read_status(*, resources: Resources, owner_id: str, report_id: str) -> StatusDocument:
    """The status document of one of the caller's reports: Redis first, then PostgreSQL
    (which refills the cache)."""
    rid = _parse_id(report_id)
    document = await resources.cache.get(rid)
    if document is None or document.past_expiry():
        record = await resources.requests.get(rid)
        if record is None:
            raise ReportNotFound
        document = status_document(record)
        await resources.cache.put(document)
    if document.owner_id != owner_id:
        raise ReportNotFound
    return document


async def download_url(*, resources: Resources, owner_id: str, report_id: str) -> str:
    """A fresh presigned URL for a finished report; refused once its file expired, or
    while it is not done."""
    document = await read_status(resources=resources, owner_id=owner_id, report_id=report_id)
    status, expires_at = document.body["status"], document.body["expiresAt"]
    if status == ReportStatus.EXPIRED.value:
        raise ReportExpired(
            f"the report's file was deleted at the end of its retention ({expires_at}); "
            "request the report again",
            status=status,
            expiresAt=expires_at,
        )
    if status != ReportStatus.DONE.value or document.object_key is None:
        raise ReportNotReady(f"the report is {status}, not done", status=status)
    url, _ = await asyncio.to_thread(resources.store.presign_download, document.object_key)
    return url


async def list_reports(
    *,
    resources: Resources,
    owner_id: str,
    limit: int,
    cursor: str | None,
    status: ReportStatus | None,
) -> tuple[list[StatusDocument], str | None]:
    """A page of the caller's reports, newest first, and the cursor of the next page."""
    records = await resources.requests.list_for_owner(
        owner_id, limit=limit + 1, after=_decode_cursor(cursor), status=status
    )
    page, more = records[:limit], len(records) > limit
    next_cursor = _encode_cursor(page[-1]) if more and page else None
    return [status_document(r) for r in page], next_cursor


async def presented(
    resources: Resources, document: StatusDocument, *, estimated: bool
) -> dict[str, Any]:
    """The client's view of a status document: its body, with a freshly signed download
    URL once the report is done; `estimated`, also where a queued report stands (`queue`)
    and when a running one should finish (reads of one report, not lists)."""
    shown: dict[str, Any] = dict(document.body)
    shown["downloadUrl"] = None
    shown["downloadUrlExpiresAt"] = None
    shown["queue"] = None
    if document.body["status"] == ReportStatus.DONE.value and document.object_key:
        url, expires_at = await asyncio.to_thread(
            resources.store.presign_download, document.object_key
        )
        shown["downloadUrl"] = url
        shown["downloadUrlExpiresAt"] = expires_at.isoformat()
    if estimated:
        shown["queue"] = await resources.estimates.queue(document)
        finish = estimated_finish(document)
        if finish is not None and shown["progress"] is not None:
            shown["progress"] = {**shown["progress"], "estimatedFinishAt": finish}
    return shown


def _parse_id(report_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(report_id)
    except ValueError:
        raise ReportNotFound from None


def _encode_cursor(record: ReportRecord) -> str:
    raw = json.dumps({"c": record.created_at.isoformat(), "i": str(record.id)})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> PageCursor | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        # A tampered cursor may hold anything JSON can: check the types before use.
        if not isinstance(data, dict):
            raise TypeError("not an object")
        created, report_id = data.get("c"), data.get("i")
        if not isinstance(created, str) or not isinstance(report_id, str):
            raise TypeError("fields of the wrong types")
        created_at = datetime.fromisoformat(created)
        if created_at.tzinfo is None:
            raise ValueError("naive timestamp")
        # In UTC, as PostgreSQL will take it (year 1 at +14:00 has no UTC time).
        return PageCursor(created_at=created_at.astimezone(UTC), id=uuid.UUID(report_id))
    except (ValueError, TypeError, OverflowError, binascii.Error):
        raise InvalidCursor("the cursor is not valid", path="cursor") from None
