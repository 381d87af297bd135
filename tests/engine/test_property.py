"""The key correctness test for the index: fast path == tracing path on random rule sets.

Random rules over the fields the index treats specially (enums, text, numbers, tags, presence,
changes), random well-typed snapshots and events; ``match`` must equal a naive per-rule evaluation,
and ``explain``'s fired list must equal ``run_cascade``'s.
"""

from __future__ import annotations

from typing import Any

from engine_helpers import CATALOG, snapshot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowdesk.engine import Event, MessageInfo, compile_ruleset, explain, run_cascade
from flowdesk.engine.tree import CompiledRule
from flowdesk.engine.types import TriggerContext

PRIOS = ["low", "normal", "high", "urgent"]
STATUSES = ["new", "open", "pending", "solved"]
CHANNELS = ["email", "web", "chat"]
TIERS = ["enterprise", "business", "free"]
TAGS = ["vip", "billing", "bug"]
# Overlapping and nested needles ("log" in "login", "in" in both) exercise the automaton.
WORDS = ["login", "refund", "Portal", "log", "in", "al"]
PATTERNS = [r"\blog(?:in)?\b", "refund|portal", r"^Re", r"\d+", "(?i)LOGIN", "in+al", "x?"]

leaf = st.one_of(
    st.builds(
        lambda v, op: {"field": "priority", "op": op, "value": v},
        st.sampled_from(PRIOS),
        st.sampled_from(["is", "is_not"]),
    ),
    st.builds(
        lambda v, op: {"field": "channel", "op": op, "value": v},
        st.lists(st.sampled_from(CHANNELS), min_size=1, max_size=2),
        st.sampled_from(["in", "not_in"]),
    ),
    st.builds(
        lambda v: {"field": "organization.tier", "op": "is", "value": v}, st.sampled_from(TIERS)
    ),
    st.builds(
        lambda v, op: {"field": "status", "op": op, "value": v},
        st.sampled_from(STATUSES),
        st.sampled_from(["is", "changed_to", "changed_from"]),
    ),
    st.builds(
        lambda v, op: {"field": "age_hours", "op": op, "value": v},
        st.sampled_from([0, 1, 2.5, 4, 8]),
        st.sampled_from(["greater_than", "greater_or_equal", "less_than", "less_or_equal"]),
    ),
    st.builds(
        lambda v, op: {"field": "message_count", "op": op, "value": v},
        st.integers(0, 4),
        st.sampled_from(["greater_than", "less_or_equal", "is"]),
    ),
    st.builds(
        lambda v, op: {"field": "tags", "op": op, "value": v},
        st.lists(st.sampled_from(TAGS), min_size=1, max_size=2),
        st.sampled_from(["has_any", "has_all", "has_none"]),
    ),
    st.builds(
        lambda v, op: {"field": "subject", "op": op, "value": v},
        st.sampled_from(WORDS),
        st.sampled_from(["contains", "not_contains", "starts_with", "is"]),
    ),
    st.builds(
        lambda f, op: {"field": f, "op": op},
        st.sampled_from(["team", "tags", "priority", "assignee"]),
        st.sampled_from(["present", "blank", "changed"]),
    ),
    # Regexes: with required literals (the automaton rules texts out), without, and
    # case-insensitive ones (no shortcut allowed).
    st.builds(
        lambda f, p: {"field": f, "op": "matches", "value": p},
        st.sampled_from(["subject", "latest_message.body"]),
        st.sampled_from(PATTERNS),
    ),
)
cond = st.recursive(
    leaf,
    lambda kids: st.builds(
        lambda k, c: {k: c},
        st.sampled_from(["all", "any", "none"]),
        st.lists(kids, min_size=1, max_size=3),
    ),
    max_leaves=8,
)
trigger = st.one_of(
    st.sampled_from(["created", "updated", "customer_replied", "note_added", "tags_changed"]),
    st.builds(
        lambda ft: {"type": "field_changed", "field": ft[0], **({"to": ft[1]} if ft[1] else {})},
        st.sampled_from(
            [("priority", None), ("priority", "urgent"), ("status", "open"), ("status", None)]
        ),
    ),
    st.builds(lambda to: {"type": "priority_changed", "to": to}, st.sampled_from(PRIOS)),
)
action = st.one_of(
    st.builds(lambda v: {"type": "set_priority", "value": v}, st.sampled_from(PRIOS)),
    st.builds(lambda v: {"type": "set_status", "value": v}, st.sampled_from(STATUSES)),
    st.builds(lambda t: {"type": "add_tags", "tags": [t]}, st.sampled_from(TAGS)),
    st.builds(lambda t: {"type": "remove_tags", "tags": [t]}, st.sampled_from(TAGS)),
    st.builds(lambda t: {"type": "assign_team", "team": t}, st.sampled_from(["Tier 1", "Tier 2"])),
    st.just({"type": "add_note", "body": "n"}),
    st.just({"type": "stop"}),
)


