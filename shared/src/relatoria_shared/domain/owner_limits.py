"""Fair sharing between owners: the fair-queueing quantum and the per-owner limits.

Every owner has, per lane, a virtual clock. Each request an owner posts moves that clock
on by the lane's quantum (never behind the present), and the request is claimed in the
order of its clock value: a burst of a thousand from one owner is spread over a thousand
quanta, so another owner's single request, stamped with the present, runs after only the
few of the burst already due. Limits bound what one owner may have in flight (queued or
processing) in a lane, and how fast one owner may post (a token bucket).
"""

from dataclasses import dataclass

from relatoria_shared.domain.lanes import Lane


@dataclass(frozen=True)
class OwnerLimits:
    """Per-owner fairness and limits."""

    max_in_flight: int
    """Requests one owner may have queued or processing in one lane."""
    posts_per_second: float
    """The POST token bucket's refill rate."""
    post_burst: int
    """The token bucket's size: posts allowed at once after a quiet spell."""
    interactive_quantum_seconds: float
    bulk_quantum_seconds: float

    def quantum_seconds(self, lane: Lane) -> float:
        """How far one request moves its owner's clock in `lane`: about one job's time."""
        if lane is Lane.BULK:
            return self.bulk_quantum_seconds
        return self.interactive_quantum_seconds

    def seconds_until_token(self, tokens: float) -> float:
        """How long until a bucket holding `tokens` allows a post again."""
        return max(0.0, (1.0 - tokens) / self.posts_per_second)
