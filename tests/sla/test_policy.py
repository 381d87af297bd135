"""SLA policy format: validation with paths, lines and suggestions; normal form; choosing."""

from __future__ import annotations

import pytest

from flowdesk.sla.policy import (
    PolicyError,
    Target,
    choose,
    compile_policies,
    dump_policies_yaml,
    format_duration,
    load_policies_yaml,
    parse_duration,
)

GOOD = """\
sla_policies:
  - name: enterprise
    description: Enterprise customers
    conditions:
      all:
        - {field: organization.tier, op: is, value: enterprise}
    targets:
      first_reply: {urgent: 30m, high: 1h, normal: 4h, low: 1d}
      next_reply: 2h
      resolution: {within: 2d, time: calendar}
    calendar: Manila
  - name: everyone
    targets:
      first_reply: 8h
      periodic_update: 86400
    time: calendar
    pause_statuses: [on-hold]
"""

BAD = """\
sla_policies:
  - name: enterprise
    conditoins: {}
    targets:
      first_reply: {urgnt: 30m, high: 1x}
      resoluton: 1h
    time: buisness
    pause_statuses: [pendng, solved]
    calendar: Berln
  - name: enterprise
    conditions:
      all:
        - {field: organization.tierr, op: is, value: enterprise}
    targets: {first_reply: 0}
"""


def test_good_policies_compile() -> None:
    ent, every = load_policies_yaml(GOOD, "p.yaml", known_calendars=["Manila"])
    assert ent.target("first_reply", "urgent") == Target(1800, True)
    assert ent.target("first_reply", "low") == Target(86400, True)
    assert ent.target("next_reply", "low") == Target(7200, True)
    assert ent.target("resolution", "high") == Target(172800, False)
    assert ent.target("periodic_update", "high") is None
    assert ent.pause_statuses == ("pending", "on-hold")
    assert ent.calendar == "Manila"
    assert every.target("first_reply", None) == Target(28800, False)
    assert every.pause_statuses == ("on-hold",)
    t = ent.targets_for("high")
    assert set(t.targets) == {"first_reply", "next_reply", "resolution"}
    assert t.pause_statuses == frozenset({"pending", "on-hold"})
    assert t.policy == "enterprise"


def test_first_match_wins() -> None:
    policies = load_policies_yaml(GOOD)
    assert choose(policies, {"organization.tier": "enterprise"}) is policies[0]
    assert choose(policies, {"organization.tier": "free"}) is policies[1]
    assert choose(policies[:1], {"organization.tier": "free"}) is None


def test_normal_form_round_trips() -> None:
    policies = load_policies_yaml(GOOD)
    ent = policies[0].to_dict()
    assert ent["targets"] == {
        "first_reply": {"low": "1d", "normal": "4h", "high": "1h", "urgent": "30m"},
        "next_reply": "2h",
        "resolution": {"within": "2d", "time": "calendar"},
    }
    assert policies[1].to_dict()["targets"] == {"first_reply": "8h", "periodic_update": "1d"}
    again = compile_policies([p.to_dict() for p in policies])
    assert [p.to_dict() for p in again] == [p.to_dict() for p in policies]
    assert list(again) == list(policies)
    assert list(load_policies_yaml(dump_policies_yaml(policies))) == list(policies)


def test_every_problem_with_its_line_and_suggestion() -> None:
    with pytest.raises(PolicyError) as info:
        load_policies_yaml(BAD, "bad.yaml", known_calendars=["Berlin", "Manila"])
    got = [(i.path, i.line, i.message, i.suggestion) for i in info.value.issues]
    assert got == [
        ("sla_policies[0].conditoins", 3, "unknown key 'conditoins'", "conditions"),
        (
            "sla_policies[0].time",
            7,
            "time is 'business' or 'calendar', not 'buisness'",
            "business",
        ),
        ("sla_policies[0].pause_statuses[0]", 8, "unknown status 'pendng'", "pending"),
        (
            "sla_policies[0].pause_statuses[1]",
            8,
            "'solved' cannot be a pause status: solved and closed tickets stop the clocks",
            None,
        ),
        ("sla_policies[0].calendar", 9, "unknown calendar 'Berln'", "Berlin"),
        ("sla_policies[0].targets.resoluton", 6, "unknown metric 'resoluton'", "resolution"),
        ("sla_policies[0].targets.first_reply.urgnt", 5, "unknown priority 'urgnt'", "urgent"),
        (
            "sla_policies[0].targets.first_reply.high",
            5,
            "'1x' is not a duration (a positive number of seconds, or text such as "
            "'90s', '30m', '4h', '2d', '1h30m')",
            None,
        ),
        (
            "sla_policies[1].name",
            10,
            "duplicate policy name 'enterprise' (also sla_policies[0])",
            None,
        ),
        (
            "sla_policies[1].conditions.all[0].field",
            13,
            "unknown field 'organization.tierr'",
            "organization.tier",
        ),
        (
            "sla_policies[1].targets.first_reply",
            14,
            "0 is not a duration (a positive number of seconds, or text such as "
            "'90s', '30m', '4h', '2d', '1h30m')",
            None,
        ),
    ]
    text = str(info.value)
    assert text.startswith("11 problems in SLA policies\n")
    assert (
        "  bad.yaml:5: sla_policies[0].targets.first_reply.urgnt: unknown priority 'urgnt' "
        "(did you mean 'urgent'?)"
    ) in text.splitlines()


