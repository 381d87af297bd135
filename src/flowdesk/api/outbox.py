"""The outbox: what rules queued to leave flowdesk, and how delivery went."""

from __future__ import annotations

from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from flowdesk.api.auth import require_admin, require_agent
from flowdesk.api.schemas import Id, Limit, Offset, OutboxOut, OutboxPage, RequestIn, errors
from flowdesk.core.clock import utcnow
from flowdesk.core.errors import Conflict, NotFound
from flowdesk.outbox.models import OutboxItem, OutboxStatus
from flowdesk.outbox.services import do_retry
from flowdesk.outbox.status import outbox_status

router = Router(tags=["outbox"])


def item_out(i: OutboxItem) -> dict[str, Any]:
    return {
        "id": i.pk,
        "kind": i.kind,
        "ticket_id": i.ticket_id,
        "update_id": i.update_id,
        "rule": i.rule,
        "payload": i.payload,
        "idempotency_key": i.idempotency_key,
        "status": i.status,
        "attempts": i.attempts,
        "max_attempts": i.max_attempts,
        "next_attempt_at": i.next_attempt_at,
        "last_error": i.last_error,
        "created_at": i.created_at,
        "delivered_at": i.delivered_at,
    }


class OutboxFilters(RequestIn):
    status: Literal["pending", "delivered", "failed"] | None = None
    kind: Literal["reply", "notify", "webhook", "survey"] | None = None
    ticket: Id | None = None
    limit: Limit = 50
    offset: Offset = 0


@router.get(
    "",
    response={200: OutboxPage, **errors(401, 403, 422)},
    summary="Outbox items, newest first",
)
def list_outbox(request: HttpRequest, filters: Query[OutboxFilters]) -> dict[str, Any]:
    require_agent(request)
    qs = OutboxItem.objects.order_by("-id")
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.kind:
        qs = qs.filter(kind=filters.kind)
    if filters.ticket is not None:
        qs = qs.filter(ticket_id=filters.ticket)
    page = qs[filters.offset : filters.offset + filters.limit]
    return {"count": qs.count(), "items": [item_out(i) for i in page]}


class OutboxStatusOut(Schema):
    pending: int = Field(description="items not yet delivered or given up (the backlog)")
    due: int = Field(description="pending items a worker may claim now")
    in_flight: int = Field(description="items leased by a live worker (an attempt under way)")
    expired_leases: int = Field(
        description="leases whose worker stopped renewing them (it died); any worker takes "
        "them over on its next poll, so a number that stays above 0 means no worker runs"
    )
    stuck_leases: int = Field(
        description="leases still renewed by a live worker whose attempt has run longer than "
        "any delivery may take (a lease plus twice the delivery timeout): a hung delivery"
    )
    failed: int = Field(description="items given up after their last attempt")
    oldest_pending_age_seconds: float | None = Field(
        description="age of the oldest pending item (waiting for a retry included), null when "
        "there is none"
    )
    oldest_due_wait_seconds: float | None = Field(
        description="how long the longest-waiting due item has been due: the delivery delay "
        "now; one that keeps growing means the workers do not keep up (or none runs)"
    )
    longest_attempt_seconds: float | None = Field(
        description="how long the oldest attempt in flight has run since its claim"
    )
    backlog_by_destination: dict[str, int] = Field(
        description="pending items per destination (webhook host:port, smtp), largest first"
    )


@router.get(
    "/status",
    response={200: OutboxStatusOut, **errors(401, 403)},
    summary="Is delivery keeping up: backlog, how late it is, expired and stuck leases",
)
def status(request: HttpRequest) -> dict[str, Any]:
    require_agent(request)
    return outbox_status(utcnow())


def _get(item_id: int) -> OutboxItem:
    item = OutboxItem.objects.filter(pk=item_id).first()
    if item is None:
        raise NotFound(f"outbox item {item_id} not found")
    return item


@router.get(
    "/{item_id}",
    response={200: OutboxOut, **errors(401, 403, 404, 422)},
    summary="One outbox item",
)
def get_item(request: HttpRequest, item_id: int) -> dict[str, Any]:
    require_agent(request)
    return item_out(_get(item_id))


@router.post(
    "/{item_id}/retry",
    response={200: OutboxOut, **errors(401, 403, 404, 409, 422)},
    summary="Send a failed item again",
)
def retry(request: HttpRequest, item_id: int) -> dict[str, Any]:
    require_admin(request)
    item = _get(item_id)
    if item.status != OutboxStatus.FAILED:
        raise Conflict(f"outbox item {item_id} is {item.status}; only failed items are retried")
    return item_out(do_retry(item, utcnow()))
