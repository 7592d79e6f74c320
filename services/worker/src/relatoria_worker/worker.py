"""The worker process: connections, consumption, and graceful shutdown."""

import asyncio
import logging
from datetime import timedelta
from typing import Any

import aio_pika

from relatoria_shared.cache.status_cache import StatusCache, create_redis
from relatoria_shared.db.engine import create_engine
from relatoria_shared.db.repository import ReportRepository
from relatoria_shared.messaging.topology import Topology, declare
from relatoria_shared.settings import Settings
from relatoria_shared.storage.object_store import ObjectStore
from relatoria_worker.artifact_builder import ArtifactBuilder
from relatoria_worker.consumer import JobConsumer
from relatoria_worker.job_runner import JobRunner

log = logging.getLogger(__name__)


async def run_worker(settings: Settings, stop: asyncio.Event) -> None:
    """Consume jobs until `stop` is set, then drain in-flight jobs within the grace period."""
    engine = create_engine(settings)
    redis = create_redis(settings)
    amqp = await aio_pika.connect_robust(settings.amqp_url.get_secret_value())
    try:
        channel = await amqp.channel()
        # Prefetch bounds the deliveries held at once, and so the jobs run concurrently.
        await channel.set_qos(prefetch_count=settings.worker_concurrency)
        declared = await declare(channel, Topology(settings.amqp_namespace))
        runner = JobRunner(
            repository=ReportRepository(engine),
            cache=StatusCache.from_settings(redis, settings),
            builder=ArtifactBuilder(
                ObjectStore(settings), settings.s3_key_prefix, settings.temp_dir
            ),
            worker_id=settings.worker_id,
            lease=timedelta(seconds=settings.lease_seconds),
        )
        in_flight: set[asyncio.Task[Any]] = set()
        job_consumer = JobConsumer(runner)

        async def tracked(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            task = asyncio.current_task()
            assert task is not None
            in_flight.add(task)
            try:
                await job_consumer(message)
            finally:
                in_flight.discard(task)

        tag = await declared.work_queue.consume(tracked)
        log.info(
            "worker consuming",
            extra={
                "worker_id": settings.worker_id,
                "queue": declared.work_queue.name,
                "concurrency": settings.worker_concurrency,
            },
        )
        await stop.wait()
        log.info("worker stopping: no new jobs", extra={"in_flight": len(in_flight)})
        await declared.work_queue.cancel(tag)
        if in_flight:
            _, pending = await asyncio.wait(in_flight, timeout=settings.shutdown_grace_seconds)
            if pending:
                # Their messages are unacked: closing the channel hands them back to the
                # queue, and the claim's lease lets another worker take them over.
                log.warning("grace period over; handing back jobs", extra={"jobs": len(pending)})
    finally:
        await amqp.close()
        await redis.aclose()
        await engine.dispose()
    log.info("worker stopped")
