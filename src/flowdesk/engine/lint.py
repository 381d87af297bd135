"""Static checks over a compiled rule set: warnings an admin should see, never errors.

A rule that can never match, a write that another rule always undoes or a rule behind an
unconditional ``stop`` all compile fine, yet they are almost always mistakes. ``lint`` reports them
without blocking an import. Every claim must be certainly true: a false alarm teaches admins to
ignore the warnings, so whenever the analysis is unsure (an exploding condition tree, an operator
it does not understand, a field another rule may write) it stays silent.

The condition analysis works on DNF terms built here from the ``CondLeaf``/``CondGroup`` trees,
independently of the matcher's index. The checks assume well-typed snapshots: a literal that raises
makes a rule not match, which only removes matches, but an error in a sibling branch can hide a
match the analysis relies on (see "Static checks" in docs/automation.md).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field as dc_field
from itertools import combinations
from typing import Any

from .actions import Action
from .compile import CompiledRuleSet
from .conditions import Operator, is_blank
from .dnf import expand
from .tree import CompiledRule, CondLeaf, CondNode
from .triggers import TagsChanged, Trigger, _ChangeTrigger, _MessageTrigger

#: DNF terms per rule beyond which the condition checks skip the rule (the tree is kept as is)
MAX_TERMS = 256
#: operators folded onto their exact complement: a literal is (base operator, negated)
BASE_OF = {
    "is_not": "is",
    "not_in": "in",
    "blank": "present",
    "has_none": "has_any",
    "not_contains": "contains",
}
COMPLEMENT_OF = {base: neg for neg, base in BASE_OF.items()}
LOWER_OPS = {"greater_than": True, "greater_or_equal": False}  # value: bound is strict
UPPER_OPS = {"less_than": True, "less_or_equal": False}
ANY_TEMPLATE = re.compile(r"\{\{.*?\}\}")
_UNKNOWN = object()  # a write whose value depends on the state (add_tags, escalate raise, ...)


@dataclass(frozen=True)
class LintWarning:
    """One finding, located like an ``Issue`` (rule name, path inside the rule)."""

    rule: str
    path: str
    message: str
    code: str

    def __str__(self) -> str:
        where = f"rule {self.rule!r}" + (f": {self.path}" if self.path else "")
        return f"{where}: {self.message} [{self.code}]"

    def to_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "path": self.path, "message": self.message, "code": self.code}


@dataclass(frozen=True)
class Lit:
    """A DNF literal. Equality is semantic identity: same field, base operator, canonical value
    and polarity mean the same test, whatever the spelling ('High' vs 'high' on text)."""

    field: str
    op: str
    value: Any
    neg: bool
    path: str = dc_field(compare=False)
    leaf: Operator[Any] = dc_field(compare=False, repr=False)

    def describe(self) -> str:
        name = COMPLEMENT_OF.get(self.op, self.op) if self.neg else self.op
        text = f"{self.field} {name}"
        if hasattr(self.leaf.config, "value"):
            text += f" {self.leaf.value!r}"
        if self.neg and self.op not in COMPLEMENT_OF:
            text = f"not ({text})"
        return text

    def keys(self) -> frozenset[Any] | None:
        """Values an equality literal accepts (``is``: one, ``in``: the list), None if unusable."""
        if self.op not in ("is", "in"):
            return None
        if isinstance(self.value, Unhashable):
            return None
        keys = frozenset([self.value]) if self.op == "is" else self.value
        if not isinstance(keys, frozenset) or any(k != k for k in keys):  # NaN equals nothing
            return None
        return keys


Term = frozenset[Lit]


@dataclass(frozen=True)
class Unhashable:
    """Stands for a list / mapping value (``is`` on an ``any`` field) in a literal's identity."""

    text: str


def _hashable(value: Any) -> Any:
    try:
        hash(value)
    except TypeError:
        return Unhashable(json.dumps(value, sort_keys=True, default=str))
    return value


def _canonical(op: Operator[Any]) -> Any:
    """The part of an operator's config its test depends on, as prepared at compile time."""
    name = op.name
    if name in ("is", "is_not"):
        date = getattr(op, "date", None)
        return _hashable(date if date is not None else getattr(op, "key", op.value))
    if name in ("in", "not_in"):
        return getattr(op, "keys", _hashable(op.value))
    if name in ("has_any", "has_all", "has_none"):
        return getattr(op, "tags", _hashable(op.value))
    if name in ("contains", "not_contains", "starts_with"):
        return getattr(op, "needle", op.value)
    if name in LOWER_OPS or name in UPPER_OPS:
        return _hashable(getattr(op, "bound", op.value))
    if name in ("changed_from", "changed_to"):
        return _hashable(getattr(op, "key", op.value))
    return _hashable(op.value) if hasattr(op.config, "value") else None


