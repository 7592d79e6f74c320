"""The BFF's HTTP metrics: requests labelled by route template (any unknown path is one
`unmatched` label), refusals of report requests by their error code, and `/metrics`
served by the app itself, without any backing service."""

import uuid

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from starlette.routing import Route, Router
from starlette.types import Receive, Scope, Send

from relatoria_bff.app import create_app
from relatoria_bff.metrics import BffMetrics
from relatoria_bff.request_telemetry import RequestTelemetry, error_code, route_template
from relatoria_shared.settings import Settings

pytestmark = pytest.mark.unit

# Nothing listens there: a route that needed a connection would fail.
UNREACHABLE = {
    "database_url": "postgresql+asyncpg://nobody@127.0.0.1:9/none",
    "amqp_url": "amqp://nobody:nobody@127.0.0.1:9/",
    "redis_url": "redis://127.0.0.1:9/0",
}


@pytest.fixture
def app() -> FastAPI:
    settings = Settings(jwt_secret="s" * 40, max_body_bytes=2048, **UNREACHABLE)
    return create_app(settings)


async def served(app: FastAPI) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://bff"
    ) as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def requests_of(samples: dict[tuple[str, frozenset[tuple[str, str]]], float]) -> dict[str, float]:
    return {
        "{method} {route} {status}".format(**dict(labels)): value
        for (name, labels), value in samples.items()
        if name == "relatoria_http_requests_total"
    }


async def test_requests_count_under_their_route_template(app: FastAPI) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://bff"
    ) as c:
        assert (await c.get("/healthz")).status_code == 200
        assert (await c.get("/v1/report-types")).status_code == 200
        assert (await c.get("/generate")).status_code == 405  # the path's route, not its method
        for _ in range(5):
            assert (await c.get(f"/v1/nothing/{uuid.uuid4()}")).status_code == 404
    assert requests_of(await served(app)) == {
        "GET /healthz 200": 1,
        "GET /v1/report-types 200": 1,
        "GET /generate 405": 1,
        "GET unmatched 404": 5,  # one label however many paths: cardinality stays bounded
    }


async def test_metrics_is_served_without_backing_services_and_uncounted(app: FastAPI) -> None:
    await served(app)
    samples = await served(app)
    assert requests_of(samples) == {}
    assert ("process_cpu_seconds_total", frozenset()) in samples
    assert "/metrics" not in app.openapi()["paths"]


async def test_an_oversized_report_request_counts_as_rejected_under_its_route(
    app: FastAPI,
) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://bff"
    ) as c:
        for path in ("/v1/reports", "/generate"):
            response = await c.post(path, content=b"x" * 5000)
            assert (response.status_code, response.json()["code"]) == (413, "PAYLOAD_TOO_LARGE")
    samples = await served(app)
    assert requests_of(samples) == {"POST /v1/reports 413": 1, "POST /generate 413": 1}
    too_large = frozenset({("code", "PAYLOAD_TOO_LARGE")})
    assert samples[("relatoria_reports_rejected_total", too_large)] == 2


async def test_an_app_that_dies_counts_as_a_500() -> None:
    metrics = BffMetrics()

    async def dying(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("boom")

    router = Router(routes=[Route("/v1/reports/{report_id}", dying)])
    middleware = RequestTelemetry(dying, metrics, [router], frozenset(), traces_recorded=False)
    scope: Scope = {"type": "http", "method": "GET", "path": "/v1/reports/42", "headers": []}
    with pytest.raises(RuntimeError):
        await middleware(scope, None, None)
    sample = metrics.http_requests.labels("GET", "/v1/reports/{report_id}", "500")
    assert sample._value.get() == 1


def test_route_templates_and_error_codes_stay_bounded() -> None:
    router = Router(routes=[Route("/a/{x}", lambda r: None, methods=["GET"])])

    def scope(method: str, path: str) -> Scope:
        return {"type": "http", "method": method, "path": path, "root_path": ""}

    assert route_template([router], scope("GET", "/a/1")) == "/a/{x}"
    assert route_template([router], scope("POST", "/a/1")) == "/a/{x}"
    assert route_template([router], scope("GET", "/a/1/b")) == "unmatched"
    assert error_code(b'{"code": "UNSUPPORTED_FORMAT"}') == "UNSUPPORTED_FORMAT"
    assert error_code(b'{"code": "a caller\'s text"}') == "OTHER"
    assert error_code(b"not json") == "OTHER"
    assert error_code(b"[1]") == "OTHER"
