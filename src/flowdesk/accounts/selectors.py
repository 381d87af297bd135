"""Permission-checked loaders and list queries for people, and what the active rule set names.

The directory (agents, customers, teams, organizations) is for agents and admins: a customer asks
for it and gets 403 (a customer reads only itself, through /api/me), never a filtered list. Ids
that do not exist, or name another kind of row (a customer's id at /agents), are 404.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db.models import Count, Model, Q, QuerySet

from flowdesk.accounts.models import Organization, Role, Team, User
from flowdesk.automation.services import active_version
from flowdesk.core.errors import Forbidden, NotFound

AGENT_ROLES = (Role.AGENT, Role.ADMIN)
M = TypeVar("M", bound=Model)


def require_directory_access(user: User) -> None:
    if not user.is_agent:
        raise Forbidden("the directory is visible to agents and admins; read yourself at /api/me")


def matching_words(qs: QuerySet[M], q: str | None, *fields: str) -> QuerySet[M]:
    """Every word of q must appear in one of the fields (case-insensitive)."""
    for word in (q or "").split():
        cond = Q()
        for f in fields:
            cond |= Q(**{f"{f}__icontains": word})
        qs = qs.filter(cond)
    return qs


def first_or_404(qs: QuerySet[M], pk: int, what: str) -> M:
    row = qs.filter(pk=pk).first()
    if row is None:
        raise NotFound(f"{what} {pk} not found")
    return row


def agents_for(
    user: User,
    *,
    team: str | None = None,
    active: bool | None = None,
    role: str | None = None,
    q: str | None = None,
) -> QuerySet[User]:
    require_directory_access(user)
    qs = User.objects.filter(role__in=AGENT_ROLES).prefetch_related("teams")
    if team == "none":
        qs = qs.filter(teams__isnull=True)
    elif team is not None:
        qs = qs.filter(teams__name=team)
    if active is not None:
        qs = qs.filter(is_active=active)
    if role is not None:
        qs = qs.filter(role=role)
    return matching_words(qs, q, "email", "name").order_by("email")


def access_agent_by_id(user: User, agent_id: int) -> User:
    return first_or_404(agents_for(user), agent_id, "agent")


def customers_for(
    user: User,
    *,
    organization: str | None = None,
    q: str | None = None,
    merged: bool | None = None,
) -> QuerySet[User]:
    """Customers in the directory: ``merged`` False lists the live ones, True only tombstones
    (customers merged into another), None both (a lookup by id finds a tombstone to redirect)."""
    require_directory_access(user)
    qs = User.objects.filter(role=Role.CUSTOMER).select_related("organization")
    if merged is not None:
        qs = qs.filter(merged_into__isnull=not merged)
    if organization == "none":
        qs = qs.filter(organization__isnull=True)
    elif organization is not None:
        qs = qs.filter(organization__name=organization)
    return matching_words(qs, q, "email", "name").order_by("email")


def access_customer_by_id(user: User, customer_id: int) -> User:
    return first_or_404(customers_for(user), customer_id, "customer")


def teams_for(user: User, *, q: str | None = None) -> QuerySet[Team]:
    require_directory_access(user)
    qs = Team.objects.annotate(ticket_count=Count("tickets", distinct=True)).prefetch_related(
        "members"
    )
    return matching_words(qs, q, "name").order_by("name")


def access_team_by_id(user: User, team_id: int) -> Team:
    return first_or_404(teams_for(user), team_id, "team")


def organizations_for(user: User, *, q: str | None = None) -> QuerySet[Organization]:
    require_directory_access(user)
    qs = Organization.objects.annotate(
        member_count=Count("members", distinct=True),
        ticket_count=Count("tickets", distinct=True),
    )
    return matching_words(qs, q, "name").order_by("name")


def access_organization_by_id(user: User, org_id: int) -> Organization:
    return first_or_404(organizations_for(user), org_id, "organization")


# --- What the active rule set names --------------------------------------------------------
# Rules name teams and agents as plain strings (that is what makes them readable YAML), so a
# rename or deactivation would silently break them: the writers ask these first and refuse.


@dataclass(frozen=True)
class Naming:
    """What counts as naming a value: fields compared with it (conditions, change triggers,
    set_field) and the action options that hold it."""

    values: frozenset[str]
    fields: frozenset[str]
    actions: frozenset[tuple[str, str]] = frozenset()
    fold: bool = False

    def hit(self, value: Any) -> bool:
        if isinstance(value, list):
            return any(self.hit(v) for v in value)
        if not isinstance(value, str):
            return False
        return (value.casefold() if self.fold else value) in self.values


def naming_team(name: str) -> Naming:
    return Naming(
        values=frozenset([name]),
        fields=frozenset(["team"]),
        actions=frozenset([("assign_team", "team"), ("escalate", "team"), ("notify", "team")]),
    )


def naming_agent(email: str) -> Naming:
    return Naming(
        values=frozenset([email.casefold()]),
        fields=frozenset(["assignee", "followers"]),
        actions=frozenset(
            [("assign_agent", "agent"), ("add_follower", "agent"), ("notify", "agents")]
        ),
        fold=True,
    )


def naming_organization(name: str) -> Naming:
    # organization.name is a text field: the engine compares it case-insensitively.
    return Naming(
        values=frozenset([name.casefold()]), fields=frozenset(["organization.name"]), fold=True
    )


def naming_choices(field: str, choices: Iterable[str]) -> Naming:
    return Naming(values=frozenset(choices), fields=frozenset([field]))


def _leaves(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, list):
        for child in node:
            yield from _leaves(child)
    elif isinstance(node, dict):
        groups = [g for g in ("all", "any", "none") if g in node]
        if not groups:
            yield node
        for g in groups:
            yield from _leaves(node[g])


def _trigger_field(trigger: dict[str, Any]) -> str | None:
    kind = str(trigger.get("type", ""))
    if kind == "field_changed":
        return str(trigger.get("field", ""))
    return kind.removesuffix("_changed") if kind.endswith("_changed") else None


def _action_names(action: dict[str, Any], naming: Naming) -> bool:
    kind = action.get("type")
    if kind == "set_field" and action.get("field") in naming.fields:
        return naming.hit(action.get("value"))
    return any(kind == t and naming.hit(action.get(opt)) for t, opt in naming.actions)


def _trigger_names(trigger: Any, naming: Naming) -> bool:
    return (
        isinstance(trigger, dict)
        and _trigger_field(trigger) in naming.fields
        and (naming.hit(trigger.get("from")) or naming.hit(trigger.get("to")))
    )


def _rule_names(rule: dict[str, Any], naming: Naming) -> bool:
    return (
        any(_action_names(a, naming) for a in rule.get("actions") or [])
        or any(_trigger_names(t, naming) for t in rule.get("triggers") or [])
        or any(
            leaf.get("field") in naming.fields and naming.hit(leaf.get("value"))
            for leaf in _leaves(rule.get("conditions"))
        )
    )


def _active_definition() -> dict[str, Any]:
    version = active_version()
    return version.definition if version is not None else {}


def rules_naming(naming: Naming) -> list[str]:
    """Names of the active rules that name the value (disabled rules too: they may be enabled)."""
    return [
        str(rule.get("name", "?"))
        for rule in _active_definition().get("rules") or []
        if _rule_names(rule, naming)
    ]


def rules_mentioning_field(field: str) -> list[str]:
    """Rules (and templates) that read or write a field anywhere, placeholders included."""
    placeholder = re.compile(r"\{\{\s*(?:ticket\.)?" + re.escape(field) + r"\s*\}\}")

    def mentions(node: Any) -> bool:
        if isinstance(node, str):
            return node == field or placeholder.search(node) is not None
        if isinstance(node, dict):
            return any(mentions(v) for v in node.values())
        return isinstance(node, list) and any(mentions(v) for v in node)

    definition = _active_definition()
    out = [
        str(rule.get("name", "?"))
        for rule in definition.get("rules") or []
        if any(mentions(rule.get(k)) for k in ("triggers", "conditions", "actions"))
    ]
    templates = definition.get("templates") or {}
    out += [f"template {name}" for name, tpl in templates.items() if mentions(tpl)]
    return out
