"""`relatoria-admin queues`: ready messages and consumers of every queue of the namespace."""

from dataclasses import dataclass

from aio_pika.abc import AbstractChannel
from aiormq.exceptions import ChannelNotFoundEntity

from relatoria_shared.domain.lanes import Lane
from relatoria_shared.messaging.topology import Topology
from relatoria_shared.settings import Settings
from relatoria_worker.admin.context import Admin


@dataclass(frozen=True)
class QueueDepth:
    """One queue as the broker reports it; `exists` False when it was never declared."""

    name: str
    role: str
    exists: bool
    messages: int | None = None
    consumers: int | None = None


def queue_names(settings: Settings) -> list[tuple[str, str]]:
    """(name, role) of every queue of the namespace, as the settings describe them."""
    topology = Topology(settings.amqp_namespace)
    names = [(topology.work_queue(lane), f"work {lane.value}") for lane in Lane]
    names += [
        (topology.retry_queue(delay, lane), f"retry {lane.value} {delay:g}s")
        for lane in Lane
        for delay in settings.retry_policy.levels()
    ]
    names.append((topology.dead_queue, "dead letters"))
    return names


async def queue_depths(admin: Admin) -> list[QueueDepth]:
    """Ready messages and consumers of every queue, by passive declares (nothing created)."""
    depths: list[QueueDepth] = []
    channel: AbstractChannel | None = None
    try:
        for name, role in queue_names(admin.settings):
            if channel is None or channel.is_closed:
                channel = await admin.amqp.channel()
            try:
                queue = await channel.declare_queue(name, passive=True)
            except ChannelNotFoundEntity:  # the broker closed the channel
                depths.append(QueueDepth(name=name, role=role, exists=False))
                continue
            declared = queue.declaration_result
            depths.append(
                QueueDepth(
                    name=name,
                    role=role,
                    exists=True,
                    messages=declared.message_count,
                    consumers=declared.consumer_count,
                )
            )
    finally:
        if channel is not None and not channel.is_closed:
            await channel.close()
    return depths


def print_queues(depths: list[QueueDepth]) -> None:
    width = max(len(d.name) for d in depths)
    print(f"{'queue':<{width}}  {'role':<24} {'ready':>8} {'consumers':>9}")
    for d in depths:
        if d.exists:
            print(f"{d.name:<{width}}  {d.role:<24} {d.messages:>8} {d.consumers:>9}")
        else:
            print(f"{d.name:<{width}}  {d.role:<24} {'absent':>8} {'-':>9}")
