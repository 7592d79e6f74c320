"""A worker's state changes of the jobs it runs: claim, progress, and each outcome.

Every write is fenced by the claim: None (or False) means the claim is no longer held
(cancelled by its owner, or taken back), and nothing was changed or announced.
"""

import uuid
from datetime import timedelta

from relatoria_shared.db.jobs import JobRepository
from relatoria_shared.domain.artifact_keys import FileHolder
from relatoria_shared.domain.errors import ErrorCode
from relatoria_shared.domain.lanes import Lane
from relatoria_shared.domain.report import Artifact, Job, Progress, ReportRecord
from relatoria_shared.transitions.announce import Announcer, Transition


class JobTransitions:
    """Claim and settle jobs, for one worker."""

    def __init__(
        self,
        repository: JobRepository,
        announcer: Announcer,
        *,
        worker_id: str,
        lease: timedelta,
        retention: timedelta,
    ) -> None:
        self._repository = repository
        self._announcer = announcer
        self._worker_id = worker_id
        self._lease = lease
        self._retention = retention

    async def claim_next(self, lane: Lane) -> Job | None:
        """Claim the next due request of `lane` (fairly across owners); None if none."""
        job = await self._repository.claim_next(lane, self._worker_id, self._lease)
        if job is not None:
            started = job.record.started_at or job.due_since
            waited = max((started - job.due_since).total_seconds(), 0.0)
            await self._announcer.announce(Transition.CLAIMED, job.record, waited_seconds=waited)
        return job

    async def heartbeat(self, claimed: ReportRecord) -> bool:
        """Extend the lease (no new state: nothing to announce); False once not held."""
        return await self._repository.heartbeat(claimed, self._lease)

    async def progress(self, claimed: ReportRecord, progress: Progress) -> bool:
        """Extend the lease and show `progress`; False once not held."""
        record = await self._repository.progress(claimed, self._lease, progress)
        if record is None:
            return False
        await self._announcer.announce(Transition.PROGRESSED, record)
        return True

    async def complete(self, claimed: ReportRecord, artifact: Artifact) -> ReportRecord | None:
        """Record the job `done` with its file."""
        done = await self._repository.complete(claimed, artifact, self._retention)
        if done is not None:
            await self._announcer.announce(Transition.DONE, done)
        return done

    async def retry(
        self, claimed: ReportRecord, code: ErrorCode, message: str, delay_seconds: float
    ) -> ReportRecord | None:
        """Queue the job again once `delay_seconds` have passed, its error visible."""
        delay = timedelta(seconds=delay_seconds)
        retrying = await self._repository.retry(claimed, code, message, delay)
        if retrying is not None:
            await self._announcer.announce(
                Transition.RETRIED, retrying, code=code, delay_seconds=delay_seconds
            )
        return retrying

    async def fail(
        self, claimed: ReportRecord, code: ErrorCode, message: str
    ) -> ReportRecord | None:
        """End the job as `error` and file its dead letter."""
        failed = await self._repository.fail(claimed, code, message)
        if failed is not None:
            await self._announcer.announce(Transition.DEAD_LETTERED, failed, code=code)
        return failed

    async def release(self, claimed: ReportRecord) -> ReportRecord | None:
        """Hand the job back at shutdown, its attempt uncounted, and wake another worker."""
        released = await self._repository.release(claimed)
        if released is not None:
            await self._announcer.announce(Transition.HANDED_BACK, released)
        return released

    async def file_holder(self, report_id: uuid.UUID) -> FileHolder | None:
        """The request's status, attempt and recorded file now (no change)."""
        return await self._repository.file_holder(report_id)
