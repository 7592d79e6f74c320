"""When a failed report is tried again, and when it is given up: a pure policy.

Delays grow exponentially per attempt up to a cap. Each attempt's delay is a *level*:
RabbitMQ holds the message in that level's delay queue (message TTL) and dead-letters it
back to the work queue. Jitter shortens a message's own TTL by up to `jitter` of the
level's delay, so retries of a burst of failures spread out instead of returning at once.
"""

import random
from dataclasses import dataclass

from relatoria_shared.domain.errors import ErrorCode


@dataclass(frozen=True)
class Retry:
    """Try again after `delay_seconds`, waiting in the queue of `level_seconds`."""

    level_seconds: float
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

    def levels(self) -> list[float]:
        """Every distinct delay level, one delay queue each."""
        return sorted({self.level_seconds(a) for a in range(1, self.max_attempts)})

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
        level = self.level_seconds(attempt)
        spread = (rng or random).uniform(0, self.jitter * level)
        return Retry(level_seconds=level, delay_seconds=level - spread)
