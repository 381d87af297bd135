"""Compile-time validation: every problem collected, located and given a suggestion."""

from __future__ import annotations

import pytest
from engine_helpers import CATALOG, rule, rules, snapshot

from flowdesk.engine import (
    Event,
    RuleSetError,
    compile_ruleset,
    dump_ruleset_yaml,
    load_ruleset_yaml,
)
from flowdesk.engine.tree import CondGroup, CondLeaf

GOOD = """\
version: 1
templates:
  ack:
    subject: "Re: {{ ticket.subject }}"
    body: "Hi {{ requester.name }}, we got your request #{{ ticket.id }}."
rules:
  - name: enterprise-first
    description: Enterprise customers are answered first
    triggers: [created]
    conditions:
      all:
        - {field: organization.tier, op: is, value: enterprise}
        - any:
            - {field: channel, op: in, value: [email, web]}
            - {field: tags, op: has_any, value: [VIP]}
    actions:
      - {type: set_priority, value: urgent}
      - {type: assign_team, team: Tier 2}
      - {type: reply, template: ack}
  - name: urgent-watch
    enabled: false
    triggers: [{type: priority_changed, to: urgent}, customer_replied]
    actions:
      - {type: notify, team: Tier 2, message: "urgent ticket {{ ticket.id }}"}
      - {type: webhook, url: "https://hooks.example.com/x"}
"""


def errors_of(text: str) -> list:
    with pytest.raises(RuleSetError) as exc:
        load_ruleset_yaml(text, catalog=CATALOG, source="rules.yaml")
    return exc.value.issues


def test_good_ruleset_compiles_and_normalises() -> None:
    rs = load_ruleset_yaml(GOOD, catalog=CATALOG, source="rules.yaml")
    d = rs.definition
    assert d["version"] == 1
    assert [r["name"] for r in d["rules"]] == ["enterprise-first", "urgent-watch"]
    assert d["rules"][0]["triggers"] == [{"type": "created"}]
    assert d["rules"][1]["triggers"][1] == {"type": "customer_replied"}
    assert d["rules"][1]["enabled"] is False
    assert d["rules"][0]["enabled"] is True  # default filled
    assert d["rules"][1]["actions"][1]["method"] == "POST"  # default filled


def test_definition_is_a_fixed_point_and_yaml_round_trips() -> None:
    rs = load_ruleset_yaml(GOOD, catalog=CATALOG, source="rules.yaml")
    again = compile_ruleset(rs.definition, catalog=CATALOG)
    assert again.definition == rs.definition
    text = dump_ruleset_yaml(rs.definition)
    assert load_ruleset_yaml(text, catalog=CATALOG, source="x").definition == rs.definition


def test_issue_string_has_file_line_rule_path_and_suggestion() -> None:
    text = GOOD.replace("field: organization.tier", "field: priorty")
    issues = errors_of(text)
    assert len(issues) == 1
    assert str(issues[0]) == (
        "rules.yaml:12: rule 'enterprise-first': conditions.all[0].field: "
        "unknown field 'priorty' (did you mean 'priority'?)"
    )


def test_all_problems_are_collected_with_lines() -> None:
    text = (
        GOOD.replace("conditions:", "condtions:", 1)
        .replace("value: urgent}", "value: urgnet}")
        .replace("template: ack", "template: akc")
        .replace("customer_replied", "customer_replyed")
        .replace("team: Tier 2, message", "team: Tier 3, message")
    )
    issues = errors_of(text)
    got = {(i.rule, i.path, i.line, i.suggestion) for i in issues}
    assert got == {
        ("enterprise-first", "condtions", 10, "conditions"),
        ("enterprise-first", "actions[0].value", 17, "urgent"),
        ("enterprise-first", "actions[2].template", 19, "ack"),
        ("urgent-watch", "triggers[1].type", 22, "customer_replied"),
        ("urgent-watch", "actions[0].team", 24, "Tier 2"),
    }


def test_unknown_custom_field_suggests() -> None:
    with pytest.raises(RuleSetError) as exc:
        rules(rule(conditions={"field": "custom.plna", "op": "is", "value": "pro"}))
    assert exc.value.issues[0].suggestion == "custom.plan"


