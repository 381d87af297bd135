"""The cascade: one update evaluated against all rules, in order, until nothing changes.

Sequential semantics: rule i sees the working state after every earlier firing of this update. The
loop is shared by the fast path (``run_cascade``, index-backed) and the tracing path (``explain``):
both plug in an evaluator answering "which rules after position p, not yet fired, match now?", so
they cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from .actions import ActionContext, Guard, WorkingState
from .compile import CompiledRuleSet
from .context import EngineContext
from .tree import CompiledRule
from .types import CascadeResult, Conflict, Event, FiredRule, RuleError, TriggerContext


class Evaluator(Protocol):
    def matching(
        self,
        state: WorkingState,
        event: Event,
        after: int,
        errors: list[tuple[int, str]],
        pass_no: int,
    ) -> list[int]: ...

    def fired(self, index: int) -> None: ...


def timer_context(
    event: Event, now: Any, context: EngineContext | None, latched: frozenset[str]
) -> TriggerContext | None:
    """What time triggers need on a timer event (None for other events, or without ``now``)."""
    if event.kind != "timer" or now is None:
        return None
    return TriggerContext("timer", {}, (), {}, now, context, latched)


class FastEvaluator:
    """Uses the compiled index, restricted by a bitset of rules after ``after`` not yet fired."""

    def __init__(self, ruleset: CompiledRuleSet, time: TriggerContext | None = None) -> None:
        self.matcher = ruleset.matcher
        self.unfired = -1
        self.time = time

    def matching(
        self,
        state: WorkingState,
        event: Event,
        after: int,
        errors: list[tuple[int, str]],
        pass_no: int,
    ) -> list[int]:
        m = self.matcher
        restrict = self.unfired & m.after(after)
        return m.match(
            state.values, event.kind, state.changes, event.messages, restrict, errors, self.time
        )

    def fired(self, index: int) -> None:
        self.unfired &= ~self.matcher.rule_mask(index)


def trigger_context(
    state: WorkingState, event: Event, time: TriggerContext | None
) -> TriggerContext:
    """What a rule's triggers see at this point of the cascade."""
    if time is None:
        return TriggerContext(event.kind, state.changes, event.messages, state.values)
    return TriggerContext(
        event.kind,
        state.changes,
        event.messages,
        state.values,
        time.now,
        time.context,
        time.latched,
    )


def rule_applies(
    rule: CompiledRule, state: WorkingState, event: Event, time: TriggerContext | None = None
) -> bool:
    """Direct (unindexed) check used for the suppression report."""
    if not rule.enabled:
        return False
    ctx = trigger_context(state, event, time)
    return rule.trigger_hit(ctx) is not None and rule.holds(state.values, state.changes)


