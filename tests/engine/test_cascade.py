"""Cascade semantics: order, accumulated changes, fire-once, stop, pass limit, reports."""

from __future__ import annotations

import json

from engine_helpers import rule, rules, snapshot

from flowdesk.engine import Event, explain, run_cascade


def prio(value: str) -> dict:
    return {"type": "set_priority", "value": value}


def test_later_rules_see_earlier_changes_in_the_same_pass() -> None:
    rs = rules(
        rule("raise", actions=[prio("urgent")]),
        rule(
            "route",
            conditions={"field": "priority", "op": "is", "value": "urgent"},
            actions=[{"type": "assign_team", "team": "Tier 2"}],
        ),
    )
    res = run_cascade(rs, snapshot(), Event("created"), now=None)
    assert [(f.rule, f.pass_no) for f in res.fired] == [("raise", 1), ("route", 1)]
    assert res.fired[1].caused_by == ("raise",)
    assert res.changes == {"priority": ("normal", "urgent"), "team": (None, "Tier 2")}


def test_earlier_rule_fires_in_a_second_pass() -> None:
    rs = rules(
        rule(
            "route",
            conditions={"field": "priority", "op": "is", "value": "urgent"},
            actions=[{"type": "assign_team", "team": "Tier 2"}],
        ),
        rule("raise", actions=[prio("urgent")]),
    )
    res = run_cascade(rs, snapshot(), Event("created"), now=None)
    assert [(f.rule, f.pass_no) for f in res.fired] == [("raise", 1), ("route", 2)]
    assert res.passes == 3
    assert not res.hit_pass_limit
    assert explain(rs, snapshot(), Event("created"), now=None).termination == (
        "stopped after 3 passes: nothing left to change"
    )


def test_trigger_sees_accumulated_changes() -> None:
    rs = rules(
        rule("raise", triggers=["updated"], actions=[prio("urgent")]),
        rule("watch", triggers=[{"type": "priority_changed", "to": "urgent"}]),
        rule("from-low", triggers=[{"type": "priority_changed", "from": "low"}]),
    )
    ev = Event("updated", changes={"priority": ("low", "normal")})
    res = run_cascade(rs, snapshot(), ev, now=None)
    assert res.fired_names == ["raise", "watch", "from-low"]
    assert res.fired[1].caused_by == ("raise",)


def test_field_changed_back_is_no_longer_changed() -> None:
    rs = rules(
        rule("undo", triggers=["updated"], actions=[prio("low")]),
        rule("watch", triggers=["priority_changed"]),
        rule("cond", triggers=["updated"], conditions={"field": "priority", "op": "changed"}),
    )
    ev = Event("updated", changes={"priority": ("low", "normal")})
    res = run_cascade(rs, snapshot(), ev, now=None)
    assert res.fired_names == ["undo"]
    assert res.changes == {"priority": ("normal", "low")}


def test_each_rule_fires_once_and_ping_pong_is_reported() -> None:
    rs = rules(
        rule(
            "up",
            conditions={"field": "priority", "op": "is", "value": "normal"},
            actions=[prio("high")],
        ),
        rule(
            "down",
            conditions={"field": "priority", "op": "is", "value": "high"},
            actions=[prio("normal")],
        ),
    )
    res = run_cascade(rs, snapshot(), Event("created"), now=None)
    assert res.fired_names == ["up", "down"]
    assert res.suppressed == ["up"]
    assert [(c.field, c.writes) for c in res.conflicts] == [
        ("priority", [("up", "high"), ("down", "normal")])
    ]
    exp = explain(rs, snapshot(), Event("created"), now=None)
    assert "at most once per update" in exp.to_dict()["suppressed"][0]["sentence"]


def test_stop_ends_the_cascade() -> None:
    rs = rules(rule("a", actions=[prio("high"), {"type": "stop"}]), rule("b"))
    res = run_cascade(rs, snapshot(), Event("created"), now=None)
    assert res.fired_names == ["a"]
    assert res.stopped_by == "a"
    exp = explain(rs, snapshot(), Event("created"), now=None)
    assert exp.termination == "rule 'a' ran stop"
    assert exp.rule("b")["fired"] is False
    assert exp.rule("b")["reason"] == "matched, but rule 'a' ran stop before its turn"


