"""The sweeper: closes the gaps between PostgreSQL and RabbitMQ. Safe in every worker.

Each pass, under row locks other sweepers skip (`FOR UPDATE SKIP LOCKED`):
- `processing` requests whose lease expired (their worker died) go back to `queued` and
  are published again, or end as `error` and are dead-lettered once out of attempts;
- `queued` requests whose publish was never confirmed (the BFF committed, then crashed or
  lost RabbitMQ), or whose message seems lost, are published.
"""

import asyncio
import logging
from datetime import timedelta

from relatoria_shared.cache.status_cache import StatusCache
from relatoria_shared.catalog import lane_for
from relatoria_shared.db.repository import ReportRepository
from relatoria_shared.dispatch import Dispatcher
from relatoria_shared.domain.errors import ErrorCode
from relatoria_shared.domain.report import ReportRecord, status_document
from relatoria_shared.messaging.publisher import JobPublisher
from relatoria_shared.settings import Settings
from relatoria_worker.metrics import SweepReason, WorkerMetrics

log = logging.getLogger(__name__)

BATCH = 200
WORKER_LOST = "the worker running this report stopped (a crash, or out of memory)"


class Sweeper:
    """One worker's share of the sweeping."""

    def __init__(
        self,
        *,
        settings: Settings,
        repository: ReportRepository,
        cache: StatusCache,
        publisher: JobPublisher,
        metrics: WorkerMetrics | None = None,
    ) -> None:
        self._settings = settings
        self._repository = repository
        self._cache = cache
        self._dispatcher = Dispatcher(publisher, repository)
        self._metrics = metrics if metrics is not None else WorkerMetrics()

    async def run(self) -> None:
        """Sweep every `sweep_interval_seconds` until cancelled; failures are logged."""
        while True:
            try:
                await self.sweep_once()
            except Exception:
                log.exception("sweep failed")
            await asyncio.sleep(self._settings.sweep_interval_seconds)

    async def sweep_once(self) -> dict[str, int]:
        """One pass; returns what it did (requeued, failed, published). Also refreshes
        the oldest queued request's age per lane."""
        requeued, failed = await self._repository.sweep_expired_leases(
            BATCH, WORKER_LOST, self._settings.retry_policy
        )
        self._metrics.lease_expiries.inc(len(requeued) + len(failed))
        # Retries and dead letters of jobs whose worker died (no job outcome: that worker
        # never recorded one).
        lost = ErrorCode.INTERNAL_ERROR.value
        for record, delay in requeued:
            self._metrics.retries.labels(lane_for(record.report_type).value, lost).inc()
            await self._cache.put(status_document(record))
            await self._dispatcher.park(record, delay)
        for record in failed:
            self._metrics.dead_letters.labels(lane_for(record.report_type).value, lost).inc()
            await self._cache.put(status_document(record))
            await self._dispatcher.dead_letter(record)
        published = await self._repository.publish_due(
            BATCH,
            grace=timedelta(seconds=self._settings.publish_grace_seconds),
            republish_after=timedelta(seconds=self._settings.republish_after_seconds),
            publish=self._publish,
        )
        ages = await self._repository.oldest_queued_ages()
        self._metrics.oldest_queued(
            (lane_for(report_type), age) for report_type, age in ages.items()
        )
        done = {"requeued": len(requeued), "failed": len(failed), "published": published}
        if any(done.values()):
            log.info("sweep", extra=done)
        return done

    async def _publish(self, record: ReportRecord) -> bool:
        published = await self._dispatcher.publish(record)
        if published:
            lost = record.published_at is not None  # published once, never picked up
            reason = SweepReason.LOST if lost else SweepReason.UNPUBLISHED
            self._metrics.sweeper_republished.labels(reason.value).inc()
        return published
