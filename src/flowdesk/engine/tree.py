"""Compiled condition trees and compiled rules: the shape both evaluators walk.

The fast matcher (matcher.py) flattens these trees; the tracing evaluator (explain.py) walks
them as they are.

Memory (a 50,000-rule set is ~160,000 leaves): every class here has ``__slots__``; equal handler
instances are shared between rules (the compiler interns them, so a condition used by 300 rules
is one operator and one config); and a rule keeps no copy of its normalised definition: the
``definition`` properties rebuild it from the compiled objects, which is exact because it is what
compile stored before (the same ``normalised()`` calls) and rare (storing, linting duplicates).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .actions import Action
from .conditions import Operator
from .triggers import TimeTrigger, Trigger
from .types import TriggerContext


@dataclass(eq=False, slots=True)
class CondLeaf:
    path: str
    field: str
    op: Operator[Any]

    def evaluate(self, snapshot: Mapping[str, Any], changes: Mapping[str, tuple[Any, Any]]) -> bool:
        return self.op.test(snapshot, changes)

    def fields(self) -> set[str]:
        return {self.field}

    def normalised(self, shared: Shared | None = None) -> dict[str, Any]:
        if shared is not None:
            return _shared(shared, self.op, self.normalised)
        data = self.op.config.model_dump(mode="json")
        return {"field": self.field, "op": self.op.name, **data}


@dataclass(eq=False, slots=True)
class CondGroup:
    path: str
    kind: str  # all | any | none
    children: tuple[CondNode, ...]

    def evaluate(self, snapshot: Mapping[str, Any], changes: Mapping[str, tuple[Any, Any]]) -> bool:
        if self.kind == "all":
            return all(c.evaluate(snapshot, changes) for c in self.children)
        hit = any(c.evaluate(snapshot, changes) for c in self.children)
        return hit if self.kind == "any" else not hit

    def fields(self) -> set[str]:
        out: set[str] = set()
        for c in self.children:
            out |= c.fields()
        return out

    def normalised(self, shared: Shared | None = None) -> dict[str, Any]:
        return {self.kind: [c.normalised(shared) for c in self.children]}


CondNode = CondLeaf | CondGroup
#: id of a handler (operator, trigger, action) -> its normalised dict
Shared = dict[int, dict[str, Any]]


def _shared(shared: Shared, handler: Any, make: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """One dict per handler instance (the rules keep their handlers alive: no id is reused)."""
    found = shared.get(id(handler))
    if found is None:
        found = shared[id(handler)] = make()
    return found


@dataclass(eq=False, slots=True)
class CompiledRule:
    name: str
    index: int
    enabled: bool
    description: str | None
    triggers: tuple[Trigger[Any], ...]
    conditions: CondNode | None
    actions: tuple[Action[Any], ...]
    reads: frozenset[str] = field(default=frozenset())

    @property
    def definition(self) -> dict[str, Any]:
        """The rule's normalised, JSON-able definition (what is stored), built on request."""
        return self.build_definition()

    def build_definition(self, shared: Shared | None = None) -> dict[str, Any]:
        """``definition``; with ``shared`` (id of a handler -> its normalised dict, filled as it
        goes) a handler shared by many rules gives one dict (see
        ``CompiledRuleSet.stored_definition``)."""
        out: dict[str, Any] = {"name": self.name}
        if self.description is not None:
            out["description"] = self.description
        out["enabled"] = self.enabled
        if shared is None:
            out["triggers"] = [t.normalised() for t in self.triggers]
        else:
            out["triggers"] = [_shared(shared, t, t.normalised) for t in self.triggers]
        if self.conditions is not None:
            out["conditions"] = self.conditions.normalised(shared)
        if shared is None:
            out["actions"] = [a.normalised() for a in self.actions]
        else:
            out["actions"] = [_shared(shared, a, a.normalised) for a in self.actions]
        return out

    def trigger_hit(self, ctx: TriggerContext) -> Trigger[Any] | None:
        """The first trigger matching ``ctx``; time triggers count only while the rule is not
        in ``ctx.latched``."""
        latched = self.name in ctx.latched
        for t in self.triggers:
            if latched and t.time_based:
                continue
            if t.matches(ctx):
                return t
        return None

    @property
    def time_triggers(self) -> tuple[TimeTrigger[Any], ...]:
        return tuple(t for t in self.triggers if isinstance(t, TimeTrigger))

    def holds(self, snapshot: Mapping[str, Any], changes: Mapping[str, tuple[Any, Any]]) -> bool:
        return self.conditions is None or self.conditions.evaluate(snapshot, changes)
