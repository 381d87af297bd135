"""Tickets, their messages, admin-defined custom fields, and the immutable event log."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, NoReturn

from django.db import models
from django.db.models import F
from django.db.models.expressions import RawSQL

from flowdesk.accounts.models import ApiToken, Organization, Team, User
from flowdesk.core.clock import utcnow
from flowdesk.engine.vocabulary import (
    AuthorKind,
    Channel,
    CustomFieldKind,
    Priority,
    Status,
    TicketType,
)
from flowdesk.tickets.cause import CauseKind

__all__ = [
    "AuthorKind",
    "CauseKind",
    "Channel",
    "CustomFieldDef",
    "CustomFieldKind",
    "EventKind",
    "ImmutableEventError",
    "Message",
    "Priority",
    "Status",
    "Ticket",
    "TicketEvent",
    "TicketMerge",
    "TicketTag",
    "TicketType",
    "TicketUpdate",
]


def choices(enum: type[StrEnum]) -> list[tuple[str, str]]:
    """Model choices from a vocabulary enum (values are their own labels)."""
    return [(m.value, m.value) for m in enum]


class CustomFieldDef(models.Model):
    """An admin-defined typed ticket field; rules address it as custom.<key>."""

    key = models.SlugField(max_length=64, unique=True)
    label = models.CharField(max_length=200)
    kind = models.CharField(max_length=8, choices=choices(CustomFieldKind))
    choices = models.JSONField(default=list, blank=True)

    def __str__(self) -> str:
        return self.key


#: urgent 3, high 2, normal 1, low 0: the priority as a number to sort by. Plain SQL without
#: parameters, so the index ``ticket_priority_rank`` is used for it on every database (a
#: parameterised CASE would not match the index in a prepared statement's generic plan).
PRIORITY_RANK_SQL = (
    "CASE priority WHEN 'urgent' THEN 3 WHEN 'high' THEN 2 WHEN 'normal' THEN 1 ELSE 0 END"
)
PRIORITY_RANK = RawSQL(PRIORITY_RANK_SQL, [], output_field=models.IntegerField())


class Ticket(models.Model):
    subject = models.CharField(max_length=500)
    status = models.CharField(max_length=16, choices=choices(Status), default=Status.NEW)
    priority = models.CharField(max_length=16, choices=choices(Priority), default=Priority.NORMAL)
    # NULL, not "": an unset type is None in snapshots, the API and rule conditions alike.
    type = models.CharField(  # noqa: DJ001
        max_length=16, choices=choices(TicketType), null=True, blank=True
    )
    channel = models.CharField(max_length=16, choices=choices(Channel), default=Channel.API)
    requester = models.ForeignKey(User, on_delete=models.PROTECT, related_name="requested_tickets")
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets"
    )
    assignee = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_tickets"
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets"
    )
    followers = models.ManyToManyField(User, related_name="followed_tickets", blank=True)
    tags = models.JSONField(default=list, blank=True)
    custom_fields = models.JSONField(default=dict, blank=True)
    #: Where the ticket came from, as its channel saw it (read-only after creation; rules read
    #: it as ``source.*``): ``mailbox`` (name), ``address`` (the sender's e-mail), ``headers``
    #: (lower-case name -> value, the few a channel keeps), ``page_url`` (the page a chat
    #: started on), ``language`` (the one the customer wrote in, when the channel knows it).
    source = models.JSONField(
        default=dict, db_default=models.Value({}, output_field=models.JSONField()), blank=True
    )
    message_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=utcnow, db_index=True)
    updated_at = models.DateTimeField(default=utcnow, db_index=True)
    solved_at = models.DateTimeField(null=True, blank=True)
    # What time rules and SLA clocks measure from (set by the ticket services).
    status_changed_at = models.DateTimeField(null=True, blank=True)
    last_customer_message_at = models.DateTimeField(null=True, blank=True)
    last_agent_message_at = models.DateTimeField(null=True, blank=True)
    # Optimistic concurrency: every update bumps it; an update based on an older one is refused.
    version = models.PositiveIntegerField(default=1)
    #: a ticket merged into another: closed, its conversation moved there (docs/customers.md)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged_from"
    )

    #: Not a column: the followers' e-mails as the writers left them after an update, so the
    #: answer to that update needs no query (None: not known, read the join table).
    follower_emails: frozenset[str] | None = None
    #: set by do_create_ticket / do_update_ticket: the message made of the caller's NewMessage
    #: (not one a rule added in the same update); None when the update added none
    added_message: Message | None = None

    class Meta:
        indexes = [
            models.Index(fields=["status", "priority"]),
            models.Index(fields=["assignee", "status"]),
            models.Index(fields=["team", "status"]),
            # "Priority, then last updated" lists read this index in order (no sort of every
            # matching ticket): the query orders by exactly PRIORITY_RANK.
            models.Index(PRIORITY_RANK, F("updated_at"), F("id"), name="ticket_priority_rank"),
            models.Index(fields=["solved_at"], name="ticket_solved_at"),  # recently solved
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.subject}"


class TicketTag(models.Model):
    """One row per tag, so tickets can be filtered by tag with an index on every database."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="tag_rows")
    name = models.CharField(max_length=100, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["ticket", "name"], name="unique_ticket_tag")]

    def __str__(self) -> str:
        return self.name


