"""The OpenAPI document tells the whole truth: Schemathesis generates requests from it
(valid and invalid) and sends them to the real BFF with a valid token; every answer must
be no server error, carry a status code its operation documents, and match the schema
and content type documented for it. (The event streams are left to their own tests.)"""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import RunningSystem
from tests.support.api import bearer

pytestmark = pytest.mark.e2e

CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "response_schema_conformance",
    "content_type_conformance",
]


def test_every_answer_is_documented(system: RunningSystem, tmp_path: Path) -> None:
    token = bearer("openapi-conformance")["Authorization"]
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("schemathesis")),
            "run",
            f"{system.base_url}/openapi.json",
            "--checks",
            ",".join(CHECKS),
            "--header",
            f"Authorization: {token}",
            "--max-examples",
            "30",
            "--seed",
            "20261207",
            "--request-timeout",
            "30",
            "--continue-on-failure",
            "--generation-database",
            "none",
            # Event streams do not end while their report is unfinished (all reports':
            # never): tests/e2e/test_status_events.py holds them to their contract.
            "--exclude-path-regex",
            "/events$",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
    print(result.stdout[-1500:])  # the summary: operations, phases, test cases
