"""Rule sets as data: every import or restore is a new numbered version; the newest is active."""

from __future__ import annotations

from django.db import models

from flowdesk.accounts.models import User
from flowdesk.core.clock import utcnow


class RuleSetVersion(models.Model):
    number = models.PositiveIntegerField(unique=True)
    # The normalised definition the engine compiles (JSON); source_text keeps what the admin sent.
    definition = models.JSONField()
    source_text = models.TextField(blank=True)
    source_name = models.CharField(max_length=300, blank=True)
    author = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    comment = models.CharField(max_length=500, blank=True)
    restored_from = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=utcnow)

    class Meta:
        ordering = ["-number"]

    def __str__(self) -> str:
        return f"rule set v{self.number}"
