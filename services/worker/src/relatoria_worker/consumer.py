"""The AMQP edge of the worker: decode a delivery, claim it, settle the message, run it.

The acknowledgement policy lives here and only here:
- a body that is not a job message can never succeed: reject it (the work queue
  dead-letters it);
- once the claim is committed, PostgreSQL owns the job: ack at once. A long render then
  never meets RabbitMQ's consumer timeout, and a crash is recovered by the lease expiring
  and the sweeper, not by redelivery;
- not claimable (a duplicate, a late delivery, a finished request): ack, nothing to do;
- PostgreSQL unreachable for the claim: requeue after a pause, so an outage does not
  become a hot redelivery loop (the queue's delivery limit bounds it; a message it drops
  is republished by the sweeper, the request still being `queued` in PostgreSQL).
"""

import asyncio
import logging

from aio_pika.abc import AbstractIncomingMessage

from relatoria_shared.messaging.contract import JobMessage, MalformedMessage
from relatoria_worker.job_runner import JobRunner

log = logging.getLogger(__name__)

REQUEUE_PAUSE_SECONDS = 1.0


class JobConsumer:
    """The callback given to `queue.consume`; one call per delivery, run concurrently.

    Acked deliveries no longer count against the prefetch, so a semaphore bounds how many
    jobs run at once.
    """

    def __init__(self, runner: JobRunner, concurrency: int) -> None:
        self._runner = runner
        self._slots = asyncio.Semaphore(concurrency)
        self._closing = False

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
            try:
                claimed = await self._runner.claim(job)
            except Exception:
                log.exception("claim failed; requeued", extra={"request_id": str(job.request_id)})
                await asyncio.sleep(REQUEUE_PAUSE_SECONDS)
                await message.nack(requeue=True)
                return
            await message.ack()
            if claimed is not None:
                await self._runner.process(claimed)
