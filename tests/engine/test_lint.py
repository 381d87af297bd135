"""Static checks: each warning fires on a minimal rule set, stays silent on close-but-valid ones,
and never-matches / always-overwritten / unreachable-after-stop are sound on random rule sets."""

from __future__ import annotations

from itertools import combinations, product
from typing import Any

import pytest
from engine_helpers import rule, rules, snapshot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowdesk.engine import CompiledRuleSet, Event, LintWarning, MessageInfo, lint, run_cascade


def leaf(field: str, op: str, value: Any = None) -> dict[str, Any]:
    out: dict[str, Any] = {"field": field, "op": op}
    if value is not None:
        out["value"] = value
    return out


def found(rs: CompiledRuleSet, code: str) -> list[LintWarning]:
    return [w for w in lint(rs) if w.code == code]


def team(name: str) -> list[dict[str, Any]]:
    return [{"type": "assign_team", "team": name}]


# --- never-matches ---------------------------------------------------------------------------

CONTRADICTIONS = [
    [leaf("priority", "is", "high"), leaf("priority", "is", "low")],
    [leaf("priority", "is", "high"), leaf("priority", "in", ["low", "normal"])],
    [leaf("priority", "is", "high"), leaf("priority", "is_not", "high")],
    [leaf("priority", "is", "high"), leaf("priority", "not_in", ["high", "urgent"])],
    [leaf("channel", "in", ["email", "web"]), leaf("channel", "in", ["chat", "api"])],
    [leaf("channel", "in", ["email", "web"]), leaf("channel", "not_in", ["email", "web"])],
    [leaf("subject", "is", "Refund"), leaf("subject", "is", "login")],
    [leaf("team", "present"), leaf("team", "blank")],
    [leaf("team", "is", "Tier 1"), leaf("team", "blank")],
    [leaf("age_hours", "greater_than", 5), leaf("age_hours", "less_than", 3)],
    [leaf("age_hours", "greater_or_equal", 5), leaf("age_hours", "less_than", 5)],
    [leaf("age_hours", "greater_than", 5), leaf("age_hours", "less_or_equal", 5)],
    [leaf("message_count", "is", 3), leaf("message_count", "greater_than", 4)],
    [leaf("message_count", "in", [1, 2]), leaf("message_count", "greater_or_equal", 3)],
    [
        leaf("custom.renewal", "greater_than", "2025-06-01"),
        leaf("custom.renewal", "less_than", "2025-01-01"),
    ],
    [leaf("tags", "has_all", ["vip"]), leaf("tags", "has_none", ["VIP"])],
    [leaf("tags", "has_any", ["vip"]), leaf("tags", "has_none", ["vip", "bug"])],
    [leaf("tags", "has_any", ["vip"]), leaf("tags", "blank")],
    [leaf("status", "changed_to", "open"), leaf("status", "changed_to", "solved")],
]


@pytest.mark.parametrize("conds", CONTRADICTIONS, ids=lambda c: f"{c[0]['op']}-{c[1]['op']}")
def test_never_matches_fires_on_contradictions(conds: list[dict[str, Any]]) -> None:
    rs = rules(rule("x", conditions={"all": [leaf("channel", "present"), *conds]}))
    (w,) = found(rs, "never-matches")
    assert (w.rule, w.path) == ("x", "conditions")
    assert "conditions.all[1] and conditions.all[2]" in w.message


def test_never_matches_names_paths_and_values() -> None:
    conds = [leaf("priority", "is", "high"), leaf("channel", "is", "email")]
    rs = rules(rule("x", conditions={"all": [*conds, leaf("priority", "is", "low")]}))
    (w,) = lint(rs)
    assert w.message == (
        "conditions can never hold: conditions.all[0] and conditions.all[2]: "
        "priority is 'high' and priority is 'low' cannot both hold"
    )
    assert str(w) == f"rule 'x': conditions: {w.message} [never-matches]"
    assert w.to_dict() == {
        "rule": "x",
        "path": "conditions",
        "message": w.message,
        "code": "never-matches",
    }


