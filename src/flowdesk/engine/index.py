"""The fast matcher: finds all rules matching an event without evaluating every rule.

Compile time: each enabled rule's condition tree is normalised to DNF terms (conjunctions of
literals; at most ``MAX_TERMS`` per subtree, beyond which the subtree stays one opaque literal).
Every term gets one bit; term ids follow rule order, so "rules after i" is a bit range.

Per event: trigger candidates come from dict lookups (event kind, changed fields, messages);
then each indexed field removes, in O(1)-ish big-int operations, the terms its value falsifies
(hash maps for equality / ``in`` / ``has_any``; sorted thresholds + prefix/suffix ORs + bisect
for numeric ranges); finally "residual" literals (regex, contains, changed, ...) are evaluated
at most once per event and only while a surviving term still needs them.
"""

from __future__ import annotations

import json
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Mapping
from itertools import pairwise
from typing import Any

import ahocorasick
import numpy as np
from gmpy2 import mpz, xmpz

from . import fastpath
from .conditions import (
    CONDITION_OPERATORS,
    EQ_INDEX_KINDS,
    RANGE_INDEX_KINDS,
    Operator,
    is_blank,
)
from .fastpath import NamesFn, TermsFn
from .tree import CompiledRule, CondGroup, CondLeaf, CondNode
from .types import MessageInfo, TriggerContext

MAX_TERMS = 32
_COLLECTIONS = (frozenset, set, list, tuple)


class Lit:
    """One literal of a DNF term: an operator (maybe negated) or an opaque subtree."""

    __slots__ = ("field", "id", "negated", "node", "op", "test")

    def __init__(self, id_: int, op: Operator | None, negated: bool, node: CondNode | None) -> None:
        self.id = id_
        self.op = op
        self.negated = negated
        self.node = node
        self.field = op.fname if op is not None else None
        base: Callable[[Mapping[str, Any], Mapping[str, tuple[Any, Any]]], bool]
        if op is not None:
            base = op.test
        else:
            assert node is not None
            base = node.evaluate
        self.test: Callable[[Mapping[str, Any], Mapping[str, tuple[Any, Any]]], bool] = base
        if negated:

            def test(s: Mapping[str, Any], c: Mapping[str, tuple[Any, Any]]) -> bool:
                return not base(s, c)

            self.test = test


class LitTable:
    """Deduplicates literals across all rules so each distinct predicate runs once per event."""

    def __init__(self) -> None:
        self.by_key: dict[tuple[Any, ...], Lit] = {}

    def _get(
        self, key: tuple[Any, ...], op: Operator | None, neg: bool, node: CondNode | None
    ) -> Lit:
        lit = self.by_key.get(key)
        if lit is None:
            lit = self.by_key[key] = Lit(len(self.by_key), op, neg, node)
        return lit

    def leaf(self, leaf: CondLeaf, neg: bool) -> Lit:
        op = leaf.op
        if neg and op.complement is not None:
            op = CONDITION_OPERATORS.get(op.complement)(op.field, op.config)
            neg = False
        cfg = json.dumps(op.config.model_dump(mode="json"), sort_keys=True, default=str)
        return self._get((op.fname, op.name, cfg, neg), op, neg, None)

    def opaque(self, node: CondNode, neg: bool) -> Lit:
        return self._get(("#opaque", id(node), neg), None, neg, node)


Term = frozenset[Lit]


def dnf(node: CondNode, neg: bool, lits: LitTable) -> list[Term] | None:
    """Terms whose disjunction equals ``node`` (negated if ``neg``); None when too large."""
    if isinstance(node, CondLeaf):
        return [frozenset([lits.leaf(node, neg)])]
    assert isinstance(node, CondGroup)
    conj = (node.kind == "all") != neg if node.kind != "none" else not neg
    child_neg = neg != (node.kind == "none")
    parts: list[list[Term]] = []
    for child in node.children:
        d = dnf(child, child_neg, lits)
        parts.append(d if d is not None else [frozenset([lits.opaque(child, child_neg)])])
    if conj:
        terms: list[Term] = [frozenset()]
        for d in parts:
            if len(terms) * len(d) > MAX_TERMS:
                return None
            terms = [a | b for a in terms for b in d]
    else:
        terms = [t for d in parts for t in d]
        if len(terms) > MAX_TERMS:
            return None
    return list(dict.fromkeys(terms))


def rule_terms(rule: CompiledRule, lits: LitTable) -> list[Term]:
    if rule.conditions is None:
        return [frozenset()]
    terms = dnf(rule.conditions, False, lits)
    return terms if terms is not None else [frozenset([lits.opaque(rule.conditions, False)])]


