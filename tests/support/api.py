"""Helpers for driving the running BFF over HTTP as a frontend would."""

import asyncio
import time
from typing import Any

import httpx
import jwt

from tests.conftest import DEV_SECRET


def bearer(sub: str, **overrides: Any) -> dict[str, str]:
    """Authorization headers for a development token of `sub`."""
    now = int(time.time())
    claims = {"sub": sub, "iss": "relatoria", "aud": "relatoria", "iat": now, "exp": now + 600}
    token = jwt.encode(claims | overrides, DEV_SECRET, "HS256")
    return {"Authorization": f"Bearer {token}"}


COLUMNS = [
    {"key": "name", "label": "Nome", "type": "string"},
    {"key": "qty", "label": "Quantidade", "type": "integer"},
    {"key": "amount", "label": "Valor", "type": "number"},
    {"key": "paid", "label": "Pago", "type": "boolean"},
    {"key": "due", "label": "Vencimento", "type": "date"},
    {"key": "at", "label": "Registrado em", "type": "datetime"},
]


def table_request(fmt: str, rows: list[Any], title: str = "Relatório de teste") -> dict[str, Any]:
    """A `table` report request body."""
    return {
        "type": "table",
        "format": fmt,
        "title": title,
        "parameters": {"columns": COLUMNS, "rows": rows},
    }


async def wait_for(
    client: httpx.AsyncClient, report_id: str, headers: dict[str, str], seconds: float = 30
) -> dict[str, Any]:
    """Poll the status until it is terminal; return the last status document."""
    deadline = time.monotonic() + seconds
    while True:
        response = await client.get(f"/v1/reports/{report_id}", headers=headers)
        response.raise_for_status()
        document: dict[str, Any] = response.json()
        if document["status"] in {"done", "error", "cancelled", "expired"}:
            return document
        if time.monotonic() > deadline:
            raise AssertionError(f"report still {document['status']} after {seconds}s")
        await asyncio.sleep(0.1)