class TicketUpdate(models.Model):
    """One update = one transaction: what caused it and the exact engine input, for explanations.

    Storing the snapshot and event the engine saw (plus the rule-set version) lets the explanation
    of any update be recomputed exactly, later, without storing every non-match.
    """

    # History is never deleted with its ticket (PROTECT): tickets are closed or merged, not erased.
    ticket = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="updates")
    created_at = models.DateTimeField(default=utcnow)
    cause_kind = models.CharField(max_length=16, choices=choices(CauseKind))
    actor = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    token = models.ForeignKey(
        ApiToken, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cause_detail = models.CharField(max_length=200, blank=True)
    ruleset_version = models.PositiveIntegerField(null=True, blank=True)
    engine_snapshot = models.JSONField(null=True, blank=True)
    engine_event = models.JSONField(null=True, blank=True)
    # What fired (names, passes, conflicts): the stored part of the explanation.
    automation = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"update #{self.pk} of ticket {self.ticket_id}"


class Message(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="messages")
    update = models.ForeignKey(
        TicketUpdate, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    author = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author_kind = models.CharField(max_length=16, choices=choices(AuthorKind))
    public = models.BooleanField(default=True)
    channel = models.CharField(max_length=16, choices=choices(Channel), default=Channel.API)
    body_text = models.TextField()
    body_html = models.TextField(blank=True)
    attachments = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=utcnow)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"message #{self.pk} on ticket {self.ticket_id}"


class EventKind(models.TextChoices):
    CREATED = "created"
    FIELD_CHANGED = "field_changed"
    MESSAGE_ADDED = "message_added"
    NOTE_ADDED = "note_added"
    TAG_ADDED = "tag_added"
    TAG_REMOVED = "tag_removed"
    ASSIGNED = "assigned"
    FOLLOWER_ADDED = "follower_added"
    RULE_FIRED = "rule_fired"
    ESCALATED = "escalated"
    FOLLOWER_REMOVED = "follower_removed"
    OUTBOX_QUEUED = "outbox_queued"
    DELIVERY_ATTEMPT_FAILED = "delivery_attempt_failed"
    DELIVERED = "delivered"
    DELIVERY_FAILED = "delivery_failed"
    AUTOMATION_ERROR = "automation_error"
    ROUTED = "routed"
    SLA_CHANGED = "sla_changed"
    SLA_BREACHED = "sla_breached"
    CUSTOMER_MERGED = "customer_merged"
    CUSTOMER_UNMERGED = "customer_unmerged"
    TICKET_MERGED = "ticket_merged"
    TICKET_UNMERGED = "ticket_unmerged"


class ImmutableEventError(Exception):
    pass


class EventQuerySet(models.QuerySet["TicketEvent"]):
    """Append-only at the queryset level too: no bulk update or delete of history."""

    def update(self, **kwargs: Any) -> NoReturn:
        raise ImmutableEventError("ticket events are immutable")

    def delete(self) -> NoReturn:
        raise ImmutableEventError("ticket events are immutable")

    def bulk_update(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise ImmutableEventError("ticket events are immutable")


class TicketEvent(models.Model):
    """An append-only fact about a ticket. Never updated or deleted through the ORM."""

    ticket = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="events")
    update = models.ForeignKey(TicketUpdate, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=32, choices=EventKind.choices)
    field = models.CharField(max_length=100, blank=True)
    old_value = models.JSONField(null=True, blank=True)
    new_value = models.JSONField(null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)
    cause_kind = models.CharField(max_length=16, choices=choices(CauseKind))
    actor = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    token = models.ForeignKey(
        ApiToken, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cause_detail = models.CharField(max_length=200, blank=True)
    rule = models.CharField(max_length=200, blank=True)
    rule_chain = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=utcnow, db_index=True)

    objects = EventQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["ticket", "id"]),
            models.Index(fields=["kind", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind} on ticket {self.ticket_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ImmutableEventError("ticket events are immutable")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise ImmutableEventError("ticket events are immutable")


class TicketMerge(models.Model):
    """One merge of ticket ``source`` into ``target``: the messages it moved and the status the
    source had, so that an unmerge restores exactly that."""

    source = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="+")
    target = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="+")
    actor = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    #: {"messages": [...], "status": "<the source's status before>"}
    moved = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=utcnow)
    undone_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"ticket {self.source_id} into {self.target_id}"
