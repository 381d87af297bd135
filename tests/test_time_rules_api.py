"""The demo's time rules fire at the right instant, through the real API, with a fake clock.

The clock is frozen with ``travel`` and stepped with ``move_to``; ``fire_due("test")`` is the
worker. The desk has the demo rule set and the demo calendars (Manila, the default: Mon-Fri
08:00-12:00 and 13:00-17:00, Asia/Manila = UTC+8; Berlin for Tier 2). Every instant is computed
here by hand, March 2025 has no Philippine holiday.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from api_helpers import Desk
from flowdesk.core.clock import move_to, travel
from flowdesk.demo.seed import demo_calendars_yaml
from flowdesk.timers.models import Timer
from flowdesk.timers.services import fire_due

SECOND = timedelta(seconds=1)
MANILA_OFFSET = timedelta(hours=8)


def manila(day: int, hour: int, minute: int = 0) -> datetime:
    """A wall-clock time in Manila in March 2025, as a UTC instant."""
    return datetime(2025, 3, day, hour, minute, tzinfo=UTC) - MANILA_OFFSET


#: first_reply in 4 business hours for every priority, on the ticket's team's calendar.
STANDARD = {"name": "Standard", "targets": {"first_reply": "4h"}}


@pytest.fixture
def desk(demo_rules: Desk) -> Desk:
    r = demo_rules.admin.call(
        "PUT", "/calendars", {"yaml": demo_calendars_yaml(), "source": "demo/calendars.yaml"}
    )
    assert r.status == 200, r
    return demo_rules


@pytest.fixture
def clock() -> Iterator[None]:
    with travel(manila(10, 9)):
        yield


def _policies(desk: Desk, *policies: dict[str, Any]) -> None:
    r = desk.admin.call("PUT", "/sla-policies", {"policies": list(policies)})
    assert r.status == 200, r


def _customer_ticket(desk: Desk) -> dict[str, Any]:
    """A free-tier customer writes in: the demo rules put it in Tier 1 (Manila's hours)."""
    r = desk.other_customer.post(
        "/tickets", {"subject": "Cannot log in", "body": "The page spins.", "channel": "web"}
    )
    assert r.status == 201, r
    assert r.data["team"] == "Tier 1"
    return dict(r.data)


def _phoned_ticket(desk: Desk) -> dict[str, Any]:
    """An agent types in a customer's phone call, already queued in Tier 1 (so no rule changes
    the new ticket; the first message is the customer's, so the first reply is still owed)."""
    r = desk.agent.post(
        "/tickets",
        {
            "subject": "Cannot log in",
            "body": "The page spins.",
            "channel": "phone",
            "team": "Tier 1",
            "requester_email": desk.other_customer_email,
        },
    )
    assert r.status == 201, r
    return dict(r.data)


def _ticket(desk: Desk, tid: int) -> dict[str, Any]:
    return dict(desk.admin.get(f"/tickets/{tid}").data)


def _events(desk: Desk, tid: int) -> list[dict[str, Any]]:
    return list(desk.admin.get(f"/tickets/{tid}/events").data)


def _fired(desk: Desk, tid: int) -> list[dict[str, Any]]:
    return [e for e in _events(desk, tid) if e["kind"] == "rule_fired"]


def _updates(desk: Desk, tid: int) -> int:
    return len(desk.admin.get(f"/tickets/{tid}/updates").data)


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _next_due(desk: Desk) -> datetime | None:
    due = desk.admin.get("/timers/status").data["next_due_at"]
    return _at(due) if due else None


def _rules_timer(tid: int) -> Timer:
    return Timer.objects.get(ticket_id=tid, purpose="rules")


def _patch(desk: Desk, tid: int, body: dict[str, Any]) -> dict[str, Any]:
    r = desk.agent.patch(f"/tickets/{tid}", body)
    assert r.status == 200, r
    return dict(r.data)


def _replies(desk: Desk, tid: int) -> list[dict[str, Any]]:
    """The pending reminders sent (the agents' own replies are in the outbox too)."""
    items = desk.agent.get("/outbox", ticket=tid, kind="reply").data["items"]
    return [i for i in items if "still waiting for your answer" in i["payload"]["body"]]


def _nothing_fires_at(desk: Desk, tid: int, at: datetime) -> None:
    """A worker at ``at`` fires nothing that writes: the ticket's history stays as it was."""
    before = _updates(desk, tid), _ticket(desk, tid)["version"]
    move_to(at)
    assert not [f for f in fire_due("test") if f.recorded]
    assert (_updates(desk, tid), _ticket(desk, tid)["version"]) == before


def _assert_timer_cause(event: dict[str, Any], rule: str, late: int = 0) -> None:
    assert event["rule"] == rule
    assert event["cause"] == "timer"
    detail = "rules" if not late else f"rules (fired {late} s late)"
    assert event["cause_detail"] == detail


# --- first reply: the warning, 30 minutes before the breach -------------------------------------


def test_warning_30_minutes_before_the_first_reply_is_due_fires_once(
    desk: Desk, clock: None
) -> None:
    _policies(desk, STANDARD)
    created = manila(12, 10)  # Wednesday 10:00
    move_to(created)
    t = _phoned_ticket(desk)
    tid = t["id"]
    # 4 business hours from 10:00: 10-12 and 13-15 (the lunch hour does not count): 15:00.
    due = manila(12, 15)
    sla = [e for e in _events(desk, tid) if e["field"] == "sla.first_reply"]
    assert datetime.fromisoformat(sla[-1]["new"]["due_at"]) == due
    warn_at = due - timedelta(minutes=30)
    assert _rules_timer(tid).due_at == warn_at
    assert _next_due(desk) == warn_at  # the ticket's timer, before it fires

    _nothing_fires_at(desk, tid, warn_at - SECOND)
    move_to(warn_at)
    assert [f.recorded for f in fire_due("test") if f.claim.purpose == "rules"] == [True]
    fired = _fired(desk, tid)
    assert [e["rule"] for e in fired] == ["warn-before-first-reply-breach"]
    _assert_timer_cause(fired[0], "warn-before-first-reply-breach")
    assert fired[0]["created_at"].replace("Z", "+00:00") == warn_at.isoformat()
    assert "sla-warning" in _ticket(desk, tid)["tags"]
    notes = desk.agent.get("/outbox", ticket=tid, kind="notify").data["items"]
    assert len(notes) == 1
    assert notes[0]["payload"]["to"] == ["alice@desk.test"]
    assert notes[0]["payload"]["body"] == (
        f"First reply to #{tid} (Cannot log in) is due at 2025-03-12 07:00:00+00:00."
    )
    # Latched: the rules timer now waits for the due instant (when the warning re-arms).
    assert _rules_timer(tid).due_at == due
    _nothing_fires_at(desk, tid, warn_at + timedelta(minutes=10))
    assert len(_fired(desk, tid)) == 1


def test_a_warning_whose_condition_turned_false_does_nothing(desk: Desk, clock: None) -> None:
    _policies(desk, STANDARD)
    move_to(manila(12, 10))
    tid = _phoned_ticket(desk)["id"]
    warn_at = manila(12, 14, 30)
    assert _rules_timer(tid).due_at == warn_at
    # An agent answers at 14:00: the first reply is met, nothing is left to warn about, and
    # the answer moved the timer away.
    move_to(manila(12, 14))
    _patch(desk, tid, {"message": {"body": "Try clearing the cache.", "public": True}})
    assert not Timer.objects.filter(ticket_id=tid, purpose="rules", due_at=warn_at).exists()
    # A timer still due at the old instant (claimed before the answer moved it, or left by an
    # older rule set) fires to no effect: no rule fires and nothing is written.
    Timer.objects.update_or_create(
        ticket_id=tid, purpose="rules", defaults={"due_at": warn_at, "state": {}}
    )
    before = _updates(desk, tid), _ticket(desk, tid)["version"]
    move_to(warn_at)
    firings = [f for f in fire_due("test") if f.claim.purpose == "rules"]
    assert [(f.fired, f.recorded) for f in firings] == [(True, False)]
    assert (_updates(desk, tid), _ticket(desk, tid)["version"]) == before
    assert _fired(desk, tid) == []
    assert not Timer.objects.filter(ticket_id=tid, purpose="rules").exists()


# --- first reply: the breach ----------------------------------------------------------------


def test_first_reply_breach_escalates_once_and_is_recorded_once(desk: Desk, clock: None) -> None:
    # The policy keeps Manila's hours after the escalation to Tier 2 (which works by Berlin's).
    _policies(desk, {**STANDARD, "calendar": "Manila"})
    move_to(manila(12, 10))
    tid = _phoned_ticket(desk)["id"]
    due = manila(12, 15)
    move_to(due - timedelta(minutes=30))
    fire_due("test")
    assert _rules_timer(tid).due_at == due
    assert _next_due(desk) == due  # the sla timer (the breach) and the rules timer

    _nothing_fires_at(desk, tid, due - SECOND)
    move_to(due)
    fire_due("test")
    t = _ticket(desk, tid)
    assert t["team"] == "Tier 2"
    assert t["priority"] == "high"
    breaches = [e for e in _events(desk, tid) if e["kind"] == "sla_breached"]
    assert len(breaches) == 1
    assert datetime.fromisoformat(breaches[0]["data"]["due_at"]) == due
    assert breaches[0]["cause"] == "timer"
    escalations = [e for e in _events(desk, tid) if e["kind"] == "escalated"]
    assert len(escalations) == 1
    assert "overdue" in escalations[0]["data"]["reason"]
    fired = [e["rule"] for e in _fired(desk, tid)]
    assert fired == ["warn-before-first-reply-breach", "escalate-first-reply-breach"]
    # The sla timer (armed first) fired at the due instant: its update recorded the breach and
    # ran the rules; the rules timer due at the same instant then found nothing left to do.
    escalated = _fired(desk, tid)[-1]
    assert (escalated["cause"], escalated["cause_detail"]) == ("timer", "sla")

    # Hours and days later, nothing repeats: the breach and the escalation stay single.
    for later in (due + timedelta(minutes=5), manila(13, 16), manila(17, 12)):
        _nothing_fires_at(desk, tid, later)
    assert [e["rule"] for e in _fired(desk, tid)] == fired
    assert len([e for e in _events(desk, tid) if e["kind"] == "sla_breached"]) == 1
    assert _ticket(desk, tid)["priority"] == "high"


# --- pending: remind after 3 business days, close after 7 ------------------------------------


def test_pending_reminder_after_3_business_days_and_close_after_7(desk: Desk, clock: None) -> None:
    move_to(manila(11, 9))
    t = _customer_ticket(desk)
    tid = t["id"]
    # Wednesday 12:30, in the lunch break: the agent asks and waits on the customer.
    pending_at = manila(12, 12, 30)
    move_to(pending_at)
    _patch(desk, tid, {"status": "pending", "message": {"body": "Which browser?"}})
    # 3 business days: Thursday, Friday, (weekend), Monday; 12:30 kept, then the next opening
    # (the lunch break ends at 13:00): Monday 2025-03-17 13:00 Manila, 05:00 UTC.
    remind_at = manila(17, 13)
    assert remind_at == datetime(2025, 3, 17, 5, 0, tzinfo=UTC)
    assert _rules_timer(tid).due_at == remind_at
    assert _next_due(desk) == remind_at

    _nothing_fires_at(desk, tid, remind_at - SECOND)
    assert _replies(desk, tid) == []
    move_to(remind_at)
    fire_due("test")
    replies = _replies(desk, tid)
    assert len(replies) == 1
    messages = desk.agent.get(f"/tickets/{tid}/messages").data
    assert _at(messages[-1]["created_at"]) == remind_at
    assert messages[-1]["author_kind"] == "system"
    fired = _fired(desk, tid)
    assert fired[-1]["rule"] == "remind-pending-customer"
    _assert_timer_cause(fired[-1], "remind-pending-customer")
    assert _ticket(desk, tid)["status"] == "pending"  # the reminder does not end the wait

    # 7 business days: Thu 13, Fri 14, Mon 17 ... Fri 21, 13:00 Manila (05:00 UTC).
    close_at = manila(21, 13)
    assert _rules_timer(tid).due_at == close_at
    _nothing_fires_at(desk, tid, remind_at + timedelta(days=1))
    assert len(_replies(desk, tid)) == 1  # reminded once
    _nothing_fires_at(desk, tid, close_at - SECOND)
    move_to(close_at + timedelta(seconds=312))  # the worker was down for five minutes
    fire_due("test")
    t = _ticket(desk, tid)
    assert t["status"] == "closed"
    assert "auto-closed" in t["tags"]
    fired = _fired(desk, tid)
    assert [e["rule"] for e in fired][-1] == "close-abandoned-pending"
    _assert_timer_cause(fired[-1], "close-abandoned-pending", late=312)
    status = [e for e in _events(desk, tid) if e["field"] == "status"][-1]
    assert (status["old"], status["new"], status["cause"]) == ("pending", "closed", "rule")
    assert status["rule"] == "close-abandoned-pending"
    assert len(_replies(desk, tid)) == 1
    assert not Timer.objects.filter(ticket_id=tid, purpose="rules", due_at__isnull=False)


def test_a_customer_reply_re_arms_the_pending_reminder(desk: Desk, clock: None) -> None:
    move_to(manila(11, 9))
    tid = _customer_ticket(desk)["id"]
    move_to(manila(12, 12, 30))
    _patch(desk, tid, {"status": "pending", "message": {"body": "Which browser?"}})
    # Friday 10:00 the customer answers: open again, nothing left to remind about.
    move_to(manila(14, 10))
    r = desk.other_customer.post(f"/tickets/{tid}/messages", {"body": "Firefox 131"})
    assert r.data["status"] == "open"
    assert not Timer.objects.filter(ticket_id=tid, purpose="rules").exists()
    # Friday 16:00 the agent asks again: the 3 days start anew, Mon 17, Tue 18, Wed 19, 16:00.
    move_to(manila(14, 16))
    _patch(desk, tid, {"status": "pending", "message": {"body": "And the version?"}})
    remind_at = manila(19, 16)
    assert _rules_timer(tid).due_at == remind_at
    _nothing_fires_at(desk, tid, manila(17, 13))  # the first wait's reminder instant
    _nothing_fires_at(desk, tid, remind_at - SECOND)
    move_to(remind_at)
    fire_due("test")
    assert len(_replies(desk, tid)) == 1
    assert _fired(desk, tid)[-1]["rule"] == "remind-pending-customer"
    # ... and the close 7 business days after the new wait began: Tue 25, 16:00.
    assert _rules_timer(tid).due_at == manila(25, 16)


# --- the satisfaction survey, 24 hours after solved ------------------------------------------


def test_survey_24_hours_after_solved_unless_reopened(desk: Desk, clock: None) -> None:
    move_to(manila(11, 9))
    tid = _customer_ticket(desk)["id"]
    solved_at = manila(12, 12, 30)
    move_to(solved_at)
    _patch(desk, tid, {"status": "solved", "message": {"body": "Fixed, please check."}})
    assert _rules_timer(tid).due_at == solved_at + timedelta(hours=24)
    assert _next_due(desk) == solved_at + timedelta(hours=24)
    # 20 hours later the customer writes back: open again, no survey at the old instant.
    move_to(solved_at + timedelta(hours=20))
    r = desk.other_customer.post(f"/tickets/{tid}/messages", {"body": "Still broken."})
    assert r.data["status"] == "open"
    _nothing_fires_at(desk, tid, solved_at + timedelta(hours=24))
    surveys = desk.agent.get("/outbox", ticket=tid, kind="survey").data["items"]
    assert surveys == []
    # Solved again two hours after the old instant: the survey goes 24 hours after that.
    again = solved_at + timedelta(hours=26)
    move_to(again)
    _patch(desk, tid, {"status": "solved", "message": {"body": "Now it is fixed."}})
    survey_at = again + timedelta(hours=24)
    assert _rules_timer(tid).due_at == survey_at
    _nothing_fires_at(desk, tid, survey_at - SECOND)
    move_to(survey_at)
    fire_due("test")
    surveys = desk.agent.get("/outbox", ticket=tid, kind="survey").data["items"]
    assert len(surveys) == 1
    assert surveys[0]["payload"]["survey"] == "csat"
    fired = _fired(desk, tid)
    _assert_timer_cause(fired[-1], "satisfaction-survey")
    assert _at(fired[-1]["created_at"]) == survey_at
    _nothing_fires_at(desk, tid, survey_at + timedelta(days=2))
    assert len(desk.agent.get("/outbox", ticket=tid, kind="survey").data["items"]) == 1


def test_a_customer_ticket_under_an_sla_policy_gets_its_clocks(desk: Desk, clock: None) -> None:
    _policies(desk, STANDARD)
    move_to(manila(12, 10))
    t = _customer_ticket(desk)  # default-queue assigns Tier 1 in the same update
    assert _rules_timer(t["id"]).due_at == manila(12, 14, 30)
