"""The error answers each route documents in the OpenAPI document: every status code a
route can answer, with the one error body's schema, so generated clients handle them.

`make test` holds the document to it: Schemathesis sends generated requests to the real
BFF and fails on any status code an operation does not list
(`tests/e2e/test_openapi_conformance.py`).
"""

from typing import Any

from pydantic import BaseModel, ConfigDict


class ErrorDetail(BaseModel):
    """One of several problems found in a request."""

    code: str
    path: str | None
    message: str


class ErrorBody(BaseModel):
    """The body of every error answer: a stable `code`, a message for people, and the
    offending field's `path` when there is one."""

    model_config = ConfigDict(extra="allow")  # some codes add fields (`status`, `limit`)

    code: str
    message: str
    path: str | None = None
    details: list[ErrorDetail] | None = None


UNAUTHORIZED = {401: "`UNAUTHORIZED`: no bearer token, or one that does not verify"}
UNAVAILABLE = {503: "`SERVICE_UNAVAILABLE`: a backing service is down; retry after `Retry-After`"}
INVALID_PARAMETERS = {422: "`VALIDATION_ERROR`: a path or query parameter is invalid"}
NOT_FOUND = {404: "`NOT_FOUND`: no such report of the caller's"}


def documented(*groups: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    """FastAPI's `responses` for these status codes, each with the error body's schema."""
    merged: dict[int, str] = {}
    for group in groups:
        merged |= group
    return {
        status: {"description": description, "model": ErrorBody}
        for status, description in sorted(merged.items())
    }
