"""The lifecycle of a report request."""

from enum import StrEnum


class ReportStatus(StrEnum):
    """Where a report request stands. PostgreSQL holds the authoritative value."""

    QUEUED = "queued"
    PROCESSING = "processing"
    DONE = "done"
    ERROR = "error"
    CANCELLED = "cancelled"
    EXPIRED = "expired"

    @property
    def is_terminal(self) -> bool:
        """True once no worker will touch the request again."""
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset(
    {ReportStatus.DONE, ReportStatus.ERROR, ReportStatus.CANCELLED, ReportStatus.EXPIRED}
)