def _hashable(values: Iterable[Any]) -> bool:
    try:
        for v in values:
            hash(v)
    except TypeError:
        return False
    return True


def _eq_keys(lit: Lit) -> frozenset[Any] | None:
    """Keys of a positive, indexable equality literal (None = not index it)."""
    op = lit.op
    if op is None or lit.negated or op.index != "eq" or op.field.kind not in EQ_INDEX_KINDS:
        return None
    keys = op.index_keys()
    return keys if _hashable(keys) else None


class FieldIndex:
    """All indexed literals on one field, turned into 'which terms does this value falsify'."""

    def __init__(self, name: str, folds: bool, kind: str = "any") -> None:
        self.name = name
        self.folds = folds
        self.kind = kind
        # failed() is a pure function of the value: enum, count and tag-set values repeat from
        # event to event, so remember the answer (keyed with the type: True == 1 but a bool is
        # not a number here). Free text rarely repeats, so text fields don't memoise.
        self.memo: dict[tuple[type, Any], tuple[int, bool]] | None = None if folds else {}
        self.all = 0
        self.eq_all = 0
        self.eq_map: dict[Any, int] = {}
        self.neq_map: dict[Any, int] = {}
        self.pres_all = 0
        self.blank_all = 0
        self.anyof_all = 0
        # One slot per has_any (or has_all member) position within a term, so a term may hold
        # several of them: slot k answers "does the k-th set intersect the tags".
        self.anyof_slots: list[tuple[int, dict[Any, int]]] = []
        self.noneof_map: dict[Any, int] = {}
        # Text literals (contains / starts_with), slotted like has_any: a term needing two
        # needles uses two slots.
        self.text_all = 0
        self.text_slots: list[tuple[int, dict[tuple[int, str], int]]] = []
        # Built by finish(): slot k of every term lives in bit region k (bits k*n .. k*n+n-1),
        # so one OR per tag / found needle collects every slot at once (see _unmet).
        self.n = 0
        self.full = 0
        self.set_vals: dict[Any, int] = {}
        self.set_slots_all = 0
        self.set_shifts: tuple[int, ...] = ()  # bit offsets of the regions after the first
        self.set_top: int | None = None  # where the has_none region starts, if any
        self.text_auto: Any = None  # ahocorasick.Automaton: needle -> (contains, starts, last)
        self.text_always = 0  # empty needles: true for every text
        self.text_plain = True
        self.text_slots_all = 0
        self.text_shifts: tuple[int, ...] = ()
        self.range_all = 0
        self.range_raw: dict[str, dict[Any, int]] = {}
        self.ranges: list[tuple[str, list[Any], list[int]]] = []
        self.fallback: list[tuple[Lit, int]] = []  # range/tag literals, for values of a wrong type
        self._fallback: dict[int, list[Any]] = {}

    def finish(self, n_terms: int) -> None:
        n = self.n = n_terms
        self.full = mpz((1 << n) - 1)
        for opname, raw in self.range_raw.items():
            cs = sorted(raw)
            masks = [raw[c] for c in cs]
            if opname in ("gt", "ge"):  # suffix ORs: failures are thresholds >= / > value
                acc = [0] * (len(cs) + 1)
                for i in range(len(cs) - 1, -1, -1):
                    acc[i] = acc[i + 1] | masks[i]
            else:  # prefix ORs: failures are thresholds <= / < value
                acc = [0] * (len(cs) + 1)
                for i, m in enumerate(masks):
                    acc[i + 1] = acc[i] | m
            self.ranges.append((opname, cs, acc))
        self.fallback = [(entry[0], entry[1]) for entry in self._fallback.values()]
        vals: dict[Any, int] = {}
        for k, (all_m, amap) in enumerate(self.anyof_slots):
            self.set_slots_all |= all_m << (k * n)
            for key, m in amap.items():
                vals[key] = vals.get(key, 0) | (m << (k * n))
        nslots = len(self.anyof_slots)
        self.set_shifts = tuple(k * n for k in range(1, nslots))
        for key, m in self.noneof_map.items():  # one more region: has_none hits
            vals[key] = vals.get(key, 0) | (m << (nslots * n))
        if self.noneof_map:
            self.set_top = nslots * n
        self.set_vals = {key: mpz(m) for key, m in vals.items()}
        self.set_slots_all = mpz(self.set_slots_all)
        per_needle: dict[str, list[int]] = {}
        for k, (all_m, tmap) in enumerate(self.text_slots):
            self.text_slots_all |= all_m << (k * n)
            for (code, needle), m in tmap.items():
                entry = per_needle.setdefault(needle, [0, 0])
                entry[0 if code == 0 else 1] |= m << (k * n)
        self.text_shifts = tuple(k * n for k in range(1, len(self.text_slots)))
        self.text_slots_all = mpz(self.text_slots_all)
        empty = per_needle.pop("", None)
        if empty is not None:  # contains "" and starts_with "" hold for every text
            self.text_always = mpz(empty[0] | empty[1])
        if per_needle:
            # All needles in one Aho-Corasick automaton: one C pass over the text finds every
            # occurrence (nested and overlapping ones too) instead of one `in` test per needle.
            # Without starts_with needles a needle's value is just its contains mask.
            self.text_plain = not any(sv for _, sv in per_needle.values())
            auto = ahocorasick.Automaton()
            for needle, (cv, sv) in per_needle.items():
                value = mpz(cv) if self.text_plain else (mpz(cv), mpz(sv), len(needle) - 1)
                auto.add_word(needle, value)
            auto.make_automaton()
            self.text_auto = auto

    def add_text(self, slot: int, key: tuple[int, str], bit: int) -> None:
        while len(self.text_slots) <= slot:
            self.text_slots.append((0, {}))
        all_m, amap = self.text_slots[slot]
        amap[key] = amap.get(key, 0) | bit
        self.text_slots[slot] = (all_m | bit, amap)
        self.text_all |= bit

    def add_anyof(self, slot: int, keys: Iterable[Any], bit: int) -> None:
        while len(self.anyof_slots) <= slot:
            self.anyof_slots.append((0, {}))
        all_m, amap = self.anyof_slots[slot]
        for k in keys:
            amap[k] = amap.get(k, 0) | bit
        self.anyof_slots[slot] = (all_m | bit, amap)
        self.anyof_all |= bit

    def pure_range(self) -> bool:
        """Only numeric range (and presence) literals: the answer is constant between thresholds."""
        return bool(self.ranges) and not (
            self.eq_all or self.neq_map or self.anyof_all or self.noneof_map or self.text_all
        )

    def intervals(self) -> tuple[list[Any], list[int], list[int]]:
        """(thresholds, keep-mask exactly at each threshold, keep-mask below/between/above them),
        computed with failed() itself on one representative value per piece, so it is exact."""
        cuts = sorted({c for _, cs, _ in self.ranges for c in cs})
        at = [~self.failed(c)[0] for c in cuts]
        reps = [cuts[0] - 1] + [(a + b) / 2 for a, b in pairwise(cuts)]
        between = [~self.failed(r)[0] for r in [*reps, cuts[-1] + 1]]
        return cuts, at, between

    def add_fallback(self, lit: Lit, bit: int) -> None:
        entry = self._fallback.setdefault(lit.id, [lit, 0])
        entry[1] |= bit

    def failed(self, v: Any) -> tuple[int, bool]:
        """Terms falsified by ``v``, and whether range/tag literals need one-by-one evaluation
        because ``v`` has a type the index cannot handle (then they raise and are recorded)."""
        out = 0
        bad = False
        if self.eq_all or self.neq_map:
            key = v.casefold() if self.folds and type(v) is str else v
            try:
                if self.eq_all:
                    out |= self.eq_all & ~self.eq_map.get(key, 0)
                if self.neq_map:
                    out |= self.neq_map.get(key, 0)
            except TypeError:  # unhashable: equals nothing, so every equality fails
                out |= self.eq_all
        if self.pres_all or self.blank_all:
            out |= self.pres_all if is_blank(v) else self.blank_all
        if self.ranges:
            if v is None:
                out |= self.range_all
            elif type(v) is int or (type(v) is float and v == v):
                for opname, cs, acc in self.ranges:
                    if opname == "gt":
                        out |= acc[bisect_left(cs, v)]
                    elif opname == "ge" or opname == "lt":
                        out |= acc[bisect_right(cs, v)]
                    else:
                        out |= acc[bisect_left(cs, v)]
            else:
                bad = True
        if self.anyof_all or self.noneof_map:
            if v is None:
                out |= self.anyof_all
            elif isinstance(v, _COLLECTIONS):
                try:
                    out |= self.set_unmet(v)
                except TypeError:  # an unhashable member
                    return out, True
            else:
                bad = True
        if self.text_all:
            if v is None:
                out |= self.text_all  # contains / starts_with are false on a missing value
            elif type(v) is str:
                out |= self.text_unmet(v)
            else:
                bad = True
        return out, bad

    def set_unmet(self, v: Iterable[Any]) -> int:
        """Terms whose has_any / has_all / has_none literals the collection ``v`` falsifies
        (TypeError on an unhashable member)."""
        vals = self.set_vals
        hits = 0
        for m in v:
            hits |= vals.get(m, 0)
        return _unmet(hits, self.set_slots_all, self.set_shifts, self.set_top, self.full)

    def text_unmet(self, v: str) -> int:
        """Terms whose contains / starts_with literals the text ``v`` falsifies. (fastpath.py
        inlines the same loop in the generated function.)"""
        hits = self.text_always
        if self.text_plain and self.text_auto is not None:
            for _, cv in self.text_auto.iter(v.casefold()):
                hits |= cv
        elif self.text_auto is not None:
            for end, (cv, sv, last) in self.text_auto.iter(v.casefold()):
                hits |= cv
                if end == last:  # the occurrence starts at 0: starts_with holds
                    hits |= sv
        return _unmet(hits, self.text_slots_all, self.text_shifts, None, self.full)


