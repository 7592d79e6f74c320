"""Handing a recorded request to the workers: publish its job, then note it as published.

Used by the BFF (new requests), the worker (a job handed back at shutdown) and the
sweeper (requests whose publish never happened or got lost). A failed publish is not an
error for the caller: the request stays recorded as unpublished and the sweeper retries.
"""

import logging

from relatoria_shared.db.repository import ReportRepository
from relatoria_shared.domain.report import ReportRecord
from relatoria_shared.messaging.contract import JobMessage
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
            await self._publisher.publish(JobMessage(request_id=record.id, attempt=record.attempts))
        except PublishFailed as exc:
            log.warning(
                "publish not confirmed; the sweeper will publish the request",
                extra={"request_id": str(record.id), "error": str(exc)},
            )
            return False
        return True