def test_never_matches_through_negation_and_every_alternative() -> None:
    nested = {"all": [leaf("priority", "is", "high"), {"none": [leaf("priority", "is", "high")]}]}
    (w,) = found(rules(rule("x", conditions=nested)), "never-matches")
    assert "priority is 'high' and priority is_not 'high'" in w.message
    both = {
        "all": [
            leaf("priority", "is", "high"),
            {"any": [leaf("priority", "is", "low"), leaf("priority", "is", "urgent")]},
        ]
    }
    (w,) = found(rules(rule("y", conditions=both)), "never-matches")
    assert w.message.startswith("no alternative can ever hold")
    three = [leaf("channel", "in", ["email", "web"]), leaf("channel", "is_not", "email")]
    three.append(leaf("channel", "is_not", "web"))
    (w,) = found(rules(rule("z", conditions={"all": three})), "never-matches")
    assert "no value satisfies" in w.message


CLOSE_BUT_VALID = [
    {"any": [leaf("priority", "is", "high"), leaf("priority", "is", "low")]},
    {"all": [leaf("priority", "is", "high"), leaf("priority", "in", ["high", "low"])]},
    {"all": [leaf("priority", "is", "high"), leaf("priority", "is_not", "low")]},
    {"all": [leaf("channel", "in", ["email", "web"]), leaf("channel", "not_in", ["email"])]},
    {"all": [leaf("priority", "is", "high"), leaf("channel", "is", "email")]},
    {"all": [leaf("age_hours", "greater_or_equal", 5), leaf("age_hours", "less_or_equal", 5)]},
    {"all": [leaf("age_hours", "greater_than", 3), leaf("age_hours", "less_than", 5)]},
    {"all": [leaf("message_count", "greater_than", 3), leaf("message_count", "less_than", 4)]},
    {"all": [leaf("message_count", "is", 5), leaf("message_count", "greater_than", 4)]},
    {"all": [leaf("tags", "has_any", ["vip", "bug"]), leaf("tags", "has_none", ["vip"])]},
    {"all": [leaf("tags", "has_all", ["vip"]), leaf("tags", "has_none", ["bug"])]},
    {"all": [leaf("subject", "is", "Refund"), leaf("subject", "is", "REFUND")]},
    {"all": [leaf("subject", "blank"), leaf("subject", "contains", "")]},
    {"all": [leaf("team", "blank"), leaf("team", "changed")]},
    {"none": [leaf("priority", "is", "high"), leaf("priority", "is", "low")]},
    {"all": [leaf("priority", "is", "high"), leaf("priority", "changed_to", "low")]},
]


@pytest.mark.parametrize("conds", CLOSE_BUT_VALID)
def test_never_matches_is_silent_on_satisfiable_conditions(conds: dict[str, Any]) -> None:
    assert lint(rules(rule("x", conditions=conds))) == []


def test_never_matches_skips_trees_past_the_term_limit_and_disabled_rules() -> None:
    wide = [{"any": [leaf("channel", "is", "email"), leaf("channel", "is", "web")]}] * 9
    conds = {"all": [leaf("priority", "is", "high"), leaf("priority", "is", "low"), *wide]}
    assert found(rules(rule("x", conditions=conds)), "never-matches") == []
    small = {"all": [leaf("priority", "is", "high"), leaf("priority", "is", "low")]}
    assert lint(rules(rule("x", conditions=small, enabled=False))) == []


# --- always-overwritten ----------------------------------------------------------------------


def test_overwritten_by_a_later_rule_with_a_wider_trigger() -> None:
    solved = {"type": "status_changed", "to": "solved"}
    rs = rules(
        rule("a", triggers=[solved], actions=team("Tier 1")),
        rule("b", triggers=["status_changed"], actions=team("Tier 2")),
    )
    (w,) = lint(rs)
    assert (w.rule, w.path, w.code) == ("a", "actions[0]", "always-overwritten")
    assert "rule 'b'" in w.message
    assert "'Tier 1'" in w.message
    assert "'Tier 2'" in w.message


def test_overwritten_when_later_conditions_are_implied() -> None:
    cond_a = {"all": [leaf("organization.tier", "is", "enterprise"), leaf("channel", "is", "web")]}
    rs = rules(
        rule("a", conditions=cond_a, actions=[{"type": "set_priority", "value": "urgent"}]),
        rule(
            "b",
            triggers=["created", "customer_replied"],
            conditions=leaf("channel", "is", "web"),
            actions=[{"type": "escalate", "priority": "high", "reason": "web"}],
        ),
    )
    (w,) = found(rs, "always-overwritten")
    assert w.rule == "a"
    assert "priority set to 'urgent'" in w.message


