"""The HTTP contract of the running BFF: validation, idempotency, auth, listing, limits."""

import base64
import json
import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from tests.conftest import RunningSystem
from tests.support.api import bearer, table_request, wait_for

pytestmark = pytest.mark.integration

ROW = ["Ana", 1, 2.5, True, "2026-01-31", "2026-01-31T12:00:00Z"]


@pytest.fixture
async def client(system: RunningSystem) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=system.base_url, timeout=10) as client:
        yield client


def owner() -> str:
    return f"user-{uuid.uuid4().hex[:8]}"


async def count_for(db: asyncpg.Connection, owner_id: str) -> int:
    value: int = await db.fetchval(
        "SELECT count(*) FROM report_requests WHERE owner_id = $1", owner_id
    )
    return value


@pytest.mark.parametrize(
    ("body", "status", "code", "path"),
    [
        (table_request("xlsx", [ROW]) | {"type": "pie"}, 422, "UNKNOWN_REPORT_TYPE", "type"),
        (table_request("docx", [ROW]), 422, "UNSUPPORTED_FORMAT", "format"),
        (
            {"type": "table", "format": "csv", "title": "t", "parameters": {"rows": []}},
            422,
            "MISSING_COLUMNS",
            "parameters.columns",
        ),
        (table_request("csv", [ROW[:3]]), 422, "ROW_WIDTH_MISMATCH", "parameters.rows[0]"),
        (
            table_request("csv", [ROW, ["Bo", "two", 1, True, None, None]]),
            422,
            "INVALID_CELL_TYPE",
            "parameters.rows[1][1]",
        ),
        (
            table_request("csv", [{"name": "x", "qty": 1.5}]),
            422,
            "INVALID_CELL_TYPE",
            "parameters.rows[0].qty",
        ),
        (table_request("csv", [ROW] * 501), 422, "TOO_MANY_ROWS", "parameters.rows"),
        ({"type": "table", "format": "csv"}, 422, "VALIDATION_ERROR", "title"),
        (table_request("csv", [ROW]) | {"colour": "red"}, 422, "VALIDATION_ERROR", "colour"),
    ],
)
async def test_invalid_requests_are_refused_with_a_code_and_path_and_record_nothing(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    body: dict[str, object],
    status: int,
    code: str,
    path: str,
) -> None:
    user = owner()
    response = await client.post("/v1/reports", json=body, headers=bearer(user))
    assert response.status_code == status, response.text
    assert (response.json()["code"], response.json()["path"]) == (code, path)
    assert await count_for(db, user) == 0


