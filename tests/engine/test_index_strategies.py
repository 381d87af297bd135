"""The matcher's shortcuts, each checked against the plain evaluation it replaces.

- ``required_needles``: every text a regex matches contains one of its needles (folded), so the
  automaton may rule the regex out;
- residual literals walked per surviving term == the literal-by-literal loop (results, errors);
- not_contains and regexes answered through the needle automaton == rule-by-rule evaluation;
- needles kept as term numbers instead of masks (large rule sets) == rule-by-rule evaluation.
"""

from __future__ import annotations

import re
from typing import Any
from unittest import mock

from engine_helpers import CATALOG, snapshot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_property import event_and_snapshot, naive_match, odd_snapshot, ruleset

from flowdesk.engine import Event, MessageInfo, compile_ruleset, fieldindex
from flowdesk.engine.prefilter import required_needles

# Texts built from the patterns' own literals (in other cases too), so many of them match.
CHUNKS = ["log", "in", "ab", "LOG", "In", "aB", "ß", "SS", "\u017f", "\u212a", " ", "x"]
pieces = st.sampled_from(
    ["log", "in", "ab", "(?:log|in)", "[ab]", "a+", "(?:ab)*", "(ab){2}", "\\b", "x?", ".", "ß"]
)


@settings(max_examples=500, deadline=None)
@given(
    parts=st.lists(pieces, min_size=1, max_size=4),
    text=st.lists(st.sampled_from(CHUNKS), max_size=6).map("".join),
)
def test_required_needles_are_sound(parts: list[str], text: str) -> None:
    pattern = "".join(parts)
    needles = required_needles(pattern)
    if needles and re.search(pattern, text):
        folded = text.casefold()
        assert any(n in folded for n in needles), (pattern, text, needles)


def test_required_needles_examples() -> None:
    assert required_needles(r"\b(?:refund|invoice)\b") == {"refund", "invoice"}
    assert required_needles("Refund") == {"refund"}
    assert required_needles(r"order #\d+") == {"order #"}
    assert required_needles("(?i)refund") == frozenset()  # case-insensitive: no shortcut
    assert required_needles(r"\d+|refund") == frozenset()  # one branch needs no literal
    assert required_needles("(?:ab)?cd") == {"cd"}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=ruleset(), snaps=st.lists(odd_snapshot(), min_size=1, max_size=3))
def test_residuals_by_term_equal_by_literal(data: dict[str, Any], snaps: list[Any]) -> None:
    by_term = compile_ruleset(data, catalog=CATALOG)
    by_literal = compile_ruleset(data, catalog=CATALOG)
    by_term.matcher.sparse_max = 10**9  # always walk the surviving terms
    by_literal.matcher.sparse_max = -1  # never
    for snap in snaps:
        for ev in (Event("created"), Event("updated", {"priority": ("low", snap["priority"])})):
            args = (snap, ev.kind, ev.changes, ev.messages, -1)
            errs_a: list[tuple[int, str]] = []
            errs_b: list[tuple[int, str]] = []
            a = by_term.matcher.match_terms(*args, errs_a)
            b = by_literal.matcher.match_terms(*args, errs_b)
            assert a == b
            assert errs_a == errs_b
            assert by_term.match(snap, ev) == by_literal.match(snap, ev)


def test_many_regexes_and_not_contains_on_long_text() -> None:
    words = [f"w{i}x" for i in range(300)]
    rules = [
        {
            "name": f"r{i}",
            "triggers": ["created"],
            "conditions": {
                "all": [
                    {"field": "latest_message.body", "op": "matches", "value": rf"\b{w}\b"},
                    {"field": "subject", "op": "not_contains", "value": words[(i * 7) % 300]},
                ]
            },
            "actions": [{"type": "add_note", "body": "n"}],
        }
        for i, w in enumerate(words)
    ]
    rs = compile_ruleset({"version": 1, "rules": rules}, catalog=CATALOG)
    for k in range(0, 300, 17):
        body = " ".join(words[k : k + 40])
        snap = snapshot(subject=" ".join(words[k + 5 : k + 9]), latest_message__body=body)
        assert rs.match(snap, Event("created")) == naive_match(rs.rules, snap, Event("created"))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=ruleset(), snaps=st.lists(odd_snapshot(), min_size=1, max_size=3))
