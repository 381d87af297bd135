"""The agent console: access by team, the customer's other tickets beside an identified chat."""

from __future__ import annotations

from typing import Any

from chat_helpers import Visitor, hmac_of, make_site

from web_helpers import client_for, make_desk, ticket


def test_identified_visitor_sees_the_older_mail_ticket_beside_the_chat(db: Any) -> None:
    from flowdesk.accounts.identities import check_add_identity

    web = make_desk()
    older = ticket(web, "Invoice 1042 is wrong", team="Tier 1")
    check_add_identity(web.cora, kind="site_user", value="cora-1", verified=True)
    site = make_site()
    r = Visitor(site.public_key).start(
        user_id="cora-1", identifier_hash=hmac_of(site, "cora-1"), message="About my invoice"
    )
    assert r.status == 201, r
    from flowdesk.chat.models import ChatConversation

    chat = ChatConversation.objects.get(ticket_id=r.data["ticket_id"])
    assert chat.ticket.requester == web.cora
    alice = client_for(web.alice)
    page = alice.get(f"/agent/chats/{chat.pk}").content.decode()
    assert "About my invoice" in page  # the chat's subject
    assert f"#{older.pk} Invoice 1042 is wrong" in page  # the mail ticket in the sidebar
    listing = alice.get("/agent/chats/").content.decode()
    assert f"/agent/chats/{chat.pk}" in listing
    # The ticket page's customer sidebar lists the chat beside the mail ticket too.
    ticket_page = alice.get(f"/agent/tickets/{older.pk}").content.decode()
    assert f"#{chat.ticket_id} About my invoice" in ticket_page


def test_agents_see_only_chats_of_their_teams(db: Any) -> None:
    web = make_desk()
    site = make_site(team="Tier 1")
    r = Visitor(site.public_key).start(name="Vic")
    from flowdesk.chat.models import ChatConversation

    chat = ChatConversation.objects.get(ticket_id=r.data["ticket_id"])
    carol = client_for(web.carol)  # Tier 2
    assert f"/agent/chats/{chat.pk}" not in carol.get("/agent/chats/").content.decode()
    assert carol.get(f"/agent/chats/{chat.pk}").status_code in (403, 404)
    assert carol.get(f"/agent/chats/{chat.pk}/events").status_code in (403, 404)
    r2 = carol.post(f"/agent/chats/{chat.pk}/messages", {"body": "hi"})
    assert r2.status_code in (403, 404)
    from django.test import Client

    assert Client().get("/agent/chats/").status_code == 302
    assert client_for(web.cora).get("/agent/chats/").status_code == 403
