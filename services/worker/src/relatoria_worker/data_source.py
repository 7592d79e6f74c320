"""The reporting database: a report type's query, run read-only and streamed in batches.

Rows are fetched on the event loop through a server-side cursor, one batch ahead of the
render thread that consumes them, so the database works while the renderer draws and the
report never sits in memory whole. Every failure leaves here as a `ReportError`:
the statement timeout as `TIMEOUT`, anything else as `DATA_SOURCE_ERROR` (retryable).
"""

import asyncio
import concurrent.futures
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg

from relatoria_shared.domain.errors import DataSourceError, DataSourceTimeout
from relatoria_shared.exception_text import described
from relatoria_shared.report_types.base import ReportQuery

log = logging.getLogger(__name__)
T = TypeVar("T")

CONNECT_TIMEOUT_SECONDS = 10.0
STOP_CHECK_SECONDS = 0.5
"""How often a render thread waiting for a batch checks whether its job was stopped."""


@dataclass(frozen=True)
class QueryStream:
    """An open query: its rows (to be read once, in another thread) and the planner's
    estimate of how many there are."""

    rows: Iterator[Any]
    estimated_rows: int | None


class ReportingDatabase:
    """Runs report queries against the reporting database, read-only."""

    def __init__(self, dsn: str | None, *, statement_timeout_seconds: float, fetch_rows: int):
        self._dsn = dsn
        self._timeout = statement_timeout_seconds
        self._fetch_rows = fetch_rows

    @contextlib.asynccontextmanager
    async def stream(
        self, query: ReportQuery, check_stop: Callable[[], None]
    ) -> AsyncIterator[QueryStream]:
        """Open `query` in a read-only transaction and stream its rows; everything is
        closed on the way out, whatever the render thread did with the rows.

        `check_stop` is called in the render thread while it waits for a batch, and
        raises to stop waiting (a cancel, the time limit, shutdown): a slow query then
        does not hold the job up until the statement timeout.
        """
        if not self._dsn:
            raise DataSourceError("no reporting database is configured for this report type")
        connection = await self._open()
        try:
            # Repeatable read: every batch comes from one snapshot of the data.
            transaction = connection.transaction(readonly=True, isolation="repeatable_read")
            await self._translate(transaction.start())
            estimate = await self._estimate(connection, query)
            cursor = await self._translate(connection.cursor(query.sql, *query.arguments))
            batch_timeout = self._timeout + 5  # the server's own timeout should fire first

            async def fetch() -> list[Any]:
                batch: list[Any] = await self._translate(
                    cursor.fetch(self._fetch_rows, timeout=batch_timeout)
                )
                return batch

            feed = _ThreadFeed(asyncio.get_running_loop(), fetch, check_stop)
            try:
                yield QueryStream(rows=feed.rows(), estimated_rows=estimate)
            finally:
                # The render may have stopped early with a fetch still running; the
                # connection takes one operation at a time.
                await feed.settle()
        finally:
            await _close(connection)  # ends the read-only transaction with it

    async def _open(self) -> asyncpg.Connection:
        """Connect; any failure to (a refusal, no answer, a bad login) is retryable."""
        try:
            return await self._connect()
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise _unreachable(exc) from None

    async def _connect(self) -> asyncpg.Connection:
        timeout_ms = round(self._timeout * 1000)
        return await asyncpg.connect(
            self._dsn,
            timeout=CONNECT_TIMEOUT_SECONDS,
            server_settings={
                "application_name": "relatoria-worker",
                "statement_timeout": str(timeout_ms),
                "default_transaction_read_only": "on",
                # A worker that dies mid-report must not leave a transaction open.
                "idle_in_transaction_session_timeout": str(timeout_ms + 60_000),
            },
        )

    async def _translate(self, operation: Awaitable[T]) -> T:
        try:
            return await operation
        except asyncpg.QueryCanceledError:
            raise DataSourceTimeout(
                f"the report's query ran longer than the {self._timeout:g}-second limit"
            ) from None
        except TimeoutError:
            raise DataSourceTimeout(
                f"the reporting database did not answer within {self._timeout:g} seconds"
            ) from None
        except asyncpg.PostgresError as exc:
            # PostgreSQL's message may quote the data: withheld.
            log.warning("reporting query failed", extra={"error": described(exc)})
            raise DataSourceError(
                f"the reporting database refused the query ({type(exc).__name__})"
            ) from None
        except (OSError, asyncpg.InterfaceError) as exc:
            raise _unreachable(exc) from None

    async def _estimate(self, connection: asyncpg.Connection, query: ReportQuery) -> int | None:
        """The planner's estimate of the query's row count; None if it cannot tell."""
        explain = f"EXPLAIN (FORMAT JSON) {query.sql}"
        try:
            # In a savepoint: a refused EXPLAIN must not abort the report's transaction.
            async with connection.transaction():
                plan = await connection.fetchval(explain, *query.arguments)
            rows = json.loads(plan)[0]["Plan"]["Plan Rows"]
        except (asyncpg.PostgresError, ValueError, KeyError, IndexError, TypeError):
            return None
        except (OSError, asyncpg.InterfaceError) as exc:
            raise _unreachable(exc) from None
        return int(rows)


def _unreachable(exc: Exception) -> DataSourceError:
    # The detail names hosts and ports: for the logs, not for users.
    log.warning("reporting database unreachable", extra={"error": str(exc)})
    return DataSourceError("the reporting database could not be reached")


async def _close(connection: asyncpg.Connection) -> None:
    try:
        await asyncio.wait_for(connection.close(), timeout=5)
    except Exception:
        connection.terminate()


class _ThreadFeed:
    """A row iterator for another thread, fed by batches fetched on the event loop, one
    batch ahead: the next fetch runs while the consumer works on the current batch."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        fetch: Callable[[], Coroutine[Any, Any, list[Any]]],
        check_stop: Callable[[], None],
    ) -> None:
        self._loop = loop
        self._fetch = fetch
        self._check_stop = check_stop
        self._pending: concurrent.futures.Future[list[Any]] | None = None

    def _request(self) -> concurrent.futures.Future[list[Any]]:
        self._pending = asyncio.run_coroutine_threadsafe(self._fetch(), self._loop)
        return self._pending

    def rows(self) -> Iterator[Any]:
        """Every row, in order (runs in the consumer's thread, never on the loop)."""
        pending = self._request()
        while True:
            batch = self._wait(pending)
            if not batch:
                return
            pending = self._request()
            yield from batch

    def _wait(self, pending: concurrent.futures.Future[list[Any]]) -> list[Any]:
        while True:
            try:
                return pending.result(timeout=STOP_CHECK_SECONDS)
            except concurrent.futures.TimeoutError:
                self._check_stop()

    async def settle(self) -> None:
        """End a fetch still in flight (the consumer may have stopped early), so the
        connection, which takes one operation at a time, can be closed."""
        pending, self._pending = self._pending, None
        if pending is None or pending.done():
            return
        pending.cancel()  # asyncpg asks the server to cancel the running FETCH
        await asyncio.wait([asyncio.wrap_future(pending)], timeout=CONNECT_TIMEOUT_SECONDS)
