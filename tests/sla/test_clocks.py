"""SLA clocks: windows, pauses, cycles, re-evaluation, breaches, calendars (pure, no database)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from typing import Any

import pytest

from flowdesk.calendars import Calendar, NaiveDatetimeError, calendar_from_dict
from flowdesk.sla.clocks import ClockState, Pause, SlaState, Timeline, compute_clocks
from flowdesk.sla.policy import PolicyTargets, Target, compile_policies

UTC = dt.UTC
BIZ_WEEK = ("mon", "tue", "wed", "thu", "fri")


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def targets(pause: tuple[str, ...] = ("pending", "on-hold"), **metrics: Target) -> PolicyTargets:
    return PolicyTargets("p", metrics, frozenset(pause))


def hours(n: float, business: bool = True) -> Target:
    return Target(int(n * 3600), business)


def office(zone: str, *spans: tuple[str, str], holidays: str | None = None) -> Calendar:
    periods = [{"start": a, "end": b} for a, b in spans]
    spec: dict[str, Any] = {"time_zone": zone, "weekly": {d: periods for d in BIZ_WEEK}}
    if holidays:
        spec["holidays"] = {"country": holidays}
    return calendar_from_dict(spec)


def timeline(
    created: dt.datetime,
    *statuses: tuple[dt.datetime, str],
    messages: tuple[tuple[dt.datetime, str], ...] = (),
    initial: str = "open",
) -> Timeline:
    return Timeline(created, ((created, initial), *statuses), messages)


# --- first reply on a Manila calendar --------------------------------------------------------

MANILA = office("Asia/Manila", ("08:00", "12:00"), ("13:00", "17:00"), holidays="PH")


def manila(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.timezone(dt.timedelta(hours=8)))  # type: ignore[misc]


def test_friday_afternoon_ticket_in_manila_is_due_monday_morning() -> None:
    created = manila(2025, 8, 15, 16, 50)  # a Friday
    state = compute_clocks(
        targets(first_reply=hours(1)), timeline(created), MANILA, created + dt.timedelta(minutes=5)
    )
    clock = state.clocks["first_reply"]
    assert clock.due_at == manila(2025, 8, 18, 8, 50)  # Monday
    assert clock.state == "running"
    assert clock.elapsed == 300
    assert clock.left == 3300
    assert state.next_due == clock.due_at


def test_manila_holiday_on_monday_moves_it_to_tuesday() -> None:
    created = manila(2025, 8, 22, 16, 50)  # Friday; Monday 2025-08-25 is National Heroes Day
    state = compute_clocks(targets(first_reply=hours(1)), timeline(created), MANILA, created)
    assert state.clocks["first_reply"].due_at == manila(2025, 8, 26, 8, 50)


# --- pauses, solve and reopen ----------------------------------------------------------------


def test_pending_pauses_and_resumes_with_the_time_used() -> None:
    t0 = utc(2025, 1, 6, 9)
    line = timeline(t0, (utc(2025, 1, 6, 10), "pending"), (utc(2025, 1, 6, 11), "open"))
    paused = compute_clocks(targets(first_reply=hours(2)), line, None, utc(2025, 1, 6, 10, 30))
    clock = paused.clocks["first_reply"]
    assert clock.state == "paused"
    assert clock.due_at is None
    assert clock.elapsed == 3600
    assert clock.pauses == (Pause(utc(2025, 1, 6, 10), None),)
    assert paused.next_due is None
    later = compute_clocks(targets(first_reply=hours(2)), line, None, utc(2025, 1, 6, 11, 30))
    clock = later.clocks["first_reply"]
    assert clock.state == "running"
    assert clock.due_at == utc(2025, 1, 6, 12)
    assert clock.pauses == (Pause(utc(2025, 1, 6, 10), utc(2025, 1, 6, 11)),)


def test_pause_statuses_come_from_the_policy() -> None:
    t0 = utc(2025, 1, 6, 9)
    line = timeline(t0, (utc(2025, 1, 6, 10), "on-hold"))
    only_pending = targets(pause=("pending",), first_reply=hours(2))
    clock = compute_clocks(only_pending, line, None, utc(2025, 1, 6, 10, 30)).clocks["first_reply"]
    assert clock.state == "running"
    assert clock.due_at == utc(2025, 1, 6, 11)


def test_resolution_stops_when_solved_and_reopening_resumes_it() -> None:
    t0 = utc(2025, 1, 6, 9)
    solved = timeline(t0, (utc(2025, 1, 6, 10), "solved"), (utc(2025, 1, 6, 11), "closed"))
    res = compute_clocks(targets(resolution=hours(4)), solved, None, utc(2025, 1, 6, 12))
    clock = res.clocks["resolution"]
    assert (clock.state, clock.elapsed, clock.left) == ("met", 3600, 3 * 3600)
    assert clock.stopped_at == clock.met_at == utc(2025, 1, 6, 10)  # solved, not closed
    assert clock.due_at is None
    assert clock.pauses == ()
    reopened = Timeline(
        solved.created_at, (*solved.statuses, (utc(2025, 1, 6, 13), "open")), solved.messages
    )
    res = compute_clocks(targets(resolution=hours(4)), reopened, None, utc(2025, 1, 6, 14))
    clock = res.clocks["resolution"]
    assert (clock.state, clock.elapsed, clock.stopped_at) == ("running", 7200, None)
    assert clock.due_at == utc(2025, 1, 6, 16)
    assert clock.pauses == (Pause(utc(2025, 1, 6, 10), utc(2025, 1, 6, 13)),)


def test_reply_clocks_do_not_run_while_solved() -> None:
    t0 = utc(2025, 1, 6, 9)
    line = timeline(t0, (utc(2025, 1, 6, 10), "solved"), messages=((t0, "customer"),))
    state = compute_clocks(
        targets(first_reply=hours(2), next_reply=hours(2), periodic_update=hours(2)),
        line,
        None,
        utc(2025, 1, 8),
    )
    for metric in ("first_reply", "next_reply", "periodic_update"):
        clock = state.clocks[metric]
        assert (clock.state, clock.elapsed, clock.due_at) == ("paused", 3600, None), metric
        assert clock.pauses == (Pause(utc(2025, 1, 6, 10), None),)


# --- re-evaluation, breaches -----------------------------------------------------------------


def test_raised_priority_applies_the_shorter_target_to_the_time_used() -> None:
    (policy,) = compile_policies(
        [{"name": "p", "targets": {"first_reply": {"normal": "4h", "urgent": "1h"}}}]
    )
    t0 = utc(2025, 1, 6, 9)
    now = utc(2025, 1, 6, 10, 30)
    normal = compute_clocks(policy.targets_for("normal"), timeline(t0), None, now)
    assert normal.clocks["first_reply"].due_at == utc(2025, 1, 6, 13)
    urgent = compute_clocks(policy.targets_for("urgent"), timeline(t0), None, now)
    clock = urgent.clocks["first_reply"]
    assert clock.state == "breached"
    assert clock.breached_at == utc(2025, 1, 6, 10)
    assert clock.due_at == utc(2025, 1, 6, 10)
    assert clock.left == -1800
    assert urgent.next_due is None  # nothing left to wake up for
    assert compute_clocks(policy.targets_for("low"), timeline(t0), None, now).clocks == {}


def test_a_reply_at_the_due_instant_is_late_and_one_second_before_is_not() -> None:
    t0 = utc(2025, 1, 6, 9)
    for reply, state in ((utc(2025, 1, 6, 10), "breached"), (utc(2025, 1, 6, 9, 59, 59), "met")):
        line = timeline(t0, messages=((reply, "agent"),))
        clock = compute_clocks(targets(first_reply=hours(1)), line, None, reply).clocks[
            "first_reply"
        ]
        assert clock.state == state
        assert clock.stopped_at == reply


def test_breached_while_running_then_replied_keeps_the_breach_instant() -> None:
    t0 = utc(2025, 1, 6, 9)
    line = timeline(t0, messages=((utc(2025, 1, 6, 12), "agent"),))
    clock = compute_clocks(targets(first_reply=hours(1)), line, None, utc(2025, 1, 7)).clocks[
        "first_reply"
    ]
    assert (clock.state, clock.breached_at, clock.met_at) == ("breached", utc(2025, 1, 6, 10), None)
    assert clock.stopped_at == utc(2025, 1, 6, 12)
    assert clock.left == -2 * 3600


def test_deadline_at_a_closing_time_stays_at_the_close() -> None:
    cal = office("UTC", ("09:00", "17:00"))
    t0 = utc(2025, 1, 10, 15)  # Friday
    clock = compute_clocks(targets(first_reply=hours(2)), timeline(t0), cal, t0).clocks[
        "first_reply"
    ]
    assert clock.due_at == utc(2025, 1, 10, 17)
    monday = utc(2025, 1, 13, 9)  # a reply at Monday's opening comes after the budget ran out
    line = timeline(t0, messages=((monday, "agent"),))
    clock = compute_clocks(targets(first_reply=hours(2)), line, cal, monday).clocks["first_reply"]
    assert clock.state == "breached"
    assert clock.breached_at == utc(2025, 1, 10, 17)


# --- cycles ------------------------------------------------------------------------------------


def test_next_reply_cycles_and_a_second_customer_message_does_not_restart() -> None:
    t0 = utc(2025, 1, 6, 9)
    msgs = (
        (t0, "customer"),
        (utc(2025, 1, 6, 10), "agent"),
        (utc(2025, 1, 6, 11), "customer"),
        (utc(2025, 1, 6, 11, 30), "customer"),
        (utc(2025, 1, 6, 14), "agent"),
        (utc(2025, 1, 6, 15), "customer"),
    )
    state = compute_clocks(
        targets(next_reply=hours(2)), timeline(t0, messages=msgs), None, utc(2025, 1, 6, 15, 30)
    )
    first, second = state.earlier
    assert (first.cycle, first.state, first.elapsed) == (0, "met", 3600)
    assert (second.cycle, second.state, second.started_at) == (1, "breached", utc(2025, 1, 6, 11))
    assert second.breached_at == utc(2025, 1, 6, 13)
    assert second.stopped_at == utc(2025, 1, 6, 14)
    current = state.clocks["next_reply"]
    assert (current.cycle, current.state, current.due_at) == (2, "running", utc(2025, 1, 6, 17))
    assert [(c.metric, c.cycle) for c in state.breaches()] == [("next_reply", 1)]


def test_no_next_reply_clock_before_the_customer_writes() -> None:
    t0 = utc(2025, 1, 6, 9)
    line = timeline(t0, messages=((t0, "agent"),))
    state = compute_clocks(targets(next_reply=hours(2)), line, None, utc(2025, 1, 6, 10))
    assert state.clocks == {}
    assert state.earlier == ()


def test_periodic_update_runs_from_creation_and_from_each_agent_reply() -> None:
    t0 = utc(2025, 1, 6, 9)
    msgs = ((utc(2025, 1, 6, 10), "agent"), (utc(2025, 1, 6, 16), "agent"))
    state = compute_clocks(
        targets(periodic_update=hours(4)), timeline(t0, messages=msgs), None, utc(2025, 1, 6, 17)
    )
    assert [(c.cycle, c.state, c.elapsed) for c in state.earlier] == [
        (0, "met", 3600),
        (1, "breached", 6 * 3600),
    ]
    current = state.clocks["periodic_update"]
    assert (current.cycle, current.started_at, current.due_at) == (
        2,
        utc(2025, 1, 6, 16),
        utc(2025, 1, 6, 20),
    )


# --- calendars: DST, lunch breaks, calendar time ---------------------------------------------


def test_dst_spring_forward_weekend() -> None:
    cal = office("Europe/Berlin", ("09:00", "17:00"))
    t0 = utc(2025, 3, 28, 15)  # Friday 16:00 CET; Sunday the clocks go forward
    clock = compute_clocks(targets(first_reply=hours(2)), timeline(t0), cal, t0).clocks[
        "first_reply"
    ]
    assert clock.due_at == utc(2025, 3, 31, 8)  # Monday 10:00 CEST


def test_calendar_time_counts_the_real_hours_of_a_dst_night() -> None:
    t0 = utc(2025, 10, 25, 22)  # Berlin: the night has 25 hours
    state = compute_clocks(targets(resolution=hours(5, business=False)), timeline(t0), None, t0)
    assert state.clocks["resolution"].due_at == utc(2025, 10, 26, 3)


def test_lunch_break_is_not_business_time() -> None:
    cal = office("Europe/Berlin", ("08:00", "12:00"), ("13:00", "17:00"))
    t0 = utc(2025, 1, 6, 10, 30)  # 11:30 local
    clock = compute_clocks(targets(first_reply=hours(1)), timeline(t0), cal, t0).clocks[
        "first_reply"
    ]
    assert clock.due_at == utc(2025, 1, 6, 12, 30)  # 13:30 local
    later = compute_clocks(
        targets(first_reply=hours(1)), timeline(t0), cal, utc(2025, 1, 6, 11, 45)
    )
    assert later.clocks["first_reply"].elapsed == 1800  # 11:30-12:00 only


def test_calendar_targets_ignore_the_calendar() -> None:
    cal = office("UTC", ("09:00", "17:00"))
    t0 = utc(2025, 1, 10, 16)
    state = compute_clocks(
        targets(first_reply=hours(2, business=False)), timeline(t0), cal, utc(2025, 1, 10, 17)
    )
    clock = state.clocks["first_reply"]
    assert clock.due_at == utc(2025, 1, 10, 18)
    assert clock.business is False


# --- inputs, outputs ---------------------------------------------------------------------------


def test_no_policy_means_no_clocks() -> None:
    t0 = utc(2025, 1, 6, 9)
    state = compute_clocks(None, timeline(t0), None, t0)
    assert (state.policy, state.clocks, state.next_due) == (None, {}, None)
    assert state.snapshot_fields()["sla.first_reply.state"] is None


def test_events_after_now_are_not_known_yet() -> None:
    t0 = utc(2025, 1, 6, 9)
    line = timeline(t0, messages=((utc(2025, 1, 6, 11), "agent"),))
    state = compute_clocks(targets(first_reply=hours(4)), line, None, utc(2025, 1, 6, 10))
    assert state.clocks["first_reply"].state == "running"


def test_naive_and_unordered_input_is_refused() -> None:
    t0 = utc(2025, 1, 6, 9)
    with pytest.raises(NaiveDatetimeError, match="now: 2025-01-06T10:00:00 is a naive datetime"):
        compute_clocks(None, timeline(t0), None, dt.datetime(2025, 1, 6, 10))  # noqa: DTZ001
    with pytest.raises(NaiveDatetimeError, match="created_at"):
        compute_clocks(None, Timeline(dt.datetime(2025, 1, 6), ()), None, t0)  # noqa: DTZ001
    bad = Timeline(t0, ((t0, "open"),), ((utc(2025, 1, 6, 11), "agent"), (t0, "customer")))
    with pytest.raises(ValueError, match=r"messages\[1\].*earlier than the message before it"):
        compute_clocks(None, bad, None, utc(2025, 1, 7))
    with pytest.raises(ValueError, match="before the ticket was created"):
        compute_clocks(None, timeline(t0), None, utc(2025, 1, 5))


def test_sub_second_instants_are_truncated() -> None:
    t0 = dt.datetime(2025, 1, 6, 9, 0, 0, 900000, tzinfo=UTC)
    clock = compute_clocks(targets(first_reply=hours(1)), timeline(t0), None, t0).clocks[
        "first_reply"
    ]
    assert clock.started_at == utc(2025, 1, 6, 9)
    assert clock.due_at == utc(2025, 1, 6, 10)


def test_json_round_trip_and_snapshot_fields() -> None:
    t0 = utc(2025, 1, 6, 9)
    msgs = ((t0, "customer"), (utc(2025, 1, 6, 13), "agent"), (utc(2025, 1, 6, 14), "customer"))
    line = timeline(t0, (utc(2025, 1, 6, 15), "pending"), messages=msgs)
    state = compute_clocks(
        targets(first_reply=hours(1), next_reply=hours(2), resolution=hours(8)),
        line,
        MANILA,
        utc(2025, 1, 6, 16),
    )
    text = json.dumps(state.to_json())
    again = SlaState.from_json(json.loads(text))
    assert again == state
    assert again.to_json() == state.to_json()
    fields = state.snapshot_fields()
    assert fields["sla.policy"] == "p"
    assert fields["sla.next_reply.state"] == "paused"
    assert fields["sla.next_reply.due_at"] is None
    assert fields["sla.periodic_update.state"] is None
    assert isinstance(state.clocks["first_reply"], ClockState)


def test_the_pure_sla_modules_load_no_django() -> None:
    code = (
        "import sys, flowdesk.sla.policy, flowdesk.sla.clocks; "
        "print(any(m.split('.')[0] == 'django' for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
