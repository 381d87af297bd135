"""Typed validation of custom-field values against the admin's definitions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flowdesk.core.errors import FieldError
from flowdesk.tickets.models import CustomFieldDef, CustomFieldKind


def _check(defn: CustomFieldDef, value: Any) -> str | None:
    kind = defn.kind
    if kind == CustomFieldKind.TEXT and not isinstance(value, str):
        return "must be text"
    if kind == CustomFieldKind.INT and (isinstance(value, bool) or not isinstance(value, int)):
        return "must be a whole number"
    if kind == CustomFieldKind.NUMBER and (
        isinstance(value, bool) or not isinstance(value, int | float)
    ):
        return "must be a number"
    if kind == CustomFieldKind.BOOL and not isinstance(value, bool):
        return "must be true or false"
    if kind == CustomFieldKind.ENUM and value not in (defn.choices or []):
        return f"{value!r} is not one of {', '.join(map(str, defn.choices or []))}"
    if kind == CustomFieldKind.DATE:
        try:
            dt.date.fromisoformat(str(value))
        except ValueError:
            return f"{value!r} is not a date (YYYY-MM-DD)"
    return None


def validate_custom_fields(values: dict[str, Any]) -> list[FieldError]:
    defs = {d.key: d for d in CustomFieldDef.objects.filter(key__in=list(values))}
    errors: list[FieldError] = []
    for key, value in values.items():
        defn = defs.get(key)
        if defn is None:
            known = ", ".join(CustomFieldDef.objects.order_by("key").values_list("key", flat=True))
            errors.append(
                FieldError(
                    f"custom_fields.{key}", f"unknown custom field (defined: {known or 'none'})"
                )
            )
            continue
        if value is None:
            continue
        if (problem := _check(defn, value)) is not None:
            errors.append(FieldError(f"custom_fields.{key}", problem))
    return errors
