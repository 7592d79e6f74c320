"""When a failed report is tried again, and when it is given up: a pure policy.

Delays grow exponentially per attempt up to a cap. RabbitMQ does the waiting: a retry is
parked in a delay queue whose messages all share one TTL, then dead-lettered back to the
work queue. Jitter comes from several such queues per level (`JITTER_BUCKETS` delays
spread over the last `jitter` fraction of the level), one picked at random per retry:
messages in one queue expire in order, so per-message TTLs would lose their jitter behind
the message at the head.
"""

import random
from dataclasses import dataclass

from relatoria_shared.domain.errors import ErrorCode

JITTER_BUCKETS = 4


@dataclass(frozen=True)
class Retry:
    """Try again after `delay_seconds` (the delay of one of the delay queues)."""

    delay_seconds: float


@dataclass(frozen=True)
class GiveUp:
    """Do not try again; the request ends as `error` and is dead-lettered."""

    reason: str


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with a cap, jitter, and a bound on attempts."""

    base_seconds: float = 2.0
    factor: float = 3.0
    cap_seconds: float = 300.0
    jitter: float = 0.2
    max_attempts: int = 5

    def level_seconds(self, attempt: int) -> float:
        """The delay level after failed attempt number `attempt` (1-based)."""
        return min(self.cap_seconds, self.base_seconds * self.factor ** (attempt - 1))

    def buckets(self, level: float) -> list[float]:
        """The jittered delays of one level, longest first (whole milliseconds)."""
        count = JITTER_BUCKETS if self.jitter > 0 else 1
        spread = [self.jitter * i / max(1, count - 1) for i in range(count)]
        return [round(level * (1 - s), 3) for s in spread]

    def levels(self) -> list[float]:
        """Every distinct delay a retry can wait: one delay queue each."""
        levels = {self.level_seconds(a) for a in range(1, self.max_attempts)}
        return sorted({delay for level in levels for delay in self.buckets(level)})

    def decide(
        self,
        code: ErrorCode,
        attempt: int,
        max_attempts: int | None = None,
        rng: random.Random | None = None,
    ) -> Retry | GiveUp:
        """What to do after attempt number `attempt` failed with `code`; a request's own
        `max_attempts`, when given, overrides the policy's."""
        if not code.retryable:
            return GiveUp(f"{code.value} is not retryable")
        if attempt >= (max_attempts or self.max_attempts):
            return GiveUp(f"gave up after {attempt} attempts")
        buckets = self.buckets(self.level_seconds(attempt))
        return Retry(delay_seconds=(rng or random).choice(buckets))
