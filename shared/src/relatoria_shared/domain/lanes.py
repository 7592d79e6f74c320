"""Lanes: separate queues, consumed with separate concurrency, so that long data-source
exports never hold up the quick inline reports queued behind them."""

from enum import StrEnum


class Lane(StrEnum):
    """Which queue a report's job travels through."""

    INTERACTIVE = "interactive"  # inline reports: small, a user is waiting
    BULK = "bulk"  # data-source exports: long, streamed from the reporting database
