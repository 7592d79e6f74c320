"""What a log line may say of an exception: its traceback, and its message unless that
message may quote report data.

PostgreSQL's and asyncpg's error messages quote the values they could not take: a cell, a
title, an owner id (`invalid input for query argument $9: [['Ana', …`, `invalid input
syntax for type uuid: "…"`, a trigger's `RAISE`). Such a message is replaced by what
identifies the error without the data: its SQLSTATE and the schema, table, column and
constraint it names. So is the message of every exception it was raised from (asyncpg
wraps the encoder's error, which may quote the value too).
"""

import traceback

_NAMED = ("sqlstate", "schema_name", "table_name", "column_name", "constraint_name")


def format_exception(exc: BaseException) -> str:
    """`exc`'s traceback, chained exceptions included, as `logging` formats it, with the
    messages of database errors withheld."""
    formatted = traceback.TracebackException.from_exception(exc)
    _withhold(formatted, exc, below_database_error=False, seen=set())
    return "".join(formatted.format()).rstrip("\n")


def described(exc: BaseException) -> str:
    """`Type: message` of `exc` for a log line, a database error's message withheld."""
    message = withheld_message(exc) if _from_database(exc) else str(exc)
    return f"{type(exc).__name__}: {message}"


def withheld_message(exc: BaseException) -> str:
    """What replaces the message of a database error: the names that identify it."""
    named = [f"{name}={value}" for name in _NAMED if (value := getattr(exc, name, None))]
    return "message withheld (it may quote report data)" + (
        f"; {', '.join(named)}" if named else ""
    )


def _from_database(exc: BaseException) -> bool:
    return type(exc).__module__.partition(".")[0] == "asyncpg"


def _withhold(
    formatted: traceback.TracebackException,
    exc: BaseException,
    *,
    below_database_error: bool,
    seen: set[int],
) -> None:
    if id(exc) in seen:  # chains can loop
        return
    seen.add(id(exc))
    below_database_error = below_database_error or _from_database(exc)
    if below_database_error:
        # The formatted message; TracebackException offers no public way to replace it.
        formatted._str = withheld_message(exc)  # type: ignore[attr-defined]
    pairs = [
        (formatted.__cause__, exc.__cause__),
        (formatted.__context__, exc.__context__),
    ]
    if isinstance(exc, BaseExceptionGroup):  # and its members
        pairs += zip(formatted.exceptions or [], exc.exceptions, strict=False)
    for formatted_next, exc_next in pairs:
        if formatted_next is not None and exc_next is not None:
            _withhold(
                formatted_next, exc_next, below_database_error=below_database_error, seen=seen
            )
