"""What follows every state change, in order: mirror the status document to the cache
and publish it on the status feed (one Redis call), do the transition's messaging, count
its metric. Whoever waits for a change (a long poll, an event stream) listens to the feed.

Webhooks are the one consequence not done here: a report's end records its deliveries in
PostgreSQL, in the statement's own transaction (migration 0007's trigger on the status
column), so that a crash after the commit cannot lose them, and no path that ends a
report can forget them; the workers' relay sends them from there.

One transition is lighter, because it is the hot path: `ACCEPTED`. Its wake-up is the
notification the recording statement sent (`db.wake_channel`), and its status document,
the POST's own answer, is cached by the first read that misses it (a version-checked
put like any other), not by the POST: the POST itself writes nothing to the cache.
"""

import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from relatoria_shared.domain.errors import ErrorCode
from relatoria_shared.domain.report import ReportRecord
from relatoria_shared.domain.status_document import StatusDocument, status_document

log = logging.getLogger(__name__)


class Transition(StrEnum):
    """A kind of state change."""

    ACCEPTED = "accepted"  # recorded as queued (POST)
    CLAIMED = "claimed"  # queued -> processing
    PROGRESSED = "progressed"  # processing, more rows written
    DONE = "done"  # processing -> done
    RETRIED = "retried"  # processing -> queued after its backoff delay
    DEAD_LETTERED = "dead_lettered"  # processing -> error
    HANDED_BACK = "handed_back"  # processing -> queued at shutdown, attempt uncounted
    TAKEN_BACK = "taken_back"  # processing -> queued, its worker dead or silent
    ABANDONED = "abandoned"  # processing -> error, its worker dead, no attempts left
    CANCELLED = "cancelled"  # queued|processing|done -> cancelled by its owner
    EXPIRED = "expired"  # done -> expired, its file deleted after its retention
    REPLAYED = "replayed"  # error -> queued with a fresh round of attempts
    REQUEUED = "requeued"  # queued, woken again by an operator


@dataclass(frozen=True)
class FinishedJob:
    """A job that ended (done, or failed for good) in `lane` after `seconds` of work."""

    lane: str
    seconds: float


class StatusMirror(Protocol):
    """Where status documents are mirrored and published (the Redis status cache and its
    feed)."""

    async def announce(self, document: StatusDocument, finished: FinishedJob | None = None) -> bool:
        """Store `document` unless a newer version is there, and publish it if stored; a
        job that `finished` counts in its lane's recent throughput."""
        ...


class Messenger(Protocol):
    """The messaging a transition does (RabbitMQ). Never raises: an unconfirmed message is
    logged, and PostgreSQL still says what is pending."""

    async def wake(self, record: ReportRecord) -> None:
        """Wake a worker of the request's lane."""
        ...

    async def park(self, record: ReportRecord, delay_seconds: float) -> None:
        """Wake a worker of the request's lane after `delay_seconds`."""
        ...

    async def dead_letter(self, record: ReportRecord) -> None:
        """File the dead letter of a request that ended as `error`."""
        ...


class TransitionMetrics(Protocol):
    """Counts state changes (each service counts those it cares about)."""

    def transitioned(
        self,
        transition: Transition,
        record: ReportRecord,
        code: ErrorCode | None = None,
        waited_seconds: float | None = None,
    ) -> None:
        """Count one `transition` of `record` (`code`: a failure's; `waited_seconds`: a
        claim's time in the queue)."""
        ...


_WAKES = frozenset(
    {
        Transition.HANDED_BACK,
        Transition.TAKEN_BACK,
        Transition.REPLAYED,
        Transition.REQUEUED,
    }
)
_DEAD_LETTERS = frozenset({Transition.DEAD_LETTERED, Transition.ABANDONED})
_UNMIRRORED = frozenset({Transition.ACCEPTED})  # see the module's docstring
_ENDS_OF_WORK = frozenset({Transition.DONE, Transition.DEAD_LETTERED})


def _finished(transition: Transition, record: ReportRecord) -> FinishedJob | None:
    """The work a job ended after, to count in its lane's throughput (queue estimates)."""
    if transition not in _ENDS_OF_WORK or not record.started_at or not record.finished_at:
        return None
    seconds = (record.finished_at - record.started_at).total_seconds()
    return FinishedJob(record.lane.value, max(seconds, 0.0))


class Announcer:
    """Mirrors, messages and counts each state change."""

    def __init__(
        self, mirror: StatusMirror, messenger: Messenger, metrics: TransitionMetrics
    ) -> None:
        self._mirror = mirror
        self._messenger = messenger
        self._metrics = metrics

    async def announce(
        self,
        transition: Transition,
        record: ReportRecord,
        *,
        code: ErrorCode | None = None,
        delay_seconds: float | None = None,
        waited_seconds: float | None = None,
    ) -> None:
        """Everything that follows `transition` of `record` once PostgreSQL has it. Never
        raises: the change is recorded already, and a caller going through a batch (the
        sweeper's) must go on with the rest. What is lost is recovered elsewhere: a stale
        cache entry is refreshed by the next version, a lost wake-up by idle workers
        claiming what is due."""
        try:
            if transition not in _UNMIRRORED:
                await self._mirror.announce(status_document(record), _finished(transition, record))
            if transition in _WAKES:
                await self._messenger.wake(record)
            elif transition is Transition.RETRIED:
                await self._messenger.park(record, delay_seconds or 0.0)
            elif transition in _DEAD_LETTERS:
                await self._messenger.dead_letter(record)
        except Exception:
            log.exception(
                "announcing a state change failed; it is recorded",
                extra={"request_id": str(record.id), "transition": transition.value},
            )
        self._metrics.transitioned(transition, record, code, waited_seconds)
