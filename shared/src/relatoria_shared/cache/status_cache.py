"""The Redis status cache: status documents by request id, never going backwards; and
the status feed, where each state change's document is published as it is cached.

Redis only caches and notifies. Every failure here is logged and swallowed: callers fall
back to PostgreSQL, so a Redis outage slows status reads (and those waiting for a change)
down and breaks nothing.
"""

import json
import logging
import time
import uuid
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from relatoria_shared.domain.status_document import StatusBody, StatusDocument
from relatoria_shared.settings import Settings
from relatoria_shared.transitions.announce import FinishedJob

log = logging.getLogger(__name__)

# Write only if the stored version is older: a slow worker or a retry that finishes
# late cannot overwrite a newer state with an older one. An entry without an owner (an
# older release's) counts as absent. With a feed channel (ARGV[6]), an announced version
# is also published, once: even when a read refilled the cache with it first (its
# `announced` field says which version was published last). A finished job's announce
# also counts it in its lane's bucket of the minute (KEYS[2]).
_PUT_IF_NEWER = """
local current = tonumber(redis.call('HGET', KEYS[1], 'version'))
local owned = redis.call('HEXISTS', KEYS[1], 'owner') == 1
local incoming = tonumber(ARGV[1])
local written = 0
if not (current and owned and current >= incoming) then
  redis.call('HSET', KEYS[1], 'version', ARGV[1], 'doc', ARGV[2], 'owner', ARGV[4],
    'key', ARGV[5])
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  written = 1
end
if ARGV[6] ~= '' and (written == 1 or current == incoming) then
  local announced = tonumber(redis.call('HGET', KEYS[1], 'announced'))
  if not announced or announced < incoming then
    redis.call('HSET', KEYS[1], 'announced', ARGV[1])
    redis.call('PUBLISH', ARGV[6],
      ARGV[7] .. '\\n' .. ARGV[1] .. '\\n' .. ARGV[5] .. '\\n' .. ARGV[2] .. '\\n' .. ARGV[4])
    if KEYS[2] then
      redis.call('HINCRBY', KEYS[2], 'finished', 1)
      redis.call('HINCRBYFLOAT', KEYS[2], 'busy', ARGV[8])
      redis.call('EXPIRE', KEYS[2], 900)
    end
  end
end
return written
"""
# A feed message: request id, version, file key, document body (JSON, which holds no raw
# newline) and owner, one per line; the owner last, so that it may hold anything.
_FEED_FIELDS = 5
# Jobs finished per lane and minute, and the seconds they took: recent throughput, for
# queue estimates (`lane_rate`).
_RATE_MINUTES = 5
# A feed message: request id, version, file key, document body (JSON, which holds no raw
# newline) and owner, one per line; the owner last, so that it may hold anything.
_FEED_FIELDS = 5


def create_redis(settings: Settings, *, subscriber: bool = False) -> "Redis":
    """A Redis client with short timeouts, so a dead Redis cannot stall a request. A
    `subscriber`'s (for a subscription) has no read timeout (a quiet feed is no error:
    pings tell a dead one) and no silent retries (a lost connection must be seen, since
    what was published meanwhile is lost)."""
    url = settings.redis_url.get_secret_value()
    if subscriber:
        return Redis.from_url(
            url,
            socket_connect_timeout=settings.redis_timeout_seconds,
            socket_keepalive=True,
            retry=Retry(NoBackoff(), 0),
        )
    return Redis.from_url(
        url,
        socket_timeout=settings.redis_timeout_seconds,
        socket_connect_timeout=settings.redis_timeout_seconds,
        health_check_interval=30,
    )


