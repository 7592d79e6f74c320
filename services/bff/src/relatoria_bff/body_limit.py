"""An ASGI middleware that caps request bodies, counting bytes as the application reads
them, never reading ahead of it.

A declared Content-Length over the cap is refused at once. Otherwise the body is passed
through as the application asks for it, counted chunk by chunk, and refused as soon as it
passes the cap (a chunked body declares no length). Nothing is buffered here: a route
that answers before reading (a `401` to a caller without a valid token) never has the
body read at all.
"""

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from relatoria_bff.errors import error_body

_METHODS_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


class _BodyTooLargeError(Exception):
    """Raised into the application by `receive` once the body passed the cap."""


class BodySizeLimit:
    """Refuse bodies over `max_bytes` with `413 PAYLOAD_TOO_LARGE`."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the body through as it is read, counting it against the cap."""
        if scope["type"] != "http" or scope["method"] not in _METHODS_WITH_BODY:
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(scope, receive, send)
            return
        size = 0
        started = False

        async def counted() -> Message:
            nonlocal size
            message = await receive()
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > self.max_bytes:
                    raise _BodyTooLargeError
            return message

        async def noting_start(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, noting_start)
        except _BodyTooLargeError:
            if started:
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = f"the request body exceeds {self.max_bytes} bytes"
        refusal = JSONResponse(
            error_body("PAYLOAD_TOO_LARGE", message), 413, headers={"Connection": "close"}
        )
        await refusal(scope, receive, send)
