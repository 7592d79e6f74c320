"""The BFF's composition root: every connection is opened here and handed to the app."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aio_pika.abc import AbstractRobustConnection
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from relatoria_bff.auth import TokenVerifier
from relatoria_bff.metrics import BffMetrics
from relatoria_shared.cache.status_cache import StatusCache, create_redis
from relatoria_shared.db.engine import create_engine
from relatoria_shared.db.repository import ReportRepository
from relatoria_shared.dispatch import Dispatcher
from relatoria_shared.domain.report import ReportRecord
from relatoria_shared.messaging.connection import connect as connect_amqp
from relatoria_shared.messaging.publisher import JobPublisher
from relatoria_shared.messaging.topology import declare_for
from relatoria_shared.settings import Settings
from relatoria_shared.storage.object_store import ObjectStore


@dataclass(frozen=True)
class Resources:
    """Everything the routes need, built once per process."""

    settings: Settings
    engine: AsyncEngine
    repository: ReportRepository
    amqp: AbstractRobustConnection
    dispatcher: Dispatcher
    redis: Redis
    cache: StatusCache
    store: ObjectStore
    verifier: TokenVerifier


class CountingDispatcher(Dispatcher):
    """The BFF's dispatcher: the BFF dispatches each request once, right after recording
    it (an idempotent replay is not dispatched again), so every dispatch is an accepted
    request."""

    def __init__(
        self, publisher: JobPublisher, repository: ReportRepository, metrics: BffMetrics
    ) -> None:
        super().__init__(publisher, repository)
        self._metrics = metrics

    async def dispatch(self, record: ReportRecord) -> bool:
        """Count the request as accepted, then publish it."""
        self._metrics.accepted(record.report_type, record.format)
        return await super().dispatch(record)


@contextlib.asynccontextmanager
async def open_resources(
    settings: Settings, metrics: BffMetrics | None = None
) -> AsyncIterator[Resources]:
    """Open every connection the BFF uses, and close them all on exit; `metrics` counts
    the accepted requests."""
    verifier = TokenVerifier(settings)
    engine = create_engine(settings)
    redis = create_redis(settings)
    amqp = await connect_amqp(settings.amqp_url.get_secret_value())
    try:
        channel = await amqp.channel(publisher_confirms=True)
        declared = await declare_for(amqp, channel, settings)
        repository = ReportRepository(engine)
        yield Resources(
            settings=settings,
            engine=engine,
            repository=repository,
            amqp=amqp,
            dispatcher=CountingDispatcher(
                JobPublisher(declared, settings.publish_timeout_seconds),
                repository,
                metrics if metrics is not None else BffMetrics(),
            ),
            redis=redis,
            cache=StatusCache.from_settings(redis, settings),
            store=ObjectStore(settings),
            verifier=verifier,
        )
    finally:
        await amqp.close()
        await redis.aclose()
        await engine.dispose()


class ResourcesOnDemand:
    """The BFF's resources, opened by the first caller and kept until `aclose`.

    A server opens them when it starts (the app's lifespan). On AWS Lambda there is no
    start-up worth waiting in: the first request of a fresh process opens them, and every
    later invocation that the same warm process serves reuses them.
    """

    def __init__(self, settings: Settings, metrics: BffMetrics | None = None) -> None:
        self._settings = settings
        self._metrics = metrics
        self._stack = contextlib.AsyncExitStack()
        self._lock = asyncio.Lock()
        self._resources: Resources | None = None

    @property
    def opened(self) -> Resources | None:
        """The resources if they have been opened, else None (nothing opens them here)."""
        return self._resources

    async def get(self) -> Resources:
        """The resources, opening them first if this is the first call."""
        if self._resources is None:
            async with self._lock:  # concurrent first requests open them once
                if self._resources is None:
                    self._resources = await self._stack.enter_async_context(
                        open_resources(self._settings, self._metrics)
                    )
        return self._resources

    async def aclose(self) -> None:
        """Close every connection; a later `get` opens new ones."""
        self._resources = None
        stack, self._stack = self._stack, contextlib.AsyncExitStack()
        await stack.aclose()
