"""Publishing job messages with publisher confirms."""

from aio_pika import DeliveryMode, Message
from aio_pika.abc import AbstractExchange
from pamqp.commands import Basic

from relatoria_shared.messaging.contract import CONTENT_TYPE, JobMessage
from relatoria_shared.messaging.topology import WORK_ROUTING_KEY


class PublishFailed(Exception):  # noqa: N818 - reads as the event it is
    """The broker did not confirm the message (nack, unroutable, timeout, no connection)."""


class JobPublisher:
    """Publishes persistent job messages and waits for the broker's confirmation."""

    def __init__(self, exchange: AbstractExchange, timeout_seconds: float) -> None:
        self._exchange = exchange
        self._timeout = timeout_seconds

    async def publish(self, job: JobMessage) -> None:
        """Publish `job`; return only once the broker has confirmed it, else raise."""
        message = Message(
            job.encode(),
            content_type=CONTENT_TYPE,
            delivery_mode=DeliveryMode.PERSISTENT,
            message_id=f"{job.request_id}:{job.attempt}",
        )
        try:
            confirmation = await self._exchange.publish(
                message, routing_key=WORK_ROUTING_KEY, mandatory=True, timeout=self._timeout
            )
        except Exception as exc:
            raise PublishFailed(f"{type(exc).__name__}: {exc}") from exc
        # A mandatory message no queue accepted comes back as a Basic.Return.
        if not isinstance(confirmation, Basic.Ack):
            raise PublishFailed(f"message was not routed ({type(confirmation).__name__})")
