"""Stopping a running job from outside its render thread."""

import threading
from enum import StrEnum

from relatoria_shared.domain.errors import ErrorCode, ReportError
from relatoria_shared.domain.report import Progress


class StopReason(StrEnum):
    """Why a running job was told to stop."""

    LOST_CLAIM = "lost_claim"  # cancelled by its owner, or taken over after a lease expiry
    TIMEOUT = "timeout"  # ran past the per-job time limit
    SHUTDOWN = "shutdown"  # the worker is shutting down and hands the job back


class JobStopped(ReportError):  # noqa: N818 - an event, not a fault
    """Raised inside the render when its job was told to stop.

    A `ReportError`, so renderers let it through unchanged.
    """

    def __init__(self, reason: StopReason) -> None:
        super().__init__(f"the job was stopped ({reason.value})")
        self.reason = reason
        self.code = ErrorCode.TIMEOUT if reason is StopReason.TIMEOUT else ErrorCode.CANCELLED


class JobControl:
    """Between the event loop and a job's render thread: a thread-safe stop flag with its
    reason (the first reason wins), and the job's progress."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._reason: StopReason | None = None
        self._lock = threading.Lock()
        self._started = False
        self._expected: int | None = None
        # Written by the render thread, read by the heartbeat: a plain int is enough.
        self.rows_written = 0

    def expect(self, rows: int | None) -> None:
        """The job's rows are about to flow; `rows` of them are expected, if known."""
        self._started = True
        self._expected = rows

    def progress(self) -> Progress | None:
        """Rows written so far and rows expected; None before the rows start flowing."""
        if not self._started:
            return None
        return Progress(rows_written=self.rows_written, rows_expected=self._expected)

    def stop(self, reason: StopReason) -> None:
        """Ask the job to stop (idempotent; keeps the first reason)."""
        with self._lock:
            if self._reason is None:
                self._reason = reason
            self._event.set()

    @property
    def reason(self) -> StopReason | None:
        """Why the job was asked to stop, or None."""
        return self._reason

    def check(self) -> None:
        """Raise `JobStopped` if the job was asked to stop (called between rows)."""
        if self._event.is_set() and self._reason is not None:
            raise JobStopped(self._reason)
