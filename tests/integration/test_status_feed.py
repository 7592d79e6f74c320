"""The status feed on the real Redis: each announced document published once, as cached;
a watch fanning it out to the listeners of its report and of its owner; a watch whose
Redis goes away saying so, and its listeners told to re-read when it is back."""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlparse

import pytest
from pydantic import SecretStr
from redis.asyncio import Redis

from relatoria_bff.status_watch import Listener, StatusWatch
from relatoria_shared.cache.status_cache import FeedMessage, StatusCache, create_redis
from relatoria_shared.settings import Settings
from tests.support.polling import until
from tests.support.requests import status_at
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.integration

# A newline in the title: the feed message keeps one document per line all the same.
TITLE = "Relatório\nde teste"


@pytest.fixture
async def cache(settings: Settings) -> AsyncIterator[StatusCache]:
    """A cache (and feed) of the test's own key prefix."""
    redis = create_redis(settings)
    yield StatusCache(redis, f"{settings.redis_prefix}feed-{uuid.uuid4().hex[:6]}:", 60, 5)
    await redis.aclose()


@contextlib.asynccontextmanager
async def subscribed(cache: StatusCache, settings: Settings) -> AsyncIterator[list[FeedMessage]]:
    """The feed's messages published during the block, parsed, once it is over."""
    redis = Redis.from_url(settings.redis_url.get_secret_value())
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(cache.feed_channel)
    await pubsub.get_message(timeout=1)  # the subscription's confirmation
    messages: list[FeedMessage] = []
    try:
        yield messages
        while (message := await pubsub.get_message(timeout=0.5)) is not None:
            parsed = FeedMessage.parse(message["data"])
            assert parsed is not None, message
            messages.append(parsed)
    finally:
        await pubsub.aclose()  # type: ignore[no-untyped-call]
        await redis.aclose()


async def test_an_announced_document_is_published_once_and_a_refill_is_not(
    cache: StatusCache, settings: Settings
) -> None:
    rid = uuid.uuid4()
    owner = "owner with\nodd characters"
    async with subscribed(cache, settings) as messages:
        assert await cache.put(status_at(rid, 1, "queued", owner, title=TITLE))  # a refill
        announced = status_at(rid, 2, "processing", owner, title=TITLE)
        assert await cache.announce(announced)
        assert not await cache.announce(announced)  # published already: not again

    assert len(messages) == 1
    (parsed,) = messages
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
    rid = uuid.uuid4()
    done = status_at(rid, 3, "done", "ana", title=TITLE)
    late = status_at(rid, 2, "processing", "ana", title=TITLE)
    async with subscribed(cache, settings) as messages:
        assert await cache.put(done)
        assert not await cache.announce(done)  # nothing newer to write...
        assert not await cache.announce(done)
        assert not await cache.announce(late)
    assert [(m.request_id, m.version) for m in messages] == [(str(rid), 3)]  # ...but said


async def latest_version(listener: Listener) -> int:
    """The newest version `listener` is told of, once it is version 3 (or 5 s passed)."""
    newest = 0
    deadline = asyncio.get_running_loop().time() + 5
    while newest < 3 and asyncio.get_running_loop().time() < deadline:
        newest = max([newest, *(d.version for d in await listener.changes(1))])
    return newest


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
            await cache.announce(status_at(mine, 2, "processing", "ana", title=TITLE))
            await cache.announce(status_at(mine, 3, "processing", "ana", title=TITLE))  # progress
            await cache.announce(status_at(other, 2, "done", "bruno", title=TITLE))
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
