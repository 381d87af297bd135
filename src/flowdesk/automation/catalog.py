"""Builds the engine's Catalog (known fields, teams, agents) from the database."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings

from flowdesk.accounts.models import Organization, Role, Team, User
from flowdesk.automation.models import WebhookEndpoint
from flowdesk.engine import Catalog, FieldSpec, default_catalog
from flowdesk.engine.netguard import Allowlist, Endpoint, GuardedCatalog, WebhookPolicy
from flowdesk.engine.vocabulary import ORGANIZATION_FIELDS
from flowdesk.tickets.fields import base_specs, custom_field_defs, custom_spec


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
    for d in custom_field_defs():
        specs[d.key] = custom_spec(d.key, d.kind, d.choices)
    return specs


#: where the names rules may refer to, kept by packages above automation, come from: the
#: escalation paths (flowdesk.routing registers them; automation never imports it)
_path_names: list[Callable[[], Iterable[str]]] = []


def register_escalation_path_names(source: Callable[[], Iterable[str]]) -> None:
    if source not in _path_names:
        _path_names.append(source)


def build_catalog(*, check_names: bool) -> Catalog:
    """check_names: validate team/agent names (on import); off when compiling a stored version,
    so a team renamed later cannot make the active rule set uncompilable."""
    requester_attrs = _attr_kinds(
        list(User.objects.filter(role=Role.CUSTOMER).values_list("attributes", flat=True)[:500])
    )
    org_attrs: dict[str, Any] = _attr_kinds(
        list(Organization.objects.values_list("attributes", flat=True)[:500])
    )
    for spec in ORGANIZATION_FIELDS:
        org_attrs[spec.name] = spec
    teams = agents = None
    if check_names:
        teams = frozenset(Team.objects.values_list("name", flat=True))
        agents = frozenset(
            User.objects.filter(role__in=[Role.AGENT, Role.ADMIN]).values_list("email", flat=True)
        )
    base = default_catalog(
        custom_fields=custom_field_specs(),
        requester_attrs=requester_attrs,
        organization_attrs=org_attrs,
        teams=teams,
        agents=agents,
        base=base_specs(),
    )
    # Stored versions compile without the destination checks (an endpoint retired later must not
    # make the active rule set uncompilable); delivery checks every call again.
    policy = webhook_policy() if check_names else WebhookPolicy(check=False)
    paths = None
    if check_names and _path_names:
        paths = frozenset(name for source in _path_names for name in source())
    return GuardedCatalog(
        base.fields, base.teams, base.agents, escalation_paths=paths, webhooks=policy
    )


def private_allowlist() -> Allowlist:
    """FLOWDESK_WEBHOOK_ALLOW_PRIVATE: hosts, addresses and networks webhooks may reach although
    they are private (every endpoint can also vouch for its own host: allow_private)."""
    return Allowlist.parse(getattr(settings, "FLOWDESK_WEBHOOK_ALLOW_PRIVATE", ()))


def endpoint_of(row: WebhookEndpoint) -> Endpoint:
    return Endpoint(row.name, row.url, prefix=row.prefix, allow_private=row.allow_private)


def webhook_policy() -> WebhookPolicy:
    """Rules may call registered endpoints only: an unregistered URL is refused at import."""
    endpoints = tuple(endpoint_of(e) for e in WebhookEndpoint.objects.order_by("name"))
    return WebhookPolicy(endpoints, private_allowlist(), require_endpoint=True)
