"""Which fields rules may use, of which kind, with which values.

The catalog is the only knowledge the engine has of the Django data model: the Django side builds
one from its custom-field definitions, teams and agents, so rule errors are caught at save time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .fieldspec import KINDS, SET_KINDS, FieldSpec
from .suggest import closest
from .vocabulary import (
    AUTHOR_KINDS,
    BASE_FIELDS,
    CHANNELS,
    ORGANIZATION_FIELDS,
    PRIORITIES,
    STATUSES,
    TYPES,
    header_key,
)

__all__ = [
    "AUTHOR_KINDS",
    "CHANNELS",
    "KINDS",
    "PRIORITIES",
    "SET_KINDS",
    "STATUSES",
    "TYPES",
    "Catalog",
    "FieldSpec",
    "check_value",
    "default_catalog",
    "parse_date",
]


@dataclass(frozen=True)
class Catalog:
    fields: dict[str, FieldSpec]
    teams: frozenset[str] | None = None
    agents: frozenset[str] | None = None
    #: the escalation paths a rule may name (None: not checked, as for a stored version)
    escalation_paths: frozenset[str] | None = None

    def field(self, name: str) -> FieldSpec | None:
        """A known field, or a header one (``source.header.<name>``: text, named lower-case)."""
        spec = self.fields.get(name)
        if spec is None and (key := header_key(name)) is not None:
            return FieldSpec(key, "text")
        return spec

    def suggest_field(self, name: str) -> str | None:
        if name.lower().startswith("source.headers."):  # the family is singular
            return header_key("source.header." + name[len("source.headers.") :])
        key = header_key(name)
        if key is not None and key != name:  # a snapshot names headers in lower case
            return key
        return closest(name, self.fields)

    def check_ref(self, ref_to: str | None, value: Any) -> tuple[str, str | None] | None:
        """Return (message, suggestion) when ``value`` names an unknown team/agent."""
        names = self.teams if ref_to == "team" else self.agents if ref_to == "agent" else None
        if names is None or not isinstance(value, str) or value in names:
            return None
        return f"unknown {ref_to} {value!r}", closest(value, names)


def _spec(name: str, spec: FieldSpec | str) -> FieldSpec:
    if isinstance(spec, FieldSpec):
        return FieldSpec(name, spec.kind, spec.choices, spec.ref_to)
    return FieldSpec(name, spec)


def default_catalog(
    custom_fields: Mapping[str, FieldSpec | str] | None = None,
    requester_attrs: Mapping[str, FieldSpec | str] | None = None,
    organization_attrs: Mapping[str, FieldSpec | str] | None = None,
    teams: Iterable[str] | None = None,
    agents: Iterable[str] | None = None,
    base: Iterable[FieldSpec] | None = None,
) -> Catalog:
    """The base snapshot fields (``base``, default vocabulary.BASE_FIELDS) + custom, requester
    and organization attributes."""
    if organization_attrs is None:
        organization_attrs = {f.name: f for f in ORGANIZATION_FIELDS}
    fields = list(BASE_FIELDS if base is None else base)
    by_name = {f.name: f for f in fields}
    for prefix, attrs in (
        ("custom.", custom_fields or {}),
        ("requester.", requester_attrs or {}),
        ("organization.", organization_attrs),
    ):
        for key, spec in attrs.items():
            by_name[prefix + key] = _spec(prefix + key, spec)
    return Catalog(
        fields=by_name,
        teams=frozenset(teams) if teams is not None else None,
        agents=frozenset(agents) if agents is not None else None,
    )


def check_value(catalog: Catalog, spec: FieldSpec, value: Any) -> tuple[str, str | None] | None:
    """Validate one scalar against a field; returns (message, suggestion) or None when fine."""
    kind = spec.kind
    if kind == "enum":
        if spec.choices is not None and value not in spec.choices:
            hint = closest(str(value), spec.choices)
            allowed = ", ".join(spec.choices)
            return f"{value!r} is not a valid {spec.name} (allowed: {allowed})", hint
        return None
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            return f"{spec.name} needs an integer, got {value!r}", None
        return None
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"{spec.name} needs a number, got {value!r}", None
        return None
    if kind == "bool":
        if not isinstance(value, bool):
            return f"{spec.name} needs true or false, got {value!r}", None
        return None
    if kind in ("text", "tags", "set", "ref"):
        if not isinstance(value, str):
            return f"{spec.name} needs a string, got {value!r}", None
        if kind in ("ref", "set") and spec.ref_to:
            return catalog.check_ref(spec.ref_to, value)
        return None
    if kind == "date":
        if parse_date(value) is None:
            return f"{spec.name} needs an ISO date or datetime, got {value!r}", None
        return None
    return None


def parse_date(value: Any) -> dt.datetime | None:
    """Dates compare as aware datetimes; a bare date means midnight UTC (one rule, documented)."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    return None


def value_problem(catalog: Catalog, spec: FieldSpec, value: Any) -> str | None:
    """Why ``value`` cannot be the value of field ``spec`` (None = it can; None clears a field).

    One check for a whole value, shared by every writer and checker: rule actions (through the
    guard), the API's custom fields, and dry-run snapshots. ``check_value`` checks one literal.
    """
    if value is None:
        return None
    if spec.set_valued:
        if not isinstance(value, list | tuple | set | frozenset):
            return "must be a list of strings"
        for item in value:
            bad = check_value(catalog, spec, item)
            if bad is not None:
                return bad[0]
        return None
    if spec.kind == "any":
        return None
    bad = check_value(catalog, spec, value)
    return bad[0] if bad is not None else None
