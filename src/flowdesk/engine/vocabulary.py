"""The ticket vocabulary, defined once: the contract between the engine and the Django side.

The engine owns the shape of the snapshot it evaluates, so the words of that shape live here, in
pure Python: the choices of every enumerated ticket field and the base snapshot fields with their
kinds. The Django side builds its model choices, API enums, field bindings (tickets/fields.py) and
catalog from these; a test fails if any of them drifts. Dependencies point one way: the Django
side imports this module, never the other way round.
"""

from __future__ import annotations

from enum import StrEnum

from .fieldspec import FieldSpec


class Status(StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    ON_HOLD = "on-hold"
    SOLVED = "solved"
    CLOSED = "closed"


class Priority(StrEnum):
    """In escalation order: ``escalate {priority: raise}`` moves one step along it."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class TicketType(StrEnum):
    QUESTION = "question"
    INCIDENT = "incident"
    PROBLEM = "problem"
    TASK = "task"


class Channel(StrEnum):
    EMAIL = "email"
    WEB = "web"
    PORTAL = "portal"
    CHAT = "chat"
    API = "api"
    PHONE = "phone"


class AuthorKind(StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"
    SYSTEM = "system"


class Tier(StrEnum):
    """Organization tiers rules can read as ``organization.tier``."""

    ENTERPRISE = "enterprise"
    BUSINESS = "business"
    FREE = "free"


class CustomFieldKind(StrEnum):
    """Kinds an admin may give a custom field: each is also an engine field kind."""

    TEXT = "text"
    INT = "int"
    NUMBER = "number"
    BOOL = "bool"
    ENUM = "enum"
    DATE = "date"


def values(enum: type[StrEnum]) -> tuple[str, ...]:
    return tuple(m.value for m in enum)


STATUSES = values(Status)
PRIORITIES = values(Priority)
TYPES = values(TicketType)
CHANNELS = values(Channel)
AUTHOR_KINDS = values(AuthorKind)
TIERS = values(Tier)

#: Statuses in which a ticket counts as solved (``solved_at`` is set).
SOLVED_STATUSES = frozenset({Status.SOLVED.value, Status.CLOSED.value})

#: The base snapshot fields, in snapshot order. Prefix families (``custom.<key>``,
#: ``requester.<attr>``, ``organization.<attr>``) are added per installation.
BASE_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("id", "int"),
    FieldSpec("subject", "text"),
    FieldSpec("status", "enum", STATUSES),
    FieldSpec("priority", "enum", PRIORITIES),
    FieldSpec("type", "enum", TYPES),
    FieldSpec("channel", "enum", CHANNELS),
    FieldSpec("tags", "tags"),
    FieldSpec("assignee", "ref", ref_to="agent"),
    FieldSpec("team", "ref", ref_to="team"),
    FieldSpec("followers", "set", ref_to="agent"),
    FieldSpec("requester.email", "text"),
    FieldSpec("requester.name", "text"),
    FieldSpec("organization.name", "text"),
    FieldSpec("message_count", "int"),
    FieldSpec("age_hours", "number"),
    FieldSpec("hours_since_update", "number"),
    FieldSpec("latest_message.body", "text"),
    FieldSpec("latest_message.author_kind", "enum", AUTHOR_KINDS),
    FieldSpec("latest_message.public", "bool"),
)

#: Default organization attributes (an installation's catalog adds what its data holds).
ORGANIZATION_FIELDS: tuple[FieldSpec, ...] = (FieldSpec("tier", "enum", TIERS),)