def literal(leaf: CondLeaf, neg: bool) -> Lit:
    op = leaf.op
    base = BASE_OF.get(op.name, op.name)
    return Lit(leaf.field, base, _canonical(op), neg != (base != op.name), leaf.path, op)


def dnf(node: CondNode, neg: bool = False) -> list[Term] | None:
    """Terms whose disjunction equals ``node`` (negated if ``neg``); None past ``MAX_TERMS``."""
    return expand(node, neg, literal, None, MAX_TERMS)


def rule_terms(rule: CompiledRule) -> list[Term] | None:
    return [frozenset()] if rule.conditions is None else dnf(rule.conditions)


# --- never-matches: literals on one field that cannot hold together ---------------------------

Conflict = tuple[tuple[Lit, ...], str]


def _both(a: Lit, b: Lit) -> Conflict:
    return (a, b), f"{a.describe()} and {b.describe()} cannot both hold"


def _outside(key: Any, lit: Lit) -> bool:
    """True only if ``key`` certainly fails the range literal (False when incomparable)."""
    try:
        if lit.op in LOWER_OPS:
            return bool(key <= lit.value if LOWER_OPS[lit.op] else key < lit.value)
        return bool(key >= lit.value if UPPER_OPS[lit.op] else key > lit.value)
    except TypeError:
        return False


def _tightest(lits: list[Lit], lower: bool) -> Lit | None:
    """The strongest lower (or upper) bound; ties go to the strict one."""
    best: Lit | None = None
    strict = LOWER_OPS if lower else UPPER_OPS
    for lit in lits:
        if best is None:
            best = lit
            continue
        try:
            tighter = lit.value > best.value if lower else lit.value < best.value
            tie = lit.value == best.value and strict[lit.op] and not strict[best.op]
        except TypeError:
            return None
        if tighter or tie:
            best = lit
    return best


def _keyed(lits: list[Lit]) -> list[tuple[Lit, frozenset[Any]]] | None:
    out = [(lit, lit.keys()) for lit in lits]
    return None if any(k is None for _, k in out) else out  # type: ignore[return-value]


def _equality(pos: list[Lit], neg: list[Lit], ranges: list[Lit]) -> Conflict | None:
    """``is`` / ``in`` literals narrow the field to a finite set of values; ``is_not`` /
    ``not_in`` and ranges remove values from it. Equality of these scalars is an equivalence
    (NaN excluded), so an empty set means no value passes them all."""
    keyed, neg_keys = _keyed(pos), _keyed(neg)
    if keyed is None or neg_keys is None:
        return None
    for (a, ka), (b, kb) in combinations(keyed, 2):
        if not ka & kb:
            return _both(a, b)
    for a, ka in keyed:
        for b, kb in neg_keys:
            if ka <= kb:
                return _both(a, b)
        for r in ranges:
            if all(_outside(k, r) for k in ka):
                return _both(a, r)
    allowed = keyed[0][1]
    for _, k in keyed[1:]:
        allowed &= k
    used = [lit for lit, _ in keyed]
    for b, kb in neg_keys:
        if allowed & kb:
            allowed -= kb
            used.append(b)
    for r in ranges:
        kept = frozenset(k for k in allowed if not _outside(k, r))
        if kept != allowed:
            allowed = kept
            used.append(r)
    if allowed:
        return None
    names = ", ".join(lit.describe() for lit in used[:-1]) + " and " + used[-1].describe()
    return tuple(used), f"no value satisfies {names} at once"


def _ranges(ranges: list[Lit]) -> Conflict | None:
    lo = _tightest([r for r in ranges if r.op in LOWER_OPS], True)
    hi = _tightest([r for r in ranges if r.op in UPPER_OPS], False)
    if lo is None or hi is None:
        return None
    try:
        empty = lo.value > hi.value or (
            lo.value == hi.value and (LOWER_OPS[lo.op] or UPPER_OPS[hi.op])
        )
    except TypeError:
        return None
    return _both(lo, hi) if empty else None


