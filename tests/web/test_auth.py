"""Signing in and out of the workspace: session auth with CSRF, customers refused, failed
sign-ins limited, anonymous users sent to /login; a forgotten password reset by mail."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from web_helpers import PASSWORD, WebDesk, make_desk, ticket


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


# --- password reset -----------------------------------------------------------------------------

LINK = re.compile(r"https?://[^/\s]+(/password/reset/[^/\s]+/[^/\s]+)")
NEW_PASSWORD = "violet kettle rain 42"


def _deliver(smtp: Any, to: str) -> Any:
    """Run the outbox worker once; the one reset mail ``to`` received."""
    from django.core.management import call_command

    call_command("worker", batch=True, verbosity=0)
    mails = [m for m in smtp.received if m["To"] == to]
    assert len(mails) == 1, [m["To"] for m in smtp.received]
    return mails[0]


def _link(mail: Any) -> str:
    found = LINK.search(mail.get_content())
    assert found, mail.get_content()
    return found.group(1)


def _set_password(client: Client, link: str, first: str, second: str | None = None) -> Any:
    r = client.get(link)  # Django trades the token in the address for one in the session
    assert r.status_code == 302, r
    data = {"new_password1": first, "new_password2": first if second is None else second}
    return client.post(r["Location"], data)


@pytest.mark.django_db(transaction=True)
def test_forgotten_password_reset_by_mail_then_sign_in(smtp: Any) -> None:
    import json

    from flowdesk.outbox.models import OutboxItem

    make_desk()
    client = Client()
    assert 'href="/password/reset">Forgot password?</a>' in client.get("/login").content.decode()
    r = client.post("/password/reset", {"email": "Alice@Desk.test"})
    assert (r.status_code, r["Location"]) == (302, "/password/reset/sent")
    assert smtp.received == []  # queued in the request, sent by a worker after the commit
    item = OutboxItem.objects.get()
    assert item.payload["to"] == ["alice@desk.test"]
    assert "/password/reset/" not in json.dumps(item.payload)  # the outbox holds no link
    mail = _deliver(smtp, "alice@desk.test")
    assert mail["Subject"] == "Reset your flowdesk password"
    assert "Hello Alice," in mail.get_content()
    link = _link(mail)

    # The new password goes through the validators, each refusal said plainly.
    refusals = {
        "1234": ["This password is too short", "This password is entirely numeric."],
        "password": ["This password is too common."],
        "alice@desk.test": ["The password is too similar to the email."],
    }
    for weak, messages in refusals.items():
        page = _set_password(client, link, weak).content.decode()
        for message in messages:
            assert message in page, (weak, message)
    page = _set_password(client, link, NEW_PASSWORD, NEW_PASSWORD + "!").content.decode()
    assert "The two passwords do not match." in page
    assert _login(Client(), "alice@desk.test", NEW_PASSWORD).status_code == 200  # not yet

    r = _set_password(client, link, NEW_PASSWORD)
    assert (r.status_code, r["Location"]) == (302, "/password/reset/done")
    assert "Sign in with it now." in client.get("/password/reset/done").content.decode()
    assert _login(Client(), "alice@desk.test", NEW_PASSWORD).status_code == 302
    assert _login(Client(), "alice@desk.test").status_code == 200  # the old one is gone
    # The link is spent: it changed the password its token was made from.
    page = Client().get(link, follow=True).content.decode()
    assert "This link does not work any more" in page


@pytest.mark.django_db(transaction=True)
def test_every_address_gets_the_same_answer_and_only_agents_a_mail(smtp: Any) -> None:
    from flowdesk.accounts.services import do_update_agent
    from flowdesk.outbox.models import OutboxItem

    desk = make_desk()
    do_update_agent(desk.carol, active=False)
    answers = set()
    for email in ("nobody@desk.test", "cora@acme.test", "carol@desk.test", "admin@desk.test"):
        client = Client()
        r = client.post("/password/reset", {"email": email}, follow=True)
        html = re.sub(r"[A-Za-z0-9]{64}", "", r.content.decode())  # the page's CSRF tokens
        answers.add((r.status_code, r.redirect_chain[-1][0], html))
    assert len(answers) == 1  # unknown, a customer, a deactivated agent, an admin: alike
    assert [i.payload["to"] for i in OutboxItem.objects.all()] == [["admin@desk.test"]]
    assert _link(_deliver(smtp, "admin@desk.test"))


def test_reset_requests_are_limited_per_address_and_per_client(web: WebDesk, settings: Any) -> None:
    from flowdesk.outbox.models import OutboxItem

    settings.FLOWDESK = {**settings.FLOWDESK, "PASSWORD_RESETS_PER_HOUR": 2}
    for _ in range(2):
        assert Client().post("/password/reset", {"email": "alice@desk.test"}).status_code == 302
    for email in ("alice@desk.test", "nobody@desk.test"):  # this client is over its limit
        r = Client().post("/password/reset", {"email": email})
        assert r.status_code == 200
        assert "Too many password reset requests" in r.content.decode()
    other = Client(REMOTE_ADDR="10.0.0.9")  # another client, the same address: still limited
    assert (
        "Too many" in other.post("/password/reset", {"email": "alice@desk.test"}).content.decode()
    )
    assert other.post("/password/reset", {"email": "carol@desk.test"}).status_code == 302
    assert OutboxItem.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_the_link_expires(smtp: Any, settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import timedelta

    from django.contrib.auth.tokens import default_token_generator

    make_desk()
    Client().post("/password/reset", {"email": "alice@desk.test"})
    link = _link(_deliver(smtp, "alice@desk.test"))
    # The generator's own (naive, local) clock, moved past the timeout.
    later = default_token_generator._now() + timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 60)
    monkeypatch.setattr(default_token_generator, "_now", lambda: later)
    page = Client().get(link, follow=True).content.decode()
    assert "This link does not work any more" in page
    assert 'href="/password/reset"' in page  # ask for a new one


@pytest.mark.django_db(transaction=True)
def test_the_reset_mail_and_pages_speak_the_users_language(smtp: Any) -> None:
    from flowdesk.accounts.services import do_set_language

    desk = make_desk()
    do_set_language(desk.alice, "fil")
    Client().post("/password/reset", {"email": "alice@desk.test"})
    mail = _deliver(smtp, "alice@desk.test")
    assert mail["Subject"] == "I-reset ang iyong password sa flowdesk"
    text = mail.get_content()
    assert "Kumusta, Alice," in text
    assert "Isang beses lang magagamit ang link, sa loob ng 72 oras." in text
    client = Client(HTTP_ACCEPT_LANGUAGE="fil")
    page = _set_password(client, _link(mail), "1234").content.decode()
    assert '<html lang="fil"' in page
    assert "Masyadong maikli ang password na ito." in page
    assert "Puro numero ang password na ito." in page


@pytest.mark.browser
def test_an_agent_resets_a_forgotten_password_in_the_browser(
    browser: Any, live_server: Any, transactional_db: Any, smtp: Any
) -> None:
    """Every page of the flow also passes the accessibility check of test_accessibility."""
    from test_accessibility import _check

    make_desk()
    page = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{live_server.url}/login")
    page.get_by_role("link", name="Forgot password?").click()
    _check(page, "forgot password")
    page.get_by_label("E-mail").fill("alice@desk.test")
    page.get_by_role("button", name="Send the link").click()
    page.get_by_role("heading", name="Check your e-mail").wait_for()
    _check(page, "reset link sent")
    link = _link(_deliver(smtp, "alice@desk.test"))
    page.goto(f"{live_server.url}{link}")
    page.get_by_label("New password", exact=True).fill("1234")
    page.get_by_label("New password again").fill("1234")
    page.get_by_role("button", name="Save the new password").click()
    page.get_by_role("alert").get_by_text("This password is too common.").wait_for()
    _check(page, "new password refused")
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Save the new password").click()
    page.get_by_role("heading", name="Password changed").wait_for()
    _check(page, "password changed")
    page.get_by_role("link", name="Sign in").last.click()
    page.get_by_label("E-mail").fill("alice@desk.test")
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/agent/")
