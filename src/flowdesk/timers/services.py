"""Setting and reading a ticket's timers inside an update (``TicketWrite``).

Owners of a purpose call ``schedule`` from their ``settle`` update hook (tickets.hooks) with the
new due instant (None: nothing to wait for), and read what they keep with it via ``timer_state``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, QuerySet

from flowdesk.core import rows as sqlrows
from flowdesk.core.clock import utcnow
from flowdesk.core.writes import pipelined, write_transaction
from flowdesk.tickets.batch import Preloaded, preload, update_ids
from flowdesk.tickets.services import TicketWrite, do_timer_update
from flowdesk.timers.models import Timer

_ROWS = "timers"
#: the purpose of the timer this write fires (its row is stored once, by ``_settle``)
_FIRING = "timers.firing"


def _rows(w: TicketWrite) -> dict[str, Timer]:
    """The ticket's timers, read once per update (one query for every purpose) and kept in step
    with ``schedule``."""
    rows: dict[str, Timer] | None = w.hook_state.get(_ROWS)
    if rows is None:
        rows = {} if w.new else {t.purpose: t for t in Timer.objects.filter(ticket_id=w.ticket.pk)}
        w.hook_state[_ROWS] = rows
    return rows


def preload_timers(ticket_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """tickets.batch preloader: the timers of a round's tickets in one statement."""
    out: dict[int, dict[str, Timer]] = {pk: {} for pk in ticket_ids}
    for timer in Timer.objects.filter(ticket_id__in=list(ticket_ids)):
        out[timer.ticket_id][timer.purpose] = timer
    return {pk: {_ROWS: rows} for pk, rows in out.items()}


def timer_row(w: TicketWrite, purpose: str) -> Timer | None:
    return _rows(w).get(purpose)


def timer_state(w: TicketWrite, purpose: str) -> dict[str, Any]:
    row = timer_row(w, purpose)
    return dict(row.state) if row is not None else {}


def schedule(
    w: TicketWrite, purpose: str, due_at: datetime | None, state: dict[str, Any] | None = None
) -> None:
    """Move the ticket's ``purpose`` timer to ``due_at`` (and store ``state`` with it, if given).
    A timer with nothing to wait for and no state is deleted."""
    rows = _rows(w)
    row = rows.get(purpose)
    if row is None:
        if due_at is None and not state:
            return
        created = Timer(
            ticket_id=w.ticket.pk,
            purpose=purpose,
            due_at=due_at,
            state=state or {},
            updated_at=w.now,
        )
        sqlrows.insert(created)
        rows[purpose] = created
        return
    new_state = row.state if state is None else state
    if due_at is None and not new_state:
        row.delete()
        del rows[purpose]
        return
    if row.due_at == due_at and row.state == new_state:
        return
    row.due_at, row.state, row.updated_at = due_at, new_state, w.now
    if w.hook_state.get(_FIRING) == purpose:
        return  # the timer firing now: its bookkeeping (_settle) stores the row once, with this
    sqlrows.update_fields(row, ["due_at", "state", "updated_at"])


# --- workers: claiming and firing ---------------------------------------------------------------

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TimerClaim:
    id: int
    ticket_id: int
    purpose: str
    due_at: datetime


@dataclass(frozen=True)
class Firing:
    claim: TimerClaim
    fired: bool  # False: skipped (moved or locked meanwhile) or failed
    recorded: bool  # the firing wrote an update (a rule fired, a breach was recorded ...)
    late_seconds: float
    error: str = ""


def lease_length() -> timedelta:
    return timedelta(seconds=float(settings.FLOWDESK["TIMER_LEASE_SECONDS"]))


def claimable(now: datetime) -> QuerySet[Timer]:
    """Due and not leased, or leased by a worker whose lease ran out (it died mid-batch)."""
    return Timer.objects.filter(due_at__lte=now).filter(
        Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now)
    )


def claim_due(owner: str, now: datetime, limit: int) -> list[TimerClaim]:
    """Lease up to ``limit`` due timers, the most overdue first, in one short transaction:
    ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so workers claim disjoint timers; on SQLite the
    conditional UPDATE under its single write lock is the guard. It reads first, so an idle
    poll never takes SQLite's write lock."""
    if not claimable(now).values_list("pk", flat=True)[:1]:
        return []
    with write_transaction():
        qs = claimable(now).order_by("due_at", "id")
        if connection.features.has_select_for_update_skip_locked:
            qs = qs.select_for_update(skip_locked=True)
        pks = list(qs.values_list("pk", flat=True)[:limit])
        if not pks:
            return []
        claimable(now).filter(pk__in=pks).update(
            lease_owner=owner, lease_expires_at=now + lease_length()
        )
        rows = Timer.objects.filter(pk__in=pks, lease_owner=owner, lease_expires_at__gt=now)
        claims = [
            TimerClaim(pk, ticket_id, purpose, due_at)
            for pk, ticket_id, purpose, due_at in rows.values_list(
                "pk", "ticket_id", "purpose", "due_at"
            )
            if due_at is not None
        ]
    claims.sort(key=lambda c: (c.due_at, c.id))
    return claims


