"""Interactive work first: a bulk render in the same worker steps aside while an
interactive job runs.

Render threads and the event loop share one interpreter lock, so a CPU-bound bulk export
would take half of every small report's time, in its render and in every step the event
loop takes for it (claim, upload, recording the outcome). Instead, every few rows, a bulk
render waits while any interactive job of this worker is in progress, up to a bound.
A render that waited the whole bound then runs as long before it steps aside again, so
that a steady stream of small reports (waits on I/O included) at most halves a big
export's speed, and never stalls it.
"""

import contextlib
import threading
import time
from collections.abc import Iterator

CHECK_EVERY_ROWS = 64
"""How often (in rows) a bulk render looks for interactive work to step aside for."""

MAX_WAIT_SECONDS = 0.25
"""The longest a bulk render waits at one check."""

MIN_RUN_SECONDS = MAX_WAIT_SECONDS
"""How long a bulk render that waited the whole bound then runs without stepping aside."""


class InteractiveFirst:
    """Counts running interactive jobs; bulk renders wait for none to be running."""

    def __init__(
        self, max_wait_seconds: float = MAX_WAIT_SECONDS, min_run_seconds: float = MIN_RUN_SECONDS
    ) -> None:
        self._max_wait = max_wait_seconds
        self._min_run = min_run_seconds
        self._running = 0
        self._idle = threading.Condition()
        self._bulk = threading.local()  # per bulk render thread: when it must next yield

    @contextlib.contextmanager
    def interactive(self) -> Iterator[None]:
        """Mark an interactive job as running for the duration of the block."""
        with self._idle:
            self._running += 1
        try:
            yield
        finally:
            with self._idle:
                self._running -= 1
                if not self._running:
                    self._idle.notify_all()

    def step_aside(self) -> None:
        """Called by bulk renders between rows: wait (bounded) while interactive work runs."""
        if not self._running:  # the common case: no lock taken
            return
        if time.monotonic() < getattr(self._bulk, "runs_until", 0.0):
            return
        with self._idle:
            idle = self._idle.wait_for(lambda: not self._running, timeout=self._max_wait)
        if not idle:
            self._bulk.runs_until = time.monotonic() + self._min_run
