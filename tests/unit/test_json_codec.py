"""JSON of bodies and JSONB values: orjson's speed, the standard library's answers."""

import json

import pytest

from relatoria_shared.json_codec import dumps, loads_exact

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "text",
    [
        "[99999999999999999999, -9223372036854775809, 18446744073709551616]",  # past 64 bits
        '{"a": "\\ud800"}',  # a lone surrogate escape
        '{"a": 1, "a": 2}',
        '[1.5, 1e400, -0.0, "Ação"]',
        '"12345678901234567890 in a string"',
    ],
)
def test_a_body_parses_as_the_standard_library_parses_it(text: str) -> None:
    assert loads_exact(text.encode()) == json.loads(text)
    assert repr(loads_exact(text)) == repr(json.loads(text))  # exact: ints stay ints


def test_what_is_not_json_is_refused() -> None:
    with pytest.raises(json.JSONDecodeError):  # a ValueError, as callers expect
        loads_exact(b"{not json")


def test_values_round_trip() -> None:
    value = {"rows": [["Ação", 1, 2.5, True, None]], "big": 2**70}
    assert json.loads(dumps(value)) == value
