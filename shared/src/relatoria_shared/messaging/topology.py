"""The one place that names and declares relatoria's RabbitMQ topology.

Every name derives from a namespace (a setting), so tests and several deployments can
share a broker without touching each other's queues.
"""

from dataclasses import dataclass

from aio_pika import ExchangeType
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractQueue

WORK_ROUTING_KEY = "report"


@dataclass(frozen=True)
class Topology:
    """Exchange and queue names for one namespace."""

    namespace: str

    @property
    def work_exchange(self) -> str:
        """The durable direct exchange report jobs are published to."""
        return f"{self.namespace}.work"

    @property
    def work_queue(self) -> str:
        """The durable quorum queue workers consume."""
        return f"{self.namespace}.work"


@dataclass(frozen=True)
class DeclaredTopology:
    """Handles on the declared exchange and queue of one channel."""

    work_exchange: AbstractExchange
    work_queue: AbstractQueue


async def declare(channel: AbstractChannel, topology: Topology) -> DeclaredTopology:
    """Declare (idempotently) the exchange, the work queue and their binding."""
    exchange = await channel.declare_exchange(
        topology.work_exchange, ExchangeType.DIRECT, durable=True
    )
    # Quorum: replicated, durable, and delivery-counted (poison-message backstop).
    queue = await channel.declare_queue(
        topology.work_queue, durable=True, arguments={"x-queue-type": "quorum"}
    )
    await queue.bind(exchange, routing_key=WORK_ROUTING_KEY)
    return DeclaredTopology(work_exchange=exchange, work_queue=queue)
