"""The worker process: connections, consumption, sweeping, and graceful shutdown."""

import asyncio
import logging
from typing import Any

from aio_pika.abc import AbstractIncomingMessage

from relatoria_shared.cache.status_cache import StatusCache, create_redis
from relatoria_shared.db.engine import create_engine
from relatoria_shared.db.repository import ReportRepository
from relatoria_shared.messaging.connection import connect as connect_amqp
from relatoria_shared.messaging.publisher import JobPublisher
from relatoria_shared.messaging.topology import Topology, declare_for
from relatoria_shared.settings import Settings
from relatoria_shared.storage.object_store import ObjectStore
from relatoria_worker.artifact_builder import ArtifactBuilder
from relatoria_worker.consumer import JobConsumer
from relatoria_worker.job_control import StopReason
from relatoria_worker.job_runner import JobRunner
from relatoria_worker.sweeper import Sweeper

log = logging.getLogger(__name__)

HAND_BACK_SECONDS = 5.0


async def run_worker(settings: Settings, stop: asyncio.Event) -> None:
    """Consume jobs until `stop` is set; then finish in-flight jobs within the grace period
    and hand the rest back to the queue."""
    engine = create_engine(settings)
    redis = create_redis(settings)
    amqp = await connect_amqp(settings.amqp_url.get_secret_value())
    try:
        publishing = await amqp.channel(publisher_confirms=True)
        declared = await declare_for(amqp, publishing, settings)
        consuming = await amqp.channel()
        # Prefetch holds a few deliveries ready; the consumer's semaphore bounds the jobs.
        await consuming.set_qos(prefetch_count=settings.worker_concurrency)
        queue = await consuming.get_queue(Topology(settings.amqp_namespace).work_queue)
        repository = ReportRepository(engine)
        cache = StatusCache.from_settings(redis, settings)
        publisher = JobPublisher(declared, settings.publish_timeout_seconds)
        store = ObjectStore(settings)
        runner = JobRunner(
            settings=settings,
            repository=repository,
            cache=cache,
            builder=ArtifactBuilder(store, settings.s3_key_prefix, settings.temp_dir),
            publisher=publisher,
            store=store,
        )
        sweeper = asyncio.create_task(
            Sweeper(
                settings=settings, repository=repository, cache=cache, publisher=publisher
            ).run()
        )
        in_flight: set[asyncio.Task[Any]] = set()
        consumer = JobConsumer(runner, settings.worker_concurrency)

        async def tracked(message: AbstractIncomingMessage) -> None:
            task = asyncio.current_task()
            assert task is not None
            in_flight.add(task)
            try:
                await consumer(message)
            finally:
                in_flight.discard(task)

        tag = await queue.consume(tracked)
        log.info(
            "worker consuming",
            extra={
                "worker_id": settings.worker_id,
                "queue": queue.name,
                "concurrency": settings.worker_concurrency,
            },
        )
        await stop.wait()
        log.info("worker stopping: no new jobs", extra={"in_flight": len(in_flight)})
        consumer.close()
        await queue.cancel(tag)
        await _drain(in_flight, runner, settings.shutdown_grace_seconds)
        sweeper.cancel()
    finally:
        await amqp.close()
        await redis.aclose()
        await engine.dispose()
    log.info("worker stopped")


async def _drain(in_flight: set[asyncio.Task[Any]], runner: JobRunner, grace: float) -> None:
    """Within `grace` in all (Kubernetes' terminationGracePeriodSeconds): let in-flight jobs
    finish, keeping a margin at the end to stop the rest and hand them back."""
    if not in_flight:
        return
    margin = min(HAND_BACK_SECONDS, grace / 2)
    _, pending = await asyncio.wait(set(in_flight), timeout=grace - margin)
    if not pending:
        return
    log.warning("grace period over; handing jobs back", extra={"jobs": len(pending)})
    runner.stop_all(StopReason.SHUTDOWN)
    await asyncio.wait(pending, timeout=margin)
