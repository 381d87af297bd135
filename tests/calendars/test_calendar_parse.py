"""Calendars from plain dicts: every problem names its field path and the bad value."""

from __future__ import annotations

import ast
import datetime as dt
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from calendar_helpers import periods

from flowdesk import calendars as fc
from flowdesk.calendars import CalendarValidationError, Period

PACKAGE = Path(fc.__file__).resolve().parent


def problems(data: object) -> list[str]:
    with pytest.raises(CalendarValidationError) as err:
        fc.calendar_from_dict(data)
    return [str(p) for p in err.value.problems]


def base(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"time_zone": "Europe/Paris", "weekly": {"mon": periods("09:00-17:00")}}
    data.update(changes)
    return data


# -- purity ---------------------------------------------------------------------------------


def test_importing_and_using_calendars_loads_no_django() -> None:
    code = (
        "import sys, datetime as dt\n"
        "from flowdesk import calendars as fc\n"
        "cal = fc.calendar_from_dict({'time_zone': 'Europe/Berlin', "
        "'weekly': {'mon': [{'start': '09:00', 'end': '17:00'}]}, "
        "'holidays': {'country': 'DE', 'subdivision': 'BY'}})\n"
        "fc.add_business_time(cal, dt.datetime(2025, 1, 1, tzinfo=dt.UTC), 3600)\n"
        "print(any(m.split('.')[0] == 'django' for m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_no_module_of_the_package_imports_django() -> None:
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not any(n.split(".")[0] == "django" for n in names), path.name
            assert not any(n.startswith("flowdesk.") for n in names), (path.name, names)


# -- the happy path and round trips -----------------------------------------------------------


def test_full_definition_round_trips() -> None:
    data = {
        "time_zone": "Europe/Berlin",
        "weekly": {
            "mon": periods("13:00-17:00", "08:00-12:00"),  # any order; stored sorted
            "sat": periods("10:00-24:00"),
        },
        "holidays": {"country": "DE", "subdivision": "BY"},
        "closed_dates": ["2025-12-24", "2025-12-31"],
        "overrides": {"2025-12-27": [], "2025-12-22": periods("08:00-12:00")},
    }
    cal = fc.calendar_from_dict(data)
    assert cal.weekly[0] == (Period(8 * 3600, 12 * 3600), Period(13 * 3600, 17 * 3600))
    assert cal.weekly[5] == (Period(10 * 3600, 86400),)
    out = fc.calendar_to_dict(cal)
    assert out["weekly"]["mon"] == periods("08:00-12:00", "13:00-17:00")
    assert out["weekly"]["sat"] == periods("10:00-24:00")
    assert out["weekly"]["sun"] == []
    assert out["holidays"] == {"country": "DE", "subdivision": "BY"}
    assert out["overrides"] == {"2025-12-22": periods("08:00-12:00"), "2025-12-27": []}
    assert fc.calendar_from_dict(out) == cal
    assert hash(fc.calendar_from_dict(out)) == hash(cal)


def test_yaml_dates_and_quoted_times() -> None:
    text = """
time_zone: Asia/Manila
weekly:
  mon: [{start: "08:00", end: "17:00"}]
holidays: {country: PH}
closed_dates: [2025-12-26]
overrides:
  2025-12-29: [{start: "08:00", end: "12:00"}]
"""
    cal = fc.calendar_from_dict(yaml.safe_load(text))
    assert cal.closed_dates == frozenset({dt.date(2025, 12, 26)})
    assert cal.override_map == {dt.date(2025, 12, 29): (Period(8 * 3600, 12 * 3600),)}


def test_unquoted_yaml_time_gets_a_hint() -> None:
    data = yaml.safe_load('time_zone: UTC\nweekly:\n  mon: [{start: "09:00", end: 17:00}]\n')
    assert data["weekly"]["mon"][0]["end"] == 1020  # YAML 1.1 sexagesimal
    [msg] = problems(data)
    assert msg.startswith("weekly.mon[0].end: 1020 is not a time (HH:MM); in YAML quote times")


def test_seconds_in_times_round_trip() -> None:
    cal = fc.calendar_from_dict(base(weekly={"mon": periods("09:00:30-17:00")}))
    assert cal.weekly[0] == (Period(9 * 3600 + 30, 17 * 3600),)
    assert fc.calendar_to_dict(cal)["weekly"]["mon"] == periods("09:00:30-17:00")


# -- one problem each -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            base(weekly={"mon": periods("09:00-12:00", "13:00-25:00")}),
            'weekly.mon[1].end: "25:00" is not a time (HH:MM)',
        ),
        (base(weekly={"mon": periods("9am-17:00")}), 'weekly.mon[0].start: "9am" is not a time'),
        (
            base(weekly={"mon": periods("24:00-24:00")}),
            'weekly.mon[0].start: "24:00" is only allowed as an end',
        ),
        (
            base(weekly={"tue": periods("17:00-09:00")}),
            'weekly.tue[0]: start "17:00" is not before end "09:00"',
        ),
        (
            base(weekly={"tue": periods("10:00-10:00")}),
            'weekly.tue[0]: start "10:00" is not before end "10:00"',
        ),
        (
            base(weekly={"wed": periods("09:00-12:00", "11:30-14:00")}),
            "weekly.wed[1]: 11:30-14:00 overlaps weekly.wed[0] (09:00-12:00)",
        ),
        (
            base(weekly={"monday": periods("09:00-17:00")}),
            'weekly.monday: "monday" is not a weekday; use mon, tue, wed, thu, fri, sat, sun',
        ),
        (base(weekly={"mon": "09:00-17:00"}), 'weekly.mon: "09:00-17:00" is not a list of periods'),
        (base(weekly={"mon": [["09:00", "17:00"]]}), 'weekly.mon[0]: ["09:00", "17:00"] is not a'),
        (base(weekly={"mon": [{"start": "09:00"}]}), "weekly.mon[0].end: is required"),
        (
            base(weekly={"mon": [{"start": "09:00", "end": "17:00", "note": 1}]}),
            "weekly.mon[0].note: unknown field; expected start, end",
        ),
        (base(weekly=[]), "weekly: [] is not an object of weekdays"),
        (base(time_zone="Mars/Olympus_Mons"), 'time_zone: "Mars/Olympus_Mons" is not an IANA'),
        (base(time_zone="../etc/passwd"), 'time_zone: "../etc/passwd" is not an IANA time zone'),
        (base(time_zone=1), "time_zone: 1 is not an IANA time zone"),
        (base(time_zone="localtime"), 'time_zone: "localtime" is not an IANA time zone'),
        ({"weekly": {}}, "time_zone: is required"),
        ({"time_zone": "UTC"}, "weekly: is required"),
        (base(holidays={"country": "XX"}), 'holidays.country: "XX" is not a country the holidays'),
        (base(holidays={"country": "de"}), 'holidays.country: "de" is not a country'),
        (
            base(holidays={"country": "DE", "subdivision": "ZZ"}),
            'holidays.subdivision: "ZZ" is not a subdivision of DE (known: BB, BE, BW, BY,',
        ),
        (
            base(holidays={"country": "DE", "subdivision": "Bayern"}),
            'holidays.subdivision: "Bayern" is not a subdivision code of DE; use BY',
        ),
        (
            base(holidays={"country": "US", "subdivision": "ca"}),
            'holidays.subdivision: "ca" is not a subdivision code of US; use CA',
        ),
        (base(holidays={"subdivision": "BY"}), "holidays.country: is required"),
        (base(holidays="DE"), 'holidays: "DE" is not an object'),
        (base(closed_dates=["2025-02-30"]), 'closed_dates[0]: "2025-02-30" is not a date'),
        (base(closed_dates=["20250101"]), 'closed_dates[0]: "20250101" is not a date (YYYY-MM-DD)'),
        (
            base(closed_dates=["2025-12-24", "2025-12-24"]),
            'closed_dates[1]: "2025-12-24" is already closed_dates[0]',
        ),
        (base(closed_dates="2025-12-24"), 'closed_dates: "2025-12-24" is not a list of dates'),
        (
            base(overrides={"2025-13-01": periods("09:00-12:00")}),
            'overrides.2025-13-01: "2025-13-01" is not a date',
        ),
        (
            base(overrides={"2025-12-31": periods("09:00-12:00", "08:00-10:00")}),
            "overrides.2025-12-31[1]: 08:00-10:00 overlaps",
        ),
        (
            base(overrides={"2025-12-24": []}, closed_dates=["2025-12-24"]),
            "overrides.2025-12-24: is also closed_dates[0]; keep one of the two",
        ),
        (base(timezone="UTC"), "timezone: unknown field; expected time_zone, weekly, holidays"),
        ([], "[] is not a calendar object"),
    ],
)
def test_problem_names_path_and_value(data: object, message: str) -> None:
    found = problems(data)
    assert any(p.startswith(message) for p in found), found


