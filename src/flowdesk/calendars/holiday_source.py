"""Public holidays from the ``holidays`` package, one year at a time.

The package knows which countries and subdivisions exist, so validation asks it rather than keeping
a list of our own. It is imported on first use (about 0.1 s), not when flowdesk.calendars is.
Years are built lazily and memoised per (country, subdivision, year), so a calendar covers any
year and a calculation spanning ten years builds ten small sets.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping

from .errors import Problem, show


@functools.cache
def supported_countries() -> Mapping[str, tuple[str, ...]]:
    """ISO 3166-1 alpha-2 code -> subdivision codes (aliases such as alpha-3 codes left out)."""
    import holidays

    listed = holidays.list_supported_countries(include_aliases=False)
    return {code: tuple(subdivs) for code, subdivs in listed.items()}


@functools.cache
def _subdivision_names(country: str) -> Mapping[str, str]:
    """Subdivision name -> code ("Bayern" -> "BY"), to point an admin at the code."""
    import holidays

    aliases = getattr(holidays.country_holidays(country), "subdivisions_aliases", None) or {}
    return {str(name).casefold(): str(code) for name, code in dict(aliases).items()}


def holiday_rule_problems(country: object, subdivision: object, path: str) -> list[Problem]:
    """Problems of a (country, subdivision) pair, paths under ``path`` (``holidays``)."""
    countries = supported_countries()
    if not isinstance(country, str) or country not in countries:
        hint = ""
        if isinstance(country, str) and country.upper() in countries:
            hint = f"; use {show(country.upper())}"
        return [
            Problem(
                f"{path}.country",
                f"{show(country)} is not a country the holidays package knows "
                f"(an ISO 3166-1 alpha-2 code such as DE, PH, US){hint}",
            )
        ]
    if subdivision is None:
        return []
    subdivs = countries[country]
    if isinstance(subdivision, str) and subdivision in subdivs:
        return []
    if not subdivs:
        message = f"{show(subdivision)} is not a subdivision of {country}, which has none"
    else:
        message = (
            f"{show(subdivision)} is not a subdivision of {country} (known: {', '.join(subdivs)})"
        )
        if isinstance(subdivision, str):
            code = _subdivision_names(country).get(subdivision.casefold())
            if code is None and subdivision.upper() in subdivs:
                code = subdivision.upper()
            if code is not None:
                message = f"{show(subdivision)} is not a subdivision code of {country}; use {code}"
    return [Problem(f"{path}.subdivision", message)]


@functools.lru_cache(maxsize=4096)
def holiday_dates(country: str, subdivision: str | None, year: int) -> frozenset[dt.date]:
    """The package's holidays (observed days included, its default) falling in ``year``."""
    import holidays

    found = holidays.country_holidays(country, subdiv=subdivision, years=year)
    return frozenset(day for day in found if day.year == year)
