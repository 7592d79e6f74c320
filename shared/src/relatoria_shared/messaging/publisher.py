"""Publishing: wake-ups, delayed wake-ups (retries) and dead letters.

Everything is published with confirms: the broker has it once the call returns. (A new
request is woken by PostgreSQL, not by a message: what is published here is rare, a
hand-back, a take-back, a replay, a retry, a dead letter.)
"""

from aio_pika import DeliveryMode, Message
from aio_pika.abc import AbstractExchange
from opentelemetry.trace import SpanKind
from pamqp.commands import Basic

from relatoria_shared.domain.lanes import Lane
from relatoria_shared.messaging.contract import CONTENT_TYPE, DeadLetter, JobMessage
from relatoria_shared.messaging.topology import DeclaredTopology, routing_key
from relatoria_shared.tracing import span, trace_headers


class PublishFailed(Exception):  # noqa: N818 - reads as the event it is
    """The broker did not confirm the message (nack, unroutable, timeout, no connection)."""


class JobPublisher:
    """Publishes persistent messages, each confirmed by the broker."""

    def __init__(self, declared: DeclaredTopology, timeout_seconds: float) -> None:
        self._declared = declared
        self._timeout = timeout_seconds

    async def publish(self, job: JobMessage, lane: Lane) -> None:
        """Wake a worker of `lane` for `job` now."""
        await self._send(self._declared.work_exchange, routing_key(lane), _message(job))

    async def publish_retry(self, job: JobMessage, delay_seconds: float, lane: Lane) -> None:
        """Queue `job` in `lane` after `delay_seconds` (one of the delay queues')."""
        delay_queue = self._declared.topology.retry_queue(delay_seconds, lane)
        await self._send(self._declared.retry_exchange, delay_queue, _message(job))

    async def publish_dead(self, letter: DeadLetter) -> None:
        """File `letter` in the dead-letter queue."""
        message = Message(
            letter.encode(),
            content_type=CONTENT_TYPE,
            delivery_mode=DeliveryMode.PERSISTENT,
            headers=letter.headers(),
            message_id=f"dead:{letter.request_id}",
        )
        await self._send(self._declared.dead_exchange, "", message)

    async def _send(self, exchange: AbstractExchange, routing_key: str, message: Message) -> None:
        await send_confirmed(exchange, routing_key, message, self._timeout)


async def send_confirmed(
    exchange: AbstractExchange, routing_key: str, message: Message, confirm_seconds: float
) -> None:
    """Publish `message` persistently routed, and return once the broker confirms it;
    `PublishFailed` if it does not within `confirm_seconds`."""
    with span(
        f"{exchange.name} publish",
        kind=SpanKind.PRODUCER,
        attributes={
            "messaging.system": "rabbitmq",
            "messaging.destination.name": exchange.name,
            "messaging.rabbitmq.destination.routing_key": routing_key,
        },
    ):
        # The consumer's spans become children of this one, across the queue.
        message.headers = {**(message.headers or {}), **trace_headers()}
        try:
            confirmation = await exchange.publish(
                message, routing_key=routing_key, mandatory=True, timeout=confirm_seconds
            )
        except Exception as exc:
            raise PublishFailed(f"{type(exc).__name__}: {exc}") from exc
        # A mandatory message no queue accepted comes back as a Basic.Return.
        if not isinstance(confirmation, Basic.Ack):
            raise PublishFailed(f"message was not routed ({type(confirmation).__name__})")


def _message(job: JobMessage) -> Message:
    return Message(
        job.encode(),
        content_type=CONTENT_TYPE,
        delivery_mode=DeliveryMode.PERSISTENT,
        message_id=f"{job.request_id}:{job.attempt}",
    )
