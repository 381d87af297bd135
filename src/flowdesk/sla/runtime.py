"""Keeps every ticket's SLA clocks up to date, inside each update (docs/sla.md).

``prepare`` (before the rules): choose the policy (first match), recompute the clocks from the
ticket's whole history as of the update's ``now`` (``clocks.compute_clocks``: exact, so a raised
priority applies its shorter target to the time already used, and a policy that stops matching
removes the clocks), record each breach once (``SlaBreach``: unique per ticket, metric and
cycle, so two workers can never record one twice), record every change of a clock as an
``sla_changed`` event, and put ``sla.*`` into the snapshot the rules see. ``settle`` (after the
rules): recompute if the rules changed the ticket, and move the ticket's ``sla`` timer to the
next due instant, so a breach is recorded (and ``sla_breached`` rules run) on the second.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q

from flowdesk.calendars import Calendar
from flowdesk.core import rows as core_rows
from flowdesk.engine import Event
from flowdesk.engine.vocabulary import SLA_METRICS
from flowdesk.engine.vocabulary import SlaState as State
from flowdesk.sla.cache import STORE_KEY, StoredSla, calendar_of_write, current, for_write
from flowdesk.sla.clocks import ClockState, SlaState, Timeline, compute_clocks
from flowdesk.sla.models import SlaBreach, TicketSla
from flowdesk.sla.policy import CompiledPolicy, choose
from flowdesk.tickets.models import EventKind, Ticket, TicketEvent
from flowdesk.tickets.services import TicketWrite
from flowdesk.timers.services import schedule

SLA_TIMER = "sla"
_KEY = "sla"
_ROW = "sla_row"
_TIMELINE = "sla_timeline"
NO_SLA: dict[str, Any] = {"sla.policy": None} | {
    f"sla.{m}.{part}": None for m in SLA_METRICS for part in ("due_at", "state")
}


_TimelineRow = tuple[str, str, Any, Any, datetime]


def _timeline_rows(ticket_ids: Sequence[int]) -> dict[int, list[_TimelineRow]]:
    """The stored events a timeline is made of (status changes, messages, the creation)."""
    out: dict[int, list[_TimelineRow]] = {pk: [] for pk in ticket_ids}
    rows = (
        TicketEvent.objects.filter(ticket_id__in=list(ticket_ids))
        .filter(
            Q(kind=EventKind.CREATED)
            | Q(kind=EventKind.FIELD_CHANGED, field="status")
            | Q(kind=EventKind.MESSAGE_ADDED)
        )
        .order_by("id")
        .values_list("ticket_id", "kind", "field", "new_value", "data", "created_at")
    )
    for ticket_id, *row in rows:
        out[ticket_id].append(tuple(row))
    return out


def timeline_of(
    ticket: Ticket,
    pending: Sequence[TicketEvent] = (),
    *,
    new: bool = False,
    stored_rows: Sequence[_TimelineRow] | None = None,
) -> Timeline:
    """The ticket's status history and public messages, from its event log (plus the events of
    the open update, not yet stored). ``stored_rows``: the stored part, already read."""
    stored: list[_TimelineRow] = []
    if stored_rows is not None:
        stored = list(stored_rows)
    elif not new:
        stored = _timeline_rows([ticket.pk])[ticket.pk]
    stored += [
        (e.kind, e.field, e.new_value, e.data, e.created_at)
        for e in pending
        if e.kind in (EventKind.CREATED, EventKind.MESSAGE_ADDED)
        or (e.kind == EventKind.FIELD_CHANGED and e.field == "status")
    ]
    statuses: list[tuple[datetime, str]] = []
    messages: list[tuple[datetime, str]] = []
    for kind, _field, new_value, data, at in stored:
        if kind == EventKind.CREATED:
            statuses.insert(0, (ticket.created_at, str((data or {}).get("status") or "new")))
        elif kind == EventKind.FIELD_CHANGED:
            statuses.append((at, str(new_value)))
        elif (data or {}).get("public", True) and (data or {}).get("author_kind") in (
            "customer",
            "agent",
        ):
            messages.append((at, str(data["author_kind"])))
    if not statuses:  # a ticket from before the event log recorded its creation
        statuses.append((ticket.created_at, ticket.status))
    return Timeline(created_at=ticket.created_at, statuses=statuses, messages=messages)


def calendar_for(
    policy: CompiledPolicy, snapshot: Mapping[str, Any], store: StoredSla
) -> tuple[str, Calendar | None]:
    """The policy's own calendar, else the ticket's (its mailbox's, else its team's, else the
    default); None: 24/7."""
    name = policy.calendar or snapshot.get("calendar") or ""
    return name, store.calendars.get(name) if name else None


def evaluate(
    snapshot: Mapping[str, Any], timeline: Timeline, now: datetime, store: StoredSla | None = None
) -> tuple[SlaState, str]:
    """The clocks the ticket has as of ``now`` (read-only: what the API and explain show)."""
    store = store or current()
    policy = choose(store.compiled, snapshot) if store.compiled else None
    if policy is None:
        return compute_clocks(None, timeline, None, now), ""
    name, calendar = calendar_for(policy, snapshot, store)
    targets = policy.targets_for(snapshot.get("priority"))
    return compute_clocks(targets, timeline, calendar, now), name


def iso(value: datetime) -> str:
    """An instant as the clocks' JSON writes it (UTC, ``Z``), so events and reports agree."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _brief(clock: ClockState | None) -> dict[str, Any] | None:
    if clock is None:
        return None
    return {
        "state": clock.state,
        "cycle": clock.cycle,
        "target_seconds": clock.target,
        "business": clock.business,
        "due_at": iso(clock.due_at) if clock.due_at else None,
    }