def _unmet(acc: int, slots_all: int, shifts: tuple[int, ...], top: int | None, full: int) -> int:
    """Terms with a slot that ``acc`` (the OR of the present keys' region masks) leaves unmet,
    plus the terms in the region at ``top`` (has_none hits)."""
    x = slots_all ^ (acc & slots_all)
    if shifts:  # fold the regions of the second, third, ... slot onto the first
        u = x
        for sh in shifts:
            u |= x >> sh
        x = u & full
    if top is not None:
        x |= acc >> top
    return x


Fallback = list[tuple[Lit, int]]
FastStep = Callable[[Callable[[str], Any]], int | None]
GeneralStep = Callable[[Mapping[str, Any]], tuple[int, Fallback | None]]


class Step:
    """One per-event step: the terms that one field (or the enum fields together) leave alive.

    ``fast(snapshot.get)`` returns that keep-mask, or None for a value it does not handle; then
    ``general(snapshot)`` answers exactly, and names the literals to evaluate one by one when a
    value has a type the index cannot handle. A non-zero ``need`` lets the matcher skip the step
    when no surviving term tests the field. ``consts`` are what the generated match function
    (fastpath.py) inlines for this ``kind`` of step.
    """

    __slots__ = ("consts", "fast", "general", "kind", "need")

    def __init__(
        self, kind: str, fast: FastStep, general: GeneralStep, need: int, **consts: Any
    ) -> None:
        self.kind = kind
        self.fast = fast
        self.general = general
        self.need = mpz(need) if need else 0
        self.consts = consts


