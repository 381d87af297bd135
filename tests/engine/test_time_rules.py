"""Time triggers and time plans, with a fake clock: calendar and business time (Manila with a
lunch break and Philippine holidays, Berlin across DST), latching and re-arming, explanations, and
four typical rules run end to end at exact instants."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from engine_helpers import CATALOG, rule, rules, snapshot

from flowdesk.calendars import calendar_from_dict
from flowdesk.engine import (
    TRIGGERS,
    CompiledRuleSet,
    EngineContext,
    Event,
    RuleSetError,
    TimeTrigger,
    after_timer,
    compile_ruleset,
    explain,
    run_cascade,
    time_plan,
)
from flowdesk.engine.durations import parse_span
from flowdesk.engine.triggers import effective_values

UTC = dt.UTC
_LUNCH = [{"start": "08:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"}]
MANILA = calendar_from_dict(
    {
        "time_zone": "Asia/Manila",
        "weekly": {d: _LUNCH for d in ("mon", "tue", "wed", "thu", "fri")},
        "holidays": {"country": "PH"},  # 2026: Apr 2 and 3 (Holy Week), Apr 9 (Valor Day)
    }
)
BERLIN = calendar_from_dict(
    {
        "time_zone": "Europe/Berlin",
        "weekly": {d: [{"start": "09:00", "end": "17:00"}] for d in ("mon", "tue", "wed")},
    }
)
CTX = EngineContext(calendars={"manila": MANILA, "berlin": BERLIN}, default_calendar="manila")
TIMER = Event("timer", timer="rules")


def z(text: str) -> dt.datetime:
    """``2026-03-30T02:00`` as an aware UTC datetime."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def trig(spec: dict[str, Any]) -> TimeTrigger[Any]:
    t = rules(rule("t", triggers=[spec])).rules[0].triggers[0]
    assert isinstance(t, TimeTrigger)
    return t


def snap(**over: Any) -> dict[str, Any]:
    return snapshot(calendar="manila", **over)


# --- durations ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "canonical"),
    [("90s", "1m30s"), ("30m", "30m"), ("24h", "24h"), ("3d", "3d"), ("1w", "1w"),
     ("1h30m", "1h30m"), (5400, "1h30m"), ("2D 4H", "2d4h")],
)  # fmt: skip
def test_durations_are_normalised(given: Any, canonical: str) -> None:
    rs = rules(rule("t", triggers=[{"type": "since", "event": "created", "for": given}]))
    assert rs.definition["rules"][0]["triggers"][0]["for"] == canonical


@pytest.mark.parametrize("bad", ["3x", "h", "", "30m1h", "1h1h", 0, -5, 1.5, True, "1.5h"])
def test_bad_durations_name_the_value_and_path(bad: Any) -> None:
    with pytest.raises(RuleSetError) as err:
        compile_ruleset(
            {"rules": [rule("t", triggers=[{"type": "in_status", "status": "open", "for": bad}])]},
            catalog=CATALOG,
        )
    (issue,) = err.value.issues
    assert issue.path == "triggers[0].for"
    assert repr(bad) in issue.message


def test_compile_problems_name_the_field() -> None:
    with pytest.raises(RuleSetError) as err:
        rules(
            rule("a", triggers=[{"type": "in_status", "status": ["pending", "pendng"], "for": 60}]),
            rule("b", triggers=[{"type": "at_local_time", "time": "25:00"}]),
            rule("c", triggers=[{"type": "sla_due_in", "metric": "first", "within": "1h"}]),
            rule("d", triggers=[{"type": "since", "event": "created", "for": "1h", "x": 1}]),
        )
    got = {(i.rule, i.path) for i in err.value.issues}
    assert got == {
        ("a", "triggers[0].status"),
        ("b", "triggers[0].time"),
        ("c", "triggers[0].metric"),
        ("d", "triggers[0].x"),
    }
    messages = " | ".join(i.message for i in err.value.issues)
    assert "pendng" in messages
    assert "'25:00'" in messages


