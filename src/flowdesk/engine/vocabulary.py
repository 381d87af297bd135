"""The ticket vocabulary, defined once: the contract between the engine and the Django side.

The engine owns the shape of the snapshot it evaluates, so the words of that shape live here, in
pure Python: the choices of every enumerated ticket field and the base snapshot fields with their
kinds. The Django side builds its model choices, API enums, field bindings (tickets/fields.py) and
catalog from these; a test fails if any of them drifts. Dependencies point one way: the Django
side imports this module, never the other way round.
"""

from __future__ import annotations

import re
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


class SlaMetric(StrEnum):
    """The SLA clocks a policy can set targets for (docs/sla.md, "SLA policies")."""

    FIRST_REPLY = "first_reply"
    NEXT_REPLY = "next_reply"
    PERIODIC_UPDATE = "periodic_update"
    RESOLUTION = "resolution"


class SlaState(StrEnum):
    """A clock's state as rules see it (``sla.<metric>.state``)."""

    RUNNING = "running"
    PAUSED = "paused"
    MET = "met"
    BREACHED = "breached"


SLA_METRICS = tuple(m.value for m in SlaMetric)
SLA_STATES = tuple(m.value for m in SlaState)

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
    # Where the ticket came from (``Ticket.source``, set by its channel at creation, read-only):
    # the mailbox's name, the sender's address (lower-case) and its domain, the page a chat
    # started on. Header values are the dynamic keys ``source.header.<name>`` (HEADER_PREFIX).
    FieldSpec("source.mailbox", "text"),
    FieldSpec("source.address", "text"),
    FieldSpec("source.domain", "text"),
    FieldSpec("source.page_url", "text"),
    # The ticket's language: the one its channel saw, else the requester's choice, else the
    # site's default.
    FieldSpec("language", "text"),
    FieldSpec("message_count", "int"),
    FieldSpec("age_hours", "number"),
    FieldSpec("hours_since_update", "number"),
    FieldSpec("latest_message.body", "text"),
    FieldSpec("latest_message.author_kind", "enum", AUTHOR_KINDS),
    FieldSpec("latest_message.public", "bool"),
    # Instants (aware UTC datetimes in the engine snapshot, ISO strings in its JSON form): what
    # time rules measure from. Derived: never reported as changes.
    FieldSpec("created_at", "date"),
    FieldSpec("updated_at", "date"),
    FieldSpec("status_changed_at", "date"),
    FieldSpec("solved_at", "date"),
    FieldSpec("last_customer_message_at", "date"),
    FieldSpec("last_agent_message_at", "date"),
    # The business-hours calendar that applies to the ticket (its team's, else the default).
    FieldSpec("calendar", "text"),
    # The SLA policy that applies, and each clock's due instant and state (None: no clock).
    FieldSpec("sla.policy", "text"),
    *(
        spec
        for m in SLA_METRICS
        for spec in (
            FieldSpec(f"sla.{m}.due_at", "date"),
            FieldSpec(f"sla.{m}.state", "enum", SLA_STATES),
        )
    ),
)

#: The prefix of the header keys (``source.header.x-priority``): any header name, lower-case in
#: the snapshot, so a rule may write it in any case; a header the ticket's mail lacks is null.
HEADER_PREFIX = "source.header."
_HEADER_NAME = re.compile(r"[!-9;-~]+")  # RFC 5322 field name: printable ASCII but ':'


def header_key(name: str) -> str | None:
    """The snapshot key of a ``source.header.<name>`` field name (lower-case), or None when
    ``name`` is not one."""
    if name[: len(HEADER_PREFIX)].lower() != HEADER_PREFIX:
        return None
    header = name[len(HEADER_PREFIX) :]
    return HEADER_PREFIX + header.lower() if _HEADER_NAME.fullmatch(header) else None


#: Snapshot keys holding instants (datetimes): the snapshot's JSON form turns them into ISO
#: strings and back.
INSTANT_KEYS = frozenset(f.name for f in BASE_FIELDS if f.kind == "date")

#: Default organization attributes (an installation's catalog adds what its data holds).
ORGANIZATION_FIELDS: tuple[FieldSpec, ...] = (FieldSpec("tier", "enum", TIERS),)
