"""The outbox relay: hands the deliveries that reports' ends recorded to RabbitMQ.

Woken by the notification the recording transaction sends (`db.wake_channel`), and every
`interval_seconds` in any case (a notification sent while no worker listened is not
heard). Every worker runs one; `FOR UPDATE SKIP LOCKED` keeps them off each other's rows.
It also publishes again a pending delivery due for longer than `stale_after`: its message
was lost (a crash between marking and publishing, a failed publish, a queue purged).
"""

import asyncio
import contextlib
import logging
from datetime import timedelta

from relatoria_shared.db.webhook_deliveries import DeliveryRepository
from relatoria_shared.exception_text import described
from relatoria_shared.messaging.webhook_publisher import WebhookPublisher

log = logging.getLogger(__name__)

BATCH = 100


class OutboxRelay:
    """Publishes recorded deliveries, woken or on its interval."""

    def __init__(
        self,
        repository: DeliveryRepository,
        publisher: WebhookPublisher,
        *,
        interval_seconds: float = 5.0,
        stale_after: timedelta = timedelta(minutes=5),
    ) -> None:
        self._repository = repository
        self._publisher = publisher
        self._interval = interval_seconds
        self._stale_after = stale_after
        self._woken = asyncio.Event()

    def wake(self) -> None:
        """Relay at once: deliveries were recorded."""
        self._woken.set()

    async def run(self) -> None:
        """Relay until cancelled."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), self._interval)
            self._woken.clear()
            try:
                await self.relay_all()
            except Exception as exc:
                log.warning("webhook relay failed; trying again", extra={"error": described(exc)})

    async def relay_all(self) -> int:
        """Publish every delivery waiting to be; how many. One that fails to publish stays
        marked, and is published again once `stale_after` has passed."""
        total = 0
        while True:
            marked = await self._repository.relay(BATCH, self._stale_after)
            await asyncio.gather(*(self._publisher.publish(d) for d in marked))
            total += len(marked)
            if len(marked) < BATCH:
                return total
