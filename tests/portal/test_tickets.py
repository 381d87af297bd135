"""The signed-in customer's pages: only their own tickets (their organization's when allowed,
read only), the public conversation only, sanitized, replies and marking solved through the
ticket services."""

from __future__ import annotations

from typing import Any

from django.test import Client

from flowdesk.accounts.services import do_create_user
from flowdesk.tickets.models import Message, Ticket, TicketUpdate
from flowdesk.tickets.services import Cause, ChangeSet, NewMessage, check_update_ticket
from portal_helpers import signed_in
from web_helpers import PASSWORD, WebDesk, ticket


def _colleague(web: WebDesk) -> Any:
    return do_create_user(
        "cody@acme.test", name="Cody", organization=web.cora.organization, password=PASSWORD
    )


def _stranger() -> Any:
    return do_create_user("finn@free.test", name="Finn", password=PASSWORD)


def _by(web: WebDesk, requester: Any, subject: str) -> Ticket:
    from flowdesk.core.clock import utcnow
    from flowdesk.tickets.services import check_create_ticket

    return check_create_ticket(
        actor=None,
        requester=requester,
        subject=subject,
        message=NewMessage(body_text="Hello."),
        channel="email",
        changes=ChangeSet(),
        cause=Cause.for_user(requester),
        now=utcnow(),
    )


def _agent_says(web: WebDesk, t: Ticket, body: str, *, public: bool, html: str = "") -> None:
    from flowdesk.core.clock import utcnow

    check_update_ticket(
        t,
        changes=ChangeSet(),
        message=NewMessage(body_text=body, body_html=html, public=public),
        expected_version=None,
        cause=Cause.for_user(web.alice),
        now=utcnow(),
    )


def test_my_requests_newest_first_and_only_mine(web: WebDesk) -> None:
    ticket(web, "Older request", minutes_ago=60)
    ticket(web, "Newer request", minutes_ago=1, status="pending")
    _by(web, _stranger(), "Finn's secret trouble")
    _by(web, _colleague(web), "Cody's printer")
    body = signed_in("cora@acme.test").get("/portal/").content.decode()
    assert body.index("Newer request") < body.index("Older request")
    assert "Waiting for your reply" in body  # the status, as a customer reads it
    assert "Finn&#x27;s secret trouble" not in body
    assert "Finn's secret" not in body
    assert "Cody" not in body


def test_my_requests_are_paginated(web: WebDesk) -> None:
    for i in range(27):
        ticket(web, f"Request number {i:02d}", minutes_ago=100 - i)
    client = signed_in("cora@acme.test")
    first = client.get("/portal/").content.decode()
    assert "Request number 26" in first
    assert "Request number 02" in first
    assert "Request number 01" not in first
    assert 'rel="next" href="?page=2"' in first
    second = client.get("/portal/?page=2").content.decode()
    assert "Request number 01" in second
    assert "Request number 00" in second
    assert "Request number 26" not in second


def test_organization_tickets_only_when_allowed_and_read_only(web: WebDesk, settings: Any) -> None:
    theirs = _by(web, _colleague(web), "Cody's printer")
    client = signed_in("cora@acme.test")
    assert client.get(f"/portal/tickets/{theirs.pk}").status_code == 404
    settings.FLOWDESK = {**settings.FLOWDESK, "PORTAL_ORG_TICKETS": True}
    assert "Cody&#x27;s printer" in client.get("/portal/").content.decode()
    page = client.get(f"/portal/tickets/{theirs.pk}")
    assert page.status_code == 200
    assert "you can read it" in page.content.decode()
    assert client.post(f"/portal/tickets/{theirs.pk}/reply", {"body": "me too"}).status_code == 404
    assert client.post(f"/portal/tickets/{theirs.pk}/solve").status_code == 404
    assert Ticket.objects.get(pk=theirs.pk).message_count == 1
    # A customer without an organization sees only their own, setting or not.
    _by(web, _stranger(), "Finn's own")
    assert "Cody" not in signed_in("finn@free.test").get("/portal/").content.decode()


