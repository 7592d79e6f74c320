"""The status feed on the real Redis: each announced document published once, as cached;
a watch fanning it out to the listeners of its report and of its owner; a watch whose
Redis goes away saying so, and its listeners told to re-read when it is back."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from urllib.parse import urlparse

import pytest
from pydantic import SecretStr
from redis.asyncio import Redis

from relatoria_bff.status_watch import Listener, StatusWatch
from relatoria_shared.cache.status_cache import FeedMessage, StatusCache, create_redis
from relatoria_shared.domain.formats import ReportFormat
from relatoria_shared.domain.lanes import Lane
from relatoria_shared.domain.report import ReportRecord
from relatoria_shared.domain.status import ReportStatus
from relatoria_shared.domain.status_document import StatusDocument, status_document
from relatoria_shared.settings import Settings
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.integration


@pytest.fixture
async def cache(settings: Settings) -> AsyncIterator[StatusCache]:
    """A cache (and feed) of the test's own key prefix."""
    redis = create_redis(settings)
    yield StatusCache(redis, f"{settings.redis_prefix}feed-{uuid.uuid4().hex[:6]}:", 60, 5)
    await redis.aclose()


def document(report_id: uuid.UUID, version: int, status: str, owner: str) -> StatusDocument:
    now = datetime.now(UTC)
    return status_document(
        ReportRecord(
            id=report_id,
            owner_id=owner,
            report_type="table",
            lane=Lane.INTERACTIVE,
            format=ReportFormat.CSV,
            title="Relatório\nde teste",
            parameter_summary={"rowCount": 1},
            status=ReportStatus(status),
            attempts=1,
            max_attempts=3,
            version=version,
            created_at=now,
            updated_at=now,
        )
    )


async def test_an_announced_document_is_published_once_and_a_refill_is_not(
    cache: StatusCache, settings: Settings
) -> None:
    redis = Redis.from_url(settings.redis_url.get_secret_value())
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(cache.feed_channel)
    await pubsub.get_message(timeout=1)
    rid = uuid.uuid4()
    owner = "owner with\nodd characters"

    assert await cache.put(document(rid, 1, "queued", owner))  # a read's refill
    announced = document(rid, 2, "processing", owner)
    assert await cache.announce(announced)
    assert not await cache.announce(announced)  # published already: not again

    messages = []
    while (message := await pubsub.get_message(timeout=0.5)) is not None:
        messages.append(message["data"])
    await pubsub.aclose()  # type: ignore[no-untyped-call]
    await redis.aclose()
    assert len(messages) == 1
    parsed = FeedMessage.parse(messages[0])
    assert parsed is not None
    assert (parsed.request_id, parsed.owner_id, parsed.version) == (str(rid), owner, 2)
    published = parsed.document()
    assert published is not None
    assert published == announced
    assert await cache.get(rid) == published


async def test_a_state_change_a_read_cached_first_is_still_published(
    cache: StatusCache, settings: Settings
) -> None:
    # A read between the worker's commit and its announce refills the cache with the new
    # version: the announce must publish it all the same, once.
    redis = Redis.from_url(settings.redis_url.get_secret_value())
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(cache.feed_channel)
    await pubsub.get_message(timeout=1)
    rid = uuid.uuid4()
    done = document(rid, 3, "done", "ana")
    assert await cache.put(done)
    assert not await cache.announce(done)  # nothing newer to write...
    assert not await cache.announce(done)
    assert not await cache.announce(document(rid, 2, "processing", "ana"))  # late, older
    messages = []
    while (message := await pubsub.get_message(timeout=0.5)) is not None:
        messages.append(FeedMessage.parse(message["data"]))
    await pubsub.aclose()  # type: ignore[no-untyped-call]
    await redis.aclose()
    assert [(m.request_id, m.version) for m in messages if m] == [(str(rid), 3)]  # ...but said


async def latest_version(listener: Listener) -> int:
    """The newest version `listener` is told of, once it is version 3 (or 5 s passed)."""
    newest = 0
    deadline = asyncio.get_running_loop().time() + 5
    while newest < 3 and asyncio.get_running_loop().time() < deadline:
        newest = max([newest, *(d.version for d in await listener.changes(1))])
    return newest


async def until(condition: Callable[[], bool], seconds: float = 5) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.02)


async def test_a_watch_tells_the_listeners_of_the_report_and_of_its_owner(
    cache: StatusCache, settings: Settings
) -> None:
    watch = StatusWatch.from_settings(settings, cache.feed_channel)
    watch.start()
    mine, other = uuid.uuid4(), uuid.uuid4()
    try:
        await until(lambda: watch.healthy)
        with (
            watch.watching_report(mine) as report_listener,
            watch.watching_owner("ana") as owner_listener,
        ):
            await cache.announce(document(mine, 2, "processing", "ana"))
            await cache.announce(document(mine, 3, "processing", "ana"))  # progress
            await cache.announce(document(other, 2, "done", "bruno"))
            assert await latest_version(report_listener) == 3
            assert await latest_version(owner_listener) == 3
            # Bruno's report reached neither.
            assert await owner_listener.changes(0.3) == []
        assert watch.listeners == 0
    finally:
        await watch.aclose()


async def test_a_watch_losing_redis_says_so_and_its_listeners_re_read_when_back(
    cache: StatusCache, settings: Settings
) -> None:
    redis = urlparse(settings.redis_url.get_secret_value())
    proxy = TcpProxy(redis.hostname or "127.0.0.1", redis.port or 6379).start()
    proxied = settings.model_copy(
        update={"redis_url": SecretStr(f"redis://127.0.0.1:{proxy.port}/0")}
    )
    watch = StatusWatch.from_settings(proxied, cache.feed_channel)
    watch.start()
    try:
        await until(lambda: watch.healthy)
        with watch.watching_report(uuid.uuid4()) as listener:
            proxy.refuse()
            await until(lambda: not watch.healthy)
            assert await listener.changes(1) == []
            assert listener.take_interrupted()

            proxy.accept()
            await until(lambda: watch.healthy, seconds=10)
            assert await listener.changes(1) == []
            assert listener.take_interrupted()  # what passed meanwhile must be re-read
    finally:
        await watch.aclose()
        proxy.stop()
