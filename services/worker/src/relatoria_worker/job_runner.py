"""One job, start to finish: claim, build the artifact under a heartbeat, settle the outcome.

Every outcome is one call of the transition service (`JobTransitions`), which records it
in PostgreSQL, fenced by the claim, then mirrors, messages and counts it:
- done: the artifact is recorded;
- a failure the retry policy retries: back to `queued` until its backoff delay passed;
- any other failure: `error`, and a dead letter saying why;
- the claim lost (cancelled by its owner, or taken back after its worker seemed dead):
  nothing is recorded, and the file this attempt uploaded (under its own key) is removed;
- shutdown: the job is handed back to the queue, its attempt not counted.
"""

import asyncio
import contextlib
import contextvars
import functools
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import Executor
from typing import TypeVar

from relatoria_shared.domain.errors import ErrorCode, ReportError, StorageError
from relatoria_shared.domain.lanes import Lane
from relatoria_shared.domain.report import Artifact, Job, ReportRecord
from relatoria_shared.domain.retry_policy import Retry, RetryPolicy
from relatoria_shared.domain.status import ReportStatus
from relatoria_shared.settings import Settings
from relatoria_shared.storage.object_store import ObjectStore
from relatoria_shared.tracing import span
from relatoria_shared.transitions.jobs import JobTransitions
from relatoria_worker.artifact_builder import ArtifactBuilder
from relatoria_worker.heartbeat import keep_claim
from relatoria_worker.interactive_first import InteractiveFirst
from relatoria_worker.job_control import JobControl, JobStopped, StopReason
from relatoria_worker.metrics import Outcome, WorkerMetrics
from relatoria_worker.outage import through_outage
from relatoria_worker.row_sources import RowSource, RowSources

log = logging.getLogger(__name__)
T = TypeVar("T")


