"""Builds the engine's Catalog (known fields, teams, agents) from the database."""

from __future__ import annotations

from typing import Any

from flowdesk.accounts.models import Organization, Role, Team, User
from flowdesk.engine import Catalog, FieldSpec, default_catalog
from flowdesk.tickets.models import CustomFieldDef

ORG_TIERS = ("enterprise", "business", "free")


def _attr_kinds(rows: list[dict[str, Any]]) -> dict[str, str]:
    kinds: dict[str, str] = {}
    for attrs in rows:
        for key, value in (attrs or {}).items():
            kind = (
                "bool"
                if isinstance(value, bool)
                else "number"
                if isinstance(value, int | float)
                else "text"
            )
            kinds.setdefault(key, kind)
    return kinds


def custom_field_specs() -> dict[str, FieldSpec]:
    specs: dict[str, FieldSpec] = {}
    for d in CustomFieldDef.objects.order_by("key"):
        choices = tuple(str(c) for c in d.choices) if d.kind == "enum" else None
        specs[d.key] = FieldSpec(f"custom.{d.key}", d.kind, choices)
    return specs


def build_catalog(*, check_names: bool) -> Catalog:
    """check_names: validate team/agent names (on import); off when compiling a stored version,
    so a team renamed later cannot make the active rule set uncompilable."""
    requester_attrs = _attr_kinds(
        list(User.objects.filter(role=Role.CUSTOMER).values_list("attributes", flat=True)[:500])
    )
    org_attrs: dict[str, Any] = _attr_kinds(
        list(Organization.objects.values_list("attributes", flat=True)[:500])
    )
    org_attrs["tier"] = FieldSpec("organization.tier", "enum", ORG_TIERS)
    teams = agents = None
    if check_names:
        teams = frozenset(Team.objects.values_list("name", flat=True))
        agents = frozenset(
            User.objects.filter(role__in=[Role.AGENT, Role.ADMIN]).values_list("email", flat=True)
        )
    return default_catalog(
        custom_fields=custom_field_specs(),
        requester_attrs=requester_attrs,
        organization_attrs=org_attrs,
        teams=teams,
        agents=agents,
    )


def fill_missing(snapshot: dict[str, Any], catalog: Catalog) -> dict[str, Any]:
    """Every catalogued field is present in the snapshot (None when the ticket has no value)."""
    for name in catalog.fields:
        snapshot.setdefault(name, None)
    return snapshot
