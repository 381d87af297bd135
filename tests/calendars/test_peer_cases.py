"""All 200 peer-library cases (data/, see data/PROVENANCE.md) and the holiday checks.

data/cases.json and data/PROVENANCE.md are verbatim copies from the project's shared data set
``sla-business-hours``, so the tests run on a fresh clone; the set's cases.csv (the same cases,
flattened) and zammad_sla_scenarios.json (for SLA policies, a later part) are not copied.

Each case either gives the peer library's answer or is listed in DISAGREEMENTS with the reason
(a semantics chosen in docs/sla.md) and *our* answer, which is asserted: a listed case fails if
our behaviour drifts, and also if it starts agreeing with the peer (then the entry must go).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from calendar_helpers import parse_value, peer_calendar, peer_calendar_dict, peer_data

from flowdesk import calendars as fc

# The reasons, each a "Chosen semantics" entry of docs/sla.md.
CLOSE_STAYS_AT_CLOSE = "close_boundary_stays_at_close"
REVERSED_IS_NEGATIVE = "reversed_interval_is_negative"
DST_REAL_TIME = "dst_real_elapsed_time"
DAYS_SNAP_INTO_HOURS = "business_days_snap_into_hours"

# case id -> (reason, our answer in the data set's notation)
DISAGREEMENTS: dict[str, tuple[str, object]] = {
    # biz rolls a deadline used up exactly at a close (Sun 2006-01-08 12:00) to the next opening
    "biz-038": (CLOSE_STAYS_AT_CLOSE, "2006-01-08T12:00:00Z"),
    # biz answers 0 for an interval given backwards; we answer minus the forward interval
    "biz-020": (REVERSED_IS_NEGATIVE, -142200),
    # working_hours counts Paris's 25-hour 2020-10-25 as 24 h; 25 real hours elapse
    "wh-154": (DST_REAL_TIME, 90000),
    # working_hours keeps 06:00 (closed) on the target day; we snap to its opening, 09:00
    "wh-172": (DAYS_SNAP_INTO_HOURS, "1991-11-18T09:00:00+09:00"),
}

CASES: list[dict[str, Any]] = peer_data()["cases"]


def _run(case: dict[str, Any], cal: fc.Calendar) -> object:
    zone = cal.time_zone
    op = case["op"]
    start = parse_value(case["start"], zone)
    if op in ("business_days_between", "business_days_between_inclusive"):
        end = parse_value(case["end"], zone)
        assert isinstance(start, dt.date)
        assert isinstance(end, dt.date)
        count = (
            fc.business_days_between
            if op == "business_days_between"
            else fc.business_days_between_inclusive
        )
        return count(cal, start, end)
    if op in ("add_business_days", "subtract_business_days"):
        n = case["business_days"] * (1 if op == "add_business_days" else -1)
        if not isinstance(start, dt.datetime):
            return fc.add_business_dates(cal, start, n)
        if op == "add_business_days":
            return fc.add_business_days(cal, start, case["business_days"])
        return fc.subtract_business_days(cal, start, case["business_days"])
    assert isinstance(start, dt.datetime)
    if op == "add":
        return fc.add_business_time(cal, start, case["duration_seconds"])
    if op == "subtract":
        return fc.subtract_business_time(cal, start, case["duration_seconds"])
    if op == "elapsed":
        end = parse_value(case["end"], zone)
        assert isinstance(end, dt.datetime)
        return fc.business_seconds_between(cal, start, end)
    single = {
        "is_open": fc.is_open,
        "next_open": fc.next_open,
        "next_close": fc.next_close,
        "prev_open": fc.prev_open,
    }
    return single[op](cal, start)


def _expected(value: object, zone: str) -> object:
    return parse_value(value, zone) if isinstance(value, str) else value


def _check_result(result: object, want: object) -> None:
    assert result == want
    if isinstance(result, dt.datetime):
        assert result.tzinfo is dt.UTC  # answers are UTC, whatever zone went in
    assert type(result) is type(want)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_peer_case(case: dict[str, Any]) -> None:
    cal = peer_calendar(case["calendar"])
    result = _run(case, cal)
    peer = _expected(case["expected"], cal.time_zone)
    if case["id"] in DISAGREEMENTS:
        _reason, ours = DISAGREEMENTS[case["id"]]
        _check_result(result, _expected(ours, cal.time_zone))
        assert result != peer, "this case agrees with the peer now: drop it from DISAGREEMENTS"
    else:
        _check_result(result, peer)


def test_counts_and_table_integrity() -> None:
    ids = [c["id"] for c in CASES]
    assert len(ids) == 200
    assert len(set(ids)) == 200
    assert set(DISAGREEMENTS) <= set(ids)
    reasons = {CLOSE_STAYS_AT_CLOSE, REVERSED_IS_NEGATIVE, DST_REAL_TIME, DAYS_SNAP_INTO_HOURS}
    assert {reason for reason, _ in DISAGREEMENTS.values()} <= reasons


def test_docs_list_every_disagreement() -> None:
    """docs/sla.md names every listed case and every reason, so the table and docs agree."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "sla.md").read_text()
    for case_id, (reason, _) in DISAGREEMENTS.items():
        assert f"`{case_id}`" in doc
        assert f"`{reason}`" in doc
    assert f"{200 - len(DISAGREEMENTS)} of the 200" in doc


def test_every_calendar_round_trips() -> None:
    for name, spec in peer_data()["calendars"].items():
        cal = peer_calendar(name)
        assert fc.calendar_from_dict(fc.calendar_to_dict(cal)) == cal, name
        assert fc.calendar_to_dict(fc.calendar_from_dict(fc.calendar_to_dict(cal))) == (
            fc.calendar_to_dict(cal)
        )
        assert peer_calendar_dict(spec)["time_zone"] == cal.time_zone


# -- holidays -------------------------------------------------------------------------------

US = fc.calendar_from_dict(
    {
        "time_zone": "America/New_York",
        "weekly": {
            d: [{"start": "09:00", "end": "17:00"}] for d in ("mon", "tue", "wed", "thu", "fri")
        },
        "holidays": {"country": "US"},
    }
)
HOLIDAY_CHECKS: dict[str, bool] = peer_data()["holiday_checks"]["is_holiday"]


@pytest.mark.parametrize(("day", "is_holiday"), sorted(HOLIDAY_CHECKS.items()))
def test_us_federal_holiday_checks(day: str, is_holiday: bool) -> None:
    date = dt.date.fromisoformat(day)
    assert (date in fc.holidays_in(US, date.year)) is is_holiday
    assert fc.is_business_date(US, date) is (not is_holiday and date.weekday() < 5)


@pytest.mark.parametrize(
    "case", [c for c in CASES if c["calendar"] == "st_us_federal"], ids=lambda c: c["id"]
)
def test_businesstime_cases_with_the_holidays_package(case: dict[str, Any]) -> None:
    """businesstime used its own US federal holiday list; the holidays package gives the same
    answers on those ranges (the data set lists only the two holidays inside them)."""
    spec = dict(peer_calendar_dict(peer_data()["calendars"]["st_us_federal"]))
    spec["closed_dates"] = []
    spec["holidays"] = {"country": "US"}
    cal = fc.calendar_from_dict(spec)
    assert _run(case, cal) == _expected(case["expected"], cal.time_zone)
