"""A TCP proxy on loopback that can cut every connection through it, or leave them open
and silent (half-open, as after a lost route or a dead NAT entry), for fault tests."""

import asyncio
import threading
from contextlib import suppress

from tests.support.services import free_port


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target; `cut()` drops all current connections,
    `stall()` stops forwarding on them without closing them."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.port = free_port()
        self._target = (target_host, target_port)
        self._loop = asyncio.new_event_loop()
        self._writers: set[asyncio.StreamWriter] = set()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._server: asyncio.Server | None = None
        self._refusing = False
        self._stalled: set[asyncio.StreamWriter] = set()
        self._black_hole = False

    def start(self) -> "TcpProxy":
        """Listen in a background thread."""
        self._thread.start()
        self._ready.wait(5)
        return self

    def cut(self) -> int:
        """Close every open connection (both sides); new ones are still accepted."""
        future = asyncio.run_coroutine_threadsafe(self._cut(), self._loop)
        return future.result(5)

    def stall(self, *, new_connections_too: bool = False) -> int:
        """Stop forwarding on every open connection, in both directions, leaving it open:
        neither end hears anything more, nor learns that it never will. New connections
        are forwarded as usual, unless `new_connections_too` (a partition: they are
        accepted, then never hear anything either). Returns how many were stalled."""
        self._black_hole = new_connections_too
        future = asyncio.run_coroutine_threadsafe(self._stall(), self._loop)
        return future.result(5)

    def refuse(self) -> None:
        """Cut everything and refuse new connections too: the service is down."""
        self._refusing = True
        self.cut()

    def accept(self) -> None:
        """Accept (and forward) new connections again: the service is back."""
        self._refusing = False
        self._black_hole = False

    def stop(self) -> None:
        """Cut everything, end every forwarding task and stop listening."""
        asyncio.run_coroutine_threadsafe(self._shut_down(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._accept, "127.0.0.1", self.port)
        )
        self._ready.set()
        self._loop.run_forever()
        self._loop.close()

    async def _cut(self) -> int:
        writers = list(self._writers)
        for writer in writers:
            writer.transport.abort()
        self._writers.clear()
        self._stalled.clear()
        return len(writers)

    async def _shut_down(self) -> None:
        # Ends what `cut` leaves running (a connection being opened upstream, pipes not yet
        # woken), so no task is destroyed pending and no socket is left to the collector.
        self._refusing = True
        await self._cut()
        assert self._server is not None
        self._server.close()
        current = asyncio.current_task()
        tasks = [task for task in asyncio.all_tasks() if task is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _stall(self) -> int:
        self._stalled |= self._writers
        return len(self._writers) // 2

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._refusing:
            writer.transport.abort()
            return
        if self._black_hole:  # accepted, never answered
            self._writers.add(writer)
            with suppress(OSError):
                while await reader.read(65536):
                    pass
            self._writers.discard(writer)
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:  # also when cancelled at shutdown: both sockets are closed here
            for end in (writer, up_writer):
                self._writers.discard(end)
                end.transport.abort()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with suppress(OSError, asyncio.IncompleteReadError):
            while data := await reader.read(65536):
                if writer in self._stalled:
                    continue  # swallowed: the peer never hears of it
                writer.write(data)
                await writer.drain()
        self._writers.discard(writer)
        self._stalled.discard(writer)
        writer.transport.abort()
