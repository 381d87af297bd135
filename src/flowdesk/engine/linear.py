"""The straight-line evaluator: for small rule sets, plain generated code beats the index.

The index pays a fixed price per event (a step per field, a needle automaton over each text,
turning surviving bits into names) that only pays off once there are many rules to rule out at
once. Below that, testing each candidate rule's conditions in order, with short-circuit
``and``/``or`` inlined as Python expressions, is cheaper. ``Matcher`` picks this evaluator at
compile time when the rule set's size says so (``worth_it``).

One function is generated per distinct set of trigger candidates (the rules an event's kind,
changed fields and messages can concern), the first time an event needs it: it tests exactly
those rules, each once even when several of its triggers fire, and evaluates a text condition
shared by several rules once. The operators write their own expressions
(``Operator.source``); the prologue checks that each field read has the type those expressions
assume. Anything else — an odd type, an exception, a full cache — is answered by the index's
general path, so results are always exactly rule-by-rule evaluation's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .dnf import LitTable
from .tree import CompiledRule, CondGroup, CondLeaf, CondNode

if TYPE_CHECKING:
    from .matcher import Matcher

#: up to this many condition leaves in all enabled rules, the straight-line evaluator is used
#: (benchmark workload, ~3.2 leaves per rule: 20 % faster than the index at 100 rules, 2x slower
#: at 200)
MAX_LEAVES = 400
#: functions kept per rule set (one per distinct trigger-candidate set); beyond, the index runs
MAX_FUNCTIONS = 256

LinearFn = Callable[[Mapping[str, Any], Mapping[str, tuple[Any, Any]]], "list[str] | None"]

# What the prologue checks before the operators' expressions may assume a type (by field kind).
_GUARDS = {
    "text": "{v} is None or type({v}) is str",
    "tags": "{v} is None or type({v}) is frozenset",
    "set": "{v} is None or type({v}) is frozenset",
    "int": "{v} is None or type({v}) is int or type({v}) is float",
    "number": "{v} is None or type({v}) is int or type({v}) is float",
}


def leaves(rules: list[CompiledRule]) -> int:
    def count(node: CondNode | None) -> int:
        if node is None:
            return 0
        if isinstance(node, CondLeaf):
            return 1
        return sum(count(c) for c in node.children)

    return sum(count(r.conditions) for r in rules if r.enabled)


def worth_it(rules: list[CompiledRule]) -> bool:
    """The compile-time choice between this evaluator and the index."""
    return leaves(rules) <= MAX_LEAVES


class Linear:
    """Generates and caches the per-candidate-set functions of one rule set."""

    def __init__(self, rules: list[CompiledRule], matcher: Matcher) -> None:
        self.rules = [r for r in rules if r.enabled]
        self.matcher = matcher
        self.lits = LitTable()  # identifies equal conditions of different rules
        self.functions: dict[Any, LinearFn] = {}
        self.lookup = self.functions.get

    def build(self, alive: Any) -> LinearFn | None:
        """The function for the candidate terms ``alive`` (None: too many already)."""
        if len(self.functions) >= MAX_FUNCTIONS:
            return None
        mask = self.matcher.rule_mask
        fn = _Writer(self.lits).function([r for r in self.rules if mask(r.index) & alive])
        self.functions[alive] = fn
        return fn


class _Writer:
    """Writes one function: prologue (reads, type checks, folding), then one test per rule."""

    def __init__(self, lits: LitTable) -> None:
        self.lits = lits
        self.ns: dict[str, Any] = {}
        self.fields: dict[str, tuple[str, str, bool]] = {}  # name -> (raw, folded, fold used)
        self.kinds: dict[str, str] = {}
        self.uses: dict[int, int] = {}  # literal id -> uses in this function
        self.memo: dict[int, str] = {}

    def const(self, value: Any) -> str:
        name = f"_c{len(self.ns)}"
        self.ns[name] = value
        return name

    def function(self, rules: list[CompiledRule]) -> LinearFn:
        for r in rules:
            self._count(r.conditions)
        body: list[str] = []
        for r in rules:
            test = "True" if r.conditions is None else self._expr(r.conditions)
            body += [f"    if {test}:", f"        out.append({self.const(r.name)})"]
        head = ["def f(s, changes):", "    get = s.get"]
        for name, (raw, folded, used) in self.fields.items():
            head.append(f"    {raw} = get({self.const(name)})")
            guard = _GUARDS.get(self.kinds[name])
            if guard is not None:
                head.append(f"    if not ({guard.format(v=raw)}):")
                head.append("        return None")
            if used:
                head.append(f"    {folded} = {raw}.casefold() if {raw} is not None else None")
        head += [f"    {m} = None" for m in self.memo.values()]
        source = "\n".join([*head, "    out = []", *body, "    return out"])
        exec(compile(source, f"<straight-line match of {len(rules)} rules>", "exec"), self.ns)
        fn: LinearFn = self.ns["f"]
        return fn

    def _count(self, node: CondNode | None) -> None:
        if isinstance(node, CondGroup):
            for c in node.children:
                self._count(c)
        elif isinstance(node, CondLeaf):
            lit = self.lits.leaf(node, False)
            self.uses[lit.id] = self.uses.get(lit.id, 0) + 1

    def _expr(self, node: CondNode) -> str:
        if isinstance(node, CondLeaf):
            return self._leaf(node)
        assert isinstance(node, CondGroup)
        parts = [self._expr(c) for c in node.children]
        if node.kind == "all":
            return "(" + " and ".join(parts) + ")" if parts else "True"
        joined = "(" + " or ".join(parts) + ")" if parts else "False"
        return joined if node.kind == "any" else f"(not {joined})"

    def _leaf(self, leaf: CondLeaf) -> str:
        op = leaf.op
        expr = op.source(_Vars(self, op.fname, op.field.kind))
        if expr is None:
            return f"{self.const(op.test)}(s, changes)"
        lit = self.lits.leaf(leaf, False)
        if self.uses.get(lit.id, 0) < 2 or op.field.kind != "text":
            return expr
        # A text test several rules share (a needle or a regex over a long body): once.
        m = self.memo.setdefault(lit.id, f"m{len(self.memo)}")
        return f"({m} if {m} is not None else ({m} := bool({expr})))"


class _Vars:
    """``conditions.SourceVars`` for one field of the function being written."""

    def __init__(self, writer: _Writer, field: str, kind: str) -> None:
        self.writer = writer
        self.field = field
        self.kind = kind

    def _entry(self) -> tuple[str, str, bool]:
        w = self.writer
        entry = w.fields.get(self.field)
        if entry is None:
            n = len(w.fields)
            entry = w.fields[self.field] = (f"v{n}", f"t{n}", False)
            w.kinds[self.field] = self.kind
        return entry

    def raw(self) -> str:
        return self._entry()[0]

    def folded(self) -> str:
        raw, folded, _ = self._entry()
        if self.kind not in ("text",):  # only text fields are folded (like conditions.fold)
            return raw
        self.writer.fields[self.field] = (raw, folded, True)
        return folded

    def const(self, value: Any) -> str:
        return self.writer.const(value)
