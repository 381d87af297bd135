"""The one place that reads the wall clock; everything below the API takes `now` as an argument.

Tests move the clock through ``travel`` (in-process) and worker processes started by tests through
``FLOWDESK_CLOCK_OFFSET_SECONDS`` (a fixed offset added to the real clock); nothing else sets
either, and both are off by default.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

_frozen: datetime | None = None
_offset = timedelta(seconds=float(os.environ.get("FLOWDESK_CLOCK_OFFSET_SECONDS", "0") or 0))


def utcnow() -> datetime:
    if _frozen is not None:
        return _frozen
    return datetime.now(UTC) + _offset


@contextmanager
def travel(to: datetime) -> Iterator[None]:
    """Freeze the clock at ``to`` (aware) for the block; nested calls move it."""
    global _frozen
    if to.tzinfo is None:
        raise ValueError("travel() needs an aware datetime")
    before = _frozen
    _frozen = to.astimezone(UTC)
    try:
        yield
    finally:
        _frozen = before


def move_to(to: datetime) -> None:
    """Inside ``travel``: move the frozen clock (tests that step through a ticket's life)."""
    global _frozen
    if _frozen is None:
        raise RuntimeError("move_to() only works inside travel()")
    _frozen = to.astimezone(UTC)