@st.composite
def ruleset(draw: Any) -> dict[str, Any]:
    n = draw(st.integers(1, 8))
    out = []
    for i in range(n):
        r: dict[str, Any] = {
            "name": f"r{i}",
            "triggers": draw(st.lists(trigger, min_size=1, max_size=2)),
        }
        if draw(st.integers(0, 4)):
            r["conditions"] = draw(cond)
        r["enabled"] = draw(st.sampled_from([True, True, True, False]))
        r["actions"] = draw(st.lists(action, min_size=1, max_size=2))
        out.append(r)
    return {"version": 1, "rules": out}


SUBJECTS = ["login broken", "Refund please", "portal: login", "", None, "blogin", "in", "Log", "42"]


@st.composite
def event_and_snapshot(draw: Any) -> tuple[dict[str, Any], Event]:
    snap = snapshot(
        priority=draw(st.sampled_from(PRIOS)),
        status=draw(st.sampled_from(STATUSES)),
        channel=draw(st.sampled_from(CHANNELS)),
        organization__tier=draw(st.sampled_from([*TIERS, None])),
        age_hours=draw(st.sampled_from([None, 0, 1, 2.5, 3, 4, 8.0, 9])),
        message_count=draw(st.integers(0, 5)),
        tags=frozenset(draw(st.lists(st.sampled_from(TAGS), max_size=3))),
        subject=draw(st.sampled_from(SUBJECTS)),
        latest_message__body=draw(st.sampled_from(SUBJECTS)),
        team=draw(st.sampled_from([None, "Tier 1"])),
        assignee=draw(st.sampled_from([None, "ann@desk.test"])),
    )
    kind = draw(st.sampled_from(["created", "updated"]))
    changes: dict[str, Any] = {}
    if kind == "updated":
        for f, pool in (("priority", PRIOS), ("status", STATUSES)):
            if draw(st.booleans()):
                old = draw(st.sampled_from(pool))
                if old != snap[f]:
                    changes[f] = (old, snap[f])
    msgs = tuple(
        MessageInfo(a, p)
        for a, p in draw(
            st.lists(st.tuples(st.sampled_from(["customer", "agent"]), st.booleans()), max_size=2)
        )
    )
    return snap, Event(kind, changes, msgs)


def naive_match(rules: list[CompiledRule], snap: dict[str, Any], ev: Event) -> list[str]:
    ctx = TriggerContext(ev.kind, ev.changes, ev.messages)
    return [r.name for r in rules if r.enabled and r.trigger_hit(ctx) and r.holds(snap, ev.changes)]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=ruleset(), cases=st.lists(event_and_snapshot(), min_size=1, max_size=4))
