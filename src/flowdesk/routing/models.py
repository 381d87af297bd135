"""Routing state: one profile per agent, one routing row per team (also the row that serializes
the team's assignment decisions), and the escalation paths."""

from __future__ import annotations

from django.db import models

from flowdesk.accounts.models import Team, User
from flowdesk.core.clock import utcnow


class Availability(models.TextChoices):
    ONLINE = "online"  # takes new tickets
    AWAY = "away"  # keeps their tickets, takes no new ones
    OFFLINE = "offline"  # gone: takes no new tickets, return timers take theirs back


class AgentProfile(models.Model):
    user = models.OneToOneField(
        User, primary_key=True, on_delete=models.CASCADE, related_name="routing_profile"
    )
    availability = models.CharField(
        max_length=8, choices=Availability.choices, default=Availability.ONLINE
    )
    # An inline calendar (flowdesk.calendars.calendar_from_dict); None: always working.
    schedule = models.JSONField(null=True, blank=True)
    # Most open tickets at once; None: unlimited.
    capacity = models.PositiveIntegerField(null=True, blank=True)
    skills = models.JSONField(default=list, blank=True)
    last_assigned_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=utcnow)

    def __str__(self) -> str:
        return f"routing profile of {self.user_id}"


class TeamRouting(models.Model):
    """Locked (SELECT ... FOR UPDATE) by every assignment decision for its team."""

    team = models.OneToOneField(
        Team, primary_key=True, on_delete=models.CASCADE, related_name="routing"
    )
    # Default strategy for new / re-teamed unassigned tickets; "" = none.
    strategy = models.CharField(max_length=32, blank=True, default="")
    return_after_seconds = models.PositiveIntegerField(null=True, blank=True)
    reassign_when_offline = models.BooleanField(default=False)
    # round_robin: the user id of the member who got the team's last ticket.
    rr_last_user_id = models.BigIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(default=utcnow)

    def __str__(self) -> str:
        return f"routing of team {self.team_id}"


class EscalationPath(models.Model):
    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    # Ordered levels, validated by flowdesk.routing.escalation.LevelIn.
    levels = models.JSONField(default=list)
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=utcnow)
    updated_at = models.DateTimeField(default=utcnow)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name