def test_overwrite_check_is_silent_on_close_variants() -> None:
    solved = {"type": "status_changed", "to": "solved"}
    web, email = leaf("channel", "is", "web"), leaf("channel", "is", "email")
    silent = [
        # the later rule has the narrower trigger: the earlier write survives other changes
        [
            rule("a", triggers=["status_changed"], actions=team("Tier 1")),
            rule("b", triggers=[solved], actions=team("Tier 2")),
        ],
        # disjoint conditions
        [
            rule("a", conditions=web, actions=team("Tier 1")),
            rule("b", conditions=email, actions=team("Tier 2")),
        ],
        # the later rule's condition is not implied
        [rule("a", actions=team("Tier 1")), rule("b", conditions=web, actions=team("Tier 2"))],
        # same value, incremental writes, escalate "raise"
        [rule("a", actions=team("Tier 1")), rule("b", actions=team("Tier 1"))],
        [
            rule("a", actions=[{"type": "add_tags", "tags": ["x"]}]),
            rule("b", actions=[{"type": "set_tags", "tags": ["y"]}]),
        ],
        [
            rule("a", actions=[{"type": "set_priority", "value": "low"}]),
            rule("b", actions=[{"type": "escalate", "priority": "raise", "reason": "r"}]),
        ],
        # the later rule reads the field the earlier one writes
        [
            rule("a", actions=team("Tier 1")),
            rule("b", conditions=leaf("team", "blank"), actions=team("Tier 2")),
        ],
        # a stop in between ends the cascade
        [rule("a", actions=[*team("Tier 1"), {"type": "stop"}]), rule("b", actions=team("Tier 2"))],
        # updated does not cover field triggers (rule changes count on created events too)
        [
            rule("a", triggers=["status_changed"], actions=team("Tier 1")),
            rule("b", triggers=["updated"], actions=team("Tier 2")),
        ],
    ]
    for rs in silent:
        assert found(rules(*rs), "always-overwritten") == [], rs


# --- unreachable-after-stop, duplicate-rule, placeholder-not-rendered --------------------------


def test_unreachable_after_stop() -> None:
    rs = rules(
        rule("gate", triggers=["created", "updated"], actions=[{"type": "stop"}]),
        rule("late", triggers=["customer_replied"], conditions=leaf("channel", "is", "web")),
    )
    (w,) = lint(rs)
    assert (w.rule, w.code) == ("late", "unreachable-after-stop")
    assert "'gate'" in w.message


def test_unreachable_after_stop_is_silent_on_close_variants() -> None:
    stop = [{"type": "stop"}]
    web = leaf("channel", "is", "web")
    silent = [
        [rule("gate", conditions=web, actions=stop), rule("late")],
        [rule("gate", triggers=["updated"], actions=stop), rule("late")],
        [rule("late"), rule("gate", actions=stop)],
        [rule("gate", actions=stop, enabled=False), rule("late")],
        # a rule writes what the gate reads: the gate may stop matching
        [
            rule("set", actions=team("Tier 1")),
            rule("gate", conditions=leaf("team", "blank"), actions=stop),
            rule("late", conditions=leaf("team", "blank")),
        ],
    ]
    for rs in silent:
        assert found(rules(*rs), "unreachable-after-stop") == [], rs


def test_duplicate_rule() -> None:
    web = leaf("channel", "in", ["web", "email"])
    rs = rules(
        rule("a", triggers=["created", "updated"], conditions=web),
        rule("b", triggers=["updated", "created"], conditions=web, description="copy"),
        rule("c", triggers=["created"], conditions=web),
        rule("d", triggers=["created", "updated"], conditions=web, enabled=False),
    )
    (w,) = lint(rs)
    assert (w.rule, w.code) == ("b", "duplicate-rule")
    assert "'a'" in w.message


def test_placeholder_not_rendered_in_webhook_url_and_headers() -> None:
    hook = {
        "type": "webhook",
        "url": "https://hooks.example.com/t/{{ ticket.id }}",
        "headers": {"X-Team": "{{team}}", "X-Fixed": "yes"},
        "body": {"id": "{{ ticket.id }}"},
    }
    ws = found(
        rules(rule("a", actions=[{"type": "add_note", "body": "n"}, hook])),
        "placeholder-not-rendered",
    )
    assert [w.path for w in ws] == ["actions[1].url", "actions[1].headers.X-Team"]
    plain = {"type": "webhook", "url": "https://hooks.example.com/t", "headers": {"A": "b"}}
    assert lint(rules(rule("a", actions=[plain]))) == []