def test_fast_path_equals_tracing_path(data: dict[str, Any], cases: list[Any]) -> None:
    rs = compile_ruleset(data, catalog=CATALOG)
    for snap, ev in cases:
        want = naive_match(rs.rules, snap, ev)
        # Small sets answer with the straight-line evaluator (linear.py); the index must agree.
        assert rs.match(snap, ev) == want == rs.matcher.index_event(snap, ev)
        fast = run_cascade(rs, snap, ev, now=None)
        slow = explain(rs, snap, ev, now=None)
        assert [(f.rule, f.pass_no, f.caused_by) for f in fast.fired] == [
            (f.rule, f.pass_no, f.caused_by) for f in slow.result.fired
        ]
        assert fast.final == slow.result.final
        assert fast.errors == []
        assert slow.result.errors == []


def test_dnf_cap_keeps_big_trees_correct() -> None:
    # any of 6 groups x all of 3 'any'-pairs -> 2**18 terms without the cap
    big = {
        "all": [
            {
                "any": [
                    {"field": "message_count", "op": "is", "value": i},
                    {"field": "tags", "op": "has_any", "value": [TAGS[i % 3]]},
                ]
            }
            for i in range(6)
        ]
    }
    rs = compile_ruleset(
        {
            "rules": [
                {
                    "name": "big",
                    "triggers": ["created"],
                    "conditions": big,
                    "actions": [{"type": "stop"}],
                }
            ]
        },
        catalog=CATALOG,
    )
    assert rs.matcher.n_terms <= 32
    for tags, want in ((frozenset(TAGS), ["big"]), (frozenset({"vip"}), [])):
        snap = snapshot(tags=tags, message_count=1)
        assert (
            rs.match(snap, Event("created"))
            == want
            == naive_match(rs.rules, snap, Event("created"))
        )


# Several literals on ONE field inside one conjunction: the index shares per-field work, so this
# is where a shortcut (one OR per field instead of one per literal) would go wrong.
subject_leaf = st.builds(
    lambda v, op: {"field": "subject", "op": op, "value": v},
    st.sampled_from(WORDS),
    st.sampled_from(["contains", "starts_with", "not_contains"]),
)
tags_leaf = st.builds(
    lambda v, op: {"field": "tags", "op": op, "value": v},
    st.lists(st.sampled_from(TAGS), min_size=1, max_size=2),
    st.sampled_from(["has_any", "has_all", "has_none"]),
)
same_field = st.one_of(
    st.lists(subject_leaf, min_size=2, max_size=3), st.lists(tags_leaf, min_size=2, max_size=3)
)


@st.composite
def same_field_ruleset(draw: Any) -> dict[str, Any]:
    rules = [
        {
            "name": f"r{i}",
            "triggers": ["created"],
            "conditions": {draw(st.sampled_from(["all", "all", "none"])): draw(same_field)},
            "actions": [{"type": "add_note", "body": "n"}],
        }
        for i in range(draw(st.integers(1, 6)))
    ]
    return {"version": 1, "rules": rules}


@settings(max_examples=300, deadline=None)
@given(
    data=same_field_ruleset(),
    subject=st.sampled_from(
        ["login broken", "Refund please", "portal: login", "portal refund", ""]
    ),
    tags=st.lists(st.sampled_from(TAGS), max_size=3),
)
def test_same_field_conjunctions(data: dict[str, Any], subject: str, tags: list[str]) -> None:
    rs = compile_ruleset(data, catalog=CATALOG)
    snap = snapshot(subject=subject, tags=frozenset(tags))
    ev = Event("created")
    assert rs.match(snap, ev) == naive_match(rs.rules, snap, ev)


def test_two_needles_and_two_tag_sets_are_both_required() -> None:
    def one(cond: dict[str, Any]) -> Any:
        rule = {"name": "r", "triggers": ["created"], "conditions": cond,
                "actions": [{"type": "stop"}]}  # fmt: skip
        return compile_ruleset({"rules": [rule]}, catalog=CATALOG)

    login = {"field": "subject", "op": "contains", "value": "login"}
    refund = {"field": "subject", "op": "contains", "value": "refund"}
    both_words = one({"all": [login, refund]})
    assert both_words.match(snapshot(subject="login broken"), Event("created")) == []
    assert both_words.match(snapshot(subject="Refund login"), Event("created")) == ["r"]
    vip = {"field": "tags", "op": "has_any", "value": ["vip"]}
    bug_billing = {"field": "tags", "op": "has_all", "value": ["bug", "billing"]}
    two_sets = one({"all": [vip, bug_billing]})
    assert two_sets.match(snapshot(tags=frozenset({"vip", "bug"})), Event("created")) == []
    assert two_sets.match(
        snapshot(tags=frozenset({"vip", "bug", "billing"})), Event("created")
    ) == ["r"]


