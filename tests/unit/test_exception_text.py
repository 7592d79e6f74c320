"""Logged tracebacks withhold what database errors quote (report data), and only that."""

import logging

import asyncpg
import pytest

from relatoria_shared.exception_text import described, format_exception
from relatoria_shared.logging_setup import ConsoleFormatter, JsonFormatter

pytestmark = pytest.mark.unit

SENTINEL = "sentinela-7f3a"


def raised(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as caught:
        return caught


def encoding_error() -> BaseException:
    """As asyncpg raises it: the encoder's error, wrapped with the value's repr."""
    try:
        try:
            raise TypeError(f"expected str, got list: [{SENTINEL!r}]")
        except TypeError as cause:
            raise asyncpg.DataError(
                f"invalid input for query argument $9: [[{SENTINEL!r}, 1]] ({cause})"
            ) from cause
    except asyncpg.DataError as exc:
        return exc


def test_a_database_errors_message_and_its_cause_are_withheld() -> None:
    text = format_exception(encoding_error())
    assert SENTINEL not in text
    assert "asyncpg.exceptions.DataError: message withheld" in text
    assert "TypeError: message withheld" in text
    assert "encoding_error" in text  # the traceback itself is kept


def test_a_server_errors_names_are_kept() -> None:
    error = asyncpg.exceptions.RaiseError(f"rejected {SENTINEL}")
    error.sqlstate = "P0001"
    error.table_name = "report_requests"
    text = format_exception(raised(error))
    assert SENTINEL not in text
    assert "sqlstate=P0001, table_name=report_requests" in text


def test_a_one_line_description_withholds_it_too() -> None:
    error = asyncpg.exceptions.RaiseError(f"rejected {SENTINEL}")
    error.sqlstate = "P0001"
    assert described(error) == (
        "RaiseError: message withheld (it may quote report data); sqlstate=P0001"
    )
    assert described(OSError("connection refused")) == "OSError: connection refused"


def test_other_errors_keep_their_message() -> None:
    assert "ValueError: the renderer broke" in format_exception(
        raised(ValueError("the renderer broke"))
    )


@pytest.mark.parametrize("formatter", [JsonFormatter("bff"), ConsoleFormatter("bff")])
def test_both_log_formats_withhold_it(formatter: logging.Formatter) -> None:
    error = encoding_error()
    record = logging.LogRecord("x", logging.ERROR, "f", 1, "unhandled error", (), None)
    record.exc_info = (type(error), error, error.__traceback__)
    line = formatter.format(record)
    assert SENTINEL not in line
    assert "message withheld" in line


def test_a_database_error_inside_a_group_is_withheld_too() -> None:
    group = ExceptionGroup("several", [encoding_error(), ValueError("ours")])
    text = format_exception(raised(group))
    assert SENTINEL not in text
    assert "ValueError: ours" in text