def test_time_triggers_are_registered_with_time_based() -> None:
    names = {n for n, c in TRIGGERS.items() if c.time_based}
    assert names == {
        "sla_due_in",
        "sla_breached",
        "in_status",
        "no_customer_reply",
        "no_agent_reply",
        "since",
        "at_local_time",
    }


# --- each trigger: holds and next_due -----------------------------------------------------

# Mon 2026-03-30 10:00 in Manila (UTC+8) is 02:00Z.
PENDING_SINCE = z("2026-03-30T02:00")


def test_in_status_business_days_skip_holy_week() -> None:
    t = trig({"type": "in_status", "status": "pending", "for": "3d", "time": "business"})
    s = snap(status="pending", status_changed_at=PENDING_SINCE)
    # Tue 31, Wed 1, (Thu 2 and Fri 3 are holidays), Mon 6: at the same wall-clock time
    due = z("2026-04-06T02:00")
    assert t.next_due(s, PENDING_SINCE, CTX) == due
    assert not t.holds(s, due - dt.timedelta(seconds=1), CTX)
    assert t.holds(s, due, CTX)  # exactly at the due instant: holds
    assert t.next_due(s, due + dt.timedelta(hours=5), CTX) == due + dt.timedelta(hours=5)
    assert t.next_due(snap(status="open", status_changed_at=PENDING_SINCE), due, CTX) is None


def test_in_status_calendar_time_and_status_lists() -> None:
    t = trig({"type": "in_status", "status": ["pending", "on-hold"], "for": "3d"})
    s = snap(status="on-hold", status_changed_at=PENDING_SINCE)
    assert t.next_due(s, PENDING_SINCE, CTX) == z("2026-04-02T02:00")


def test_business_hours_cross_the_lunch_break() -> None:
    t = trig({"type": "in_status", "status": "open", "for": "1h", "time": "business"})
    s = snap(status="open", status_changed_at=z("2026-03-30T03:30"))  # 11:30 local
    assert t.next_due(s, z("2026-03-30T03:30"), CTX) == z("2026-03-30T05:30")  # 13:30 local


def test_business_weeks_are_the_calendars_business_days() -> None:
    t = trig({"type": "in_status", "status": "open", "for": "1w", "time": "business"})
    s = snap(status="open", status_changed_at=z("2026-03-23T02:00"))  # Mon 10:00
    # 5 business days: Tue 24 ... Fri 27, Mon 30 (no holiday that week)
    assert t.next_due(s, z("2026-03-23T02:00"), CTX) == z("2026-03-30T02:00")


def test_business_time_without_a_calendar_is_calendar_time() -> None:
    t = trig({"type": "since", "event": "created", "for": "3d", "time": "business"})
    s = snapshot(created_at=PENDING_SINCE)  # no calendar, and no default in the empty context
    assert t.next_due(s, PENDING_SINCE, EngineContext()) == z("2026-04-02T02:00")
    assert t.next_due(s, PENDING_SINCE, CTX) == z("2026-04-06T02:00")  # the default: Manila


def test_no_customer_reply_over_the_weekend() -> None:
    t = trig({"type": "no_customer_reply", "for": "2h", "time": "business"})
    agent = z("2026-03-27T08:00")  # Fri 16:00 local: 1h on Friday, 1h on Monday from 08:00
    s = snap(last_agent_message_at=agent, last_customer_message_at=z("2026-03-27T07:00"))
    assert t.next_due(s, agent, CTX) == z("2026-03-30T01:00")
    answered = {**s, "last_customer_message_at": z("2026-03-27T09:00")}
    assert t.next_due(answered, agent, CTX) is None
    assert not t.holds(answered, z("2026-04-30T00:00"), CTX)


