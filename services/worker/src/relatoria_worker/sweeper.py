"""The sweeper: takes back the jobs of dead and silent workers. Safe in every worker.

Each pass, under row locks other sweepers skip (`FOR UPDATE SKIP LOCKED`), `processing`
requests whose worker is gone (its liveness lock released: the process died) or silent
(its lease expired: a lost node, a partition) go back to `queued` at once and a worker is
woken, or end as `error` and are dead-lettered once out of attempts. A pass is one
indexed query when there is nothing to do, so it runs every second: a crashed worker's
jobs run again within about a second. The oldest queued request's age per lane (a gauge)
is refreshed every few passes.
"""

import asyncio
import logging
import time

from relatoria_shared.settings import Settings
from relatoria_shared.transitions.maintenance import MaintenanceTransitions
from relatoria_worker.metrics import WorkerMetrics

log = logging.getLogger(__name__)

BATCH = 200
GAUGE_EVERY_SECONDS = 5.0


class Sweeper:
    """One worker's share of the sweeping."""

    def __init__(
        self, *, settings: Settings, transitions: MaintenanceTransitions, metrics: WorkerMetrics
    ) -> None:
        self._settings = settings
        self._transitions = transitions
        self._metrics = metrics
        self._gauged_at = 0.0

    async def run(self) -> None:
        """Sweep every `sweep_interval_seconds` until cancelled; failures are logged."""
        while True:
            try:
                await self.sweep_once()
            except Exception:
                log.exception("sweep failed")
            await asyncio.sleep(self._settings.sweep_interval_seconds)

    async def sweep_once(self) -> dict[str, int]:
        """One pass; returns what it did (requeued, failed)."""
        requeued, failed = await self._transitions.take_back_abandoned(BATCH)
        if time.monotonic() - self._gauged_at >= GAUGE_EVERY_SECONDS:
            self._metrics.oldest_queued((await self._transitions.oldest_queued_ages()).items())
            self._gauged_at = time.monotonic()
        done = {"requeued": requeued, "failed": failed}
        if any(done.values()):
            log.info("sweep", extra=done)
        return done