def fire_claimed(owner: str, claims: list[TimerClaim]) -> list[Firing]:
    """Fire claimed timers in one transaction (the fast round); if anything in it fails, again
    one by one, each in a savepoint of its own, so one broken firing does not stop the others.

    Exactly once: a firing, the move of its timer (by the hooks of the purpose's owner, or
    cleared here when nobody moved it) and the release of the lease commit together, so a worker
    killed before the commit leaves the timer due (another worker fires it when the lease runs
    out) and one killed after leaves it moved. The ticket is locked before its timer (the order
    every update takes), skipping a ticket an update holds right now (retried at once, next
    round)."""
    try:
        return _fire_round(owner, claims)
    except Exception:
        log.warning("a round of %s timers rolled back; firing them one by one", len(claims))
    out: list[Firing] = []
    with write_transaction():
        batch = preload([c.ticket_id for c in claims], skip_locked=True)
        for claim in claims:
            out.append(_fire_one(owner, claim, batch.pop(claim.ticket_id, None)))
    return out


def _fire_round(owner: str, claims: list[TimerClaim]) -> list[Firing]:
    """The fast path: the whole round as one write. The batch's tickets are locked and their
    rows read at once (tickets.batch; a ticket missing, held by an update right now or
    deleted, and a ticket's second timer in the batch take the one-ticket path, which reads
    for itself). The writes that read nothing back are sent together at the end (one statement
    per kind of row: ``core.rows.deferred_writes``; a read of a table with writes waiting sends
    them first), and on PostgreSQL pipelined. Any error
    rolls the whole round back (the caller then fires its timers one by one, each in a
    savepoint of its own)."""
    out: list[Firing] = []
    with write_transaction():
        batch = preload([c.ticket_id for c in claims], skip_locked=True)
        with update_ids(len(batch)), pipelined(), sqlrows.deferred_writes():
            for claim in claims:
                # (a ticket not preloaded takes the one-ticket path, which reads for itself:
                # its reads send the round's waiting writes first)
                preloaded = batch.pop(claim.ticket_id, None)
                out.append(_fire_one(owner, claim, preloaded, isolated=False))
    return out


def _fire_one(
    owner: str, claim: TimerClaim, preloaded: Preloaded | None = None, *, isolated: bool = True
) -> Firing:
    """``isolated``: in a savepoint of its own, and an error is this firing's only (recorded
    on its timer, retried later); otherwise an error propagates."""
    now = utcnow()
    due: list[datetime] = []

    def check(w: TicketWrite) -> bool:
        """With the ticket locked: still leased to this worker and still due (an update may
        have moved it since the claim)."""
        row = timer_row(w, claim.purpose)
        if row is None or row.pk != claim.id or row.lease_owner != owner:
            return False
        if row.due_at is None or row.due_at > now:
            return False
        due.append(row.due_at)
        w.hook_state[_FIRING] = claim.purpose
        return True

    def after(w: TicketWrite) -> None:
        _settle(w, claim.purpose, due[0], now, late)

    late = max(0.0, (now - claim.due_at).total_seconds())
    try:
        with transaction.atomic() if isolated else nullcontext():
            recorded = do_timer_update(
                claim.ticket_id,
                purpose=claim.purpose,
                now=now,
                late_seconds=late,
                skip_locked=True,
                check=check,
                after=after,
                preloaded=preloaded,
            )
            if recorded is None:
                _release(owner, claim)
                return Firing(claim, False, False, 0.0)
            return Firing(claim, True, recorded, late)
    except Exception as exc:  # one broken firing must not stop the others
        if not isolated:
            raise
        log.exception("timer %s (%s) of ticket %s failed", claim.id, claim.purpose, claim.ticket_id)
        message = f"{type(exc).__name__}: {exc}"[:2000]
        Timer.objects.filter(pk=claim.id, lease_owner=owner).update(
            lease_owner="",
            lease_expires_at=None,
            due_at=now + timedelta(seconds=float(settings.FLOWDESK["TIMER_RETRY_SECONDS"])),
            last_error=message,
        )
        return Firing(claim, False, False, 0.0, message)


def _settle(w: TicketWrite, purpose: str, due: datetime, now: datetime, late: float) -> None:
    """After a firing: a timer its owner did not move has fired and waits for nothing now."""
    row = timer_row(w, purpose)
    if row is None:
        return  # its owner deleted it: nothing left to wait for
    if row.due_at == due:
        if not row.state:
            row.delete()
            del _rows(w)[purpose]
            return
        row.due_at = None
    row.lease_owner, row.lease_expires_at = "", None
    row.fired_count += 1
    row.last_fired_at, row.last_late_seconds, row.last_error = now, late, ""
    sqlrows.update_fields(
        row,
        [
            "due_at",
            "state",
            "updated_at",
            "lease_owner",
            "lease_expires_at",
            "fired_count",
            "last_fired_at",
            "last_late_seconds",
            "last_error",
        ],
    )


def _release(owner: str, claim: TimerClaim) -> None:
    Timer.objects.filter(pk=claim.id, lease_owner=owner).update(
        lease_owner="", lease_expires_at=None
    )


def fire_due(owner: str, *, limit: int | None = None, batch: int = 100) -> list[Firing]:
    """Fire everything due now (batch mode, tests): claim and fire until nothing is due."""
    done: list[Firing] = []
    while limit is None or len(done) < limit:
        size = batch if limit is None else min(batch, limit - len(done))
        claims = claim_due(owner, utcnow(), size)
        if not claims:
            break
        done += fire_claimed(owner, claims)
    return done


def next_due_at() -> datetime | None:
    """The earliest due instant of any timer (index on due_at: one index probe)."""
    return (
        Timer.objects.filter(due_at__isnull=False)
        .order_by("due_at")
        .values_list("due_at", flat=True)
        .first()
    )