def _tags(pos: list[Lit], neg: list[Lit]) -> Conflict | None:
    none_of = [lit for lit in neg if lit.op == "has_any"]
    all_of = [lit for lit in pos if lit.op == "has_all"]
    for a in pos:
        for b in none_of:
            if (a.op == "has_all" and a.value & b.value) or (
                a.op == "has_any" and a.value <= b.value
            ):
                return _both(a, b)
        if a.op == "has_any" and len(none_of) > 1:
            banned = frozenset().union(*(b.value for b in none_of))
            if a.value <= banned:
                names = " and ".join(b.describe() for b in none_of)
                return (a, *none_of), f"{a.describe()} cannot hold together with {names}"
    for a in all_of:
        for b in neg:
            if b.op == "has_all" and b.value <= a.value:
                return _both(a, b)
    return None


def _changes(lits: list[Lit]) -> Conflict | None:
    for side in ("changed_from", "changed_to"):
        for a, b in combinations([lit for lit in lits if lit.op == side and not lit.neg], 2):
            if a.value != b.value:
                return _both(a, b)
    for a in lits:
        if a.op == "changed" and a.neg:
            for b in lits:
                if b.op in ("changed_from", "changed_to") and not b.neg:
                    return _both(b, a)
    return None


def _needs_value(lit: Lit) -> bool:
    """Literals that a blank value (None, '', empty set) certainly falsifies (or makes raise)."""
    if lit.neg:
        return False
    if lit.op in LOWER_OPS or lit.op in UPPER_OPS or lit.op in ("has_any", "has_all"):
        return True
    keys = lit.keys()
    return keys is not None and not any(is_blank(k) for k in keys)


def field_conflict(lits: list[Lit]) -> Conflict | None:
    """Why the literals (all on one field) cannot hold together, or None if they may."""
    seen: dict[tuple[str, Any, bool], Lit] = {}
    for lit in lits:
        other = seen.get((lit.op, lit.value, not lit.neg))
        if other is not None:
            return _both(other, lit)
        seen[(lit.op, lit.value, lit.neg)] = lit
    blank = [lit for lit in lits if lit.op == "present" and lit.neg]
    for b in blank:
        for lit in lits:
            if _needs_value(lit):
                return _both(lit, b)
    pos = [lit for lit in lits if not lit.neg]
    ranges = [lit for lit in pos if lit.op in LOWER_OPS or lit.op in UPPER_OPS]
    found = _ranges(ranges)
    eq_pos = [lit for lit in pos if lit.op in ("is", "in")]
    if found is None and eq_pos:
        eq_neg = [lit for lit in lits if lit.neg and lit.op in ("is", "in")]
        found = _equality(eq_pos, eq_neg, ranges)
    if found is None:
        found = _tags(pos, [lit for lit in lits if lit.neg])
    return found if found is not None else _changes(lits)


def term_conflict(term: Term) -> Conflict | None:
    by_field: dict[str, list[Lit]] = {}
    for lit in sorted(term, key=lambda t: t.path):
        by_field.setdefault(lit.field, []).append(lit)
    for lits in by_field.values():
        found = field_conflict(lits)
        if found is not None:
            return found
    return None


def _never_matches(rule: CompiledRule, terms: list[Term] | None) -> LintWarning | None:
    if rule.conditions is None or not terms:
        return None
    reasons: list[str] = []
    for term in terms:
        found = term_conflict(term)
        if found is None:
            return None
        lits, text = found
        paths = sorted(dict.fromkeys(lit.path for lit in lits))
        where = ", ".join(paths[:-1]) + " and " + paths[-1] if len(paths) > 1 else paths[0]
        reason = f"{where}: {text}"
        if reason not in reasons:
            reasons.append(reason)
    head = "conditions can never hold" if len(terms) == 1 else "no alternative can ever hold"
    return LintWarning(rule.name, "conditions", f"{head}: " + "; ".join(reasons), "never-matches")


# --- rule implication: triggers and conditions --------------------------------------------------


def _change_spec(t: Trigger[Any]) -> tuple[str, tuple[bool, Any], tuple[bool, Any]] | None:
    """(field, (has from, from), (has to, to)) of a field-change trigger; a bare tags_changed is
    exactly "tags is in the change set", like field_changed on tags."""
    if isinstance(t, _ChangeTrigger):
        return t.field, (t.has_from, t.from_key), (t.has_to, t.to_key)
    if isinstance(t, TagsChanged) and t.added is None and t.removed is None:
        return "tags", (False, None), (False, None)
    return None


