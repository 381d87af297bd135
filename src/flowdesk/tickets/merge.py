"""Merging a ticket into another of the same requester, and undoing it (docs/customers.md).

The source's messages are moved into the target's conversation (one conversation to read and
reply in; the messages keep their ids, authors and times, so they fall into place by time).
Each ticket's event log stays as it was: the source's old ``message_added`` events still name
the moved messages' ids. The source is closed with ``merged_into`` and an internal note; both
tickets record a ``ticket_merged`` event. The ``TicketMerge`` row keeps the moved message ids
and the source's status, so an unmerge moves back exactly those and reopens the source as it was.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from flowdesk.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from flowdesk.engine.vocabulary import Status
from flowdesk.tickets.cause import Cause
from flowdesk.tickets.models import EventKind, Message, Ticket, TicketMerge
from flowdesk.tickets.services import ChangeSet, NewMessage, Relink, do_relink_ticket


def _lock_pair(source_id: int, target_id: int) -> tuple[Ticket, Ticket]:
    rows = {
        t.pk: t
        for t in Ticket.objects.select_for_update()
        .filter(pk__in=[source_id, target_id])
        .order_by("pk")
    }
    if source_id not in rows:
        raise NotFound(f"ticket {source_id} not found")
    if target_id not in rows:
        raise ValidationFailed([FieldError("into", f"no ticket with id {target_id}")])
    return rows[source_id], rows[target_id]


def check_merge_tickets(
    source_id: int, target_id: int, *, cause: Cause, now: datetime
) -> TicketMerge:
    """Callers load both tickets through ``access_ticket_by_id`` first (the permission check)."""
    if source_id == target_id:
        raise ValidationFailed([FieldError("into", "a ticket cannot be merged into itself")])
    with transaction.atomic():
        source, target = _lock_pair(source_id, target_id)
        for t in (source, target):
            if t.merged_into_id is not None:
                raise Conflict(f"ticket {t.pk} is already merged into #{t.merged_into_id}")
        if source.requester_id != target.requester_id:
            raise ValidationFailed(
                [
                    FieldError(
                        "into",
                        f"ticket {target.pk} has another requester; merge the customers first",
                    )
                ]
            )
        ids = list(
            Message.objects.filter(ticket=source).order_by("pk").values_list("pk", flat=True)
        )
        merge = TicketMerge.objects.create(
            source=source,
            target=target,
            actor=cause.actor,
            moved={"messages": ids, "status": source.status},
            created_at=now,
        )
        data = {"merge": merge.pk, "source": source.pk, "target": target.pk, "messages": ids}
        do_relink_ticket(
            target.pk,
            Relink(take_messages=ids),
            event=EventKind.TICKET_MERGED,
            data=data,
            cause=cause,
            now=now,
        )
        close = (
            ChangeSet(values={"status": Status.CLOSED}) if source.status != Status.CLOSED else None
        )
        do_relink_ticket(
            source.pk,
            Relink(merged_into=target),
            event=EventKind.TICKET_MERGED,
            data=data,
            cause=cause,
            now=now,
            changes=close,
            note=NewMessage(
                body_text=f"Merged into #{target.pk}: its conversation holds these messages.",
                public=False,
            ),
        )
        return merge


def check_unmerge_ticket(source_id: int, *, cause: Cause, now: datetime) -> TicketMerge:
    """Undo the latest merge of ``source_id``, exactly, or refuse with the reason."""
    with transaction.atomic():
        merge = (
            TicketMerge.objects.filter(source_id=source_id, undone_at__isnull=True)
            .order_by("-id")
            .first()
        )
        if merge is None:
            raise Conflict(f"ticket {source_id} is not merged into another ticket")
        source, target = _lock_pair(merge.source_id, merge.target_id)
        if source.merged_into_id != target.pk:
            raise Conflict(f"ticket {source.pk} is no longer merged into #{target.pk}")
        if target.merged_into_id is not None:
            raise Conflict(
                f"ticket {target.pk} was merged into #{target.merged_into_id} since; "
                "unmerge that first"
            )
        ids = merge.moved["messages"]
        if Message.objects.filter(pk__in=ids, ticket=target).count() != len(ids):
            raise Conflict("messages the merge moved are no longer on the target; cannot unmerge")
        merge.undone_at = now
        merge.save(update_fields=["undone_at"])
        data = {"merge": merge.pk, "source": source.pk, "target": target.pk, "messages": ids}
        before = merge.moved["status"]
        do_relink_ticket(
            source.pk,
            Relink(take_messages=ids, unmerge=True),
            event=EventKind.TICKET_UNMERGED,
            data=data,
            cause=cause,
            now=now,
            changes=ChangeSet(values={"status": before}) if before != source.status else None,
            note=NewMessage(body_text=f"Unmerged from #{target.pk}.", public=False),
        )
        do_relink_ticket(
            target.pk, Relink(), event=EventKind.TICKET_UNMERGED, data=data, cause=cause, now=now
        )
        return merge
