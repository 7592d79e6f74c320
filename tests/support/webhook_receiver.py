"""A real HTTP receiver for webhook tests: it records every request it gets (headers and
body bytes, per path) and answers each path with scripted statuses."""

import asyncio
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook


@dataclass(frozen=True)
class Received:
    """One request as the receiver got it."""

    headers: dict[str, str]
    body: bytes

    @property
    def webhook_id(self) -> str:
        """The `webhook-id` header."""
        return self.headers["webhook-id"]

    def verified(self, secret: str) -> Any:
        """The payload, once its signature verifies with `secret` (else it raises)."""
        return Webhook(secret).verify(self.body, self.headers)


class WebhookReceiver:
    """Listens on 127.0.0.1; `answer(path, ...)` scripts a path's statuses (after the
    script, 200), `redirect(path, to)` makes it answer 302."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._received: dict[str, list[Received]] = defaultdict(list)
        self._scripts: dict[str, list[int]] = {}
        self._redirects: dict[str, str] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                status, location = receiver._record(
                    self.path, {k.lower(): v for k, v in self.headers.items()}, body
                )
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str, host: str = "127.0.0.1", scheme: str = "http") -> str:
        """The URL of `path` on this receiver."""
        return f"{scheme}://{host}:{self.port}{path}"

    def answer(self, path: str, *statuses: int) -> None:
        """Answer `path` with these statuses in turn, then 200."""
        with self._lock:
            self._scripts[path] = list(statuses)

    def redirect(self, path: str, to: str) -> None:
        """Answer `path` with a 302 to `to`."""
        with self._lock:
            self._redirects[path] = to

    def received(self, path: str) -> list[Received]:
        """What `path` got so far."""
        with self._lock:
            return list(self._received[path])

    async def wait_for(self, path: str, count: int = 1, seconds: float = 20) -> list[Received]:
        """Until `path` got `count` requests; those requests."""
        deadline = time.monotonic() + seconds
        while len(got := self.received(path)) < count:
            assert time.monotonic() < deadline, f"{path} got {len(got)} of {count} requests"
            await asyncio.sleep(0.05)
        return got

    def close(self) -> None:
        """Stop listening."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def _record(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, str | None]:
        with self._lock:
            self._received[path].append(Received(headers, body))
            if path in self._redirects:
                return 302, self._redirects[path]
            script = self._scripts.get(path) or []
            return (script.pop(0) if script else 200), None
