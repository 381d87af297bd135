"""Trigger handlers: which events a rule reacts to.

A trigger declares index ``keys`` so the matcher looks at it only for events that carry
that key (event kind, changed field, or "a message was added"); ``exact`` says the key alone
decides. A trigger class may set ``time_based = True``: that is the seam for SLA/time rules,
whose ``next_due`` computes when they could become true (see ``flowdesk.engine.next_due``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from flowdesk.core.registry import Registry

from .catalog import Catalog, FieldSpec, check_value
from .conditions import fold
from .types import TriggerContext

Problem = tuple[str, str, str | None]
IndexKey = tuple[Any, ...]
AUTHORS = ("customer", "agent", "system")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class NoConfig(_Strict):
    """Triggers without options."""


class FromTo(_Strict):
    from_: Any = Field(default=None, alias="from", description="Value before the update.")
    to: Any = Field(default=None, description="Value after the update.")


class FieldChange(FromTo):
    field: str = Field(description="Snapshot field, e.g. 'priority' or 'custom.plan'.")


class TagsChange(_Strict):
    added: str | None = Field(default=None, description="Tag that was added.")
    removed: str | None = Field(default=None, description="Tag that was removed.")


class MessageConfig(_Strict):
    author: Literal["customer", "agent", "any"] = Field(default="any")


class Trigger:
    """Base class: subclasses set ``name``, ``Config`` and implement ``matches``."""

    name: ClassVar[str]
    Config: ClassVar[type[BaseModel]] = NoConfig
    time_based: ClassVar[bool] = False
    exact: ClassVar[bool] = False

    def __init__(self, config: BaseModel) -> None:
        self.config = config
        self.prepare()

    def prepare(self) -> None:
        """Precompute at compile time."""

    @classmethod
    def problems(cls, catalog: Catalog, config: BaseModel) -> list[Problem]:
        return []

    def keys(self) -> list[IndexKey]:
        raise NotImplementedError

    def matches(self, ctx: TriggerContext) -> bool:
        raise NotImplementedError

    def reads(self) -> frozenset[str]:
        """Fields whose change can make this trigger fire (used for ``caused_by``)."""
        return frozenset()

    def normalised(self) -> dict[str, Any]:
        data = self.config.model_dump(mode="json", by_alias=True)
        return {"type": self.name, **data}

    def describe(self) -> str:
        extra = {k: v for k, v in self.normalised().items() if k != "type"}
        if not extra:
            return self.name
        return self.name + " " + ", ".join(f"{k}={v!r}" for k, v in extra.items())


TRIGGERS: Registry[type[Trigger]] = Registry("trigger")


def register(cls: type[Trigger]) -> type[Trigger]:
    TRIGGERS.add(cls.name, cls)
    return cls


@register
class Created(Trigger):
    """A new ticket was created (this event, every pass of its cascade)."""

    name = "created"
    exact = True

    def keys(self) -> list[IndexKey]:
        return [("kind", "created")]

    def matches(self, ctx: TriggerContext) -> bool:
        return ctx.kind == "created"


@register
class Updated(Trigger):
    """Any update of an existing ticket."""

    name = "updated"
    exact = True

    def keys(self) -> list[IndexKey]:
        return [("kind", "updated")]

    def matches(self, ctx: TriggerContext) -> bool:
        return ctx.kind == "updated"


def _check_from_to(catalog: Catalog, spec: FieldSpec | None, config: BaseModel) -> list[Problem]:
    out: list[Problem] = []
    if spec is None:
        return out
    for key in ("from", "to"):
        value = getattr(config, "from_" if key == "from" else key)
        if key in config.model_fields_set or (key == "from" and "from_" in config.model_fields_set):
            if value is None:
                continue
            bad = check_value(catalog, spec, value)
            if bad:
                out.append((key, bad[0], bad[1]))
    return out


class _ChangeTrigger(Trigger):
    """Shared by field_changed and its sugar: compares the accumulated (old, new) of one field."""

    Config: ClassVar[type[BaseModel]] = FromTo
    fixed_field: ClassVar[str] = ""

    def prepare(self) -> None:
        cfg = self.config
        self.field: str = getattr(cfg, "field", self.fixed_field)
        fields_set = cfg.model_fields_set
        self.has_from = "from_" in fields_set or "from" in fields_set
        self.has_to = "to" in fields_set
        self.from_key = fold(getattr(cfg, "from_", None))
        self.to_key = fold(getattr(cfg, "to", None))
        self.exact = not self.has_from and not self.has_to  # type: ignore[misc]

    @classmethod
    def problems(cls, catalog: Catalog, config: BaseModel) -> list[Problem]:
        return _check_from_to(catalog, catalog.field(cls.fixed_field), config)

    def keys(self) -> list[IndexKey]:
        return [("field", self.field)]

    def matches(self, ctx: TriggerContext) -> bool:
        pair = ctx.changes.get(self.field)
        if pair is None:
            return False
        if self.has_from and fold(pair[0]) != self.from_key:
            return False
        return not (self.has_to and fold(pair[1]) != self.to_key)

    def reads(self) -> frozenset[str]:
        return frozenset([self.field])

    def normalised(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.name}
        if self.name == "field_changed":
            out["field"] = self.field
        if self.has_from:
            out["from"] = getattr(self.config, "from_", None)
        if self.has_to:
            out["to"] = getattr(self.config, "to", None)
        return out


@register
class FieldChanged(_ChangeTrigger):
    """A field changed in this update (optionally from/to given values)."""

    name = "field_changed"
    Config = FieldChange

    @classmethod
    def problems(cls, catalog: Catalog, config: BaseModel) -> list[Problem]:
        name = config.field  # type: ignore[attr-defined]
        spec = catalog.field(name)
        if spec is None:
            return [("field", f"unknown field {name!r}", catalog.suggest_field(name))]
        return _check_from_to(catalog, spec, config)


def _sugar(field: str) -> type[_ChangeTrigger]:
    class Sugar(_ChangeTrigger):
        fixed_field = field

    Sugar.name = f"{field}_changed"
    Sugar.__name__ = Sugar.__qualname__ = field.title() + "Changed"
    Sugar.__doc__ = f"Sugar for field_changed on {field!r} (from/to optional)."
    return register(Sugar)  # type: ignore[return-value]


StatusChanged = _sugar("status")
PriorityChanged = _sugar("priority")
AssigneeChanged = _sugar("assignee")
TeamChanged = _sugar("team")


@register
class TagsChanged(Trigger):
    """Tags changed; optionally a given tag was added or removed."""

    name = "tags_changed"
    Config = TagsChange

    def prepare(self) -> None:
        cfg = self.config
        self.added = (cfg.added or "").lower() or None  # type: ignore[attr-defined]
        self.removed = (cfg.removed or "").lower() or None  # type: ignore[attr-defined]

    def keys(self) -> list[IndexKey]:
        return [("field", "tags")]

    def matches(self, ctx: TriggerContext) -> bool:
        pair = ctx.changes.get("tags")
        if pair is None:
            return False
        old, new = (frozenset(pair[0] or ()), frozenset(pair[1] or ()))
        if self.added is not None and self.added not in new - old:
            return False
        return not (self.removed is not None and self.removed not in old - new)

    def reads(self) -> frozenset[str]:
        return frozenset(["tags"])

    def normalised(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.name}
        if self.added is not None:
            out["added"] = self.added
        if self.removed is not None:
            out["removed"] = self.removed
        return out


class _MessageTrigger(Trigger):
    public: ClassVar[bool] = True
    author: ClassVar[str] = "any"

    def prepare(self) -> None:
        self.want_author = getattr(self.config, "author", self.author)

    exact = True

    def keys(self) -> list[IndexKey]:
        """One exact key per (public, author kind) it accepts: no per-event check needed."""
        authors = AUTHORS if self.want_author == "any" else (self.want_author,)
        return [("message", self.public, a) for a in authors]

    def matches(self, ctx: TriggerContext) -> bool:
        for m in ctx.messages:
            if m.public == self.public and self.want_author in ("any", m.author_kind):
                return True
        return False


@register
class MessageAdded(_MessageTrigger):
    """A public message was added (by the given author kind, or anyone)."""

    name = "message_added"
    Config = MessageConfig


@register
class CustomerReplied(_MessageTrigger):
    """The customer added a public message."""

    name = "customer_replied"
    author = "customer"


@register
class AgentReplied(_MessageTrigger):
    """An agent added a public reply."""

    name = "agent_replied"
    author = "agent"


@register
class NoteAdded(_MessageTrigger):
    """An internal note (public = false) was added, by anyone."""

    name = "note_added"
    public = False


def trigger_context(
    kind: str, changes: Mapping[str, tuple[Any, Any]], messages: tuple[Any, ...]
) -> TriggerContext:
    return TriggerContext(kind=kind, changes=changes, messages=messages)
