"""One durable timer per (ticket, purpose): ``due_at`` is moved as the ticket changes, never a
new row per change. A worker claims a due timer with a lease (as for the outbox) and fires it:
an update of the ticket caused by the timer (``tickets.services.do_timer_update``)."""

from __future__ import annotations

from django.db import models

from flowdesk.core.clock import utcnow
from flowdesk.tickets.models import Ticket


class Timer(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="timers")
    # "rules" (time rules), "sla" (a clock's due time), "return" (assignment return),
    # "escalation" (next level of an escalation path) ...
    purpose = models.CharField(max_length=32)
    due_at = models.DateTimeField(null=True, blank=True)
    # What the owner of the purpose keeps with it (the time rules that fired while their
    # condition still holds, an escalation path's level ...).
    state = models.JSONField(default=dict, blank=True)
    lease_owner = models.CharField(max_length=100, blank=True, default="")
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    fired_count = models.PositiveIntegerField(default=0)
    last_fired_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=utcnow)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["ticket", "purpose"], name="one_timer_per_purpose")
        ]
        indexes = [models.Index(fields=["due_at"], name="timer_due_idx")]

    def __str__(self) -> str:
        return f"{self.purpose} timer of ticket {self.ticket_id} due {self.due_at}"
