"""The worker process: connections, consumption, sweeping, and graceful shutdown."""

import asyncio
import logging
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from aio_pika.abc import AbstractIncomingMessage, AbstractQueue, AbstractRobustConnection

from relatoria_shared.connections import Connections, open_connections
from relatoria_shared.db.jobs import PgJobRepository
from relatoria_shared.db.maintenance import PgMaintenanceRepository
from relatoria_shared.db.wake_channel import WEBHOOKS_WAKE
from relatoria_shared.db.worker_presence import WorkerPresence, worker_presence
from relatoria_shared.domain.lanes import Lane
from relatoria_shared.garbage_collector import settle_garbage_collector
from relatoria_shared.messaging.topology import Topology
from relatoria_shared.metrics_registry import process_registry
from relatoria_shared.settings import Settings
from relatoria_shared.transitions.announce import Announcer
from relatoria_shared.transitions.jobs import JobTransitions
from relatoria_shared.transitions.maintenance import MaintenanceTransitions
from relatoria_worker import glibc_malloc
from relatoria_worker.artifact_builder import ArtifactBuilder
from relatoria_worker.consumer import JobConsumer
from relatoria_worker.data_source import ReportingDatabase
from relatoria_worker.interactive_first import InteractiveFirst
from relatoria_worker.job_control import StopReason
from relatoria_worker.job_runner import JobRunner
from relatoria_worker.liveness import keep_touching
from relatoria_worker.metrics import WorkerMetrics, serve
from relatoria_worker.renderers.registry import Renderers
from relatoria_worker.row_sources import RowSources
from relatoria_worker.sweeper import Sweeper
from relatoria_worker.tracked_deliveries import tracked
from relatoria_worker.webhooks.relay import OutboxRelay
from relatoria_worker.webhooks.runtime import webhook_delivery

log = logging.getLogger(__name__)

HAND_BACK_SECONDS = 5.0
TRIM_EVERY_SECONDS = 1.0


class Wakes:
    """Passes the wake-ups the worker's PostgreSQL session hears to the consumers of their
    lane, and webhook wake-ups to the outbox relay (to all of them when listening
    restarts: wake-ups may have been missed)."""

    def __init__(self) -> None:
        self.consumers: list[JobConsumer] = []
        self.relay: OutboxRelay | None = None

    def __call__(self, lane: str | None) -> None:
        """Wake the consumers of `lane`, or the relay (None: all)."""
        if self.relay is not None and lane in (None, WEBHOOKS_WAKE):
            self.relay.wake()
        for consumer in self.consumers:
            if lane is None or consumer.lane.value == lane:
                consumer.wake()


async def run_worker(settings: Settings, stop: asyncio.Event) -> None:
    """Consume jobs until `stop` is set; then finish in-flight jobs within the grace period
    and hand the rest back to the queue."""
    liveness = (
        asyncio.create_task(keep_touching(Path(settings.liveness_file), settings.heartbeat_seconds))
        if settings.liveness_file
        else None
    )
    metrics = WorkerMetrics(process_registry())
    server = serve(metrics.registry, settings.metrics_port) if settings.metrics_port else None
    executors = render_executors(settings)
    wakes = Wakes()
    try:
        async with (
            open_connections(settings) as connections,
            worker_presence(settings, wakes) as presence,
            webhook_delivery(connections, metrics) as relay,
        ):
            wakes.relay = relay
            await _serve(
                settings, connections, presence, wakes, executors, metrics=metrics, stop=stop
            )
    finally:
        for executor in executors.values():
            executor.shutdown(wait=False, cancel_futures=True)
        if liveness:
            liveness.cancel()
        if server:
            server.shutdown()
    log.info("worker stopped")