def test_pass_limit_is_a_second_guard() -> None:
    # each rule enables the previous one, so every pass fires exactly one rule
    chain = [rule("r0", actions=[{"type": "add_tags", "tags": ["t0"]}])]
    for i in range(1, 5):
        chain.insert(
            0,
            rule(
                f"r{i}",
                conditions={"field": "tags", "op": "has_any", "value": [f"t{i - 1}"]},
                actions=[{"type": "add_tags", "tags": [f"t{i}"]}],
            ),
        )
    rs = rules(*chain)
    full = run_cascade(rs, snapshot(), Event("created"), now=None)
    assert len(full.fired) == 5
    assert not full.hit_pass_limit
    cut = run_cascade(rs, snapshot(), Event("created"), now=None, max_passes=2)
    assert cut.fired_names == ["r0", "r1"]
    assert cut.hit_pass_limit
    assert cut.passes == 2
    assert (
        explain(rs, snapshot(), Event("created"), now=None, max_passes=2).termination
        == "pass limit 2 reached"
    )


def test_setting_same_value_records_no_change_and_does_not_rematch() -> None:
    rs = rules(rule("same", actions=[prio("normal")]))
    res = run_cascade(rs, snapshot(), Event("created"), now=None)
    assert res.fired[0].changes == {}
    assert res.changes == {}
    assert res.passes == 1


def test_evaluation_error_is_recorded_not_raised() -> None:
    rs = rules(
        rule("bad", conditions={"field": "subject", "op": "contains", "value": "x"}),
        rule("ok"),
    )
    res = run_cascade(rs, snapshot(subject=123), Event("created"), now=None)
    assert res.fired_names == ["ok"]
    assert [e.rule for e in res.errors] == ["bad"]
    assert "TypeError" in res.errors[0].message
    exp = explain(rs, snapshot(subject=123), Event("created"), now=None)
    assert exp.rule("bad")["error"]
    assert not exp.rule("bad")["fired"]


def test_range_on_wrong_type_is_an_error_for_that_rule_only() -> None:
    rs = rules(
        rule("old", conditions={"field": "age_hours", "op": "greater_than", "value": 1}),
        rule("vip", conditions={"field": "channel", "op": "is", "value": "email"}),
    )
    res = run_cascade(rs, snapshot(age_hours="3"), Event("created"), now=None)
    assert res.fired_names == ["vip"]
    assert [e.rule for e in res.errors] == ["old"]


def test_explanation_names_the_deciding_condition() -> None:
    rs = rules(
        rule(
            "enterprise",
            conditions={
                "all": [
                    {"field": "channel", "op": "is", "value": "email"},
                    {"field": "organization.tier", "op": "is", "value": "enterprise"},
                ]
            },
        ),
        rule(
            "either",
            conditions={
                "any": [
                    {"field": "channel", "op": "is", "value": "web"},
                    {"field": "priority", "op": "is", "value": "high"},
                ]
            },
        ),
        rule("never", triggers=["updated"]),
    )
    exp = explain(rs, snapshot(), Event("created"), now=None)
    d = exp.rule("enterprise")["deciding"]
    assert d["path"] == "conditions.all[1]"
    assert d["actual"] == "free"
    assert d["sentence"] == "organization.tier is 'free', expected is 'enterprise'"
    assert exp.rule("either")["deciding"]["sentence"].startswith("none of the 2 alternatives held")
    assert exp.rule("never")["reason"] == "no trigger matched the event"
    json.dumps(exp.to_dict())


def test_conflict_free_when_rules_agree_and_effects_in_order() -> None:
    rs = rules(
        rule("a", actions=[prio("high"), {"type": "add_note", "body": "1"}]),
        rule("b", actions=[prio("high"), {"type": "add_note", "body": "2"}]),
    )
    res = run_cascade(rs, snapshot(), Event("created"), now=None)
    assert res.conflicts == []
    assert [e.config["body"] for e in res.effects] == ["1", "2"]
