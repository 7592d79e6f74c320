"""The AMQP edge of the worker: a delivery wakes it to claim the next job of its lane.

Messages only wake workers: PostgreSQL decides which request runs next (fairly across
owners), so a delivery claims whatever is due in its lane, not necessarily the request it
names. The acknowledgement policy lives here and only here:
- a body that is not a job message can never succeed: reject it (the work queue
  dead-letters it);
- once the claim is committed, PostgreSQL owns the job: ack at once. A long render then
  never meets RabbitMQ's consumer timeout, and a crash is recovered by the sweeper (the
  worker's liveness lock released, or its lease expired), not by redelivery;
- nothing due (the wake-up's request already claimed by an idle worker, or finished):
  ack, nothing to do;
- PostgreSQL unreachable for the claim: keep the delivery and try the claim again with
  backoff. Requeueing would count against the queue's delivery limit and dead-letter
  healthy requests during a database restart; holding the slot also stops this worker
  from taking more work it cannot claim. Only after `CLAIM_PATIENCE_SECONDS` is the
  delivery handed back.
Deliveries are the rarer wake-ups (a retry's delay over, a job handed or taken back, a
replay). A new request wakes the worker through PostgreSQL instead (`wake`, from the
notification its recording statement sent). Woken that way, or when a free slot has had no
wake-up for `idle_poll_seconds`, the worker claims due work into its free slots, and each
such slot goes on claiming while there is some: a lost wake-up delays a request by no more
than the idle poll, and a broker outage does not slow the draining down.
"""

import asyncio
import contextlib
import logging

from aio_pika.abc import AbstractIncomingMessage
from opentelemetry.trace import SpanKind

from relatoria_shared.domain.lanes import Lane
from relatoria_shared.domain.report import Job
from relatoria_shared.logging_setup import log_context
from relatoria_shared.messaging.contract import JobMessage, MalformedMessage
from relatoria_shared.tracing import context_from, past_span, span
from relatoria_worker.job_runner import JobRunner
from relatoria_worker.metrics import Outcome, WorkerMetrics
from relatoria_worker.outage import through_outage

log = logging.getLogger(__name__)

CLAIM_PATIENCE_SECONDS = 300.0


