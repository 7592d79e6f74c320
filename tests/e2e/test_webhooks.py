"""Signed, retried webhooks against the real BFF and worker processes and a real HTTP
receiver: every delivery verifies with the `standardwebhooks` library; a delivery answered
500 twice comes again with the same `webhook-id`; one that keeps failing is dead-lettered
and replayed by `relatoria-admin`; an event recorded while no worker runs is delivered once
one does (the outbox); unsafe URLs are refused, and a worker without the allow-list never
connects to a name that resolves to a loopback address."""

import asyncio
import contextlib
import hashlib
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest

from relatoria_shared.settings import Settings
from tests.conftest import settings_env
from tests.support.api import bearer, table_request
from tests.support.cluster import Cluster, isolated_cluster, post, wait_status
from tests.support.cluster_fixtures import client, db, worker
from tests.support.webhook_receiver import WebhookReceiver

__all__ = ["client", "db", "worker"]

pytestmark = pytest.mark.e2e

SMALL = table_request("csv", [["Ação", 1, 2.5, True, "2026-03-01", None]] * 3)


@pytest.fixture(scope="module")
def cluster(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A BFF on its own namespace and database (webhooks to 127.0.0.0/8 and localhost
    allowed); tests start and stop its workers."""
    allowing = settings.model_copy(update={"webhook_allowed_hosts": ["127.0.0.0/8", "localhost"]})
    env = settings_env(allowing)
    with isolated_cluster(allowing, env, tmp_path_factory.mktemp("webhooks")) as running:
        yield running


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    running = WebhookReceiver()
    yield running
    running.close()


def owner() -> str:
    return f"hooks-{uuid.uuid4().hex[:8]}"


async def register(
    client: httpx.AsyncClient, who: str, url: str, events: list[str] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"url": url, "description": "test receiver"}
    if events is not None:
        body["events"] = events
    response = await client.post("/v1/webhooks", json=body, headers=bearer(who))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def deliveries(client: httpx.AsyncClient, who: str, report_id: str) -> list[Any]:
    response = await client.get(f"/v1/reports/{report_id}/deliveries", headers=bearer(who))
    assert response.status_code == 200, response.text
    items: list[Any] = response.json()["items"]
    return items


async def settled_delivery(
    client: httpx.AsyncClient, who: str, report_id: str, seconds: float = 20
) -> dict[str, Any]:
    """The report's one delivery, once it is no longer pending."""
    deadline = time.monotonic() + seconds
    while True:
        items = await deliveries(client, who, report_id)
        if items and items[0]["status"] != "pending":
            assert len(items) == 1, items
            found: dict[str, Any] = items[0]
            return found
        assert time.monotonic() < deadline, f"still pending: {items}"
        await asyncio.sleep(0.1)


async def test_an_endpoint_receives_each_report_end_signed_with_its_secret(
    cluster: Cluster, client: httpx.AsyncClient, worker: str, receiver: WebhookReceiver
) -> None:
    who = owner()
    endpoint = await register(client, who, receiver.url("/done"))
    assert endpoint["secret"].startswith("whsec_")
    assert set(endpoint["events"]) == {
        "report.done",
        "report.failed",
        "report.cancelled",
        "report.expired",
    }
    listed = (await client.get("/v1/webhooks", headers=bearer(who))).json()["items"]
    assert [item["id"] for item in listed] == [endpoint["id"]]
    assert "secret" not in listed[0]  # shown once

    rid = await post(client, SMALL, who)
    (got,) = await receiver.wait_for("/done")

    event = got.verified(endpoint["secret"])
    assert event["type"] == "report.done"
    data = event["data"]
    assert (data["requestId"], data["status"]) == (rid, "done")
    assert data["links"]["download"].endswith(f"/v1/reports/{rid}/download")
    # Signed to outlive the retries (horizon, longest delay and an hour), longer than
    # the 15 minutes a read's presigned URL lasts.
    valid_for = datetime.fromisoformat(data["downloadUrlExpiresAt"]) - datetime.now(UTC)
    horizon = cluster.settings.webhook_retry_horizon_seconds
    assert valid_for.total_seconds() > horizon + 3600 - 60
    async with httpx.AsyncClient() as plain:
        file = await plain.get(data["downloadUrl"])
    assert file.status_code == 200
    assert hashlib.sha256(file.content).hexdigest() == data["result"]["sha256"]
    delivered = await settled_delivery(client, who, rid)
    assert delivered["webhookId"] == got.webhook_id
    assert (delivered["status"], delivered["event"]) == ("delivered", "report.done")
    assert [a["statusCode"] for a in delivered["attempts"]] == [200]
    # Another owner sees none of it.
    other = await client.get(f"/v1/reports/{rid}/deliveries", headers=bearer(owner()))
    assert other.status_code == 404


async def test_an_endpoint_gets_only_the_events_it_chose_and_none_once_deleted(
    client: httpx.AsyncClient, worker: str, receiver: WebhookReceiver
) -> None:
    who = owner()
    cancels = await register(client, who, receiver.url("/cancels"), ["report.cancelled"])
    rid = await post(client, SMALL, who)
    await wait_status(client, rid, {"done"}, owner=who)
    cancelled = await client.delete(f"/v1/reports/{rid}", headers=bearer(who))
    assert cancelled.status_code == 200, cancelled.text

    (got,) = await receiver.wait_for("/cancels")
    assert got.verified(cancels["secret"])["type"] == "report.cancelled"
    deleted = await client.delete(f"/v1/webhooks/{cancels['id']}", headers=bearer(who))
    assert deleted.status_code == 204
    again = await client.delete(f"/v1/webhooks/{cancels['id']}", headers=bearer(who))
    assert again.status_code == 404
    assert (await client.get("/v1/webhooks", headers=bearer(who))).json()["items"] == []
    later = await post(client, SMALL, who)
    await wait_status(client, later, {"done"}, owner=who)
    cancelled_later = await client.delete(f"/v1/reports/{later}", headers=bearer(who))
    assert cancelled_later.status_code == 200
    assert await deliveries(client, who, later) == []  # nothing recorded for it
    assert len(receiver.received("/cancels")) == 1


async def test_a_callback_url_is_signed_with_the_owners_rotatable_secret(
    client: httpx.AsyncClient, worker: str, receiver: WebhookReceiver
) -> None:
    who = owner()
    body = SMALL | {"callbackUrl": receiver.url("/callback")}
    refused = await client.post("/v1/reports", json=body, headers=bearer(who))
    assert refused.status_code == 409
    assert refused.json()["code"] == "WEBHOOK_SECRET_MISSING"

    first = (await client.post("/v1/webhooks/secret", headers=bearer(who))).json()["secret"]
    rid = await post(client, body, who)
    (got,) = await receiver.wait_for("/callback")
    assert got.verified(first)["data"]["requestId"] == rid

    second = (await client.post("/v1/webhooks/secret", headers=bearer(who))).json()["secret"]
    assert second != first
    await post(client, body, who)
    later = (await receiver.wait_for("/callback", 2))[1]
    assert later.verified(second)["type"] == "report.done"
    with pytest.raises(Exception, match="signature"):
        later.verified(first)


async def test_a_delivery_answered_500_twice_comes_again_with_the_same_webhook_id(
    client: httpx.AsyncClient, worker: str, receiver: WebhookReceiver
) -> None:
    who = owner()
    endpoint = await register(client, who, receiver.url("/flaky"))
    receiver.answer("/flaky", 500, 500)
    rid = await post(client, SMALL, who)

    tries = await receiver.wait_for("/flaky", 3)

    assert len({t.webhook_id for t in tries}) == 1
    assert len({t.body for t in tries}) == 1  # the same payload, signed anew each time
    for attempt in tries:
        assert attempt.verified(endpoint["secret"])["data"]["requestId"] == rid
    delivered = await settled_delivery(client, who, rid)
    assert delivered["status"] == "delivered"
    assert [a["statusCode"] for a in delivered["attempts"]] == [500, 500, 200]
    assert delivered["lastError"] is None


async def test_a_delivery_that_keeps_failing_is_dead_lettered_then_replayed(
    cluster: Cluster, client: httpx.AsyncClient, worker: str, receiver: WebhookReceiver
) -> None:
    who = owner()
    endpoint = await register(client, who, receiver.url("/down"))
    receiver.answer("/down", *([503] * 100))
    rid = await post(client, SMALL, who)

    horizon = cluster.settings.webhook_retry_horizon_seconds
    dead = await settled_delivery(client, who, rid, seconds=horizon + 15)

    assert dead["status"] == "dead"
    codes = [a["statusCode"] for a in dead["attempts"]]
    assert len(codes) >= 3
    assert set(codes) == {503}
    assert dead["webhookId"] in cluster.admin("webhooks", "dead")
    tries = receiver.received("/down")
    assert len(tries) == len(codes)
    assert len({t.webhook_id for t in tries}) == 1

    receiver.answer("/down")  # the receiver is back
    replayed = cluster.admin("webhooks", "replay", "--id", dead["webhookId"])
    assert "replayed 1" in replayed
    assert "removed 1 dead letter" in replayed
    await receiver.wait_for("/down", len(codes) + 1)
    redelivered = await settled_delivery(client, who, rid)
    assert redelivered["status"] == "delivered"
    # The new round's attempt is listed after the first round's, numbered on.
    attempts = redelivered["attempts"]
    assert [a["statusCode"] for a in attempts] == [*codes, 200]
    assert [a["attempt"] for a in attempts] == list(range(1, len(codes) + 2))
    assert receiver.received("/down")[-1].verified(endpoint["secret"])["type"] == "report.done"
    assert "no dead webhook deliveries" in cluster.admin("webhooks", "dead")


async def test_an_event_recorded_while_no_worker_runs_is_delivered_once_one_does(
    cluster: Cluster, client: httpx.AsyncClient, db: asyncpg.Connection, receiver: WebhookReceiver
) -> None:
    who = owner()
    endpoint = await register(client, who, receiver.url("/later"))
    rid = await post(client, SMALL, who)  # no worker: it stays queued
    cancelled = await client.delete(f"/v1/reports/{rid}", headers=bearer(who))
    assert cancelled.status_code == 200
    # Recorded with the cancel, in its transaction; nobody has sent it.
    recorded = await db.fetch(
        "SELECT event_type, status, published_at FROM webhook_deliveries WHERE request_id = $1",
        uuid.UUID(rid),
    )
    assert [(r["event_type"], r["status"], r["published_at"]) for r in recorded] == [
        ("report.cancelled", "pending", None)
    ]
    assert receiver.received("/later") == []

    name = cluster.start_worker()
    try:
        (got,) = await receiver.wait_for("/later")
    finally:
        cluster.workers.pop(name).stop()
    assert got.verified(endpoint["secret"])["data"]["status"] == "cancelled"


async def test_unsafe_urls_are_refused_when_registered(client: httpx.AsyncClient) -> None:
    who = owner()
    for url in (
        "https://10.1.2.3/hook",
        "https://169.254.169.254/latest/meta-data/",
        "http://example.com/hook",
        "https://user:pass@example.com/hook",
    ):
        response = await client.post("/v1/webhooks", json={"url": url}, headers=bearer(who))
        assert response.status_code == 422, (url, response.text)
        assert response.json()["code"] == "WEBHOOK_URL_FORBIDDEN"
        assert response.json()["path"] == "url"
    await client.post("/v1/webhooks/secret", headers=bearer(who))
    body = SMALL | {"callbackUrl": "https://[fd00:ec2::254]/latest/meta-data/"}
    response = await client.post("/v1/reports", json=body, headers=bearer(who))
    assert (response.status_code, response.json()["path"]) == (422, "callbackUrl")


async def test_a_redirect_is_never_followed(
    client: httpx.AsyncClient, worker: str, receiver: WebhookReceiver
) -> None:
    who = owner()
    await register(client, who, receiver.url("/moved"))
    receiver.redirect("/moved", receiver.url("/internal"))
    rid = await post(client, SMALL, who)

    given_up = await settled_delivery(client, who, rid)

    assert given_up["status"] == "dead"
    assert [a["statusCode"] for a in given_up["attempts"]] == [302]
    assert "redirect not followed" in given_up["lastError"]
    assert receiver.received("/internal") == []


@pytest.fixture
def listener() -> Iterator[tuple[int, list[object]]]:
    """A bare TCP listener on 127.0.0.1 that counts the connections it accepts (a TLS
    handshake included, which an HTTP receiver would never see as a request)."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted: list[object] = []

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                connection, _ = server.accept()
                accepted.append(connection)
                connection.close()

    threading.Thread(target=accept, daemon=True).start()
    yield server.getsockname()[1], accepted
    server.close()


async def test_without_the_allow_list_a_name_resolving_to_loopback_is_never_connected(
    cluster: Cluster, client: httpx.AsyncClient, listener: tuple[int, list[object]]
) -> None:
    who = owner()
    port, accepted = listener
    # A public-looking https URL whose name resolves to 127.0.0.1: accepted when given
    # (names are not resolved then), refused where it counts, when connecting.
    await register(client, who, f"https://localhost:{port}/sneaky")
    strict = cluster.start_worker(RELATORIA_WEBHOOK_ALLOWED_HOSTS="")
    try:
        rid = await post(client, SMALL, who)
        given_up = await settled_delivery(client, who, rid)
    finally:
        cluster.workers.pop(strict).stop()

    assert given_up["status"] == "dead"
    assert [a["statusCode"] for a in given_up["attempts"]] == [None]
    assert "not allowed" in given_up["lastError"]
    assert accepted == []  # not even a connection was opened


async def test_bad_registrations_are_4xx_with_stable_codes(client: httpx.AsyncClient) -> None:
    who = owner()
    for body, code in (
        ({"url": "https://a.example/", "description": "nul \x00 inside"}, "VALIDATION_ERROR"),
        ({"url": "https://a.example/", "events": ["report.exploded"]}, "VALIDATION_ERROR"),
        ({"url": "https://bücher.example/"}, "WEBHOOK_URL_FORBIDDEN"),
    ):
        response = await client.post("/v1/webhooks", json=body, headers=bearer(who))
        assert (response.status_code, response.json()["code"]) == (422, code), response.text
    gone = await client.delete("/v1/webhooks/not-a-uuid", headers=bearer(who))
    assert gone.status_code == 404
    for i in range(20):  # the most one owner may have
        await register(client, who, f"https://hooks.example/{i}")
    over = await client.post(
        "/v1/webhooks", json={"url": "https://hooks.example/21"}, headers=bearer(who)
    )
    assert (over.status_code, over.json()["code"]) == (409, "TOO_MANY_WEBHOOKS")
