"""Time rules between events: which latched rules re-arm, and when the ticket's timer fires next.

A rule with a time trigger (``TimeTrigger``: ``in_status``, ``sla_due_in``, ...) fires on a timer
event once per ticket while its time condition stays true: the Django side keeps, per ticket, the
set of *latched* rules (those that fired, or were due, for the current condition) and passes it to
``run_cascade``, which skips their time triggers. ``time_plan`` says which latched rules still hold
(the others re-arm) and when to arm the ticket's next timer. Semantics: docs/automation.md, "Time
rules".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .compile import CompiledRuleSet
from .context import EMPTY_CONTEXT, EngineContext
from .tree import CompiledRule
from .triggers import TimeTrigger, effective_values, utc
from .types import CascadeResult


@dataclass(frozen=True)
class TimePlan:
    """``latched``: the given latched rules whose time condition still holds (keep them);
    ``next_due``: when to fire the ticket's next timer event (None: no timer), the earliest of
    ``due_at`` and ``rearm_at``; ``due_rules``: the rules due at ``next_due`` (empty when the
    timer only lets a latched rule re-arm); ``due_at``: the earliest instant a rule that is not
    latched and whose conditions hold becomes due; ``rearm_at``: the earliest instant a latched
    rule's time condition ends by time alone (``at_local_time`` at midnight, ``sla_due_in`` at the
    due instant), so it re-arms."""

    latched: frozenset[str]
    next_due: dt.datetime | None
    due_rules: tuple[str, ...]
    due_at: dt.datetime | None = None
    rearm_at: dt.datetime | None = None


def _safe(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except Exception:  # an ill-typed snapshot, a calendar that is never open: no answer
        return None


def _conditions_hold(rule: CompiledRule, snapshot: Mapping[str, Any]) -> bool:
    try:
        return rule.holds(snapshot, {})
    except Exception:
        return False


def _min(a: dt.datetime | None, b: dt.datetime | None) -> dt.datetime | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def time_plan(
    ruleset: CompiledRuleSet,
    snapshot: Mapping[str, Any],
    now: dt.datetime,
    context: EngineContext | None = None,
    latched: frozenset[str] = frozenset(),
) -> TimePlan:
    """The time plan of one ticket at ``now`` (evaluated with no changes: ``snapshot`` as it is
    stored after the update or timer event). See ``TimePlan``."""
    ctx = context or EMPTY_CONTEXT
    now = utc(now)
    keep: set[str] = set()
    due: dt.datetime | None = None
    due_rules: list[str] = []
    rearm: dt.datetime | None = None
    for rule in ruleset.rules:
        triggers: tuple[TimeTrigger[Any], ...] = rule.time_triggers
        if not rule.enabled or not triggers:
            continue
        cond = _conditions_hold(rule, snapshot)
        if not cond:
            continue
        if rule.name in latched:
            holding = [t for t in triggers if _safe(t.holds, snapshot, now, ctx)]
            if holding:
                keep.add(rule.name)
                ends = [_safe(t.holds_until, snapshot, now, ctx) for t in holding]
                if all(e is not None for e in ends):
                    rearm = _min(rearm, min(ends))
                continue
        whens = [w for t in triggers if (w := _safe(t.next_due, snapshot, now, ctx)) is not None]
        if not whens:
            continue
        when = max(min(whens), now)
        if due is None or when < due:
            due, due_rules = when, [rule.name]
        elif when == due:
            due_rules.append(rule.name)
    wake = _min(due, rearm)
    return TimePlan(
        latched=frozenset(keep),
        next_due=wake,
        due_rules=tuple(due_rules) if due is not None and due == wake else (),
        due_at=due,
        rearm_at=rearm,
    )


def next_due(
    ruleset: CompiledRuleSet,
    snapshot: Mapping[str, Any],
    now: dt.datetime,
    context: EngineContext | None = None,
    latched: frozenset[str] = frozenset(),
) -> dt.datetime | None:
    """``time_plan(...).next_due``: when to arm the ticket's timer (None: no timer)."""
    return time_plan(ruleset, snapshot, now, context, latched).next_due


def after_timer(
    ruleset: CompiledRuleSet,
    before: Mapping[str, Any],
    result: CascadeResult,
    *,
    now: dt.datetime,
    context: EngineContext | None = None,
    latched: frozenset[str] = frozenset(),
) -> TimePlan:
    """The plan to store after a timer event's cascade: latch the rules that fired or were due
    at ``now`` (on ``before``, the snapshot the cascade ran on), then keep those whose time
    condition still holds on the result (its instants moved by the cascade's changes)."""
    now = utc(now)
    pre = time_plan(ruleset, before, now, context, latched)
    due_now = set(pre.due_rules) if pre.due_at == now else set()
    after = effective_values(result.final, result.changes, now)
    return time_plan(ruleset, after, now, context, latched | set(result.fired_names) | due_now)
