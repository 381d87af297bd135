"""Recording TicketEvent rows: the only place events are written."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from flowdesk.tickets.models import EventKind, Ticket, TicketEvent, TicketUpdate

if TYPE_CHECKING:
    from flowdesk.tickets.services import Cause


def record_event(
    ticket: Ticket,
    update: TicketUpdate,
    kind: str,
    cause: Cause,
    now: datetime,
    *,
    field: str = "",
    old: Any = None,
    new: Any = None,
    data: dict[str, Any] | None = None,
) -> TicketEvent:
    return TicketEvent.objects.create(
        ticket=ticket,
        update=update,
        kind=kind,
        field=field,
        old_value=old,
        new_value=new,
        data=data or {},
        cause_kind=cause.kind,
        actor=cause.actor,
        token=cause.token,
        rule=cause.rule,
        rule_chain=list(cause.rule_chain),
        created_at=now,
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, frozenset | set):
        return sorted(value)
    return value


def record_field_changes(
    ticket: Ticket,
    update: TicketUpdate,
    changes: dict[str, tuple[Any, Any]],
    cause: Cause,
    now: datetime,
) -> None:
    """One event per changed field; tags and followers become per-item add/remove events."""
    for key in sorted(changes):
        old, new = changes[key]
        if key == "tags":
            old_set, new_set = set(old or ()), set(new or ())
            for tag in sorted(new_set - old_set):
                record_event(ticket, update, EventKind.TAG_ADDED, cause, now, field="tags", new=tag)
            for tag in sorted(old_set - new_set):
                record_event(
                    ticket, update, EventKind.TAG_REMOVED, cause, now, field="tags", old=tag
                )
        elif key == "followers":
            for email in sorted(set(new or ()) - set(old or ())):
                record_event(
                    ticket,
                    update,
                    EventKind.FOLLOWER_ADDED,
                    cause,
                    now,
                    field="followers",
                    new=email,
                )
        elif key == "assignee":
            record_event(
                ticket, update, EventKind.ASSIGNED, cause, now, field=key, old=old, new=new
            )
        else:
            record_event(
                ticket,
                update,
                EventKind.FIELD_CHANGED,
                cause,
                now,
                field=key,
                old=_jsonable(old),
                new=_jsonable(new),
            )