def cascade(
    ruleset: CompiledRuleSet,
    snapshot: Mapping[str, Any],
    event: Event,
    *,
    now: Any,
    max_passes: int,
    evaluator: Evaluator,
    guard: Guard | None = None,
    time: TriggerContext | None = None,
) -> CascadeResult:
    if max_passes < 1:
        raise ValueError("max_passes must be at least 1")
    state = WorkingState(snapshot, event.changes)
    fired: list[FiredRule] = []
    fired_set: set[int] = set()
    raw_errors: list[tuple[int, str]] = []
    writes: dict[str, list[tuple[str, Any]]] = {}
    stopped_by: str | None = None
    hit_limit = False
    passes = 0
    while True:
        passes += 1
        changed_in_pass = False
        matches = evaluator.matching(state, event, -1, raw_errors, passes)
        k = 0
        while k < len(matches):
            i = matches[k]
            k += 1
            rule = ruleset.rules[i]
            actx = ActionContext(state, rule.name, ruleset.templates, now, guard)
            for action in rule.actions:
                try:
                    action.apply(actx)
                except Exception as exc:  # a broken action must not abort the update
                    raw_errors.append((i, f"action {action.name}: {type(exc).__name__}: {exc}"))
            caused_by = tuple(
                f.rule for f in fired if any(field in rule.reads for field in f.changes)
            )
            fired.append(
                FiredRule(
                    rule.name,
                    i,
                    passes,
                    dict(actx.changes),
                    list(actx.effects),
                    caused_by,
                    tuple(actx.rejected),
                )
            )
            fired_set.add(i)
            evaluator.fired(i)
            for field, value in actx.writes:
                writes.setdefault(field, []).append((rule.name, value))
            if actx.stop:
                stopped_by = rule.name
                break
            if actx.changes:
                changed_in_pass = True
                matches = evaluator.matching(state, event, i, raw_errors, passes)
                k = 0
        if stopped_by is not None or not changed_in_pass:
            break
        if passes >= max_passes:
            hit_limit = bool(_probe(ruleset, state, event, fired_set, time))
            break

    final = dict(state.values)
    net = {
        f: (snapshot.get(f), v)
        for f, v in final.items()
        if f not in snapshot or snapshot.get(f) != v
    }
    conflicts = []
    for field, ws in writes.items():
        distinct: list[Any] = []
        for _, v in ws:
            if v not in distinct:
                distinct.append(v)
        if len({r for r, _ in ws}) >= 2 and len(distinct) >= 2:
            conflicts.append(Conflict(field, list(ws)))
    suppressed = []
    for f in fired:
        rule = ruleset.rules[f.index]
        if rule_applies(rule, state, event, time) and _would_change(
            ruleset, rule, state, now, guard
        ):
            suppressed.append(rule.name)
    errors: list[RuleError] = []
    seen: set[tuple[int, str]] = set()
    for i, msg in raw_errors:
        if (i, msg) not in seen:
            seen.add((i, msg))
            errors.append(RuleError(ruleset.rules[i].name, msg))
    return CascadeResult(
        fired=fired,
        final=final,
        changes=net,
        effects=[e for f in fired for e in f.effects],
        conflicts=conflicts,
        passes=passes,
        stopped_by=stopped_by,
        hit_pass_limit=hit_limit,
        suppressed=suppressed,
        errors=errors,
    )


def _probe(
    ruleset: CompiledRuleSet,
    state: WorkingState,
    event: Event,
    fired: set[int],
    time: TriggerContext | None,
) -> list[int]:
    """Would another pass fire anything? Decides whether the pass limit really cut the cascade."""
    m = ruleset.matcher
    restrict = -1
    for i in fired:
        restrict &= ~m.rule_mask(i)
    return m.match(state.values, event.kind, state.changes, event.messages, restrict, None, time)


def _would_change(
    ruleset: CompiledRuleSet,
    rule: CompiledRule,
    state: WorkingState,
    now: Any,
    guard: Guard | None,
) -> bool:
    actx = ActionContext(state.copy(), rule.name, ruleset.templates, now, guard)
    for action in rule.actions:
        try:
            action.apply(actx)
        except Exception:
            return False
    return bool(actx.changes)


def run_cascade(
    ruleset: CompiledRuleSet,
    snapshot: Mapping[str, Any],
    event: Event,
    *,
    now: Any,
    max_passes: int = 10,
    guard: Guard | None = None,
    context: EngineContext | None = None,
    latched: frozenset[str] = frozenset(),
) -> CascadeResult:
    """Apply all rules to one update (see docs/automation.md for the exact semantics).

    ``guard(rule, field, value)`` may refuse a write before it enters the working state.
    ``context`` holds the calendars time triggers measure business time with; on a timer event
    the time triggers of rules in ``latched`` (already fired for their condition) are skipped."""
    time = timer_context(event, now, context, latched)
    return cascade(
        ruleset,
        snapshot,
        event,
        now=now,
        max_passes=max_passes,
        evaluator=FastEvaluator(ruleset, time),
        guard=guard,
        time=time,
    )
