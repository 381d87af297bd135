"""The matcher: all rules matching an event, without evaluating every rule.

Compile time: each enabled rule becomes DNF terms (dnf.py), one bit each, in rule order, so
"rules after i" is a bit range and a rule's terms are adjacent bits. Each literal is offered to
its field's index (fieldindex.py); what the index cannot decide stays a residual literal.

Per event: trigger candidates from dict lookups (event kind, changed fields, messages); one step
per indexed field removes the terms its value falsifies; residual literals are evaluated at most
once each, only while a surviving term needs them; the surviving terms collapse to one bit per
rule, which become names. ``match_terms_general`` is the reference loop; ``fastpath.py`` writes
the same steps out as one generated function per rule set, which answers the common cases.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
from gmpy2 import mpz, xmpz

from . import fastpath, linear
from .conditions import Operator
from .dnf import Lit, LitTable, rule_terms
from .fastpath import NamesFn, TermsFn
from .fieldindex import FieldIndex, from_ids, plan
from .linear import Linear
from .tree import CompiledRule
from .types import MessageInfo, TriggerContext


class Matcher:
    """Index over the enabled rules of one compiled rule set (immutable after construction)."""

    def __init__(self, rules: list[CompiledRule]) -> None:
        lits = LitTable()  # literals shared by all rules: each distinct one is evaluated once
        self.term_rule: list[int] = []
        self.first_term: list[int] = [0] * (len(rules) + 1)
        self.kind_exact: dict[str, int] = {}
        self.kind_checks: dict[str, list[tuple[Any, int]]] = {}
        self.field_exact: dict[str, int] = {}
        self.field_checks: dict[str, list[tuple[Any, int]]] = {}
        self.msg_exact: dict[tuple[bool, str], int] = {}
        self._checks: dict[tuple[Any, ...], list[Any]] = {}
        self._time_checks: dict[str, list[Any]] = {}
        fields: dict[str, FieldIndex] = {}
        residual: dict[int, list[Any]] = {}  # literal id -> [literal, term numbers, position]
        term_res: list[tuple[int, ...]] = []  # per term: positions of its residual literals
        for rule in rules:
            self.first_term[rule.index] = len(self.term_rule)
            if not rule.enabled:
                continue
            rmask = 0
            for term in rule_terms(rule, lits):
                if _unsatisfiable(term):
                    continue
                bit = 1 << len(self.term_rule)
                self.term_rule.append(rule.index)
                rmask |= bit
                res: list[int] = []
                for lit in sorted(term, key=lambda x: x.id):
                    op = lit.op
                    if (
                        op is not None
                        and not lit.negated
                        and self._field(fields, op).index(lit, bit)
                    ):
                        continue  # decided by the field's index
                    entry = residual.setdefault(lit.id, [lit, [], len(residual)])
                    entry[1].append(len(self.term_rule) - 1)
                    res.append(entry[2])
                term_res.append(tuple(res))
            for trig in rule.triggers:
                for key in trig.keys():  # noqa: SIM118 (a method, not a dict)
                    self._add_trigger(key, trig, rmask)
        self.first_term[len(rules)] = len(self.term_rule)
        # Time triggers: one check per distinct config on timer events (time_candidates).
        self.time_checks: list[tuple[Any, Any]] = [
            (trig, mpz(mask)) for trig, mask in self._time_checks.values()
        ]
        self.rule_index = {r.name: r.index for r in rules if r.enabled}
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
        self.steps = plan(list(fields.values()), self.full)
        width = len(self.term_rule)
        self.residuals: list[tuple[Lit, Any]] = [
            (e[0], mpz(from_ids(e[1], width))) for e in residual.values()
        ]
        self.residual_tests = [lit.test for lit, _ in self.residuals]
        self.term_residuals = term_res
        self.residual_all = mpz(0)
        for _, m in self.residuals:
            self.residual_all |= m
        # Up to this many surviving terms with residual literals, walking those terms beats
        # one AND per residual literal over the whole term width (see eval_residuals).
        self.sparse_max = int(len(self.residuals) * (0.4 + self.n_terms / 4000))
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
        self.index_event = self.match_event
        # Small rule sets: straight-line code per trigger-candidate set beats the index's fixed
        # per-event costs (linear.py); match_terms (the cascade's entry) stays on the index.
        self.linear: Linear | None = None
        if linear.worth_it(rules):
            self.use_linear(rules)

    def use_linear(self, rules: list[CompiledRule]) -> None:
        """Answer match_event with the straight-line evaluator (tests force it with this)."""
        self.linear = Linear(rules, self)
        self.match_event = fastpath.build_linear(self, self.linear, self.index_event)

    def _field(self, fields: dict[str, FieldIndex], op: Operator[Any]) -> FieldIndex:
        fi = fields.get(op.fname)
        if fi is None:
            fi = fields[op.fname] = FieldIndex(op.fname, op.field.kind)
        return fi

    def _add_trigger(self, key: tuple[Any, ...], trig: Any, mask: int) -> None:
        """Exact keys OR into a mask; other triggers are checked per event, but identical trigger
        configs share one check (hundreds of rules often use the same trigger)."""
        where = key[0]
        if trig.time_based:
            config = json.dumps(trig.normalised(), sort_keys=True, default=str)
            timed = self._time_checks.setdefault(config, [trig, 0])
            timed[1] |= mask
        elif where == "message" and trig.exact:
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
        snapshot: Mapping[str, Any] | None = None,
        time: TriggerContext | None = None,
    ) -> int:
        """Terms whose rule has a trigger matching the event (time triggers: only with ``time``,
        the now / context / latched rules of a timer event)."""
        cand = self.kind_exact.get(kind, 0)
        fe = self.field_exact
        for f in changes:
            cand |= fe.get(f, 0)
        me = self.msg_exact
        for msg in messages:
            cand |= me.get((msg.public, msg.author_kind), 0)
        cand = self.checked_candidates(kind, changes, messages, cand)
        if kind == "timer" and self.time_checks:
            cand = self.time_candidates(snapshot or {}, changes, messages, time, cand)
        return cand

    def latched_mask(self, latched: frozenset[str]) -> Any:
        """The terms of the enabled rules named in ``latched``."""
        out = mpz(0)
        for name in latched:
            i = self.rule_index.get(name)
            if i is not None:
                out |= self.rule_mask(i)
        return out

    def time_candidates(
        self,
        snapshot: Mapping[str, Any],
        changes: Mapping[str, tuple[Any, Any]],
        messages: tuple[MessageInfo, ...],
        time: TriggerContext | None,
        cand: Any,
    ) -> Any:
        """``cand`` plus the rules, not latched, with a time trigger that holds on ``snapshot``
        (the working values) at ``time.now``; one check per distinct time trigger config."""
        if time is None or time.now is None:
            return cand
        keep = ~self.latched_mask(time.latched) if time.latched else -1
        ctx = TriggerContext(
            "timer", changes, messages, snapshot, time.now, time.context, time.latched
        )
        for trig, mask in self.time_checks:
            mask &= keep
            if mask & ~cand and trig.matches(ctx):
                cand |= mask
        return cand

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
        time: TriggerContext | None = None,
    ) -> list[int]:
        """Indices of matching rules, ascending; ``restrict`` limits the terms considered;
        ``time`` (timer events) carries now, the engine context and the latched rules."""
        terms = self.match_terms(snapshot, kind, changes, messages, restrict, errors, time)
        return self.rules_of(terms)

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
        heads: int = (terms | ((terms & tails) + tails)) & self.heads
        return heads

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
        time: TriggerContext | None = None,
    ) -> int:
        """The surviving term bitset (see ``rules_of``): the reference implementation, a loop over
        the steps; ``match_terms`` is the same, generated and unrolled per rule set."""
        alive = self.candidates(kind, changes, messages, snapshot, time) & restrict
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
        alive: Any,
        snapshot: Mapping[str, Any],
        changes: Mapping[str, tuple[Any, Any]],
        extra: list[tuple[Lit, int]] | None,
        errors: list[tuple[int, str]] | None,
    ) -> Any:
        """``alive`` without the terms a residual literal falsifies; each literal is evaluated
        at most once, and only while a surviving term needs it."""
        if extra is None:
            todo = alive & self.residual_all
            if todo.bit_count() <= self.sparse_max:
                done = self._residuals_by_term(alive, todo, snapshot, changes)
                if done is not None:
                    return done
        return self._residuals_by_literal(alive, snapshot, changes, extra, errors)

    def _residuals_by_term(
        self,
        alive: Any,
        todo: Any,
        snapshot: Mapping[str, Any],
        changes: Mapping[str, tuple[Any, Any]],
    ) -> Any:
        """Few surviving terms: walk them, not the literals (thousands of literals would cost
        thousands of full-width ANDs). None if a literal raised: the literal-by-literal loop
        then records the errors exactly as it always does."""
        tests = self.residual_tests
        per_term = self.term_residuals
        memo: dict[int, bool] = {}
        dead = xmpz(0)
        for t in xmpz(todo).iter_set():
            for i in per_term[t]:
                ok = memo.get(i)
                if ok is None:
                    try:
                        ok = memo[i] = tests[i](snapshot, changes)
                    except Exception:  # recorded by the other loop
                        return None
                if not ok:
                    dead[t] = 1
                    break
        return alive ^ mpz(dead) if dead else alive

    def _residuals_by_literal(
        self,
        alive: Any,
        snapshot: Mapping[str, Any],
        changes: Mapping[str, tuple[Any, Any]],
        extra: list[tuple[Lit, int]] | None,
        errors: list[tuple[int, str]] | None,
    ) -> Any:
        todo = self.residuals if extra is None else extra + self.residuals
        for lit, mask in todo:
            hit = alive & mask
            if not hit:
                continue
            try:
                ok = lit.test(snapshot, changes)
            except Exception as exc:  # an ill-typed snapshot must not abort the update
                for r in self.rules_of(hit):
                    if errors is not None:
                        errors.append((r, f"{lit.describe()}: {type(exc).__name__}: {exc}"))
                    alive &= ~self.rule_mask(r)
                continue
            if not ok:
                alive &= ~mask
                if not alive:
                    return 0
        return alive

    def rule_mask(self, rule_index: int) -> Any:
        """The terms of one rule: adjacent bits, so computed from ``first_term`` when needed
        instead of kept (one mask per rule, each as wide as its position, was n²/16 bytes: 200 MB
        at 50,000 rules)."""
        lo, hi = self.first_term[rule_index], self.first_term[rule_index + 1]
        return (_ONE << hi) - (_ONE << lo)

    def after(self, rule_index: int) -> int:
        """Terms of rules strictly after ``rule_index``."""
        return -(1 << self.first_term[rule_index + 1])


_ONE = mpz(1)


def _unsatisfiable(term: frozenset[Lit]) -> bool:
    """Two literals requiring disjoint values of one field (``status is open`` and ``status is
    new``): the term can never hold, so it gets no bit."""
    need: dict[str, frozenset[Any]] = {}
    for lit in term:
        values = lit.op.required_values() if lit.op is not None and not lit.negated else None
        if values is not None and lit.field is not None:
            have = need.get(lit.field)
            need[lit.field] = values if have is None else have & values
            if not need[lit.field]:
                return True
    return False