def test_no_agent_reply() -> None:
    t = trig({"type": "no_agent_reply", "for": "30m"})
    s = snap(last_customer_message_at=z("2026-03-30T02:00"), last_agent_message_at=None)
    assert t.next_due(s, z("2026-03-30T02:00"), CTX) == z("2026-03-30T02:30")
    replied = {**s, "last_agent_message_at": z("2026-03-30T02:10")}
    assert t.next_due(replied, z("2026-03-30T02:10"), CTX) is None


def test_since_each_instant() -> None:
    for event in ("created", "updated", "status_changed", "solved"):
        t = trig({"type": "since", "event": event, "for": "24h"})
        s = snap(**{f"{event}_at": z("2026-03-30T02:00")})
        assert t.next_due(s, z("2026-03-30T02:00"), CTX) == z("2026-03-31T02:00")
        assert t.next_due(snap(), z("2026-03-30T02:00"), CTX) is None  # instant unset


def test_sla_due_in_window() -> None:
    t = trig({"type": "sla_due_in", "metric": "first_reply", "within": "30m"})
    s = snap(
        **{"sla.first_reply.state": "running", "sla.first_reply.due_at": z("2026-03-30T06:00")}
    )
    assert t.next_due(s, z("2026-03-30T01:00"), CTX) == z("2026-03-30T05:30")
    assert t.holds(s, z("2026-03-30T05:30"), CTX)
    assert t.holds_until(s, z("2026-03-30T05:30"), CTX) == z("2026-03-30T06:00")
    assert not t.holds(s, z("2026-03-30T06:00"), CTX)  # at due_at it is due, no longer "due in"
    assert t.next_due(s, z("2026-03-30T06:00"), CTX) is None
    paused = {**s, "sla.first_reply.state": "paused"}
    assert t.next_due(paused, z("2026-03-30T01:00"), CTX) is None


def test_sla_due_in_business_time() -> None:
    t = trig({"type": "sla_due_in", "metric": "resolution", "within": "1h", "time": "business"})
    # due 13:30 local: one business hour before is 11:30 (lunch 12-13 does not count)
    s = snap(**{"sla.resolution.state": "running", "sla.resolution.due_at": z("2026-03-30T05:30")})
    assert t.next_due(s, z("2026-03-30T00:00"), CTX) == z("2026-03-30T03:30")


def test_sla_breached() -> None:
    t = trig({"type": "sla_breached", "metric": "first_reply"})
    due = z("2026-03-30T06:00")
    running = snap(**{"sla.first_reply.state": "running", "sla.first_reply.due_at": due})
    assert t.next_due(running, z("2026-03-30T01:00"), CTX) == due
    assert not t.holds(running, due, CTX)
    assert t.next_due(running, due, CTX) is None  # the breach itself comes as an update
    breached = {**running, "sla.first_reply.state": "breached"}
    assert t.holds(breached, due, CTX)
    assert t.next_due(breached, due, CTX) == due
    met = {**running, "sla.first_reply.state": "met", "sla.first_reply.due_at": None}
    assert t.next_due(met, due, CTX) is None


def test_at_local_time_in_the_calendar_zone_across_dst() -> None:
    t = trig(
        {"type": "at_local_time", "time": "09:00", "days": ["mon", "fri"], "calendar": "berlin"}
    )
    s = snap()  # the ticket's calendar is Manila; the trigger names Berlin
    # Sat 2026-03-28 (CET, +1): next is Mon 2026-03-30 09:00 CEST (+2) = 07:00Z
    assert t.next_due(s, z("2026-03-28T12:00"), CTX) == z("2026-03-30T07:00")
    assert t.holds(s, z("2026-03-30T07:00"), CTX)
    assert t.holds_until(s, z("2026-03-30T07:00"), CTX) == z("2026-03-30T22:00")
    assert not t.holds(s, z("2026-03-30T22:00"), CTX)  # local midnight ends it
    assert t.next_due(s, z("2026-03-30T22:00"), CTX) == z("2026-04-03T07:00")  # Friday
    local = trig({"type": "at_local_time", "time": "09:00"})
    assert local.next_due(s, z("2026-03-30T00:00"), CTX) == z("2026-03-30T01:00")  # Manila
    assert local.next_due(snapshot(), z("2026-03-30T00:00"), EngineContext()) == z(
        "2026-03-30T09:00"
    )  # UTC


