"""What the report routes do, free of HTTP: record, publish, read, list, presign."""

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
from relatoria_bff.errors import ApiError, not_found
from relatoria_bff.reports.schemas import ReportCreate
from relatoria_shared.catalog import ValidatedRequest, validate_request
from relatoria_shared.db.repository import PageCursor
from relatoria_shared.domain.errors import StorageError
from relatoria_shared.domain.report import (
    INTERNAL_STATUS_KEYS,
    NewReport,
    ReportRecord,
    status_document,
)
from relatoria_shared.domain.status import ReportStatus
from relatoria_shared.domain.table_validation import TableLimits
from relatoria_shared.storage.object_store import object_key

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
            max_attempts=resources.settings.max_attempts,
        )
    )
    if not created:
        if record.request_fingerprint != body_digest:
            raise ApiError(
                422,
                "IDEMPOTENCY_KEY_REUSED",
                "this Idempotency-Key was already used with a different request body",
            )
        # Recorded is accepted: if its publish is still pending, the sweeper finishes it.
        return Submission(record=record, replayed=True)
    # Recorded is accepted: unconfirmed, the workers' sweeper publishes it later.
    await resources.dispatcher.dispatch(record)
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


async def cancel_report(*, resources: Resources, owner_id: str, report_id: str) -> dict[str, Any]:
    """Cancel one of the caller's reports and remove its file, if any.

    Queued and running reports stop (a running worker notices at its next heartbeat);
    a finished report's file is deleted. Cancelling twice is harmless.
    """
    rid = _parse_id(report_id)
    cancelled = await resources.repository.cancel(rid, owner_id)
    if cancelled is None:
        current = await resources.repository.get(rid)
        if current is None or current.owner_id != owner_id:
            raise not_found()
        if current.status is not ReportStatus.CANCELLED:
            raise ApiError(
                409,
                "REPORT_NOT_CANCELLABLE",
                f"a report that is {current.status.value} cannot be cancelled",
                extra={"status": current.status.value},
            )
        return await present(resources, status_document(current))
    key = object_key(resources.settings.s3_key_prefix, rid, cancelled.format)
    try:
        await asyncio.to_thread(resources.store.delete, key)
    except StorageError:
        log.warning("artifact of a cancelled report not deleted", extra={"request_id": str(rid)})
    document = status_document(cancelled)
    await resources.cache.put(document)
    log.info("report cancelled", extra={"request_id": str(rid), "owner_id": owner_id})
    return await present(resources, document)


async def read_status(*, resources: Resources, owner_id: str, report_id: str) -> dict[str, Any]:
    """The status document of one of the caller's reports: Redis first, then PostgreSQL."""
    document = await _cached_document(resources, _parse_id(report_id))
    if document is None or document["ownerId"] != owner_id:
        raise not_found()
    return await present(resources, document)


async def download_url(*, resources: Resources, owner_id: str, report_id: str) -> str:
    """A fresh presigned URL for a finished report; 410 once its file expired, 409 if it
    is not finished."""
    document = await read_status(resources=resources, owner_id=owner_id, report_id=report_id)
    if document["status"] == ReportStatus.EXPIRED.value:
        raise ApiError(
            410,
            "REPORT_EXPIRED",
            f"the report's file was deleted at the end of its retention "
            f"({document.get('expiresAt')}); request the report again",
            extra={"status": document["status"], "expiresAt": document.get("expiresAt")},
        )
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
    if document is not None and not _maybe_expired(document):
        return document
    record = await resources.repository.get(report_id)
    if record is None:
        return None
    document = status_document(record)
    await resources.cache.put(document)
    return document


def _maybe_expired(document: dict[str, Any]) -> bool:
    """A cached `done` document past its expiry: the cleanup may have deleted the file
    since, and its write to the cache may have failed. PostgreSQL knows."""
    expires_at = document.get("expiresAt")
    return (
        document["status"] == ReportStatus.DONE.value
        and isinstance(expires_at, str)
        and datetime.fromisoformat(expires_at) <= datetime.now(UTC)
    )


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
