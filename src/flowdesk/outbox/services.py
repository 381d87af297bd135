"""Queue and deliver outbox items. Queueing happens inside the caller's transaction; delivery
happens in a worker (django-tasks), never inside a request's transaction."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from flowdesk.outbox.delivery import DELIVERERS, DeliveryError
from flowdesk.outbox.models import OutboxItem, OutboxStatus
from flowdesk.tickets.models import Ticket, TicketUpdate


def do_enqueue(
    *,
    kind: str,
    payload: dict[str, Any],
    idempotency_key: str,
    now: datetime,
    ticket: Ticket | None = None,
    update: TicketUpdate | None = None,
    rule: str = "",
) -> OutboxItem:
    from flowdesk.outbox.tasks import deliver_outbox_item

    try:
        with transaction.atomic():
            item = OutboxItem.objects.create(
                kind=kind,
                payload=payload,
                idempotency_key=idempotency_key,
                ticket=ticket,
                update=update,
                rule=rule,
                max_attempts=settings.FLOWDESK["OUTBOX_MAX_ATTEMPTS"],
                next_attempt_at=now,
                created_at=now,
            )
    except IntegrityError:
        return OutboxItem.objects.get(idempotency_key=idempotency_key)
    # With the database task backend this row commits (or rolls back) with the outbox row.
    deliver_outbox_item.enqueue(item.pk)
    return item


def backoff(attempts: int) -> timedelta:
    base = settings.FLOWDESK["OUTBOX_BACKOFF_SECONDS"]
    return timedelta(seconds=min(base * 2 ** (attempts - 1), 3600))


def do_attempt_delivery(item_id: int, now: datetime) -> OutboxItem | None:
    """One delivery attempt. Returns the item, or None if another worker holds it, it is done,
    or it is not due yet (so a duplicate task for the same item is harmless).

    The row lock is held only to claim the attempt; sending happens outside any transaction.
    """
    with transaction.atomic():
        item = (
            OutboxItem.objects.select_for_update(skip_locked=True)
            .filter(pk=item_id, status=OutboxStatus.PENDING, next_attempt_at__lte=now)
            .first()
        )
        if item is None:
            return None
        item.attempts += 1
        # Claim: push next_attempt_at forward so a sweep doesn't pick it up while we send.
        item.next_attempt_at = now + backoff(item.attempts)
        item.save(update_fields=["attempts", "next_attempt_at"])
    try:
        DELIVERERS.get(item.kind).deliver(item)
    except (DeliveryError, KeyError) as exc:
        item.last_error = str(exc)
        if item.attempts >= item.max_attempts:
            item.status = OutboxStatus.FAILED
        item.save(update_fields=["last_error", "status"])
        return item
    item.status = OutboxStatus.DELIVERED
    item.delivered_at = now
    item.last_error = ""
    item.save(update_fields=["status", "delivered_at", "last_error"])
    return item


def due_items(now: datetime, limit: int = 100) -> list[int]:
    return list(
        OutboxItem.objects.filter(status=OutboxStatus.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )


def do_retry(item: OutboxItem, now: datetime) -> OutboxItem:
    """An admin sends a failed item again: it gets a fresh set of attempts."""
    from flowdesk.outbox.tasks import deliver_outbox_item

    with transaction.atomic():
        item.status = OutboxStatus.PENDING
        item.attempts = 0
        item.next_attempt_at = now
        item.save(update_fields=["status", "attempts", "next_attempt_at"])
        deliver_outbox_item.enqueue(item.pk)
    return item