def test_at_local_time_skipped_by_dst_maps_past_the_jump() -> None:
    t = trig({"type": "at_local_time", "time": "02:30", "calendar": "berlin"})
    # 2026-03-29: Berlin jumps from 02:00 CET to 03:00 CEST; 02:30 is 03:30 CEST = 01:30Z
    assert t.next_due(snap(), z("2026-03-28T23:00"), CTX) == z("2026-03-29T01:30")


def test_durations_in_calendar_time_are_real_elapsed_time_across_dst() -> None:
    t = trig({"type": "since", "event": "created", "for": "1d"})
    s = snapshot(calendar="berlin", created_at=z("2026-03-28T12:00"))
    assert t.next_due(s, z("2026-03-28T12:00"), CTX) == z("2026-03-29T12:00")  # 24 real hours
    assert parse_span("1d2h").total_seconds == 93600


def test_instants_rules_move_read_as_now_during_the_cascade() -> None:
    s = {"status": "pending", "status_changed_at": z("2026-01-01T00:00"), "solved_at": None}
    now = z("2026-03-30T02:00")
    moved = effective_values(s, {"status": ("pending", "solved")}, now)
    assert moved["status_changed_at"] == now
    assert moved["solved_at"] == now
    assert moved["updated_at"] == now
    assert effective_values(s, {}, now) is s
    # A rule that closes the ticket does not make "closed for 1d" hold in the same cascade.
    rs = rules(
        rule(
            "close",
            triggers=[{"type": "in_status", "status": "pending", "for": "7d"}],
            actions=[{"type": "set_status", "value": "closed"}],
        ),
        rule("closed-a-day", triggers=[{"type": "in_status", "status": "closed", "for": "1d"}]),
    )
    res = run_cascade(rs, snap(**s), TIMER, now=now, context=CTX)
    assert res.fired_names == ["close"]


# --- the cascade, latching, explanations --------------------------------------------------


def pending_rules() -> CompiledRuleSet:
    return rules(
        rule(
            "remind",
            triggers=[{"type": "in_status", "status": "pending", "for": "3d", "time": "business"}],
            actions=[{"type": "reply", "body": "Any news, {{ requester.name }}?"}],
        ),
        rule(
            "close",
            triggers=[{"type": "in_status", "status": "pending", "for": "7d", "time": "business"}],
            actions=[{"type": "set_status", "value": "closed"}],
        ),
    )


def test_time_rules_fire_only_on_timer_events_and_not_when_latched() -> None:
    rs = pending_rules()
    s = snap(status="pending", status_changed_at=PENDING_SINCE)
    at = z("2026-04-06T02:00")
    assert run_cascade(rs, s, Event("updated"), now=at, context=CTX).fired_names == []
    assert run_cascade(rs, s, TIMER, now=at, context=CTX).fired_names == ["remind"]
    latched = frozenset({"remind"})
    assert run_cascade(rs, s, TIMER, now=at, context=CTX, latched=latched).fired_names == []
    # every evaluator agrees: the index, the straight-line code and the tracing explanation
    assert rs.match(s, TIMER, now=at, context=CTX) == ["remind"]
    rs.matcher.use_linear(rs.rules)
    assert rs.match(s, TIMER, now=at, context=CTX) == ["remind"]
    assert rs.match(s, TIMER, now=at, context=CTX, latched=latched) == []
    assert explain(rs, s, TIMER, now=at, context=CTX).fired == ["remind"]