def covers(b: Trigger[Any], a: Trigger[Any]) -> bool:
    """``b`` certainly matches every context ``a`` matches."""
    if type(a) is type(b) and a.normalised() == b.normalised():
        return True
    sb = _change_spec(b)
    if sb is not None:
        if isinstance(a, TagsChanged):  # any tags_changed requires tags in the change set
            return sb == ("tags", (False, None), (False, None))
        sa = _change_spec(a)
        if sa is None or sa[0] != sb[0]:
            return False
        return all(
            not hb or (ha and va == vb) for (hb, vb), (ha, va) in zip(sb[1:], sa[1:], strict=True)
        )
    if isinstance(b, TagsChanged) and isinstance(a, TagsChanged):
        return b.added in (None, a.added) and b.removed in (None, a.removed)
    if isinstance(b, _MessageTrigger) and isinstance(a, _MessageTrigger):
        return set(a.keys()) <= set(b.keys())
    return False


def triggers_cover(b: CompiledRule, a: CompiledRule) -> bool:
    """Every event that fires one of ``a``'s triggers fires one of ``b``'s. ``created`` plus
    ``updated`` accept every event but timer events (docs/engine-contract.md), so they cover
    every trigger except time triggers, which only an identical time trigger covers."""
    both = {"created", "updated"} <= {t.name for t in b.triggers}
    return all(
        (both and not ta.time_based) or any(covers(tb, ta) for tb in b.triggers)
        for ta in a.triggers
    )


def implies(a: list[Term] | None, b: list[Term] | None) -> bool:
    """Every term of ``a`` that can hold contains all literals of some term of ``b``."""
    if b is None or a is None:
        return b == [frozenset()]
    return all(term_conflict(ta) is not None or any(tb <= ta for tb in b) for ta in a)


def _has_stop(rule: CompiledRule) -> bool:
    return any(a.name == "stop" for a in rule.actions)


# --- always-overwritten: the final non-incremental writes of a rule -----------------------------


def _action_writes(action: Action[Any]) -> list[tuple[str, Any]]:
    cfg = action.config
    name = action.name
    if name in ("set_status", "set_priority", "set_type"):
        return [(action.writes()[0], getattr(cfg, "value", _UNKNOWN))]
    if name == "set_field":
        return [(getattr(cfg, "field", ""), getattr(cfg, "value", _UNKNOWN))]
    if name == "set_tags":
        return [("tags", action.normalised()["tags"])]
    if name == "assign_agent":
        return [("assignee", getattr(cfg, "agent", _UNKNOWN))]
    if name == "assign_team":
        return [("team", getattr(cfg, "team", _UNKNOWN))]
    if name == "unassign":
        return [("assignee", None)]
    if name == "escalate":
        out: list[tuple[str, Any]] = []
        team, prio = getattr(cfg, "team", None), getattr(cfg, "priority", None)
        if team is not None:
            out.append(("team", team))
        if prio is not None:
            out.append(("priority", _UNKNOWN if prio == "raise" else prio))
        return out
    return [(f, _UNKNOWN) for f in action.writes()]  # incremental or unknown to the linter


def final_writes(rule: CompiledRule) -> dict[str, tuple[Any, int]]:
    """field -> (value the rule leaves it at, index of the deciding action); fields whose final
    value depends on the state (``add_tags`` after ``set_tags``, escalate "raise") are left out."""
    out: dict[str, tuple[Any, int]] = {}
    for i, action in enumerate(rule.actions):
        for f, value in _action_writes(action):
            out[f] = (value, i)
    return {f: vi for f, vi in out.items() if vi[0] is not _UNKNOWN}


def _rule_writes(rule: CompiledRule) -> set[str]:
    return {f for action in rule.actions for f in action.writes()}


class _Facts:
    """Per rule set: the DNF of each enabled rule and which fields each rule writes."""

    def __init__(self, ruleset: CompiledRuleSet) -> None:
        self.rules = [r for r in ruleset.rules if r.enabled]
        self.terms = {r.index: rule_terms(r) for r in self.rules}
        self.writes = {r.index: _rule_writes(r) for r in self.rules}
        self.never: set[int] = set()

    def untouched(self, rule: CompiledRule, writers: Iterable[CompiledRule]) -> bool:
        """No rule among ``writers`` (other than ``rule``) writes a field ``rule`` reads, so
        its trigger and conditions have the same answer at every point of the cascade."""
        return not any(w.index != rule.index and rule.reads & self.writes[w.index] for w in writers)

    def contains(self, general: CompiledRule, special: CompiledRule) -> bool:
        """``general`` matches in every state and context where ``special`` matches."""
        return triggers_cover(general, special) and implies(
            self.terms[special.index], self.terms[general.index]
        )

    def stop_between(self, first: CompiledRule, last: CompiledRule) -> bool:
        return any(_has_stop(r) for r in self.rules if first.index <= r.index < last.index)


