"""Queue and deliver outbox items. Queueing happens inside the caller's transaction and the
delivery task is enqueued after it commits (core.oncommit); delivery happens in a worker
(django-tasks), never inside a request's transaction. Each delivery outcome is an event in the
ticket's history."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from flowdesk.core.oncommit import enqueue_after_commit
from flowdesk.outbox.delivery import DELIVERERS, DeliveryError
from flowdesk.outbox.models import OutboxItem, OutboxStatus
from flowdesk.tickets.cause import Cause
from flowdesk.tickets.events import record_standalone_event
from flowdesk.tickets.models import EventKind, Message, Ticket, TicketUpdate


def do_enqueue(
    *,
    kind: str,
    payload: dict[str, Any],
    idempotency_key: str,
    now: datetime,
    ticket: Ticket | None = None,
    update: TicketUpdate | None = None,
    message: Message | None = None,
    rule: str = "",
    fresh: bool = False,
) -> tuple[OutboxItem, bool]:
    """(item, created). A key seen before returns the stored item and queues nothing (an
    idempotent replay). ``fresh``: the key embeds a row id created in this transaction, so it
    cannot exist yet and the savepoint that guards the insert is not needed."""
    from flowdesk.outbox.tasks import deliver_outbox_item

    item = OutboxItem(
        kind=kind,
        payload=payload,
        idempotency_key=idempotency_key,
        ticket=ticket,
        update=update,
        message=message,
        rule=rule,
        max_attempts=settings.FLOWDESK["OUTBOX_MAX_ATTEMPTS"],
        next_attempt_at=now,
        created_at=now,
    )
    if fresh:
        item.save(force_insert=True)
    else:
        try:
            with transaction.atomic():
                item.save(force_insert=True)
        except IntegrityError:
            return OutboxItem.objects.get(idempotency_key=idempotency_key), False
    enqueue_after_commit(deliver_outbox_item, item.pk)
    return item, True


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
        final = item.attempts >= item.max_attempts
        if final:
            item.status = OutboxStatus.FAILED
        with transaction.atomic():
            item.save(update_fields=["last_error", "status"])
            _record_outcome(
                item,
                EventKind.DELIVERY_FAILED if final else EventKind.DELIVERY_ATTEMPT_FAILED,
                now,
                error=item.last_error,
                **({} if final else {"next_attempt_at": item.next_attempt_at.isoformat()}),
            )
        return item
    item.status = OutboxStatus.DELIVERED
    item.delivered_at = now
    item.last_error = ""
    with transaction.atomic():
        item.save(update_fields=["status", "delivered_at", "last_error"])
        _record_outcome(item, EventKind.DELIVERED, now)
    return item


def _record_outcome(item: OutboxItem, kind: str, now: datetime, **extra: Any) -> None:
    """Delivery attempts, success and final failure are part of the ticket's history."""
    if item.ticket_id is None:
        return
    data: dict[str, Any] = {
        "outbox_id": item.pk,
        "kind": item.kind,
        "attempt": item.attempts,
        "max_attempts": item.max_attempts,
        "idempotency_key": item.idempotency_key,
        **extra,
    }
    if item.message_id is not None:
        data["message_id"] = item.message_id
    record_standalone_event(item.ticket_id, kind, Cause.system("outbox"), now, data)


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
        enqueue_after_commit(deliver_outbox_item, item.pk)
    return item