@pytest.mark.parametrize(
    ("cond", "fragment"),
    [
        ({"field": "status", "op": "greater_than", "value": 1}, "allowed: "),
        (
            {"field": "subject", "op": "has_any", "value": ["x"]},
            "cannot be used on field 'subject'",
        ),
        ({"field": "priority", "op": "is", "value": "urgnet"}, "not a valid priority"),
        ({"field": "age_hours", "op": "greater_than", "value": "3"}, "needs a number"),
        ({"field": "subject", "op": "matches", "value": "(unclosed"}, "invalid regular expression"),
        ({"field": "team", "op": "is", "value": "Tier 9"}, "unknown team"),
        ({"field": "priority", "op": "is"}, "missing required key 'value'"),
        ({"field": "priority", "op": "iss", "value": "low"}, "unknown operator 'iss'"),
        ({"field": "priority", "op": "is", "value": "low", "vlaue": 1}, "unknown key 'vlaue'"),
        ({"all": []}, "non-empty list"),
        ({"all": [], "any": []}, "exactly one key"),
        ({"feld": "priority", "op": "is"}, "missing 'field'"),
        ({"field": "priority", "op": "is", "value": None}, "must not be null"),
    ],
)
def test_condition_errors(cond: dict, fragment: str) -> None:
    with pytest.raises(RuleSetError) as exc:
        rules(rule(conditions=cond))
    assert fragment in str(exc.value)


def test_operator_kind_error_lists_allowed_operators() -> None:
    with pytest.raises(RuleSetError) as exc:
        rules(rule(conditions={"field": "status", "op": "greater_than", "value": 1}))
    msg = exc.value.issues[0].message
    assert "greater_than" in msg
    assert "status" in msg
    assert "is_not" in msg
    assert "greater" not in msg.split("allowed")[1]


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [
        ({"triggers": []}, "at least one trigger"),
        ({"actions": []}, "at least one action"),
        ({"triggers": ["craeted"]}, "did you mean 'created'"),
        ({"actions": [{"type": "set_priorty", "value": "low"}]}, "did you mean 'set_priority'"),
        ({"actions": [{"type": "reply"}]}, "exactly one of 'template' or 'body'"),
        ({"actions": [{"type": "notify", "message": "x"}]}, "at least one recipient"),
        ({"actions": [{"type": "webhook", "url": "ftp://x"}]}, "http(s)"),
        ({"actions": [{"type": "assign_agent", "agent": "an@desk.test"}]}, "ann@desk.test"),
        ({"actions": [{"type": "set_field", "field": "custom.seats", "value": "x"}]}, "integer"),
        ({"actions": [{"type": "set_field", "field": "priority", "value": "low"}]}, "custom field"),
        ({"actions": [{"type": "escalate", "priority": "higher", "reason": "x"}]}, "or 'raise'"),
        ({"triggers": [{"type": "field_changed", "field": "prio"}]}, "unknown field 'prio'"),
        ({"triggers": [{"type": "status_changed", "to": "opne"}]}, "did you mean 'open'"),
        ({"name": ""}, "non-empty 'name'"),
        ({"enabled": "yes"}, "true or false"),
    ],
)
def test_rule_errors(bad: dict, fragment: str) -> None:
    with pytest.raises(RuleSetError) as exc:
        rules({**rule(), **bad})
    assert fragment in str(exc.value)


def test_duplicate_names_and_unnamed_rules_are_labelled() -> None:
    with pytest.raises(RuleSetError) as exc:
        rules(rule("a"), rule("a"), {"triggers": ["created"], "actions": [{"type": "stop"}]})
    issues = exc.value.issues
    assert any("duplicate rule name 'a'" in i.message and i.path == "name" for i in issues)
    assert any(i.rule == "rules[2]" for i in issues)


def test_version_and_top_level_keys() -> None:
    with pytest.raises(RuleSetError) as exc:
        compile_ruleset({"version": 2, "rule": []}, catalog=CATALOG)
    text = str(exc.value)
    assert "unsupported version 2" in text
    assert "did you mean 'rules'" in text


def test_yaml_syntax_error_has_line() -> None:
    issues = errors_of("version: 1\nrules:\n  - name: x\n    triggers: [created\n")
    assert issues[0].line is not None
    assert issues[0].line >= 4
    assert "YAML syntax error" in issues[0].message


def test_unknown_key_points_at_the_key_line() -> None:
    text = (
        "version: 1\nrules:\n  - name: x\n    triggers: [created]\n"
        "    actoins:\n      - {type: stop}\n"
    )
    issues = errors_of(text)
    by_path = {i.path: i for i in issues}
    assert by_path["actoins"].line == 5
    assert by_path["actoins"].suggestion == "actions"
    assert "at least one action" in by_path["actions"].message


def test_unknown_template_placeholder() -> None:
    with pytest.raises(RuleSetError) as exc:
        rules(rule(actions=[{"type": "reply", "body": "hi {{ requester.nmae }}"}]))
    assert exc.value.issues[0].suggestion == "requester.name"


