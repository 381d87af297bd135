"""Signing in to the portal: password, mailed single-use expiring links, agents sent to the
workspace, sign-out by POST only."""

from __future__ import annotations

import time
from typing import Any
from unittest import mock

from django.core import mail
from django.test import Client

from flowdesk.outbox.models import OutboxItem
from portal_helpers import deliver, mailed_link, signed_in
from web_helpers import PASSWORD, WebDesk


def test_customer_signs_in_with_password_and_lands_on_their_requests(web: WebDesk) -> None:
    client = Client()
    r = client.post("/portal/login", {"username": "CORA@acme.test", "password": PASSWORD})
    assert r.status_code == 302
    assert r["Location"] == "/portal/"
    page = client.get("/portal/")
    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"]
    # The workspace stays closed to customers.
    assert client.get("/agent/").status_code == 403


def test_wrong_password_is_refused_on_the_page(web: WebDesk) -> None:
    r = Client().post("/portal/login", {"username": "cora@acme.test", "password": "nope"})
    assert r.status_code == 200
    assert "do not match" in r.content.decode()


def test_agents_are_sent_to_the_workspace(web: WebDesk) -> None:
    client = Client()
    r = client.post("/portal/login", {"username": "alice@desk.test", "password": PASSWORD})
    assert (r.status_code, r["Location"]) == (302, "/agent/")
    for url in ("/portal/", "/portal/new", "/portal/tickets/1", "/portal/login"):
        r = client.get(url)
        assert (r.status_code, r["Location"]) == (302, "/agent/"), url


def test_anonymous_visitors_go_to_the_portal_sign_in(web: WebDesk) -> None:
    r = Client().get("/portal/tickets/1")
    assert r.status_code == 302
    assert r["Location"].startswith("/portal/login?next=/portal/tickets/1")
    r = Client().get("/portal/", headers={"HX-Request": "true"})
    assert (r.status_code, r["HX-Redirect"]) == (401, "/portal/login")


def test_sign_out_is_post_only(web: WebDesk) -> None:
    client = signed_in("cora@acme.test")
    assert client.get("/portal/logout").status_code == 405
    assert client.get("/portal/").status_code == 200
    r = client.post("/portal/logout")
    assert (r.status_code, r["Location"]) == (302, "/portal/login")
    assert client.get("/portal/").status_code == 302


def test_sign_in_link_is_mailed_through_the_outbox_and_works_once(web: WebDesk) -> None:
    client = Client()
    r = client.post("/portal/login", {"via": "link", "email": "Cora@Acme.test"})
    assert r.status_code == 200
    assert "a sign-in link is on its way" in r.content.decode()
    # Queued in the outbox, not sent by the request.
    assert mail.outbox == []
    assert OutboxItem.objects.filter(kind="notify", payload__to=["cora@acme.test"]).count() == 1
    link = mailed_link("cora@acme.test")
    # Opening the link (a mail scanner may do it) only shows a button.
    for _ in range(2):
        page = client.get(link)
        assert page.status_code == 200
        assert "cora@acme.test" in page.content.decode()
    assert client.get("/portal/").status_code == 302  # not signed in yet
    r = client.post(link + "/go")
    assert (r.status_code, r["Location"]) == (302, "/portal/")
    assert client.get("/portal/").status_code == 200
    # Used up: a second click, from any browser, is refused.
    other = Client()
    assert other.post(link + "/go").status_code == 404
    assert other.get(link).status_code == 404
    assert other.get("/portal/").status_code == 302


def test_sign_in_link_expires(web: WebDesk, settings: Any) -> None:
    settings.FLOWDESK = {**settings.FLOWDESK, "PORTAL_SIGNIN_LINK_MINUTES": 15}
    Client().post("/portal/login", {"via": "link", "email": "cora@acme.test"})
    link = mailed_link("cora@acme.test")
    later = time.time() + 16 * 60
    with mock.patch("django.core.signing.time.time", return_value=later):
        client = Client()
        assert client.get(link).status_code == 404
        r = client.post(link + "/go")
        assert r.status_code == 404
        assert "not valid any more" in r.content.decode()


