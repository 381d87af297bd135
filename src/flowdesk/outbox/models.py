"""Everything that leaves flowdesk (e-mail replies, notifications, webhooks, surveys) is
first a row here, written in the same transaction as the update that caused it, and delivered
after commit."""

from __future__ import annotations

from django.db import models

from flowdesk.core.clock import utcnow
from flowdesk.tickets.models import Message, Ticket, TicketUpdate


class OutboxKind(models.TextChoices):
    REPLY = "reply"
    NOTIFY = "notify"
    WEBHOOK = "webhook"
    SURVEY = "survey"


class OutboxStatus(models.TextChoices):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class OutboxItem(models.Model):
    kind = models.CharField(max_length=16, choices=OutboxKind.choices)
    ticket = models.ForeignKey(
        Ticket, null=True, blank=True, on_delete=models.PROTECT, related_name="outbox"
    )
    # A reply's outbox item points to the message it sends: one delivery per message.
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.PROTECT, related_name="outbox"
    )
    update = models.ForeignKey(
        TicketUpdate, null=True, blank=True, on_delete=models.SET_NULL, related_name="outbox"
    )
    rule = models.CharField(max_length=200, blank=True)
    payload = models.JSONField()
    # One delivery per key, enforced by the database: a retried update cannot queue twice.
    idempotency_key = models.CharField(max_length=200, unique=True)
    status = models.CharField(
        max_length=16, choices=OutboxStatus.choices, default=OutboxStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=5)
    next_attempt_at = models.DateTimeField(default=utcnow, db_index=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=utcnow)
    delivered_at = models.DateTimeField(null=True, blank=True)
    # Where it goes (a webhook's host:port, "smtp" for mail): the unit of per-destination
    # concurrency and of the circuit breaker, so a slow receiver delays only its own items.
    destination = models.CharField(max_length=300, blank=True, default="")
    # A claim is a lease: the worker that holds it, until when (extended by its heartbeat), and
    # when the attempt began. Any worker may take over an item whose lease has expired.
    lease_owner = models.CharField(max_length=100, blank=True, default="")
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    attempt_started_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["status", "lease_expires_at"], name="outbox_lease_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.status})"
