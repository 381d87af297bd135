"""Timers and worker health: are time rules and SLA clocks firing on time."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router

from flowdesk.api.auth import require_agent
from flowdesk.api.schemas import errors
from flowdesk.core.clock import utcnow
from flowdesk.timers.status import timer_status

router = Router(tags=["timers"])


@router.get(
    "/status",
    response={200: dict[str, Any], **errors(401, 403)},
    summary="Timer backlog and worker health",
    description="Timers scheduled and due now, how long the longest-waiting due timer has "
    "waited, expired leases (their worker died mid-batch: another takes them over), timers "
    "whose last firing failed, and every worker seen in the last hour with its last heartbeat "
    "(`alive` false: no beat for 20 s).",
)
def status(request: HttpRequest) -> dict[str, Any]:
    require_agent(request)
    return timer_status(utcnow())
