"""New requests: signed in (created at once) or without an account (created once, when the
mailed confirmation link is opened); the honeypot, the rate limit, and the suggestions seam."""

from __future__ import annotations

import time
from typing import Any
from unittest import mock

from django.core import mail
from django.test import Client

from flowdesk.accounts.models import User
from flowdesk.portal.models import PendingRequest
from flowdesk.portal.suggest import suggest
from flowdesk.tickets.models import Message, Ticket, TicketUpdate
from portal_helpers import deliver, kb_article, mailed_link, signed_in
from web_helpers import WebDesk

VISITOR = {
    "name": "Vic Visitor",
    "email": "Vic@Example.test",
    "subject": "Cannot find my invoice",
    "body": "Where is the invoice for March?",
}


def test_signed_in_customer_files_a_ticket_at_once(web: WebDesk) -> None:
    client = signed_in("cora@acme.test")
    r = client.post("/portal/new", {"subject": "Export fails", "body": "It times out."})
    assert r.status_code == 302
    t = Ticket.objects.get(subject="Export fails")
    assert r["Location"] == f"/portal/tickets/{t.pk}?new=1"
    assert (t.requester_id, t.channel, t.status) == (web.cora.pk, "portal", "new")
    update = TicketUpdate.objects.get(ticket=t)
    assert (update.cause_kind, update.actor_id) == ("portal", web.cora.pk)
    assert "Your request was received" in client.get(r["Location"]).content.decode()


def test_signed_in_form_errors_keep_the_input(web: WebDesk) -> None:
    r = signed_in("cora@acme.test").post("/portal/new", {"subject": "", "body": "kept text"})
    assert r.status_code == 422
    assert "kept text" in r.content.decode()
    assert not Ticket.objects.exists()


def test_visitor_request_becomes_one_ticket_when_the_link_is_opened(web: WebDesk) -> None:
    r = Client().post("/portal/new", VISITOR)
    assert r.status_code == 200
    assert "confirm by e-mail" in r.content.decode()
    assert not Ticket.objects.exists()  # nothing is filed before the link
    assert mail.outbox == []  # queued, sent by the outbox worker
    link = mailed_link("vic@example.test")
    assert "Cannot find my invoice" in mail.outbox[-1].subject
    first = Client().get(link)
    assert first.status_code == 200
    t = Ticket.objects.get()
    assert f"request #{t.pk}" in first.content.decode()
    # Opened again (or by a mail scanner first): the same ticket, nothing more.
    again = Client().get(link)
    assert again.status_code == 200
    assert "confirmed it already" in again.content.decode()
    assert Ticket.objects.count() == 1
    assert Message.objects.count() == 1
    requester = User.objects.get(email="vic@example.test")
    assert (requester.name, requester.role) == ("Vic Visitor", "customer")
    assert (t.requester_id, t.channel, t.subject) == (requester.pk, "portal", VISITOR["subject"])
    assert Message.objects.get().body_text == VISITOR["body"]
    assert TicketUpdate.objects.get(ticket=t).cause_kind == "portal"


def test_a_known_address_files_for_the_existing_customer(web: WebDesk) -> None:
    Client().post("/portal/new", {**VISITOR, "email": "cora@acme.test"})
    Client().get(mailed_link("cora@acme.test"))
    assert Ticket.objects.get().requester_id == web.cora.pk
    assert User.objects.filter(email="cora@acme.test").count() == 1


def test_an_expired_confirmation_link_files_nothing(web: WebDesk, settings: Any) -> None:
    settings.FLOWDESK = {**settings.FLOWDESK, "PORTAL_CONFIRM_LINK_HOURS": 48}
    Client().post("/portal/new", VISITOR)
    link = mailed_link("vic@example.test")
    with mock.patch("django.core.signing.time.time", return_value=time.time() + 49 * 3600):
        r = Client().get(link)
    assert r.status_code == 404
    assert "not valid any more" in r.content.decode()
    assert not Ticket.objects.exists()
    assert Client().get(link[:-3] + "xyz").status_code == 404  # tampered


def test_a_filled_honeypot_is_dropped_like_a_success(web: WebDesk) -> None:
    person = Client().post("/portal/new", {**VISITOR, "email": "a@example.test"})
    bot = Client().post("/portal/new", {**VISITOR, "email": "b@example.test", "website": "x"})
    assert bot.status_code == person.status_code == 200

    def main(r: Any, email: str) -> str:
        return str(r.content.decode().split("<main", 1)[1].split("</main>")[0]).replace(email, "@")

    assert main(bot, "b@example.test") == main(person, "a@example.test")
    assert list(PendingRequest.objects.values_list("email", flat=True)) == ["a@example.test"]
    deliver()
    assert [m.to for m in mail.outbox] == [["a@example.test"]]