def _log(w: TicketWrite, kind: str, **values: Any) -> None:
    """An event of this update. The update row is saved first: an event is stored pointing at
    it, and an update caused by a timer has no row yet (inserting its events failed)."""
    w.update_row()
    w.log.add(kind, w.cause, **values)


def _record_changes(w: TicketWrite, before: SlaState | None, after: SlaState) -> None:
    old_policy = before.policy if before is not None else None
    if old_policy != after.policy:
        _log(
            w,
            EventKind.SLA_CHANGED,
            field="sla.policy",
            old=old_policy,
            new=after.policy,
            data={"message": _policy_message(old_policy, after.policy)},
        )
    for metric in SLA_METRICS:
        old = _brief(before.clocks.get(metric)) if before is not None else None
        new = _brief(after.clocks.get(metric))
        if old != new:
            _log(w, EventKind.SLA_CHANGED, field=f"sla.{metric}", old=old, new=new)


def _policy_message(old: str | None, new: str | None) -> str:
    if old is None:
        return f"SLA policy {new!r} applies"
    if new is None:
        return f"SLA policy {old!r} no longer applies: its clocks are removed"
    return f"SLA policy {new!r} applies instead of {old!r}"


def _record_breaches(w: TicketWrite, state: SlaState, recorded: set[tuple[str, int]]) -> None:
    """Record each breach not recorded yet (adds it to ``recorded``)."""
    for clock in state.breaches():
        if (clock.metric, clock.cycle) in recorded or clock.breached_at is None:
            continue
        recorded.add((clock.metric, clock.cycle))
        try:
            with transaction.atomic():
                SlaBreach.objects.create(
                    ticket_id=w.ticket.pk,
                    metric=clock.metric,
                    cycle=clock.cycle,
                    policy=state.policy or "",
                    due_at=clock.breached_at,
                    recorded_at=w.now,
                    update=w.update_row(),
                )
        except IntegrityError:  # recorded by a concurrent update: once is the point
            continue
        _log(
            w,
            EventKind.SLA_BREACHED,
            field=f"sla.{clock.metric}",
            data={
                "policy": state.policy,
                "cycle": clock.cycle,
                "due_at": iso(clock.breached_at),
                "target_seconds": clock.target,
                "business": clock.business,
            },
        )


def sticky(state: SlaState, recorded: set[tuple[str, int]]) -> SlaState:
    """A recorded breach stands: if the clock of that cycle computes as not breached now (the
    ticket moved to a team with other hours, a lower priority's longer target), it still reads
    as breached, so the rules that acted on the breach do not act on it again."""
    if not recorded:
        return state
    clocks = {
        m: replace(c, state=State.BREACHED)
        if (m, c.cycle) in recorded and c.state != State.BREACHED
        else c
        for m, c in state.clocks.items()
    }
    running = [c.due_at for c in clocks.values() if c.state == State.RUNNING and c.due_at]
    return replace(state, clocks=clocks, next_due=min(running) if running else None)


