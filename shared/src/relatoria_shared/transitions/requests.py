"""The BFF's state changes: accept a request (within its owner's limits), cancel one."""

import uuid

from relatoria_shared.db.requests import Cancelled, OverLimit, Recorded, RequestRepository
from relatoria_shared.domain.owner_limits import OwnerLimits
from relatoria_shared.domain.report import NewReport
from relatoria_shared.domain.request_errors import PostRateExceeded, TooManyInFlight
from relatoria_shared.transitions.announce import Announcer, Transition

IN_FLIGHT_RETRY_AFTER_SECONDS = 5.0
"""What a caller at its in-flight limit is told to wait: about a few small reports' time."""


class RequestTransitions:
    """Accept and cancel, for the BFF."""

    def __init__(
        self, repository: RequestRepository, announcer: Announcer, limits: OwnerLimits
    ) -> None:
        self._repository = repository
        self._announcer = announcer
        self._limits = limits

    async def accept(self, new: NewReport) -> Recorded:
        """Record `new` as `queued` and wake a worker; an idempotent replay comes back as it
        was recorded. Raises `TooManyInFlight` or `PostRateExceeded` over a limit."""
        recorded = await self._repository.record(new, self._limits)
        if isinstance(recorded, OverLimit):
            raise _refusal(recorded, self._limits)
        if recorded.created:
            await self._announcer.announce(Transition.ACCEPTED, recorded.record)
        return recorded

    async def cancel(self, report_id: uuid.UUID, owner_id: str) -> Cancelled | None:
        """Cancel the owner's queued, processing or done request; None if not cancellable.
        A running worker notices at its next heartbeat. The caller deletes the file it had
        recorded (`Cancelled.recorded_key`); should that fail, the cleanup removes it."""
        cancelled = await self._repository.cancel(report_id, owner_id)
        if cancelled is not None:
            await self._announcer.announce(Transition.CANCELLED, cancelled.record)
        return cancelled


def _refusal(over: OverLimit, limits: OwnerLimits) -> TooManyInFlight | PostRateExceeded:
    if over.in_flight >= limits.max_in_flight:
        return TooManyInFlight(
            f"{over.in_flight} of your reports are queued or processing in this lane, "
            f"the most allowed ({limits.max_in_flight}); wait for some to finish",
            retry_after_seconds=IN_FLIGHT_RETRY_AFTER_SECONDS,
            limit=limits.max_in_flight,
        )
    return PostRateExceeded(
        f"you are posting reports faster than {limits.posts_per_second:g} per second",
        retry_after_seconds=limits.seconds_until_token(over.tokens),
        limit=limits.posts_per_second,
    )
