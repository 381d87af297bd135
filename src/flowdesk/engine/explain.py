"""Explanations: the same cascade, evaluated by a tracing evaluator that walks each rule's tree.

Because it does not use the index, it doubles as the reference the fast path is tested against.

A full explanation describes every rule (with its whole condition tree); a summary (``full=False``)
lists the rules that fired and, of the others, only the closest misses: rules whose trigger matched
but whose conditions did not hold, fewest failing conditions first, with their deciding condition.
Every other rule is counted, not listed, so the answer stays small with tens of thousands of rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

from .actions import Guard, WorkingState
from .cascade import cascade, timer_context, trigger_context
from .compile import CompiledRuleSet
from .context import EMPTY_CONTEXT, EngineContext
from .tree import CompiledRule, CondGroup, CondLeaf, CondNode
from .triggers import effective_values, utc
from .types import CascadeResult, Event, TriggerContext, to_jsonable


@dataclass
class CondResult:
    """Outcome of one node of a condition tree."""

    path: str
    passed: bool
    group: str | None = None
    field: str | None = None
    op: str | None = None
    expected: Any = None
    actual: Any = None
    error: str | None = None
    children: list[CondResult] = dc_field(default_factory=list)

    def sentence(self) -> str:
        if self.group is None:
            if self.error is not None:
                return f"{self.field} {self.op}: error: {self.error}"
            exp = self.op if self.expected is None else f"{self.op} {self.expected!r}"
            return f"{self.field} is {to_jsonable(self.actual)!r}, expected {exp}"
        if self.group == "any":
            inner = "; ".join(c.sentence() for c in self.children)
            return f"none of the {len(self.children)} alternatives held ({inner})"
        if self.group == "none":
            held = [c for c in self.children if c.passed]
            inner = "; ".join(c.held_sentence() for c in held)
            return f"a 'none' condition held: {inner}"
        failing = [c for c in self.children if not c.passed]
        return failing[0].sentence() if failing else "all conditions held"

    def held_sentence(self) -> str:
        if self.group is None:
            exp = self.op if self.expected is None else f"{self.op} {self.expected!r}"
            return f"{self.field} is {to_jsonable(self.actual)!r}, which is {exp}"
        return f"{self.path} held"

    def decider(self) -> CondResult:
        """The node that decided a failure: first failing leaf under 'all', the group otherwise."""
        if self.group == "all":
            for c in self.children:
                if not c.passed:
                    return c.decider()
        return self

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "passed": self.passed}
        if self.group is not None:
            out["group"] = self.group
            out["children"] = [c.to_dict() for c in self.children]
        else:
            out.update(field=self.field, op=self.op, expected=to_jsonable(self.expected))
            out["actual"] = to_jsonable(self.actual)
        if self.error is not None:
            out["error"] = self.error
        return out


def trace(node: CondNode, snapshot: Mapping[str, Any], changes: Mapping[str, Any]) -> CondResult:
    """Evaluate every node (no short-circuit) so the explanation shows the whole tree."""
    if isinstance(node, CondLeaf):
        op = node.op
        actual = snapshot.get(node.field)
        if op.name.startswith("changed"):
            actual = changes.get(node.field)
        res = CondResult(node.path, False, None, node.field, op.name, op.value, actual)
        try:
            res.passed = bool(op.test(snapshot, changes))
        except Exception as exc:  # recorded, never raised
            res.error = f"{type(exc).__name__}: {exc}"
        return res
    assert isinstance(node, CondGroup)
    kids = [trace(c, snapshot, changes) for c in node.children]
    if node.kind == "all":
        passed = all(k.passed for k in kids)
    elif node.kind == "any":
        passed = any(k.passed for k in kids)
    else:
        passed = not any(k.passed for k in kids)
    return CondResult(node.path, passed, node.kind, children=kids)


def _errors(res: CondResult) -> list[str]:
    out = [f"{res.path}: {res.error}"] if res.error else []
    for c in res.children:
        out += _errors(c)
    return out


@dataclass
class RuleTrace:
    name: str
    index: int
    enabled: bool
    evaluated: bool = False
    trigger_matched: bool = False
    trigger: str | None = None
    matched: bool = False
    pass_no: int | None = None
    conditions: CondResult | None = None
    error: str | None = None
    #: per time trigger: {"trigger", "held", "sentence"} (only when ``now`` was given)
    time: list[dict[str, Any]] | None = None
    latched: bool = False

    def deciding(self) -> dict[str, Any] | None:
        if self.matched or self.conditions is None or not self.trigger_matched:
            return None
        d = self.conditions.decider()
        out: dict[str, Any] = {"path": d.path, "sentence": d.sentence()}
        if d.group is None:
            out.update(
                field=d.field,
                op=d.op,
                expected=to_jsonable(d.expected),
                actual=to_jsonable(d.actual),
            )
        return out


#: closest misses a summary lists by default
SUMMARY_MISSES = 20
#: what ``counts`` counts, besides the total: every rule has exactly one of these outcomes
OUTCOMES = ("fired", "missed", "not_triggered", "disabled", "not_evaluated")


def failing_leaves(res: CondResult | dict[str, Any] | None) -> int:
    """How far a rule was from matching: its failing leaf conditions (a CondResult or its dict)."""
    if res is None:
        return 0
    if isinstance(res, CondResult):
        if res.group is None:
            return 0 if res.passed else 1
        return sum(failing_leaves(c) for c in res.children)
    children = res.get("children")
    if children is None:
        return 0 if res.get("passed") else 1
    return sum(failing_leaves(c) for c in children)


def _outcome(*, enabled: bool, evaluated: bool, trigger_matched: bool, fired: bool) -> str:
    if fired:
        return "fired"
    if not enabled:
        return "disabled"
    if not evaluated:
        return "not_evaluated"
    if not trigger_matched:
        return "not_triggered"
    return "missed"


def summary_counts(entries: list[dict[str, Any]]) -> dict[str, int]:
    """Rules per outcome: fired, missed (trigger matched), not_triggered, disabled,
    not_evaluated, and the total."""
    counts = dict.fromkeys(OUTCOMES, 0)
    for e in entries:
        counts[
            _outcome(
                enabled=e["enabled"],
                evaluated=e["evaluated"],
                trigger_matched=e["trigger_matched"],
                fired=e["fired"],
            )
        ] += 1
    counts["total"] = len(entries)
    return counts


def _closest(candidates: list[tuple[int, int]], limit: int) -> set[int]:
    """Of (failing leaves, rule index) pairs, the indices of the ``limit`` closest."""
    return {index for _, index in sorted(candidates)[:limit]}


def summarise(explanation: dict[str, Any], *, misses: int = SUMMARY_MISSES) -> dict[str, Any]:
    """The summary of a full explanation's dict (``to_dict(full=True)``, e.g. a dry run's)."""
    entries = explanation["rules"]
    counts = summary_counts(entries)
    candidates = [
        (failing_leaves(e.get("conditions")), i)
        for i, e in enumerate(entries)
        if not e["fired"] and e["enabled"] and e["evaluated"] and e["trigger_matched"]
    ]
    keep = _closest(candidates, misses)
    listed = [
        {k: v for k, v in e.items() if k != "conditions"}
        for i, e in enumerate(entries)
        if e["fired"] or i in keep
    ]
    counts["listed_misses"] = len(keep)
    return {**explanation, "full": False, "counts": counts, "rules": listed}


def time_sentences(
    rule: CompiledRule, state: WorkingState, time: TriggerContext
) -> list[dict[str, Any]]:
    """Why each time trigger of ``rule`` holds or not at ``time.now`` (working values)."""
    assert time.now is not None
    now = utc(time.now)
    values = effective_values(state.values, state.changes, now)
    ctx = time.context or EMPTY_CONTEXT
    out = []
    for trig in rule.time_triggers:
        try:
            held = trig.holds(values, now, ctx)
            sentence = trig.explain_at(values, now, ctx)
        except Exception as exc:
            held, sentence = False, f"{trig.describe()}: error: {type(exc).__name__}: {exc}"
        out.append({"trigger": trig.describe(), "held": held, "sentence": sentence})
    return out


class TracingEvaluator:
    def __init__(
        self,
        ruleset: CompiledRuleSet,
        *,
        trace_untriggered: bool = True,
        time: TriggerContext | None = None,
    ) -> None:
        self.time = time
        self.trace_untriggered = trace_untriggered
        self.rules = ruleset.rules
        self.done: set[int] = set()
        self.traces = [RuleTrace(r.name, r.index, r.enabled) for r in ruleset.rules]

    def evaluate(
        self, rule: CompiledRule, state: WorkingState, event: Event, pass_no: int
    ) -> RuleTrace:
        t = RuleTrace(rule.name, rule.index, rule.enabled, evaluated=True, pass_no=pass_no)
        if not rule.enabled:
            return t
        hit = rule.trigger_hit(trigger_context(state, event, self.time))
        if self.time is not None and rule.time_triggers:
            t.time = time_sentences(rule, state, self.time)
            t.latched = rule.name in self.time.latched
        t.trigger_matched = hit is not None
        t.trigger = hit.describe() if hit is not None else None
        if rule.conditions is not None and (t.trigger_matched or self.trace_untriggered):
            t.conditions = trace(rule.conditions, state.values, state.changes)
            errs = _errors(t.conditions)
            if errs and t.trigger_matched:
                t.error = "; ".join(errs)
        passed = t.conditions is None or t.conditions.passed
        t.matched = t.trigger_matched and passed and t.error is None
        return t

    def matching(
        self,
        state: WorkingState,
        event: Event,
        after: int,
        errors: list[tuple[int, str]],
        pass_no: int,
    ) -> list[int]:
        out = []
        for rule in self.rules[after + 1 :]:
            if rule.index in self.done:
                continue
            t = self.evaluate(rule, state, event, pass_no)
            self.traces[rule.index] = t
            if t.error is not None:
                errors.append((rule.index, t.error))
            if t.matched:
                out.append(rule.index)
        return out

    def fired(self, index: int) -> None:
        self.done.add(index)


@dataclass
class Explanation:
    """``rules`` holds every rule when ``full``, else the fired rules and the closest misses
    (without their condition trees); ``counts`` counts every rule by outcome either way."""

    rules: list[dict[str, Any]]
    result: CascadeResult
    termination: str
    suppressed: list[dict[str, str]]
    full: bool = True
    counts: dict[str, int] = dc_field(default_factory=dict)

    @property
    def fired(self) -> list[str]:
        return self.result.fired_names

    def rule(self, name: str) -> dict[str, Any]:
        for r in self.rules:
            if r["name"] == name:
                return r
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        res = self.result
        return {
            "fired": self.fired,
            "passes": res.passes,
            "termination": self.termination,
            "stopped_by": res.stopped_by,
            "hit_pass_limit": res.hit_pass_limit,
            "changes": {k: to_jsonable(list(v)) for k, v in res.changes.items()},
            "effects": [to_jsonable(e.to_dict()) for e in res.effects],
            "conflicts": [
                {"field": c.field, "writes": to_jsonable([list(w) for w in c.writes])}
                for c in res.conflicts
            ],
            "suppressed": self.suppressed,
            "errors": [{"rule": e.rule, "message": e.message} for e in res.errors],
            "full": self.full,
            "counts": self.counts,
            "rules": to_jsonable(self.rules),
        }


def explain(
    ruleset: CompiledRuleSet,
    snapshot: Mapping[str, Any],
    event: Event,
    *,
    now: Any,
    max_passes: int = 10,
    guard: Guard | None = None,
    full: bool = True,
    misses: int = SUMMARY_MISSES,
    context: EngineContext | None = None,
    latched: frozenset[str] = frozenset(),
) -> Explanation:
    """Run the cascade with the tracing evaluator and describe every rule's outcome (``full``)
    or the fired rules and the ``misses`` closest misses (a summary; module docstring). On a
    timer event, rules with time triggers also get ``time``: per time trigger whether it held
    and why (``context`` and ``latched`` as for ``run_cascade``)."""
    time = timer_context(event, now, context, latched)
    ev = TracingEvaluator(ruleset, trace_untriggered=full, time=time)
    res = cascade(
        ruleset,
        snapshot,
        event,
        now=now,
        max_passes=max_passes,
        evaluator=ev,
        guard=guard,
        time=time,
    )
    fired = {f.index: f for f in res.fired}
    counts = dict.fromkeys(OUTCOMES, 0)
    candidates = []
    for t in ev.traces:
        outcome = _outcome(
            enabled=t.enabled,
            evaluated=t.evaluated,
            trigger_matched=t.trigger_matched,
            fired=t.index in fired,
        )
        counts[outcome] += 1
        if outcome == "missed":
            candidates.append((failing_leaves(t.conditions), t.index))
    counts["total"] = len(ev.traces)
    keep = None if full else _closest(candidates, misses)
    if keep is not None:
        counts["listed_misses"] = len(keep)
    rules = []
    for t in ev.traces:
        f = fired.get(t.index)
        if keep is not None and f is None and t.index not in keep:
            continue
        entry: dict[str, Any] = {
            "name": t.name,
            "enabled": t.enabled,
            "evaluated": t.evaluated,
            "trigger_matched": t.trigger_matched,
            "trigger": t.trigger,
            "matched": t.matched,
            "fired": f is not None,
            "pass_no": f.pass_no if f is not None else t.pass_no,
            "deciding": t.deciding(),
            "changes": {k: list(v) for k, v in f.changes.items()} if f else {},
            "effects": [e.to_dict() for e in f.effects] if f else [],
            "caused_by": list(f.caused_by) if f else [],
            "rejected": [r.to_dict() for r in f.rejected] if f else [],
            "error": t.error,
        }
        if t.time is not None:
            entry["time"] = t.time
            entry["latched"] = t.latched
        if full:
            entry["conditions"] = t.conditions.to_dict() if t.conditions is not None else None
        if not t.enabled:
            entry["reason"] = "rule is disabled"
        elif not t.evaluated:
            entry["reason"] = "not evaluated: the cascade stopped before this rule"
        elif not t.trigger_matched and t.latched:
            entry["reason"] = (
                "latched: it already fired while its time condition holds; it re-arms when "
                "the condition stops holding"
            )
        elif not t.trigger_matched and t.time:
            entry["reason"] = "no trigger matched the event; " + "; ".join(
                x["sentence"] for x in t.time
            )
        elif not t.trigger_matched:
            entry["reason"] = "no trigger matched the event"
        elif t.error is not None:
            entry["reason"] = f"evaluation error: {t.error}"
        elif f is None and t.matched:
            entry["reason"] = (
                f"matched, but rule {res.stopped_by!r} ran stop before its turn"
                if res.stopped_by is not None
                else "matched, but the pass limit ended the cascade before its turn"
            )
        elif f is None:
            deciding = entry["deciding"]
            entry["reason"] = deciding["sentence"] if deciding else "conditions did not hold"
        else:
            entry["reason"] = f"fired in pass {f.pass_no}"
            if f.rejected:
                refused = "; ".join(f"{r.field}: {r.reason}" for r in f.rejected)
                entry["reason"] += f"; refused changes (not applied): {refused}"
        rules.append(entry)
    if res.stopped_by is not None:
        termination = f"rule {res.stopped_by!r} ran stop"
    elif res.hit_pass_limit:
        termination = f"pass limit {max_passes} reached"
    else:
        n = res.passes
        termination = f"stopped after {n} pass{'es' if n != 1 else ''}: nothing left to change"
    suppressed = [
        {
            "rule": name,
            "sentence": f"rule {name!r} would match and change the ticket again, but each rule "
            "fires at most once per update",
        }
        for name in res.suppressed
    ]
    return Explanation(
        rules=rules,
        result=res,
        termination=termination,
        suppressed=suppressed,
        full=full,
        counts=counts,
    )
