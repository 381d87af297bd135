"""The flowchart is pure: cascade edges from what handlers declare, labels escaped."""

from __future__ import annotations

from flowdesk.engine import CompiledRuleSet, compile_ruleset, default_catalog
from flowdesk.engine.flowchart import mermaid_text, ruleset_flowchart


def _set(*rules: dict[str, object]) -> CompiledRuleSet:
    return compile_ruleset({"version": 1, "rules": list(rules)}, catalog=default_catalog())


def test_escaping_keeps_only_safe_characters() -> None:
    assert mermaid_text('a"b') == "a#34;b"
    assert mermaid_text("x\n\n y") == "x y"
    assert mermaid_text("<b>#;") == "#60;b#62;#35;#59;"
    assert mermaid_text("é (ok)") == "é (ok)"
    assert len(mermaid_text("x" * 500)) < 200


def test_edges_need_a_common_member_and_a_common_event_kind() -> None:
    rs = _set(
        {"name": "w", "triggers": ["created"], "actions": [{"type": "add_tags", "tags": ["a"]}]},
        {
            "name": "reads-b",
            "triggers": ["created"],
            "conditions": {"all": [{"field": "tags", "op": "has_any", "value": ["b"]}]},
            "actions": [{"type": "set_priority", "value": "high"}],
        },
        {
            "name": "reads-a",
            "triggers": ["created"],
            "conditions": {"all": [{"field": "tags", "op": "has_all", "value": ["a"]}]},
            "actions": [{"type": "set_status", "value": "open"}],
        },
        {
            "name": "on-update",
            "triggers": ["updated"],
            "conditions": {"all": [{"field": "status", "op": "is", "value": "open"}]},
            "actions": [{"type": "add_tags", "tags": ["x"]}],
        },
    )
    chart = ruleset_flowchart(rs)
    edges = {(e.data["from_rule"], e.data["to_rule"]): e.data["keys"] for e in chart.edges}
    assert edges == {("w", "reads-a"): ["tags: a"]}
