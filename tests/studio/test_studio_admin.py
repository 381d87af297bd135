"""The Django admin at /studio/admin/: admins only (by role, not by the staff flag), and every
write goes through the directory's services, refusals included."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from studio_helpers import RULES, store

from web_helpers import WebDesk

pytestmark = pytest.mark.django_db

PAGES = (
    "/studio/admin/",
    "/studio/admin/accounts/team/",
    "/studio/admin/accounts/organization/",
    "/studio/admin/studio/agent/",
    "/studio/admin/studio/customer/",
    "/studio/admin/tickets/customfielddef/",
)


def _client(user: Any) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_anonymous_users_are_sent_to_the_workspace_sign_in(web: WebDesk) -> None:
    for url in (*PAGES, "/studio/admin/login/"):
        r = Client().get(url, follow=True)
        assert r.redirect_chain, url
        assert r.redirect_chain[-1][0].startswith("/login?next="), url
        assert "Tier 1" not in r.content.decode()


def test_agents_and_customers_are_refused_even_with_the_staff_flag(web: WebDesk) -> None:
    web.alice.is_staff = web.alice.is_superuser = True
    web.alice.save(update_fields=["is_staff", "is_superuser"])
    for user in (web.alice, web.cora):
        c = _client(user)
        for url in PAGES:
            r = c.get(url, follow=True)
            assert r.status_code == 403, (user, url)
            assert "Tier 2" not in r.content.decode()


def test_admins_see_the_directory_but_not_tickets(web: WebDesk) -> None:
    admin = _client(web.admin)
    for url in PAGES:
        assert admin.get(url).status_code == 200, url
    agents = admin.get("/studio/admin/studio/agent/").content.decode()
    assert "alice@desk.test" in agents
    assert "cora@acme.test" not in agents
    customers = admin.get("/studio/admin/studio/customer/").content.decode()
    assert "cora@acme.test" in customers
    assert "alice@desk.test" not in customers
    assert "/static/studio/admin.css" in admin.get("/studio/admin/").content.decode()
    for model in ("ticket", "message", "ticketevent"):
        assert admin.get(f"/studio/admin/tickets/{model}/").status_code == 404


def test_writes_go_through_the_services(web: WebDesk) -> None:
    from flowdesk.accounts.models import Team

    admin = _client(web.admin)
    r = admin.post(
        "/studio/admin/accounts/team/add/",
        {"name": "Billing", "description": "money", "members": [web.alice.pk]},
    )
    assert r.status_code == 302, r.content.decode()[-3000:]
    billing = Team.objects.get(name="Billing")
    assert list(billing.members.all()) == [web.alice]
    # the rules name Tier 2: renaming it is refused, as in the API, and nothing changes
    store(RULES)
    url = f"/studio/admin/accounts/team/{web.tier2.pk}/change/"
    r = admin.post(url, {"name": "Second line", "description": "", "members": []}, follow=True)
    assert "Not saved" in r.content.decode()
    assert "named by the active rule set" in r.content.decode()
    web.tier2.refresh_from_db()
    assert web.tier2.name == "Tier 2"
    assert list(web.tier2.members.all()) == [web.carol]
    # a team with tickets or named by rules cannot be deleted either
    r = admin.post(
        f"/studio/admin/accounts/team/{web.tier2.pk}/delete/", {"post": "yes"}, follow=True
    )
    assert "Not deleted" in r.content.decode()
    assert Team.objects.filter(pk=web.tier2.pk).exists()


def test_the_last_admin_cannot_be_demoted(web: WebDesk) -> None:
    admin = _client(web.admin)
    url = f"/studio/admin/studio/agent/{web.admin.pk}/change/"
    r = admin.post(url, {"name": "Ada", "role": "agent", "is_active": "on"}, follow=True)
    assert "last active admin" in r.content.decode()
    web.admin.refresh_from_db()
    assert web.admin.role == "admin"


def test_agents_and_custom_fields_are_created_through_the_services(web: WebDesk) -> None:
    from flowdesk.accounts.models import User
    from flowdesk.tickets.models import CustomFieldDef

    admin = _client(web.admin)
    r = admin.post(
        "/studio/admin/studio/agent/add/",
        {"email": "Dave@Desk.test", "name": "Dave", "role": "agent", "teams": [web.tier1.pk]},
    )
    assert r.status_code == 302, r.content.decode()[-3000:]
    dave = User.objects.get(email="dave@desk.test")  # the service lower-cases it
    assert dave.role == "agent"
    assert [t.name for t in dave.teams.all()] == ["Tier 1"]
    r = admin.post(
        "/studio/admin/tickets/customfielddef/add/",
        {"key": "plan", "label": "Plan", "kind": "enum", "choices": '["starter", "pro"]'},
    )
    assert r.status_code == 302, r.content.decode()[-3000:]
    assert CustomFieldDef.objects.get(key="plan").choices == ["starter", "pro"]
    r = admin.post(
        "/studio/admin/tickets/customfielddef/add/",
        {"key": "Bad Key", "label": "x", "kind": "text", "choices": "[]"},
        follow=True,
    )
    assert not CustomFieldDef.objects.filter(label="x").exists()
