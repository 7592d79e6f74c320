"""Handing a recorded request to RabbitMQ: publish its message, then note it as published.

Used by the BFF (new requests), the worker (retries, dead letters, jobs handed back at
shutdown) and the sweeper (requests whose publish never happened or got lost). A failed
publish is not an error for the caller: the request stays recorded as unpublished and the
sweeper publishes it later.
"""

import logging

from relatoria_shared.catalog import lane_for
from relatoria_shared.db.repository import ReportRepository
from relatoria_shared.domain.report import ReportRecord
from relatoria_shared.messaging.contract import DeadLetter, JobMessage
from relatoria_shared.messaging.publisher import JobPublisher, PublishFailed

log = logging.getLogger(__name__)


class Dispatcher:
    """Publishes jobs for recorded requests and notes the confirmed ones."""

    def __init__(self, publisher: JobPublisher, repository: ReportRepository) -> None:
        self._publisher = publisher
        self._repository = repository

    async def dispatch(self, record: ReportRecord) -> bool:
        """Publish `record`'s job and note it; False if the broker did not confirm."""
        if not await self.publish(record):
            return False
        try:
            await self._repository.mark_published(record.id)
        except Exception:
            # Unnoted, the sweeper publishes it once more later: a harmless duplicate.
            log.exception(
                "could not note a confirmed publish", extra={"request_id": str(record.id)}
            )
        return True

    async def publish(self, record: ReportRecord) -> bool:
        """Publish `record`'s job only; False if the broker did not confirm."""
        try:
            await self._publisher.publish(
                JobMessage(request_id=record.id, attempt=record.attempts),
                lane_for(record.report_type),
            )
        except PublishFailed as exc:
            log.warning(
                "publish not confirmed; the sweeper will publish the request",
                extra={"request_id": str(record.id), "error": str(exc)},
            )
            return False
        return True

    async def park(self, record: ReportRecord, delay_seconds: float) -> None:
        """Put `record`'s job in the delay queue of `delay_seconds` and note it; unconfirmed,
        the sweeper publishes it once its `next_attempt_at` has passed."""
        job = JobMessage(request_id=record.id, attempt=record.attempts)
        try:
            await self._publisher.publish_retry(job, delay_seconds, lane_for(record.report_type))
        except PublishFailed as exc:
            log.warning(
                "retry not parked; the sweeper will publish it",
                extra={"request_id": str(record.id), "error": str(exc)},
            )
            return
        await self._repository.mark_published(record.id)

    async def dead_letter(self, record: ReportRecord) -> None:
        """File the dead letter of a request that ended as `error` (logged if unconfirmed:
        the request itself is `error` in PostgreSQL and replayable from there)."""
        try:
            await self._publisher.publish_dead(DeadLetter.of(record))
        except PublishFailed as exc:
            log.error(
                "dead letter not published",
                extra={"request_id": str(record.id), "error": str(exc)},
            )