async def test_malformed_json_is_a_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/reports",
        content=b'{"type": ',
        headers=bearer(owner()) | {"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_JSON"


async def test_oversized_bodies_are_refused_declared_or_chunked(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    user = owner()
    big = table_request("csv", [["x" * 1000, 1, 1, True, None, None]] * 300)
    declared = await client.post("/v1/reports", json=big, headers=bearer(user))
    assert declared.status_code == 413
    assert declared.json()["code"] == "PAYLOAD_TOO_LARGE"

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"type": "table", "format": "csv", "title": "t", '
        yield b'"parameters": {"columns": [], "rows": ["'
        for _ in range(2000):  # 2 MB of body against a 256 KiB cap, with no Content-Length
            yield b"x" * 1024
        yield b'"]}}'

    try:
        chunked = await client.post(
            "/v1/reports",
            content=chunks(),
            headers=bearer(user) | {"Content-Type": "application/json"},
        )
        assert chunked.status_code == 413
        assert chunked.json()["code"] == "PAYLOAD_TOO_LARGE"
    except (httpx.WriteError, httpx.ReadError, httpx.RemoteProtocolError):
        pass  # the server closed the connection before we finished sending: refused too
    assert await count_for(db, user) == 0


async def test_idempotency_key_replays_and_refuses_a_different_body(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    user = owner()
    key = {"Idempotency-Key": f"order-{uuid.uuid4()}"}
    body = table_request("csv", [ROW])
    first = await client.post("/v1/reports", json=body, headers=bearer(user) | key)
    again = await client.post("/v1/reports", json=body, headers=bearer(user) | key)
    assert first.status_code == again.status_code == 201
    assert again.json()["requestId"] == first.json()["requestId"]
    assert again.headers["Idempotent-Replayed"] == "true"
    changed = await client.post(
        "/v1/reports", json=table_request("pdf", [ROW]), headers=bearer(user) | key
    )
    assert changed.status_code == 422
    assert changed.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert await count_for(db, user) == 1
    other = await client.post("/v1/reports", json=body, headers=bearer(owner()) | key)
    assert other.status_code == 201
    assert other.json()["requestId"] != first.json()["requestId"]


async def test_accepted_request_answers_201_with_location(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/reports", json=table_request("csv", [ROW]), headers=bearer(owner())
    )
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "queued"
    assert response.headers["Location"] == f"/v1/reports/{body['requestId']}"
    assert body["createdAt"]


async def test_authentication_is_required(client: httpx.AsyncClient) -> None:
    body = table_request("csv", [ROW])
    assert (await client.post("/v1/reports", json=body)).status_code == 401
    assert (
        await client.get("/v1/reports", headers={"Authorization": "Bearer junk"})
    ).status_code == 401
    expired = bearer("alice", exp=1)
    response = await client.get("/v1/reports", headers=expired)
    assert response.status_code == 401
    assert response.json()["code"] == "UNAUTHORIZED"
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_an_unauthenticated_body_is_never_parsed(client: httpx.AsyncClient) -> None:
    # Authentication comes first: an anonymous client learns nothing about its body.
    for content in (b"{not json", b'{"type": 1}'):
        response = await client.post("/v1/reports", content=content)
        assert response.status_code == 401
        assert response.json()["code"] == "UNAUTHORIZED"
    as_json = bearer(owner()) | {"Content-Type": "application/json"}
    authenticated = await client.post("/v1/reports", content=b"{not json", headers=as_json)
    assert authenticated.status_code == 400
    assert authenticated.json()["code"] == "INVALID_JSON"
    wrong = await client.post("/v1/reports", content=b'{"type": 1}', headers=as_json)
    assert wrong.status_code == 422
    assert {d["path"] for d in wrong.json()["details"]} >= {"type", "format", "title"}


async def test_a_body_is_json_declared_as_json(client: httpx.AsyncClient) -> None:
    headers = bearer(owner())
    valid = json.dumps(table_request("csv", [ROW])).encode()
    for content_type in (None, "text/plain", "application/x-www-form-urlencoded"):
        sent = headers | ({"Content-Type": content_type} if content_type else {})
        response = await client.post("/v1/reports", content=valid, headers=sent)
        assert response.status_code == 422, content_type
        assert response.json()["code"] == "VALIDATION_ERROR"
    empty = await client.post("/v1/reports", content=b"", headers=headers)
    assert empty.status_code == 422
    as_json = headers | {"Content-Type": "application/json; charset=utf-8"}
    bom = await client.post("/v1/reports", content=b"\xef\xbb\xbf" + valid, headers=as_json)
    assert bom.status_code == 201


async def test_a_lone_surrogate_is_refused_at_its_cell(client: httpx.AsyncClient) -> None:
    # What JavaScript's JSON.stringify sends for a string cut in the middle of an emoji.
    body = json.dumps(table_request("csv", [["x", 1, 1.5, True, None, None]]))
    body = body.replace('"x"', '"\\ud83d"')
    response = await client.post(
        "/v1/reports",
        content=body.encode(),
        headers=bearer(owner()) | {"Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["code"] == "INVALID_TEXT"
    assert response.json()["path"] == "parameters.rows[0][0]"


async def test_another_owners_report_is_not_found(client: httpx.AsyncClient) -> None:
    alice, mallory = bearer(owner()), bearer(owner())
    created = (
        await client.post("/v1/reports", json=table_request("csv", [ROW]), headers=alice)
    ).json()
    rid = created["requestId"]
    assert (await client.get(f"/v1/reports/{rid}", headers=alice)).status_code == 200
    for path in (f"/v1/reports/{rid}", f"/v1/reports/{rid}/download", f"/status/{rid}"):
        response = await client.get(path, headers=mallory)
        assert response.status_code == 404
        assert response.json()["code"] == "NOT_FOUND"
    assert (await client.get("/v1/reports/not-a-uuid", headers=alice)).status_code == 404


async def test_download_of_an_unfinished_report_is_a_409(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    user = owner()
    rid = uuid.uuid4()
    # Recorded but never published: it stays queued.
    await db.execute(
        "INSERT INTO report_requests (id, owner_id, report_type, format, title, parameters)"
        " VALUES ($1, $2, 'table', 'csv', 't', '{}')",
        rid,
        user,
    )
    response = await client.get(f"/v1/reports/{rid}/download", headers=bearer(user))
    assert response.status_code == 409
    assert response.json()["code"] == "REPORT_NOT_READY"
    status = (await client.get(f"/v1/reports/{rid}", headers=bearer(user))).json()
    assert status["status"] == "queued"
    assert status["downloadUrl"] is None


async def test_listing_pages_newest_first_and_filters_by_status(client: httpx.AsyncClient) -> None:
    headers = bearer(owner())
    ids = [
        (
            await client.post("/v1/reports", json=table_request("csv", [ROW]), headers=headers)
        ).json()["requestId"]
        for _ in range(5)
    ]
    for rid in ids:
        await wait_for(client, rid, headers)
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/v1/reports", params=params, headers=headers)).json()
        seen += [item["requestId"] for item in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == ids[::-1]
    done = (await client.get("/v1/reports", params={"status": "done"}, headers=headers)).json()
    assert len(done["items"]) == 5
    assert all(item["downloadUrl"] for item in done["items"])
    queued = (await client.get("/v1/reports", params={"status": "queued"}, headers=headers)).json()
    assert queued["items"] == []
    for tampered in TAMPERED_CURSORS:
        bad = await client.get("/v1/reports", params={"cursor": tampered}, headers=headers)
        assert (bad.status_code, bad.json()["code"]) == (400, "INVALID_CURSOR"), tampered
    # The connection that carried them is still good.
    assert (await client.get("/v1/reports", headers=headers)).status_code == 200
    assert (
        await client.get("/v1/reports", params={"status": "nope"}, headers=headers)
    ).status_code == 422


def _cursor_of(data: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


TAMPERED_CURSORS = [
    "garbage",
    _cursor_of({"c": "2026-01-01T00:00:00+00:00", "i": 5}),  # fields of the wrong types
    _cursor_of({"c": "2026-01-01T00:00:00+00:00", "i": ["x"]}),
    _cursor_of({"c": 1.5, "i": "00000000-0000-0000-0000-000000000000"}),
    _cursor_of(["2026-01-01T00:00:00+00:00", "00000000-0000-0000-0000-000000000000"]),
    _cursor_of({"c": "0001-01-01T00:00:00+14:00", "i": "00000000-0000-0000-0000-000000000000"}),
]


async def test_catalog_health_and_docs(client: httpx.AsyncClient) -> None:
    catalog = (await client.get("/v1/report-types")).json()["items"]
    table = next(t for t in catalog if t["name"] == "table")
    assert set(table["formats"]) == {"xlsx", "pdf", "csv"}
    assert table["parametersSchema"]["required"] == ["columns"]
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = (await client.get("/readyz")).json()
    assert ready["checks"] == {"postgres": "ok", "redis": "ok"}  # the BFF uses no broker
    assert (await client.get("/docs")).status_code == 200
    creation = (await client.get("/openapi.json")).json()["paths"]["/v1/reports"]["post"]
    body_schema = creation["requestBody"]["content"]["application/json"]["schema"]
    assert body_schema["required"] == ["type", "format", "title"]
    assert [p["name"] for p in creation["parameters"]] == ["wait", "Idempotency-Key"]
