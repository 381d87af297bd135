"""Stored calendars and SLA policies, each ticket's SLA clocks, and breaches (recorded once)."""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Lower

from flowdesk.accounts.models import Team
from flowdesk.core.clock import utcnow
from flowdesk.engine.vocabulary import SlaMetric
from flowdesk.tickets.models import Ticket, TicketUpdate, choices


class Calendar(models.Model):
    """A business-hours calendar: its definition is the dict form of ``flowdesk.calendars``
    (``calendar_from_dict``), validated when saved. One calendar may be the default."""

    name = models.CharField(max_length=100, unique=True)
    definition = models.JSONField()
    is_default = models.BooleanField(default=False)
    updated_at = models.DateTimeField(default=utcnow)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=models.Q(is_default=True),
                name="one_default_calendar",
            ),
            models.UniqueConstraint(Lower("name"), name="calendar_name_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class TeamCalendar(models.Model):
    """The calendar a team works by (tickets of the team use it; others use the default)."""

    team = models.OneToOneField(
        Team, on_delete=models.CASCADE, primary_key=True, related_name="calendar_link"
    )
    calendar = models.ForeignKey(Calendar, on_delete=models.PROTECT, related_name="team_links")

    def __str__(self) -> str:
        return f"{self.team} uses {self.calendar}"


class SlaPolicy(models.Model):
    """One policy of the ordered list (first match wins); ``definition`` is the dict form of
    ``flowdesk.sla.policy`` (conditions, per-priority targets, pause statuses)."""

    name = models.CharField(max_length=100, unique=True)
    position = models.PositiveIntegerField()
    definition = models.JSONField()
    updated_at = models.DateTimeField(default=utcnow)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name


class SlaStoreVersion(models.Model):
    """One row whose token changes in every transaction that changes calendars, team calendars
    or policies: the per-process cache (``flowdesk.sla.cache``) reads it on every ticket update
    to know whether what it holds is still current, in this process and in every other one.
    A random token, not a counter: a rolled-back change never leaves a key a later change reuses.
    """

    token = models.CharField(max_length=32)
    changed_at = models.DateTimeField(default=utcnow)

    def __str__(self) -> str:
        return f"SLA store version {self.token}"


class TicketSla(models.Model):
    """A ticket's SLA state: the policy that applies and each clock's last computed state (the
    API and ``flowdesk sla explain`` show it). Recomputed on every update of the ticket."""

    ticket = models.OneToOneField(
        Ticket, on_delete=models.CASCADE, primary_key=True, related_name="sla"
    )
    policy = models.CharField(max_length=100, blank=True)
    calendar = models.CharField(max_length=100, blank=True)
    clocks = models.JSONField(default=dict, blank=True)
    computed_at = models.DateTimeField(default=utcnow)

    def __str__(self) -> str:
        return f"SLA of ticket {self.ticket_id}"


class SlaBreach(models.Model):
    """A clock that passed its target. Unique per (ticket, metric, cycle): a breach is recorded
    exactly once, by the database, however many workers see it come due (``cycle`` numbers the
    repeated clocks, next reply and periodic update; first reply and resolution have cycle 0)."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="sla_breaches")
    metric = models.CharField(max_length=32, choices=choices(SlaMetric))
    cycle = models.PositiveIntegerField(default=0)
    policy = models.CharField(max_length=100)
    due_at = models.DateTimeField()
    recorded_at = models.DateTimeField(default=utcnow)
    update = models.ForeignKey(
        TicketUpdate, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["ticket", "metric", "cycle"], name="sla_breach_once")
        ]

    def __str__(self) -> str:
        return f"{self.metric} breach of ticket {self.ticket_id}"