def test_straight_line_equals_index_on_odd_values(data: dict[str, Any], snaps: list[Any]) -> None:
    rs = compile_ruleset(data, catalog=CATALOG)
    m = rs.matcher
    m.use_linear(rs.rules)  # whatever the size would choose
    for snap in snaps:
        for ev in (
            Event("created"),
            Event(
                "updated", {"priority": ("low", snap["priority"])}, (MessageInfo("agent", True),)
            ),
        ):
            want = m.names_of(m.match_terms_general(snap, ev.kind, ev.changes, ev.messages))
            assert m.match_event(snap, ev) == want == m.index_event(snap, ev)


def test_straight_line_cache_full_falls_back_to_the_index(monkeypatch: Any) -> None:
    from flowdesk.engine import linear

    monkeypatch.setattr(linear, "MAX_FUNCTIONS", 1)
    rule = {"triggers": ["created", "updated"], "actions": [{"type": "add_note", "body": "n"}]}
    data = {
        "version": 1,
        "rules": [
            {
                **rule,
                "name": "a",
                "conditions": {"field": "subject", "op": "contains", "value": "log"},
            },
            {**rule, "name": "b", "triggers": ["updated"]},
        ],
    }
    rs = compile_ruleset(data, catalog=CATALOG)
    assert rs.matcher.linear is not None
    snap = snapshot()
    assert rs.match(snap, Event("created")) == ["a"]
    assert rs.match(snap, Event("updated")) == ["a", "b"]  # a second candidate set: the index
    assert len(rs.matcher.linear.functions) == 1


def _sparse_text_steps(rs: Any) -> int:
    return sum(1 for step in rs.matcher.steps if step.kind == "text" and step.consts["sparse"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=ruleset(),
    cases=st.lists(event_and_snapshot(), min_size=1, max_size=3),
    odd=st.lists(odd_snapshot(), min_size=1, max_size=2),
)
def test_needles_kept_as_term_numbers_answer_alike(
    data: dict[str, Any], cases: list[Any], odd: list[Any]
) -> None:
    # Below 8,192 bits every needle keeps a mask; a tiny SPARSE_BITS makes the needles of these
    # small sets keep their term numbers (up to width / 2 of them), as in a large rule set.
    with mock.patch.object(fieldindex, "SPARSE_BITS", 2):
        rs = compile_ruleset(data, catalog=CATALOG)
    m = rs.matcher
    for snap, ev in cases:
        want = naive_match(rs.rules, snap, ev)
        assert m.index_event(snap, ev) == want
        assert m.names_of(m.match_terms_general(snap, ev.kind, ev.changes, ev.messages)) == want
    for snap in odd:
        ev = Event("created")
        want = m.names_of(m.match_terms_general(snap, ev.kind, ev.changes, ev.messages))
        assert m.index_event(snap, ev) == want


def test_large_rule_sets_keep_rare_needles_as_term_numbers() -> None:
    words = [f"w{i}x" for i in range(3000)]
    rules = [
        {
            "name": f"r{i}",
            "triggers": ["created"],
            "conditions": {
                "all": [
                    {"field": "subject", "op": "contains", "value": words[i % 3000]},
                    {"field": "subject", "op": "starts_with", "value": words[(i * 7) % 3000]},
                    {"field": "latest_message.body", "op": "not_contains", "value": "common"},
                ]
            },
            "actions": [{"type": "add_note", "body": "n"}],
        }
        for i in range(9000)
    ]
    rs = compile_ruleset({"version": 1, "rules": rules}, catalog=CATALOG)
    assert _sparse_text_steps(rs) == 2
    steps = {step.consts["name"]: step for step in rs.matcher.steps if step.kind == "text"}
    subject = list(steps["subject"].consts["iter"].__self__.values())
    assert all(isinstance(x, fieldindex.Ids) for v in subject for x in v[:2])  # 3 or 6 terms
    body = list(steps["latest_message.body"].consts["iter"].__self__.values())
    assert len(body) == 1
    assert not isinstance(body[0], fieldindex.Ids)  # 9,000 terms: a mask
    for k in (0, 7, 2999, 1234):
        subject = f"{words[(k * 7) % 3000]} and {words[k]} {words[k + 1 if k < 2999 else 0]}"
        for body in ("common words", "rare words", None):
            snap = snapshot(subject=subject, latest_message__body=body)
            ev = Event("created")
            assert rs.match(snap, ev) == naive_match(rs.rules, snap, ev)
