"""A running job's heartbeat: it extends the job's lease while the job runs, shows its
progress, and stops the job once its claim is gone or may have passed to another worker."""

import asyncio
import logging
import time
from collections.abc import Awaitable
from typing import Any, TypeVar

from relatoria_shared.domain.report import Progress, ReportRecord
from relatoria_shared.transitions.jobs import JobTransitions
from relatoria_worker.job_control import JobControl, StopReason

log = logging.getLogger(__name__)
T = TypeVar("T")


async def keep_claim(
    transitions: JobTransitions,
    claimed: ReportRecord,
    control: JobControl,
    context: dict[str, object],
    *,
    lease_seconds: float,
    beat_seconds: float,
) -> None:
    """Extend the lease every heartbeat; stop the job once the claim is gone.

    If heartbeats keep failing or go unanswered (PostgreSQL unreachable, a half-open
    connection, this worker partitioned), the job stops itself before its lease could
    have run out: once the lease may have been handed to another worker, this one must
    not go on. So each heartbeat waits no longer than the lease it last extended allows.
    """
    # The lease is extended from the moment a heartbeat is sent, at the latest; a beat
    # before the end leaves the job time to stop at its next row.
    held_until = time.monotonic() + lease_seconds - beat_seconds
    shown: Progress | None = None
    pause = beat_seconds
    while True:
        await asyncio.sleep(pause)
        pause = beat_seconds
        sent = time.monotonic()
        try:
            progress = control.progress()
            beating: Awaitable[bool]
            if progress is None or progress == shown:
                beating = transitions.heartbeat(claimed)
            else:
                beating = transitions.progress(claimed, progress)
            held = await _answered_within(beating, held_until - sent)
            if progress is not None:
                shown = progress
        except Exception as exc:
            log.warning("heartbeat failed", extra=context | {"error": type(exc).__name__})
            now = time.monotonic()
            if now >= held_until:
                control.stop(StopReason.LOST_CLAIM)
                return
            # Try again, but be back by the end of the lease to stop the job there.
            pause = min(beat_seconds, held_until - now)
            continue
        if not held:
            control.stop(StopReason.LOST_CLAIM)
            return
        held_until = sent + lease_seconds - beat_seconds


async def _answered_within(call: Awaitable[T], seconds: float) -> T:
    """`call`'s answer if it comes within `seconds`; else `TimeoutError`, at once.

    Unlike `asyncio.wait_for`, this does not wait for the abandoned call to finish
    cancelling: a statement on a half-open connection cannot be cancelled (asyncpg waits
    for the server to confirm, which never comes), and the database timeout ends it later.
    """
    task = asyncio.ensure_future(call)
    try:
        done, _ = await asyncio.wait({task}, timeout=max(seconds, 0.0))
    except asyncio.CancelledError:  # the job ended meanwhile: the call is abandoned too
        task.add_done_callback(_outcome_ignored)
        raise
    if task in done:
        return task.result()
    task.add_done_callback(_outcome_ignored)
    raise TimeoutError(f"no answer within {seconds:.1f} s")


def _outcome_ignored(task: "asyncio.Future[Any]") -> None:
    if not task.cancelled():
        task.exception()  # retrieved: an abandoned call's failure is expected
