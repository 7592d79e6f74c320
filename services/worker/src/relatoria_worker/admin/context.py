"""What an admin command works with: the shared connections and the transition service."""

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aio_pika
from aio_pika.abc import AbstractRobustConnection

from relatoria_shared.connections import Connections, open_connections
from relatoria_shared.db.maintenance import PgMaintenanceRepository
from relatoria_shared.settings import Settings
from relatoria_shared.transitions.maintenance import MaintenanceTransitions
from relatoria_worker.metrics import WorkerMetrics
from relatoria_worker.sweeper import Sweeper


@dataclass(frozen=True)
class Admin:
    """Connections and services of one admin command."""

    settings: Settings
    connections: Connections
    repository: PgMaintenanceRepository
    transitions: MaintenanceTransitions
    metrics: WorkerMetrics
    """Counted like a worker's, not served: a command is over before any scrape."""
    looking: AbstractRobustConnection | None = None
    """A broker connection that only looks (no topology declared)."""

    @property
    def amqp(self) -> AbstractRobustConnection:
        """The broker connection (commands that need one open it)."""
        if self.connections.broker is not None:
            return self.connections.broker.connection
        if self.looking is None:
            raise RuntimeError("this command was started without a broker connection")
        return self.looking

    def sweeper(self, settings: Settings | None = None) -> Sweeper:
        """The sweeper, as the workers run it."""
        return Sweeper(
            settings=settings or self.settings, transitions=self.transitions, metrics=self.metrics
        )


@contextlib.asynccontextmanager
async def connect(settings: Settings, *, broker: bool, declare: bool) -> AsyncIterator[Admin]:
    """Open what the commands need; close it all afterwards. `broker`: connect to
    RabbitMQ; `declare`: declare its topology (idempotently) and publish on it, else only
    look."""
    async with (
        open_connections(settings, broker=broker and declare) as connections,
        _looking(settings, broker and not declare) as looking,
    ):
        metrics = WorkerMetrics()
        repository = PgMaintenanceRepository(connections.pool)
        yield Admin(
            settings=settings,
            connections=connections,
            repository=repository,
            transitions=MaintenanceTransitions(
                repository, connections.announcer(metrics), settings.retry_policy, settings.lease
            ),
            metrics=metrics,
            looking=looking,
        )


@contextlib.asynccontextmanager
async def _looking(
    settings: Settings, wanted: bool
) -> AsyncIterator[AbstractRobustConnection | None]:
    if not wanted:
        yield None
        return
    connection = await aio_pika.connect_robust(settings.amqp_url.get_secret_value())
    try:
        yield connection
    finally:
        await connection.close()
