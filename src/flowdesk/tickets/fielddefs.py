"""Writers (and the permission-checked loader) of custom-field definitions: the admin's typed
ticket fields, which rules address as custom.<key>.

A definition's key and kind are immutable: stored values and rules were written against them. Enum
choices may grow freely; a choice that stored tickets or the active rule set use cannot be removed,
and a field goes only when no ticket has a value for it and no rule mentions it. (Removing either
would leave tickets with values nothing can validate, or an active rule set that no longer
compiles.)
"""

from __future__ import annotations

import re
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.db.models.fields.json import KeyTransform

from flowdesk.accounts import selectors
from flowdesk.accounts.models import User
from flowdesk.accounts.services import (
    clean_text,
    plural,
    refuse_if_named,
    save_changed,
    unique_or_conflict,
)
from flowdesk.core.errors import Conflict, FieldError, Forbidden, ValidationFailed
from flowdesk.engine.vocabulary import values
from flowdesk.tickets.models import CustomFieldDef, CustomFieldKind, Ticket

KEY = re.compile(r"^[a-z][a-z0-9]*(?:[_-][a-z0-9]+)*$")
MAX_KEY = 64
MAX_CHOICES = 500
MAX_CHOICE = 100
KINDS = values(CustomFieldKind)


def field_defs_for(user: User, *, q: str | None = None) -> QuerySet[CustomFieldDef]:
    if not user.is_agent:
        raise Forbidden("custom-field definitions are visible to agents and admins")
    return selectors.matching_words(CustomFieldDef.objects.order_by("key"), q, "key", "label")


def access_field_def_by_id(user: User, field_id: int) -> CustomFieldDef:
    return selectors.first_or_404(field_defs_for(user), field_id, "custom field")


def _clean_choices(kind: str, choices: list[str] | None, errors: list[FieldError]) -> list[str]:
    if kind != CustomFieldKind.ENUM:
        if choices:
            errors.append(FieldError("choices", f"only enum fields have choices, not {kind}"))
        return []
    if not choices:
        errors.append(FieldError("choices", "an enum field needs at least one choice"))
        return []
    if len(choices) > MAX_CHOICES:
        errors.append(FieldError("choices", f"at most {MAX_CHOICES} choices"))
    cleaned: list[str] = []
    for i, raw in enumerate(choices):
        where = f"choices[{i}]"
        if not isinstance(raw, str):
            errors.append(FieldError(where, "must be text"))
            continue
        choice = clean_text(errors, where, raw, max_length=MAX_CHOICE)
        if choice in cleaned:
            errors.append(FieldError(where, f"{choice!r} is listed twice"))
        elif choice:
            cleaned.append(choice)
    return cleaned


def do_create_field_def(key: str, label: str, kind: str, choices: list[str]) -> CustomFieldDef:
    return CustomFieldDef.objects.create(key=key, label=label, kind=kind, choices=choices)


def _refuse_taken_key(key: str) -> None:
    existing = CustomFieldDef.objects.filter(key=key).first()
    if existing is not None:
        raise Conflict(f"a custom field with key {key!r} already exists (id {existing.pk})")


def check_create_field_def(
    *, key: str, label: str, kind: str, choices: list[str] | None = None
) -> CustomFieldDef:
    errors: list[FieldError] = []
    if not KEY.match(key) or len(key) > MAX_KEY:
        errors.append(
            FieldError(
                "key",
                f"{key!r} is not a key: lower-case letters and digits, starting with a letter, "
                f"words joined by single - or _ (at most {MAX_KEY})",
            )
        )
    label = clean_text(errors, "label", label, max_length=200)
    cleaned: list[str] = []
    if kind not in KINDS:
        errors.append(FieldError("kind", f"{kind!r} is not one of {', '.join(KINDS)}"))
    else:
        cleaned = _clean_choices(kind, choices, errors)
    if errors:
        raise ValidationFailed(errors)
    _refuse_taken_key(key)
    with unique_or_conflict(f"a custom field with key {key!r} already exists"):
        return do_create_field_def(key, label, kind, cleaned)


def do_update_field_def(defn: CustomFieldDef, changes: dict[str, Any]) -> CustomFieldDef:
    save_changed(defn, changes)
    return defn


def _tickets_with(key: str, value: Any = None) -> int:
    """Tickets that have a value for the field (or exactly ``value``)."""
    qs = Ticket.objects.filter(custom_fields__has_key=key)
    if value is not None:
        qs = qs.annotate(_value=KeyTransform(key, "custom_fields")).filter(_value=value)
    return qs.count()


def check_update_field_def(
    defn: CustomFieldDef,
    *,
    label: str | None = None,
    choices: list[str] | None = None,
    key: str | None = None,
    kind: str | None = None,
) -> CustomFieldDef:
    """key and kind may be sent (a client echoing what it read) but not changed."""
    errors: list[FieldError] = []
    for name, sent, current in (("key", key, defn.key), ("kind", kind, defn.kind)):
        if sent is not None and sent != current:
            errors.append(
                FieldError(name, f"is immutable ({current!r}); create a new field instead")
            )
    changes: dict[str, Any] = {}
    if label is not None:
        changes["label"] = clean_text(errors, "label", label, max_length=200)
    if choices is not None:
        changes["choices"] = _clean_choices(defn.kind, choices, errors)
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        removed = [c for c in defn.choices or [] if c not in changes.get("choices", defn.choices)]
        used = [(c, n) for c in removed if (n := _tickets_with(defn.key, c))]
        if used:
            raise Conflict(
                "cannot remove "
                + "; ".join(f"choice {c!r} (used by {plural(n, 'ticket')})" for c, n in used)
                + f" of custom.{defn.key}; change those tickets first"
            )
        if removed:
            rules = selectors.rules_naming(selectors.naming_choices(f"custom.{defn.key}", removed))
            refuse_if_named(f"a removed choice of custom.{defn.key}", rules)
        return do_update_field_def(defn, changes)


def do_delete_field_def(defn: CustomFieldDef) -> None:
    defn.delete()


def check_delete_field_def(defn: CustomFieldDef) -> None:
    with transaction.atomic():
        tickets = _tickets_with(defn.key)
        if tickets:
            raise Conflict(
                f"custom.{defn.key} has a value on {plural(tickets, 'ticket')}; "
                "clear it there first"
            )
        field = f"custom.{defn.key}"
        refuse_if_named(f"custom field {field}", selectors.rules_mentioning_field(field))
        do_delete_field_def(defn)