# --- soundness on random rule sets -------------------------------------------------------------

PRIOS = ["low", "normal", "high", "urgent"]
CHANNELS = ["email", "web", "chat"]
TAGS = ["vip", "bug", "billing"]
NUMS = [0, 2.5, 5]
DATES = ["2025-01-01", "2025-06-01", "2025-06-01T12:00:00+00:00"]
ORDER = ["greater_than", "greater_or_equal", "less_than", "less_or_equal", "is"]


LIST_OPS = {"in", "not_in", "has_any", "has_all", "has_none"}


def on(field: str, ops: list[str], values: Any) -> st.SearchStrategy[dict[str, Any]]:
    """Leaves on one field: the given operators, presence, and their negations via ``none``."""
    valued = st.builds(
        lambda o, vs: leaf(field, o, vs if o in LIST_OPS else vs[0]),
        st.sampled_from(ops),
        st.lists(values, min_size=1, max_size=2),
    )
    bare = st.builds(lambda o: leaf(field, o), st.sampled_from(["present", "blank", "changed"]))
    one = st.one_of(valued, valued, bare)
    return st.one_of(one, one, one.map(lambda c: {"none": [c]}))


PER_FIELD = [
    on("priority", ["is", "is_not", "in", "not_in", "changed_to"], st.sampled_from(PRIOS)),
    on("channel", ["in", "not_in", "is"], st.sampled_from(CHANNELS)),
    on("age_hours", ORDER, st.sampled_from(NUMS)),
    on("message_count", [*ORDER, "in", "not_in"], st.integers(0, 3)),
    on("custom.renewal", ORDER, st.sampled_from(DATES)),
    on("tags", ["has_any", "has_all", "has_none"], st.sampled_from(TAGS)),
]
leaves = st.one_of(*PER_FIELD)
conds = st.recursive(
    leaves,
    lambda kids: st.builds(
        lambda k, c: {k: c},
        st.sampled_from(["all", "any", "none"]),
        st.lists(kids, min_size=1, max_size=4),
    ),
    max_leaves=10,
)
# Conjunctions on one field are flagged far more often than random trees.
flat = st.sampled_from(PER_FIELD).flatmap(
    lambda s: st.lists(s, min_size=2, max_size=4).map(lambda c: {"all": c})
)
# Every value a literal of the generated rules can tell apart: each constant, values between and
# around them, None and every tag set. Within these the truth of each literal is decided, so
# checking all combinations (or many of them) is close to an exhaustive check.
DOMAIN: dict[str, list[Any]] = {
    "priority": [*PRIOS, None],
    "channel": [*CHANNELS, "api", None],
    "age_hours": [*NUMS, -1, 1, 3, 6, None],
    "message_count": [*range(-1, 5), None],
    "custom.renewal": [*DATES, "2024-12-31", "2025-03-01", "2025-06-01T06:00", "2025-07-01", None],
    "tags": [frozenset(c) for n in range(len(TAGS) + 1) for c in combinations(TAGS, n)],
}


def worlds(fields: set[str], rnd: Any, limit: int = 2000) -> list[tuple[dict[str, Any], Any]]:
    """(snapshot, changes) pairs: each field takes each domain value, changed or not."""
    names = sorted(fields)
    options = [[(v, c) for v in DOMAIN[f] for c in (False, True)] for f in names]
    combos = list(product(*options))
    if len(combos) > limit:
        combos = rnd.sample(combos, limit)
    out = []
    for combo in combos:
        snap = snapshot(**{f: v for f, (v, _) in zip(names, combo, strict=True)})
        chg = {f: (None, v) for f, (v, c) in zip(names, combo, strict=True) if c}
        out.append((snap, chg))
    return out


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(flat, flat, conds), min_size=1, max_size=3), st.randoms())
def test_never_matches_is_sound(conditions: list[Any], rnd: Any) -> None:
    rs = rules(*(rule(f"r{i}", conditions=c) for i, c in enumerate(conditions)))
    for w in found(rs, "never-matches"):
        r = rs.by_name[w.rule]
        assert r.conditions is not None
        for k, (snap, chg) in enumerate(worlds(r.conditions.fields(), rnd)):
            assert not r.holds(snap, chg), (w, snap, chg)
            if k % 50 == 0:
                assert w.rule not in rs.match(snap, Event("created", chg))