def _plan(fields: list[FieldIndex], full: int) -> list[Step]:
    """Per-event steps, cheapest first:

    - enum fields together: one memo keyed by the tuple of their values (a few hundred
      combinations in practice), so four fields cost one dict lookup;
    - pure numeric-range fields: two bisects into precomputed keep-masks;
    - tag-like fields: a memo per value; free text: every needle found in one automaton pass.
    """
    steps: list[Step] = []
    joint = [fi for fi in fields if fi.kind == "enum"]
    if joint:
        steps.append(_joint_step(joint, full))
    rest = [fi for fi in fields if fi not in joint]
    ranged = [fi for fi in rest if fi.pure_range()]
    steps += [_range_step(fi, full) for fi in ranged]
    steps += [_memo_step(fi, full) for fi in rest if fi not in ranged and not fi.folds]
    steps += [_text_step(fi, full) for fi in rest if fi not in ranged and fi.folds]
    return steps


def _general(fi: FieldIndex, full: int) -> GeneralStep:
    def general(snapshot: Mapping[str, Any]) -> tuple[int, Fallback | None]:
        failed, bad = fi.failed(snapshot.get(fi.name))
        return full ^ (failed & full), fi.fallback if bad else None

    return general


def _memo_safe(v: Any) -> bool:
    """Values a memo may key on alone: nothing of another type compares equal to them (True == 1,
    but never == "1"), so a hit is always the answer for the same value."""
    if v is None or type(v) is str:
        return True
    return type(v) is frozenset and all(type(m) is str for m in v)


def _joint_step(joint: list[FieldIndex], full: int) -> Step:
    names = tuple(fi.name for fi in joint)
    memo: dict[tuple[Any, ...], int] = {}
    lookup = memo.get

    def fast(get: Callable[[str], Any]) -> int | None:
        try:
            return lookup(tuple(map(get, names)))
        except TypeError:  # an unhashable value
            return None

    def general(snapshot: Mapping[str, Any]) -> tuple[int, Fallback | None]:
        values = tuple(map(snapshot.get, names))
        failed = 0
        extra: Fallback | None = None
        for fi, v in zip(joint, values, strict=True):
            f, bad = fi.failed(v)
            failed |= f
            if bad:
                extra = (extra or []) + fi.fallback
        keep = full ^ (failed & full)
        if extra is None and len(memo) < _MEMO_MAX and all(map(_memo_safe, values)):
            memo[values] = keep
        return keep, extra

    return Step("joint", fast, general, 0, lookup=lookup, names=names)


