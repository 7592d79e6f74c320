"""What the report routes do, free of HTTP: record, publish, read, list, presign."""

import asyncio
import base64
import binascii
import hashlib
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from relatoria_bff.bootstrap import Resources
from relatoria_bff.errors import ApiError, not_found
from relatoria_bff.reports.schemas import ReportCreate
from relatoria_shared.db.repository import PageCursor
from relatoria_shared.domain.catalog import ValidatedRequest, validate_request
from relatoria_shared.domain.report import (
    INTERNAL_STATUS_KEYS,
    NewReport,
    ReportRecord,
    status_document,
)
from relatoria_shared.domain.status import ReportStatus
from relatoria_shared.domain.table import TableLimits
from relatoria_shared.messaging.contract import JobMessage
from relatoria_shared.messaging.publisher import PublishFailed

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Submission:
    """The outcome of a POST: the request, and whether it is an idempotent replay."""

    record: ReportRecord
    replayed: bool


def fingerprint(body: ReportCreate) -> str:
    """A digest of the request body, to tell a true retry from a reused key."""
    canonical = json.dumps(body.model_dump(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def submit_report(
    *, resources: Resources, owner_id: str, body: ReportCreate, idempotency_key: str | None
) -> Submission:
    """Validate, record and publish a request (or replay the one this key created)."""
    # Big inline tables take a while to check: keep the event loop serving meanwhile.
    valid, body_digest = await asyncio.to_thread(
        _validate_and_digest, body, resources.settings.table_limits
    )
    record, created = await resources.repository.create(
        NewReport(
            owner_id=owner_id,
            report_type=valid.report_type,
            format=valid.format,
            title=valid.title,
            parameters=valid.parameters,
            idempotency_key=idempotency_key,
            request_fingerprint=body_digest if idempotency_key else None,
        )
    )
    if not created:
        await _replay(resources, record, body_digest)
        return Submission(record=record, replayed=True)
    await _publish(resources, record)
    await resources.cache.put(status_document(record))
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


def _validate_and_digest(body: ReportCreate, limits: TableLimits) -> tuple[ValidatedRequest, str]:
    valid = validate_request(body.type, body.format, body.title, body.parameters, limits)
    return valid, fingerprint(body)


async def _replay(resources: Resources, original: ReportRecord, body_digest: str) -> None:
    """Check that a reused key may replay `original`; finish publishing it if need be."""
    if original.request_fingerprint != body_digest:
        raise ApiError(
            422,
            "IDEMPOTENCY_KEY_REUSED",
            "this Idempotency-Key was already used with a different request body",
        )
    if original.published_at is not None:
        return
    stale_after = timedelta(seconds=2 * resources.settings.publish_timeout_seconds + 1)
    if datetime.now(UTC) - original.created_at < stale_after:
        # The first request with this key is still being accepted (IETF draft: 409).
        raise ApiError(
            409,
            "IDEMPOTENCY_KEY_IN_USE",
            "a request with this Idempotency-Key is still being accepted; retry shortly",
            headers={"Retry-After": "1"},
        )
    # Its BFF died between commit and publish: this retry completes the hand-off.
    await _publish(resources, original)


async def _publish(resources: Resources, record: ReportRecord) -> None:
    """Publish the job with confirms, then note it; withdraw the request if unconfirmed."""
    try:
        await resources.publisher.publish(JobMessage(request_id=record.id))
    except PublishFailed as exc:
        # Nothing was confirmed, so take the request back: the client is told to retry
        # and no orphan row is left behind.
        log.error("publish failed", extra={"request_id": str(record.id), "error": str(exc)})
        await resources.repository.discard_unpublished(record.id)
        raise ApiError(
            503,
            "BROKER_UNAVAILABLE",
            "the report queue is unavailable; retry shortly (with the same Idempotency-Key)",
            headers={"Retry-After": "5"},
        ) from None
    try:
        await resources.repository.mark_published(record.id)
    except Exception:
        # The job is queued and will run; failing the request now would invite a duplicate.
        log.exception("could not note a confirmed publish", extra={"request_id": str(record.id)})


async def read_status(*, resources: Resources, owner_id: str, report_id: str) -> dict[str, Any]:
    """The status document of one of the caller's reports: Redis first, then PostgreSQL."""
    document = await _cached_document(resources, _parse_id(report_id))
    if document is None or document["ownerId"] != owner_id:
        raise not_found()
    return await present(resources, document)


async def download_url(*, resources: Resources, owner_id: str, report_id: str) -> str:
    """A fresh presigned URL for a finished report; 409 if it is not finished."""
    document = await read_status(resources=resources, owner_id=owner_id, report_id=report_id)
    if document["status"] != ReportStatus.DONE.value or not document["downloadUrl"]:
        raise ApiError(
            409,
            "REPORT_NOT_READY",
            f"the report is {document['status']}, not done",
            extra={"status": document["status"]},
        )
    url: str = document["downloadUrl"]
    return url


async def list_reports(
    *,
    resources: Resources,
    owner_id: str,
    limit: int,
    cursor: str | None,
    status: ReportStatus | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of the caller's reports, newest first, and the cursor of the next page."""
    records = await resources.repository.list_for_owner(
        owner_id, limit=limit + 1, after=_decode_cursor(cursor), status=status
    )
    page, more = records[:limit], len(records) > limit
    items = [await present(resources, status_document(r)) for r in page]
    next_cursor = _encode_cursor(page[-1]) if more and page else None
    return items, next_cursor


async def present(resources: Resources, document: dict[str, Any]) -> dict[str, Any]:
    """The client's view of a status document: internals stripped, download URL signed."""
    shown = {k: v for k, v in document.items() if k not in INTERNAL_STATUS_KEYS}
    shown["downloadUrl"] = None
    shown["downloadUrlExpiresAt"] = None
    if document["status"] == ReportStatus.DONE.value and document.get("objectKey"):
        url, expires_at = await asyncio.to_thread(
            resources.store.presign_download, document["objectKey"]
        )
        shown["downloadUrl"] = url
        shown["downloadUrlExpiresAt"] = expires_at.isoformat()
    return shown


async def _cached_document(resources: Resources, report_id: uuid.UUID) -> dict[str, Any] | None:
    document = await resources.cache.get(report_id)
    if document is not None:
        return document
    record = await resources.repository.get(report_id)
    if record is None:
        return None
    document = status_document(record)
    await resources.cache.put(document)
    return document


def _parse_id(report_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(report_id)
    except ValueError:
        raise not_found() from None


def _encode_cursor(record: ReportRecord) -> str:
    raw = json.dumps({"c": record.created_at.isoformat(), "i": str(record.id)})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> PageCursor | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        created_at = datetime.fromisoformat(data["c"])
        if created_at.tzinfo is None:
            raise ValueError("naive timestamp")
        return PageCursor(created_at=created_at, id=uuid.UUID(data["i"]))
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise ApiError(400, "INVALID_CURSOR", "the cursor is not valid", path="cursor") from None
