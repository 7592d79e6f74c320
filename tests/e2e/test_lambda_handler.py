"""The BFF behind API Gateway and Lambda: the Mangum handler invoked with real events.

Each call is one Lambda invocation, made from one thread as the Lambda runtime makes them,
against this run's real PostgreSQL, RabbitMQ, Redis and S3, with the real worker process
rendering what the handler accepts.
"""

import json
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from relatoria_bff.lambda_handler import LambdaHandler
from relatoria_shared.settings import Settings
from tests.conftest import RunningSystem
from tests.support.api import bearer, table_request

pytestmark = pytest.mark.e2e

ROWS = [["Ana", 1, 2.5, True, "2026-01-31", None], ["Bruno", 2, 3.0, False, None, None]]


class Invoker:
    """Invokes a `LambdaHandler` as the Lambda runtime does: one thread, one at a time."""

    def __init__(self, settings: Settings) -> None:
        self._thread = ThreadPoolExecutor(max_workers=1)
        self.handler = self._thread.submit(LambdaHandler, settings).result()

    def __call__(self, event: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self._thread.submit(self.handler, event, None).result()
        return result

    def close(self) -> None:
        self._thread.submit(self.handler.close).result()
        self._thread.shutdown()


def rest_api_event(
    method: str, path: str, headers: dict[str, str], body: Any = None
) -> dict[str, Any]:
    """An API Gateway REST API (payload 1.0) proxy event."""
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": headers | {"Host": "api.example.com", "Content-Type": "application/json"},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": f"/prod{path}",
            "stage": "prod",
            "identity": {"sourceIp": "203.0.113.7"},
        },
        "body": None if body is None else json.dumps(body),
        "isBase64Encoded": False,
    }


def http_api_event(method: str, path: str, headers: dict[str, str]) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event."""
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {k.lower(): v for k, v in headers.items()} | {"host": "api.example.com"},
        "requestContext": {
            "http": {"method": method, "path": path, "sourceIp": "203.0.113.7"},
            "stage": "$default",
        },
        "isBase64Encoded": False,
    }


@pytest.fixture
def invoke(settings: Settings, system: RunningSystem) -> Iterator[Invoker]:
    """A fresh (cold) Lambda process's handler; the run's worker renders what it accepts."""
    invoker = Invoker(settings)
    try:
        yield invoker
    finally:
        invoker.close()


def test_a_cold_handler_connects_to_nothing_until_a_request_needs_it(invoke: Invoker) -> None:
    assert invoke.handler.resources.opened is None
    alive = invoke(http_api_event("GET", "/healthz", {}))
    assert alive["statusCode"] == 200
    assert json.loads(alive["body"]) == {"status": "ok"}
    assert invoke.handler.resources.opened is None  # a liveness ping opens no connection

    ready = invoke(http_api_event("GET", "/readyz", {}))
    assert ready["statusCode"] == 200, ready["body"]
    assert invoke.handler.resources.opened is not None


def test_reports_requested_through_lambda_are_rendered_and_downloadable(invoke: Invoker) -> None:
    headers = bearer(f"lambda-{uuid.uuid4().hex[:8]}")
    created = invoke(rest_api_event("POST", "/v1/reports", headers, table_request("csv", ROWS)))
    assert created["statusCode"] == 201, created["body"]
    report_id = json.loads(created["body"])["requestId"]
    opened = invoke.handler.resources.opened
    assert opened is not None

    deadline = time.monotonic() + 30
    document: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status = invoke(http_api_event("GET", f"/v1/reports/{report_id}", headers))
        assert status["statusCode"] == 200, status["body"]
        document = json.loads(status["body"])
        if document["status"] == "done":
            break
        time.sleep(0.2)
    assert document["status"] == "done", document

    # Every warm invocation reused the connections the first request opened.
    assert invoke.handler.resources.opened is opened
    assert not opened.connections.pool.is_closing()
    assert opened.connections.broker is None  # the BFF uses no broker

    download = invoke(rest_api_event("GET", f"/v1/reports/{report_id}/download", headers))
    assert download["statusCode"] == 302
    location = {k.lower(): v for k, v in download["headers"].items()}["location"]
    content = httpx.get(location).text
    assert content.splitlines()[1].startswith("Ana,1,2.5")


def test_bad_input_through_lambda_gets_the_same_4xx_codes(invoke: Invoker) -> None:
    headers = bearer(f"lambda-{uuid.uuid4().hex[:8]}")
    missing_token = invoke(rest_api_event("POST", "/v1/reports", {}, table_request("csv", ROWS)))
    assert missing_token["statusCode"] == 401
    assert json.loads(missing_token["body"])["code"] == "UNAUTHORIZED"

    bad = table_request("csv", ROWS) | {"format": "docx"}
    rejected = invoke(rest_api_event("POST", "/v1/reports", headers, bad))
    assert rejected["statusCode"] == 422
    assert json.loads(rejected["body"])["code"] == "UNSUPPORTED_FORMAT"


def test_through_lambda_a_post_may_wait_and_event_streams_are_refused(invoke: Invoker) -> None:
    headers = bearer(f"lambda-{uuid.uuid4().hex[:8]}")
    waited = invoke(
        rest_api_event(
            "POST", "/v1/reports", headers | {"Prefer": "wait=20"}, table_request("csv", ROWS)
        )
    )
    assert waited["statusCode"] == 201, waited["body"]
    document = json.loads(waited["body"])
    assert document["status"] == "done", document
    assert httpx.get(document["downloadUrl"]).text.splitlines()[1].startswith("Ana,1,2.5")

    for path in ("/v1/reports/events", f"/v1/reports/{document['requestId']}/events"):
        refused = invoke(http_api_event("GET", path, headers))
        assert refused["statusCode"] == 501, refused["body"]
        assert json.loads(refused["body"])["code"] == "STREAMING_UNSUPPORTED"
