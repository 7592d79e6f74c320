"""Opening every service relatoria talks to, from settings, in one place.

The BFF, the worker and `relatoria-admin` each build their composition root on
`open_connections`: PostgreSQL (the pool), Redis (the status cache), RabbitMQ (its
topology declared, a publisher with confirms) and S3. Nothing connects at import time.
"""

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
from aio_pika.abc import AbstractRobustConnection
from redis.asyncio import Redis

from relatoria_shared.cache.status_cache import StatusCache, create_redis
from relatoria_shared.db.pool import open_pool
from relatoria_shared.dispatch import Dispatcher
from relatoria_shared.domain.report import ReportRecord
from relatoria_shared.messaging.connection import connect as connect_amqp
from relatoria_shared.messaging.publisher import JobPublisher
from relatoria_shared.messaging.topology import DeclaredTopology, declare_for
from relatoria_shared.settings import Settings
from relatoria_shared.storage.object_store import ObjectStore
from relatoria_shared.transitions.announce import Announcer, Messenger, TransitionMetrics


@dataclass(frozen=True)
class Broker:
    """The RabbitMQ connection, its declared topology and a confirming publisher."""

    connection: AbstractRobustConnection
    declared: DeclaredTopology
    publisher: JobPublisher


@dataclass(frozen=True)
class Connections:
    """Every open connection of a process."""

    settings: Settings
    pool: asyncpg.Pool
    redis: Redis
    cache: StatusCache
    store: ObjectStore
    broker: Broker | None

    def messenger(self) -> Messenger:
        """The transitions' messaging: RabbitMQ, or, for a process opened without a
        broker, one that refuses (commands that change no queued state need none)."""
        if self.broker is None:
            return NoBroker()
        return Dispatcher(self.broker.publisher)

    def announcer(self, metrics: TransitionMetrics) -> Announcer:
        """What follows every state change of this process, counted by `metrics`."""
        return Announcer(self.cache, self.messenger(), metrics)


class NoBroker:
    """The messaging of a process opened without RabbitMQ: any use is a programming error."""

    async def wake(self, record: ReportRecord) -> None:
        """Refuse."""
        raise RuntimeError(f"no broker to wake a worker for {record.id}")

    async def park(self, record: ReportRecord, delay_seconds: float) -> None:
        """Refuse."""
        raise RuntimeError(f"no broker to park {record.id}")

    async def dead_letter(self, record: ReportRecord) -> None:
        """Refuse."""
        raise RuntimeError(f"no broker to dead-letter {record.id}")


@contextlib.asynccontextmanager
async def open_connections(
    settings: Settings, *, broker: bool = True
) -> AsyncIterator[Connections]:
    """Open PostgreSQL, Redis, S3 and (with `broker`) RabbitMQ with its topology declared;
    close them all on exit. Waits for RabbitMQ if it is down at start."""
    pool = await open_pool(settings)
    redis = create_redis(settings)
    amqp: AbstractRobustConnection | None = None
    try:
        opened: Broker | None = None
        if broker:
            amqp = await connect_amqp(settings.amqp_url.get_secret_value())
            channel = await amqp.channel(publisher_confirms=True)
            declared = await declare_for(amqp, channel, settings)
            publisher = JobPublisher(declared, settings.publish_timeout_seconds)
            opened = Broker(connection=amqp, declared=declared, publisher=publisher)
        yield Connections(
            settings=settings,
            pool=pool,
            redis=redis,
            cache=StatusCache.from_settings(redis, settings),
            store=ObjectStore(settings),
            broker=opened,
        )
    finally:
        if amqp is not None:
            await amqp.close()
        await redis.aclose()
        await pool.close()
