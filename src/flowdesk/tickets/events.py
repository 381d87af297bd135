"""Recording TicketEvent rows: the only place events are written.

Within an update, events are collected in order and inserted with one statement when the update
finishes (``EventLog.flush``), so an update's cost does not grow by one INSERT per event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flowdesk.core import rows
from flowdesk.engine.types import to_jsonable
from flowdesk.tickets.cause import Cause
from flowdesk.tickets.fields import BASE
from flowdesk.tickets.models import EventKind, TicketEvent, TicketUpdate


def new_update(ticket_id: int, cause: Cause, now: datetime) -> TicketUpdate:
    return TicketUpdate(
        ticket_id=ticket_id,
        created_at=now,
        cause_kind=cause.kind,
        cause_detail=cause.detail,
        actor=cause.actor,
        token=cause.token,
    )


class EventLog:
    """The events of one update, in the order they happened."""

    def __init__(self, ticket_id: int, update: TicketUpdate, now: datetime) -> None:
        self.ticket_id = ticket_id
        self.update = update
        self.now = now
        self.rows: list[TicketEvent] = []

    def add(
        self,
        kind: str,
        cause: Cause,
        *,
        field: str = "",
        old: Any = None,
        new: Any = None,
        data: dict[str, Any] | None = None,
        first: bool = False,
    ) -> None:
        row = TicketEvent(
            ticket_id=self.ticket_id,
            update=self.update,
            kind=kind,
            field=field,
            old_value=to_jsonable(old),
            new_value=to_jsonable(new),
            data=data or {},
            cause_kind=cause.kind,
            cause_detail=cause.detail,
            actor=cause.actor,
            token=cause.token,
            rule=cause.rule,
            rule_chain=list(cause.rule_chain),
            created_at=self.now,
        )
        if first:
            self.rows.insert(0, row)
        else:
            self.rows.append(row)

    def field_changes(self, changes: dict[str, tuple[Any, Any]], cause: Cause) -> None:
        """One event per changed field, of the kind its binding declares; set-valued fields
        become one event per added / removed member."""
        for key in sorted(changes):
            old, new = changes[key]
            binding = BASE.get(key)
            style = binding.event if binding is not None else EventKind.FIELD_CHANGED
            if style == "tags":
                self._members(key, old, new, cause, EventKind.TAG_ADDED, EventKind.TAG_REMOVED)
            elif style == "followers":
                self._members(
                    key, old, new, cause, EventKind.FOLLOWER_ADDED, EventKind.FOLLOWER_REMOVED
                )
            else:
                self.add(style, cause, field=key, old=old, new=new)

    def _members(
        self, key: str, old: Any, new: Any, cause: Cause, added: str, removed: str
    ) -> None:
        old_set, new_set = set(old or ()), set(new or ())
        for member in sorted(new_set - old_set):
            self.add(added, cause, field=key, new=member)
        for member in sorted(old_set - new_set):
            self.add(removed, cause, field=key, old=member)

    def flush(self) -> None:
        if self.rows:
            for row in self.rows:  # events added before the update row was inserted
                if row.update_id is None:
                    row.update_id = self.update.pk
            rows.insert_many(self.rows, returning=False)  # nobody reads their keys
            self.rows = []


def record_standalone_event(
    ticket_id: int, kind: str, cause: Cause, now: datetime, data: dict[str, Any]
) -> None:
    """An event outside a ticket update (e.g. an outbox delivery outcome): its own update row,
    so history stays one update per transaction."""
    update = new_update(ticket_id, cause, now)
    update.save()
    log = EventLog(ticket_id, update, now)
    log.add(kind, cause, data=data)
    log.flush()
