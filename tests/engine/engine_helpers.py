"""Engine test helpers (imported by name: tests/engine is on sys.path, no package here): a catalog,
a realistic snapshot, and a one-liner to compile rule lists."""

from __future__ import annotations

from typing import Any

from flowdesk.engine import Catalog, CompiledRuleSet, FieldSpec, compile_ruleset, default_catalog

TEAMS = ["Tier 1", "Tier 2", "Billing"]
AGENTS = ["ann@desk.test", "bob@desk.test"]


def make_catalog() -> Catalog:
    return default_catalog(
        custom_fields={
            "plan": FieldSpec("plan", "enum", ("free", "pro", "enterprise")),
            "seats": "int",
            "mrr": "number",
            "note": "text",
            "renewal": "date",
            "trial": "bool",
        },
        requester_attrs={"vip": "bool", "language": "text"},
        teams=TEAMS,
        agents=AGENTS,
    )


CATALOG = make_catalog()


def snapshot(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": 42,
        "subject": "Cannot log in to the portal",
        "status": "new",
        "priority": "normal",
        "type": None,
        "channel": "email",
        "tags": frozenset(),
        "assignee": None,
        "team": None,
        "followers": frozenset(),
        "requester.email": "cy@example.com",
        "requester.name": "Cy",
        "requester.vip": False,
        "requester.language": "en",
        "organization.name": "Acme",
        "organization.tier": "free",
        "custom.plan": "free",
        "custom.seats": 5,
        "custom.mrr": 99.5,
        "custom.note": None,
        "custom.renewal": "2025-06-01",
        "custom.trial": False,
        "message_count": 1,
        "age_hours": 0.0,
        "hours_since_update": 0.0,
        "latest_message.body": "Hello, I cannot log in.",
        "latest_message.author_kind": "customer",
        "latest_message.public": True,
    }
    for k, v in over.items():
        base[k.replace("__", ".")] = v
    return base


def rules(*items: dict[str, Any], templates: dict[str, Any] | None = None) -> CompiledRuleSet:
    data: dict[str, Any] = {"version": 1, "rules": list(items)}
    if templates:
        data["templates"] = templates
    return compile_ruleset(data, catalog=CATALOG, source="test.yaml")


def rule(
    name: str = "r",
    *,
    triggers: Any = ("created",),
    conditions: Any = None,
    actions: Any = None,
    **extra: Any,
) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "triggers": list(triggers)}
    if conditions is not None:
        out["conditions"] = conditions
    out["actions"] = actions if actions is not None else [{"type": "add_note", "body": "hit"}]
    out.update(extra)
    return out
