"""uvicorn's HTTP protocol, saying when a connection ends other than by the client's choice.

uvicorn closes a keep-alive connection that stayed idle for its keep-alive timeout without
a word; a client that sends its next request on it at that moment sees the connection
reset, and the server's logs say nothing. The BFF's keep-alive timeout
(`bff_keep_alive_seconds`, 75 s) is longer than the idle timeouts of common clients and
proxies (httpx 5 s, browsers, an ALB's 60 s), so they close first; the closes that still
happen are logged here, and so is a client that went away mid-request.
"""

import logging

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger(__name__)


class LoggedHttpProtocol(HttpToolsProtocol):
    """`HttpToolsProtocol` that logs the server's keep-alive closes and cut requests."""

    def timeout_keep_alive_handler(self) -> None:
        """Close an idle keep-alive connection, saying so."""
        if not self.transport.is_closing():
            log.info(
                "idle keep-alive connection closed by the server",
                extra={"client": _address(self.client), "idle_s": self.timeout_keep_alive},
            )
        super().timeout_keep_alive_handler()

    def connection_lost(self, exc: Exception | None) -> None:
        """The connection ended; if a request was under way, say so."""
        if self.cycle is not None and not self.cycle.response_complete:
            log.warning(
                "connection lost before the response was complete",
                extra={
                    "client": _address(self.client),
                    "path": self.cycle.scope.get("path"),
                    "error": type(exc).__name__ if exc else None,
                },
            )
        super().connection_lost(exc)


def _address(client: tuple[str, int] | None) -> str | None:
    return f"{client[0]}:{client[1]}" if client else None
