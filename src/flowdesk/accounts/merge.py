"""Merging two customers into one, and undoing it exactly (docs/customers.md).

A merge runs in one transaction: both customers are locked in id order (so two merges of one
pair, or a chain A→B while B→C, queue up instead of racing), both must be live, and the source
becomes a tombstone (inactive, ``merged_into`` the survivor) while its tickets, its messages'
authorship and its identities move to the survivor. Every id moved is kept on the
``CustomerMerge`` row: the unmerge puts back exactly those, or is refused with the reason.

Because a merge needs both ends live and makes its source a tombstone, merges can never form a
cycle: in any would-be cycle, the merge committed last would find its target already merged.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction

from flowdesk.accounts.identities import identity_fields
from flowdesk.accounts.models import CustomerMerge, Identity, Role, User
from flowdesk.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from flowdesk.tickets.cause import Cause
from flowdesk.tickets.models import EventKind, Message, Ticket
from flowdesk.tickets.services import Relink, do_relink_ticket


def _lock_pair(source_id: int, target_id: int) -> tuple[User, User]:
    rows = {
        u.pk: u
        for u in User.objects.select_for_update()
        .filter(pk__in=[source_id, target_id])
        .order_by("pk")
    }
    for pk, field in ((source_id, "customer"), (target_id, "into")):
        user = rows.get(pk)
        if user is None or user.role != Role.CUSTOMER:
            if field == "into":
                raise ValidationFailed([FieldError("into", f"no customer with id {pk}")])
            raise NotFound(f"customer {pk} not found")
    return rows[source_id], rows[target_id]


def _identity_row(i: Identity) -> dict[str, Any]:
    row = {**identity_fields(i), "created_at": i.created_at.isoformat()}
    row["bounced_at"] = i.bounced_at.isoformat() if i.bounced_at else None
    return row


def _move_identities(source: User, target: User) -> dict[str, list[Any]]:
    """Source identities go to the target; one the target holds already is dropped (its row
    kept for the unmerge), a verified one verifying the target's; a primary one stays primary
    only where the target has no primary of that kind."""
    mine = {(i.kind, i.value): i for i in target.identities.all()}
    primaries = {k for (k, _), i in mine.items() if i.primary}
    moved: list[int] = []
    dropped: list[dict[str, Any]] = []
    verified: list[int] = []
    unprimaried: list[int] = []
    for si in source.identities.order_by("id"):
        ti = mine.get((si.kind, si.value))
        if ti is not None:
            dropped.append(_identity_row(si))
            if si.verified and not ti.verified:
                verified.append(ti.pk)
            continue
        moved.append(si.pk)
        if si.primary and si.kind in primaries:
            unprimaried.append(si.pk)
    Identity.objects.filter(pk__in=[d["id"] for d in dropped]).delete()
    Identity.objects.filter(pk__in=unprimaried).update(primary=False)
    Identity.objects.filter(pk__in=verified).update(verified=True)
    Identity.objects.filter(pk__in=moved).update(user=target)
    return {
        "identities": moved,
        "dropped": dropped,
        "verified": verified,
        "unprimaried": unprimaried,
    }


def _relink_all(
    merge: CustomerMerge,
    to: User,
    tickets: list[int],
    messages: dict[int, list[int]],
    event: str,
    cause: Cause,
    now: datetime,
) -> None:
    data = {"merge": merge.pk, "from": merge.source_id, "into": merge.target_id}
    for ticket_id in sorted(set(tickets) | set(messages)):
        relink = Relink(
            requester=to if ticket_id in tickets else None,
            authors=(messages[ticket_id], to) if ticket_id in messages else None,
        )
        do_relink_ticket(ticket_id, relink, event=event, data=data, cause=cause, now=now)


def check_merge_customers(
    source_id: int, target_id: int, *, actor: User | None, now: datetime
) -> CustomerMerge:
    """Merge customer ``source_id`` into ``target_id`` (the survivor)."""
    if source_id == target_id:
        raise ValidationFailed([FieldError("into", "a customer cannot be merged into itself")])
    with transaction.atomic():
        source, target = _lock_pair(source_id, target_id)
        if source.merged_into_id is not None:
            raise Conflict(f"customer {source.pk} is already merged into {source.merged_into_id}")
        if target.merged_into_id is not None:
            raise Conflict(
                f"customer {target.pk} was merged into {target.merged_into_id}; "
                f"merge into {target.merged_into_id} instead"
            )
        tickets = list(
            Ticket.objects.filter(requester=source).order_by("pk").values_list("pk", flat=True)
        )
        messages: dict[int, list[int]] = defaultdict(list)
        for pk, ticket_id in Message.objects.filter(author=source).values_list("pk", "ticket_id"):
            messages[ticket_id].append(pk)
        moved: dict[str, Any] = {
            "tickets": tickets,
            "messages": {str(k): v for k, v in messages.items()},
            "organization": None,
            "was_active": source.is_active,
            **_move_identities(source, target),
        }
        if target.organization_id is None and source.organization_id is not None:
            moved["organization"] = source.organization_id
            target.organization_id = source.organization_id
            target.save(update_fields=["organization"])
        source.is_active, source.merged_into = False, target
        source.save(update_fields=["is_active", "merged_into"])
        merge = CustomerMerge.objects.create(
            source=source, target=target, actor=actor, moved=moved, created_at=now
        )
        cause = Cause.for_user(actor) if actor is not None else Cause.system("customer merge")
        _relink_all(merge, target, tickets, messages, EventKind.CUSTOMER_MERGED, cause, now)
        return merge


def _refuse_inexact(merge: CustomerMerge, source: User, target: User) -> None:
    moved = merge.moved
    if target.merged_into_id is not None:
        raise Conflict(
            f"customer {target.pk} was merged into {target.merged_into_id} since; "
            "unmerge that first"
        )
    gone = list(
        Ticket.objects.filter(pk__in=moved["tickets"])
        .exclude(requester=target)
        .values_list("pk", flat=True)
    )
    if gone or Ticket.objects.filter(pk__in=moved["tickets"]).count() != len(moved["tickets"]):
        raise Conflict(f"tickets {gone or moved['tickets']} are no longer the survivor's")
    ids = [pk for v in moved["messages"].values() for pk in v]
    if Message.objects.filter(pk__in=ids, author=target).count() != len(ids):
        raise Conflict("some moved messages have another author now; cannot unmerge exactly")
    held = Identity.objects.filter(pk__in=moved["identities"], user=target).count()
    if held != len(moved["identities"]):
        raise Conflict(
            "identities the merge moved were removed or moved since; cannot unmerge exactly"
        )


def check_unmerge_customer(source_id: int, *, actor: User | None, now: datetime) -> CustomerMerge:
    """Undo the latest merge of ``source_id``: every moved row goes back, or nothing does."""
    with transaction.atomic():
        merge = (
            CustomerMerge.objects.filter(source_id=source_id, undone_at__isnull=True)
            .order_by("-id")
            .first()
        )
        if merge is None:
            if not User.objects.filter(pk=source_id).exists():
                raise NotFound(f"customer {source_id} not found")
            raise Conflict(f"customer {source_id} is not merged into another customer")
        if not User.objects.filter(pk=merge.source_id).exists():
            raise Conflict(f"customer {source_id} was deleted; the merge cannot be undone")
        source, target = _lock_pair(merge.source_id, merge.target_id)
        if source.merged_into_id != target.pk:
            raise Conflict(f"customer {source.pk} is no longer merged into {target.pk}")
        _refuse_inexact(merge, source, target)
        moved = merge.moved
        Identity.objects.filter(pk__in=moved["identities"]).update(user=source)
        Identity.objects.filter(pk__in=moved["unprimaried"]).update(primary=True)
        Identity.objects.filter(pk__in=moved["verified"]).update(verified=False)
        try:
            with transaction.atomic():
                Identity.objects.bulk_create(
                    [
                        Identity(
                            pk=d["id"],
                            user=source,
                            kind=d["kind"],
                            value=d["value"],
                            verified=d["verified"],
                            primary=d["primary"],
                            created_at=datetime.fromisoformat(d["created_at"]),
                            bounced_at=datetime.fromisoformat(d["bounced_at"])
                            if d.get("bounced_at")
                            else None,
                            bounce_count=d.get("bounce_count", 0),
                        )
                        for d in moved["dropped"]
                    ]
                )
        except IntegrityError as exc:
            raise Conflict(
                "an identity the merge folded into the survivor is taken now; cannot unmerge"
            ) from exc
        if moved["organization"] is not None and target.organization_id == moved["organization"]:
            target.organization_id = None
            target.save(update_fields=["organization"])
        source.is_active, source.merged_into = moved["was_active"], None
        source.save(update_fields=["is_active", "merged_into"])
        merge.undone_at, merge.undone_by = now, actor
        merge.save(update_fields=["undone_at", "undone_by"])
        messages = {int(k): v for k, v in moved["messages"].items()}
        cause = Cause.for_user(actor) if actor is not None else Cause.system("customer unmerge")
        _relink_all(
            merge, source, moved["tickets"], messages, EventKind.CUSTOMER_UNMERGED, cause, now
        )
        return merge
