"""Business-hours calendar benchmark: add_business_time() against naive minute stepping.

    python bench/calendar_bench.py [--ops N] [--baseline N] [--seed S] [--repeat R]

The calendar is a realistic one: Europe/Paris, Monday to Friday 08:30-12:30 and 13:30-17:30
(a lunch break), French public holidays from the ``holidays`` package, two closed dates a year
and a few short days (overrides). Starts are seeded random seconds over 2025-2027 (nights,
weekends and holidays included, as tickets arrive); durations are an SLA-like mix from 30 minutes
to 10 business days (80 business hours), most of them short.

Timed: ``add_business_time`` over all starts, once on a fresh calendar (cold: every date's
intervals computed, holidays built) and ``--repeat`` times warm (the median pass is reported);
``subtract_business_time`` and ``business_seconds_between`` warm, for context; and over
year-long spans (a tenth of the starts): a year of business time added, and the business time
between a start and the same instant 365 days later, with minute stepping over two of those
years as the baseline. The baseline is what
one writes without a calendar model: step one minute at a time from the start, ask "is this minute
open?" (local time, holiday set, weekly hours, overrides) and count until the duration is used up.
It is slow, so it runs on the first ``--baseline`` cases only (starts rounded to the minute), and
``add_business_time`` is timed on the very same cases for the ratio. Both are checked to give the
same deadlines first. Not a timed test: record the output in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import platform
import random
import statistics
import sys
import time
import zoneinfo
from collections.abc import Callable
from typing import Any

import holidays

from engine_bench import reference_ms  # the same machine-speed loop as the engine's
from flowdesk import calendars as fc

ZONE = "Europe/Paris"
DAY_SPANS = [{"start": "08:30", "end": "12:30"}, {"start": "13:30", "end": "17:30"}]
YEARS = (2025, 2026, 2027, 2028)
HOUR = 3600
# (duration in seconds, weight): first-response targets up to half a day, resolution targets of
# one to ten business days (8-hour days)
MIX = [
    (30 * 60, 20),
    (HOUR, 20),
    (2 * HOUR, 15),
    (4 * HOUR, 15),
    (8 * HOUR, 10),
    (16 * HOUR, 6),
    (24 * HOUR, 6),
    (40 * HOUR, 5),
    (80 * HOUR, 3),
]


def calendar_definition() -> dict[str, Any]:
    closed, overrides = [], {}
    for year in YEARS:
        closed += [f"{year}-12-24", f"{year}-12-31"]
        overrides[f"{year}-07-13"] = [{"start": "08:30", "end": "12:30"}]
        overrides[f"{year}-12-23"] = [{"start": "09:00", "end": "15:00"}]
    return {
        "time_zone": ZONE,
        "weekly": {day: DAY_SPANS for day in ("mon", "tue", "wed", "thu", "fri")},
        "holidays": {"country": "FR"},
        "closed_dates": closed,
        "overrides": overrides,
    }


def workload(n: int, seed: int) -> list[tuple[dt.datetime, int]]:
    r = random.Random(seed)
    lo = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    span = int((dt.datetime(2028, 1, 1, tzinfo=dt.UTC) - lo).total_seconds())
    durations = [d for d, _ in MIX]
    weights = [w for _, w in MIX]
    return [
        (lo + dt.timedelta(seconds=r.randrange(span)), r.choices(durations, weights)[0])
        for _ in range(n)
    ]


class NaiveCalendar:
    """The baseline: a minute-by-minute scan over a local-time 'is it open?' check."""

    def __init__(self, definition: dict[str, Any]) -> None:
        self.zone = zoneinfo.ZoneInfo(definition["time_zone"])
        self.weekly = [[_span(p) for p in definition["weekly"].get(day, [])] for day in fc.WEEKDAYS]
        self.holidays = set(holidays.country_holidays("FR", years=YEARS))
        self.closed = {dt.date.fromisoformat(d) for d in definition["closed_dates"]}
        self.overrides = {
            dt.date.fromisoformat(d): [_span(p) for p in ps]
            for d, ps in definition["overrides"].items()
        }

    def is_open(self, t: dt.datetime) -> bool:
        local = t.astimezone(self.zone)
        day = local.date()
        if day in self.overrides:
            spans = self.overrides[day]
        elif day in self.closed or day in self.holidays:
            return False
        else:
            spans = self.weekly[day.weekday()]
        now = local.hour * 3600 + local.minute * 60 + local.second
        return any(a <= now < b for a, b in spans)

    def between(self, a: dt.datetime, b: dt.datetime) -> int:
        """Open minutes from ``a`` to ``b`` (both on the minute), stepping every minute."""
        n, cur = 0, a
        while cur < b:
            n += self.is_open(cur)
            cur += dt.timedelta(minutes=1)
        return n * 60

    def add(self, t: dt.datetime, seconds: int) -> dt.datetime:
        minutes, cur = seconds // 60, t
        while minutes:
            if self.is_open(cur):
                minutes -= 1
            cur += dt.timedelta(minutes=1)
        return cur


def _span(period: dict[str, str]) -> tuple[int, int]:
    def secs(text: str) -> int:
        h, m = text.split(":")
        return int(h) * 3600 + int(m) * 60

    return secs(period["start"]), secs(period["end"])


def timed(fn: Callable[[], object]) -> float:
    gc.collect()
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--ops", type=int, default=20_000, help="operations per timed pass")
    ap.add_argument("--baseline", type=int, default=30, help="cases for the minute-stepping side")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=5, help="warm timed passes")
    args = ap.parse_args()

    definition = calendar_definition()
    fc.calendar_from_dict(definition)  # imports the holidays package outside the timings
    cases = workload(args.ops, args.seed)
    before = reference_ms()

    # cold: a fresh calendar value has no compiled timeline and no cached dates (holiday years
    # are cached per process, and were built when the definition was validated above)
    cold_cal = fc.calendar_from_dict(definition)
    cold = timed(lambda: [fc.add_business_time(cold_cal, t, s) for t, s in cases])
    cal = fc.calendar_from_dict(definition)
    deadlines = [fc.add_business_time(cal, t, s) for t, s in cases]  # warm-up
    for (t, s), d in list(zip(cases, deadlines, strict=True))[:2000]:
        assert fc.business_seconds_between(cal, t, d) == s

    add_runs, sub_runs, between_runs = [], [], []
    for _ in range(args.repeat):
        add_runs.append(timed(lambda: [fc.add_business_time(cal, t, s) for t, s in cases]))
        sub_runs.append(timed(lambda: [fc.subtract_business_time(cal, t, s) for t, s in cases]))
        between_runs.append(
            timed(
                lambda: [
                    fc.business_seconds_between(cal, t, d)
                    for (t, _), d in zip(cases, deadlines, strict=True)
                ]
            )
        )

    naive = NaiveCalendar(definition)
    few = [(t.replace(second=0), s) for t, s in cases[: args.baseline]]
    ours = [fc.add_business_time(cal, t, s) for t, s in few]
    naive_out = [naive.add(t, s) for t, s in few]
    assert ours == naive_out, "baseline and flowdesk disagree"
    naive_time = statistics.median(
        timed(lambda: [naive.add(t, s) for t, s in few]) for _ in range(3)
    )
    few_time = statistics.median(
        timed(lambda: [fc.add_business_time(cal, t, s) for t, s in few]) for _ in range(21)
    )
    # Year-long spans: a year of business time added, and the business time of a calendar year.
    year = [t for t, _ in cases[: max(1, len(cases) // 10)]]
    spans = [(t, t + dt.timedelta(days=365)) for t in year]
    year_secs = [fc.business_seconds_between(cal, a, b) for a, b in spans]
    for (a, b), secs in list(zip(spans, year_secs, strict=True))[:200]:
        assert fc.add_business_time(cal, a, secs) <= b
    year_starts = [(a, secs) for (a, _), secs in zip(spans, year_secs, strict=True)]
    year_add = statistics.median(
        timed(lambda: [fc.add_business_time(cal, a, secs) for a, secs in year_starts])
        for _ in range(args.repeat)
    )
    year_between = statistics.median(
        timed(lambda: [fc.business_seconds_between(cal, a, b) for a, b in spans])
        for _ in range(args.repeat)
    )
    two = [(a.replace(second=0), b.replace(second=0)) for a, b in spans[:2]]
    assert [naive.between(a, b) for a, b in two] == [
        fc.business_seconds_between(cal, a, b) for a, b in two
    ], "baseline and flowdesk disagree over a year"
    naive_year = timed(lambda: [naive.between(a, b) for a, b in two])
    year_two = statistics.median(
        timed(lambda: [fc.business_seconds_between(cal, a, b) for a, b in two]) for _ in range(21)
    )
    after = reference_ms()

    n = len(cases)
    rows = [
        ("add_business_time, cold (fresh calendar)", n, cold),
        ("add_business_time, warm (median pass)", n, statistics.median(add_runs)),
        ("subtract_business_time, warm", n, statistics.median(sub_runs)),
        ("business_seconds_between, warm", n, statistics.median(between_runs)),
        (f"add_business_time on the {len(few)} baseline cases", len(few), few_time),
        (f"naive minute stepping, same {len(few)} cases (median of 3)", len(few), naive_time),
        ("add_business_time, a year of business time, warm", len(spans), year_add),
        ("business_seconds_between over a 365-day span, warm", len(spans), year_between),
        ("business_seconds_between, 365 days, the 2 baseline cases", len(two), year_two),
        ("naive minute stepping over 365 days, same 2 cases", len(two), naive_year),
    ]
    print(
        f"Python {platform.python_version()} on {platform.machine()}, {n:,} operations, "
        f"seed {args.seed}, durations 30 min - 80 business hours, calendar {ZONE} "
        "Mon-Fri 08:30-12:30 13:30-17:30 + FR holidays + closed dates + overrides"
    )
    print()
    print("| operation | ops | ops/s | µs/op |")
    print("|---|---:|---:|---:|")
    for name, count, secs in rows:
        print(f"| {name} | {count:,} | {count / secs:,.0f} | {secs / count * 1e6:,.1f} |")
    ratio = naive_time / few_time
    print()
    print(f"flowdesk vs naive minute stepping on the same cases: {ratio:,.0f}x")
    mean_minutes = statistics.mean(
        (d - t).total_seconds() / 60 for (t, _), d in zip(few, ours, strict=True)
    )
    print(f"(the baseline steps {mean_minutes:,.0f} wall-clock minutes per case on average)")
    print(f"over a 365-day span: {naive_year / year_two:,.0f}x faster than minute stepping")
    print(f"machine reference loop: {before:.1f} ms before, {after:.1f} ms after")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
