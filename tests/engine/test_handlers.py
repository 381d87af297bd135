"""Every registered operator, trigger and action: semantics, plus registry completeness."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from engine_helpers import rule, rules, snapshot
from pydantic import BaseModel

from flowdesk.engine import (
    ACTIONS,
    CONDITION_OPERATORS,
    TRIGGERS,
    Event,
    MessageInfo,
    TimeTrigger,
    explain,
    run_cascade,
)
from flowdesk.engine.triggers import channel_event_changes

N = object()  # "no value key"

# (field, op, value, snapshot overrides, event changes, expected)
OPERATOR_CASES: list[tuple[str, str, Any, dict[str, Any], dict[str, Any], bool]] = [
    ("priority", "is", "normal", {}, {}, True),
    ("priority", "is", "high", {}, {}, False),
    ("subject", "is", "CANNOT log in to the PORTAL", {}, {}, True),  # text: case-insensitive
    ("requester.language", "is", "EN", {}, {}, True),
    ("type", "is", "task", {}, {}, False),  # None is not 'task'
    ("custom.renewal", "is", "2025-06-01T00:00:00+00:00", {}, {}, True),
    ("priority", "is_not", "high", {}, {}, True),
    ("priority", "is_not", "normal", {}, {}, False),
    ("type", "is_not", "task", {}, {}, True),  # true on None
    ("channel", "in", ["web", "email"], {}, {}, True),
    ("channel", "in", ["web", "chat"], {}, {}, False),
    ("channel", "not_in", ["web", "chat"], {}, {}, True),
    ("channel", "not_in", ["email"], {}, {}, False),
    ("type", "not_in", ["task"], {}, {}, True),
    ("subject", "contains", "LOG IN", {}, {}, True),
    ("subject", "contains", "refund", {}, {}, False),
    ("custom.note", "contains", "x", {}, {}, False),  # None contains nothing
    ("subject", "not_contains", "refund", {}, {}, True),
    ("subject", "not_contains", "portal", {}, {}, False),
    ("custom.note", "not_contains", "x", {}, {}, True),
    ("subject", "starts_with", "cannot", {}, {}, True),
    ("subject", "starts_with", "portal", {}, {}, False),
    ("subject", "matches", r"log\s+in", {}, {}, True),
    ("subject", "matches", r"^portal", {}, {}, False),
    ("age_hours", "greater_than", 2, {"age_hours": 3.5}, {}, True),
    ("age_hours", "greater_than", 3.5, {"age_hours": 3.5}, {}, False),
    ("age_hours", "greater_than", 1, {"age_hours": None}, {}, False),  # None compares false
    ("message_count", "greater_or_equal", 1, {}, {}, True),
    ("message_count", "greater_or_equal", 2, {}, {}, False),
    ("message_count", "less_than", 2, {}, {}, True),
    ("message_count", "less_than", 1, {}, {}, False),
    ("message_count", "less_or_equal", 1, {}, {}, True),
    ("message_count", "less_or_equal", 0, {}, {}, False),
    ("age_hours", "less_than", 10, {"age_hours": None}, {}, False),
    ("custom.renewal", "greater_than", "2025-01-01", {}, {}, True),
    ("custom.renewal", "less_than", "2025-01-01", {}, {}, False),
    ("team", "present", N, {"team": "Tier 1"}, {}, True),
    ("team", "present", N, {}, {}, False),
    ("tags", "present", N, {}, {}, False),
    ("team", "blank", N, {}, {}, True),
    ("subject", "blank", N, {"subject": ""}, {}, True),
    ("tags", "blank", N, {"tags": frozenset({"a"})}, {}, False),
    ("priority", "changed", N, {}, {"priority": ("low", "normal")}, True),
    ("priority", "changed", N, {}, {"status": ("new", "open")}, False),
    ("priority", "changed_from", "low", {}, {"priority": ("low", "normal")}, True),
    ("priority", "changed_from", "high", {}, {"priority": ("low", "normal")}, False),
    ("priority", "changed_to", "normal", {}, {"priority": ("low", "normal")}, True),
    ("priority", "changed_to", "normal", {}, {}, False),
    ("tags", "has_any", ["vip", "Billing"], {"tags": frozenset({"billing"})}, {}, True),
    ("tags", "has_any", ["vip"], {"tags": frozenset({"billing"})}, {}, False),
    ("tags", "has_all", ["a", "b"], {"tags": frozenset({"a", "b", "c"})}, {}, True),
    ("tags", "has_all", ["a", "b"], {"tags": frozenset({"a"})}, {}, False),
    ("tags", "has_none", ["a"], {"tags": frozenset({"b"})}, {}, True),
    ("tags", "has_none", ["a"], {"tags": frozenset({"a"})}, {}, False),
    ("tags", "has_none", ["a"], {"tags": None}, {}, True),
    (
        "followers",
        "has_any",
        ["ann@desk.test"],
        {"followers": frozenset({"ann@desk.test"})},
        {},
        True,
    ),
]


def _leaf(field: str, op: str, value: Any) -> dict[str, Any]:
    leaf = {"field": field, "op": op}
    if value is not N:
        leaf["value"] = value
    return leaf


@pytest.mark.parametrize(("field", "op", "value", "over", "changes", "expected"), OPERATOR_CASES)
def test_operator(
    field: str, op: str, value: Any, over: dict, changes: dict, expected: bool
) -> None:
    leaf = _leaf(field, op, value)
    # the leaf alone, its negation through 'none', and inside a DNF-expanding tree
    rs = rules(
        rule("plain", triggers=["updated"], conditions=leaf),
        rule("negated", triggers=["updated"], conditions={"none": [leaf]}),
        rule(
            "nested",
            triggers=["updated"],
            conditions={
                "all": [
                    {"any": [leaf, {"field": "id", "op": "is", "value": -1}]},
                    {"none": [{"field": "id", "op": "is", "value": -2}]},
                ]
            },
        ),
    )
    snap = snapshot(**{k.replace(".", "__"): v for k, v in over.items()})
    event = Event("updated", changes=changes)
    want = ["plain", "nested"] if expected else ["negated"]
    assert rs.match(snap, event) == want
    exp = explain(rs, snap, event, now=None)
    assert [r["name"] for r in exp.rules if r["matched"]] == want


def test_every_operator_has_cases_config_and_doc() -> None:
    covered = {case[1] for case in OPERATOR_CASES}
    for name, cls in CONDITION_OPERATORS.items():
        assert name in covered, f"operator {name} has no test case"
        assert issubclass(cls.Config, BaseModel), name
        assert cls.__doc__, name
        assert cls.kinds, name


# (trigger spec, event, expected)
TRIGGER_CASES: list[tuple[Any, Event, bool]] = [
    ("created", Event("created"), True),
    ("created", Event("updated"), False),
    ("updated", Event("updated"), True),
    ("updated", Event("created"), False),
    (
        {"type": "field_changed", "field": "custom.plan"},
        Event("updated", {"custom.plan": ("free", "pro")}),
        True,
    ),
    (
        {"type": "field_changed", "field": "custom.plan", "to": "pro"},
        Event("updated", {"custom.plan": ("pro", "free")}),
        False,
    ),
    (
        {"type": "field_changed", "field": "subject", "from": "OLD"},
        Event("updated", {"subject": ("old", "new")}),
        True,
    ),
    (
        {"type": "status_changed", "from": "new", "to": "open"},
        Event("updated", {"status": ("new", "open")}),
        True,
    ),
    (
        {"type": "status_changed", "to": "solved"},
        Event("updated", {"status": ("new", "open")}),
        False,
    ),
    ({"type": "priority_changed"}, Event("updated", {"priority": ("low", "high")}), True),
    ({"type": "priority_changed"}, Event("updated", {"status": ("new", "open")}), False),
    (
        {"type": "assignee_changed", "to": None},
        Event("updated", {"assignee": ("ann@desk.test", None)}),
        True,
    ),
    (
        {"type": "assignee_changed", "from": None},
        Event("updated", {"assignee": ("ann@desk.test", None)}),
        False,
    ),
    (
        {"type": "team_changed", "to": "Billing"},
        Event("updated", {"team": (None, "Billing")}),
        True,
    ),
    (
        {"type": "tags_changed", "added": "VIP"},
        Event("updated", {"tags": (frozenset(), frozenset({"vip"}))}),
        True,
    ),
    (
        {"type": "tags_changed", "removed": "vip"},
        Event("updated", {"tags": (frozenset(), frozenset({"vip"}))}),
        False,
    ),
    ({"type": "tags_changed"}, Event("updated", {"tags": (frozenset({"a"}), frozenset())}), True),
    ("message_added", Event("updated", messages=(MessageInfo("agent", True),)), True),
    ("message_added", Event("updated", messages=(MessageInfo("agent", False),)), False),
    (
        {"type": "message_added", "author": "customer"},
        Event("updated", messages=(MessageInfo("agent", True),)),
        False,
    ),
    ("customer_replied", Event("updated", messages=(MessageInfo("customer", True),)), True),
    ("customer_replied", Event("updated", messages=(MessageInfo("customer", False),)), False),
    ("agent_replied", Event("updated", messages=(MessageInfo("agent", True),)), True),
    ("agent_replied", Event("updated", messages=(MessageInfo("customer", True),)), False),
    ("note_added", Event("updated", messages=(MessageInfo("agent", False),)), True),
    ("note_added", Event("updated", messages=(MessageInfo("agent", True),)), False),
    ("chat_started", Event("created", channel_event_changes(("chat_started",))), True),
    ("chat_started", Event("created"), False),
    ("chat_message", Event("updated", channel_event_changes(("chat_message",))), True),
    ("chat_message", Event("updated", messages=(MessageInfo("customer", True),)), False),
    ("chat_ended", Event("updated", channel_event_changes(("chat_ended",))), True),
    ("chat_ended", Event("updated", channel_event_changes(("chat_message",))), False),
]


@pytest.mark.parametrize(("spec", "event", "expected"), TRIGGER_CASES)
def test_trigger(spec: Any, event: Event, expected: bool) -> None:
    rs = rules(rule("t", triggers=[spec]))
    assert rs.match(snapshot(), event) == (["t"] if expected else [])
    assert explain(rs, snapshot(), event, now=None).rule("t")["trigger_matched"] is expected


T0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)  # a Monday
H = dt.timedelta(hours=1)
MIN = dt.timedelta(minutes=1)

# (time trigger spec, snapshot overrides, now, holds): on a timer event at ``now``, no calendar
TIME_TRIGGER_CASES: list[tuple[dict[str, Any], dict[str, Any], dt.datetime, bool]] = [
    (
        {"type": "sla_due_in", "metric": "first_reply", "within": "30m"},
        {"sla.first_reply.state": "running", "sla.first_reply.due_at": T0 + H},
        T0 + 30 * MIN,
        True,
    ),
    (
        {"type": "sla_due_in", "metric": "first_reply", "within": "30m"},
        {"sla.first_reply.state": "running", "sla.first_reply.due_at": T0 + H},
        T0 + 29 * MIN,
        False,
    ),
    (
        {"type": "sla_due_in", "metric": "first_reply", "within": "30m"},
        {"sla.first_reply.state": "paused", "sla.first_reply.due_at": T0 + H},
        T0 + 45 * MIN,
        False,
    ),
    (
        {"type": "sla_breached", "metric": "resolution"},
        {"sla.resolution.state": "breached"},
        T0,
        True,
    ),
    (
        {"type": "sla_breached", "metric": "resolution"},
        {"sla.resolution.state": "running"},
        T0,
        False,
    ),
    (
        {"type": "in_status", "status": "pending", "for": "2h"},
        {"status": "pending", "status_changed_at": T0},
        T0 + 2 * H,
        True,
    ),
    (
        {"type": "in_status", "status": ["pending", "on-hold"], "for": 7200},
        {"status": "open", "status_changed_at": T0},
        T0 + 3 * H,
        False,
    ),
    (
        {"type": "no_customer_reply", "for": "1h"},
        {"last_agent_message_at": T0, "last_customer_message_at": T0 - H},
        T0 + H,
        True,
    ),
    (
        {"type": "no_customer_reply", "for": "1h"},
        {"last_agent_message_at": T0, "last_customer_message_at": T0 + MIN},
        T0 + 2 * H,
        False,
    ),
    ({"type": "no_agent_reply", "for": "1h"}, {"last_customer_message_at": T0}, T0 + H, True),
    ({"type": "no_agent_reply", "for": "1h"}, {}, T0 + H, False),
    ({"type": "since", "event": "created", "for": "1d"}, {"created_at": T0}, T0 + 24 * H, True),
    ({"type": "since", "event": "solved", "for": "1d"}, {"solved_at": None}, T0 + 48 * H, False),
    ({"type": "at_local_time", "time": "09:00", "days": ["mon"]}, {}, T0, True),
    ({"type": "at_local_time", "time": "09:00", "days": ["tue"]}, {}, T0, False),
]


@pytest.mark.parametrize(("spec", "over", "now", "expected"), TIME_TRIGGER_CASES)
def test_time_trigger(spec: dict[str, Any], over: dict, now: dt.datetime, expected: bool) -> None:
    rs = rules(rule("t", triggers=[spec]))
    snap = snapshot(**{k.replace(".", "__"): v for k, v in over.items()})
    assert rs.match(snap, Event("timer"), now=now) == (["t"] if expected else [])
    assert rs.match(snap, Event("updated"), now=now) == []  # timer events only
    assert rs.match(snap, Event("timer"), now=now, latched=frozenset({"t"})) == []
    exp = explain(rs, snap, Event("timer"), now=now)
    assert exp.rule("t")["trigger_matched"] is expected
    assert exp.rule("t")["time"][0]["held"] is expected
    assert run_cascade(rs, snap, Event("timer"), now=now).fired_names == exp.fired


def test_every_trigger_has_cases_config_and_doc() -> None:
    covered = {c[0] if isinstance(c[0], str) else c[0]["type"] for c in TRIGGER_CASES}
    covered |= {c[0]["type"] for c in TIME_TRIGGER_CASES}
    for name, cls in TRIGGERS.items():
        assert name in covered, f"trigger {name} has no test case"
        assert issubclass(cls.Config, BaseModel), name
        assert cls.__doc__, name
        assert cls.time_based is issubclass(cls, TimeTrigger), name


# (action, snapshot overrides, expected net changes, expected effect types)
ACTION_CASES: list[tuple[dict[str, Any], dict[str, Any], dict[str, Any], list[str]]] = [
    ({"type": "set_status", "value": "open"}, {}, {"status": ("new", "open")}, []),
    ({"type": "set_priority", "value": "normal"}, {}, {}, []),  # already normal: no change
    ({"type": "set_type", "value": "incident"}, {}, {"type": (None, "incident")}, []),
    (
        {"type": "set_field", "field": "custom.plan", "value": "pro"},
        {},
        {"custom.plan": ("free", "pro")},
        [],
    ),
    (
        {"type": "add_tags", "tags": ["VIP", "x"]},
        {},
        {"tags": (frozenset(), frozenset({"vip", "x"}))},
        [],
    ),
    (
        {"type": "remove_tags", "tags": ["A"]},
        {"tags": frozenset({"a", "b"})},
        {"tags": (frozenset({"a", "b"}), frozenset({"b"}))},
        [],
    ),
    (
        {"type": "set_tags", "tags": ["z"]},
        {"tags": frozenset({"a"})},
        {"tags": (frozenset({"a"}), frozenset({"z"}))},
        [],
    ),
    (
        {"type": "assign_agent", "agent": "ann@desk.test"},
        {},
        {"assignee": (None, "ann@desk.test")},
        [],
    ),
    ({"type": "assign_team", "team": "Billing"}, {}, {"team": (None, "Billing")}, []),
    (
        {"type": "unassign"},
        {"assignee": "bob@desk.test"},
        {"assignee": ("bob@desk.test", None)},
        [],
    ),
    (
        {"type": "add_follower", "agent": "bob@desk.test"},
        {},
        {"followers": (frozenset(), frozenset({"bob@desk.test"}))},
        [],
    ),
    (
        {"type": "escalate", "team": "Tier 2", "priority": "raise", "reason": "angry"},
        {},
        {"team": (None, "Tier 2"), "priority": ("normal", "high")},
        ["escalation"],
    ),
    (
        {"type": "escalate", "priority": "raise", "reason": "x"},
        {"priority": "urgent"},
        {},
        ["escalation"],
    ),
    ({"type": "add_note", "body": "from {{ requester.name }}"}, {}, {}, ["add_note"]),
    ({"type": "reply", "subject": "Re: {{ ticket.subject }}", "body": "ok"}, {}, {}, ["reply"]),
    ({"type": "notify", "agents": ["ann@desk.test"], "message": "look"}, {}, {}, ["notify"]),
    ({"type": "webhook", "url": "https://example.com/h", "body": {"a": [1]}}, {}, {}, ["webhook"]),
    ({"type": "send_survey", "survey": "nps"}, {}, {}, ["send_survey"]),
    ({"type": "stop"}, {}, {}, []),
    ({"type": "assign", "strategy": "least_open"}, {"team": "Tier 1"}, {}, ["assign"]),
    ({"type": "assign", "strategy": "skills", "team": "Billing"}, {}, {}, ["assign"]),
    ({"type": "escalate_along", "path": "vip"}, {}, {}, ["escalate_along"]),
]


@pytest.mark.parametrize(("action", "over", "changes", "effects"), ACTION_CASES)
def test_action(action: dict, over: dict, changes: dict, effects: list[str]) -> None:
    rs = rules(rule("a", actions=[action]))
    res = run_cascade(rs, snapshot(**over), Event("created"), now=None)
    assert res.fired_names == ["a"]
    assert res.changes == changes
    assert [e.type for e in res.effects] == effects
    import json

    json.dumps([e.config for e in res.effects])  # effects are JSON-able


def test_effect_payloads() -> None:
    rs = rules(
        rule(
            "a",
            actions=[
                {"type": "escalate", "team": "Tier 2", "priority": "raise", "reason": "angry"},
                {
                    "type": "add_note",
                    "body": "from {{ requester.name }} about {{ ticket.subject }}",
                },
            ],
        )
    )
    res = run_cascade(rs, snapshot(), Event("created"), now=None)
    esc, note = res.effects
    assert esc.config == {
        "reason": "angry",
        "from_team": None,
        "to_team": "Tier 2",
        "from_priority": "normal",
        "to_priority": "high",
    }
    assert note.config == {"body": "from Cy about Cannot log in to the portal"}
    assert esc.rule == "a"


def test_every_action_has_cases_config_and_doc() -> None:
    covered = {c[0]["type"] for c in ACTION_CASES}
    for name, cls in ACTIONS.items():
        assert name in covered, f"action {name} has no test case"
        assert issubclass(cls.Config, BaseModel), name
        assert cls.__doc__, name
