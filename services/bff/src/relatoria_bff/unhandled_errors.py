"""The outermost middleware: an error no handler took is answered `500 INTERNAL_ERROR` here,
and goes no further.

Starlette's own last-resort handler answers the 500 and then re-raises the error to the
server, and uvicorn closes the connection of a request whose application raised, without
saying so in the response: a client's next request on that keep-alive connection was
reset. Caught here, the 500 is an ordinary response and the connection stays usable.
An error after the response has started cannot be answered any more: it goes on to the
server, which logs it and closes the connection (the client sees a truncated response).
A client that went away mid-body is no error: nothing is answered or logged as one.
"""

import logging

from starlette.requests import ClientDisconnect
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from relatoria_bff.errors import error_body

log = logging.getLogger(__name__)


class UnhandledErrors:
    """Answer what escaped every handler as a 500, keeping the connection open."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app; answer a 500 if it raised before its response started."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def noting_start(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, noting_start)
        except ClientDisconnect:
            # The client went away while its body was read: no one to answer, nothing
            # wrong here (the protocol logs the cut request).
            return
        except Exception:
            if started:
                raise  # the server logs it and closes the connection
            log.exception("unhandled error", extra={"path": scope.get("path")})
            response = JSONResponse(error_body("INTERNAL_ERROR", "an internal error occurred"), 500)
            await response(scope, receive, send)
