"""How long a request asks to wait (`?wait=N`, `Prefer: wait=N`), and what a waiter is
told while it waits."""

import asyncio
import uuid

import pytest

from relatoria_bff.reports.waiting import changed_from, finished, requested_wait
from relatoria_bff.status_watch import Listener
from tests.support.requests import status_at


@pytest.mark.parametrize(
    ("query", "prefer", "expected"),
    [
        (None, None, None),
        (5, None, 5),
        (0, "wait=10", 0),  # the query parameter wins
        (100, None, 25),  # capped
        (None, "wait=10", 10),
        (None, "respond-async, wait=3", 3),
        (None, 'WAIT="7"', 7),
        (None, "wait=10; foo=bar", 10),
        (None, "wait=99", 25),
        (None, "wait=soon", None),  # unreadable: ignored
        (None, "wait=-1", None),
        (None, "return=minimal", None),
    ],
)
def test_the_wait_asked_for(query: int | None, prefer: str | None, expected: int | None) -> None:
    assert requested_wait(query, prefer, cap=25) == expected


def test_what_a_post_and_a_long_poll_wait_for() -> None:
    rid = uuid.uuid4()
    queued = status_at(rid, 1, "queued")
    assert not finished(queued)
    assert not finished(status_at(rid, 2, "processing"))
    assert all(finished(status_at(rid, 3, s)) for s in ("done", "error", "cancelled", "expired"))
    changed = changed_from(queued)
    assert not changed(queued)
    assert changed(status_at(rid, 2, "processing"))


async def test_a_slow_listener_gets_the_latest_of_each_report_and_never_an_older_one() -> None:
    listener = Listener()
    first, second = uuid.uuid4(), uuid.uuid4()
    listener.offer(status_at(first, 2, "processing"))
    listener.offer(status_at(first, 4, "processing"))
    listener.offer(status_at(first, 3, "processing"))  # late, older: dropped
    listener.offer(status_at(second, 2, "done"))

    arrived = await listener.changes(1)

    assert [(d.request_id, d.version) for d in arrived] == [(first, 4), (second, 2)]
    assert not listener.take_interrupted()
    started = asyncio.get_running_loop().time()
    assert await listener.changes(0.2) == []
    assert asyncio.get_running_loop().time() - started >= 0.19


async def test_an_interrupted_listener_is_woken_at_once() -> None:
    listener = Listener()
    asyncio.get_running_loop().call_later(0.05, listener.interrupt)
    assert await listener.changes(5) == []
    assert listener.take_interrupted()
    assert not listener.take_interrupted()