def test_a_password_sign_in_retires_older_links(web: WebDesk) -> None:
    Client().post("/portal/login", {"via": "link", "email": "cora@acme.test"})
    link = mailed_link("cora@acme.test")
    signed_in("cora@acme.test")
    assert Client().post(link + "/go").status_code == 404


def test_a_forged_or_other_kind_of_link_is_refused(web: WebDesk) -> None:
    from flowdesk.portal.links import confirm_token
    from flowdesk.portal.models import PendingRequest

    pending = PendingRequest.objects.create(name="x", email="x@x.test", subject="s", body="b")
    client = Client()
    assert client.post(f"/portal/signin/{confirm_token(pending)}/go").status_code == 404
    assert client.get("/portal/signin/eyJ1IjoxfQ:1abc:def").status_code == 404


def test_no_link_for_unknown_addresses_or_agents_and_the_same_answer(web: WebDesk) -> None:
    answers = set()
    for email in ("nobody@nowhere.test", "alice@desk.test", "cora@acme.test"):
        r = Client().post("/portal/login", {"via": "link", "email": email})
        assert r.status_code == 200
        main = r.content.decode().split("<main", 1)[1].split("</main>", 1)[0]
        answers.add(main.replace(email, "EMAIL"))
    assert len(answers) == 1
    deliver()
    assert [m.to for m in mail.outbox] == [["cora@acme.test"]]


def test_link_requests_are_rate_limited(web: WebDesk, settings: Any) -> None:
    settings.FLOWDESK = {**settings.FLOWDESK, "PORTAL_REQUESTS_PER_HOUR": 2}
    client = Client()
    codes = [client.post("/portal/login", {"via": "link", "email": "cora@acme.test"}).status_code]
    codes += [client.post("/portal/login", {"via": "link", "email": "cora@acme.test"}).status_code]
    r = client.post("/portal/login", {"via": "link", "email": "cora@acme.test"})
    assert codes == [200, 200]
    assert r.status_code == 429
    assert "Too many requests" in r.content.decode()
    deliver()
    assert len(mail.outbox) == 2


def test_a_link_for_another_verified_address_signs_in_its_customer(web: WebDesk) -> None:
    """A customer known by several addresses signs in with any one they verified: the link goes
    to the address asked for; an address merely claimed (unverified) gets none, and a merged
    customer's old login signs in the customer it was merged into."""
    from flowdesk.accounts.identities import check_add_identity
    from flowdesk.accounts.merge import check_merge_customers
    from flowdesk.accounts.services import do_create_user
    from flowdesk.core.clock import utcnow

    check_add_identity(web.cora, kind="email", value="cora@home.test", verified=True)
    check_add_identity(web.cora, kind="email", value="cora@maybe.test", verified=False)
    for address in ("Cora@Home.test", "cora@maybe.test"):
        assert Client().post("/portal/login", {"via": "link", "email": address}).status_code == 200
    deliver()
    assert [m.to for m in mail.outbox] == [["cora@home.test"]]
    client = Client()
    r = client.post(mailed_link("cora@home.test") + "/go")
    assert (r.status_code, r["Location"]) == (302, "/portal/")
    assert client.get("/portal/").context["user"] == web.cora

    old = do_create_user("c.old@acme.test", name="Cora (old)")
    check_merge_customers(old.pk, web.cora.pk, actor=web.alice, now=utcnow())
    mail.outbox.clear()
    Client().post("/portal/login", {"via": "link", "email": "c.old@acme.test"})
    client = Client()
    r = client.post(mailed_link("c.old@acme.test") + "/go")
    assert r.status_code == 302
    assert client.get("/portal/").context["user"] == web.cora
