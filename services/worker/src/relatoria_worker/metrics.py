"""The worker's Prometheus metrics, and the HTTP endpoint that serves them.

`WorkerMetrics` holds every metric on a registry of its own: `run_worker` builds one and
hands it to the job runner, the consumers and the sweeper; tests build their own and read
it. Labels are bounded: lanes, formats, outcomes, error codes and sweep reasons are closed
sets; no request id or owner is ever a label.
"""

import logging
from collections.abc import Iterable
from enum import StrEnum
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    start_http_server,
)

from relatoria_shared.domain.errors import ErrorCode
from relatoria_shared.domain.formats import ReportFormat
from relatoria_shared.domain.lanes import Lane
from relatoria_shared.domain.report import ReportRecord
from relatoria_shared.transitions.announce import Transition

log = logging.getLogger(__name__)

DURATION_BUCKETS = (
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800,
    2700, 3600,
)  # fmt: skip
"""Seconds, 10 ms to an hour (the default job time limit): a one-page PDF to a long
export."""
QUEUED_BUCKETS = DURATION_BUCKETS
SIZE_BUCKETS = tuple(1024 * 4**i for i in range(11))
"""Bytes, 1 KiB to 1 GiB by factors of 4."""
ROW_BUCKETS = (0, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000)


class Outcome(StrEnum):
    """How one delivery of a job ended, as far as this worker is concerned."""

    DONE = "done"
    RETRIED = "retried"  # failed, back to `queued` until its backoff delay has passed
    DEAD_LETTERED = "dead_lettered"  # failed for good: `error`, and a dead letter
    CANCELLED = "cancelled"  # its owner cancelled it while it ran
    HANDED_BACK = "handed_back"  # shutdown: back to the queue, its attempt uncounted
    CLAIM_LOST = "claim_lost"  # another worker took it over after a lease expiry
    SKIPPED = "skipped"  # not claimable: a duplicate or late delivery


