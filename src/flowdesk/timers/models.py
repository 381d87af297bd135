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
    # How late the last firing was (seconds after due_at): a timer that came due while no
    # worker ran fires at start-up, marked late.
    last_late_seconds = models.FloatField(null=True, blank=True)
    # A firing that raised is retried later; the error is kept here.
    last_error = models.TextField(blank=True)
    updated_at = models.DateTimeField(default=utcnow)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["ticket", "purpose"], name="one_timer_per_purpose")
        ]
        indexes = [models.Index(fields=["due_at"], name="timer_due_idx")]

    def __str__(self) -> str:
        return f"{self.purpose} timer of ticket {self.ticket_id} due {self.due_at}"


class WorkerBeat(models.Model):
    """A running worker's heartbeat: what ``flowdesk status`` and ``GET /api/timers/status``
    show about worker health (a beat older than a few intervals: the worker is gone)."""

    owner = models.CharField(max_length=100, unique=True)
    host = models.CharField(max_length=100, blank=True)
    pid = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(default=utcnow)
    beat_at = models.DateTimeField(default=utcnow, db_index=True)
    timers_fired = models.PositiveBigIntegerField(default=0)
    last_error = models.TextField(blank=True)

    def __str__(self) -> str:
        return self.owner
