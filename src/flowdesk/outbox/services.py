"""Queue, claim and deliver outbox items. Queueing happens inside the caller's transaction and a
wake-up task is enqueued after it commits (core.oncommit); delivery happens in a worker, never
inside a request's transaction. Each delivery outcome is an event in the ticket's history.

A claim is a lease stored on the row (owner, expiry, start of the attempt). Claiming locks rows
with ``FOR UPDATE SKIP LOCKED`` where the database has it (PostgreSQL) and is a conditional UPDATE
everywhere (SQLite serialises writers with ``BEGIN IMMEDIATE``). The attempt is counted when it is
claimed, and its outcome, the release of the lease and the history event commit in one
transaction, so a worker that dies at any instant leaves a lease that expires and is taken over
by any live worker: at most one extra attempt, never a stuck item.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, QuerySet

from flowdesk.core.clock import utcnow
from flowdesk.core.oncommit import enqueue_after_commit
from flowdesk.outbox.delivery import DELIVERERS, DeliveryError, destination_of, outcome_of
from flowdesk.outbox.models import OutboxItem, OutboxStatus
from flowdesk.tickets.cause import Cause
from flowdesk.tickets.events import record_standalone_event
from flowdesk.tickets.models import EventKind, Message, Ticket, TicketUpdate

log = logging.getLogger(__name__)


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
        destination=destination_of(kind, payload),
    )
    if fresh:
        item.save(force_insert=True)
    else:
        try:
            with transaction.atomic():
                item.save(force_insert=True)
        except IntegrityError:
            return OutboxItem.objects.get(idempotency_key=idempotency_key), False
    _wake_workers()
    return item, True


def _wake_workers() -> None:
    from flowdesk.outbox.tasks import deliver_outbox

    # One pending wake-up is enough: a worker that runs it claims every due item.
    enqueue_after_commit(deliver_outbox, coalesce=True)


def backoff(attempts: int) -> timedelta:
    base = settings.FLOWDESK["OUTBOX_BACKOFF_SECONDS"]
    return timedelta(seconds=min(base * 2 ** (attempts - 1), 3600))


def lease_length() -> timedelta:
    return timedelta(seconds=settings.FLOWDESK["OUTBOX_LEASE_SECONDS"])


def claimable(now: datetime) -> QuerySet[OutboxItem]:
    """Due, pending, and not leased (or leased by a worker whose lease has run out)."""
    return OutboxItem.objects.filter(status=OutboxStatus.PENDING, next_attempt_at__lte=now).filter(
        Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now)
    )


@dataclass(frozen=True)
class Claim:
    item: OutboxItem
    owner: str
    started: datetime
    reclaimed: bool  # taken over from a lease that expired (its worker died or hung)


def claim_due(
    owner: str,
    now: datetime,
    limit: int,
    *,
    busy: Mapping[str, int] | None = None,
    per_destination: int | None = None,
    exclude: Collection[str] = (),
    only: int | None = None,
) -> list[Claim]:
    """Lease up to ``limit`` due items, oldest first, at most ``per_destination`` in flight per
    destination counting ``busy`` (this worker's deliveries in flight), none for the destinations
    in ``exclude`` (an open circuit). Expired leases are claimable like unleased items: this is
    the sweep, run by every worker on every poll, with no cap that could lose work."""
    if limit <= 0:
        return []
    qs = claimable(now)
    if only is not None:
        qs = qs.filter(pk=only)
    if exclude:
        qs = qs.exclude(destination__in=list(exclude))
    qs = qs.order_by("next_attempt_at", "id")
    window = limit * 4
    # A read first: an idle poll never takes SQLite's write lock.
    if not qs.values_list("pk", flat=True)[:1]:
        return []
    with transaction.atomic():
        locked = qs
        if connection.features.has_select_for_update_skip_locked:
            locked = qs.select_for_update(skip_locked=True)
        rows = list(locked.values_list("pk", "destination", "lease_owner")[:window])
        counts = dict(busy or {})
        chosen: list[int] = []
        reclaimed: set[int] = set()
        for pk, destination, previous in rows:
            if per_destination is not None and counts.get(destination, 0) >= per_destination:
                continue
            counts[destination] = counts.get(destination, 0) + 1
            chosen.append(pk)
            if previous:
                reclaimed.add(pk)
            if len(chosen) >= limit:
                break
        if not chosen:
            return []
        # Conditional: only rows still claimable are taken (the guard on SQLite, which has no
        # row locks; a no-op re-check under PostgreSQL's locks).
        claimable(now).filter(pk__in=chosen).update(
            lease_owner=owner,
            lease_expires_at=now + lease_length(),
            attempt_started_at=now,
            attempts=F("attempts") + 1,
        )
        items = list(
            OutboxItem.objects.filter(pk__in=chosen, lease_owner=owner, attempt_started_at=now)
        )
    items.sort(key=lambda i: chosen.index(i.pk))
    return [Claim(i, owner, now, i.pk in reclaimed) for i in items]


def do_heartbeat(owner: str, ids: Collection[int], now: datetime) -> int:
    """Extend the leases this worker holds: a live worker's long delivery is never taken over."""
    if not ids:
        return 0
    return OutboxItem.objects.filter(
        pk__in=list(ids), lease_owner=owner, status=OutboxStatus.PENDING
    ).update(lease_expires_at=now + lease_length())


def fault_point(point: str) -> None:
    """Fault injection for the crash tests (FLOWDESK_FAULT=<point>[:exit]); inert unless set.
    The process announces the point on stderr, then hangs (to be killed) or exits at once."""
    fault = os.environ.get("FLOWDESK_FAULT", "")
    if not fault:
        return
    name, _, action = fault.partition(":")
    if name != point:
        return
    sys.stderr.write(f"flowdesk fault: {point}\n")
    sys.stderr.flush()
    if action == "exit":
        os._exit(70)
    time.sleep(3600)


@dataclass(frozen=True)
class Outcome:
    outcome: str  # delivered, slow, timeout, unreachable, rejected, error, lease_lost
    ok: bool
    item: OutboxItem
    recorded: bool


def deliver_claimed(claim: Claim) -> Outcome:
    """Run one leased attempt and record it. The outcome, the lease release and the history
    event commit together, guarded by the lease: a worker that lost its lease (it hung past the
    expiry and another took over) records nothing, the newer attempt does."""
    item = claim.item
    fault_point("before_send")
    started = time.monotonic()
    error: BaseException | None = None
    try:
        DELIVERERS.get(item.kind).deliver(item)
    except (DeliveryError, KeyError) as exc:
        error = exc
    elapsed = time.monotonic() - started
    fault_point("after_send")
    now = utcnow()
    extra: dict[str, Any] = {}
    if claim.reclaimed:
        extra["reclaimed"] = True
    if error is None:
        slow = elapsed >= settings.FLOWDESK["OUTBOX_SLOW_SECONDS"]
        outcome = "slow" if slow else "delivered"
        item.status = OutboxStatus.DELIVERED
        item.delivered_at = now
        item.last_error = ""
        kind: str = EventKind.DELIVERED
    else:
        outcome = outcome_of(error)
        item.last_error = str(error) if not isinstance(error, KeyError) else f"no deliverer {error}"
        final = item.attempts >= item.max_attempts
        if final:
            item.status = OutboxStatus.FAILED
            kind = EventKind.DELIVERY_FAILED
        else:
            item.next_attempt_at = now + backoff(item.attempts)
            kind = EventKind.DELIVERY_ATTEMPT_FAILED
            extra["next_attempt_at"] = item.next_attempt_at.isoformat()
        extra["error"] = item.last_error
    with transaction.atomic():
        released = OutboxItem.objects.filter(
            pk=item.pk, lease_owner=claim.owner, attempt_started_at=claim.started
        ).update(
            status=item.status,
            delivered_at=item.delivered_at,
            last_error=item.last_error,
            next_attempt_at=item.next_attempt_at,
            lease_owner="",
            lease_expires_at=None,
        )
        if released:
            _record_outcome(item, kind, now, outcome=outcome, **extra)
    if not released:
        log.warning("outbox item %s: lease lost during the attempt; not recorded", item.pk)
        return Outcome("lease_lost", error is None, item, recorded=False)
    return Outcome(outcome, error is None, item, recorded=True)


def do_attempt_delivery(item_id: int, now: datetime, owner: str = "inline") -> OutboxItem | None:
    """One attempt at one item, in the calling thread. None if it is leased by another worker,
    done, or not due yet (so a duplicate call for the same item is harmless)."""
    claims = claim_due(owner, now, 1, only=item_id)
    if not claims:
        return None
    return deliver_claimed(claims[0]).item


def drain(owner: str, *, limit: int | None = None) -> int:
    """Deliver what is due, one item after another, until nothing is due (batch mode and the
    immediate task backend). Items that fail are due again after their backoff; with a zero
    backoff they run again here until they succeed or run out of attempts."""
    done = 0
    while limit is None or done < limit:
        claims = claim_due(owner, utcnow(), 1)
        if not claims:
            break
        deliver_claimed(claims[0])
        done += 1
    return done


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


def do_retry(item: OutboxItem, now: datetime) -> OutboxItem:
    """An admin sends a failed item again: it gets a fresh set of attempts."""
    with transaction.atomic():
        item.status = OutboxStatus.PENDING
        item.attempts = 0
        item.next_attempt_at = now
        item.lease_owner = ""
        item.lease_expires_at = None
        item.save(
            update_fields=[
                "status",
                "attempts",
                "next_attempt_at",
                "lease_owner",
                "lease_expires_at",
            ]
        )
        _wake_workers()
    return item