def test_bare_list_gets_the_same_paths_and_lines() -> None:
    text = "- name: a\n  targets:\n    first_reply: 2hours\n"
    with pytest.raises(PolicyError) as info:
        load_policies_yaml(text, "list.yaml")
    (issue,) = info.value.issues
    assert (issue.path, issue.line) == ("sla_policies[0].targets.first_reply", 3)
    assert "'2hours' is not a duration" in issue.message


def test_structural_problems() -> None:
    def issues(data: object) -> list[tuple[str, str]]:
        with pytest.raises(PolicyError) as info:
            compile_policies(data)
        return [(i.path, i.message) for i in info.value.issues]

    assert issues({"policies": []}) == [
        ("policies", "unknown key 'policies'"),
        ("sla_policies", "'sla_policies' must be a list of policies"),
    ]
    assert issues([{"name": "a"}])[0][0] == "sla_policies[0].targets"
    assert issues(["x"]) == [("sla_policies[0]", "a policy is a mapping with 'name' and 'targets'")]
    assert issues([{"name": "a", "targets": {"first_reply": {}}}]) == [
        ("sla_policies[0].targets.first_reply", "a priority mapping needs at least one priority")
    ]
    assert issues([{"name": "a", "targets": {"first_reply": {"time": "calendar", "low": 5}}}]) == [
        (
            "sla_policies[0].targets.first_reply.time",
            "a metric's own time needs the long form {within: <duration>, time: ...}",
        )
    ]
    sla_read = [
        {
            "name": "a",
            "conditions": {"field": "sla.first_reply.state", "op": "is", "value": "breached"},
            "targets": {"first_reply": "1h"},
        }
    ]
    assert issues(sla_read) == [
        (
            "sla_policies[0].conditions",
            "a policy condition cannot read SLA fields (sla.first_reply.state): "
            "they are the result of choosing the policy",
        )
    ]
    dup = [{"name": "a", "targets": {"first_reply": "1h"}, "pause_statuses": ["pending"] * 2}]
    assert issues(dup) == [
        ("sla_policies[0].pause_statuses[1]", "status 'pending' is listed twice")
    ]


def test_unknown_calendar_is_only_checked_against_known_names() -> None:
    data = [{"name": "a", "targets": {"resolution": "1h"}, "calendar": "Anything"}]
    assert compile_policies(data)[0].calendar == "Anything"
    with pytest.raises(PolicyError, match="unknown calendar 'Anything'"):
        compile_policies(data, known_calendars=[])


def test_yaml_syntax_and_duplicate_keys() -> None:
    with pytest.raises(PolicyError, match=r"y.yaml:3: YAML syntax error"):
        load_policies_yaml("sla_policies:\n  - name: [a\n", "y.yaml")
    with pytest.raises(PolicyError) as info:
        load_policies_yaml("- name: a\n  name: b\n  targets: {first_reply: 1h}\n", "d.yaml")
    assert [(i.path, i.line, i.message) for i in info.value.issues] == [
        ("sla_policies[0].name", 2, "duplicate key")
    ]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("30m", 1800), ("4h", 14400), ("2d", 172800), ("1h30m", 5400), (45, 45)],
)
def test_durations(text: object, seconds: int) -> None:
    assert parse_duration(text) == seconds
    assert parse_duration(format_duration(seconds)) == seconds


@pytest.mark.parametrize("bad", ["", "1x", "30m1h", "h", True, 0, -5, 1.5, None, "1 h"])
def test_not_durations(bad: object) -> None:
    assert parse_duration(bad) is None
