"""Trigger handlers: which events a rule reacts to.

A trigger declares index ``keys`` so the matcher looks at it only for events that carry
that key (event kind, changed field, or "a message was added"); ``exact`` says the key alone
decides. Time triggers (``TimeTrigger``, ``time_based = True``; the registered ones are in
``timetriggers.py``) match only timer events and say when they hold (``holds``) and when they
could next hold (``next_due``); ``flowdesk.engine.time_plan`` uses that to arm the next timer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, ClassVar, Generic, Literal, TypeVar, cast

from pydantic import BaseModel, ConfigDict, Field

from flowdesk.core.registry import Registry

from .catalog import Catalog, FieldSpec, check_value
from .conditions import fold
from .context import EMPTY_CONTEXT, EngineContext
from .types import TriggerContext
from .vocabulary import SOLVED_STATUSES

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


C = TypeVar("C", bound=BaseModel)


class Trigger(Generic[C]):
    """Base class: subclasses set ``name``, ``Config`` (the pydantic model ``C``) and implement
    ``matches``."""

    name: ClassVar[str]
    Config: ClassVar[type[BaseModel]] = NoConfig
    time_based: ClassVar[bool] = False
    #: the index key alone decides (no per-event ``matches`` call); may be set per instance
    exact: bool = False
    #: kinds of the events in whose cascade it can match (the flowchart draws a cascade edge
    #: only between rules that can fire on one event); a change trigger matches any kind, as a
    #: rule's change feeds the later passes of every cascade
    event_kinds: ClassVar[frozenset[str]] = frozenset({"created", "updated", "timer"})

    def __init__(self, config: C) -> None:
        self.config: C = config
        self.prepare()

    def prepare(self) -> None:
        """Precompute at compile time."""

    @classmethod
    def check(cls, catalog: Catalog, config: C) -> list[Problem]:
        """Compile-time problems of one configured trigger (override in subclasses)."""
        return []

    @classmethod
    def problems(cls, catalog: Catalog, config: BaseModel) -> list[Problem]:
        # The compiler validated ``config`` with ``cls.Config``, which is ``C`` for this class.
        return cls.check(catalog, cast(C, config))

    def keys(self) -> list[IndexKey]:
        raise NotImplementedError

    def matches(self, ctx: TriggerContext) -> bool:
        raise NotImplementedError

    def reads(self) -> frozenset[str]:
        """Fields whose change can make this trigger fire (used for ``caused_by``)."""
        return frozenset()

    def reads_members(self) -> frozenset[str] | None:
        """Of a set-valued field it reads (tags), the members whose change can make it fire;
        None: a change of any member can (the flowchart's cascade edges)."""
        return None

    def normalised(self) -> dict[str, Any]:
        data = self.config.model_dump(mode="json", by_alias=True)
        return {"type": self.name, **data}

    def describe(self) -> str:
        extra = {k: v for k, v in self.normalised().items() if k != "type"}
        if not extra:
            return self.name
        return self.name + " " + ", ".join(f"{k}={v!r}" for k, v in extra.items())


class TimeTrigger(Trigger[C]):
    """Base class of time triggers: "pending for 3 business days", "30 minutes before the first
    reply is due". Subclasses implement ``holds`` and ``next_due`` (and ``holds_until`` when the
    condition ends by itself as time passes, ``explain_at`` for explanations).

    A time trigger matches only events of kind ``timer`` (index key ``("kind", "timer")``, not
    exact), and only when ``holds`` is true of the working values at ``now``; the cascade leaves
    out time triggers of rules in its ``latched`` set (rules that already fired for this
    condition). During a cascade, instants a rule's change would move (``status_changed_at``,
    ``solved_at``, ``updated_at``) read as ``now`` (``effective_values``)."""

    time_based: ClassVar[bool] = True
    event_kinds: ClassVar[frozenset[str]] = frozenset({"timer"})

    def keys(self) -> list[IndexKey]:
        return [("kind", "timer")]

    def matches(self, ctx: TriggerContext) -> bool:
        if ctx.kind != "timer" or ctx.now is None:
            return False
        now = utc(ctx.now)
        try:
            return self.holds(
                effective_values(ctx.values, ctx.changes, now), now, ctx.context or EMPTY_CONTEXT
            )
        except Exception:  # an ill-typed snapshot or a calendar that is never open: no match
            return False

    def holds(self, snapshot: Mapping[str, Any], now: dt.datetime, ctx: EngineContext) -> bool:
        """Whether the time condition is true of ``snapshot`` at ``now``."""
        raise NotImplementedError

    def next_due(
        self, snapshot: Mapping[str, Any], now: dt.datetime, ctx: EngineContext
    ) -> dt.datetime | None:
        """The earliest instant >= ``now`` at which ``holds`` could become true if nothing else
        about the ticket changes: ``now`` if it holds now, None if it never can without a
        change."""
        raise NotImplementedError

    def holds_until(
        self, snapshot: Mapping[str, Any], now: dt.datetime, ctx: EngineContext
    ) -> dt.datetime | None:
        """When a condition that holds at ``now`` stops holding by time alone (None: only a
        change of the ticket ends it). Lets a latched rule re-arm, e.g. at midnight."""
        return None

    def explain_at(self, snapshot: Mapping[str, Any], now: dt.datetime, ctx: EngineContext) -> str:
        """One sentence: why the condition holds at ``now`` or not (override for details)."""
        held = self.holds(snapshot, now, ctx)
        if held:
            return f"{self.describe()}: holds"
        due = self.next_due(snapshot, now, ctx)
        when = f"due {iso(due)}, not yet" if due is not None else "cannot hold without a change"
        return f"{self.describe()}: {when}"


def utc(t: dt.datetime) -> dt.datetime:
    """An aware UTC datetime (a naive one is taken as UTC, as conditions do)."""
    if t.tzinfo is None or t.utcoffset() is None:
        return t.replace(tzinfo=dt.UTC)
    return t.astimezone(dt.UTC)


def instant(value: Any) -> dt.datetime | None:
    """A snapshot instant as an aware UTC datetime: datetimes, ISO strings; else None."""
    if isinstance(value, dt.datetime):
        return utc(value)
    if isinstance(value, str) and value:
        try:
            return utc(dt.datetime.fromisoformat(value))
        except ValueError:
            return None
    return None


def iso(t: dt.datetime) -> str:
    """``2026-01-02T10:00Z`` (seconds only when there are any)."""
    t = utc(t)
    text = t.strftime("%Y-%m-%dT%H:%M:%S" if t.second else "%Y-%m-%dT%H:%M")
    return text + "Z"


def effective_values(
    values: Mapping[str, Any], changes: Mapping[str, tuple[Any, Any]], now: dt.datetime
) -> Mapping[str, Any]:
    """``values`` with the instants the accumulated changes move: a changed status makes
    ``status_changed_at`` now (and ``solved_at`` now when it became solved or closed, None when it
    left them); any change makes ``updated_at`` now. Without changes, ``values`` itself."""
    if not changes:
        return values
    out = dict(values)
    out["updated_at"] = now
    pair = changes.get("status")
    if pair is not None:
        out["status_changed_at"] = now
        old, new = pair
        if new in SOLVED_STATUSES and old not in SOLVED_STATUSES:
            out["solved_at"] = now
        elif new not in SOLVED_STATUSES:
            out["solved_at"] = None
    return out


TRIGGERS: Registry[type[Trigger[Any]]] = Registry("trigger")

T = TypeVar("T", bound=type[Trigger[Any]])


def register(cls: T) -> T:
    TRIGGERS.add(cls.name, cls)
    return cls


@register
class Created(Trigger[NoConfig]):
    """A new ticket was created (this event, every pass of its cascade)."""

    name = "created"
    exact = True
    event_kinds: ClassVar[frozenset[str]] = frozenset({"created"})

    def keys(self) -> list[IndexKey]:
        return [("kind", "created")]

    def matches(self, ctx: TriggerContext) -> bool:
        return ctx.kind == "created"


@register
class Updated(Trigger[NoConfig]):
    """Any update of an existing ticket."""

    name = "updated"
    exact = True
    event_kinds: ClassVar[frozenset[str]] = frozenset({"updated"})

    def keys(self) -> list[IndexKey]:
        return [("kind", "updated")]

    def matches(self, ctx: TriggerContext) -> bool:
        return ctx.kind == "updated"


def _check_from_to(catalog: Catalog, spec: FieldSpec | None, config: FromTo) -> list[Problem]:
    out: list[Problem] = []
    if spec is None:
        return out
    given = config.model_fields_set
    for key, value, was_given in (
        ("from", config.from_, "from_" in given or "from" in given),
        ("to", config.to, "to" in given),
    ):
        if was_given and value is not None:
            bad = check_value(catalog, spec, value)
            if bad:
                out.append((key, bad[0], bad[1]))
    return out


F = TypeVar("F", bound=FromTo)


class _ChangeTrigger(Trigger[F]):
    """Shared by field_changed and its sugar: compares the accumulated (old, new) of one field."""

    Config: ClassVar[type[BaseModel]] = FromTo
    fixed_field: ClassVar[str] = ""

    def prepare(self) -> None:
        cfg = self.config
        self.field: str = cfg.field if isinstance(cfg, FieldChange) else self.fixed_field
        fields_set = cfg.model_fields_set
        self.has_from = "from_" in fields_set or "from" in fields_set
        self.has_to = "to" in fields_set
        self.from_key = fold(cfg.from_)
        self.to_key = fold(cfg.to)
        self.exact = not self.has_from and not self.has_to

    @classmethod
    def check(cls, catalog: Catalog, config: F) -> list[Problem]:
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
            out["from"] = self.config.from_
        if self.has_to:
            out["to"] = self.config.to
        return out


@register
class FieldChanged(_ChangeTrigger[FieldChange]):
    """A field changed in this update (optionally from/to given values)."""

    name = "field_changed"
    Config = FieldChange

    @classmethod
    def check(cls, catalog: Catalog, config: FieldChange) -> list[Problem]:
        spec = catalog.field(config.field)
        if spec is None:
            return [
                ("field", f"unknown field {config.field!r}", catalog.suggest_field(config.field))
            ]
        return _check_from_to(catalog, spec, config)


def _sugar(field: str) -> type[_ChangeTrigger[FromTo]]:
    class Sugar(_ChangeTrigger[FromTo]):
        fixed_field = field

    Sugar.name = f"{field}_changed"
    Sugar.__name__ = Sugar.__qualname__ = field.title() + "Changed"
    Sugar.__doc__ = f"Sugar for field_changed on {field!r} (from/to optional)."
    return register(Sugar)


StatusChanged = _sugar("status")
PriorityChanged = _sugar("priority")
AssigneeChanged = _sugar("assignee")
TeamChanged = _sugar("team")


@register
class TagsChanged(Trigger[TagsChange]):
    """Tags changed; optionally a given tag was added or removed."""

    name = "tags_changed"
    Config = TagsChange

    def prepare(self) -> None:
        cfg = self.config
        self.added = (cfg.added or "").lower() or None
        self.removed = (cfg.removed or "").lower() or None

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

    def reads_members(self) -> frozenset[str] | None:
        named = frozenset(t for t in (self.added, self.removed) if t is not None)
        return named or None

    def normalised(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.name}
        if self.added is not None:
            out["added"] = self.added
        if self.removed is not None:
            out["removed"] = self.removed
        return out


class _MessageTrigger(Trigger[C]):
    public: ClassVar[bool] = True
    author: ClassVar[str] = "any"
    exact = True
    #: a created event carries no message (the request is not a reply); a timer event neither
    event_kinds: ClassVar[frozenset[str]] = frozenset({"updated"})

    def prepare(self) -> None:
        cfg = self.config
        self.want_author = cfg.author if isinstance(cfg, MessageConfig) else self.author

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
class MessageAdded(_MessageTrigger[MessageConfig]):
    """A public message was added (by the given author kind, or anyone)."""

    name = "message_added"
    Config = MessageConfig


@register
class CustomerReplied(_MessageTrigger[NoConfig]):
    """The customer added a public message."""

    name = "customer_replied"
    author = "customer"


@register
class AgentReplied(_MessageTrigger[NoConfig]):
    """An agent added a public reply."""

    name = "agent_replied"
    author = "agent"


@register
class NoteAdded(_MessageTrigger[NoConfig]):
    """An internal note (public = false) was added, by anyone."""

    name = "note_added"
    public = False


#: Channel events: things a channel tells the engine that are no field change and no message
#: (a chat began, a chat message, a chat ended). Each travels in the event's change set as a
#: pseudo-change of its own name, ``{name: (False, True)}`` — never a snapshot field (no
#: vocabulary field has these names) — so every evaluator's exact field keys serve them.
CHANNEL_EVENTS = ("chat_started", "chat_message", "chat_ended")


def channel_event_changes(names: tuple[str, ...]) -> dict[str, tuple[Any, Any]]:
    """The pseudo-changes that carry ``names`` (channel events) to the triggers."""
    unknown = [n for n in names if n not in CHANNEL_EVENTS]
    if unknown:
        raise ValueError(f"unknown channel event(s) {unknown}")
    return {name: (False, True) for name in names}


class _ChannelEvent(Trigger[NoConfig]):
    exact = True
    event_kinds: ClassVar[frozenset[str]] = frozenset({"created", "updated"})

    def keys(self) -> list[IndexKey]:
        return [("field", self.name)]

    def matches(self, ctx: TriggerContext) -> bool:
        return self.name in ctx.changes


@register
class ChatStarted(_ChannelEvent):
    """A visitor started a live chat (the chat ticket's creation)."""

    name = "chat_started"
    event_kinds: ClassVar[frozenset[str]] = frozenset({"created"})


@register
class ChatMessage(_ChannelEvent):
    """A message was sent in a live chat, by the visitor or by an agent in the chat console."""

    name = "chat_message"
    event_kinds: ClassVar[frozenset[str]] = frozenset({"updated"})


@register
class ChatEnded(_ChannelEvent):
    """A live chat ended (the visitor or an agent ended it)."""

    name = "chat_ended"
    event_kinds: ClassVar[frozenset[str]] = frozenset({"updated"})
