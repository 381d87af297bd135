"""Queue, claim and deliver outbox items. Queueing happens inside the caller's transaction and
the workers are woken after it commits (core.oncommit); delivery happens in a worker, never
inside a request's transaction. Each delivery outcome is an event in the ticket's history.

A claim is a lease stored on the row (owner, expiry, start of the attempt). Claiming locks rows
with ``FOR UPDATE SKIP LOCKED`` where the database has it (PostgreSQL) and is a conditional UPDATE
everywhere (SQLite serialises writers with ``BEGIN IMMEDIATE``). The attempt is counted when it is
claimed (and uncounted when a claim is given back unattempted), and its outcome, the release of
the lease and the history event commit in one transaction, possibly with other items' outcomes
and the next claim (``record_and_claim``), so a worker that dies at any instant leaves leases
that expire and are taken over by any live worker: at most one extra attempt per item, never a
stuck item.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, QuerySet

from flowdesk.core.clock import utcnow
from flowdesk.core.oncommit import enqueue_after_commit
from flowdesk.core.writes import write_transaction
from flowdesk.outbox import wakeup
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

    if wakeup.by_notification():
        wakeup.notify()  # PostgreSQL: every worker's pool listens (outbox.wakeup)
        return
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
    runs = claim_runs(
        owner, now, limit, busy=busy, per_destination=per_destination, exclude=exclude, only=only
    )
    return [claim for run in runs for claim in run]


@dataclass(frozen=True)
class ClaimRequest:
    """Leases for up to ``slots`` runs, oldest items first. A run is up to ``run_size`` items of
    one destination (an int, or a size per destination, 1 for those not named), delivered one
    after the other by one thread; at most ``per_destination`` runs per destination, counting
    ``busy`` (this worker's runs in flight); none for the destinations in ``exclude`` (an open
    circuit). With ``run_size`` 1 a run is one delivery."""

    owner: str
    now: datetime
    slots: int
    run_size: int | Mapping[str, int] = 1
    busy: Mapping[str, int] | None = None
    per_destination: int | None = None
    exclude: Collection[str] = ()
    only: int | None = None

    def candidates(self) -> QuerySet[OutboxItem]:
        qs = claimable(self.now)
        if self.only is not None:
            qs = qs.filter(pk=self.only)
        if self.exclude:
            qs = qs.exclude(destination__in=list(self.exclude))
        return qs.order_by("next_attempt_at", "id")

    def size_of(self, destination: str) -> int:
        if isinstance(self.run_size, int):
            return max(1, self.run_size)
        return max(1, int(self.run_size.get(destination, 1)))

    def window(self) -> int:
        sizes = [self.run_size] if isinstance(self.run_size, int) else self.run_size.values()
        return self.slots * (max([1, *(int(n) for n in sizes)]) * 2 + 2)


def claim_runs(
    owner: str,
    now: datetime,
    slots: int,
    *,
    run_size: int | Mapping[str, int] = 1,
    busy: Mapping[str, int] | None = None,
    per_destination: int | None = None,
    exclude: Collection[str] = (),
    only: int | None = None,
) -> list[list[Claim]]:
    """Lease due items in one short transaction (see ``ClaimRequest``)."""
    request = ClaimRequest(owner, now, slots, run_size, busy, per_destination, exclude, only)
    return record_and_claim([], [], request)[1]


def _lease(request: ClaimRequest) -> list[list[Claim]]:
    """The claim, inside the caller's transaction."""
    qs = request.candidates()
    if connection.features.has_select_for_update_skip_locked:
        qs = qs.select_for_update(skip_locked=True)
    rows = list(qs.values_list("pk", "destination", "lease_owner")[: request.window()])
    chosen = _choose(
        rows, request.slots, request.size_of, dict(request.busy or {}), request.per_destination
    )
    if not chosen:
        return []
    pks = [pk for run in chosen for pk in run]
    owner, now = request.owner, request.now
    # Conditional: only rows still claimable are taken (the guard on SQLite, which has no row
    # locks; a no-op re-check under PostgreSQL's locks).
    claimable(now).filter(pk__in=pks).update(
        lease_owner=owner,
        lease_expires_at=now + lease_length(),
        attempt_started_at=now,
        attempts=F("attempts") + 1,
    )
    items = {
        i.pk: i
        for i in OutboxItem.objects.filter(pk__in=pks, lease_owner=owner, attempt_started_at=now)
    }
    reclaimed = {pk for pk, _, previous in rows if previous}
    runs = [
        [Claim(items[pk], owner, now, pk in reclaimed) for pk in run if pk in items]
        for run in chosen
    ]
    return [run for run in runs if run]


def _choose(
    rows: list[tuple[int, str, str]],
    slots: int,
    size_of: Callable[[str], int],
    busy: dict[str, int],
    per_destination: int | None,
) -> list[list[int]]:
    """Group due rows (oldest first) into at most ``slots`` runs of one destination each."""
    runs: list[list[int]] = []
    open_run: dict[str, list[int]] = {}
    for pk, destination, _ in rows:
        run = open_run.get(destination)
        if run is not None and len(run) < size_of(destination):
            run.append(pk)
            continue
        if len(runs) >= slots:
            if all(len(r) >= size_of(d) for d, r in open_run.items()):
                break
            continue
        if per_destination is not None and busy.get(destination, 0) >= per_destination:
            continue
        busy[destination] = busy.get(destination, 0) + 1
        open_run[destination] = [pk]
        runs.append(open_run[destination])
    return runs


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
class Attempt:
    """One attempt made and not yet recorded: what ``record`` writes."""

    claim: Claim
    outcome: str  # delivered, slow, timeout, unreachable, rejected, error
    ok: bool
    event: str
    at: datetime
    seconds: float
    extra: dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    outcome: str  # delivered, slow, timeout, unreachable, rejected, error, lease_lost
    ok: bool
    item: OutboxItem
    recorded: bool