def test_a_rule_may_mix_time_and_event_triggers() -> None:
    rs = rules(
        rule(
            "nudge",
            triggers=["created", {"type": "since", "event": "created", "for": "1h"}],
            actions=[{"type": "add_tags", "tags": ["nudged"]}],
        )
    )
    s = snap(created_at=z("2026-03-30T02:00"))
    assert run_cascade(rs, s, Event("created"), now=z("2026-03-30T02:00")).fired_names == ["nudge"]
    assert run_cascade(rs, s, TIMER, now=z("2026-03-30T02:59")).fired_names == []
    assert run_cascade(rs, s, TIMER, now=z("2026-03-30T03:00")).fired_names == ["nudge"]
    plan = time_plan(rs, s, z("2026-03-30T02:00"), CTX)
    assert plan.next_due == z("2026-03-30T03:00")
    assert plan.due_rules == ("nudge",)


def test_explain_says_why_a_time_trigger_held_or_not() -> None:
    rs = pending_rules()
    s = snap(status="pending", status_changed_at=PENDING_SINCE)
    exp = explain(rs, s, TIMER, now=z("2026-04-06T02:00"), context=CTX)
    remind, close = exp.rule("remind"), exp.rule("close")
    assert remind["fired"]
    assert remind["time"] == [
        {
            "trigger": "in_status for='3d', time='business', status=['pending']",
            "held": True,
            "sentence": "in status pending for 3 business days: since 2026-03-30T02:00Z, "
            "due 2026-04-06T02:00Z, held",
        }
    ]
    assert close["reason"] == (
        "no trigger matched the event; in status pending for 7 business days: "
        "since 2026-03-30T02:00Z, due 2026-04-13T02:00Z, not yet"
    )
    again = explain(
        rs, s, TIMER, now=z("2026-04-06T03:00"), context=CTX, latched=frozenset({"remind"})
    )
    assert again.rule("remind")["latched"] is True
    assert again.rule("remind")["reason"].startswith("latched: it already fired")
    to_dict = exp.to_dict()  # JSON-able
    assert to_dict["rules"][0]["time"][0]["held"] is True


def test_time_plan_latches_and_rearms() -> None:
    rs = pending_rules()
    s = snap(status="pending", status_changed_at=PENDING_SINCE)
    plan = time_plan(rs, s, PENDING_SINCE, CTX)
    assert plan.next_due == z("2026-04-06T02:00")
    assert plan.due_rules == ("remind",)
    assert plan.latched == frozenset()
    at = z("2026-04-06T02:00")
    plan = time_plan(rs, s, at, CTX, frozenset({"remind"}))
    assert plan.latched == {"remind"}  # still pending: stays latched
    assert plan.next_due == z("2026-04-13T02:00")
    assert plan.due_rules == ("close",)
    reopened = {**s, "status": "open", "status_changed_at": z("2026-04-07T02:00")}
    plan = time_plan(rs, reopened, z("2026-04-07T02:00"), CTX, frozenset({"remind"}))
    assert plan.latched == frozenset()
    assert plan.next_due is None
    pending_again = {**s, "status_changed_at": z("2026-04-08T02:00")}
    plan = time_plan(rs, pending_again, z("2026-04-08T02:00"), CTX, plan.latched)
    # Thu 9 is a holiday: Fri 10, Mon 13, Tue 14
    assert plan.next_due == z("2026-04-14T02:00")
    assert plan.due_rules == ("remind",)


def test_unknown_disabled_and_condition_failing_rules_leave_the_latch() -> None:
    rs = rules(
        rule(
            "r",
            triggers=[{"type": "since", "event": "created", "for": "1h"}],
            conditions={"field": "priority", "op": "is", "value": "high"},
        ),
        rule("off", enabled=False, triggers=[{"type": "since", "event": "created", "for": "1h"}]),
    )
    s = snap(created_at=z("2026-03-30T00:00"), priority="high")
    plan = time_plan(rs, s, z("2026-03-30T05:00"), CTX, frozenset({"r", "off", "gone"}))
    assert plan.latched == {"r"}
    plan = time_plan(rs, {**s, "priority": "low"}, z("2026-03-30T05:00"), CTX, frozenset({"r"}))
    assert plan.latched == frozenset()
    assert plan.next_due is None


