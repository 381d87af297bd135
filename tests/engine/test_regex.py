"""Rule regexes run on RE2: linear time whatever the pattern or the text, on every evaluation path
(straight-line code, the bitset index, the cascade, the tracing explanation); what RE2 refuses is
a compile error naming the rule, the path and the construct; the needle prefilter stays sound
for RE2's syntax."""

from __future__ import annotations

import json
import time

import pytest
import re2
from engine_helpers import CATALOG, rule, rules, snapshot
from hypothesis import given, settings
from hypothesis import strategies as st

from flowdesk.engine import Event, RuleSetError, explain, load_ruleset_yaml, run_cascade
from flowdesk.engine.conditions import RegexError, compile_regex
from flowdesk.engine.prefilter import required_needles

EVIL = "(a+)+$"
EVIL_TEXT = "a" * 5000 + "!"  # Python's re would need about 2**5000 steps


def _evil_rules(extra: int) -> list[dict[str, object]]:
    cond = {"field": "subject", "op": "matches", "value": EVIL}
    body = {"field": "latest_message.body", "op": "matches", "value": r"(x+x+)+y"}
    out = [rule("evil", conditions={"any": [cond, body]})]
    # Padding rules push the set past linear.worth_it, so the bitset index answers.
    out += [
        rule(f"pad{i}", conditions={"field": "custom.seats", "op": "is", "value": 1000 + i})
        for i in range(extra)
    ]
    return out


@pytest.mark.parametrize("extra", [0, 450], ids=["straight-line", "bitset-index"])
def test_pathological_pattern_and_text_cost_milliseconds(extra: int) -> None:
    rs = rules(*_evil_rules(extra))
    assert (rs.matcher.linear is not None) == (extra == 0)
    snap = snapshot(subject=EVIL_TEXT, latest_message__body="x" * 5000)
    start = time.perf_counter()
    assert rs.match(snap, Event("created")) == []
    assert run_cascade(rs, snap, Event("created"), now=None).fired_names == []
    traced = explain(rs, snap, Event("created"), now=None)
    assert rs.matcher.index_event(snap, Event("created")) == []
    elapsed = time.perf_counter() - start
    assert traced.fired == []
    assert elapsed < 0.5, elapsed
    # ... and the same pattern still matches what it should.
    assert rs.match(snapshot(subject="aaaa"), Event("created")) == ["evil"]


def test_rule_regex_helper_is_linear_and_boolean() -> None:
    compiled = compile_regex(EVIL)
    start = time.perf_counter()
    for n in (27, 1000, 100_000):
        assert compiled.search("a" * n + "!") is None
    assert time.perf_counter() - start < 0.5


@pytest.mark.parametrize(
    ("pattern", "construct"),
    [
        (r"(a)\1", "backreference \\1"),
        (r"(?P<w>a)(?P=w)", "named backreference"),
        ("foo(?=bar)", "lookahead (?=...)"),
        ("foo(?!bar)", "negative lookahead (?!...)"),
        ("(?<=re)fund", "lookbehind (?<=...)"),
        ("(?<!no )refund", "negative lookbehind (?<!...)"),
        ("(?>a+)b", "atomic group"),
        ("a++", "possessive quantifier ++"),
        (r"end\Z", "\\Z is not supported"),
        (r"caf\u00e9", "\\uXXXX escape"),
        ("(?x) a b", "verbose flag"),
        ("a{1001}", "repetition count over 1000"),
        (r"\pL{1000}", "8 MiB program limit"),
    ],
)
def test_unsupported_construct_is_a_compile_error_naming_rule_path_and_construct(
    pattern: str, construct: str
) -> None:
    text = f"""version: 1
rules:
  - name: risky
    triggers: [created]
    conditions:
      all:
        - {{field: subject, op: matches, value: {json.dumps(pattern)}}}
    actions: [{{type: add_note, body: x}}]
"""
    with pytest.raises(RuleSetError) as exc:
        load_ruleset_yaml(text, catalog=CATALOG, source="rules.yaml")
    (issue,) = exc.value.issues
    assert issue.rule == "risky"
    assert issue.path == "conditions.all[0].value"
    assert issue.line == 7
    assert construct in issue.message
    assert "RE2" in issue.message
    assert "; hint: " in issue.message, "every unsupported construct comes with a hint"