# The generated per-rule-set match functions (fastpath.py) must answer exactly like the general
# loop they fall back to, for odd values too (None, NaN, wrong types, unhashable values), where
# the answers come from the fallback literals and the errors they record.
ODD: dict[str, list[Any]] = {
    "priority": ["urgent", None, ["urgent"], 3],
    "channel": ["email", None, {"web": 1}],
    "organization__tier": ["free", None, 7],
    "age_hours": [1, 2.5, None, float("nan"), "3", True],
    "message_count": [0, 2, None, "2", [1]],
    "tags": [frozenset({"vip"}), frozenset(), None, ["vip"], "vip", frozenset({1, "bug"})],
    "subject": ["Portal login", "", None, 12, ["login"]],
    "latest_message__body": ["refund 42", None, 3.5],
    "team": ["Tier 1", None, ["Tier 1"]],
}


@st.composite
def odd_snapshot(draw: Any) -> dict[str, Any]:
    return snapshot(**{field: draw(st.sampled_from(values)) for field, values in ODD.items()})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=ruleset(), snaps=st.lists(odd_snapshot(), min_size=1, max_size=3))
def test_generated_match_equals_general_loop(data: dict[str, Any], snaps: list[Any]) -> None:
    rs = compile_ruleset(data, catalog=CATALOG)
    m = rs.matcher
    for snap in snaps:
        for ev in (Event("created"), Event("updated", {"priority": ("low", snap["priority"])})):
            args = (snap, ev.kind, ev.changes, ev.messages)
            fast_errors: list[tuple[int, str]] = []
            slow_errors: list[tuple[int, str]] = []
            fast = m.match_terms(*args, -1, fast_errors)
            slow = m.match_terms_general(*args, -1, slow_errors)
            assert fast == slow
            assert fast_errors == slow_errors
            assert rs.match(snap, ev) == m.names_of(slow) == m.index_event(snap, ev)
            assert m.rules_of(m.match_terms(*args, m.after(0))) == m.rules_of(
                m.match_terms_general(*args, m.after(0))
            )


def test_many_matching_rules_take_the_wide_path_and_stay_exact() -> None:
    # More matches than Matcher.few switches bit walking to numpy; half the rules have two DNF
    # terms (an any-group) that both hold, so the collapse to one bit per rule is exercised too.
    two_terms = {
        "any": [
            {"field": "channel", "op": "is", "value": "email"},
            {"field": "priority", "op": "is", "value": "normal"},
        ]
    }
    one_term = {"field": "status", "op": "is", "value": "new"}
    data = {
        "version": 1,
        "rules": [
            {
                "name": f"r{i}",
                "triggers": ["created"],
                "conditions": two_terms if i % 2 else one_term,
                "actions": [{"type": "add_note", "body": "n"}],
                "enabled": i % 7 != 3,
            }
            for i in range(400)
        ],
    }
    rs = compile_ruleset(data, catalog=CATALOG)
    m = rs.matcher
    for snap in (snapshot(), snapshot(status="open"), snapshot(channel="web")):
        ev = Event("created")
        want = naive_match(rs.rules, snap, ev)
        terms = m.match_terms(snap, ev.kind, ev.changes, ev.messages)
        assert m.collapse(terms).bit_count() == len(want)
        assert rs.match(snap, ev) == want
        assert m.rules_of(terms) == [rs.by_name[n].index for n in want]
    assert len(rs.match(snapshot(), Event("created"))) > m.few
