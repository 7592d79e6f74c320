"""The sweeper's, the retention cleanup's and the operators' state changes."""

import uuid
from collections.abc import Collection
from datetime import datetime, timedelta

from relatoria_shared.db.maintenance import Delete, MaintenanceRepository
from relatoria_shared.domain.artifact_keys import FileHolder
from relatoria_shared.domain.errors import ErrorCode
from relatoria_shared.domain.lanes import Lane
from relatoria_shared.domain.report import ReportRecord
from relatoria_shared.domain.retry_policy import Retry, RetryPolicy
from relatoria_shared.transitions.announce import Announcer, Transition

WORKER_LOST = "the worker running this report stopped (a crash, or out of memory)"


class MaintenanceTransitions:
    """Take back abandoned jobs, expire old files, replay and requeue requests."""

    def __init__(
        self,
        repository: MaintenanceRepository,
        announcer: Announcer,
        policy: RetryPolicy,
        lease: timedelta,
    ) -> None:
        self._repository = repository
        self._announcer = announcer
        self._policy = policy
        self._lease = lease

    async def take_back_abandoned(self, limit: int) -> tuple[int, int]:
        """Queue again, at once, the jobs of dead or silent workers that have attempts
        left (the retry policy decides); end the others as `error`. Returns the counts."""

        def gives_up(attempts: int, max_attempts: int) -> bool:
            decision = self._policy.decide(ErrorCode.INTERNAL_ERROR, attempts, max_attempts)
            return not isinstance(decision, Retry)

        requeued, failed = await self._repository.take_back_abandoned(
            limit, WORKER_LOST, gives_up, self._lease
        )
        for record in requeued:
            await self._announcer.announce(
                Transition.TAKEN_BACK, record, code=ErrorCode.INTERNAL_ERROR
            )
        for record in failed:
            await self._announcer.announce(
                Transition.ABANDONED, record, code=ErrorCode.INTERNAL_ERROR
            )
        return len(requeued), len(failed)

    async def stamp_missing_expiry(self, retention: timedelta) -> int:
        """Give `done` requests finished before expiries were stamped their expiry (no
        visible change of state: the documents are refreshed when they expire)."""
        return await self._repository.stamp_missing_expiry(retention)

    async def expire_due(
        self,
        limit: int,
        *,
        delete: Delete,
        skip: Collection[uuid.UUID],
        now: datetime | None,
    ) -> tuple[int, list[uuid.UUID]]:
        """Delete due files and mark their requests `expired`: (expired, ids not deleted)."""
        expired, failed = await self._repository.expire_due(
            limit, delete=delete, skip=skip, now=now
        )
        for record in expired:
            await self._announcer.announce(Transition.EXPIRED, record)
        return len(expired), failed

    async def replay(
        self,
        *,
        report_id: uuid.UUID | None = None,
        report_type: str | None = None,
        error_code: str | None = None,
    ) -> list[ReportRecord]:
        """Give the chosen `error` requests a fresh round of attempts and wake workers."""
        replayed = await self._repository.replay(
            report_id=report_id, report_type=report_type, error_code=error_code
        )
        for record in replayed:
            await self._announcer.announce(Transition.REPLAYED, record)
        return replayed

    async def oldest_queued_ages(self) -> dict[Lane, float]:
        """Per lane, seconds since its oldest due `queued` request became due (a read)."""
        return await self._repository.oldest_queued_ages()

    async def file_holders(self, report_ids: list[uuid.UUID]) -> dict[uuid.UUID, FileHolder]:
        """What each of `report_ids` says about its stored files (a read)."""
        return await self._repository.file_holders(report_ids)

    async def delete_parameters(self, report_ids: list[uuid.UUID]) -> int:
        """Delete the inline data of those `error` requests no replay will need (no change
        of status: nothing to announce)."""
        return await self._repository.delete_parameters(report_ids)

    async def delete_old_error_parameters(self, older_than: timedelta, limit: int) -> int:
        """Delete the inline data of `error` requests older than `older_than` (no change
        of status: nothing to announce)."""
        return await self._repository.delete_old_error_parameters(older_than, limit)

    async def requeue(self, record: ReportRecord) -> None:
        """Wake a worker for a `queued` request again (a duplicate wake-up is harmless)."""
        await self._announcer.announce(Transition.REQUEUED, record)
