"""Runs a Zammad escalation scenario (data/zammad_sla_scenarios.json) through our policy and clocks.

How the scenario's vocabulary maps to ours:

- the calendar's ``[start, end]`` pairs become periods, its holiday list ``closed_dates``;
- ``first_response_min`` / ``update_min`` / ``solution_min`` are the business-time targets of
  first_reply / next_reply / resolution (Zammad's "update" clock runs from the customer's contact
  to the agent's, which is our next_reply); B0's condition ``priority is P1`` is the policy
  condition ``priority is urgent``;
- states: ``pending reminder`` is our ``pending`` (a pause status); ``open``, ``closed`` are ours;
- ``article`` events are public messages of the sender's kind;
- the ``set`` lines assign Zammad's fields directly, each read by one clock only, and the scenarios
  set them independently of each other and of the message order (A3-A8 set an agent contact
  *before* ``first_response_at``; A7 sets ``close_at`` without closing the ticket and before later
  contacts). One message history cannot say that, so the adapter builds one timeline per clock
  from the fields that clock reads in Zammad: ``first_response_at`` is an agent message on the
  first_reply timeline; ``last_contact_agent_at`` / ``last_contact_customer_at`` are agent /
  customer messages on the next_reply timeline; ``close_at`` closes the ticket (status ``closed``)
  on the resolution timeline. Events (articles, state changes) are on every timeline.
- ``now`` is the latest instant of the scenario (of the step, for D's steps).

Zammad's outputs map to ours: ``*_escalation_at`` is the clock's ``due_at``; ``*_in_min`` and
``*_diff_in_min`` are ``elapsed`` and ``left`` (in minutes) of a stopped clock, None otherwise;
Zammad keeps the *first* update's figures after later cycles (A5, A6), so ``update_*_in_min`` is
compared with next_reply's cycle 0; ``escalation_at`` is the earliest ``due_at`` of any clock.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from flowdesk.calendars import Calendar, calendar_from_dict
from flowdesk.sla.clocks import ClockState, SlaState, Timeline, compute_clocks
from flowdesk.sla.policy import CompiledPolicy, compile_policies

DATA = Path(__file__).parent / "data" / "zammad_sla_scenarios.json"
STATES = {"pending reminder": "pending", "open": "open", "closed": "closed"}
PRIORITIES = {"P1": "urgent"}
FIELD_METRIC = {"first_response": "first_reply", "update": "next_reply", "close": "resolution"}


def scenarios() -> list[dict[str, Any]]:
    data: dict[str, Any] = json.loads(DATA.read_text())
    return list(data["scenarios"])


def steps(scenario: dict[str, Any]) -> list[tuple[list[dict[str, Any]], dict[str, Any]]]:
    """(events so far, expected) per step; one step for all but the multi-step scenario."""
    if "steps" not in scenario:
        return [(scenario["events"], scenario["expected"])]
    out = []
    events: list[dict[str, Any]] = []
    for step in scenario["steps"]:
        events = events + step["events"]
        out.append((events, step["expected"]))
    return out


def calendar(spec: dict[str, Any]) -> Calendar:
    weekly = {
        day: [{"start": a, "end": b} for a, b in pairs] for day, pairs in spec["weekly"].items()
    }
    return calendar_from_dict(
        {
            "time_zone": spec["time_zone"],
            "weekly": weekly,
            "closed_dates": list(spec.get("holidays", [])),
        }
    )


def policy(sla: dict[str, Any]) -> CompiledPolicy:
    targets = {
        "first_reply": f"{sla['first_response_min']}m",
        "next_reply": f"{sla['update_min']}m",
    }
    if sla.get("solution_min") is not None:
        targets["resolution"] = f"{sla['solution_min']}m"
    definition: dict[str, Any] = {"name": "zammad", "targets": targets}
    if "condition" in sla:
        assert sla["condition"] == "ticket.priority is P1"
        definition["conditions"] = {"field": "priority", "op": "is", "value": "urgent"}
    (compiled,) = compile_policies([definition], source="zammad")
    return compiled


def instant(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def timelines(events: list[dict[str, Any]]) -> tuple[dict[str, Timeline], dt.datetime, str]:
    """Per metric its timeline, the scenario's ``now`` and the ticket's priority."""
    created = next(e for e in events if e.get("event") == "ticket_created")
    created_at = instant(created["at"])
    priority = PRIORITIES.get(created.get("priority", ""), "normal")
    statuses = [(created_at, STATES[created["state"]])]
    messages: list[tuple[dt.datetime, str]] = []
    extra: dict[str, list[tuple[dt.datetime, str]]] = {m: [] for m in FIELD_METRIC.values()}
    closes: list[dt.datetime] = []
    instants = [created_at]
    for e in events:
        if "set" in e:
            at = instant(e["value"])
            if e["set"] == "first_response_at":
                extra["first_reply"].append((at, "agent"))
            elif e["set"] == "last_contact_agent_at":
                extra["next_reply"].append((at, "agent"))
            elif e["set"] == "last_contact_customer_at":
                extra["next_reply"].append((at, "customer"))
            else:
                assert e["set"] == "close_at"
                closes.append(at)
        elif e["event"] == "state_change":
            at = instant(e["at"])
            statuses.append((at, STATES[e["to"]]))
        elif e["event"] == "article":
            at = instant(e["at"])
            messages.append((at, e["sender"]))
        else:
            at = created_at
        instants.append(at)
    out = {}
    for metric in FIELD_METRIC.values():
        ms = sorted(messages + extra[metric], key=lambda m: m[0])
        ss = list(statuses)
        if metric == "resolution":
            ss += [(t, "closed") for t in closes if (t, "closed") not in ss]
        ss.sort(key=lambda s: s[0])
        out[metric] = Timeline(created_at, tuple(ss), tuple(ms))
    return out, max(instants), priority


def run(
    scenario: dict[str, Any], events: list[dict[str, Any]], priority: str | None = None
) -> dict[str, Any]:
    """Zammad's expected fields as we compute them (only the keys the scenario's step gives)."""
    cal = calendar(scenario["calendar"])
    pol = policy(scenario["sla"])
    lines, now, prio = timelines(events)
    prio = priority or prio
    snapshot = {"priority": prio}
    chosen = pol if pol.matches(snapshot) else None
    states: dict[str, SlaState] = {
        m: compute_clocks(chosen.targets_for(prio) if chosen else None, line, cal, now)
        for m, line in lines.items()
    }
    out: dict[str, Any] = {}
    dues = []
    for name, metric in FIELD_METRIC.items():
        state = states[metric]
        clock = state.clocks.get(metric)
        due = clock.due_at if clock is not None else None
        if due is not None:
            dues.append(due)
        out[f"{name}_escalation_at"] = _z(due)
        figures = clock
        if metric == "next_reply" and state.earlier:
            figures = next(c for c in state.earlier if c.cycle == 0)
        out[f"{name}_in_min"] = _minutes(figures, "elapsed")
        out[f"{name}_diff_in_min"] = _minutes(figures, "left")
    out["escalation_at"] = _z(min(dues)) if dues else None
    return out


def _minutes(clock: ClockState | None, attr: str) -> int | None:
    if clock is None or clock.stopped_at is None:
        return None
    seconds: int = getattr(clock, attr)
    assert seconds % 60 == 0, (attr, seconds)
    return seconds // 60


def _z(t: dt.datetime | None) -> str | None:
    return None if t is None else t.isoformat().replace("+00:00", "Z")