def attempt(claim: Claim) -> Attempt:
    """Run one leased attempt; nothing is written (``record`` does that, for one attempt or for
    a run of them)."""
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
    return Attempt(claim, outcome, error is None, kind, now, elapsed, extra)


def record(attempts: Sequence[Attempt], unattempted: Sequence[Claim] = ()) -> list[Outcome]:
    """Record attempts and give back claims not attempted, in one transaction (see
    ``record_and_claim``)."""
    return record_and_claim(attempts, unattempted, None)[0]


def record_and_claim(
    attempts: Sequence[Attempt], unattempted: Sequence[Claim], request: ClaimRequest | None
) -> tuple[list[Outcome], list[list[Claim]]]:
    """Record attempts (outcomes in their order), give back the leases of claims not
    attempted, and claim new runs, in one transaction: a busy worker takes the database's write
    lock once per round, not once per item.

    Each attempt's outcome, lease release and history event are written together and guarded
    by its lease: a worker that lost a lease (it hung past the expiry and another took over)
    records nothing for that item, the newer attempt does. A claim given back unattempted gets
    its attempt back: it was counted when it was claimed."""
    claiming = request is not None and request.slots > 0
    # Nothing to record: a read first, so an idle poll never takes SQLite's write lock.
    if (
        not attempts
        and not unattempted
        and (request is None or not claiming or not request.candidates().values("pk")[:1])
    ):
        return [], []
    released: dict[int, bool] = {}
    with write_transaction():
        # In id order, so that two workers' transactions never wait on each other's rows.
        for a in sorted(attempts, key=lambda a: a.claim.item.pk):
            item, claim = a.claim.item, a.claim
            released[item.pk] = bool(
                OutboxItem.objects.filter(
                    pk=item.pk, lease_owner=claim.owner, attempt_started_at=claim.started
                ).update(
                    status=item.status,
                    delivered_at=item.delivered_at,
                    last_error=item.last_error,
                    next_attempt_at=item.next_attempt_at,
                    lease_owner="",
                    lease_expires_at=None,
                )
            )
            if released[item.pk]:
                _record_outcome(item, a.event, a.at, outcome=a.outcome, **a.extra)
        _give_back(unattempted)
        runs = _lease(request) if request is not None and claiming else []
    outcomes = []
    for a in attempts:
        item = a.claim.item
        if not released[item.pk]:
            log.warning("outbox item %s: lease lost during the attempt; not recorded", item.pk)
            outcomes.append(Outcome("lease_lost", a.ok, item, recorded=False))
        else:
            outcomes.append(Outcome(a.outcome, a.ok, item, recorded=True))
    return outcomes, runs


# SQLite's busy handler sleeps 1, 2, 5, 10, 15, 20, 25 ... then 100 ms between tries: a round
# lets it try for this long (its first, short sleeps), then starts it again.
def _give_back(claims: Sequence[Claim]) -> None:
    by_lease: dict[tuple[str, datetime], list[int]] = {}
    for c in claims:
        by_lease.setdefault((c.owner, c.started), []).append(c.item.pk)
    for (owner, started), pks in sorted(by_lease.items()):
        OutboxItem.objects.filter(
            pk__in=sorted(pks), lease_owner=owner, attempt_started_at=started
        ).update(lease_owner="", lease_expires_at=None, attempts=F("attempts") - 1)


def deliver_claimed(claim: Claim) -> Outcome:
    """Run one leased attempt and record it (``attempt`` then ``record``)."""
    return record([attempt(claim)])[0]


def do_attempt_delivery(item_id: int, now: datetime, owner: str = "inline") -> OutboxItem | None:
    """One attempt at one item, in the calling thread. None if it is leased by another worker,
    done, or not due yet (so a duplicate call for the same item is harmless)."""
    claims = claim_due(owner, now, 1, only=item_id)
    if not claims:
        return None
    return deliver_claimed(claims[0]).item


# Items per run in batch mode: one claim and one record transaction per run.
DRAIN_RUN = 50


def drain(owner: str, *, limit: int | None = None) -> int:
    """Deliver what is due, a run of one destination's items after another, until nothing is
    due (batch mode and the immediate task backend). Items that fail are due again after their
    backoff; with a zero backoff they run again here until they succeed or run out of
    attempts."""
    done = 0
    while limit is None or done < limit:
        size = DRAIN_RUN if limit is None else min(DRAIN_RUN, limit - done)
        runs = claim_runs(owner, utcnow(), 1, run_size=size)
        if not runs:
            break
        made: list[Attempt] = []
        try:
            for claim in runs[0]:
                made.append(attempt(claim))
        finally:  # a crash leaves only the crashed item's lease to expire
            record(made, runs[0][len(made) + 1 :])
        done += len(made)
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
