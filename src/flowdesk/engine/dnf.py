"""Condition trees as DNF terms over shared literals: the matcher's view of a rule.

The index answers one question per field ("which terms does this value falsify?"), which only
makes sense for conjunctions of literals, so each rule's tree is flattened into a disjunction of
such terms. Negations are pushed to the leaves, using an operator's exact complement where it has
one (``not is`` = ``is_not``) so negated literals stay indexable. A subtree whose expansion would
pass ``MAX_TERMS`` stays one opaque literal, evaluated as a tree: exponential blow-up is bounded.

Literals are deduplicated across all rules (``LitTable``): a predicate used by 300 rules is one
literal, evaluated at most once per event.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Mapping
from typing import Any, TypeVar

from .conditions import CONDITION_OPERATORS, Operator
from .tree import CompiledRule, CondGroup, CondLeaf, CondNode

MAX_TERMS = 32

Test = Callable[[Mapping[str, Any], Mapping[str, tuple[Any, Any]]], bool]


class Lit:
    """One literal of a DNF term: an operator (maybe negated) or an opaque subtree."""

    __slots__ = ("field", "id", "negated", "node", "op", "test")

    def __init__(
        self, id_: int, op: Operator[Any] | None, negated: bool, node: CondNode | None
    ) -> None:
        self.id = id_
        self.op = op
        self.negated = negated
        self.node = node
        self.field = op.fname if op is not None else None
        base: Test
        if op is not None:
            base = op.test
        else:
            assert node is not None
            base = node.evaluate
        self.test: Test = base
        if negated:

            def test(s: Mapping[str, Any], c: Mapping[str, tuple[Any, Any]]) -> bool:
                return not base(s, c)

            self.test = test

    def describe(self) -> str:
        """How error messages name the literal."""
        neg = " (negated)" if self.negated else ""
        if self.op is None:
            return "condition group" + neg
        return f"{self.op.fname} {self.op.expected()}" + neg


class LitTable:
    """Deduplicates literals across all rules so each distinct predicate runs once per event."""

    def __init__(self) -> None:
        self.by_key: dict[tuple[Any, ...], Lit] = {}
        # Equal conditions of different rules are one shared operator (compile.py), so most
        # leaves are found by the operator's identity without building their key again.
        self.by_op: dict[tuple[int, bool], Lit] = {}

    def _get(
        self, key: tuple[Any, ...], op: Operator[Any] | None, neg: bool, node: CondNode | None
    ) -> Lit:
        lit = self.by_key.get(key)
        if lit is None:
            lit = self.by_key[key] = Lit(len(self.by_key), op, neg, node)
        return lit

    def leaf(self, leaf: CondLeaf, neg: bool) -> Lit:
        found = self.by_op.get((id(leaf.op), neg))
        if found is None:  # (the rules' trees keep their operators, so no id is reused)
            found = self.by_op[(id(leaf.op), neg)] = self._leaf(leaf, neg)
        return found

    def _leaf(self, leaf: CondLeaf, neg: bool) -> Lit:
        op: Operator[Any] = leaf.op
        if neg and op.complement is not None:
            op = CONDITION_OPERATORS.get(op.complement)(op.field, op.config)
            neg = False
        cfg = json.dumps(op.config.model_dump(mode="json"), sort_keys=True, default=str)
        return self._get((op.fname, op.name, cfg, neg), op, neg, None)

    def opaque(self, node: CondNode, neg: bool) -> Lit:
        return self._get(("#opaque", id(node), neg), None, neg, node)


Term = frozenset[Lit]


L = TypeVar("L", bound=Hashable)


def expand(
    node: CondNode,
    neg: bool,
    leaf: Callable[[CondLeaf, bool], L],
    opaque: Callable[[CondNode, bool], L] | None,
    limit: int,
) -> list[frozenset[L]] | None:
    """DNF of ``node`` (negated if ``neg``) over literals made by ``leaf``: None past ``limit``
    terms. A subtree past the limit becomes one ``opaque`` literal, or (without ``opaque``) makes
    the whole expansion None. Shared by the matcher's index and the static checks (lint.py)."""
    if isinstance(node, CondLeaf):
        return [frozenset([leaf(node, neg)])]
    assert isinstance(node, CondGroup)
    conj = (node.kind == "all") != neg if node.kind != "none" else not neg
    child_neg = neg != (node.kind == "none")
    parts: list[list[frozenset[L]]] = []
    for child in node.children:
        d = expand(child, child_neg, leaf, opaque, limit)
        if d is None:
            if opaque is None:
                return None
            d = [frozenset([opaque(child, child_neg)])]
        parts.append(d)
    terms: list[frozenset[L]]
    if conj:
        terms = [frozenset()]
        for d in parts:
            if len(terms) * len(d) > limit:
                return None
            terms = [a | b for a in terms for b in d]
    else:
        terms = [t for d in parts for t in d]
        if len(terms) > limit:
            return None
    return list(dict.fromkeys(terms))


def dnf(node: CondNode, neg: bool, lits: LitTable) -> list[Term] | None:
    """Terms whose disjunction equals ``node`` (negated if ``neg``); None when too large."""
    return expand(node, neg, lits.leaf, lits.opaque, MAX_TERMS)


def rule_terms(rule: CompiledRule, lits: LitTable) -> list[Term]:
    if rule.conditions is None:
        return [frozenset()]
    terms = dnf(rule.conditions, False, lits)
    return terms if terms is not None else [frozenset([lits.opaque(rule.conditions, False)])]