class JobRunner:
    """Runs report jobs for one worker identity."""

    def __init__(
        self,
        *,
        settings: Settings,
        transitions: JobTransitions,
        builder: ArtifactBuilder,
        sources: RowSources,
        executors: Mapping[Lane, Executor],
        store: ObjectStore,
        priority: InteractiveFirst,
        metrics: WorkerMetrics,
    ) -> None:
        """`executors` run each lane's renders: separate threads, so a lane's concurrency
        bounds its renders and bulk renders can run at a lower CPU priority. `priority`
        (shared with the builder's bulk renders) is told of every interactive job from
        start to recorded outcome, so bulk rendering in this process steps aside for all
        of it: its database writes, upload and status updates, not only its render.
        `metrics` counts every job's outcome."""
        self._settings = settings
        self._transitions = transitions
        self._builder = builder
        self._sources = sources
        self._executors = executors
        self._store = store
        self._priority = priority
        self._policy: RetryPolicy = settings.retry_policy
        self._active: dict[uuid.UUID, JobControl] = {}
        self._metrics = metrics

    async def claim(self, lane: Lane) -> Job | None:
        """Claim the next due request of `lane` for this worker; None if there is none."""
        return await self._transitions.claim_next(lane)

    def stop_all(self, reason: StopReason) -> None:
        """Tell every running job to stop at its next row."""
        for control in self._active.values():
            control.stop(reason)

    async def process(self, job: Job) -> None:
        """Run a claimed job to one recorded outcome. Never raises: what it cannot record,
        the lease expiry and the sweeper recover."""
        claimed = job.record
        context: dict[str, object] = {
            "request_id": str(claimed.id),
            "worker_id": self._settings.worker_id,
            "attempt": claimed.attempts,
            "format": claimed.format.value,
        }
        control = JobControl()
        self._active[claimed.id] = control
        heartbeat = asyncio.create_task(
            keep_claim(
                self._transitions,
                claimed,
                control,
                context,
                lease_seconds=self._settings.lease_seconds,
                beat_seconds=self._settings.heartbeat_seconds,
            )
        )
        started = time.monotonic()
        lane = claimed.lane
        interactive = lane is Lane.INTERACTIVE
        in_flight = self._metrics.in_flight.labels(lane.value)
        in_flight.inc()
        try:
            with self._priority.interactive() if interactive else contextlib.nullcontext():
                log.info("job started", extra=context)
                outcome = await self._build(job, control)
                context["duration_s"] = round(time.monotonic() - started, 3)
                with span("finalize"):
                    await self._settle(claimed, outcome, context)
        except Exception:
            log.exception("job outcome not recorded; its lease will expire", extra=context)
        finally:
            in_flight.dec()
            heartbeat.cancel()
            self._active.pop(claimed.id, None)

    async def _build(self, job: Job, control: JobControl) -> Artifact | Exception:
        try:
            async with self._sources.open(job, control.check) as source:
                control.expect(source.expected_rows)
                return await self._render(job.record, source, control)
        except Exception as exc:
            return exc

    async def _render(
        self, claimed: ReportRecord, source: RowSource, control: JobControl
    ) -> Artifact | Exception:
        lane = claimed.lane
        if self._builder.renders_tiny(source, lane):
            # A few milliseconds on the loop: cheaper than a thread's hand-over; the upload
            # (boto3 blocks) still goes to a thread.
            rendered = self._builder.render_tiny(claimed, source, control)
            return await self._in_thread(
                lane, control, functools.partial(self._builder.store, claimed, rendered)
            )
        # In a thread: rendering is CPU-bound and boto3 blocks; the loop keeps heartbeating
        # (and fetching the rows of a data-source report).
        return await self._in_thread(
            lane, control, functools.partial(self._builder.build, claimed, source, control, lane)
        )

    async def _in_thread(
        self, lane: Lane, control: JobControl, build: Callable[[], Artifact]
    ) -> Artifact | Exception:
        """`build()` in the lane's render threads, within the job's time limit."""
        loop = asyncio.get_running_loop()
        task = asyncio.ensure_future(
            # With this task's context, so the render's spans and log lines join the job's.
            loop.run_in_executor(self._executors[lane], contextvars.copy_context().run, build)
        )
        try:
            return await asyncio.wait_for(asyncio.shield(task), self._settings.job_timeout_seconds)
        except Exception as exc:
            if task.done():  # finished (or failed) on its own, even as the limit struck
                return task.result() if task.exception() is None else exc
        control.stop(StopReason.TIMEOUT)
        try:
            return await task  # the render stops at its next row
        except Exception as exc:
            return exc

    async def _settle(
        self, claimed: ReportRecord, outcome: Artifact | Exception, context: dict[str, object]
    ) -> None:
        if isinstance(outcome, Artifact):
            done = await self._persist(
                lambda: self._transitions.complete(claimed, outcome), context
            )
            if done is None:
                await self._claim_lost(claimed, context, uploaded=outcome)
                return
            log.info(
                "job done",
                extra=context | {"size_bytes": outcome.size_bytes, "rows": outcome.row_count},
            )
            return
        if isinstance(outcome, JobStopped) and outcome.reason is StopReason.SHUTDOWN:
            await self._hand_back(claimed, context)
            return
        if isinstance(outcome, JobStopped) and outcome.reason is StopReason.LOST_CLAIM:
            await self._claim_lost(claimed, context)
            return
        code, message = self._classify(outcome, context)
        await self._failed(claimed, code, message, context)

    def _classify(self, error: Exception, context: dict[str, object]) -> tuple[ErrorCode, str]:
        if isinstance(error, JobStopped):  # only the time limit is left
            limit = self._settings.job_timeout_seconds
            return ErrorCode.TIMEOUT, f"the report took longer than the {limit:g}-second limit"
        if isinstance(error, ReportError):
            return error.code, error.message
        log.error("job crashed", extra=context, exc_info=error)
        return ErrorCode.INTERNAL_ERROR, "an internal error stopped the report"

    async def _failed(
        self, claimed: ReportRecord, code: ErrorCode, message: str, context: dict[str, object]
    ) -> None:
        decision = self._policy.decide(code, claimed.attempts, claimed.max_attempts)
        # The code only: a message may quote the request's data (it is stored with the
        # request, for its owner).
        context |= {"error_code": code.value}
        if isinstance(decision, Retry):
            delay = decision.delay_seconds
            retrying = await self._persist(
                lambda: self._transitions.retry(claimed, code, message, delay), context
            )
            if retrying is None:
                await self._claim_lost(claimed, context, code)
                return
            log.warning("job failed; retrying", extra=context | {"retry_in_s": round(delay, 2)})
            return
        failed = await self._persist(
            lambda: self._transitions.fail(claimed, code, message), context
        )
        if failed is None:
            await self._claim_lost(claimed, context, code)
            return
        log.warning("job gave up; dead-lettered", extra=context | {"reason": decision.reason})

    async def _hand_back(self, claimed: ReportRecord, context: dict[str, object]) -> None:
        released = await self._transitions.release(claimed)
        if released is None:
            self._finished(claimed, Outcome.CLAIM_LOST)
            return
        log.info("job handed back at shutdown", extra=context)

    async def _claim_lost(
        self,
        claimed: ReportRecord,
        context: dict[str, object],
        code: ErrorCode | None = None,
        uploaded: Artifact | None = None,
    ) -> None:
        """The claim is gone (while recording a failure of `code`, if any): cancelled by its
        owner, or taken over by another worker. What this attempt `uploaded` is removed: its
        key is this attempt's own, so no other attempt's file is touched. (Should the outcome
        have been recorded after all, its answer lost with the connection, the recorded
        file stays.)"""
        holder = await self._transitions.file_holder(claimed.id)
        cancelled = holder is not None and holder.status is ReportStatus.CANCELLED
        self._finished(claimed, Outcome.CANCELLED if cancelled else Outcome.CLAIM_LOST, code)
        if cancelled:
            log.info("job cancelled by its owner", extra=context)
        else:
            log.warning("job's claim was lost to another worker; result discarded", extra=context)
        if uploaded is None or (holder is not None and holder.object_key == uploaded.object_key):
            return
        try:
            await asyncio.to_thread(self._store.delete, uploaded.object_key)
        except StorageError:
            log.warning("could not remove a lost attempt's file; the cleanup will", extra=context)

    def _finished(
        self, claimed: ReportRecord, outcome: Outcome, code: ErrorCode | None = None
    ) -> None:
        self._metrics.job_finished(claimed.lane, outcome, code)

    async def _persist(self, write: Callable[[], Awaitable[T]], context: dict[str, object]) -> T:
        """Record an outcome, retrying through a database outage while the lease allows.

        Giving up early would waste the finished work and leave the request `processing`
        until its lease runs out.
        """
        return await through_outage(
            write,
            what="recording the outcome",
            patience_seconds=self._settings.lease_seconds / 2,
            max_delay_seconds=5.0,
            context=context,
        )
