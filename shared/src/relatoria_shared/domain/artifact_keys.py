"""Where each attempt at a report stores its file, and which stored files are still needed.

Every attempt uploads under a key of its own, `<prefix><request id>/<attempt>-<random>.<ext>`:
a stale attempt (its worker cut off from PostgreSQL while its lease passed to another) can
finish its upload late, but only over its own object, never over the file the winner
recorded. The random part keeps attempts apart when a replay starts their count again.

Whatever no request needs any more (a loser's upload, an attempt killed before it could
remove its own, a cancelled or expired report's file whose delete failed) is found by the
cleanup, which lists the stored keys and asks `still_needed` of each.
"""

import secrets
import uuid
from dataclasses import dataclass

from relatoria_shared.domain.formats import ReportFormat
from relatoria_shared.domain.status import ReportStatus

_UUID_LENGTH = 36


def attempt_key(prefix: str, report_id: uuid.UUID, attempt: int, fmt: ReportFormat) -> str:
    """A fresh key for attempt `attempt` at `report_id`'s file."""
    return f"{prefix}{report_id}/{attempt}-{secrets.token_hex(4)}.{fmt.extension}"


@dataclass(frozen=True)
class StoredKey:
    """What a stored key says about itself."""

    report_id: uuid.UUID
    attempt: int | None
    """None for keys without an attempt (`<prefix><id>.<ext>`, stored before attempts
    had keys of their own)."""


def parse_key(prefix: str, key: str) -> StoredKey | None:
    """The request and attempt a key under `prefix` belongs to; None for a key no attempt
    wrote (another tool's object sharing the bucket is left alone)."""
    if not key.startswith(prefix):
        return None
    rest = key[len(prefix) :]
    try:
        report_id = uuid.UUID(rest[:_UUID_LENGTH])
    except ValueError:
        return None
    tail = rest[_UUID_LENGTH:]
    if tail.startswith("."):
        return StoredKey(report_id, None)
    attempt, dash, _ = tail.removeprefix("/").partition("-")
    if not tail.startswith("/") or not dash or not attempt.isdigit():
        return None
    return StoredKey(report_id, int(attempt))


@dataclass(frozen=True)
class FileHolder:
    """What a request says about the files stored for it."""

    status: ReportStatus
    attempts: int
    object_key: str | None
    """The recorded file's key (set once `done`)."""


def still_needed(key: str, parsed: StoredKey, holder: FileHolder | None) -> bool:
    """Whether the object at `key` may still be needed: it is the recorded file of a `done`
    request, or the upload of the attempt now running (about to be recorded). Anything else
    can never be recorded again: each outcome is fenced by the attempt, and a recorded key
    is only ever replaced by cancelling or expiring the request.

    The caller lists the keys first and reads their requests after, so an attempt that
    finishes in between is seen `done` with its key."""
    if holder is None:
        return False
    if holder.status is ReportStatus.DONE:
        return holder.object_key == key
    if holder.status is ReportStatus.PROCESSING:
        return parsed.attempt is None or parsed.attempt == holder.attempts
    return False
