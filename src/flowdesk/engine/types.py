"""Plain data exchanged with the Django side: events in, results out.

Frozen dataclasses with JSON-able payloads so results can be stored or sent without conversion code.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .context import EngineContext

Snapshot = Mapping[str, Any]
Changes = Mapping[str, tuple[Any, Any]]


@dataclass(frozen=True)
class MessageInfo:
    author_kind: str  # "customer" | "agent" | "system"
    public: bool  # False = internal note


@dataclass(frozen=True)
class Event:
    """What happened to the ticket: triggers look only at this (plus changes made by rules)."""

    kind: str  # "created" | "updated" | "timer"
    changes: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)
    messages: tuple[MessageInfo, ...] = ()
    #: for kind "timer": the purpose of the timer that fired ("rules", "sla", ...)
    timer: str = ""


@dataclass(frozen=True)
class Effect:
    """A side effect the Django side turns into rows / outbox items after commit."""

    type: str
    rule: str
    config: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "rule": self.rule, "config": self.config}


@dataclass(frozen=True)
class Rejection:
    """A write a rule attempted that the caller's guard refused (e.g. a team that no longer
    exists): it never entered the working state."""

    field: str
    value: Any
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "value": to_jsonable(self.value), "reason": self.reason}


@dataclass(frozen=True)
class FiredRule:
    rule: str
    index: int
    pass_no: int
    changes: dict[str, tuple[Any, Any]]
    effects: list[Effect]
    caused_by: tuple[str, ...] = ()
    rejected: tuple[Rejection, ...] = ()


@dataclass(frozen=True)
class Conflict:
    """A field written by two or more rules with different values in one update."""

    field: str
    writes: list[tuple[str, Any]]


@dataclass(frozen=True)
class RuleError:
    rule: str
    message: str


@dataclass
class CascadeResult:
    fired: list[FiredRule]
    final: dict[str, Any]
    changes: dict[str, tuple[Any, Any]]
    effects: list[Effect]
    conflicts: list[Conflict]
    passes: int
    stopped_by: str | None
    hit_pass_limit: bool
    suppressed: list[str]
    errors: list[RuleError]

    @property
    def fired_names(self) -> list[str]:
        return [f.rule for f in self.fired]


@dataclass(frozen=True)
class TriggerContext:
    """What triggers see: the event's kind and messages, and the *accumulated* change set; time
    triggers also read the working values, ``now`` and the engine context. ``latched`` (rules
    whose time condition already fired) is applied per rule, not by the (shared) triggers."""

    kind: str
    changes: Mapping[str, tuple[Any, Any]]
    messages: tuple[MessageInfo, ...]
    values: Mapping[str, Any] = field(default_factory=dict)
    now: dt.datetime | None = None
    context: EngineContext | None = None
    latched: frozenset[str] = frozenset()


def to_jsonable(value: Any) -> Any:
    """Snapshots hold frozensets (tags); JSON wants sorted lists so output is stable."""
    if isinstance(value, (frozenset, set)):
        return sorted(to_jsonable(v) for v in value)
    if isinstance(value, tuple | list):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
