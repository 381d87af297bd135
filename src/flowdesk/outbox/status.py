"""Is delivery keeping up: what ``GET /api/outbox/status`` and ``flowdesk status`` show."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Min, Q

from flowdesk.outbox.models import OutboxItem, OutboxStatus
from flowdesk.outbox.services import lease_length


def stuck_after() -> timedelta:
    """An attempt that has run longer than this is stuck, although its worker renews its lease:
    a lease, plus twice the longest a delivery may wait for an answer."""
    conf = settings.FLOWDESK
    timeout = max(
        float(conf["WEBHOOK_TIMEOUT_SECONDS"]),
        float(settings.EMAIL_TIMEOUT or conf["MAIL_TIMEOUT_SECONDS"]),
    )
    return lease_length() + timedelta(seconds=2 * timeout)


def outbox_status(now: datetime) -> dict[str, Any]:
    """The backlog and how late it is, leases in flight, expired ones (their worker died; a
    live worker takes them over on its next poll) and stuck ones (an attempt running far longer
    than any delivery may take: its worker lives but the delivery hangs), and the backlog per
    destination. One aggregate over the pending rows, one count, one grouping."""
    pending = OutboxItem.objects.filter(status=OutboxStatus.PENDING)
    leased = Q(lease_expires_at__gte=now)
    expired = Q(lease_expires_at__lt=now)
    due = Q(next_attempt_at__lte=now) & (Q(lease_expires_at__isnull=True) | expired)
    a = pending.aggregate(
        pending=Count("id"),
        due=Count("id", filter=due),
        in_flight=Count("id", filter=leased),
        expired=Count("id", filter=expired),
        stuck=Count("id", filter=leased & Q(attempt_started_at__lt=now - stuck_after())),
        oldest=Min("created_at"),
        oldest_due=Min("next_attempt_at", filter=due),
        longest=Min("attempt_started_at", filter=leased),
    )
    rows = pending.values("destination").order_by().annotate(n=Count("id")).order_by("-n")[:50]

    def age(then: datetime | None) -> float | None:
        return max(0.0, (now - then).total_seconds()) if then else None

    return {
        "pending": a["pending"],
        "due": a["due"],
        "in_flight": a["in_flight"],
        "expired_leases": a["expired"],
        "stuck_leases": a["stuck"],
        "failed": OutboxItem.objects.filter(status=OutboxStatus.FAILED).count(),
        "oldest_pending_age_seconds": age(a["oldest"]),
        "oldest_due_wait_seconds": age(a["oldest_due"]),
        "longest_attempt_seconds": age(a["longest"]),
        "backlog_by_destination": {str(r["destination"]) or "-": int(r["n"]) for r in rows},
    }