FIELD_LEAVES: dict[str, tuple[list[str], list[Any]]] = {
    "priority": (["is", "is_not", "in", "not_in", "changed_to"], PRIOS[:3]),
    "channel": (["in", "not_in", "is"], CHANNELS),
    "age_hours": (ORDER, NUMS),
    "message_count": ([*ORDER, "in", "not_in"], [0, 3]),
    "custom.renewal": (ORDER, DATES),
    "tags": (["has_any", "has_all", "has_none"], TAGS[:2]),
}


def every_leaf(field: str) -> list[dict[str, Any]]:
    ops, values = FIELD_LEAVES[field]
    singles = [[v] for v in values] + [values[:2]]
    out = [leaf(field, o) for o in ("present", "blank", "changed")]
    for o in ops:
        out += [leaf(field, o, vs if o in LIST_OPS else vs[0]) for vs in singles[: len(values)]]
        if o in LIST_OPS:
            out.append(leaf(field, o, singles[-1]))
    return out + [{"none": [c]} for c in out]


@pytest.mark.parametrize("field", sorted(FIELD_LEAVES))
def test_never_matches_is_sound_on_every_pair_of_literals(field: str) -> None:
    pairs = [{"all": [a, b]} for a, b in product(every_leaf(field), repeat=2)]
    rs = rules(*(rule(f"r{i}", conditions=c) for i, c in enumerate(pairs)))
    flagged = [rs.by_name[w.rule] for w in found(rs, "never-matches")]
    assert flagged
    for r in flagged:
        for snap, chg in worlds({field}, None):
            assert not r.holds(snap, chg), (r.definition, snap, chg)


TRIGGERS = [
    "created",
    "updated",
    "status_changed",
    "customer_replied",
    "message_added",
    {"type": "status_changed", "to": "solved"},
    {"type": "field_changed", "field": "status"},
]
ACTIONS = [
    *({"type": "assign_team", "team": t} for t in ("Tier 1", "Tier 2")),
    *({"type": "set_priority", "value": p} for p in ("low", "urgent")),
    {"type": "set_status", "value": "open"},
    {"type": "stop"},
]
small_conds = st.one_of(
    st.none(),
    st.sampled_from(
        [
            leaf("channel", "is", "web"),
            leaf("channel", "in", ["web", "email"]),
            leaf("priority", "is", "high"),
            leaf("team", "blank"),
            leaf("status", "changed"),
        ]
    ),
)
rule_sets = st.lists(
    st.builds(
        lambda t, c, a: {"triggers": t, "conditions": c, "actions": a},
        st.lists(st.sampled_from(TRIGGERS), min_size=1, max_size=2, unique_by=str),
        small_conds,
        st.lists(st.sampled_from(ACTIONS), min_size=1, max_size=2, unique_by=str),
    ),
    min_size=2,
    max_size=4,
)
events = st.builds(
    lambda kind, status, msgs: Event(kind, {"status": ("new", status)} if status else {}, msgs),
    st.sampled_from(["created", "updated"]),
    st.sampled_from([None, "open", "solved"]),
    st.lists(
        st.builds(MessageInfo, st.sampled_from(["customer", "agent"]), st.booleans()), max_size=2
    ).map(tuple),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule_sets, st.data())
def test_cascade_warnings_are_sound(defs: list[dict[str, Any]], data: st.DataObject) -> None:
    rs = rules(*(rule(f"r{i}", **d) for i, d in enumerate(defs)))
    ws = [w for w in lint(rs) if w.code in ("always-overwritten", "unreachable-after-stop")]
    if not ws:
        return
    for _ in range(20):
        snap = snapshot(
            channel=data.draw(st.sampled_from(CHANNELS)),
            priority=data.draw(st.sampled_from(PRIOS)),
            team=data.draw(st.sampled_from([None, "Tier 1"])),
            status="new",
        )
        fired = run_cascade(rs, snap, data.draw(events), now=None).fired_names
        for w in ws:
            if w.code == "unreachable-after-stop":
                assert w.rule not in fired
            elif w.rule in fired:
                later = w.message.split("by rule ")[1].split("'")[1]
                assert later in fired
                assert fired.index(later) > fired.index(w.rule)