def test_another_customers_ticket_is_not_found_everywhere(web: WebDesk) -> None:
    theirs = _by(web, _stranger(), "Finn's secret trouble")
    client = signed_in("cora@acme.test")
    for method, url in (
        ("get", f"/portal/tickets/{theirs.pk}"),
        ("post", f"/portal/tickets/{theirs.pk}/reply"),
        ("post", f"/portal/tickets/{theirs.pk}/solve"),
        ("get", f"/portal/tickets/{theirs.pk}/files/1/{'a' * 32}"),
        ("get", "/portal/tickets/999999"),
    ):
        r = getattr(client, method)(url, {"body": "hi"} if method == "post" else None)
        assert r.status_code == 404, (method, url)
        assert "Finn" not in r.content.decode()
    t = Ticket.objects.get(pk=theirs.pk)
    assert (t.status, t.message_count) == ("new", 1)


def test_internal_notes_are_never_shown_and_html_is_sanitized(web: WebDesk) -> None:
    t = ticket(web, "Invoice question")
    _agent_says(web, t, "NOTE: customer is on the churn list", public=False)
    _agent_says(
        web,
        t,
        "We fixed it.",
        public=True,
        html='<p>We <b>fixed</b> it.<script>alert("x")</script><img src="http://t/px.gif"></p>',
    )
    body = signed_in("cora@acme.test").get(f"/portal/tickets/{t.pk}").content.decode()
    assert "churn list" not in body
    assert "<b>fixed</b>" in body
    assert "<script>alert" not in body
    assert "px.gif" not in body
    assert "Reply from support" in body


def test_customer_replies_through_the_services_with_the_portal_cause(web: WebDesk) -> None:
    t = ticket(web, "Invoice question")
    client = signed_in("cora@acme.test")
    r = client.post(f"/portal/tickets/{t.pk}/reply", {"body": "Here is more detail."})
    assert (r.status_code, r["Location"]) == (302, f"/portal/tickets/{t.pk}#reply")
    m = Message.objects.filter(ticket=t).last()
    assert m is not None
    assert (m.body_text, m.public, m.channel, m.author_kind) == (
        "Here is more detail.",
        True,
        "portal",
        "customer",
    )
    assert m.update is not None
    assert (m.update.cause_kind, m.update.actor_id) == ("portal", web.cora.pk)
    page = client.get(f"/portal/tickets/{t.pk}").content.decode()
    assert "Your reply was sent." in page
    assert "Here is more detail." in page


def test_a_blank_reply_is_refused_and_writes_nothing(web: WebDesk) -> None:
    t = ticket(web, "Invoice question")
    r = signed_in("cora@acme.test").post(f"/portal/tickets/{t.pk}/reply", {"body": "  "})
    assert r.status_code == 422
    assert Ticket.objects.get(pk=t.pk).message_count == 1


def test_customer_marks_their_ticket_solved(web: WebDesk) -> None:
    t = ticket(web, "Invoice question", status="open")
    client = signed_in("cora@acme.test")
    assert "Mark as solved" in client.get(f"/portal/tickets/{t.pk}").content.decode()
    r = client.post(f"/portal/tickets/{t.pk}/solve")
    assert r.status_code == 302
    t = Ticket.objects.get(pk=t.pk)
    assert t.status == "solved"
    last = TicketUpdate.objects.filter(ticket=t).last()
    assert last is not None
    assert last.cause_kind == "portal"
    page = client.get(f"/portal/tickets/{t.pk}").content.decode()
    assert "Marked as solved" in page
    assert "Mark as solved</button>" not in page


def test_solve_and_reply_need_post_and_a_sign_in(web: WebDesk) -> None:
    t = ticket(web, "Invoice question")
    client = signed_in("cora@acme.test")
    assert client.get(f"/portal/tickets/{t.pk}/solve").status_code == 405
    anonymous = Client()
    r = anonymous.post(f"/portal/tickets/{t.pk}/solve")
    assert r.status_code == 302
    assert r["Location"].startswith("/portal/login")
    assert Ticket.objects.get(pk=t.pk).status == "new"


def test_csrf_is_required(web: WebDesk) -> None:
    t = ticket(web, "Invoice question")
    client = Client(enforce_csrf_checks=True)
    client.force_login(web.cora)
    assert client.post(f"/portal/tickets/{t.pk}/solve").status_code == 403
    assert Ticket.objects.get(pk=t.pk).status == "new"
