"""Publishing webhook deliveries: to send now, to send after a backoff delay, and the dead
letter of one given up. A message carries only the delivery's id: PostgreSQL holds what
to send, and whether it still needs sending."""

import json
import uuid

from aio_pika import DeliveryMode, Message

from relatoria_shared.messaging.contract import CONTENT_TYPE, MalformedMessage
from relatoria_shared.messaging.publisher import send_confirmed
from relatoria_shared.messaging.topology import (
    WEBHOOK_DEAD_KEY,
    WEBHOOK_DELIVERY_KEY,
    DeclaredTopology,
)


def delivery_id_of(body: bytes) -> uuid.UUID:
    """The delivery id a message carries; `MalformedMessage` if it carries none."""
    try:
        return uuid.UUID(json.loads(body)["deliveryId"])
    except (ValueError, KeyError, TypeError) as exc:
        raise MalformedMessage(f"not a webhook delivery: {exc}") from exc


class WebhookPublisher:
    """Publishes delivery messages with confirms."""

    def __init__(self, declared: DeclaredTopology, timeout_seconds: float) -> None:
        self._declared = declared
        self._timeout = timeout_seconds

    async def publish(self, delivery_id: uuid.UUID) -> None:
        """Send the delivery now."""
        await self._send(WEBHOOK_DELIVERY_KEY, _message(delivery_id))

    async def publish_retry(self, delivery_id: uuid.UUID, delay_seconds: float) -> None:
        """Send the delivery again after `delay_seconds` (one of the delay queues')."""
        queue = self._declared.topology.webhooks_retry_queue(delay_seconds)
        await self._send(queue, _message(delivery_id))

    async def publish_dead(self, delivery_id: uuid.UUID, error: str | None) -> None:
        """File the dead letter of a delivery given up."""
        await self._send(WEBHOOK_DEAD_KEY, _message(delivery_id, error=error))

    async def _send(self, routing_key: str, message: Message) -> None:
        exchange = self._declared.webhooks_exchange
        await send_confirmed(exchange, routing_key, message, self._timeout)


def _message(delivery_id: uuid.UUID, **extra: object) -> Message:
    body = json.dumps({"deliveryId": str(delivery_id), **extra}).encode()
    return Message(
        body,
        content_type=CONTENT_TYPE,
        delivery_mode=DeliveryMode.PERSISTENT,
        message_id=f"webhook:{delivery_id}",
    )
