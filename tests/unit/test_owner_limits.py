"""Fair sharing and per-owner limits: the pure part (quanta, when to try again)."""

import pytest

from relatoria_shared.domain.lanes import Lane
from relatoria_shared.domain.owner_limits import OwnerLimits

pytestmark = pytest.mark.unit

LIMITS = OwnerLimits(
    max_in_flight=10,
    posts_per_second=4.0,
    post_burst=8,
    interactive_quantum_seconds=0.1,
    bulk_quantum_seconds=60.0,
)


def test_each_lane_has_its_own_quantum() -> None:
    assert LIMITS.quantum_seconds(Lane.INTERACTIVE) == 0.1
    assert LIMITS.quantum_seconds(Lane.BULK) == 60.0


@pytest.mark.parametrize(("tokens", "wait"), [(0.0, 0.25), (0.5, 0.125), (1.0, 0.0), (3.0, 0.0)])
def test_a_refused_poster_is_told_when_a_token_is_back(tokens: float, wait: float) -> None:
    assert LIMITS.seconds_until_token(tokens) == pytest.approx(wait)
