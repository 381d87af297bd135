"""Runs the active rule set on one ticket update and applies its plan through the ticket services.

Registered as an update hook of the ticket services (``AutomationConfig.ready``), so it runs
inside the update's transaction after the update's own changes. The engine plans with a guard
that refuses any write the field registry would refuse, so a rejected change never enters the
working state; the plan is then applied with the same two writers every other writer uses
(``apply_change_set``, ``do_add_message``). The engine input (snapshot + event) is stored on the
TicketUpdate so the explanation can be recomputed exactly later; what fired is stored as events.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flowdesk.automation.context import engine_context
from flowdesk.automation.effects import EFFECTS, EffectContext
from flowdesk.automation.services import ActiveRuleSet, active_ruleset
from flowdesk.core.errors import ValidationFailed
from flowdesk.engine import CascadeResult, Event, MessageInfo, run_cascade
from flowdesk.engine.timers import time_plan
from flowdesk.engine.types import to_jsonable
from flowdesk.tickets import snapshot as snap
from flowdesk.tickets.cause import Cause, CauseKind
from flowdesk.tickets.models import EventKind
from flowdesk.tickets.services import ChangeSet, TicketWrite, apply_change_set, write_guard
from flowdesk.timers.services import schedule, timer_state

#: the timer purpose of the time rules (one timer per ticket: the earliest due time rule)
TIME_RULES = "rules"
_time_rules: dict[int, tuple[object, frozenset[str]]] = {}


def time_rule_names(active: ActiveRuleSet) -> frozenset[str]:
    """The rules with a time trigger, computed once per compiled rule set (keyed by version
    and checked by identity: a database restored or reset may reuse a version number)."""
    held = _time_rules.get(active.number)
    if held is not None and held[0] is active.ruleset:
        return held[1]
    names = frozenset(r.name for r in active.ruleset.rules if any(t.time_based for t in r.triggers))
    if len(_time_rules) > 8:
        _time_rules.clear()
    _time_rules[active.number] = (active.ruleset, names)
    return names


def has_time_rules(active: ActiveRuleSet) -> bool:
    return bool(time_rule_names(active))


_ACTIVE = "active_ruleset"


def write_ruleset(w: TicketWrite) -> ActiveRuleSet | None:
    """The active rule set as this write sees it: read once per write, or once per round of
    timer firings (``preload_ruleset``)."""
    if _ACTIVE not in w.hook_state:
        w.hook_state[_ACTIVE] = active_ruleset()
    active: ActiveRuleSet | None = w.hook_state[_ACTIVE]
    return active


def preload_ruleset(ticket_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """tickets.batch preloader: the active rule set's head read once for a round (shared; the
    compiled set is read-only)."""
    active = active_ruleset()
    return {pk: {_ACTIVE: active} for pk in ticket_ids}


def arm_time_rules(w: TicketWrite, event: Event, snapshot: dict[str, Any]) -> None:
    """``settle`` hook: re-arm the time rules whose condition turned false and move the ticket's
    ``rules`` timer to the earliest instant a time rule could fire (none: the timer goes)."""
    kept = w.hook_state.get(TIME_RULES)
    if kept is None:
        active = write_ruleset(w)
        if active is None or not has_time_rules(active):
            return  # a timer left by an earlier version fires once, finds nothing, and goes
        context = engine_context(w)
        latched = frozenset(timer_state(w, TIME_RULES).get("latched", ()))
    else:
        active, context, latched = kept
    state = w.snapshot()
    for name in active.fields:
        state.setdefault(name, None)
    plan = time_plan(active.ruleset, state, w.now, context, latched)
    schedule(
        w, TIME_RULES, plan.next_due, {"latched": sorted(plan.latched)} if plan.latched else {}
    )


def event_to_json(event: Event) -> dict[str, Any]:
    return {
        "kind": event.kind,
        "changes": {k: [to_jsonable(o), to_jsonable(n)] for k, (o, n) in event.changes.items()},
        "messages": [{"author_kind": m.author_kind, "public": m.public} for m in event.messages],
    }


def event_from_json(data: dict[str, Any]) -> Event:
    def value(key: str, v: Any) -> Any:
        return frozenset(v) if key in snap.SET_KEYS and v is not None else v

    return Event(
        kind=data["kind"],
        changes={k: (value(k, o), value(k, n)) for k, (o, n) in data.get("changes", {}).items()},
        messages=tuple(
            MessageInfo(m["author_kind"], m.get("public", True)) for m in data.get("messages", [])
        ),
    )


def _chain(rule: str, causes: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """The rules that led to `rule`, earliest first (transitive over caused_by)."""
    seen: list[str] = []
    stack = list(causes.get(rule, ()))
    while stack:
        r = stack.pop(0)
        if r not in seen:
            seen.append(r)
            stack.extend(causes.get(r, ()))
    return tuple(reversed(seen))


def _store_input(
    w: TicketWrite, number: int, snapshot: dict[str, Any], event: Event, result: CascadeResult
) -> None:
    # Set before the row is inserted (when nothing inserted it yet): one INSERT, no UPDATE.
    update = w.update
    update.ruleset_version = number
    update.engine_snapshot = snap.to_json(snapshot)
    update.engine_event = event_to_json(event)
    update.automation = {
        "fired": [f.rule for f in result.fired],
        "passes": result.passes,
        "stopped_by": result.stopped_by,
        "hit_pass_limit": result.hit_pass_limit,
        "suppressed": list(result.suppressed),
        "conflicts": [
            {"field": c.field, "writes": [[r, to_jsonable(v)] for r, v in c.writes]}
            for c in result.conflicts
        ],
        "errors": [{"rule": e.rule, "message": e.message} for e in result.errors],
        # Refused writes, so a recomputed explanation refuses exactly the same ones.
        "rejected": [{"rule": f.rule, **r.to_dict()} for f in result.fired for r in f.rejected],
    }
    w.engine_input_stored = not w.touched_update
    w.update_row()


def _fired_cause(update: Cause, rule: Cause) -> Cause:
    """The cause recorded on a ``rule_fired`` event. A rule a timer made fire says so: the
    timer's kind and detail (``rules``, ``rules (fired 312 s late)``) with the rule's name and
    chain, so the history shows both why the update ran and which rule fired. The rule's own
    changes and effects stay caused by the rule."""
    if update.kind != CauseKind.TIMER:
        return rule
    return Cause(CauseKind.TIMER, rule=rule.rule, rule_chain=rule.rule_chain, detail=update.detail)


def run_automation(w: TicketWrite, event: Event, snapshot: dict[str, Any]) -> None:
    """`snapshot` is the ticket as the update left it (with the keys the prepare hooks added)."""
    active = write_ruleset(w)
    if active is None:
        return
    snapshot = dict(snapshot)
    for name in active.fields:
        snapshot.setdefault(name, None)
    context = engine_context(w)
    timed = has_time_rules(active)
    latched: frozenset[str] = frozenset()
    due_now: frozenset[str] = frozenset()
    if timed:
        latched = frozenset(timer_state(w, TIME_RULES).get("latched", ()))
        if event.kind == "timer":
            before = time_plan(active.ruleset, snapshot, w.now, context, latched)
            if before.due_at == w.now:  # due at this instant: considered once, fired or not
                due_now = frozenset(before.due_rules)
    result = run_cascade(
        active.ruleset,
        snapshot,
        event,
        now=w.now,
        guard=write_guard(w.registry),
        context=context,
        latched=latched,
    )
    if timed:
        # Fired or due at this instant: latched until their time condition turns false.
        fired_timed = {f.rule for f in result.fired if f.rule in time_rule_names(active)}
        w.hook_state[TIME_RULES] = (active, context, latched | due_now | fired_timed)
    if event.kind == "timer" and not result.fired and not result.errors:
        return  # a timer no rule acted on is not an update (nothing is written)
    _store_input(w, active.number, snapshot, event, result)

    causes = {f.rule: tuple(f.caused_by) for f in result.fired}
    for fired in result.fired:
        cause = w.cause.for_rule(fired.rule, _chain(fired.rule, causes))
        w.log.add(
            EventKind.RULE_FIRED,
            _fired_cause(w.cause, cause),
            data={
                "pass": fired.pass_no,
                "changes": {
                    k: {"o": to_jsonable(o), "n": to_jsonable(n)}
                    for k, (o, n) in fired.changes.items()
                },
                "effects": [e.type for e in fired.effects],
                "caused_by": list(fired.caused_by),
                "ruleset_version": active.number,
                **({"rejected": [r.to_dict() for r in fired.rejected]} if fired.rejected else {}),
            },
        )
        for rejection in fired.rejected:
            w.log.add(
                EventKind.AUTOMATION_ERROR,
                cause,
                field=rejection.field,
                data={
                    "message": f"change not applied: {rejection.reason}",
                    "value": to_jsonable(rejection.value),
                },
            )
        if fired.changes:
            changes = ChangeSet(values={k: new for k, (_, new) in fired.changes.items()})
            try:
                apply_change_set(w, changes, cause)
            except ValidationFailed as exc:  # the guard checked these; the data moved since
                for error in exc.errors:
                    w.log.add(
                        EventKind.AUTOMATION_ERROR,
                        cause,
                        field=error.field,
                        data={"message": f"change not applied: {error.message}"},
                    )
        for position, effect in enumerate(fired.effects):
            if effect.type not in EFFECTS:
                # A new engine action without its Django applier: say so, never crash the update.
                w.log.add(
                    EventKind.AUTOMATION_ERROR,
                    cause,
                    data={"message": f"no applier for effect {effect.type!r}"},
                )
                continue
            ctx = EffectContext(w, cause, key=f"u{w.update.pk}:{fired.rule}:{position}")
            EFFECTS.get(effect.type).apply(ctx, dict(effect.config))
    for failure in result.errors:
        w.log.add(
            EventKind.AUTOMATION_ERROR,
            w.cause.for_rule(failure.rule, ()),
            data={"message": failure.message},
        )