def test_a_latched_daily_rule_rearms_at_local_midnight() -> None:
    rs = rules(rule("daily", triggers=[{"type": "at_local_time", "time": "09:00"}]))
    s = snap()  # Manila
    at = z("2026-03-30T01:00")  # 09:00 local
    assert time_plan(rs, s, z("2026-03-30T00:00"), CTX).next_due == at
    plan = time_plan(rs, s, at, CTX, frozenset({"daily"}))
    assert plan.latched == {"daily"}
    assert plan.next_due == z("2026-03-30T16:00")
    assert plan.due_rules == ()
    assert plan.rearm_at == z("2026-03-30T16:00")
    plan = time_plan(rs, s, z("2026-03-30T16:00"), CTX, plan.latched)
    assert plan.latched == frozenset()
    assert plan.next_due == z("2026-03-31T01:00")


# --- four typical rules, end to end with a fake clock -------------------------------------

TYPICAL = [
    rule(
        "warn-first-reply",
        triggers=[{"type": "sla_due_in", "metric": "first_reply", "within": "30m"}],
        actions=[{"type": "notify", "team": "Tier 1", "message": "First reply due in 30 minutes"}],
    ),
    rule(
        "first-reply-breached",
        triggers=[{"type": "sla_breached", "metric": "first_reply"}],
        actions=[{"type": "escalate", "team": "Tier 2", "priority": "raise", "reason": "SLA"}],
    ),
    rule(
        "remind-pending",
        triggers=[{"type": "in_status", "status": "pending", "for": "3d", "time": "business"}],
        actions=[{"type": "reply", "body": "Do you still need help?"}],
    ),
    rule(
        "close-pending",
        triggers=[{"type": "in_status", "status": "pending", "for": "7d", "time": "business"}],
        actions=[{"type": "set_status", "value": "closed"}],
    ),
    rule(
        "survey",
        triggers=[{"type": "since", "event": "solved", "for": "24h"}],
        conditions={"field": "status", "op": "is", "value": "solved"},
        actions=[{"type": "send_survey", "survey": "csat"}],
    ),
]


class Desk:
    """The Django side's loop, in miniature: one ticket, its latched rules and its timer."""

    def __init__(self, now: dt.datetime, **fields: Any) -> None:
        self.rs = rules(*TYPICAL)
        self.ticket = snap(created_at=now, updated_at=now, status_changed_at=now, **fields)
        self.latched: frozenset[str] = frozenset()
        self.timer: dt.datetime | None = None
        self.log: list[tuple[str, list[str], list[str]]] = []
        self._plan(now)

    def _plan(self, now: dt.datetime) -> None:
        plan = time_plan(self.rs, self.ticket, now, CTX, self.latched)
        self.latched, self.timer = plan.latched, plan.next_due

    def update(self, now: dt.datetime, **fields: Any) -> None:
        changes = {k.replace("__", "."): v for k, v in fields.items()}
        if "status" in changes:
            changes["status_changed_at"] = now
            solved = changes["status"] in ("solved", "closed")
            changes["solved_at"] = (self.ticket.get("solved_at") or now) if solved else None
        self.ticket = {**self.ticket, **changes, "updated_at": now}
        self._plan(now)

    def run_until(self, end: dt.datetime) -> None:
        while self.timer is not None and self.timer <= end:
            now = self.timer
            res = run_cascade(
                self.rs, self.ticket, TIMER, now=now, context=CTX, latched=self.latched
            )
            plan = after_timer(
                self.rs, self.ticket, res, now=now, context=CTX, latched=self.latched
            )
            self.ticket = dict(effective_values(res.final, res.changes, now))
            self.latched, self.timer = plan.latched, plan.next_due
            effects = [e.type for e in res.effects]
            self.log.append((now.isoformat(), res.fired_names, effects))


