"""Message contracts: the job message and the dead letter.

A job message is small (request id, attempt): the request itself lives in PostgreSQL.
A dead letter says why a request was given up, so an operator can read the queue alone.
"""

import json
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from relatoria_shared.domain.report import ReportRecord

CONTENT_TYPE = "application/json"


class MalformedMessage(ValueError):  # noqa: N818 - names what the message is
    """A message body that is not one of ours; it can never be processed."""


@dataclass(frozen=True)
class JobMessage:
    """Work for one report request."""

    request_id: uuid.UUID
    attempt: int = 0

    def encode(self) -> bytes:
        """The wire form."""
        return json.dumps(
            {"v": 1, "requestId": str(self.request_id), "attempt": self.attempt}
        ).encode()

    @classmethod
    def decode(cls, body: bytes) -> "JobMessage":
        """Parse the wire form, raising `MalformedMessage` if it is not one."""
        try:
            data = json.loads(body)
            return cls(request_id=uuid.UUID(data["requestId"]), attempt=int(data.get("attempt", 0)))
        except (ValueError, KeyError, TypeError) as exc:
            raise MalformedMessage(f"not a job message: {exc}") from None


@dataclass(frozen=True)
class DeadLetter:
    """A request given up on, and why."""

    request_id: uuid.UUID
    report_type: str
    error_code: str
    error_message: str
    attempts: int
    first_failed_at: str | None
    last_failed_at: str | None

    @classmethod
    def of(cls, record: ReportRecord) -> "DeadLetter":
        """The dead letter of a request that ended as `error`."""
        return cls(
            request_id=record.id,
            report_type=record.report_type,
            error_code=record.error_code.value if record.error_code else "INTERNAL_ERROR",
            error_message=record.error_message or "",
            attempts=record.attempts,
            first_failed_at=_iso(record.first_failed_at),
            last_failed_at=_iso(record.last_failed_at),
        )

    def encode(self) -> bytes:
        """The wire form: camelCase JSON, like the HTTP contract."""
        data = asdict(self) | {"requestId": str(self.request_id), "kind": "dead-letter", "v": 1}
        del data["request_id"]
        return json.dumps(_camel(data)).encode()

    def headers(self) -> dict[str, Any]:
        """The same facts as AMQP headers, visible in the management UI."""
        return {
            "x-request-id": str(self.request_id),
            "x-error-code": self.error_code,
            "x-attempts": self.attempts,
        }

    @classmethod
    def decode(cls, body: bytes, headers: dict[str, Any] | None = None) -> "DeadLetter":
        """Parse a dead letter. A job message dead-lettered by the broker itself (delivery
        limit, rejection) becomes one too, its reason taken from the `x-death` header."""
        try:
            data = json.loads(body)
            if data.get("kind") == "dead-letter":
                return cls(
                    request_id=uuid.UUID(data["requestId"]),
                    report_type=data["reportType"],
                    error_code=data["errorCode"],
                    error_message=data["errorMessage"],
                    attempts=int(data["attempts"]),
                    first_failed_at=data.get("firstFailedAt"),
                    last_failed_at=data.get("lastFailedAt"),
                )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise MalformedMessage(f"not a dead letter: {exc}") from None
        job = JobMessage.decode(body)
        reason, when = _death(headers or {})
        return cls(
            request_id=job.request_id,
            report_type="unknown",
            error_code="INTERNAL_ERROR",
            error_message=f"dead-lettered by the broker ({reason})",
            attempts=job.attempt,
            first_failed_at=when,
            last_failed_at=when,
        )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _camel(data: dict[str, Any]) -> dict[str, Any]:
    def camel(name: str) -> str:
        head, *rest = name.split("_")
        return head + "".join(part.title() for part in rest)

    return {camel(k): v for k, v in data.items()}


def _death(headers: dict[str, Any]) -> tuple[str, str | None]:
    deaths = headers.get("x-death") or []
    if not deaths:
        return "unknown reason", None
    first = deaths[0]
    reason = first.get("reason", "unknown reason")
    if isinstance(reason, bytes):
        reason = reason.decode()
    when = first.get("time")
    return str(reason), when.isoformat() if isinstance(when, datetime) else None
