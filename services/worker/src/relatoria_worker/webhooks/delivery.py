"""The webhook sender's AMQP edge: each message names a delivery; one attempt is made
under a claim, recorded, and followed by its retry (a delay queue), or its dead letter.

Acknowledgements: a message that names no delivery is rejected (dead-lettered by the
queue). Otherwise the message is acked once the attempt is recorded and what follows it
published: PostgreSQL then owns the delivery. If PostgreSQL or the broker fails midway,
the message goes back to the queue after a pause; should it be lost after all, the relay
publishes again what has been due for a while (`OutboxRelay`).
"""

import asyncio
import logging
import uuid
from datetime import UTC, datetime, timedelta

from aio_pika.abc import AbstractIncomingMessage

from relatoria_shared.db.webhook_deliveries import ClaimedDelivery, DeliveryRepository, Outcome
from relatoria_shared.domain.status import ReportStatus
from relatoria_shared.domain.webhooks import DeliveryStatus, WebhookSchedule, webhook_id
from relatoria_shared.exception_text import described
from relatoria_shared.messaging.contract import MalformedMessage
from relatoria_shared.messaging.webhook_publisher import WebhookPublisher, delivery_id_of
from relatoria_shared.storage.object_store import ObjectStore
from relatoria_worker.metrics import WorkerMetrics
from relatoria_worker.webhooks.payload import Presigned, signed_headers, webhook_body
from relatoria_worker.webhooks.sender import Attempted, WebhookSender

log = logging.getLogger(__name__)

REQUEUE_PAUSE_SECONDS = 1.0
MAX_PRESIGN_SECONDS = 7 * 86_400  # S3's limit for a SigV4 URL
PRESIGN_MARGIN_SECONDS = 3_600


class WebhookDeliverer:
    """Makes one attempt per message; `__call__` is the `queue.consume` callback."""

    def __init__(
        self,
        repository: DeliveryRepository,
        publisher: WebhookPublisher,
        sender: WebhookSender,
        store: ObjectStore,
        metrics: WorkerMetrics,
        *,
        schedule: WebhookSchedule,
        public_url: str,
        claim_hold: timedelta,
    ) -> None:
        self._repository = repository
        self._publisher = publisher
        self._sender = sender
        self._store = store
        self._metrics = metrics
        self._schedule = schedule
        self._public_url = public_url
        self._claim_hold = claim_hold

    async def __call__(self, message: AbstractIncomingMessage) -> None:
        """Handle one delivery message."""
        try:
            delivery_id = delivery_id_of(message.body)
        except MalformedMessage:
            log.warning("not a webhook delivery; rejected", extra={"body": message.body[:200]})
            await message.reject()
            return
        try:
            await self.deliver(delivery_id)
        except Exception:
            log.exception("webhook attempt not recorded; retried", extra=_ids(delivery_id))
            await asyncio.sleep(REQUEUE_PAUSE_SECONDS)
            await message.nack(requeue=True)
            return
        await message.ack()

    async def deliver(self, delivery_id: uuid.UUID) -> None:
        """One attempt at `delivery_id`, if it is pending and due; nothing otherwise (a
        duplicate message, a delivery already sent or given up)."""
        claimed = await self._repository.claim(delivery_id, self._claim_hold)
        if claimed is None:
            return
        if claimed.secret is None:
            await self._unsignable(claimed)
            return
        now = datetime.now(UTC)
        try:
            body = claimed.payload or await self._repository.fix_payload(
                claimed.id, await self._body(claimed)
            )
            headers = signed_headers(claimed.secret, claimed, body, now)
            attempted = await self._sender.send(claimed.url, headers, body.encode())
        except Exception as exc:
            # Not sent (the body could not be made or kept): a failed attempt like any
            # other, retried, and given up at the horizon if it keeps failing.
            log.exception("webhook not sent", extra=_ids(claimed.id))
            attempted = Attempted(None, f"not sent: {described(exc)}", True, 0)
        await self._settle(claimed, now, attempted)

    async def _body(self, claimed: ClaimedDelivery) -> str:
        report = claimed.report
        download: Presigned | None = None
        if report.status is ReportStatus.DONE and report.artifact is not None:
            # Valid for as long as the delivery may be retried, and an hour more.
            ttl = self._schedule.horizon_seconds + self._schedule.cap_seconds
            ttl = min(int(ttl) + PRESIGN_MARGIN_SECONDS, MAX_PRESIGN_SECONDS)
            download = await asyncio.to_thread(
                self._store.presign_download, report.artifact.object_key, ttl
            )
        return webhook_body(
            claimed, public_url=self._public_url, download=download, now=datetime.now(UTC)
        )

    async def _settle(self, claimed: ClaimedDelivery, now: datetime, attempted: Attempted) -> None:
        outcome = Outcome(now, attempted.duration_ms, attempted.status_code, attempted.error)
        self._metrics.webhook_duration.observe(attempted.duration_ms / 1000)
        context = _ids(claimed.id) | {
            "attempt": claimed.attempt,
            "status_code": attempted.status_code,
            "error": attempted.error,
        }
        if attempted.delivered:
            if await self._repository.settle(claimed, outcome, DeliveryStatus.DELIVERED, None):
                self._metrics.webhook_attempts.labels("delivered").inc()
                log.info("webhook delivered", extra=context)
            return
        since_first = (now - claimed.round_started_at).total_seconds()
        delay = self._schedule.next_delay(claimed.attempt, since_first)
        if not attempted.retryable or delay is None:
            await self._give_up(claimed, outcome)
            return
        retry_in = timedelta(seconds=delay)
        if await self._repository.settle(claimed, outcome, DeliveryStatus.PENDING, retry_in):
            await self._publisher.publish_retry(claimed.id, delay)
            self._metrics.webhook_attempts.labels("retried").inc()
            log.info("webhook attempt failed; retried", extra=context | {"delay_s": delay})

    async def _give_up(self, claimed: ClaimedDelivery, outcome: Outcome) -> None:
        if await self._repository.settle(claimed, outcome, DeliveryStatus.DEAD, None):
            await self._publisher.publish_dead(claimed.id, outcome.error)
            self._metrics.webhook_attempts.labels("dead").inc()
            log.warning("webhook given up", extra=_ids(claimed.id) | {"error": outcome.error})

    async def _unsignable(self, claimed: ClaimedDelivery) -> None:
        """An endpoint deleted while its delivery was on its way: dropped, as its other
        deliveries were. A callback whose owner's signing secret is gone: given up."""
        outcome = Outcome(datetime.now(UTC), 0, None, "no signing secret")
        if claimed.endpoint_id is not None:
            await self._repository.settle(claimed, outcome, DeliveryStatus.DROPPED, None)
            return
        await self._give_up(claimed, outcome)


def _ids(delivery_id: uuid.UUID) -> dict[str, object]:
    return {"webhook_id": webhook_id(delivery_id)}