def test_warn_before_first_reply_breach_then_escalate() -> None:
    created = z("2026-03-30T01:00")  # Mon 09:00 Manila; first reply due in 4 business hours
    due = z("2026-03-30T06:00")  # 09-12 and 13-14 local
    desk = Desk(
        created,
        status="new",
        priority="normal",
        **{"sla.first_reply.state": "running", "sla.first_reply.due_at": due},
    )
    assert desk.timer == z("2026-03-30T05:30")
    desk.run_until(due - dt.timedelta(seconds=1))
    assert desk.log == [("2026-03-30T05:30:00+00:00", ["warn-first-reply"], ["notify"])]
    assert desk.latched == {"warn-first-reply"}
    assert desk.timer == due
    desk.run_until(due)  # the rules timer at due_at: not breached yet, the warning re-arms
    assert desk.log[-1] == ("2026-03-30T06:00:00+00:00", [], [])
    assert desk.latched == frozenset()
    assert desk.timer is None
    desk.update(due, sla__first_reply__state="breached")  # the SLA side records the breach
    assert desk.timer == due
    desk.run_until(due)
    assert desk.log[-1] == ("2026-03-30T06:00:00+00:00", ["first-reply-breached"], ["escalation"])
    assert desk.ticket["team"] == "Tier 2"
    assert desk.ticket["priority"] == "high"
    assert desk.latched == {"first-reply-breached"}
    assert desk.timer is None


def test_remind_after_3_and_close_after_7_business_days_pending() -> None:
    desk = Desk(z("2026-03-27T02:00"), status="open")
    desk.update(PENDING_SINCE, status="pending")
    desk.run_until(z("2026-05-01T00:00"))
    assert desk.log == [
        ("2026-04-06T02:00:00+00:00", ["remind-pending"], ["reply"]),
        ("2026-04-13T02:00:00+00:00", ["close-pending"], []),
    ]
    assert desk.ticket["status"] == "closed"
    assert desk.timer is None
    assert desk.latched == frozenset()  # the close ended "pending": both re-armed


def test_a_customer_reply_rearms_the_reminder() -> None:
    desk = Desk(z("2026-03-27T02:00"), status="open")
    desk.update(PENDING_SINCE, status="pending")
    desk.run_until(z("2026-04-07T00:00"))
    assert [names for _, names, _ in desk.log] == [["remind-pending"]]
    desk.update(z("2026-04-07T03:00"), status="open")  # the customer answered
    assert desk.latched == frozenset()
    assert desk.timer is None
    desk.update(z("2026-04-08T02:00"), status="pending")  # Wed 10:00 local
    desk.run_until(z("2026-04-30T00:00"))
    assert desk.log[1:] == [
        ("2026-04-14T02:00:00+00:00", ["remind-pending"], ["reply"]),  # Thu 9 is a holiday
        ("2026-04-20T02:00:00+00:00", ["close-pending"], []),
    ]


def test_survey_24_hours_after_solved_unless_reopened() -> None:
    desk = Desk(z("2026-03-30T01:00"), status="open")
    desk.update(z("2026-03-30T04:00"), status="solved")
    assert desk.timer == z("2026-03-31T04:00")
    desk.run_until(z("2026-04-05T00:00"))
    assert desk.log == [("2026-03-31T04:00:00+00:00", ["survey"], ["send_survey"])]
    assert desk.latched == {"survey"}
    assert desk.timer is None

    reopened = Desk(z("2026-03-30T01:00"), status="open")
    reopened.update(z("2026-03-30T04:00"), status="solved")
    reopened.update(z("2026-03-30T09:00"), status="open")
    assert reopened.timer is None
    reopened.run_until(z("2026-04-05T00:00"))
    assert reopened.log == []

    closed = Desk(z("2026-03-30T01:00"), status="open")
    closed.update(z("2026-03-30T04:00"), status="solved")
    closed.update(z("2026-03-30T06:00"), status="closed")  # solved_at stays; not "solved"
    closed.run_until(z("2026-04-05T00:00"))
    assert closed.log == []
