"""The backoff policy: exponential, capped, jittered, bounded."""

import random

import pytest

from relatoria_shared.domain.errors import ErrorCode
from relatoria_shared.domain.retry_policy import GiveUp, Retry, RetryPolicy

pytestmark = pytest.mark.unit

POLICY = RetryPolicy(base_seconds=2, factor=3, cap_seconds=60, jitter=0.2, max_attempts=5)


def test_levels_grow_exponentially_up_to_the_cap() -> None:
    assert [POLICY.level_seconds(a) for a in range(1, 6)] == [2, 6, 18, 54, 60]
    # Attempt 5 is the last: no delay after it. Each level has 4 jitter buckets.
    assert POLICY.buckets(6) == [6, 5.6, 5.2, 4.8]
    assert POLICY.levels() == sorted(d for level in (2, 6, 18, 54) for d in POLICY.buckets(level))


def test_retryable_errors_retry_within_the_jitter_band() -> None:
    rng = random.Random(7)
    delays = []
    for _ in range(200):
        decision = POLICY.decide(ErrorCode.STORAGE_ERROR, attempt=2, rng=rng)
        assert isinstance(decision, Retry)
        delays.append(decision.delay_seconds)
    assert set(delays) == {6, 5.6, 5.2, 4.8}  # spread over the level's buckets


def test_non_retryable_errors_and_exhausted_attempts_give_up() -> None:
    assert isinstance(POLICY.decide(ErrorCode.INVALID_PARAMETERS, attempt=1), GiveUp)
    assert isinstance(POLICY.decide(ErrorCode.TOO_LARGE, attempt=1), GiveUp)
    assert isinstance(POLICY.decide(ErrorCode.TIMEOUT, attempt=1), GiveUp)
    exhausted = POLICY.decide(ErrorCode.STORAGE_ERROR, attempt=5)
    assert isinstance(exhausted, GiveUp)
    assert "5 attempts" in exhausted.reason


def test_a_single_attempt_policy_has_no_levels() -> None:
    assert RetryPolicy(max_attempts=1).levels() == []


def test_no_jitter_means_one_queue_per_level() -> None:
    assert RetryPolicy(base_seconds=1, factor=2, jitter=0, max_attempts=3).levels() == [1, 2]


def test_a_requests_own_attempt_budget_wins() -> None:
    assert isinstance(POLICY.decide(ErrorCode.STORAGE_ERROR, attempt=1, max_attempts=1), GiveUp)
    assert isinstance(POLICY.decide(ErrorCode.STORAGE_ERROR, attempt=1, max_attempts=2), Retry)