async def _serve(
    settings: Settings,
    connections: Connections,
    presence: WorkerPresence,
    wakes: Wakes,
    executors: dict[Lane, ThreadPoolExecutor],
    *,
    metrics: WorkerMetrics,
    stop: asyncio.Event,
) -> None:
    announcer = connections.announcer(metrics)
    runner = job_runner_on(connections, announcer, executors, metrics)
    settle_garbage_collector()
    sweeper = Sweeper(
        settings=settings,
        transitions=MaintenanceTransitions(
            PgMaintenanceRepository(connections.pool),
            announcer,
            settings.retry_policy,
            settings.lease,
        ),
        metrics=metrics,
    )
    sweeping = asyncio.create_task(sweeper.run())
    trimming = asyncio.create_task(glibc_malloc.keep_trimmed(TRIM_EVERY_SECONDS))
    polling: list[asyncio.Task[None]] = []
    in_flight: set[asyncio.Task[Any]] = set()
    consumers: list[tuple[JobConsumer, AbstractQueue, str]] = []
    assert connections.broker is not None
    amqp = connections.broker.connection
    for lane in dict.fromkeys(settings.worker_lanes):
        consumer = JobConsumer(
            runner,
            settings.lane_concurrency(lane),
            lane,
            metrics,
            idle_poll_seconds=settings.idle_poll_seconds,
            present=presence.held,
        )
        queue, tag = await _consume(amqp, settings, lane, tracked(consumer, in_flight))
        consumers.append((consumer, queue, tag))
        wakes.consumers.append(consumer)
        polling.append(asyncio.create_task(consumer.claim_when_woken()))
    log.info(
        "worker consuming",
        extra={
            "worker_id": settings.worker_id,
            "queues": [queue.name for _, queue, _ in consumers],
            "concurrency": {
                lane.value: settings.lane_concurrency(lane) for lane in settings.worker_lanes
            },
        },
    )
    await stop.wait()
    log.info("worker stopping: no new jobs", extra={"in_flight": len(in_flight)})
    for consumer, queue, tag in consumers:
        consumer.close()
        await queue.cancel(tag)
    # A claim under way finishes and starts its job before the loop stops: wait for it, so
    # the job is drained (or handed back) with the rest.
    await asyncio.wait(polling, timeout=settings.database_timeout_seconds)
    for consumer, _, _ in consumers:
        in_flight |= consumer.claimed_jobs
    await _drain(in_flight, runner, settings.shutdown_grace_seconds)
    for task in (sweeping, trimming, *polling):
        task.cancel()


def job_runner_on(
    connections: Connections,
    announcer: Announcer,
    executors: dict[Lane, ThreadPoolExecutor],
    metrics: WorkerMetrics,
) -> JobRunner:
    """The job runner of this worker identity (`worker_id`) on opened connections, as the
    settings describe it: renderers, row sources and all."""
    settings = connections.settings
    store = connections.store
    transitions = JobTransitions(
        PgJobRepository(connections.pool),
        announcer,
        worker_id=settings.worker_id,
        lease=settings.lease,
        retention=settings.artifact_retention,
    )
    reporting = settings.reporting_database_url
    priority = InteractiveFirst()
    return JobRunner(
        settings=settings,
        transitions=transitions,
        builder=ArtifactBuilder(
            store,
            settings.s3_key_prefix,
            settings.temp_dir,
            Renderers(pdf_max_rows=settings.pdf_max_rows).renderer_for,
            priority,
            metrics=metrics,
        ),
        sources=RowSources(
            ReportingDatabase(
                reporting.get_secret_value() if reporting else None,
                statement_timeout_seconds=settings.reporting_statement_timeout_seconds,
                fetch_rows=settings.reporting_fetch_rows,
            )
        ),
        executors=executors,
        store=store,
        priority=priority,
        metrics=metrics,
    )


async def _consume(
    amqp: AbstractRobustConnection,
    settings: Settings,
    lane: Lane,
    callback: Callable[[AbstractIncomingMessage], Any],
) -> tuple[AbstractQueue, str]:
    """Consume `lane`'s queue on a channel of its own, whose prefetch is the lane's
    concurrency: a lane never holds deliveries it has no slot for."""
    channel = await amqp.channel()
    await channel.set_qos(prefetch_count=settings.lane_concurrency(lane))
    queue = await channel.get_queue(Topology(settings.amqp_namespace).work_queue(lane))
    tag = await queue.consume(callback)
    return queue, tag


def render_executors(settings: Settings) -> dict[Lane, ThreadPoolExecutor]:
    """One pool of render threads per lane. Bulk renders run at a lower CPU priority
    (a nice value per thread, which Linux allows), so that when the cores are busy the
    interactive lane, this worker's event loop and the other processes go first."""
    nice = settings.bulk_render_nice
    return {
        Lane.INTERACTIVE: ThreadPoolExecutor(
            settings.lane_concurrency(Lane.INTERACTIVE), thread_name_prefix="render-interactive"
        ),
        Lane.BULK: ThreadPoolExecutor(
            settings.lane_concurrency(Lane.BULK),
            thread_name_prefix="render-bulk",
            initializer=lower_thread_priority,
            initargs=(nice,),
        ),
    }


def lower_priority_if_bulk_only(settings: Settings) -> None:
    """A worker that serves only the bulk lane runs wholly at the bulk nice value: its
    event loop decodes the exported rows, so all of it is bulk work that interactive
    workers on the same node should pre-empt. Called before any thread starts, as
    threads inherit the nice value of the thread that creates them."""
    if set(settings.worker_lanes) == {Lane.BULK}:
        lower_thread_priority(settings.bulk_render_nice)


def lower_thread_priority(nice: int) -> None:
    """Raise the calling thread's nice value to `nice` (Linux sets it per thread)."""
    if nice and sys.platform == "linux":
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
        except OSError:
            log.warning("could not lower a bulk thread's priority", extra={"nice": nice})


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