def _overwritten(facts: _Facts) -> list[LintWarning]:
    """The earlier rule E of a pair loses its write every time it fires to a later rule L.

    E is untouched by every other rule, so it fires in the first pass or never; L is untouched by
    the rules before it and matches whenever E matches, so in that pass it fires after E and its
    value wins. No ``stop`` from E up to L may end the cascade between them. The reverse order (a
    general rule, then a specific one overriding it) is the usual default-then-exception pattern:
    the earlier write survives whenever the later rule does not fire, so it is not reported.
    """
    out: list[LintWarning] = []
    rules = [r for r in facts.rules if r.index not in facts.never]
    for e, later in combinations(rules, 2):
        shared = {
            f: (ev, lv)
            for f, ev in final_writes(e).items()
            if (lv := final_writes(later).get(f)) is not None and lv[0] != ev[0]
        }
        if not shared or facts.stop_between(e, later) or not facts.untouched(e, facts.rules):
            continue
        before = [r for r in facts.rules if r.index < later.index]
        if not (facts.untouched(later, before) and facts.contains(later, e)):
            continue
        for f, ((ev, ei), (lv, li)) in sorted(shared.items()):
            msg = (
                f"{f} set to {ev!r} is always overwritten by rule {later.name!r} (its "
                f"actions[{li}] sets {lv!r}), which runs later and matches whenever this rule does"
            )
            out.append(LintWarning(e.name, f"actions[{ei}]", msg, "always-overwritten"))
    return out


def _after_stop(facts: _Facts) -> list[LintWarning]:
    """An untouched earlier rule S with ``stop`` that matches whenever R matches fires in the
    first pass, before R is considered, and ends the cascade: R can never fire."""
    out: list[LintWarning] = []
    for r in facts.rules:
        if r.index in facts.never:
            continue
        for s in facts.rules:
            if s.index >= r.index:
                break
            if _has_stop(s) and facts.untouched(s, facts.rules) and facts.contains(s, r):
                msg = (
                    f"can never fire: earlier rule {s.name!r} matches whenever this rule "
                    "matches and runs stop"
                )
                out.append(LintWarning(r.name, "", msg, "unreachable-after-stop"))
                break
    return out


def _signature(rule: CompiledRule) -> str:
    d = rule.definition
    triggers = sorted(json.dumps(t, sort_keys=True, default=str) for t in d["triggers"])
    rest = [d.get("conditions"), d["actions"]]
    return json.dumps([triggers, rest], sort_keys=True, default=str)


def _duplicates(facts: _Facts) -> list[LintWarning]:
    out: list[LintWarning] = []
    first: dict[str, CompiledRule] = {}
    for r in facts.rules:
        other = first.setdefault(_signature(r), r)
        if other is not r:
            msg = f"same triggers, conditions and actions as rule {other.name!r}"
            out.append(LintWarning(r.name, "", msg, "duplicate-rule"))
    return out


def _placeholders(facts: _Facts) -> list[LintWarning]:
    out: list[LintWarning] = []
    for r in facts.rules:
        for i, action in enumerate(r.actions):
            if action.name != "webhook":
                continue
            cfg = action.config
            # an endpoint's own URL is registered text, never a template: only a rule's url
            url = getattr(cfg, "url", None)
            spots = [(f"actions[{i}].url", url)] if url is not None else []
            headers = getattr(cfg, "headers", {}) or {}
            spots += [(f"actions[{i}].headers.{k}", v) for k, v in headers.items()]
            for path, text in spots:
                found = ANY_TEMPLATE.findall(str(text))
                if found:
                    msg = (
                        f"placeholder {found[0]} is sent literally: webhook urls and headers "
                        "are not rendered"
                    )
                    out.append(LintWarning(r.name, path, msg, "placeholder-not-rendered"))
    return out


def lint(ruleset: CompiledRuleSet) -> list[LintWarning]:
    """All warnings for ``ruleset``, by rule order then check; disabled rules are skipped."""
    facts = _Facts(ruleset)
    out: list[LintWarning] = []
    for r in facts.rules:
        w = _never_matches(r, facts.terms[r.index])
        if w is not None:
            facts.never.add(r.index)
            out.append(w)
    out += _overwritten(facts) + _after_stop(facts) + _duplicates(facts) + _placeholders(facts)
    order = {r.name: r.index for r in ruleset.rules}
    codes = ["never-matches", "unreachable-after-stop", "always-overwritten", "duplicate-rule"]
    codes.append("placeholder-not-rendered")
    return sorted(out, key=lambda w: (order.get(w.rule, math.inf), codes.index(w.code)))
