"""The one place that names and declares relatoria's RabbitMQ topology.

- `<ns>.work`: a direct exchange and one durable quorum queue per lane, which workers
  consume with separate concurrency: `<ns>.work` (interactive: inline reports, routing
  key `report`) and `<ns>.bulk` (data-source exports, routing key `bulk`). Their delivery
  limit dead-letters a message that keeps coming back unacked (a poison message).
- `<ns>.retry`: a direct exchange and, per lane, one delay queue per backoff delay (each
  level has a few, for jitter), named by its delay (`<ns>.retry.2000ms`,
  `<ns>.retry.bulk.2000ms`); a message waits there for the queue's TTL, then is
  dead-lettered back to the work exchange with its lane's routing key.
- `<ns>.dead`: a fanout exchange and a durable quorum queue holding terminal failures.
- `<ns>.webhooks`: a direct exchange for webhook deliveries, with their own queues: the
  delivery queue `<ns>.webhooks` (routing key `delivery`), one delay queue per backoff
  delay (`<ns>.webhooks.retry.5000ms`, routing key its name) that dead-letters back to
  it, and `<ns>.webhooks.dead` (routing key `dead`) for deliveries given up.

Every name derives from a namespace (a setting), so tests and several deployments can
share a broker without touching each other's queues. Delay queues are named by their
delay, so changing the backoff settings declares new queues instead of conflicting with
the arguments of old ones. An existing work queue is used as it is: declaring it again
with other arguments (an older release's, another delivery limit) would be refused by the
broker and stop every process from starting.
"""

from dataclasses import dataclass

from aio_pika import ExchangeType
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractExchange, AbstractQueue
from aiormq.exceptions import ChannelNotFoundEntity

from relatoria_shared.domain.lanes import Lane
from relatoria_shared.settings import Settings

# The interactive lane keeps the names it had before lanes existed, so an upgrade goes on
# using the queue (and the messages) already there.
_LANE_SUFFIX = {Lane.INTERACTIVE: "", Lane.BULK: ".bulk"}
_ROUTING_KEYS = {Lane.INTERACTIVE: "report", Lane.BULK: "bulk"}


def routing_key(lane: Lane) -> str:
    """The routing key of `lane`'s jobs on the work exchange."""
    return _ROUTING_KEYS[lane]


@dataclass(frozen=True)
class Topology:
    """Exchange and queue names for one namespace."""

    namespace: str

    @property
    def work_exchange(self) -> str:
        """The direct exchange report jobs are published to."""
        return f"{self.namespace}.work"

    def work_queue(self, lane: Lane) -> str:
        """The quorum queue workers consume for `lane`."""
        return f"{self.namespace}.work" if lane is Lane.INTERACTIVE else f"{self.namespace}.bulk"

    @property
    def retry_exchange(self) -> str:
        """The direct exchange that routes a retry to its delay queue."""
        return f"{self.namespace}.retry"

    def retry_queue(self, delay_seconds: float, lane: Lane) -> str:
        """The delay queue of one backoff level of `lane`; also its routing key."""
        return f"{self.namespace}.retry{_LANE_SUFFIX[lane]}.{_millis(delay_seconds)}ms"

    @property
    def dead_exchange(self) -> str:
        """The fanout exchange terminal failures are published to."""
        return f"{self.namespace}.dead"

    @property
    def dead_queue(self) -> str:
        """The queue holding dead letters until replayed."""
        return f"{self.namespace}.dead"

    @property
    def webhooks_exchange(self) -> str:
        """The direct exchange of webhook deliveries, their delays and dead letters."""
        return f"{self.namespace}.webhooks"

    @property
    def webhooks_queue(self) -> str:
        """The queue webhook senders consume."""
        return f"{self.namespace}.webhooks"

    def webhooks_retry_queue(self, delay_seconds: float) -> str:
        """The delay queue of one delivery backoff level; also its routing key."""
        return f"{self.namespace}.webhooks.retry.{_millis(delay_seconds)}ms"

    @property
    def webhooks_dead_queue(self) -> str:
        """The queue holding webhook deliveries given up, until replayed."""
        return f"{self.namespace}.webhooks.dead"


WEBHOOK_DELIVERY_KEY = "delivery"
WEBHOOK_DEAD_KEY = "dead"


@dataclass(frozen=True)
class DeclaredTopology:
    """Handles on one channel's declared exchanges and queues."""

    topology: Topology
    work_exchange: AbstractExchange
    work_queues: dict[Lane, AbstractQueue]
    retry_exchange: AbstractExchange
    dead_exchange: AbstractExchange
    dead_queue: AbstractQueue
    webhooks_exchange: AbstractExchange


def _millis(seconds: float) -> int:
    return max(1, round(seconds * 1000))


