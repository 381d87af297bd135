"""A macro: a reply (or internal note) with placeholders and field changes, stored as the
definition the API and YAML files use (``definition.MacroDef``), validated when saved."""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Lower

from flowdesk.accounts.models import Team, User
from flowdesk.core.clock import utcnow


class Visibility(models.TextChoices):
    EVERYONE = "everyone"  # every agent
    TEAM = "team"  # the members of ``team``
    PERSONAL = "personal"  # ``owner`` only


class Macro(models.Model):
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    active = models.BooleanField(default=True)
    visibility = models.CharField(
        max_length=10, choices=Visibility.choices, default=Visibility.EVERYONE
    )
    # A team or owner deleted later leaves the macro to admins (visible to no agent).
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="macros"
    )
    owner = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="personal_macros"
    )
    # "" = no message; the text may hold {{ placeholders }} (checked against the catalog).
    reply_body = models.TextField(blank=True, default="")
    reply_public = models.BooleanField(default=True)
    # The field changes as the API names them: {"status": "pending", "add_tags": [...], ...}
    changes = models.JSONField(default=dict, blank=True)
    position = models.PositiveIntegerField(default=0)
    usage_count = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=utcnow)
    updated_at = models.DateTimeField(default=utcnow)

    class Meta:
        constraints = [models.UniqueConstraint(Lower("name"), name="macros_macro_name_ci")]

    def __str__(self) -> str:
        return self.name
