"""`relatoria-admin webhooks`: list webhook deliveries given up, and replay them.

PostgreSQL says which deliveries are dead; the dead-letter queue holds one letter for each
(for alerting on its depth). A replay makes the chosen deliveries pending again, with a
fresh round of attempts and horizon; the workers' relays publish them at once (woken by
the replay), and their letters are removed from the queue.
"""

import uuid

from aio_pika.abc import AbstractIncomingMessage

from relatoria_shared.db.webhook_deliveries import PgDeliveryRepository
from relatoria_shared.db.webhook_endpoints import DeliveryView
from relatoria_shared.domain.webhooks import DeliveryStatus, webhook_id
from relatoria_shared.messaging.contract import MalformedMessage
from relatoria_shared.messaging.topology import Topology
from relatoria_shared.messaging.webhook_publisher import delivery_id_of
from relatoria_worker.admin.context import Admin

LISTED = 200


async def list_dead(admin: Admin) -> list[DeliveryView]:
    """The most recently dead deliveries."""
    return await PgDeliveryRepository(admin.connections.pool).dead(LISTED)


async def replay(
    admin: Admin, *, delivery_id: uuid.UUID | None, owner_id: str | None
) -> tuple[int, int]:
    """Replay the chosen dead deliveries (all without a filter); (replayed, letters removed)."""
    replayed = await PgDeliveryRepository(admin.connections.pool).replay_dead(
        delivery_id=delivery_id, owner_id=owner_id
    )
    return len(replayed), await _remove_settled_letters(admin)


async def _remove_settled_letters(admin: Admin) -> int:
    """Ack the letters whose delivery is no longer dead (or that name none); leave the
    others queued."""
    channel = await admin.amqp.channel()
    removed = 0
    try:
        queue = await channel.get_queue(Topology(admin.settings.amqp_namespace).webhooks_dead_queue)
        held: list[tuple[AbstractIncomingMessage, uuid.UUID | None]] = []
        while (message := await queue.get(no_ack=False, fail=False)) is not None:
            try:
                held.append((message, delivery_id_of(message.body)))
            except MalformedMessage:
                held.append((message, None))
        ids = [found for _, found in held if found is not None]
        dead = set(
            await admin.connections.pool.fetchval(
                "SELECT coalesce(array_agg(id), '{}') FROM webhook_deliveries "
                "WHERE id = ANY($1) AND status = $2",
                ids,
                DeliveryStatus.DEAD.value,
            )
        )
        for message, found in held:
            # A letter naming no delivery can never be replayed: removed too.
            if found is None or found not in dead:
                await message.ack()
                removed += 1
    finally:
        await channel.close()  # what was not acked goes back to the queue
    return removed


def print_dead(deliveries: list[DeliveryView]) -> None:
    """The dead deliveries as a table."""
    if not deliveries:
        print("no dead webhook deliveries")
        return
    print(f"{'webhook id':<36}  {'event':<16} {'given up at':<25} url / last error")
    for view in deliveries:
        print(
            f"{webhook_id(view.id):<36}  {view.event.value:<16} "
            f"{view.finished_at.isoformat() if view.finished_at else '-':<25} "
            f"{view.url}  {view.last_error or ''}"
        )
    print(f"{len(deliveries)} dead delivery(ies)")