async def _existing_queue(
    connection: AbstractConnection, channel: AbstractChannel, name: str
) -> AbstractQueue | None:
    """The queue `name` on `channel` if it exists (probed on a throwaway channel, which the
    broker closes when the queue is absent), else None."""
    probe = await connection.channel()
    try:
        await probe.declare_queue(name, passive=True)
    except ChannelNotFoundEntity:
        return None
    finally:
        if not probe.is_closed:
            await probe.close()
    return await channel.declare_queue(name, passive=True)


async def declare(
    connection: AbstractConnection,
    channel: AbstractChannel,
    topology: Topology,
    *,
    retry_levels: list[float],
    delivery_limit: int,
    webhook_retry_levels: list[float],
) -> DeclaredTopology:
    """Declare (idempotently) every exchange, queue and binding of `topology`."""
    dead_exchange = await channel.declare_exchange(
        topology.dead_exchange, ExchangeType.FANOUT, durable=True
    )
    dead_queue = await channel.declare_queue(
        topology.dead_queue, durable=True, arguments={"x-queue-type": "quorum"}
    )
    await dead_queue.bind(dead_exchange)

    work_exchange = await channel.declare_exchange(
        topology.work_exchange, ExchangeType.DIRECT, durable=True
    )
    retry_exchange = await channel.declare_exchange(
        topology.retry_exchange, ExchangeType.DIRECT, durable=True
    )
    work_queues: dict[Lane, AbstractQueue] = {}
    for lane in Lane:
        work_queue = await _existing_queue(connection, channel, topology.work_queue(lane))
        if work_queue is None:
            work_queue = await channel.declare_queue(
                topology.work_queue(lane),
                durable=True,
                arguments={
                    "x-queue-type": "quorum",
                    "x-delivery-limit": delivery_limit,
                    "x-dead-letter-exchange": topology.dead_exchange,
                },
            )
        await work_queue.bind(work_exchange, routing_key=routing_key(lane))
        work_queues[lane] = work_queue
        for delay in retry_levels:
            name = topology.retry_queue(delay, lane)
            queue = await channel.declare_queue(
                name,
                durable=True,
                arguments={
                    "x-message-ttl": _millis(delay),
                    "x-dead-letter-exchange": topology.work_exchange,
                    "x-dead-letter-routing-key": routing_key(lane),
                },
            )
            await queue.bind(retry_exchange, routing_key=name)
    webhooks_exchange = await _declare_webhooks(
        channel, topology, webhook_retry_levels, delivery_limit
    )
    return DeclaredTopology(
        topology=topology,
        work_exchange=work_exchange,
        work_queues=work_queues,
        retry_exchange=retry_exchange,
        dead_exchange=dead_exchange,
        dead_queue=dead_queue,
        webhooks_exchange=webhooks_exchange,
    )


async def _declare_webhooks(
    channel: AbstractChannel, topology: Topology, retry_levels: list[float], delivery_limit: int
) -> AbstractExchange:
    exchange = await channel.declare_exchange(
        topology.webhooks_exchange, ExchangeType.DIRECT, durable=True
    )
    dead = await channel.declare_queue(
        topology.webhooks_dead_queue, durable=True, arguments={"x-queue-type": "quorum"}
    )
    await dead.bind(exchange, routing_key=WEBHOOK_DEAD_KEY)
    # A message redelivered past the limit is dropped, not dead-lettered: PostgreSQL still
    # has its delivery pending, and the relay publishes it again. The dead queue holds
    # only deliveries given up.
    deliveries = await channel.declare_queue(
        topology.webhooks_queue,
        durable=True,
        arguments={"x-queue-type": "quorum", "x-delivery-limit": delivery_limit},
    )
    await deliveries.bind(exchange, routing_key=WEBHOOK_DELIVERY_KEY)
    for delay in retry_levels:
        name = topology.webhooks_retry_queue(delay)
        queue = await channel.declare_queue(
            name,
            durable=True,
            arguments={
                "x-message-ttl": _millis(delay),
                "x-dead-letter-exchange": topology.webhooks_exchange,
                "x-dead-letter-routing-key": WEBHOOK_DELIVERY_KEY,
            },
        )
        await queue.bind(exchange, routing_key=name)
    return exchange


async def declare_for(
    connection: AbstractConnection, channel: AbstractChannel, settings: Settings
) -> DeclaredTopology:
    """Declare, on `channel` of `connection`, the topology the settings describe."""
    return await declare(
        connection,
        channel,
        Topology(settings.amqp_namespace),
        retry_levels=settings.retry_policy.levels(),
        delivery_limit=settings.delivery_limit,
        webhook_retry_levels=settings.webhook_schedule.levels(),
    )