def preload_sla(ticket_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """tickets.batch preloader: the SLA rows of a round's tickets in one statement, and the
    stored calendars and policies (shared, read-only) read once."""
    rows: dict[int, TicketSla | None] = dict.fromkeys(ticket_ids)
    for row in TicketSla.objects.filter(ticket_id__in=list(ticket_ids)):
        rows[row.ticket_id] = row
    store = current()
    out: dict[int, dict[str, Any]] = {pk: {_ROW: row, STORE_KEY: store} for pk, row in rows.items()}
    # The timelines of the tickets whose clocks will be computed (any policy stored: all).
    timed = list(ticket_ids) if store.compiled else [pk for pk, r in rows.items() if r and r.policy]
    for pk, events in _timeline_rows(timed).items():
        out[pk][_TIMELINE] = events
    return out


def _refresh(w: TicketWrite, snapshot: dict[str, Any]) -> SlaState | None:
    """Recompute, record, and put the ``sla.*`` keys into ``snapshot`` and ``w.derived``."""
    store = for_write(w)
    if _ROW in w.hook_state:
        row: TicketSla | None = w.hook_state[_ROW]
    else:
        row = None if w.new else TicketSla.objects.filter(ticket_id=w.ticket.pk).first()
        w.hook_state[_ROW] = row
    if not store.compiled and (row is None or not row.policy):
        w.derived.update(NO_SLA)
        snapshot.update(NO_SLA)
        return None
    before = SlaState.from_json(row.clocks) if row is not None and row.clocks else None
    recorded = {
        (str(m), int(c)) for m, c in ((row.clocks or {}).get("recorded", []) if row else [])
    }
    timeline = timeline_of(w.ticket, w.log.rows, new=w.new, stored_rows=w.hook_state.get(_TIMELINE))
    state, calendar = evaluate(snapshot, timeline, w.now, store)
    state = sticky(state, recorded)
    _record_changes(w, before, state)
    _record_breaches(w, state, recorded)
    stored = state.to_json() | {"recorded": sorted([m, c] for m, c in recorded)}
    if row is None:
        if state.policy is not None:
            # core_rows.insert / update_fields: one statement each, without Model.save()'s
            # per-call overhead (no signal listens to TicketSla); this runs in every update.
            created = TicketSla(
                ticket_id=w.ticket.pk,
                policy=state.policy,
                calendar=calendar,
                clocks=stored,
                computed_at=w.now,
            )
            core_rows.insert(created)
            w.hook_state[_ROW] = created
    elif state.policy is None:
        row.delete()
        w.hook_state[_ROW] = None
    else:
        row.policy, row.calendar, row.clocks, row.computed_at = (
            state.policy,
            calendar,
            stored,
            w.now,
        )
        core_rows.update_fields(row, ["policy", "calendar", "clocks", "computed_at"])
    fields = state.snapshot_fields() if state.policy is not None else NO_SLA
    w.derived.update(fields)
    snapshot.update(fields)
    return state


def _fingerprint(w: TicketWrite) -> tuple[Any, ...]:
    t = w.ticket
    return (
        t.status,
        t.priority,
        t.type,
        t.team_id,
        tuple(t.tags),
        repr(sorted((t.custom_fields or {}).items())),
        len(w.log.rows),
    )


def sla_prepare(w: TicketWrite, event: Event, snapshot: dict[str, Any]) -> None:
    state = _refresh(w, snapshot)
    w.hook_state[_KEY] = (state, _fingerprint(w))


def sla_settle(w: TicketWrite, event: Event, snapshot: dict[str, Any]) -> None:
    state, seen = w.hook_state.get(_KEY, (None, None))
    if seen != _fingerprint(w):  # the rules changed the ticket: its clocks may have changed
        # a new team: its calendar
        w.derived["calendar"] = calendar_of_write(w)
        state = _refresh(w, w.snapshot())
    if state is None and w.new:
        return
    schedule(w, SLA_TIMER, state.next_due if state is not None else None)


def sla_snapshot(ticket: Ticket, now: datetime) -> dict[str, Any]:
    """The ``sla.*`` keys of a stored ticket for reads outside a write (as last computed)."""
    row = TicketSla.objects.filter(ticket_id=ticket.pk).first()
    if row is None or not row.clocks:
        return dict(NO_SLA)
    return SlaState.from_json(row.clocks).snapshot_fields()
