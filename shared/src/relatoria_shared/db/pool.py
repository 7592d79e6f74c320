"""The one place that opens PostgreSQL connections for the services: an asyncpg pool.

Statements are plain SQL, prepared once per connection by asyncpg and reused: the hot
paths pay for a round trip and little else. JSONB columns decode to Python values.
TCP keepalives on the server's side of each connection let PostgreSQL notice a vanished
worker (a lost node, a partition) within about half a minute and release what its session
held, its liveness lock included.

Every statement is bounded on both sides by `database_timeout_seconds`: the client gives up
on an answer that does not come (a half-open connection answers nothing, and never fails:
asyncpg then drops that connection, and the next statement gets a fresh one), and the
server ends a statement that runs longer, or a transaction left idle that long, so a
client that vanished mid-transaction holds no row lock beyond it.
"""

import asyncpg

from relatoria_shared import json_codec
from relatoria_shared.settings import Settings

KEEPALIVES = {
    "tcp_keepalives_idle": "10",
    "tcp_keepalives_interval": "5",
    "tcp_keepalives_count": "3",
}


def server_settings(settings: Settings) -> dict[str, str]:
    """The session settings of every services' connection."""
    bound = f"{round(settings.database_timeout_seconds * 1000)}ms"
    return KEEPALIVES | {
        "application_name": "relatoria",
        "statement_timeout": bound,
        "idle_in_transaction_session_timeout": bound,
    }


OUTAGES: tuple[type[Exception], ...] = (
    asyncpg.PostgresConnectionError,  # lost connections
    asyncpg.InterfaceError,  # a connection closed under the pool
    asyncpg.exceptions.OperatorInterventionError,  # shutting down, restarting, cancelled
    asyncpg.exceptions.InsufficientResourcesError,  # out of connections, disk
    OSError,  # refused connections
    TimeoutError,  # a statement or connection past its time limit
)
"""What PostgreSQL being unreachable looks like to a caller: worth retrying later (a 503 to
an HTTP client), unlike an error in the statement itself (see `is_outage`)."""

_CLIENT_MISTAKES = (
    asyncpg.exceptions.ClientConfigurationError,
    asyncpg.exceptions.UnsupportedClientFeatureError,
    asyncpg.exceptions._base.DataError,  # an argument asyncpg cannot encode: a bug of ours
)


def is_outage(exc: BaseException) -> bool:
    """Whether `exc` (one of `OUTAGES`) means PostgreSQL is unreachable, rather than a
    mistake in what was sent (some of asyncpg's `InterfaceError`s)."""
    return isinstance(exc, OUTAGES) and not isinstance(exc, _CLIENT_MISTAKES)


def asyncpg_dsn(database_url: str) -> str:
    """The settings' SQLAlchemy-style URL (`postgresql+asyncpg://…`) as asyncpg takes it."""
    return database_url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _prepare(connection: asyncpg.Connection) -> None:
    await connection.set_type_codec(
        "jsonb", encoder=json_codec.dumps, decoder=json_codec.loads, schema="pg_catalog"
    )


async def _keep_session(connection: asyncpg.Connection) -> None:
    """Return a connection to the pool as it is. asyncpg still rolls back a transaction left
    open; its default reset statement (unlock advisory locks, close cursors, UNLISTEN, RESET
    ALL) would cost a round trip per query to undo what pool sessions never do: session
    state lives only on `connect_one` connections."""


async def connect_one(settings: Settings) -> asyncpg.Connection:
    """One connection outside the pool (for a session that must stay on its own, such as a
    worker's liveness lock)."""
    connection: asyncpg.Connection = await asyncpg.connect(
        asyncpg_dsn(settings.database_url.get_secret_value()),
        command_timeout=settings.database_timeout_seconds,
        timeout=settings.database_timeout_seconds,
        server_settings=server_settings(settings),
    )
    await _prepare(connection)
    return connection


async def open_pool(settings: Settings) -> asyncpg.Pool:
    """The services' connection pool."""
    pool: asyncpg.Pool = await asyncpg.create_pool(
        asyncpg_dsn(settings.database_url.get_secret_value()),
        min_size=0,  # connect on demand: a process may start while PostgreSQL is down
        max_size=settings.database_pool_size * 2,
        command_timeout=settings.database_timeout_seconds,
        timeout=settings.database_timeout_seconds,
        max_inactive_connection_lifetime=300,
        server_settings=server_settings(settings),
        init=_prepare,
        reset=_keep_session,
    )
    return pool
