"""Waiting for reports to change without a loop per waiter: one subscription to the status
feed (`StatusCache.announce` publishes each state change there) per BFF process, fanned
out to the requests that wait (long polls, event streams).

While the feed is unreachable, `healthy` is False: waiters then re-read the status every
`FALLBACK_SECONDS` instead. When the feed goes down or comes back, every listener is
`interrupted` and woken, because changes may have passed unseen meanwhile: it re-reads.
"""

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Iterator

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from relatoria_shared.cache.status_cache import FeedMessage, create_redis
from relatoria_shared.domain.status_document import StatusDocument
from relatoria_shared.exception_text import described
from relatoria_shared.settings import Settings

log = logging.getLogger(__name__)

FALLBACK_SECONDS = 2.0
"""How often a waiter re-reads the status while the feed is down."""
QUIET_SECONDS = 30.0
"""How long a waiter waits on the feed before it re-reads anyway: a change whose publish
was lost (its worker's Redis write failed) is seen within this."""
PING_SECONDS = 5.0
SILENT_SECONDS = 3 * PING_SECONDS
"""A subscription that answered no ping for this long is taken for dead (a partition
leaves a connection open and silent)."""
RECONNECT_SECONDS = (0.5, 5.0)  # first and longest pause between attempts


class Listener:
    """What one waiter has been told since it last looked: the newest document of each
    report (a slow reader skips intermediate progress, never the latest state), and
    whether the feed was interrupted meanwhile."""

    def __init__(self) -> None:
        self._pending: dict[uuid.UUID, StatusDocument] = {}
        self._changed = asyncio.Event()
        self._interrupted = False

    def offer(self, document: StatusDocument) -> None:
        """Keep `document` unless a newer one of the same report is pending."""
        known = self._pending.get(document.request_id)
        if known is None or document.version > known.version:
            self._pending[document.request_id] = document
            self._changed.set()

    def interrupt(self) -> None:
        """Note that changes may have been missed: the waiter must re-read."""
        self._interrupted = True
        self._changed.set()

    async def changes(self, seconds: float) -> list[StatusDocument]:
        """What arrived, once something did or `seconds` passed (then, possibly nothing);
        the listener forgets it."""
        if not self._pending and not self._interrupted:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(seconds):
                    await self._changed.wait()
        self._changed.clear()
        arrived = list(self._pending.values())
        self._pending.clear()
        return arrived

    def take_interrupted(self) -> bool:
        """Whether the feed was interrupted since the last call."""
        interrupted, self._interrupted = self._interrupted, False
        return interrupted


class StatusWatch:
    """The process's subscription to the status feed and the listeners it serves."""

    def __init__(self, connect: Callable[[], Redis], channel: str) -> None:
        """`connect` makes a Redis client for the subscription (a fresh one after each
        loss); `channel` is the feed's."""
        self._connect = connect
        self._channel = channel
        self._by_report: dict[str, set[Listener]] = {}
        self._by_owner: dict[str, set[Listener]] = {}
        self._task: asyncio.Task[None] | None = None
        self.healthy = False

    @classmethod
    def from_settings(cls, settings: Settings, channel: str) -> "StatusWatch":
        """A watch on `channel` of the configured Redis."""
        return cls(lambda: create_redis(settings, subscriber=True), channel)

    def start(self) -> None:
        """Follow the feed in the background, until `aclose`."""
        if self._task is None:
            self._task = asyncio.create_task(self._follow(), name="status-feed")

    async def aclose(self) -> None:
        """Stop following the feed; the listeners left are interrupted."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def listeners(self) -> int:
        """How many listeners are registered (each waiter has one)."""
        return sum(len(s) for s in self._by_report.values()) + sum(
            len(s) for s in self._by_owner.values()
        )

    async def changes_for(
        self, listener: Listener, seconds: float = QUIET_SECONDS
    ) -> tuple[list[StatusDocument], bool]:
        """What `listener` is told within `seconds` (`FALLBACK_SECONDS` at most while the
        feed is down), and whether its waiter must re-read the status: the feed was
        interrupted, is down, or said nothing meanwhile."""
        arrived = await listener.changes(
            seconds if self.healthy else min(seconds, FALLBACK_SECONDS)
        )
        stale = listener.take_interrupted() or not self.healthy or not arrived
        return arrived, stale

    @contextlib.contextmanager
    def watching_report(self, report_id: uuid.UUID) -> Iterator[Listener]:
        """A listener told of each change of `report_id`, for the block."""
        with _registered(self._by_report, str(report_id)) as listener:
            yield listener

    @contextlib.contextmanager
    def watching_owner(self, owner_id: str) -> Iterator[Listener]:
        """A listener told of each change of any of `owner_id`'s reports, for the block."""
        with _registered(self._by_owner, owner_id) as listener:
            yield listener

    async def _follow(self) -> None:
        pause = RECONNECT_SECONDS[0]
        while True:
            client = self._connect()
            pubsub = client.pubsub()
            try:
                await pubsub.subscribe(self._channel)
                await self._read(pubsub)
            except Exception as exc:  # whatever it was, follow again after a pause
                if self.healthy or pause == RECONNECT_SECONDS[0]:
                    log.warning(
                        "status feed unreachable; waiters re-read every %gs",
                        FALLBACK_SECONDS,
                        extra={"error": described(exc)[:300]},
                    )
            finally:
                if self.healthy:
                    pause = RECONNECT_SECONDS[0]  # it worked for a while: retry soon
                self._set_healthy(False)
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py's
                with contextlib.suppress(RedisError, OSError):
                    await client.aclose()
            await asyncio.sleep(pause)
            pause = min(pause * 2, RECONNECT_SECONDS[1])

    async def _read(self, pubsub: PubSub) -> None:
        loop = asyncio.get_running_loop()
        heard = pinged = loop.time()
        while True:
            message = await pubsub.get_message(timeout=1.0)
            now = loop.time()
            if message is not None:
                heard = now
                kind = message["type"]
                if kind == "message":
                    self._dispatch(message["data"])
                elif kind == "subscribe":
                    self._set_healthy(True)
            if now - pinged >= PING_SECONDS:
                await pubsub.ping()
                pinged = now
            if now - heard > SILENT_SECONDS:
                raise ConnectionError(f"no answer from the status feed in {SILENT_SECONDS:g}s")

    def _dispatch(self, data: bytes) -> None:
        if not self._by_report and not self._by_owner:
            return  # nobody waits: the message is not even parsed
        try:
            self._hand_out(data)
        except Exception:  # one odd message must not stop the feed for everyone
            log.exception("status feed message not handed out")

    def _hand_out(self, data: bytes) -> None:
        message = FeedMessage.parse(data)
        if message is None:
            return
        listeners = self._by_report.get(message.request_id, set()) | self._by_owner.get(
            message.owner_id, set()
        )
        document = message.document() if listeners else None
        if document is None:
            return
        for listener in listeners:
            listener.offer(document)

    def _set_healthy(self, healthy: bool) -> None:
        if healthy != self.healthy:
            self.healthy = healthy
            if healthy:
                log.info("status feed followed")
            for group in (*self._by_report.values(), *self._by_owner.values()):
                for listener in group:
                    listener.interrupt()


@contextlib.contextmanager
def _registered(groups: dict[str, set[Listener]], name: str) -> Iterator[Listener]:
    listener = Listener()
    groups.setdefault(name, set()).add(listener)
    try:
        yield listener
    finally:
        group = groups[name]
        group.discard(listener)
        if not group:
            del groups[name]