def _range_step(fi: FieldIndex, full: int) -> Step:
    cuts, at, between = fi.intervals()
    # pieces[bisect_left + bisect_right]: 2i is "between cuts i-1 and i", 2i+1 is "at cut i".
    pieces = [0] * (2 * len(cuts) + 1)
    for i, m in enumerate(between):
        pieces[2 * i] = m & full
    for i, m in enumerate(at):
        pieces[2 * i + 1] = m & full
    name = fi.name

    def fast(get: Callable[[str], Any]) -> int | None:
        v = get(name)
        if type(v) is int or (type(v) is float and v == v):
            return pieces[bisect_left(cuts, v) + bisect_right(cuts, v)]
        return None  # None, NaN or a wrong type: the general path (errors recorded there)

    return Step("range", fast, _general(fi, full), 0, name=name, cuts=cuts, pieces=pieces)


def _memo_step(fi: FieldIndex, full: int) -> Step:
    """Fields answered by a memo per value; tag sets missing from it are computed by ``fast``."""
    memo: dict[Any, int] = {}
    lookup = memo.get
    name = fi.name
    compute = _general(fi, full)

    def general(snapshot: Mapping[str, Any]) -> tuple[int, Fallback | None]:
        keep, extra = compute(snapshot)
        v = snapshot.get(name)
        if extra is None and len(memo) < _MEMO_MAX and _memo_safe(v):
            memo[v] = keep
        return keep, extra

    if fi.eq_all or fi.neq_map or fi.pres_all or fi.blank_all or fi.ranges or fi.text_all:

        def fast(get: Callable[[str], Any]) -> int | None:
            try:
                return lookup(get(name))
            except TypeError:  # unhashable
                return None

        return Step("memo", fast, general, fi.all, name=name, lookup=lookup)
    set_unmet = fi.set_unmet

    def fast_set(get: Callable[[str], Any]) -> int | None:
        v = get(name)
        if type(v) is not frozenset:
            return None
        keep = lookup(v)
        if keep is None:
            keep = full ^ set_unmet(v)
            if len(memo) < _MEMO_MAX and _memo_safe(v):
                memo[v] = keep
        return keep

    return Step("set", fast_set, general, fi.all, name=name, lookup=lookup)


def _no_fast(get: Callable[[str], Any]) -> int | None:
    return None


def _text_step(fi: FieldIndex, full: int) -> Step:
    general = _general(fi, full)
    mixed = fi.eq_all or fi.neq_map or fi.pres_all or fi.blank_all or fi.ranges or fi.anyof_all
    if mixed or fi.noneof_map:
        return Step("general", _no_fast, general, fi.all)  # mixed literals: the general path
    name = fi.name
    text_unmet = fi.text_unmet

    def fast(get: Callable[[str], Any]) -> int | None:
        v = get(name)
        return full ^ text_unmet(v) if type(v) is str else None

    return Step(
        "text",
        fast,
        general,
        fi.all,
        name=name,
        always=fi.text_always,
        slots_all=fi.text_slots_all,
        shifts=fi.text_shifts,
        iter=fi.text_auto.iter if fi.text_auto is not None else None,
        plain=fi.text_plain,
        full=full,
    )


_RANGE = {"gt": "gt", "ge": "ge", "lt": "lt", "le": "le"}