class StatusCache:
    """Status documents in Redis, keyed `<prefix>status:<request id>`.

    Finished requests are cached for `ttl_seconds`; unfinished ones only for
    `active_ttl_seconds`, so a lost write (Redis blipped as the worker finished) can hide
    the true state only briefly before reads fall through to PostgreSQL.
    """

    def __init__(
        self, redis: "Redis", prefix: str, ttl_seconds: int, active_ttl_seconds: int
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._ttl = ttl_seconds
        self._active_ttl = min(active_ttl_seconds, ttl_seconds)
        self._put_script = redis.register_script(_PUT_IF_NEWER)

    @classmethod
    def from_settings(cls, redis: "Redis", settings: Settings) -> "StatusCache":
        """The cache as configured."""
        return cls(
            redis,
            settings.redis_prefix,
            settings.status_cache_ttl_seconds,
            settings.status_cache_active_ttl_seconds,
        )

    @property
    def feed_channel(self) -> str:
        """The Redis channel where `announce` publishes each state change's document."""
        return f"{self._prefix}status-feed"

    def key(self, report_id: uuid.UUID) -> str:
        """The Redis key holding the status of `report_id`."""
        return f"{self._prefix}status:{report_id}"

    async def get(self, report_id: uuid.UUID) -> StatusDocument | None:
        """The cached status document, or None on a miss or when Redis is unavailable."""
        try:
            version, owner, key, raw = await self._redis.hmget(
                self.key(report_id), ("version", "owner", "key", "doc")
            )
        except RedisError as exc:
            log.warning("status cache read failed", extra={"error": str(exc)})
            return None
        if raw is None or owner is None or version is None:
            return None  # absent, or written by an older release: read PostgreSQL
        return _stored(raw, _text(owner), int(version), _text(key) if key else None)

    async def put(self, document: StatusDocument) -> bool:
        """Store `document` unless a newer version is cached; True if written."""
        return await self._put(document, channel="", finished=None)

    async def announce(self, document: StatusDocument, finished: FinishedJob | None = None) -> bool:
        """`put`, and publish `document` on the feed unless an equal or newer version was
        published already (a state change; a read's refill is only `put`); a job that
        `finished` counts in its lane's recent throughput (`lane_rate`), once. True if
        the cache was written."""
        return await self._put(document, channel=self.feed_channel, finished=finished)

    async def lane_rate(self, lane: str) -> "LaneRate":
        """How many jobs of `lane` finished per second over the last minutes, and the
        seconds each took on average; zeros when none did or Redis is unavailable."""
        now = time.time()
        minute = int(now // 60)
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for past in range(minute - _RATE_MINUTES, minute + 1):
                    pipe.hmget(f"{self._rate_prefix(lane)}{past}", ("finished", "busy"))
                buckets = await pipe.execute()
        except RedisError as exc:
            log.warning("lane rate read failed", extra={"error": str(exc)})
            return LaneRate(0.0, 0.0)
        finished = sum(int(f) for f, _ in buckets if f is not None)
        busy = sum(float(b) for _, b in buckets if b is not None)
        window = _RATE_MINUTES * 60 + now % 60
        return LaneRate(finished / window, busy / finished if finished else 0.0)

    def _rate_prefix(self, lane: str) -> str:
        return f"{self._prefix}lane-rate:{lane}:"

    async def _put(
        self, document: StatusDocument, channel: str, finished: FinishedJob | None
    ) -> bool:
        keys = [self.key(document.request_id)]
        if finished is not None:
            keys.append(f"{self._rate_prefix(finished.lane)}{int(time.time() // 60)}")
        ttl = self._ttl if document.status.is_terminal else self._active_ttl
        try:
            written = await self._put_script(
                keys=keys,
                args=[
                    document.version,
                    document.body_json(),
                    ttl,
                    document.owner_id,
                    document.object_key or "",
                    channel,
                    str(document.request_id),
                    finished.seconds if finished else 0,
                ],
            )
        except RedisError as exc:
            log.warning("status cache write failed", extra={"error": str(exc)})
            return False
        return bool(written)

    async def ping(self) -> bool:
        """True if Redis answers."""
        try:
            return bool(await self._redis.ping())
        except RedisError:
            return False


@dataclass(frozen=True)
class LaneRate:
    """A lane's recent throughput: jobs finished per second, and seconds per job."""

    per_second: float
    seconds_per_job: float


@dataclass(frozen=True)
class FeedMessage:
    """A state change as the feed carries it: routed by request and owner, its document
    parsed only for whoever listens."""

    request_id: str
    owner_id: str
    version: int
    object_key: str | None
    body_json: str

    @classmethod
    def parse(cls, data: bytes) -> "FeedMessage | None":
        """The message in `data`; None for one not in the feed's form."""
        fields = data.decode(errors="replace").split("\n", _FEED_FIELDS - 1)
        if len(fields) != _FEED_FIELDS or not fields[1].isdigit():
            return None
        request_id, version, key, body_json, owner = fields
        return cls(request_id, owner, int(version), key or None, body_json)

    def document(self) -> StatusDocument | None:
        """The status document; None if its body is not JSON."""
        try:
            return _stored(self.body_json, self.owner_id, self.version, self.object_key)
        except ValueError:
            return None


def _stored(
    body_json: bytes | str, owner_id: str, version: int, object_key: str | None
) -> StatusDocument:
    """A status document from the fields Redis keeps (the cache's hash, a feed message)."""
    body: StatusBody = json.loads(body_json)
    return StatusDocument(body=body, owner_id=owner_id, version=version, object_key=object_key)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
