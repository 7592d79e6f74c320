"""A worker's presence, as PostgreSQL sees it: a session-level advisory lock.

Each worker process holds, on a connection of its own, the advisory lock keyed by its
worker id for as long as it lives. When the process dies (a crash, SIGKILL, the OOM
killer), the kernel closes its socket, PostgreSQL ends the session and the lock is gone at
once: the sweeper of any other worker then takes its jobs back within a sweep, without
waiting for their leases. A vanished node or a partition is noticed by the server's TCP
keepalives (`db.pool.KEEPALIVES`), and in any case by the lease.

A worker claims only while it holds its lock (`WorkerPresence.held`): a claim made without
it would be taken back at the next sweep. The lock must be a real session: not through a
transaction-pooling proxy (PgBouncer in transaction mode), which would drop it.

The same session listens for new requests' wake-ups (`db.wake_channel`): the worker needs
no connection more for them, and it hears them exactly while it may claim.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

import asyncpg

from relatoria_shared.db.pool import connect_one
from relatoria_shared.db.wake_channel import WAKE_CHANNEL
from relatoria_shared.settings import Settings

log = logging.getLogger(__name__)

LOCK_NAMESPACE = 1919249505
"""The first key of every worker's lock ("rela"); the second is `hashtext(worker_id)`."""
_LOCK = f"SELECT pg_advisory_lock({LOCK_NAMESPACE}, hashtext($1))"
RETRY_SECONDS = 1.0

OnWake = Callable[[str | None], None]
"""Called with a lane's name when a request of that lane is recorded, and with None when
listening (re)starts: whatever was recorded meanwhile went unheard."""


class WorkerPresence:
    """Holds the worker's lock, taking it again after a lost connection, and passes the
    wake-ups its session hears to `on_wake`."""

    def __init__(self, settings: Settings, on_wake: OnWake) -> None:
        self._settings = settings
        self._on_wake = on_wake
        self.held = asyncio.Event()
        """Set while the lock is held."""

    async def hold(self) -> None:
        """Take the lock and keep it until cancelled."""
        while True:
            try:
                connection = await connect_one(self._settings)
                try:
                    await connection.fetchval(_LOCK, self._settings.worker_id)
                    await connection.add_listener(WAKE_CHANNEL, self._heard)
                    self.held.set()
                    self._on_wake(None)
                    await self._while_connected(connection)
                finally:
                    self.held.clear()
                    await _close(connection)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("worker presence lost; taking it again", extra={"error": str(exc)})
            await asyncio.sleep(RETRY_SECONDS)

    def _heard(self, _: object, __: int, ___: str, lane: str) -> None:
        self._on_wake(lane)

    async def _while_connected(self, connection: asyncpg.Connection) -> None:
        # The session is the lock: wait until it ends (checked every heartbeat).
        closed = asyncio.Event()
        connection.add_termination_listener(lambda _: closed.set())
        while not closed.is_set() and not connection.is_closed():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(closed.wait(), self._settings.heartbeat_seconds)
            if not connection.is_closed():
                await connection.fetchval("SELECT 1")


@contextlib.asynccontextmanager
async def worker_presence(settings: Settings, on_wake: OnWake) -> AsyncIterator[WorkerPresence]:
    """Take the worker's lock in the background (waiting for PostgreSQL if need be) and
    keep it, taking it again after a lost connection, until the block exits; meanwhile,
    pass wake-ups to `on_wake`. The block starts at once (a worker stopped while
    PostgreSQL is down need not wait for it); whatever needs the lock waits for `held`."""
    presence = WorkerPresence(settings, on_wake)
    task = asyncio.create_task(presence.hold(), name="worker-presence")
    try:
        yield presence
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _close(connection: asyncpg.Connection) -> None:
    with contextlib.suppress(Exception):
        await connection.close(timeout=1)
