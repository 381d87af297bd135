"""SLA clocks at run time, through the real interfaces: tickets made and changed through the API
on a frozen clock (``travel``), the ``sla`` timer fired as a worker would (``fire_due``), and the
clocks read back through ``GET /api/tickets/{id}/sla``, the ticket detail, the event log and
``flowdesk sla explain`` (docs/sla.md, "SLA at run time")."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from api_helpers import Api, Desk

MANILA = ZoneInfo("Asia/Manila")
PERIODS = [{"start": "08:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"}]
MANILA_CALENDAR: dict[str, Any] = {
    "time_zone": "Asia/Manila",
    "weekly": {day: PERIODS for day in ("mon", "tue", "wed", "thu", "fri")},
    "holidays": {"country": "PH"},
}
#: Tuesday 2025-09-02 09:00 Manila: an ordinary business morning.
TUE = datetime(2025, 9, 2, 9, 0, tzinfo=MANILA)


def manila(*args: int) -> datetime:
    return datetime(*args, tzinfo=MANILA)  # type: ignore[misc]


def utc_text(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def api_instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _team_id(desk: Desk, name: str) -> int:
    r = desk.admin.get("/teams")
    assert r.status == 200, r
    items = r.data["items"] if isinstance(r.data, dict) else r.data
    return int(next(t["id"] for t in items if t["name"] == name))


def _setup(desk: Desk, policies: list[dict[str, Any]], team: str = "Tier 1") -> None:
    """The Manila calendar, attached to ``team``, and the policy list."""
    r = desk.admin.post("/calendars", {"name": "Manila", "definition": MANILA_CALENDAR})
    assert r.status == 201, r
    r = desk.admin.call("PUT", f"/teams/{_team_id(desk, team)}/calendar", {"calendar": "Manila"})
    assert r.status == 200, r
    r = desk.admin.call("PUT", "/sla-policies", {"policies": policies})
    assert r.status == 200, r


FIRST_REPLY_1H = [
    {
        "name": "Tier 1 replies",
        "conditions": {"all": [{"field": "team", "op": "is", "value": "Tier 1"}]},
        "targets": {"first_reply": "1h"},
    }
]
BY_PRIORITY = [
    {
        "name": "Tier 1 support",
        "conditions": {"all": [{"field": "team", "op": "is", "value": "Tier 1"}]},
        "targets": {
            "first_reply": {"urgent": "30m", "high": "1h", "normal": "2h", "low": "1d"},
            "resolution": "8h",
        },
    }
]


def _ticket(desk: Desk, team: str | None = "Tier 1", **extra: Any) -> int:
    body: dict[str, Any] = {
        "subject": "Printer on fire",
        "body": "Smoke everywhere.",
        "requester_email": desk.customer_email,
        **extra,
    }
    if team is not None:
        body["team"] = team
    r = desk.agent.post("/tickets", body)
    assert r.status == 201, r
    return int(r.data["id"])


def _version(api: Api, tid: int) -> int:
    return int(api.get(f"/tickets/{tid}").data["version"])


def _patch(api: Api, tid: int, body: dict[str, Any]) -> dict[str, Any]:
    r = api.patch(f"/tickets/{tid}", {**body, "version": _version(api, tid)})
    assert r.status == 200, r
    return dict(r.data)


def _reply(api: Api, tid: int, text: str = "On it.") -> None:
    r = api.post(f"/tickets/{tid}/messages", {"body": text, "version": _version(api, tid)})
    assert r.status == 201, r


def _sla(desk: Desk, tid: int, api: Api | None = None) -> dict[str, Any]:
    r = (api or desk.agent).get(f"/tickets/{tid}/sla")
    assert r.status == 200, r
    return dict(r.data)


def _clock(report: dict[str, Any], metric: str) -> dict[str, Any]:
    return dict(next(c for c in report["clocks"] if c["metric"] == metric))


def _events(desk: Desk, tid: int, kind: str) -> list[dict[str, Any]]:
    r = desk.admin.get(f"/tickets/{tid}/events")
    assert r.status == 200, r
    return [e for e in r.data if e["kind"] == kind]


def _breaches(tid: int) -> list[tuple[str, int]]:
    from flowdesk.sla.models import SlaBreach

    return list(SlaBreach.objects.filter(ticket_id=tid).values_list("metric", "cycle"))


def _fire() -> list[Any]:
    from flowdesk.timers.services import fire_due

    return fire_due("test")


def _sla_timer_due(tid: int) -> datetime | None:
    from flowdesk.timers.models import Timer

    row = Timer.objects.filter(ticket_id=tid, purpose="sla").first()
    return row.due_at if row is not None else None


# --- the Manila acceptance case ----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("created", "due"),
    [
        # Friday 16:50: 10 minutes on Friday, 50 on Monday morning.
        (manila(2025, 8, 29, 16, 50), manila(2025, 9, 1, 8, 50)),
        # Friday 2025-08-22 16:50; Monday 2025-08-25 is National Heroes Day: Tuesday 08:50.
        (manila(2025, 8, 22, 16, 50), manila(2025, 8, 26, 8, 50)),
    ],
    ids=["next-monday", "heroes-day-tuesday"],
)
def test_manila_first_reply_due_in_business_time(
    desk: Desk, created: datetime, due: datetime
) -> None:
    from flowdesk.core.clock import travel

    with travel(created):
        _setup(desk, FIRST_REPLY_1H)
        tid = _ticket(desk)
        report = _sla(desk, tid)
    assert report["policy"] == "Tier 1 replies"
    assert report["calendar"] == "Manila"
    assert report["time_zone"] == "Asia/Manila"
    clock = _clock(report, "first_reply")
    assert clock["state"] == "running"
    assert clock["target"] == 3600
    assert clock["target_text"] == "1h"
    assert clock["business"] is True
    assert clock["time"] == "business"
    assert clock["due_at"] == utc_text(due)
    assert clock["due_at_local"] == due.isoformat()
    assert clock["elapsed"] == 0
    assert clock["left"] == 3600
    assert report["next_due"] == utc_text(due)
    # The worker's timer waits for exactly that instant.
    assert _sla_timer_due(tid) == due.astimezone(UTC)
    # Over the weekend time passes, business time does not.
    with travel(due - timedelta(minutes=51)):
        clock = _clock(_sla(desk, tid), "first_reply")
        assert (clock["elapsed"], clock["left"]) == (600, 3000)


@pytest.mark.django_db(transaction=True)
def test_reads_are_for_agents_and_unknown_tickets_are_404(desk: Desk) -> None:
    from flowdesk.core.clock import travel

    with travel(TUE):
        _setup(desk, FIRST_REPLY_1H)
        tid = _ticket(desk)
        assert desk.customer.get(f"/tickets/{tid}/sla").status == 403
        assert desk.agent.get("/tickets/999999/sla").status == 404
        # A ticket without a policy: an answer without clocks.
        other = _ticket(desk, team=None)
        report = _sla(desk, other)
        assert (report["policy"], report["clocks"], report["breaches"]) == (None, [], [])


def _openapi_schema(desk: Desk, name: str) -> dict[str, Any]:
    r = desk.agent.client.get("/api/openapi.json")
    assert r.status_code == 200
    spec = r.json()
    assert "/api/tickets/{ticket_id}/sla" in spec["paths"]
    return dict(spec["components"]["schemas"][name])


@pytest.mark.django_db
def test_the_report_schema_is_described_in_openapi(desk: Desk) -> None:
    clock = _openapi_schema(desk, "ClockOut")
    for field in ("state", "due_at", "left", "elapsed", "pauses", "met_at", "breached_at"):
        assert clock["properties"][field].get("description"), field
    report = _openapi_schema(desk, "SlaReportOut")
    assert {"policy", "calendar", "clocks", "earlier_cycles", "breaches"} <= set(
        report["properties"]
    )


# --- met, breached (once), pauses --------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_an_agent_reply_in_time_meets_the_first_reply(desk: Desk) -> None:
    from flowdesk.core.clock import move_to, travel

    with travel(TUE):
        _setup(desk, FIRST_REPLY_1H)
        tid = _ticket(desk)
        assert _sla_timer_due(tid) == (TUE + timedelta(hours=1)).astimezone(UTC)
        move_to(TUE + timedelta(minutes=59, seconds=59))
        _reply(desk.agent, tid)
        clock = _clock(_sla(desk, tid), "first_reply")
        assert clock["state"] == "met"
        assert clock["met_at"] == utc_text(TUE + timedelta(minutes=59, seconds=59))
        assert clock["due_at"] is None
        assert clock["breached_at"] is None
        assert clock["elapsed"] == 3599
        assert clock["left"] == 1
        assert _sla_timer_due(tid) is None  # nothing left to wait for
        move_to(TUE + timedelta(hours=2))
        assert [f.recorded for f in _fire()] == []
        assert _breaches(tid) == []
        assert _sla(desk, tid)["breaches"] == []
    changes = _events(desk, tid, "sla_changed")
    assert [e["field"] for e in changes] == ["sla.policy", "sla.first_reply", "sla.first_reply"]
    assert changes[-1]["old"]["state"] == "running"
    assert changes[-1]["new"]["state"] == "met"


@pytest.mark.django_db(transaction=True)
def test_no_reply_breaches_at_the_due_instant_and_is_recorded_once(desk: Desk) -> None:
    from django.db import connection

    from flowdesk.core.clock import move_to, travel
    from flowdesk.tickets.services import do_timer_update
    from flowdesk.timers.models import Timer

    due = TUE + timedelta(hours=1)
    with travel(TUE):
        _setup(desk, FIRST_REPLY_1H)
        tid = _ticket(desk)
        move_to(due - timedelta(seconds=1))
        assert _fire() == []  # not due yet
        assert _clock(_sla(desk, tid), "first_reply")["state"] == "running"
        move_to(due)
        firings = _fire()
        assert [(f.claim.purpose, f.fired, f.recorded) for f in firings] == [("sla", True, True)]
        assert _fire() == []  # fired twice: nothing is due any more
        report = _sla(desk, tid)
        clock = _clock(report, "first_reply")
        assert clock["state"] == "breached"
        assert clock["breached_at"] == utc_text(due)
        assert clock["due_at"] == utc_text(due)
        assert clock["left"] == 0
        assert [(b["metric"], b["cycle"], b["due_at"]) for b in report["breaches"]] == [
            ("first_reply", 0, utc_text(due))
        ]
        assert report["breaches"][0]["update_id"] is not None
        assert _breaches(tid) == [("first_reply", 0)]
        assert _sla_timer_due(tid) is None

        # A stale worker fires the timer again, two workers at once: still one breach.
        Timer.objects.update_or_create(
            ticket_id=tid, purpose="sla", defaults={"due_at": due, "state": {}}
        )
        move_to(due + timedelta(minutes=5))
        errors: list[BaseException] = []
        results: list[Any] = []
        barrier = threading.Barrier(2)

        def work(i: int) -> None:
            try:
                barrier.wait(10)
                if i == 0:
                    results.extend(_fire())
                else:
                    results.append(do_timer_update(tid, purpose="sla", now=due))
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == []
        # Later updates recompute the breached clock without recording it again.
        _patch(desk.agent, tid, {"add_tags": ["looked-at"]})
    assert _breaches(tid) == [("first_reply", 0)]
    breached = _events(desk, tid, "sla_breached")
    assert len(breached) == 1
    assert breached[0]["field"] == "sla.first_reply"
    assert breached[0]["cause"] == "timer"
    assert breached[0]["cause_detail"] == "sla"
    assert breached[0]["data"] == {
        "policy": "Tier 1 replies",
        "cycle": 0,
        "due_at": utc_text(due),
        "target_seconds": 3600,
        "business": True,
    }
    with travel(due + timedelta(minutes=10)):
        assert len(_sla(desk, tid)["breaches"]) == 1


@pytest.mark.django_db(transaction=True)
def test_pending_pauses_first_reply_and_resolution_and_open_resumes(desk: Desk) -> None:
    from flowdesk.core.clock import move_to, travel

    with travel(TUE):
        _setup(desk, BY_PRIORITY)
        tid = _ticket(desk)  # normal: first reply 2h, resolution 8h
        move_to(TUE + timedelta(minutes=30))
        _patch(desk.agent, tid, {"status": "pending"})
        move_to(TUE + timedelta(hours=2))
        report = _sla(desk, tid)
        for metric in ("first_reply", "resolution"):
            clock = _clock(report, metric)
            assert clock["state"] == "paused", metric
            assert (clock["elapsed"], clock["due_at"]) == (1800, None)
            assert clock["pauses"] == [
                {"start": utc_text(TUE + timedelta(minutes=30)), "end": None}
            ]
        assert report["next_due"] is None
        assert _sla_timer_due(tid) is None  # nothing runs: the timer is gone
        _patch(desk.agent, tid, {"status": "open"})
        report = _sla(desk, tid)
        first, resolution = _clock(report, "first_reply"), _clock(report, "resolution")
        assert first["state"] == resolution["state"] == "running"
        assert first["elapsed"] == resolution["elapsed"] == 1800
        assert first["pauses"] == [
            {
                "start": utc_text(TUE + timedelta(minutes=30)),
                "end": utc_text(TUE + timedelta(hours=2)),
            }
        ]
        # 90 minutes left from 11:00: 11:00-12:00, the lunch break, 13:00-13:30.
        assert first["due_at"] == utc_text(manila(2025, 9, 2, 13, 30))
        # 7.5 hours left: 11-12 and 13-17 on Tuesday (5 h), then Wednesday 08:00-10:30.
        assert resolution["due_at"] == utc_text(manila(2025, 9, 3, 10, 30))
        assert _sla_timer_due(tid) == manila(2025, 9, 2, 13, 30).astimezone(UTC)
    changes = _events(desk, tid, "sla_changed")
    states = [(e["field"], (e["old"] or {}).get("state"), e["new"]["state"]) for e in changes[1:]]
    assert states == [
        ("sla.first_reply", None, "running"),
        ("sla.resolution", None, "running"),
        ("sla.first_reply", "running", "paused"),
        ("sla.resolution", "running", "paused"),
        ("sla.first_reply", "paused", "running"),
        ("sla.resolution", "paused", "running"),
    ]
    assert {e["actor"] for e in changes[3:]} == {"alice@desk.test"}


# --- re-evaluation -----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_raised_priority_applies_its_shorter_target_to_the_time_used(desk: Desk) -> None:
    from flowdesk.core.clock import move_to, travel

    with travel(TUE):
        _setup(desk, BY_PRIORITY)
        tid = _ticket(desk)  # normal: first reply due in 2h, 11:00
        assert _sla_timer_due(tid) == (TUE + timedelta(hours=2)).astimezone(UTC)
        move_to(TUE + timedelta(minutes=20))
        _patch(desk.agent, tid, {"priority": "high"})  # 1h: due 10:00, not breached
        clock = _clock(_sla(desk, tid), "first_reply")
        assert (clock["state"], clock["due_at"]) == ("running", utc_text(TUE + timedelta(hours=1)))
        assert _sla_timer_due(tid) == (TUE + timedelta(hours=1)).astimezone(UTC)
        move_to(TUE + timedelta(minutes=45))
        _patch(desk.agent, tid, {"priority": "urgent"})  # 30m: breached 15 minutes ago
        report = _sla(desk, tid)
        clock = _clock(report, "first_reply")
        assert clock["state"] == "breached"
        assert clock["breached_at"] == utc_text(TUE + timedelta(minutes=30))
        assert clock["left"] == -900
        assert _breaches(tid) == [("first_reply", 0)]
        # The timer that would have looked at 10:00 finds the breach already recorded.
        move_to(TUE + timedelta(hours=3))
        _fire()
        _patch(desk.agent, tid, {"priority": "urgent", "add_tags": ["again"]})
    assert _breaches(tid) == [("first_reply", 0)]
    breached = _events(desk, tid, "sla_breached")
    assert len(breached) == 1
    assert breached[0]["actor"] == "alice@desk.test"
    assert breached[0]["data"]["due_at"] == utc_text(TUE + timedelta(minutes=30))
    changes = [e for e in _events(desk, tid, "sla_changed") if e["field"] == "sla.first_reply"]
    assert [(e["old"] or {}).get("target_seconds") for e in changes] == [None, 7200, 3600]
    assert [e["new"]["target_seconds"] for e in changes] == [7200, 3600, 1800]
    assert changes[-1]["new"]["state"] == "breached"


VIP_THEN_TIER_1 = [
    {
        "name": "VIP",
        "conditions": {"all": [{"field": "tags", "op": "has_any", "value": ["vip"]}]},
        "targets": {"first_reply": "15m"},
    },
    *FIRST_REPLY_1H,
]


@pytest.mark.django_db(transaction=True)
def test_a_policy_that_stops_matching_removes_its_clocks(desk: Desk) -> None:
    from flowdesk.core.clock import move_to, travel

    with travel(TUE):
        _setup(desk, VIP_THEN_TIER_1)
        tid = _ticket(desk, tags=["vip"])
        report = _sla(desk, tid)
        assert report["policy"] == "VIP"
        assert _clock(report, "first_reply")["due_at"] == utc_text(TUE + timedelta(minutes=15))
        move_to(TUE + timedelta(minutes=10))
        _patch(desk.agent, tid, {"remove_tags": ["vip"]})  # the next policy applies
        report = _sla(desk, tid)
        assert report["policy"] == "Tier 1 replies"
        assert _clock(report, "first_reply")["due_at"] == utc_text(TUE + timedelta(hours=1))
        assert _sla_timer_due(tid) == (TUE + timedelta(hours=1)).astimezone(UTC)
        move_to(TUE + timedelta(minutes=20))
        _patch(desk.agent, tid, {"team": "Billing"})  # no policy matches
        assert desk.agent.get(f"/tickets/{tid}/sla").status == 404  # not Alice's team now
        report = _sla(desk, tid, desk.admin)
        assert (report["policy"], report["clocks"], report["next_due"]) == (None, [], None)
        assert _sla_timer_due(tid) is None
        move_to(TUE + timedelta(hours=2))
        assert _fire() == []
    assert _breaches(tid) == []
    policy = [e for e in _events(desk, tid, "sla_changed") if e["field"] == "sla.policy"]
    assert [(e["old"], e["new"]) for e in policy] == [
        (None, "VIP"),
        ("VIP", "Tier 1 replies"),
        ("Tier 1 replies", None),
    ]
    assert policy[-1]["data"]["message"] == (
        "SLA policy 'Tier 1 replies' no longer applies: its clocks are removed"
    )
    assert {e["actor"] for e in policy[1:]} == {"alice@desk.test"}
    removed = [e for e in _events(desk, tid, "sla_changed") if e["field"] == "sla.first_reply"]
    assert removed[-1]["new"] is None
    assert removed[-1]["old"]["state"] == "running"


# --- a rule on the breach, and the explanation ------------------------------------------------

EVERY_TICKET_MANILA = [{"name": "Everyone", "calendar": "Manila", "targets": {"first_reply": "1h"}}]


def _rule_firings(desk: Desk, tid: int, rule: str) -> list[dict[str, Any]]:
    return [e for e in _events(desk, tid, "rule_fired") if e["rule"] == rule]


@pytest.mark.django_db(transaction=True)
def test_a_rule_on_the_breach_escalates_once_and_explain_shows_it(demo_rules: Desk) -> None:
    from flowdesk.core.clock import move_to, travel

    desk = demo_rules
    due = TUE + timedelta(hours=1)
    with travel(TUE):
        _setup(desk, EVERY_TICKET_MANILA)
        # A free-tier customer: the demo rules leave the ticket with Tier 1, at normal priority.
        tid = _ticket(desk, requester_email=desk.other_customer_email)
        assert desk.admin.get(f"/tickets/{tid}").data["priority"] == "normal"
        move_to(due - timedelta(minutes=30))  # the demo warning rule: 30 minutes before
        _fire()
        assert "sla-warning" in desk.admin.get(f"/tickets/{tid}").data["tags"]
        assert _rule_firings(desk, tid, "escalate-first-reply-breach") == []
        move_to(due)
        _fire()
        ticket = desk.admin.get(f"/tickets/{tid}").data
        assert (ticket["team"], ticket["priority"]) == ("Tier 2", "high")
        # Fired again, and later updates: the rule has done its work once.
        _fire()
        move_to(due + timedelta(hours=1))
        _fire()
        _patch(desk.admin, tid, {"add_tags": ["seen"]})
        move_to(due + timedelta(days=2))
        _fire()
        firings = _rule_firings(desk, tid, "escalate-first-reply-breach")
        assert len(firings) == 1
        breached = _events(desk, tid, "sla_breached")
        assert len(breached) == 1
        assert firings[0]["update_id"] == breached[0]["update_id"]  # in the breach's update
        assert _breaches(tid) == [("first_reply", 0)]

        out = StringIO()
        call_command("sla", "explain", str(tid), stdout=out)
        text = out.getvalue()
        report = _sla(desk, tid, desk.admin)
    update = report["breaches"][0]["update_id"]
    assert text.splitlines() == [
        f"ticket #{tid} (new, high)",
        f"policy: Everyone; calendar: Manila; as of {utc_text(due + timedelta(days=2))}",
        "  first_reply: breached, target 1h business time, started 2025-09-02T01:00:00Z, "
        "used 17h, 16h over",  # Tuesday 7 h, Wednesday 8 h, Thursday 08:00-10:00
        "    due 2025-09-02T02:00:00Z (2025-09-02T10:00:00+08:00 Asia/Manila)",
        "    breached 2025-09-02T02:00:00Z",
        "  breach recorded: first_reply cycle 0 due 2025-09-02T02:00:00Z, "
        f"recorded 2025-09-02T02:00:00Z (update {update})",
    ]
    with travel(due + timedelta(days=2)):
        out = StringIO()
        call_command("sla", "explain", str(tid), "--json", stdout=out)
        assert json.loads(out.getvalue()) == report | {
            "computed_at": utc_text(due + timedelta(days=2))
        }
        with pytest.raises(CommandError, match="ticket 999999 not found"):
            call_command("sla", "explain", "999999")


@pytest.mark.django_db(transaction=True)
def test_explain_shows_a_paused_clock_with_local_due_times(desk: Desk) -> None:
    from flowdesk.core.clock import move_to, travel

    with travel(manila(2025, 8, 22, 16, 50)):
        _setup(desk, BY_PRIORITY)
        tid = _ticket(desk, priority="high")
        out = StringIO()
        call_command("sla", "explain", str(tid), stdout=out)
        assert "    due 2025-08-26T00:50:00Z (2025-08-26T08:50:00+08:00 Asia/Manila)" in (
            out.getvalue().splitlines()
        )
        move_to(manila(2025, 8, 26, 8, 0))
        _patch(desk.agent, tid, {"status": "pending"})
        out = StringIO()
        call_command("sla", "explain", str(tid), stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[2] == (
        "  first_reply: paused, target 1h business time, started 2025-08-22T08:50:00Z, "
        "used 10m, 50m left"
    )
    assert "    paused since 2025-08-26T00:00:00Z" in lines


@pytest.mark.slow
def test_explain_as_a_command_exits_1_for_an_unknown_ticket(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "FLOWDESK_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}",
        "DJANGO_SETTINGS_MODULE": "flowdesk.config.settings",
    }
    exe = str(Path(sys.executable).with_name("flowdesk"))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [exe, *args], env=env, cwd=tmp_path, text=True, capture_output=True, timeout=120
        )

    assert run("demo", "--tickets", "1").returncode == 0
    r = run("sla", "explain", "1")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("ticket #1 (")
    r = run("sla", "explain", "1", "--json")
    assert json.loads(r.stdout)["ticket_id"] == 1
    r = run("sla", "explain", "999999")
    assert r.returncode == 1
    assert "ticket 999999 not found" in r.stderr
    assert r.stdout == ""