def test_disabled_rules_compile_but_never_match() -> None:
    from engine_helpers import snapshot

    from flowdesk.engine import Event

    rs = rules(rule("off", enabled=False), rule("on"))
    assert rs.match(snapshot(), Event("created")) == ["on"]


# --- memory: what a compiled set keeps (docs: src/flowdesk/engine/README.md, "Memory") --------


def _shared_rules() -> dict:
    leaf = {"field": "subject", "op": "contains", "value": "Refund"}
    return {
        "version": 1,
        "templates": {"ack": {"body": "hi"}},
        "rules": [
            {
                "name": f"r{i}",
                "triggers": ["created", {"type": "priority_changed", "to": "urgent"}],
                "conditions": {
                    "all": [dict(leaf), {"field": "channel", "op": "in", "value": ["web"]}]
                },
                "actions": [
                    {"type": "add_tags", "tags": ["x"]},
                    {"type": "reply", "template": "ack"},
                ],
            }
            for i in range(3)
        ],
    }


def test_equal_conditions_triggers_and_actions_are_one_handler() -> None:
    rs = compile_ruleset(_shared_rules(), catalog=CATALOG)
    a, b = rs.rules[0], rs.rules[1]
    assert isinstance(a.conditions, CondGroup)
    assert isinstance(b.conditions, CondGroup)
    leaf_a, leaf_b = a.conditions.children[0], b.conditions.children[0]
    assert isinstance(leaf_a, CondLeaf)
    assert isinstance(leaf_b, CondLeaf)
    assert leaf_a.op is leaf_b.op
    assert a.triggers[1] is b.triggers[1]
    assert a.actions[1] is b.actions[1]
    assert leaf_a.op.config.model_dump() == {"value": "Refund"}  # rebuilt from value (compact)
    assert not hasattr(leaf_a.op, "__dict__")


def test_definitions_are_rebuilt_and_the_stored_one_shares_parts() -> None:
    data = _shared_rules()
    rs = compile_ruleset(data, catalog=CATALOG)
    assert rs.definition == rs.definition
    assert rs.definition is not rs.definition
    assert rs.definition["rules"][0]["triggers"][0] is not rs.definition["rules"][1]["triggers"][0]
    stored = rs.stored_definition()
    assert stored == rs.definition
    first, second = stored["rules"][0], stored["rules"][1]
    assert first["triggers"][1] is second["triggers"][1]
    assert first["conditions"]["all"][0] is second["conditions"]["all"][0]
    # nothing the compiled set keeps is an object of the caller's parsed input
    assert rs.rules[0].name == data["rules"][0]["name"]
    assert rs.rules[0].name is not data["rules"][0]["name"]


def test_consume_empties_the_input_once_compiled() -> None:
    data = _shared_rules()
    want = compile_ruleset(_shared_rules(), catalog=CATALOG).definition
    rs = compile_ruleset(data, catalog=CATALOG, consume=True)
    assert data["rules"] == []
    assert rs.definition == want
    bad = _shared_rules()
    bad["rules"][1]["triggers"] = ["nope"]
    with pytest.raises(RuleSetError):
        compile_ruleset(bad, catalog=CATALOG, consume=True)
    assert bad["rules"] == []


def test_index_false_builds_the_index_on_first_use() -> None:
    rs = compile_ruleset(_shared_rules(), catalog=CATALOG, index=False)
    assert rs._matcher is None
    assert rs.match(snapshot(subject="refund", channel="web"), Event("created")) == [
        "r0",
        "r1",
        "r2",
    ]
    built = rs._matcher
    assert built is not None
    assert rs.index() is built


def _whole_dump(definition: dict) -> str:
    import yaml

    from flowdesk.engine.yamlio import _DUMPER

    text: str = yaml.dump(
        definition, Dumper=_DUMPER, sort_keys=False, allow_unicode=True, default_flow_style=False
    )
    return text


def test_yaml_is_dumped_rule_by_rule_as_the_whole_document_would_be() -> None:
    rs = load_ruleset_yaml(GOOD, catalog=CATALOG, source="rules.yaml")
    d = rs.definition
    d["rules"][0]["description"] = 'multi\nline: "quoted" \u00e9\n  indented'
    assert dump_ruleset_yaml(d) == _whole_dump(d)
    assert dump_ruleset_yaml({**d, "rules": []}) == _whole_dump({**d, "rules": []})
    reordered = {"rules": d["rules"], "version": 1, "templates": {}}
    assert dump_ruleset_yaml(reordered) == _whole_dump(reordered)
    again = load_ruleset_yaml(dump_ruleset_yaml(d), catalog=CATALOG, source="x")
    assert again.definition == d
