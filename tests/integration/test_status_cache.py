"""The Redis status cache: ordering by version, and no failure when Redis is gone."""

import uuid
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr
from redis.asyncio import Redis

from relatoria_shared.cache.status_cache import StatusCache, create_redis
from relatoria_shared.settings import Settings
from tests.support.requests import status_at
from tests.support.services import free_port

pytestmark = pytest.mark.integration


@pytest.fixture
async def cache(settings: Settings) -> AsyncIterator[StatusCache]:
    redis = create_redis(settings)
    yield StatusCache(redis, settings.redis_prefix, 60, 5)
    await redis.aclose()


async def test_an_older_version_never_overwrites_a_newer_one(cache: StatusCache) -> None:
    rid = uuid.uuid4()
    assert await cache.put(status_at(rid, 3, "done"))
    assert not await cache.put(status_at(rid, 2, "processing"))
    assert not await cache.put(status_at(rid, 3, "processing"))
    cached = await cache.get(rid)
    assert cached is not None
    assert cached.body["status"] == "done"
    assert (cached.owner_id, cached.version) == ("cache-owner", 3)


async def test_entries_expire(cache: StatusCache, settings: Settings) -> None:
    active, finished = uuid.uuid4(), uuid.uuid4()
    await cache.put(status_at(active, 1, "processing"))
    await cache.put(status_at(finished, 3, "done"))
    redis = Redis.from_url(settings.redis_url.get_secret_value())
    active_ttl = await redis.ttl(cache.key(active))
    finished_ttl = await redis.ttl(cache.key(finished))
    await redis.aclose()
    # Unfinished states live briefly, so a lost final write cannot hide the result long.
    assert 0 < active_ttl <= 5
    assert 5 < finished_ttl <= 60


async def test_unreachable_redis_is_a_miss_not_an_error(settings: Settings) -> None:
    dead_url = SecretStr(f"redis://127.0.0.1:{free_port()}/0")
    dead = settings.model_copy(update={"redis_url": dead_url})
    redis = create_redis(dead)
    cache = StatusCache(redis, "x:", 60, 5)
    assert await cache.get(uuid.uuid4()) is None
    assert await cache.put(status_at(uuid.uuid4(), 1, "queued")) is False
    assert await cache.ping() is False
    await redis.aclose()
