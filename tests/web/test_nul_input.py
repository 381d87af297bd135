"""A NUL character in a form field or query string is a 400 naming the field, on every database
(PostgreSQL cannot store NUL), and nothing is written."""

from __future__ import annotations

from django.test import Client

from web_helpers import WebDesk, ticket


def _client(user: object) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_workspace_posts_refuse_nul_by_field_and_store_nothing(web: WebDesk) -> None:
    from flowdesk.tickets.models import Message, Ticket

    t = ticket(web, "Printer on fire", team="Tier 1")
    alice = _client(web.alice)
    before = (Message.objects.filter(ticket=t).count(), t.version)

    r = alice.post(f"/agent/tickets/{t.pk}/messages", {"body": "toner\x00", "kind": "reply"})
    assert r.status_code == 400
    assert "“body” must not contain the NUL character" in r.content.decode()

    r = alice.post(
        f"/agent/tickets/{t.pk}/fields",
        {"tags": "vip\x00", "orig_tags": "", "version": str(t.version), "seen": "0"},
    )
    assert r.status_code == 400
    assert "“tags”" in r.content.decode()

    t = Ticket.objects.get(pk=t.pk)
    assert (Message.objects.filter(ticket=t).count(), t.version) == before
    assert t.tags == []
    # The same posts without the NUL go through: the refusal is the character, not the form.
    r = alice.post(f"/agent/tickets/{t.pk}/messages", {"body": "toner", "kind": "reply"})
    assert r.status_code == 302


def test_query_strings_refuse_nul_on_pages(web: WebDesk) -> None:
    # (The API answers its own 422 naming the parameter: tests/test_bad_input.py.)
    alice = _client(web.alice)
    r = alice.get("/agent/", {"q": "card\x00"})
    assert r.status_code == 400
    assert "“q”" in r.content.decode()
    r = alice.get("/agent/customers/1", {"tab\x00": "x"})
    assert r.status_code == 400
    assert "“tab\\0”" in r.content.decode()


def test_the_portal_form_refuses_nul_and_files_no_ticket(web: WebDesk) -> None:
    from flowdesk.tickets.models import Ticket

    before = Ticket.objects.count()
    r = Client().post(
        "/portal/new",
        {"email": "new@example.test", "name": "N", "subject": "Help\x00", "body": "Please"},
    )
    assert r.status_code == 400
    assert "“subject”" in r.content.decode()
    assert Ticket.objects.count() == before
