"""Webhook delivery inside a worker process: the outbox relay and the sender consuming
the delivery queue, started and stopped with the worker."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from relatoria_shared.connections import Connections
from relatoria_shared.db.webhook_deliveries import PgDeliveryRepository
from relatoria_shared.domain.webhook_urls import AllowList
from relatoria_shared.messaging.topology import Topology
from relatoria_shared.messaging.webhook_publisher import WebhookPublisher
from relatoria_worker.metrics import WorkerMetrics
from relatoria_worker.tracked_deliveries import tracked
from relatoria_worker.webhooks.delivery import WebhookDeliverer
from relatoria_worker.webhooks.relay import OutboxRelay
from relatoria_worker.webhooks.sender import WebhookSender

USER_AGENT = "relatoria-webhooks/1"
# Beyond the sender's own deadline: time to record the attempt before another may start.
CLAIM_MARGIN_SECONDS = 30.0


@contextlib.asynccontextmanager
async def webhook_delivery(
    connections: Connections, metrics: WorkerMetrics
) -> AsyncIterator[OutboxRelay]:
    """Relay recorded deliveries and send them until the block exits (attempts under way
    are given the sender's deadline to finish); yields the relay, to wake."""
    settings = connections.settings
    assert connections.broker is not None
    publisher = WebhookPublisher(connections.broker.declared, settings.publish_timeout_seconds)
    repository = PgDeliveryRepository(connections.pool)
    deadline = settings.webhook_connect_timeout_seconds + settings.webhook_read_timeout_seconds
    sender = WebhookSender(
        AllowList.parse(settings.webhook_allowed_hosts),
        connect_timeout=settings.webhook_connect_timeout_seconds,
        read_timeout=settings.webhook_read_timeout_seconds,
        total_timeout=deadline,
        max_response_bytes=settings.webhook_max_response_bytes,
        user_agent=USER_AGENT,
    )
    deliverer = WebhookDeliverer(
        repository,
        publisher,
        sender,
        connections.store,
        metrics,
        schedule=settings.webhook_schedule,
        public_url=settings.public_url,
        claim_hold=timedelta(seconds=deadline + CLAIM_MARGIN_SECONDS),
    )
    relay = OutboxRelay(repository, publisher)
    relaying = asyncio.create_task(relay.run(), name="webhook-relay")
    channel = await connections.broker.connection.channel()
    await channel.set_qos(prefetch_count=settings.webhook_concurrency)
    queue = await channel.get_queue(Topology(settings.amqp_namespace).webhooks_queue)
    in_flight: set[asyncio.Task[Any]] = set()
    tag = await queue.consume(tracked(deliverer, in_flight))
    try:
        yield relay
    finally:
        relaying.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await relaying
        with contextlib.suppress(Exception):
            await queue.cancel(tag)
        # Attempts under way finish and are recorded; one cut short is sent again once
        # its claim has passed (the relay's overdue pass).
        if in_flight:
            _, unfinished = await asyncio.wait(set(in_flight), timeout=deadline)
            for task in unfinished:
                task.cancel()
            await asyncio.gather(*unfinished, return_exceptions=True)
        with contextlib.suppress(Exception):
            await channel.close()
        await sender.aclose()
