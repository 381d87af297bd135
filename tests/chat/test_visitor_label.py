"""A visitor who left no e-mail is a customer whose login is a placeholder
(``…@visitors.invalid``): the workspace shows "chat visitor" (in the agent's language) where it
shows a requester's e-mail — the ticket page's sidebar, the inbox row, the customer page."""

from __future__ import annotations

from typing import Any

from chat_helpers import Visitor, make_site

from web_helpers import client_for, make_desk


def _anonymous_chat() -> Any:
    from flowdesk.tickets.models import Ticket

    r = Visitor(make_site().public_key).start(message="Hello?")
    assert r.status == 201, r
    ticket = Ticket.objects.select_related("requester").get(pk=r.data["ticket_id"])
    assert ticket.requester.email.endswith("@visitors.invalid")
    return ticket


def test_the_placeholder_login_is_shown_as_chat_visitor(db: Any) -> None:
    web = make_desk()
    ticket = _anonymous_chat()
    alice = client_for(web.alice)
    pages = {
        "ticket": alice.get(f"/agent/tickets/{ticket.pk}"),
        "inbox": alice.get("/agent/?view=teams"),
        "customer": alice.get(f"/agent/customers/{ticket.requester.pk}"),
    }
    for name, r in pages.items():
        html = r.content.decode()
        assert r.status_code == 200, name
        assert "chat visitor" in html, name
        assert "visitors.invalid" not in html.replace(ticket.subject, ""), name
    assert "mailto:" not in pages["ticket"].content.decode().split('id="customer"')[1][:600]


def test_chat_visitor_is_translated(db: Any) -> None:
    web = make_desk()
    ticket = _anonymous_chat()
    alice = client_for(web.alice)
    alice.cookies["django_language"] = "fil"
    html = alice.get(f"/agent/customers/{ticket.requester.pk}").content.decode()
    assert "bisita sa chat" in html
    assert "visitors.invalid" not in html
