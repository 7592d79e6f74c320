"""`Dispatcher`: the transition service's messaging over RabbitMQ.

Messages only wake workers (and file dead letters for operators): PostgreSQL says what is
pending, and idle workers look for due work on their own every few seconds. So a message
the broker did not confirm is logged, never an error for the caller: the request is
recorded, and a worker finds it anyway.
"""

import logging

from relatoria_shared.domain.report import ReportRecord
from relatoria_shared.messaging.contract import DeadLetter, JobMessage
from relatoria_shared.messaging.publisher import JobPublisher, PublishFailed

log = logging.getLogger(__name__)


class Dispatcher:
    """Wake-ups, delayed wake-ups and dead letters, published with confirms."""

    def __init__(self, publisher: JobPublisher) -> None:
        self._publisher = publisher

    async def wake(self, record: ReportRecord) -> None:
        """Wake a worker of the request's lane now."""
        try:
            await self._publisher.publish(_job(record), record.lane)
        except PublishFailed as exc:
            _unconfirmed("wake-up not confirmed; an idle worker will find the request", record, exc)

    async def park(self, record: ReportRecord, delay_seconds: float) -> None:
        """Wake a worker of the request's lane once `delay_seconds` have passed (in the
        delay queue of that backoff level)."""
        try:
            await self._publisher.publish_retry(_job(record), delay_seconds, record.lane)
        except PublishFailed as exc:
            _unconfirmed("retry not parked; an idle worker will find it when due", record, exc)

    async def dead_letter(self, record: ReportRecord) -> None:
        """File the dead letter of a request that ended as `error` (the request itself is
        `error` in PostgreSQL and replayable from there)."""
        try:
            await self._publisher.publish_dead(DeadLetter.of(record))
        except PublishFailed as exc:
            log.error(
                "dead letter not published",
                extra={"request_id": str(record.id), "error": str(exc)},
            )


def _job(record: ReportRecord) -> JobMessage:
    return JobMessage(request_id=record.id, attempt=record.attempts)


def _unconfirmed(what: str, record: ReportRecord, exc: Exception) -> None:
    log.warning(what, extra={"request_id": str(record.id), "error": str(exc)})
