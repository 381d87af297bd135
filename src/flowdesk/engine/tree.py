"""Compiled condition trees and compiled rules: the shape both evaluators walk.

The fast matcher (index.py) flattens these trees; the tracing evaluator (explain.py) walks
them as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .actions import Action
from .conditions import Operator
from .triggers import Trigger
from .types import TriggerContext


@dataclass(eq=False)
class CondLeaf:
    path: str
    field: str
    op: Operator[Any]

    def evaluate(self, snapshot: Mapping[str, Any], changes: Mapping[str, tuple[Any, Any]]) -> bool:
        return self.op.test(snapshot, changes)

    def fields(self) -> set[str]:
        return {self.field}


@dataclass(eq=False)
class CondGroup:
    path: str
    kind: str  # all | any | none
    children: list[CondNode]

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


CondNode = CondLeaf | CondGroup


@dataclass(eq=False)
class CompiledRule:
    name: str
    index: int
    enabled: bool
    description: str | None
    triggers: list[Trigger[Any]]
    conditions: CondNode | None
    actions: list[Action[Any]]
    definition: dict[str, Any]
    reads: frozenset[str] = field(default=frozenset())

    def trigger_hit(self, ctx: TriggerContext) -> Trigger[Any] | None:
        for t in self.triggers:
            if t.matches(ctx):
                return t
        return None

    def holds(self, snapshot: Mapping[str, Any], changes: Mapping[str, tuple[Any, Any]]) -> bool:
        return self.conditions is None or self.conditions.evaluate(snapshot, changes)
