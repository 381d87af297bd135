"""Storing macros, who sees them, and applying one to a ticket.

Applying is one ticket update through ``check_update_ticket`` (the changes and the rendered
message together, caused by the agent, ``cause_detail`` naming the macro), so it is validated,
recorded, run through the rules and delivered exactly like the same update typed by hand; a stale
``expected_version`` is the same 409. Nothing here writes a ticket.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet

from flowdesk.accounts.models import User
from flowdesk.core.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from flowdesk.engine.actions import ActionContext, WorkingState
from flowdesk.macros.definition import (
    FIELD_KEYS,
    Desk,
    MacroDef,
    Problem,
    change_set,
    desk_problems,
    stored_changes,
)
from flowdesk.macros.models import Macro, Visibility
from flowdesk.tickets.cause import Cause
from flowdesk.tickets.fields import Registry
from flowdesk.tickets.models import Ticket
from flowdesk.tickets.selectors import access_ticket_by_id
from flowdesk.tickets.services import NewMessage, check_update_ticket
from flowdesk.tickets.snapshot import load_snapshot


def field_errors(problems: list[Problem], prefix: str = "") -> list[FieldError]:
    """Problems as API field errors, the suggestion in the message."""
    return [
        FieldError(
            f"{prefix}{path}" if path else prefix.rstrip(".") or "body",
            message + (f" (did you mean {hint!r}?)" if hint else ""),
        )
        for path, message, hint in problems
    ]


# --- who sees what ---------------------------------------------------------------------------


def macros_for(user: User) -> QuerySet[Macro]:
    """Admins see every macro; an agent the active ones for everyone, their teams' and their
    own; customers none (a 403, like the other agent tools)."""
    if not user.is_agent:
        raise Forbidden("macros are for agents")
    qs = Macro.objects.select_related("team", "owner", "created_by", "updated_by")
    if user.is_admin:
        return qs
    return qs.filter(active=True).filter(
        Q(visibility=Visibility.EVERYONE)
        | Q(visibility=Visibility.TEAM, team__in=user.teams.all())
        | Q(visibility=Visibility.PERSONAL, owner=user)
    )


def access_macro(user: User, ref: str) -> Macro:
    """A macro by id or name (case-insensitive); one the user may not see is not found."""
    qs = macros_for(user)
    # An id is ASCII digits that fit a database integer; anything else is a name.
    is_id = ref.isascii() and ref.isdigit() and len(ref) <= 18
    found = qs.filter(pk=int(ref)).first() if is_id else None
    found = found or qs.filter(name__iexact=ref).first()
    if found is None:
        raise NotFound(f"macro {ref!r} not found")
    return found


# --- saving ----------------------------------------------------------------------------------


def check_definition(d: MacroDef, desk: Desk | None = None) -> None:
    problems = desk_problems(d, desk or Desk())
    if problems:
        raise ValidationFailed(field_errors(problems))


def _name_taken(name: str, exclude: int | None) -> bool:
    qs = Macro.objects.filter(name__iexact=name)
    return (qs.exclude(pk=exclude) if exclude is not None else qs).exists()


def fill(row: Macro, d: MacroDef, desk: Desk, *, actor: User | None, now: datetime) -> None:
    """Copy a checked definition onto the row (not saved)."""
    row.name = d.name.strip()
    row.description = d.description
    row.active = d.active
    row.visibility = d.visibility
    row.team = desk.team(d.team) if d.visibility == "team" else None
    row.owner = desk.agent(d.owner) if d.visibility == "personal" else None
    row.reply_body = d.reply.body if d.reply is not None else ""
    row.reply_public = d.reply.public if d.reply is not None else True
    row.changes = stored_changes(d.changes)
    row.position = d.position
    row.updated_by = actor
    row.updated_at = now
    if row.pk is None:
        row.created_by, row.created_at = actor, now


def _save(row: Macro) -> Macro:
    if _name_taken(row.name, row.pk):
        raise ValidationFailed([FieldError("name", f"a macro named {row.name!r} exists")])
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:  # a concurrent save took the name between the check and the insert
        raise ValidationFailed([FieldError("name", f"a macro named {row.name!r} exists")]) from None
    return row


def check_create_macro(d: MacroDef, *, actor: User, now: datetime) -> Macro:
    desk = Desk()
    check_definition(d, desk)
    row = Macro()
    fill(row, d, desk, actor=actor, now=now)
    return _save(row)


def check_update_macro(row: Macro, d: MacroDef, *, actor: User, now: datetime) -> Macro:
    """Replace the definition (usage count and creation kept)."""
    desk = Desk()
    check_definition(d, desk)
    fill(row, d, desk, actor=actor, now=now)
    return _save(row)


def do_delete_macro(row: Macro) -> None:
    row.delete()


# --- preview and apply -----------------------------------------------------------------------


@dataclass
class Preview:
    macro: Macro
    ticket: Ticket
    body: str | None  # rendered, None when the macro adds no message
    public: bool
    changes: list[dict[str, Any]]  # {"field", "from", "to"} for each field that would change


def _api_name(key: str) -> str:
    return f"custom_fields.{key.removeprefix('custom.')}" if key.startswith("custom.") else key


def _json(value: Any) -> Any:
    return sorted(value) if isinstance(value, frozenset | set) else value


def render(macro: Macro, ticket: Ticket, now: datetime) -> Preview:
    """The macro on this ticket as it is now: each field it would change, and the message with
    its placeholders filled from the ticket *after* those changes (so "passed to {{ team }}"
    names the new team). Reads only."""
    registry = Registry()
    snapshot = load_snapshot(ticket, now)
    state = WorkingState(snapshot, {})
    cs = change_set(macro.changes)
    errors: list[FieldError] = []
    planned: dict[str, Any] = {}
    for key, value in cs.values.items():
        binding = registry.get(key)
        resolved = binding.resolve(value, registry.lookups) if binding else f"unknown {key}"
        if isinstance(resolved, str):  # e.g. the assignee was deactivated after the save
            errors.append(FieldError(f"changes.{_api_name(key)}", resolved))
        else:
            planned[key] = resolved.value
    add, remove = set(cs.add.get("tags", ())), set(cs.remove.get("tags", ()))
    if add or remove:
        tags = {t.strip().lower() for t in (snapshot.get("tags") or ())}
        planned["tags"] = frozenset((tags | {t.strip().lower() for t in add}) - remove)
    if errors:
        raise ValidationFailed(errors)
    changes = []
    for key, value in planned.items():
        before = state.values.get(key)
        if state.set(key, value) is not None:
            changes.append({"field": _api_name(key), "from": _json(before), "to": _json(value)})
    order = {k: i for i, k in enumerate((*FIELD_KEYS, "tags"))}
    changes.sort(key=lambda c: (order.get(c["field"], len(order)), c["field"]))
    ctx = ActionContext(state, rule=f"macro {macro.name}", templates={}, now=now)
    body = ctx.render(macro.reply_body) if macro.reply_body else None
    return Preview(macro, ticket, body, macro.reply_public, changes)


def preview_macro(user: User, ticket_id: int, ref: str, now: datetime) -> Preview:
    macro = access_macro(user, ref)
    return render(macro, access_ticket_by_id(user, ticket_id), now)


def check_apply_macro(
    cause: Cause, ticket_id: int, ref: str, *, expected_version: int, now: datetime
) -> Preview:
    """One update: the macro's changes and its rendered message, by ``cause``'s agent; the usage
    count goes up in the same transaction when the update wrote something."""
    actor = cause.actor
    assert actor is not None  # macros are applied by people
    macro = access_macro(actor, ref)
    ticket = access_ticket_by_id(actor, ticket_id)
    if not macro.active:
        raise Conflict(f"macro {macro.name!r} is inactive")
    preview = render(macro, ticket, now)
    message = (
        NewMessage(body_text=preview.body, public=macro.reply_public)
        if preview.body is not None
        else None
    )
    with transaction.atomic():
        updated = check_update_ticket(
            ticket,
            changes=change_set(macro.changes),
            message=message,
            expected_version=expected_version,
            cause=dataclasses.replace(cause, detail=f"macro {macro.name}"[:200]),
            now=now,
        )
        if updated.version != expected_version:
            Macro.objects.filter(pk=macro.pk).update(usage_count=F("usage_count") + 1)
            macro.usage_count += 1
    preview.ticket = updated
    return preview
