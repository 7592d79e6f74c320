"""Interactive work first: a bulk render in the same worker steps aside while an
interactive job runs.

Render threads and the event loop share one interpreter lock, so a CPU-bound bulk export
would take half of every small report's time, in its render and in every step the event
loop takes for it (claim, upload, recording the outcome). Instead, every few rows, a bulk
render waits while any interactive job of this worker is in progress, up to a bound, so
that a steady stream of small reports slows a big export down but never stops it.
"""

import contextlib
import threading
from collections.abc import Iterator

CHECK_EVERY_ROWS = 64
"""How often (in rows) a bulk render looks for interactive work to step aside for."""

MAX_WAIT_SECONDS = 0.25
"""The longest a bulk render waits at one check."""


class InteractiveFirst:
    """Counts running interactive jobs; bulk renders wait for none to be running."""

    def __init__(self, max_wait_seconds: float = MAX_WAIT_SECONDS) -> None:
        self._max_wait = max_wait_seconds
        self._running = 0
        self._idle = threading.Condition()

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
        with self._idle:
            self._idle.wait_for(lambda: not self._running, timeout=self._max_wait)
