"""The AMQP edge of the worker: decode a delivery, claim it, settle the message, run it.

The acknowledgement policy lives here and only here:
- a body that is not a job message can never succeed: reject it (the work queue
  dead-letters it);
- once the claim is committed, PostgreSQL owns the job: ack at once. A long render then
  never meets RabbitMQ's consumer timeout, and a crash is recovered by the lease expiring
  and the sweeper, not by redelivery;
- not claimable (a duplicate, a late delivery, a finished request): ack, nothing to do;
- PostgreSQL unreachable for the claim: keep the delivery and try the claim again with
  backoff. Requeueing would count against the queue's delivery limit and dead-letter
  healthy requests during a database restart; holding the slot also stops this worker
  from taking more work it cannot claim. Only after `CLAIM_PATIENCE_SECONDS` is the
  delivery handed back.
"""

import asyncio
import logging

from aio_pika.abc import AbstractIncomingMessage
from opentelemetry.trace import SpanKind

from relatoria_shared.domain.lanes import Lane
from relatoria_shared.domain.report import ReportRecord
from relatoria_shared.logging_setup import log_context
from relatoria_shared.messaging.contract import JobMessage, MalformedMessage
from relatoria_shared.tracing import context_from, span
from relatoria_worker.job_runner import JobRunner
from relatoria_worker.metrics import Outcome, WorkerMetrics
from relatoria_worker.outage import through_outage

log = logging.getLogger(__name__)

CLAIM_PATIENCE_SECONDS = 300.0


class JobConsumer:
    """The callback given to `queue.consume`; one call per delivery, run concurrently.

    Acked deliveries no longer count against the prefetch, so a semaphore bounds how many
    jobs run at once.
    """

    def __init__(
        self, runner: JobRunner, concurrency: int, lane: Lane, metrics: WorkerMetrics
    ) -> None:
        """One consumer per lane's queue; `metrics` counts its skipped deliveries."""
        self._runner = runner
        self._slots = asyncio.Semaphore(concurrency)
        self._closing = False
        self._lane = lane
        self._metrics = metrics

    def close(self) -> None:
        """Stop starting jobs: deliveries still waiting for a slot go back to the queue."""
        self._closing = True

    async def __call__(self, message: AbstractIncomingMessage) -> None:
        """Handle one delivery and settle it exactly once."""
        try:
            job = JobMessage.decode(message.body)
        except MalformedMessage as exc:
            log.error("rejected a malformed message", extra={"error": str(exc)})
            await message.reject(requeue=False)
            return
        async with self._slots:
            if self._closing:
                await message.nack(requeue=True)
                return
            # The job's spans continue the trace of whoever published it (the BFF's
            # request, a retry, the sweeper), and its log lines carry its request id.
            with (
                span(
                    "report job",
                    context=context_from(message.headers),
                    kind=SpanKind.CONSUMER,
                    attributes={
                        "messaging.system": "rabbitmq",
                        "relatoria.request_id": str(job.request_id),
                        "relatoria.lane": self._lane.value,
                    },
                ),
                log_context(request_id=str(job.request_id)),
            ):
                await self._settle_and_run(message, job)

    async def _settle_and_run(self, message: AbstractIncomingMessage, job: JobMessage) -> None:
        try:
            with span("claim"):
                claimed = await self._claim_patiently(job)
        except Exception:
            log.exception("claim failed; requeued")
            await message.nack(requeue=True)
            return
        try:
            await message.ack()
        except Exception:
            # The claim is committed, so PostgreSQL owns the job: run it anyway. The
            # broker redelivers the message, and that delivery finds nothing to claim.
            log.warning("ack failed after the claim")
        if claimed is None:
            self._metrics.job_finished(self._lane, Outcome.SKIPPED)
        else:
            await self._runner.process(claimed)

    async def _claim_patiently(self, job: JobMessage) -> ReportRecord | None:
        return await through_outage(
            lambda: self._runner.claim(job),
            what="claim",
            patience_seconds=CLAIM_PATIENCE_SECONDS,
            max_delay_seconds=10.0,
            context={"request_id": str(job.request_id)},
            give_up=lambda: self._closing,
        )
