"""Durations as people write them: ``"90s"``, ``"30m"``, ``"2h"``, ``"1d"``, ``"1h30m"``, or a
number of seconds."""

from __future__ import annotations

import re

_PART = re.compile(r"(\d+)\s*([dhms])")
_WHOLE = re.compile(r"^\s*(?:\d+\s*[dhms]\s*)+$")
_UNIT = {"d": 86400, "h": 3600, "m": 60, "s": 1}
MAX_SECONDS = 366 * 86400


def parse_duration(value: object) -> int:
    """Seconds; raises ValueError with a message fit for an API error."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration (e.g. '30m', '2h', '1d' or seconds)")
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, str) and _WHOLE.match(value.lower()):
        seconds = sum(int(n) * _UNIT[u] for n, u in _PART.findall(value.lower()))
    else:
        raise ValueError(f"{value!r} is not a duration (e.g. '30m', '2h', '1d' or seconds)")
    if seconds < 0 or seconds > MAX_SECONDS:
        raise ValueError(f"{value!r} must be between 0 seconds and 366 days")
    return seconds


def format_duration(seconds: int) -> str:
    """The shortest text ``parse_duration`` reads back to ``seconds``."""
    if seconds == 0:
        return "0s"
    out = ""
    for unit, size in _UNIT.items():
        n, seconds = divmod(seconds, size)
        if n:
            out += f"{n}{unit}"
    return out
