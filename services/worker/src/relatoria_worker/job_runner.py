"""One job, start to finish: claim, build the artifact, finalise, cache.

Every outcome is recorded in PostgreSQL first and mirrored to the Redis status cache.
A job that is not claimable (a duplicate or late delivery) does nothing.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy.exc import DBAPIError

from relatoria_shared.cache.status_cache import StatusCache
from relatoria_shared.db.repository import ReportRepository
from relatoria_shared.domain.errors import ErrorCode, ReportError
from relatoria_shared.domain.report import ReportRecord, status_document
from relatoria_shared.messaging.contract import JobMessage
from relatoria_worker.artifact_builder import ArtifactBuilder

log = logging.getLogger(__name__)


class JobRunner:
    """Runs report jobs for one worker identity."""

    def __init__(
        self,
        *,
        repository: ReportRepository,
        cache: StatusCache,
        builder: ArtifactBuilder,
        worker_id: str,
        lease: timedelta,
    ) -> None:
        self._repository = repository
        self._cache = cache
        self._builder = builder
        self._worker_id = worker_id
        self._lease = lease

    async def run(self, job: JobMessage) -> None:
        """Process `job`. Raises only when PostgreSQL itself failed (the caller requeues)."""
        claimed = await self._repository.claim(job.request_id, self._worker_id, self._lease)
        context: dict[str, object] = {
            "request_id": str(job.request_id),
            "worker_id": self._worker_id,
        }
        if claimed is None:
            log.info("job skipped: not claimable (duplicate or finished)", extra=context)
            return
        context |= {"attempt": claimed.attempts, "format": claimed.format.value}
        log.info("job started", extra=context)
        await self._cache.put(status_document(claimed))
        started = time.monotonic()
        try:
            artifact = await asyncio.to_thread(self._builder.build, claimed)
        except ReportError as exc:
            await self._fail(claimed, exc.code, exc.message, context)
            return
        except Exception:
            log.exception("job crashed", extra=context)
            await self._fail(
                claimed, ErrorCode.INTERNAL_ERROR, "an internal error stopped the report", context
            )
            return
        done = await self._persist(lambda: self._repository.complete(claimed, artifact), context)
        if done is None:
            log.warning("job finished but its claim was lost; result discarded", extra=context)
            return
        await self._cache.put(status_document(done))
        log.info(
            "job done",
            extra=context
            | {
                "duration_s": round(time.monotonic() - started, 3),
                "size_bytes": artifact.size_bytes,
                "rows": artifact.row_count,
            },
        )

    async def _persist(
        self, write: Callable[[], Awaitable[ReportRecord | None]], context: dict[str, object]
    ) -> ReportRecord | None:
        """Record an outcome, retrying through a database outage while the lease allows.

        Giving up early would waste the finished work and leave the request `processing`
        until its lease runs out.
        """
        deadline = time.monotonic() + self._lease.total_seconds() / 2
        delay = 0.5
        while True:
            try:
                return await write()
            except (DBAPIError, OSError) as exc:
                if time.monotonic() + delay > deadline:
                    raise
                log.warning(
                    "recording the outcome failed; retrying",
                    extra=context | {"error": type(exc).__name__, "retry_in_s": delay},
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _fail(
        self, claimed: ReportRecord, code: ErrorCode, message: str, context: dict[str, object]
    ) -> None:
        failed = await self._persist(lambda: self._repository.fail(claimed, code, message), context)
        log.warning("job failed", extra=context | {"error_code": code.value, "error": message})
        if failed is not None:
            await self._cache.put(status_document(failed))
