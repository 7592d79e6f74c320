"""The job message contract."""

import uuid

import pytest

from relatoria_shared.messaging.contract import JobMessage, MalformedMessage

pytestmark = pytest.mark.unit


def test_round_trip() -> None:
    job = JobMessage(request_id=uuid.uuid4(), attempt=2)
    assert JobMessage.decode(job.encode()) == job


@pytest.mark.parametrize("body", [b"", b"not json", b"{}", b'{"requestId": "nope"}', b"[1]"])
def test_malformed_bodies_are_refused(body: bytes) -> None:
    with pytest.raises(MalformedMessage):
        JobMessage.decode(body)
