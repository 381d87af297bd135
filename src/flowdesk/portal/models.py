"""A request filed on the portal without an account, waiting for its confirmation link.

The ticket is created only when the link mailed to the address is opened; the row remembers the
ticket it became, so opening the link again (or twice at once) creates nothing more.
"""

from __future__ import annotations

from django.db import models

from flowdesk.core.clock import utcnow
from flowdesk.tickets.models import Ticket


class PendingRequest(models.Model):
    name = models.CharField(max_length=200)
    email = models.EmailField()
    subject = models.CharField(max_length=500)
    body = models.TextField()
    language = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField(default=utcnow)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    ticket = models.OneToOneField(
        Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"pending request #{self.pk} from {self.email}"
