"""The BFF's composition root: the shared connections, and the services the routes call."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from relatoria_bff.auth import TokenVerifier
from relatoria_bff.metrics import BffMetrics
from relatoria_bff.reports.queue_estimates import QueueEstimates
from relatoria_bff.status_watch import StatusWatch
from relatoria_shared.cache.status_cache import StatusCache
from relatoria_shared.connections import Connections, open_connections
from relatoria_shared.db.requests import PgRequestRepository, RequestRepository
from relatoria_shared.db.webhook_endpoints import PgWebhookRegistry, WebhookRegistry
from relatoria_shared.domain.webhook_urls import AllowList
from relatoria_shared.settings import Settings
from relatoria_shared.storage.object_store import ObjectStore
from relatoria_shared.transitions.requests import RequestTransitions


@dataclass(frozen=True)
class Resources:
    """Everything the routes need, built once per process."""

    settings: Settings
    connections: Connections
    requests: RequestRepository
    transitions: RequestTransitions
    verifier: TokenVerifier
    watch: StatusWatch
    estimates: QueueEstimates
    webhooks: WebhookRegistry
    webhook_hosts: AllowList

    @property
    def cache(self) -> StatusCache:
        """The Redis status cache."""
        return self.connections.cache

    @property
    def store(self) -> ObjectStore:
        """The S3 object store."""
        return self.connections.store


@contextlib.asynccontextmanager
async def open_resources(settings: Settings, metrics: BffMetrics) -> AsyncIterator[Resources]:
    """Open every connection the BFF uses, and close them all on exit; `metrics` counts
    what the BFF's transitions do; the status feed is followed meanwhile (`watch`).
    RabbitMQ is not one of them: accepting and cancelling
    send no message (a new request's wake-up is its recording statement's notification),
    so the BFF starts, and stays ready, while the broker is down."""
    verifier = TokenVerifier(settings)
    async with open_connections(settings, broker=False) as connections:
        requests = PgRequestRepository(connections.pool)
        watch = StatusWatch.from_settings(settings, connections.cache.feed_channel)
        watch.start()
        metrics.observe(watch)
        try:
            yield Resources(
                settings=settings,
                connections=connections,
                requests=requests,
                transitions=RequestTransitions(
                    requests, connections.announcer(metrics), settings.owner_limits
                ),
                verifier=verifier,
                watch=watch,
                estimates=QueueEstimates(requests, connections.cache),
                webhooks=PgWebhookRegistry(connections.pool),
                webhook_hosts=AllowList.parse(settings.webhook_allowed_hosts),
            )
        finally:
            await watch.aclose()


class ResourcesOnDemand:
    """The BFF's resources, opened by the first caller and kept until `aclose`.

    A server opens them when it starts (the app's lifespan). On AWS Lambda there is no
    start-up worth waiting in: the first request of a fresh process opens them, and every
    later invocation that the same warm process serves reuses them.
    """

    def __init__(self, settings: Settings, metrics: BffMetrics) -> None:
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