def test_plain_syntax_error_is_still_reported() -> None:
    with pytest.raises(RegexError, match="invalid regular expression: missing \\)"):
        compile_regex("(unclosed")


def _hit(pattern: str, subject: str) -> bool:
    rs = rules(rule(conditions={"field": "subject", "op": "matches", "value": pattern}))
    got = rs.match(snapshot(subject=subject), Event("created")) == ["r"]
    assert got == (rs.matcher.index_event(snapshot(subject=subject), Event("created")) == ["r"])
    return got


@pytest.mark.parametrize(
    ("pattern", "subject", "hit"),
    [
        ("refund", "REFUND please", False),  # case-sensitive by default
        ("(?i)refund", "REFUND please", True),  # (?i) for case-insensitive
        ("order (?i)NUMBER", "order number 5", True),  # flags may change mid-pattern in RE2
        ("(?i:ref)und", "REFund", True),
        ("(?i)é", "É", True),  # Unicode simple case folding
        ("(?i)straße", "STRASSE", False),  # ... but not full case folding (ß is not ss)
        (r"^\w+$", "café", False),  # \w, \d, \s, \b are ASCII-only
        (r"^[\pL]+$", "café", True),  # Unicode classes spell it out
        (r"^[[:alpha:]]+$", "abc", True),  # POSIX classes (ASCII)
        ("urgent$", "urgent\n", False),  # $ is the end of the text, not before a final newline
        ("(?m)urgent$", "urgent\nthanks", True),
        (r"end\z", "the end", True),
        (r"\x{e9}", "é", True),
        (r"\Q1+1\E", "is 1+1 2", True),  # literal text
    ],
)
def test_syntax_and_case_semantics(pattern: str, subject: str, hit: bool) -> None:
    assert _hit(pattern, subject) is hit


# Patterns in RE2 syntax, including RE2-only spellings the prefilter must not misread.
PIECES = [
    "log",
    "in",
    "ab",
    "(?:log|in)",
    "[ab]",
    "a+",
    "(?:ab)*",
    "(ab){2}",
    "\\b",
    "x?",
    ".",
    "ß",
    "[[:alpha:]]",
    "[[:^space:]]",
    "\\pL",
    "\\x{61}",
    "\\Qa+\\E",
    "(?i)",
    "(?U)",
    "\\z",
    "$",
]
CHUNKS = ["log", "in", "ab", "LOG", "In", "aB", "ß", "SS", "a+", "]", ":", " ", "x", "\n"]


@settings(max_examples=500, deadline=None)
@given(
    parts=st.lists(st.sampled_from(PIECES), min_size=1, max_size=4),
    text=st.lists(st.sampled_from(CHUNKS), max_size=6).map("".join),
)
def test_required_needles_are_sound_for_re2(parts: list[str], text: str) -> None:
    pattern = "".join(parts)
    try:
        compiled = compile_regex(pattern)
    except RegexError:
        return
    needles = required_needles(pattern)
    if needles and compiled.search(text) is not None:
        folded = text.casefold()
        assert any(n in folded for n in needles), (pattern, text, needles)


def test_posix_class_gets_no_needles() -> None:
    # Python's parser reads "[[:upper:]]ab" as a set and a literal "]ab"; RE2 as a class + "ab".
    assert required_needles("[[:upper:]]ab") == frozenset()
    assert re2.search("[[:upper:]]ab", "Xab") is not None
    assert _hit("[[:upper:]]ab", "Xab")
