"""Removing what a test run or a benchmark created on the shared services."""

import aio_pika
import asyncpg
from redis.asyncio import Redis

from relatoria_shared.domain.lanes import Lane
from relatoria_shared.messaging.topology import Topology
from relatoria_shared.settings import Settings


async def delete_topology(settings: Settings) -> None:
    """Delete every queue and exchange of the namespace."""
    topology = Topology(settings.amqp_namespace)
    queues = [
        topology.dead_queue,
        *(topology.work_queue(lane) for lane in Lane),
        *(
            topology.retry_queue(level, lane)
            for level in settings.retry_policy.levels()
            for lane in Lane
        ),
        topology.webhooks_queue,
        topology.webhooks_dead_queue,
        *(topology.webhooks_retry_queue(level) for level in settings.webhook_schedule.levels()),
    ]
    exchanges = [
        topology.work_exchange,
        topology.retry_exchange,
        topology.dead_exchange,
        topology.webhooks_exchange,
    ]
    connection = await aio_pika.connect(settings.amqp_url.get_secret_value())
    async with connection:
        channel = await connection.channel()
        for queue in queues:
            await channel.queue_delete(queue)
        for exchange in exchanges:
            await channel.exchange_delete(exchange)


async def remove_broker_and_cache_state(settings: Settings) -> None:
    """Delete the namespace's topology and every Redis key under its prefix."""
    await delete_topology(settings)
    redis = Redis.from_url(settings.redis_url.get_secret_value())
    async for key in redis.scan_iter(match=f"{settings.redis_prefix}*"):
        await redis.delete(key)
    await redis.aclose()


async def drop_database(admin_url: str, name: str) -> None:
    """Drop database `name`, disconnecting anyone still on it."""
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
