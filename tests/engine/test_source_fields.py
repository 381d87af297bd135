"""Where a ticket came from, as rules see it: ``source.*``, ``source.header.<name>``, language."""

from __future__ import annotations

from typing import Any

import pytest
from engine_helpers import CATALOG, rule, rules, snapshot

from flowdesk.engine import Event, RuleSetError, explain, load_ruleset_yaml, run_cascade

SOURCE = {
    "channel": "email",
    "source.mailbox": "support",
    "source.address": "ann@bigcorp.example",
    "source.domain": "bigcorp.example",
    "source.page_url": None,
    "language": "de",
    "source.header.x-priority": "1 (Highest)",
    "source.header.list-id": "<ops.bigcorp.example>",
}
PADDING = [
    rule(f"pad-{i}", conditions={"field": "subject", "op": "is", "value": f"x{i}"})
    for i in range(40)
]


def fired(condition: dict[str, Any], pad: bool = False, **over: Any) -> bool:
    """Whether a rule with ``condition`` fires on the SOURCE snapshot (with ``over``); ``pad``
    adds rules so the indexed matcher, not the straight-line evaluator, decides."""
    rs = rules(*(PADDING if pad else []), rule("it", conditions=condition))
    res = run_cascade(rs, snapshot(**{**SOURCE, **over}), Event("created"), now=None)
    return "it" in res.fired_names


@pytest.mark.parametrize("pad", [False, True])
@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"field": "source.domain", "op": "is", "value": "BigCorp.Example"}, True),
        ({"field": "source.domain", "op": "is", "value": "smallcorp.example"}, False),
        ({"field": "source.domain", "op": "in", "value": ["a.example", "bigcorp.example"]}, True),
        ({"field": "source.address", "op": "starts_with", "value": "ann@"}, True),
        ({"field": "source.address", "op": "contains", "value": "@bigcorp."}, True),
        ({"field": "source.address", "op": "matches", "value": r"^[a-z]+@bigcorp\."}, True),
        ({"field": "source.address", "op": "matches", "value": r"^bob@"}, False),
        ({"field": "source.mailbox", "op": "is", "value": "support"}, True),
        ({"field": "source.mailbox", "op": "is", "value": "sales"}, False),
        ({"field": "source.page_url", "op": "blank"}, True),
        ({"field": "language", "op": "in", "value": ["de", "fr"]}, True),
        ({"field": "language", "op": "is", "value": "en"}, False),
        # header names in any case; values compare like any text
        ({"field": "source.header.X-Priority", "op": "starts_with", "value": "1"}, True),
        ({"field": "source.header.x-priority", "op": "is", "value": "1 (highest)"}, True),
        ({"field": "source.header.List-Id", "op": "contains", "value": "ops."}, True),
        ({"field": "source.header.x-priority", "op": "is", "value": "3"}, False),
        # a header the mail lacks is null: blank, never equal, never contains
        ({"field": "source.header.x-spam-flag", "op": "blank"}, True),
        ({"field": "source.header.x-spam-flag", "op": "present"}, False),
        ({"field": "source.header.x-spam-flag", "op": "is", "value": "YES"}, False),
        ({"field": "source.header.x-spam-flag", "op": "is_not", "value": "YES"}, True),
    ],
)
def test_operators_on_source_fields(condition: dict[str, Any], expected: bool, pad: bool) -> None:
    assert fired(condition, pad) is expected


def test_page_url_and_chat_language() -> None:
    chat = {
        "channel": "chat",
        "source.page_url": "https://shop.example/checkout?step=2",
        "language": "fil",
    }
    cond = {
        "all": [
            {"field": "source.page_url", "op": "contains", "value": "/checkout"},
            {"field": "language", "op": "is", "value": "fil"},
        ]
    }
    assert fired(cond, **chat)
    assert not fired(cond, **{**chat, "language": "en"})


def test_header_names_are_lower_case_in_the_compiled_rule() -> None:
    rs = rules(
        rule("it", conditions={"field": "source.header.X-Priority", "op": "is", "value": "1"})
    )
    assert rs.definition["rules"][0]["conditions"]["field"] == "source.header.x-priority"


def test_explanation_names_the_deciding_source_condition() -> None:
    mailbox = {"field": "source.mailbox", "op": "is", "value": "support"}
    domain = {"field": "source.domain", "op": "is", "value": "bigcorp.example"}
    rs = rules(rule("bigcorp", conditions={"all": [mailbox, domain]}))
    out = explain(
        rs, snapshot(**{**SOURCE, "source.domain": "other.example"}), Event("created"), now=None
    ).to_dict()
    entry = next(r for r in out["rules"] if r["name"] == "bigcorp")
    assert entry["deciding"]["field"] == "source.domain"
    assert "other.example" in entry["reason"]


@pytest.mark.parametrize(
    ("field", "suggestion"),
    [
        ("source.domian", "source.domain"),
        ("source.adress", "source.address"),
        ("langauge", "language"),
        ("source.headers.x-priority", "source.header.x-priority"),
    ],
)
def test_a_misspelt_source_field_is_refused_with_a_suggestion(field: str, suggestion: str) -> None:
    text = (
        "version: 1\nrules:\n  - name: big\n    triggers: [created]\n"
        f"    conditions: {{field: {field}, op: is, value: bigcorp.example}}\n"
        "    actions: [{type: set_priority, value: high}]\n"
    )
    with pytest.raises(RuleSetError) as exc:
        load_ruleset_yaml(text, catalog=CATALOG, source="rules.yaml")
    (issue,) = exc.value.issues
    assert issue.line == 5
    assert field in issue.message
    assert issue.suggestion == suggestion


@pytest.mark.parametrize("name", ["source.header.", "source.header.bad:name", "source.header.a b"])
def test_a_header_field_needs_a_header_name(name: str) -> None:
    with pytest.raises(RuleSetError):
        rules(rule("it", conditions={"field": name, "op": "blank"}))


def test_source_fields_cannot_be_set_by_rules() -> None:
    with pytest.raises(RuleSetError) as exc:
        rules(rule("it", actions=[{"type": "set_field", "field": "source.domain", "value": "x"}]))
    assert "source.domain" in str(exc.value)


def test_reply_via_is_channel_or_email() -> None:
    rs = rules(
        rule("a", actions=[{"type": "reply", "body": "hi", "via": "email"}]),
        rule("b", actions=[{"type": "reply", "body": "hi"}]),
    )
    effects = run_cascade(rs, snapshot(), Event("created"), now=None).effects
    assert [e.config.get("via") for e in effects] == ["email", None]
    assert "via" not in rs.definition["rules"][1]["actions"][0]  # the default stays implicit
    with pytest.raises(RuleSetError) as exc:
        rules(rule("c", actions=[{"type": "reply", "body": "hi", "via": "sms"}]))
    assert "via" in str(exc.value)