def test_every_problem_is_reported_at_once() -> None:
    data = {
        "time_zone": "Nowhere/Land",
        "weekly": {"mon": periods("09:00-25:00"), "tue": periods("12:00-11:00"), "xyz": []},
        "holidays": {"country": "PH", "subdivision": "X"},
        "closed_dates": ["soon"],
    }
    with pytest.raises(CalendarValidationError) as err:
        fc.calendar_from_dict(data)
    paths = [p.path for p in err.value.problems]
    assert paths == [
        "time_zone",
        "weekly.mon[0].end",
        "weekly.tue[0]",
        "weekly.xyz",
        "holidays.subdivision",
        "closed_dates[0]",
    ]
    text = str(err.value)
    assert text.startswith("6 problems in calendar\n  time_zone: ")
    assert '"X" is not a subdivision of PH, which has none' in text
    assert err.value.problems[0].to_dict()["path"] == "time_zone"
    assert isinstance(err.value, ValueError)


def test_direct_construction_validates_too() -> None:
    with pytest.raises(CalendarValidationError, match=r"weekly\.mon\[1\]: 10:00-11:00 overlaps"):
        fc.Calendar(
            "UTC", ((Period(9 * 3600, 12 * 3600), Period(10 * 3600, 11 * 3600)),) + ((),) * 6
        )
    with pytest.raises(CalendarValidationError, match="weekly: needs 7 days"):
        fc.Calendar("UTC", ((),) * 5)
    with pytest.raises(CalendarValidationError, match=r"holidays\.country"):
        fc.Calendar("UTC", ((),) * 7, holidays=fc.HolidayRule("Atlantis"))
    with pytest.raises(CalendarValidationError, match="keep one of the two"):
        fc.Calendar(
            "UTC",
            ((),) * 7,
            closed_dates=frozenset({dt.date(2025, 1, 2)}),
            overrides=((dt.date(2025, 1, 2), ()),),
        )
    with pytest.raises(ValueError, match="not before"):
        Period(3600, 3600)
    with pytest.raises(ValueError, match="outside"):
        Period(0, 86401)