class Matcher:
    """Index over the enabled rules of one compiled rule set (immutable after construction)."""

    def __init__(self, rules: list[CompiledRule]) -> None:
        lits = LitTable()  # literals shared by all rules: each distinct one is evaluated once
        self.term_rule: list[int] = []
        self.rule_terms: list[int] = [0] * len(rules)
        self.first_term: list[int] = [0] * (len(rules) + 1)
        self.kind_exact: dict[str, int] = {}
        self.kind_checks: dict[str, list[tuple[Any, int]]] = {}
        self.field_exact: dict[str, int] = {}
        self.field_checks: dict[str, list[tuple[Any, int]]] = {}
        self.msg_exact: dict[tuple[bool, str], int] = {}
        self._checks: dict[tuple[Any, ...], list[Any]] = {}
        fields: dict[str, FieldIndex] = {}
        residual: dict[int, list[Any]] = {}
        for rule in rules:
            self.first_term[rule.index] = len(self.term_rule)
            if not rule.enabled:
                continue
            rmask = 0
            for term in rule_terms(rule, lits):
                eq: dict[str, frozenset[Any]] = {}
                eq_ops: dict[str, Operator] = {}
                for lit in term:
                    keys = _eq_keys(lit)
                    if keys is not None and lit.field is not None and lit.op is not None:
                        eq_ops[lit.field] = lit.op
                        eq[lit.field] = eq[lit.field] & keys if lit.field in eq else keys
                if any(not k for k in eq.values()):
                    continue  # unsatisfiable: two different required values on one field
                t = len(self.term_rule)
                bit = 1 << t
                self.term_rule.append(rule.index)
                rmask |= bit
                anyof_seen: dict[str, int] = {}
                for lit in sorted(term, key=lambda x: x.id):
                    if not self._index_lit(lit, bit, fields, anyof_seen):
                        residual.setdefault(lit.id, [lit, 0])[1] |= bit
                for f, keys in eq.items():
                    fi = self._field(fields, eq_ops[f])
                    fi.all |= bit
                    fi.eq_all |= bit
                    for k in keys:
                        fi.eq_map[k] = fi.eq_map.get(k, 0) | bit
            self.rule_terms[rule.index] = rmask
            for trig in rule.triggers:
                for key in trig.keys():  # noqa: SIM118 (a method, not a dict)
                    self._add_trigger(key, trig, rmask)
        self.first_term[len(rules)] = len(self.term_rule)
        for (where, sub, _sig), (trig, mask) in self._checks.items():
            target = self.kind_checks if where == "kind" else self.field_checks
            target.setdefault(sub, []).append((trig, mpz(mask)))
        # Masks used per event are GMP integers (gmpy2.mpz): the set bits of the result are
        # walked by GMP, and converting a Python int of n bits to GMP would cost more than an AND.
        self.kind_exact = {k: mpz(m) for k, m in self.kind_exact.items()}
        self.field_exact = {k: mpz(m) for k, m in self.field_exact.items()}
        self.msg_exact = {k: mpz(m) for k, m in self.msg_exact.items()}
        for fi in fields.values():
            fi.finish(len(self.term_rule))
        self.n_terms = len(self.term_rule)
        self.full = mpz((1 << self.n_terms) - 1)
        self.steps = _plan(list(fields.values()), self.full)
        self.residuals = [(e[0], mpz(e[1]), _fast_text(e[0])) for e in residual.values()]
        self.residual_all = mpz(0)
        for _, m, _ in self.residuals:
            self.residual_all |= m
        self.rule_terms = [mpz(m) for m in self.rule_terms]
        self._nbytes = (self.n_terms + 7) // 8
        # A rule's terms are adjacent bits; its last one is its "head". collapse() turns "some
        # term of the rule survived" into "its head bit is set", so every surviving rule is one
        # bit and bits map to rules without deduplication.
        heads = tails = 0
        for r in range(len(rules)):
            lo, hi = self.first_term[r], self.first_term[r + 1]
            if hi > lo:
                heads |= 1 << (hi - 1)
                tails |= ((1 << (hi - 1)) - 1) ^ ((1 << lo) - 1)
        self.heads = mpz(heads)
        self.tails = mpz(tails)  # the other terms of rules with several
        self.names = [r.name for r in rules]
        self.term_names = [self.names[r] for r in self.term_rule]
        self._term_rule_np = np.asarray(self.term_rule, dtype=np.intp)
        self._term_names_np = np.asarray(self.term_names, dtype=object)
        # Up to this many set bits the GMP walk beats numpy, whose cost grows with the width
        # (measured: crossover ~180 bits of 1,221, ~450 of 12,183).
        self.few = 150 + self.n_terms // 40
        # The per-event functions, generated for this rule set (see fastpath.py); they answer
        # exactly like match_terms_general, which they call for anything unusual.
        self.match_terms: TermsFn
        self.match_event: NamesFn
        self.match_terms, self.match_event = fastpath.build(self)

    def _field(self, fields: dict[str, FieldIndex], op: Operator) -> FieldIndex:
        fi = fields.get(op.fname)
        if fi is None:
            fi = fields[op.fname] = FieldIndex(op.fname, op.field.kind == "text", op.field.kind)
        return fi

    def _index_lit(
        self, lit: Lit, bit: int, fields: dict[str, FieldIndex], anyof_seen: dict[str, int]
    ) -> bool:
        op = lit.op
        if op is None or lit.negated or op.index is None:
            return False
        f, kind, cat = op.fname, op.field.kind, op.index
        if cat == "eq":
            return _eq_keys(lit) is not None  # handled per term (intersection) by the caller
        if cat == "neq":
            if kind not in EQ_INDEX_KINDS or not _hashable(op.index_keys()):
                return False
            fi = self._field(fields, op)
            for k in op.index_keys():
                fi.neq_map[k] = fi.neq_map.get(k, 0) | bit
        elif cat in _RANGE:
            if kind not in RANGE_INDEX_KINDS:
                return False
            fi = self._field(fields, op)
            raw = fi.range_raw.setdefault(cat, {})
            raw[op.value] = raw.get(op.value, 0) | bit
            fi.range_all |= bit
            fi.add_fallback(lit, bit)
        elif cat in ("present", "blank"):
            fi = self._field(fields, op)
            if cat == "present":
                fi.pres_all |= bit
            else:
                fi.blank_all |= bit
        elif cat == "any_of":
            keys = op.index_keys()
            if not _hashable(keys):
                return False
            fi = self._field(fields, op)
            slot = anyof_seen.get(f, 0)
            anyof_seen[f] = slot + 1
            fi.add_anyof(slot, keys, bit)
            fi.add_fallback(lit, bit)
        elif cat == "all_of":  # has_all [a, b] = has_any [a] and has_any [b]
            keys = op.index_keys()
            if not _hashable(keys):
                return False
            fi = self._field(fields, op)
            for k in sorted(keys, key=repr):
                slot = anyof_seen.get(f, 0)
                anyof_seen[f] = slot + 1
                fi.add_anyof(slot, (k,), bit)
            if not keys:
                return False
            fi.add_fallback(lit, bit)
        elif cat in ("contains", "starts_with"):
            if kind != "text":
                return False
            fi = self._field(fields, op)
            slot_key = "#text:" + f
            slot = anyof_seen.get(slot_key, 0)
            anyof_seen[slot_key] = slot + 1
            fi.add_text(slot, (0 if cat == "contains" else 2, op.value.casefold()), bit)
            fi.add_fallback(lit, bit)
        elif cat == "none_of":
            fi = self._field(fields, op)
            for k in op.index_keys():
                fi.noneof_map[k] = fi.noneof_map.get(k, 0) | bit
            fi.add_fallback(lit, bit)
        else:
            return False
        fi.all |= bit
        return True

    def _add_trigger(self, key: tuple[Any, ...], trig: Any, mask: int) -> None:
        """Exact keys OR into a mask; other triggers are checked per event, but identical trigger
        configs share one check (hundreds of rules often use the same trigger)."""
        where = key[0]
        if where == "message" and trig.exact:
            k = (key[1], key[2])
            self.msg_exact[k] = self.msg_exact.get(k, 0) | mask
        elif where in ("kind", "field") and trig.exact:
            target = self.kind_exact if where == "kind" else self.field_exact
            target[key[1]] = target.get(key[1], 0) | mask
        elif where in ("kind", "field"):
            sig = (where, key[1], json.dumps(trig.normalised(), sort_keys=True, default=str))
            entry = self._checks.setdefault(sig, [trig, 0])
            entry[1] |= mask
        else:
            raise ValueError(f"unknown trigger index key {key!r}")

    def candidates(
        self,
        kind: str,
        changes: Mapping[str, tuple[Any, Any]],
        messages: tuple[MessageInfo, ...],
    ) -> int:
        """Terms whose rule has a trigger matching the event."""
        cand = self.kind_exact.get(kind, 0)
        fe = self.field_exact
        for f in changes:
            cand |= fe.get(f, 0)
        me = self.msg_exact
        for msg in messages:
            cand |= me.get((msg.public, msg.author_kind), 0)
        return self.checked_candidates(kind, changes, messages, cand)

    def checked_candidates(
        self,
        kind: str,
        changes: Mapping[str, tuple[Any, Any]],
        messages: tuple[MessageInfo, ...],
        cand: int,
    ) -> int:
        """``cand`` (the exact-key candidates) plus the rules whose non-exact trigger matches;
        identical trigger configs share one check."""
        pending = list(self.kind_checks.get(kind, ()))
        for f in changes:
            pending.extend(self.field_checks.get(f, ()))
        if not pending:
            return cand
        ctx = TriggerContext(kind, changes, messages)
        for trig, mask in pending:
            if mask & ~cand and trig.matches(ctx):
                cand |= mask
        return cand

    def match(
        self,
        snapshot: Mapping[str, Any],
        kind: str,
        changes: Mapping[str, tuple[Any, Any]],
        messages: tuple[MessageInfo, ...],
        restrict: int = -1,
        errors: list[tuple[int, str]] | None = None,
    ) -> list[int]:
        """Indices of matching rules, ascending; ``restrict`` limits the terms considered."""
        return self.rules_of(self.match_terms(snapshot, kind, changes, messages, restrict, errors))

    def names_of(self, terms: int) -> list[str]:
        """Names of the rules owning the set bits of ``terms``, ascending, once per rule."""
        return self._per_rule(terms, self.term_names, self._term_names_np)

    def rules_of(self, terms: int) -> list[int]:
        """Rule indices (ascending, distinct) owning the set bits of ``terms``."""
        return self._per_rule(terms, self.term_rule, self._term_rule_np)

    def collapse(self, terms: int) -> int:
        """One bit per rule with a surviving term: its head (see __init__)."""
        if not self.tails:
            return terms
        tails = self.tails
        # Adding a run of ones to a rule's tail bits carries into its head iff one was set.
        return (terms | ((terms & tails) + tails)) & self.heads

    def _per_rule(self, terms: int, values: list[Any], values_np: Any) -> list[Any]:
        terms = self.collapse(terms)
        if not terms:
            return []
        if terms.bit_count() <= self.few:  # GMP walks the set bits in C
            return list(map(values.__getitem__, xmpz(terms).iter_set()))
        # Many bits: unpack them in C (numpy) instead of one step per bit.
        raw = np.frombuffer(terms.to_bytes(self._nbytes, "little"), dtype=np.uint8)
        # unpackbits gives 0/1 bytes; viewed as bool, flatnonzero takes a fast path (6x).
        idx = np.flatnonzero(np.unpackbits(raw, bitorder="little").view(bool))
        result: list[Any] = values_np[idx].tolist()
        return result

    def match_terms_general(
        self,
        snapshot: Mapping[str, Any],
        kind: str,
        changes: Mapping[str, tuple[Any, Any]],
        messages: tuple[MessageInfo, ...],
        restrict: int = -1,
        errors: list[tuple[int, str]] | None = None,
    ) -> int:
        """The surviving term bitset (see ``rules_of``): the reference implementation, a loop over
        the steps; ``match_terms`` is the same, generated and unrolled per rule set."""
        alive = self.candidates(kind, changes, messages) & restrict
        if not alive:
            return 0
        extra: list[tuple[Lit, int]] | None = None
        get = snapshot.get
        for step in self.steps:
            if step.need and not alive & step.need:
                continue  # no surviving term tests this field
            keep = step.fast(get)
            if keep is None:  # a value the fast path does not handle (None, a wrong type, ...)
                keep, more = step.general(snapshot)
                if more:
                    extra = (extra or []) + more
            alive &= keep
            if not alive:
                return 0
        if alive & self.residual_all or extra:
            alive = self.eval_residuals(alive, snapshot, changes, extra, errors)
        return alive

    def eval_residuals(
        self,
        alive: int,
        snapshot: Mapping[str, Any],
        changes: Mapping[str, tuple[Any, Any]],
        extra: list[tuple[Lit, int]] | None,
        errors: list[tuple[int, str]] | None,
    ) -> int:
        todo = self.residuals
        if extra is not None:
            todo = [(lit, mask, None) for lit, mask in extra] + todo
        folded: dict[str, Any] = {}
        for lit, mask, fast in todo:
            hit = alive & mask
            if not hit:
                continue
            if fast is not None:  # text operators: fold the field once per event, not per literal
                fname, code, needle = fast
                fv = folded.get(fname, _MISSING)
                if fv is _MISSING:
                    v = snapshot.get(fname)
                    fv = folded[fname] = v.casefold() if type(v) is str else v
                if fv is None:
                    ok = code == 1
                elif type(fv) is str:
                    ok = (
                        (needle in fv)
                        if code == 0
                        else (needle not in fv)
                        if code == 1
                        else (fv.startswith(needle))
                    )
                else:
                    fast = None
                if fast is not None:
                    if not ok:
                        alive &= ~mask
                        if not alive:
                            return 0
                    continue
            try:
                ok = lit.test(snapshot, changes)
            except Exception as exc:  # an ill-typed snapshot must not abort the update
                for r in self.rules_of(hit):
                    if errors is not None:
                        errors.append((r, f"{_lit_text(lit)}: {type(exc).__name__}: {exc}"))
                    alive &= ~self.rule_terms[r]
                continue
            if not ok:
                alive &= ~mask
                if not alive:
                    return 0
        return alive

    def after(self, rule_index: int) -> int:
        """Terms of rules strictly after ``rule_index``."""
        return -(1 << self.first_term[rule_index + 1])


_MISSING = object()
_MEMO_MAX = 4096  # distinct values remembered per field
_TEXT_CODES = {"contains": 0, "not_contains": 1, "starts_with": 2}


def _fast_text(lit: Lit) -> tuple[str, int, str] | None:
    """(field, code, folded needle) for positive text literals the matcher inlines."""
    op = lit.op
    if op is None or lit.negated or op.name not in _TEXT_CODES:
        return None
    return (op.fname, _TEXT_CODES[op.name], op.value.casefold())


def _lit_text(lit: Lit) -> str:
    if lit.op is None:
        return "condition group" + (" (negated)" if lit.negated else "")
    return f"{lit.op.fname} {lit.op.expected()}" + (" (negated)" if lit.negated else "")
