"""Are timers firing on time, and are the workers alive: what ``GET /api/timers/status`` and
``flowdesk status`` show."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Max, Min, Q

from flowdesk.timers.models import Timer, WorkerBeat
from flowdesk.timers.runner import BEAT_SECONDS

#: A worker whose last beat is older than this is reported gone.
STALE_AFTER = timedelta(seconds=BEAT_SECONDS * 4)


def timer_status(now: datetime) -> dict[str, Any]:
    expired = Q(lease_expires_at__lt=now)
    a = Timer.objects.aggregate(
        scheduled=Count("id", filter=Q(due_at__isnull=False)),
        due=Count("id", filter=Q(due_at__lte=now)),
        expired=Count("id", filter=Q(due_at__isnull=False) & expired),
        oldest_due=Min("due_at", filter=Q(due_at__lte=now)),
        next_due=Min("due_at", filter=Q(due_at__gt=now)),
        failing=Count("id", filter=~Q(last_error="")),
        latest_late=Max("last_late_seconds"),
    )
    workers = [
        {
            "owner": b.owner,
            "host": b.host,
            "pid": b.pid,
            "started_at": b.started_at.isoformat(),
            "last_heartbeat_at": b.beat_at.isoformat(),
            "heartbeat_age_seconds": round((now - b.beat_at).total_seconds(), 1),
            "alive": now - b.beat_at <= STALE_AFTER,
            "timers_fired": b.timers_fired,
            "last_error": b.last_error,
        }
        for b in WorkerBeat.objects.filter(beat_at__gte=now - timedelta(hours=1)).order_by(
            "-beat_at"
        )[:50]
    ]
    oldest = a["oldest_due"]
    return {
        "scheduled": a["scheduled"],
        "due": a["due"],
        "expired_leases": a["expired"],
        "failing": a["failing"],
        "oldest_due_wait_seconds": max(0.0, (now - oldest).total_seconds()) if oldest else None,
        "next_due_at": a["next_due"].isoformat() if a["next_due"] else None,
        "workers": workers,
        "workers_alive": sum(1 for w in workers if w["alive"]),
    }
