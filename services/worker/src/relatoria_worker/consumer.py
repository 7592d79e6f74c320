"""The AMQP edge of the worker: decode a delivery, run it, then ack, reject or requeue.

The acknowledgement policy lives here and only here:
- a body that is not a job message can never succeed: reject without requeue;
- a job that ran (whatever its report outcome, already recorded in PostgreSQL): ack;
- PostgreSQL unreachable before the outcome was recorded: requeue after a pause (so an
  outage does not become a hot redelivery loop); another try will come.
"""

import asyncio
import logging

from aio_pika.abc import AbstractIncomingMessage

from relatoria_shared.messaging.contract import JobMessage, MalformedMessage
from relatoria_worker.job_runner import JobRunner

log = logging.getLogger(__name__)

REQUEUE_PAUSE_SECONDS = 1.0


class JobConsumer:
    """The callback given to `queue.consume`; one call per delivery, run concurrently."""

    def __init__(self, runner: JobRunner) -> None:
        self._runner = runner

    async def __call__(self, message: AbstractIncomingMessage) -> None:
        """Handle one delivery and settle it exactly once."""
        try:
            job = JobMessage.decode(message.body)
        except MalformedMessage as exc:
            log.error("rejected a malformed message", extra={"error": str(exc)})
            await message.reject(requeue=False)
            return
        try:
            await self._runner.run(job)
        except Exception:
            log.exception(
                "job could not be recorded; requeued", extra={"request_id": str(job.request_id)}
            )
            await asyncio.sleep(REQUEUE_PAUSE_SECONDS)
            await message.nack(requeue=True)
            return
        await message.ack()
