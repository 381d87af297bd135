"""Signing in and out of the workspace: session auth with CSRF, customers refused, failed
sign-ins limited, anonymous users sent to /login."""

from __future__ import annotations

import re
from typing import Any

from django.test import Client

from web_helpers import PASSWORD, WebDesk, ticket


def _login(client: Client, email: str, password: str = PASSWORD, **extra: Any) -> Any:
    page = client.get("/login")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    assert token, "the sign-in form carries a CSRF token"
    data = {"csrfmiddlewaretoken": token.group(1), "username": email, "password": password}
    return client.post("/login", {**data, **extra})


def test_anonymous_users_are_sent_to_login(web: WebDesk) -> None:
    t = ticket(web, "Printer on fire")
    client = Client()
    for url in ("/agent/", f"/agent/tickets/{t.pk}", f"/agent/tickets/{t.pk}/explanation"):
        r = client.get(url)
        assert r.status_code == 302, url
        assert r["Location"].startswith("/login?next=/agent/"), r["Location"]
    r = client.post(f"/agent/tickets/{t.pk}/messages", {"body": "hi"})
    assert r.status_code == 302
    # An htmx request is told to load the sign-in page whole (not swap it into a fragment).
    r = client.get("/agent/", headers={"HX-Request": "true"})
    assert r.status_code == 401
    assert r["HX-Redirect"] == "/login"


def test_agent_signs_in_with_csrf_and_out_by_post(web: WebDesk) -> None:
    client = Client(enforce_csrf_checks=True)
    r = _login(client, "Alice@Desk.test")  # e-mail is case-insensitive
    assert r.status_code == 302
    assert r["Location"] == "/agent/"
    page = client.get("/agent/")
    assert page.status_code == 200
    assert "Alice" in page.content.decode()
    assert "no-store" in page["Cache-Control"]
    assert client.get("/").status_code == 302  # the landing page sends agents on
    # Sign-out is POST only, and needs the CSRF token like every form.
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 403
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    assert token
    r = client.post("/logout", {"csrfmiddlewaretoken": token.group(1)})
    assert r.status_code == 302
    assert r["Location"] == "/login"
    assert client.get("/agent/").status_code == 302


def test_sign_in_without_csrf_token_is_refused(web: WebDesk) -> None:
    client = Client(enforce_csrf_checks=True)
    r = client.post("/login", {"username": "alice@desk.test", "password": PASSWORD})
    assert r.status_code == 403
    assert "_auth_user_id" not in client.session


def test_workspace_forms_need_the_csrf_token(web: WebDesk) -> None:
    t = ticket(web, "Printer on fire")
    client = Client(enforce_csrf_checks=True)
    client.force_login(web.alice)
    r = client.post(f"/agent/tickets/{t.pk}/messages", {"body": "hi", "kind": "reply"})
    assert r.status_code == 403
    r = client.post(f"/agent/tickets/{t.pk}/fields", {"priority": "urgent"})
    assert r.status_code == 403
    t.refresh_from_db()
    assert (t.message_count, t.priority) == (1, "normal")


def test_customers_are_refused(web: WebDesk) -> None:
    t = ticket(web, "My own request")
    client = Client()
    r = _login(client, "cora@acme.test")
    assert r.status_code == 200
    assert "for agents and admins" in r.content.decode()
    assert "_auth_user_id" not in client.session
    # A customer session from elsewhere (the coming portal) cannot use the workspace either.
    client.force_login(web.cora)
    for url in ("/agent/", f"/agent/tickets/{t.pk}"):
        r = client.get(url)
        assert r.status_code == 403, url
        assert "My own request" not in r.content.decode()
    r = client.post(f"/agent/tickets/{t.pk}/messages", {"body": "x", "kind": "note"})
    assert r.status_code == 403


def test_wrong_password_and_inactive_users(web: WebDesk) -> None:
    from flowdesk.accounts.services import do_update_agent

    client = Client()
    r = _login(client, "alice@desk.test", "wrong")
    assert r.status_code == 200
    assert "Enter a correct e-mail address and password" in r.content.decode()
    do_update_agent(web.carol, active=False)
    r = _login(client, "carol@desk.test")
    assert r.status_code == 200
    assert "_auth_user_id" not in client.session


def test_failed_sign_ins_are_limited(web: WebDesk, settings: Any) -> None:
    settings.FLOWDESK = {**settings.FLOWDESK, "LOGIN_FAILURES": 3}
    client = Client()
    for _ in range(3):
        assert "_auth_user_id" not in _login(client, "alice@desk.test", "guess").client.session
    r = _login(client, "alice@desk.test")  # even the right password, for a while
    assert "Too many failed sign-ins" in r.content.decode()
    assert "_auth_user_id" not in client.session
    # Another account from the same address is not locked out by it.
    assert _login(client, "carol@desk.test").status_code == 302
