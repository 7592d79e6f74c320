"""End to end: the metrics the real BFF and worker serve count exactly what happened.

The session's processes are shared with other tests, so every assertion is on the change
between a scrape before and one after this test's own requests: three reports run to
`done`, one fails for good in the worker (dead-lettered), one is refused by the BFF.
"""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import RunningSystem
from tests.support.api import bearer, table_request, wait_for

pytestmark = pytest.mark.e2e

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]

ROWS: list[Any] = [["Ação", 1, 1.5, True, "2026-01-01", "2026-01-01T00:00:00+00:00"]] * 5
POISON = "metrics-poison-"


async def scrape(url: str) -> Samples:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def delta(before: Samples, after: Samples) -> Callable[..., float]:
    return lambda name, **labels: total(after, name, **labels) - total(before, name, **labels)


@pytest.fixture
async def poison_on_claim(db: asyncpg.Connection) -> AsyncIterator[None]:
    """The BFF accepts only valid requests. To have one fail in the worker for good, without
    racing the worker's claim, a trigger empties the columns of requests titled POISON…
    as they are claimed: the worker's own validation then fails them (not retryable)."""
    await db.execute(
        f"""
        CREATE FUNCTION metrics_test_poison() RETURNS trigger AS $$
        BEGIN
            IF NEW.status = 'processing' AND NEW.title LIKE '{POISON}%' THEN
                NEW.parameters := '{{"rows": [[1]]}}';
            END IF;
            RETURN NEW;
        END $$ LANGUAGE plpgsql;
        CREATE TRIGGER metrics_test_poison BEFORE UPDATE ON report_requests
            FOR EACH ROW EXECUTE FUNCTION metrics_test_poison();
        """
    )
    try:
        yield
    finally:
        await db.execute(
            "DROP TRIGGER metrics_test_poison ON report_requests;"
            "DROP FUNCTION metrics_test_poison();"
        )


async def test_metrics_count_what_happened(system: RunningSystem, poison_on_claim: None) -> None:
    bff_url, worker_url = f"{system.base_url}/metrics", system.worker_metrics_url
    bff_before, worker_before = await scrape(bff_url), await scrape(worker_url)
    headers = bearer(f"e2e-metrics-{uuid.uuid4().hex[:8]}")
    async with httpx.AsyncClient(base_url=system.base_url, timeout=10) as client:
        ids = []
        for fmt, title in [("csv", "ok"), ("xlsx", "ok"), ("pdf", "ok"), ("csv", POISON + "1")]:
            created = await client.post(
                "/v1/reports", json=table_request(fmt, ROWS, title), headers=headers
            )
            assert created.status_code == 201, created.text
            ids.append(created.json()["requestId"])
        refused = await client.post(
            "/v1/reports", json=table_request("docx", ROWS), headers=headers
        )
        assert (refused.status_code, refused.json()["code"]) == (422, "UNSUPPORTED_FORMAT")
        statuses = [await wait_for(client, rid, headers) for rid in ids]
    assert [s["status"] for s in statuses] == ["done", "done", "done", "error"]
    assert statuses[-1]["errorCode"] == "INVALID_PARAMETERS"

    # The worker counts an outcome just after recording it: give it a moment.
    deadline = time.monotonic() + 10
    while True:
        worker_after = await scrape(worker_url)
        worker = delta(worker_before, worker_after)
        settled = worker("relatoria_jobs_total", outcome="done") >= 3 and worker(
            "relatoria_jobs_total", outcome="dead_lettered"
        )
        idle = total(worker_after, "relatoria_jobs_in_flight") == 0
        if (settled and idle) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)

    lane = {"lane": "interactive"}
    assert worker("relatoria_jobs_total", outcome="done", error_code="", **lane) == 3
    assert worker("relatoria_jobs_total", outcome="dead_lettered") == 1
    assert (
        worker(
            "relatoria_jobs_total",
            outcome="dead_lettered",
            error_code="INVALID_PARAMETERS",
            **lane,
        )
        == 1
    )
    assert worker("relatoria_dead_letters_total", error_code="INVALID_PARAMETERS", **lane) == 1
    assert worker("relatoria_jobs_total", outcome="retried") == 0
    for fmt in ("csv", "xlsx", "pdf"):
        assert worker("relatoria_render_duration_seconds_count", format=fmt) == 1
        assert worker("relatoria_upload_duration_seconds_count", format=fmt) == 1
        assert worker("relatoria_artifact_size_bytes_count", format=fmt) == 1
        assert worker("relatoria_artifact_rows_sum", format=fmt) == len(ROWS)
    assert worker("relatoria_job_queued_seconds_count", **lane) == 4
    assert total(worker_after, "relatoria_jobs_in_flight", **lane) == 0
    assert ("relatoria_oldest_queued_request_age_seconds", frozenset(lane.items())) in worker_after

    bff_after = await scrape(bff_url)
    bff = delta(bff_before, bff_after)
    assert bff("relatoria_reports_accepted_total", report_type="table", format="csv") == 2
    assert bff("relatoria_reports_accepted_total", report_type="table", format="xlsx") == 1
    assert bff("relatoria_reports_accepted_total", report_type="table", format="pdf") == 1
    assert bff("relatoria_reports_accepted_total") == 4
    assert bff("relatoria_reports_rejected_total", code="UNSUPPORTED_FORMAT") == 1
    assert bff("relatoria_reports_rejected_total") == 1
    post = {"method": "POST", "route": "/v1/reports"}
    assert bff("relatoria_http_requests_total", status="201", **post) == 4
    assert bff("relatoria_http_requests_total", status="422", **post) == 1
    assert bff("relatoria_http_request_duration_seconds_count", **post) == 5
    polls = {"method": "GET", "route": "/v1/reports/{report_id}", "status": "200"}
    assert bff("relatoria_http_requests_total", **polls) >= 4
    # A scrape does not count itself, and no request id ever becomes a label.
    assert bff("relatoria_http_requests_total", route="/metrics") == 0
    assert not any(rid in str(key) for key in bff_after for rid in ids)


async def test_unmatched_paths_share_one_label(system: RunningSystem) -> None:
    async with httpx.AsyncClient(base_url=system.base_url, timeout=10) as client:
        before = await scrape(f"{system.base_url}/metrics")
        for _ in range(3):
            assert (await client.get(f"/no/such/{uuid.uuid4()}")).status_code == 404
        after = await scrape(f"{system.base_url}/metrics")
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    assert delta(before, after)("relatoria_http_requests_total", **unmatched) == 3
    assert not any("/no/such" in str(labels) for _, labels in after)
