"""Template filters of the portal: a ticket's status as a customer reads it."""

from __future__ import annotations

from django import template
from django.utils.translation import gettext_lazy as _

register = template.Library()

STATUS_LABELS = {
    "new": _("Received"),
    "open": _("Open"),
    "pending": _("Waiting for your reply"),
    "on-hold": _("On hold"),
    "solved": _("Solved"),
    "closed": _("Closed"),
}


@register.filter
def status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))