def test_the_honeypot_is_hidden_from_people(web: WebDesk) -> None:
    page = Client().get("/portal/new").content.decode()
    hp = page.split('<div class="hp" aria-hidden="true">', 1)[1].split("</div>", 1)[0]
    assert 'name="website"' in hp
    assert 'tabindex="-1"' in hp
    assert 'autocomplete="off"' in hp


def test_requests_are_limited_per_address(web: WebDesk, settings: Any) -> None:
    settings.FLOWDESK = {**settings.FLOWDESK, "PORTAL_REQUESTS_PER_HOUR": 3}
    client = Client(REMOTE_ADDR="203.0.113.9")
    codes = [
        client.post("/portal/new", {**VISITOR, "email": f"v{i}@example.test"}).status_code
        for i in range(4)
    ]
    assert codes == [200, 200, 200, 429]
    r = client.post("/portal/new", {**VISITOR, "email": "v9@example.test"})
    assert r.status_code == 429
    assert "wait an hour" in r.content.decode()
    assert PendingRequest.objects.count() == 3
    # Another address is not affected.
    assert Client(REMOTE_ADDR="203.0.113.10").post("/portal/new", VISITOR).status_code == 200


def test_requests_are_limited_per_email(web: WebDesk, settings: Any) -> None:
    settings.FLOWDESK = {**settings.FLOWDESK, "PORTAL_REQUESTS_PER_HOUR": 2}
    codes = [
        Client(REMOTE_ADDR=f"198.51.100.{i}").post("/portal/new", VISITOR).status_code
        for i in range(3)
    ]
    assert codes == [200, 200, 429]
    # Signed-in customers count against their e-mail too.
    settings.FLOWDESK = {**settings.FLOWDESK, "PORTAL_REQUESTS_PER_HOUR": 1}
    client = signed_in("cora@acme.test")
    assert client.post("/portal/new", {"subject": "a", "body": "b"}).status_code == 302
    assert client.post("/portal/new", {"subject": "c", "body": "d"}).status_code == 429
    assert Ticket.objects.count() == 1


def test_suggestions_are_empty_without_the_knowledge_base(web: WebDesk) -> None:
    r = Client().get("/portal/suggest", {"subject": "invoice missing"})
    assert r.status_code == 200
    assert r.content.decode().strip() == ""
    page = Client().get("/portal/new").content.decode()
    assert 'hx-get="/portal/suggest"' in page


def test_suggestions_come_from_the_knowledge_base(web: WebDesk, monkeypatch: Any) -> None:
    kb_article(
        "find-invoices",
        {
            "en": ("Where to find invoices", "Invoices are under *Billing*."),
            "fil": ("Saan makikita ang resibo", "Nasa *Billing* ang mga resibo."),
        },
    )
    kb_article("invoice-macros", {"en": ("Invoice macros", "x")}, visibility="internal")
    kb_article("invoice-draft", {"en": ("Invoice draft", "x")}, visibility="draft")
    [found] = suggest("invoice missing", "en")
    assert found.title == "Where to find invoices"
    assert found.url == "/portal/help/articles/find-invoices?lang=en"
    assert found.snippet == "Invoices are under Billing."
    for client in (Client(), signed_in("cora@acme.test")):  # with and without an account
        body = client.get("/portal/suggest", {"subject": "invoice missing"}).content.decode()
        assert 'href="/portal/help/articles/find-invoices?lang=en"' in body
        assert "Where to find invoices" in body
        assert "macros" not in body
        assert "draft" not in body
    fil = Client().get("/portal/suggest", {"subject": "nawawala ang resibo"}).content.decode()
    assert 'href="/portal/help/articles/find-invoices?lang=fil"' in fil
    assert "Saan makikita ang resibo" in fil

    def broken(subject: str, language: str) -> list[Any]:
        raise RuntimeError("index gone")

    import flowdesk.knowledge

    monkeypatch.setattr(flowdesk.knowledge, "suggest", broken)
    assert suggest("invoice missing", "en") == []  # never a reason for the form to fail
    r = Client().get("/portal/suggest", {"subject": "invoice missing"})
    assert (r.status_code, r.content.decode().strip()) == (200, "")
    assert suggest("ab", "en") == []  # too short to ask
