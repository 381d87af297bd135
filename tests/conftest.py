"""Shared fixtures: a small help desk (teams, agents, customers, tokens)."""

from __future__ import annotations

from typing import Any

import pytest

from api_helpers import ADMIN, Api, Desk


@pytest.fixture
def desk(db: Any) -> Desk:
    from flowdesk.accounts.models import Role
    from flowdesk.accounts.services import (
        do_create_organization,
        do_create_team,
        do_create_token,
        do_create_user,
    )
    from flowdesk.tickets.models import CustomFieldDef

    admin = do_create_user(ADMIN, name="Ada Admin", role=Role.ADMIN)
    alice = do_create_user("alice@desk.test", name="Alice", role=Role.AGENT)
    carol = do_create_user("carol@desk.test", name="Carol", role=Role.AGENT)
    erin = do_create_user("erin@desk.test", name="Erin", role=Role.AGENT)
    do_create_team("Tier 1", [alice])
    do_create_team("Tier 2", [carol])
    do_create_team("Billing", [erin])
    acme = do_create_organization("Acme", {"tier": "enterprise"})
    free = do_create_organization("Freebies", {"tier": "free"})
    cust = do_create_user("cora@acme.test", name="Cora", organization=acme)
    other = do_create_user("finn@free.test", name="Finn", organization=free)
    CustomFieldDef.objects.create(key="plan", label="Plan", kind="enum", choices=["starter", "pro"])
    CustomFieldDef.objects.create(key="seats", label="Seats", kind="int")
    return Desk(
        admin=Api(do_create_token(admin, "t")[1]),
        agent=Api(do_create_token(alice, "t")[1]),
        customer=Api(do_create_token(cust, "t")[1]),
        other_customer=Api(do_create_token(other, "t")[1]),
        customer_email=cust.email,
        other_customer_email=other.email,
    )


@pytest.fixture
def demo_rules(desk: Desk) -> Desk:
    """The desk with the demo rule set imported through the API."""
    from flowdesk.demo.seed import demo_rules_yaml

    r = desk.admin.post("/rules", {"yaml": demo_rules_yaml(), "source": "demo/rules.yaml"})
    assert r.status == 201, r
    return desk


@pytest.fixture
def smtp(settings: Any) -> Any:
    """A real SMTP server on localhost; Django's SMTP backend is pointed at it."""
    from smtp_sink import smtp_sink

    with smtp_sink() as sink:
        for key, value in sink.settings().items():
            setattr(settings, key, value)
        yield sink