class WorkerMetrics:
    """Every metric the worker exports, on `registry`."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        """Without a registry, a private one: metrics that are counted but not served."""
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.jobs = Counter(
            "relatoria_jobs_total",
            "Job deliveries by how they ended (error_code: the failure's code, or empty).",
            ["lane", "outcome", "error_code"],
            registry=r,
        )
        self.render_duration = Histogram(
            "relatoria_render_duration_seconds",
            "Time to render a report's file (rows read, drawn and written), successful ones.",
            ["format"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.upload_duration = Histogram(
            "relatoria_upload_duration_seconds",
            "Time from the rendered file to its upload completed (files uploaded while "
            "rendered: the last part and the completion only).",
            ["format"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.queued = Histogram(
            "relatoria_job_queued_seconds",
            "Time from a request becoming due (created, or its retry delay over) to its claim.",
            ["lane"],
            buckets=QUEUED_BUCKETS,
            registry=r,
        )
        self.artifact_size = Histogram(
            "relatoria_artifact_size_bytes",
            "Size of finished reports' files.",
            ["format"],
            buckets=SIZE_BUCKETS,
            registry=r,
        )
        self.artifact_rows = Histogram(
            "relatoria_artifact_rows",
            "Rows in finished reports.",
            ["format"],
            buckets=ROW_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge(
            "relatoria_jobs_in_flight", "Claimed jobs this worker is running.", ["lane"], registry=r
        )
        self.retries = Counter(
            "relatoria_job_retries_total",
            "Failed attempts scheduled for another attempt (by a worker or the sweeper).",
            ["lane", "error_code"],
            registry=r,
        )
        self.dead_letters = Counter(
            "relatoria_dead_letters_total",
            "Requests that ended as `error` and were dead-lettered (by a worker or the sweeper).",
            ["lane", "error_code"],
            registry=r,
        )
        self.lease_expiries = Counter(
            "relatoria_lease_expiries_total",
            "Processing requests taken back from a dead worker (liveness lock released) or a "
            "silent one (lease expired), requeued or failed by the sweeper.",
            registry=r,
        )
        self.oldest_queued_age = Gauge(
            "relatoria_oldest_queued_request_age_seconds",
            "Age of the oldest due `queued` request since it became due (0: none), per lane; "
            "refreshed by every sweep.",
            ["lane"],
            registry=r,
        )
        self.webhook_attempts = Counter(
            "relatoria_webhook_attempts_total",
            "Webhook delivery attempts by how they ended: delivered, retried (to be tried "
            "again after its backoff) or dead (given up, replayable).",
            ["outcome"],
            registry=r,
        )
        self.webhook_duration = Histogram(
            "relatoria_webhook_attempt_duration_seconds",
            "Time from sending a webhook to its answer (or the failure).",
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        for webhook_outcome in ("delivered", "retried", "dead"):
            self.webhook_attempts.labels(webhook_outcome)
        # Every series a rate() or an alert reads exists from the start, at 0: a counter
        # first seen at 1 would read as no increase.
        codes = ["", *(code.value for code in ErrorCode)]
        for lane in Lane:
            self.in_flight.labels(lane.value)
            self.oldest_queued_age.labels(lane.value)
            for code in codes:
                self.retries.labels(lane.value, code)
                self.dead_letters.labels(lane.value, code)
                for outcome in Outcome:
                    self.jobs.labels(lane.value, outcome.value, code)

    def job_finished(self, lane: Lane, outcome: Outcome, code: ErrorCode | None = None) -> None:
        """Count a job's outcome (and a retry or dead letter, for those outcomes)."""
        error_code = code.value if code is not None else ""
        self.jobs.labels(lane.value, outcome.value, error_code).inc()
        if outcome is Outcome.RETRIED:
            self.retries.labels(lane.value, error_code).inc()
        elif outcome is Outcome.DEAD_LETTERED:
            self.dead_letters.labels(lane.value, error_code).inc()

    def transitioned(
        self,
        transition: Transition,
        record: ReportRecord,
        code: ErrorCode | None = None,
        waited_seconds: float | None = None,
    ) -> None:
        """Count the state changes a worker makes (`TransitionMetrics`)."""
        lane = record.lane
        if transition is Transition.CLAIMED and waited_seconds is not None:
            self.queued.labels(lane.value).observe(waited_seconds)
        elif transition is Transition.DONE:
            self.job_finished(lane, Outcome.DONE)
            if record.artifact is not None:
                self.artifact_recorded(
                    record.format, record.artifact.size_bytes, record.artifact.row_count
                )
        elif transition in _JOB_OUTCOMES:
            self.job_finished(lane, _JOB_OUTCOMES[transition], code)
        elif transition in (Transition.TAKEN_BACK, Transition.ABANDONED):
            # No job outcome: the worker that ran it never recorded one.
            self.lease_expiries.inc()
            error_code = code.value if code is not None else ""
            counter = self.retries if transition is Transition.TAKEN_BACK else self.dead_letters
            counter.labels(lane.value, error_code).inc()

    def file_stored(self, fmt: ReportFormat, render_seconds: float, upload_seconds: float) -> None:
        """Observe how long a file took to render, then to finish uploading."""
        self.render_duration.labels(fmt.value).observe(render_seconds)
        self.upload_duration.labels(fmt.value).observe(upload_seconds)

    def artifact_recorded(self, fmt: ReportFormat, size_bytes: int, rows: int) -> None:
        """Observe a finished report's file: its size and rows."""
        self.artifact_size.labels(fmt.value).observe(size_bytes)
        self.artifact_rows.labels(fmt.value).observe(rows)

    def oldest_queued(self, ages: Iterable[tuple[Lane, float]]) -> None:
        """Set each lane's oldest queued age (a lane not in `ages` has none: 0)."""
        oldest = dict.fromkeys(Lane, 0.0)
        for lane, age in ages:
            oldest[lane] = max(oldest[lane], age)
        for lane, age in oldest.items():
            self.oldest_queued_age.labels(lane.value).set(age)


_JOB_OUTCOMES = {
    Transition.RETRIED: Outcome.RETRIED,
    Transition.DEAD_LETTERED: Outcome.DEAD_LETTERED,
    Transition.HANDED_BACK: Outcome.HANDED_BACK,
}


def serve(registry: CollectorRegistry, port: int) -> WSGIServer:
    """Serve `registry` over HTTP on `port` in a thread of its own; `shutdown()` the
    server to stop."""
    server, _ = start_http_server(port, registry=registry)
    log.info("serving metrics", extra={"port": port, "path": "/metrics"})
    return server