class JobConsumer:
    """The callback given to `queue.consume`, one call per delivery, run concurrently; and
    the claiming of the same lane's due work when woken by PostgreSQL or left idle.

    Acked deliveries no longer count against the prefetch, so a semaphore bounds how many
    jobs run at once.
    """

    def __init__(
        self,
        runner: JobRunner,
        concurrency: int,
        lane: Lane,
        metrics: WorkerMetrics,
        *,
        idle_poll_seconds: float,
        present: asyncio.Event,
    ) -> None:
        """One consumer per lane's queue; `metrics` counts its skipped deliveries. Claims
        wait while `present` is clear (the worker's liveness lock is not held: a claim
        would be taken back at once)."""
        self._runner = runner
        self._slots = asyncio.Semaphore(concurrency)
        self._closing = False
        self._lane = lane
        self._metrics = metrics
        self._idle_poll = idle_poll_seconds
        self._woken = asyncio.Event()  # a delivery came: the slots are not idle
        self._due = asyncio.Event()  # a new request was recorded in this lane
        self._due.set()  # anything may be due when the worker starts
        self._closed = asyncio.Event()
        self._present = present
        self.claimed_jobs: set[asyncio.Task[None]] = set()
        """Jobs claimed without a delivery, being run (shutdown waits for them too)."""

    @property
    def lane(self) -> Lane:
        """The lane this consumer claims from."""
        return self._lane

    def close(self) -> None:
        """Stop starting jobs: deliveries still waiting for a slot go back to the queue."""
        self._closing = True
        self._closed.set()
        self._due.set()

    def wake(self) -> None:
        """A request is due in this lane: fill the free slots (nothing to do while every
        slot is busy: each claims again when its job ends)."""
        self._due.set()

    async def __call__(self, message: AbstractIncomingMessage) -> None:
        """Handle one delivery and settle it exactly once."""
        self._woken.set()
        try:
            woken_for = JobMessage.decode(message.body)
        except MalformedMessage as exc:
            log.error("rejected a malformed message", extra={"error": str(exc)})
            await message.reject(requeue=False)
            return
        async with self._slots:
            if not await self._may_claim():
                await message.nack(requeue=True)
                return
            try:
                job = await self._claim_patiently()
            except Exception:
                log.exception("claim failed; requeued")
                await message.nack(requeue=True)
                return
            try:
                await message.ack()
            except Exception:
                # The claim is committed, so PostgreSQL owns the job: run it anyway. The
                # broker redelivers the message, a wake-up like any other.
                log.warning("ack failed after the claim")
            if job is None:
                self._metrics.job_finished(self._lane, Outcome.SKIPPED)
                log.info(
                    "job skipped: not claimable (duplicate or finished)",
                    extra={"request_id": str(woken_for.request_id), "lane": self._lane.value},
                )
                return
            await self._run(job)

    async def claim_when_woken(self) -> None:
        """Until closed: whenever `wake` is called, or the slots have had no wake-up for
        `idle_poll_seconds`, claim due work into the free slots (each slot filled keeps
        claiming while there is some)."""
        while not self._closing:
            self._woken.clear()
            try:
                await asyncio.wait_for(self._due.wait(), self._idle_poll)
            except TimeoutError:
                if self._woken.is_set():
                    continue  # deliveries kept the slots busy: not idle
            # A slot first, then the wake-up: one heard while every slot is busy stays
            # pending until a slot frees (the job ending there may have looked for work
            # before that request was committed).
            if not await self._free_slot():
                return
            self._due.clear()
            if self._closing or not self._present.is_set():
                self._slots.release()
                continue
            try:
                await self._claim_into_free_slots()
            except Exception:
                log.warning("claim of due work failed", exc_info=True)

    async def _free_slot(self) -> bool:
        """Wait for a free slot and take it; False, taking none, once closing."""
        acquiring = asyncio.ensure_future(self._slots.acquire())
        closing = asyncio.ensure_future(self._closed.wait())
        await asyncio.wait({acquiring, closing}, return_when=asyncio.FIRST_COMPLETED)
        closing.cancel()
        if not acquiring.done():
            acquiring.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await acquiring
        taken = acquiring.done() and not acquiring.cancelled()
        if taken and self._closing:
            self._slots.release()
            return False
        return taken

    async def _may_claim(self) -> bool:
        """Wait until this worker holds its liveness lock; False once closing."""
        while not self._closing:
            if self._present.is_set():
                return True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._present.wait(), 1.0)
        return False

    async def _claim_into_free_slots(self) -> None:
        """With one slot held: claim due work into it, then into each other free slot,
        while there is some (every slot filled is released by its job's task)."""
        while True:
            try:
                job = await self._runner.claim(self._lane)
            except BaseException:
                self._slots.release()
                raise
            if job is None:
                self._slots.release()
                return
            task = asyncio.create_task(self._run_then_release(job))
            self.claimed_jobs.add(task)
            task.add_done_callback(self.claimed_jobs.discard)
            if self._closing or self._slots.locked():
                return
            await self._slots.acquire()

    async def _run_then_release(self, job: Job) -> None:
        """Run `job`, then whatever else is due, while there is some: a slot filled without
        a delivery keeps draining without further wake-ups."""
        try:
            next_job: Job | None = job
            while next_job is not None:
                await self._run(next_job)
                if self._closing or not self._present.is_set():
                    return
                try:
                    next_job = await self._runner.claim(self._lane)
                except Exception:
                    log.warning("claim after a job failed", exc_info=True)
                    return
        finally:
            self._slots.release()

    async def _run(self, job: Job) -> None:
        # The job's spans continue the trace of the POST that created its request (its
        # context is stored with it), and its log lines carry its request id.
        record = job.record
        with (
            span(
                "report job",
                context=context_from({"traceparent": job.traceparent or ""}),
                kind=SpanKind.CONSUMER,
                attributes={
                    "messaging.system": "rabbitmq",
                    "relatoria.request_id": str(record.id),
                    "relatoria.lane": self._lane.value,
                },
            ),
            log_context(request_id=str(record.id)),
        ):
            past_span("claim", record.started_at)
            await self._runner.process(job)

    async def _claim_patiently(self) -> Job | None:
        return await through_outage(
            lambda: self._runner.claim(self._lane),
            what="claim",
            patience_seconds=CLAIM_PATIENCE_SECONDS,
            max_delay_seconds=10.0,
            context={"lane": self._lane.value},
            give_up=lambda: self._closing,
        )
