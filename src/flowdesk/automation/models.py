"""Rule sets as data: every import or restore is a new numbered version; the newest is active."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.db import models

from flowdesk.accounts.models import User
from flowdesk.core.clock import utcnow


def definition_digest(definition: Any) -> str:
    """The identity of a definition's content: the compile cache's key, whatever database it
    came from (numbers repeat across test databases and restored backups)."""
    text = json.dumps(definition, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


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
    digest = models.CharField(max_length=64, default="")

    class Meta:
        ordering = ["-number"]
        # Covers the per-update "which version is active" read: (number, digest) come from the
        # index alone, never from a row whose definition may be megabytes (SQLite would walk
        # the row's overflow pages to reach a column stored after it).
        indexes = [models.Index(fields=["number", "digest"], name="ruleset_head")]

    def __str__(self) -> str:
        return f"rule set v{self.number}"


class WebhookEndpoint(models.Model):
    """A destination rules may call: every call to it is signed with its active secrets.

    ``prefix``: every URL under ``url`` (same scheme, host and port, path below it) belongs to
    it; otherwise ``url`` exactly. ``allow_private``: an admin vouches that this host may be (or
    resolve to) a private address, e.g. a service on the desk's own network."""

    name = models.CharField(max_length=100, unique=True)
    url = models.CharField(max_length=2000)
    prefix = models.BooleanField(default=False)
    allow_private = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=utcnow)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"webhook endpoint {self.name}"


class WebhookSecret(models.Model):
    """One signing secret. It must be readable to sign, so it is stored as issued (database
    access is secret access, like FLOWDESK_SECRET_KEY); the API shows it once, when issued.
    Two may be active during a rotation; a retired one never signs again."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="secrets")
    secret = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=utcnow)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"secret {self.pk} of {self.endpoint_id}"
