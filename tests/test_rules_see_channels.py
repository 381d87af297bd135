"""Rules see channels through the API: ``language`` and ``source.*`` of API tickets, the checks
on a given source, YAML validation on the new fields, and rule replies by the ticket's channel
(``via``) through the ``tickets.delivery.REPLY_CHANNELS`` seam (both databases)."""

from __future__ import annotations

from typing import Any

import pytest

from api_helpers import Api, Desk

RULES = """\
version: 1
rules:
  - name: filipino-queue
    triggers: [created]
    conditions: {field: language, op: is, value: fil}
    actions: [{type: add_tags, tags: [filipino]}]
  - name: english-default
    triggers: [created]
    conditions: {field: language, op: is, value: en}
    actions: [{type: add_tags, tags: [english]}]
  - name: from-the-shop
    triggers: [created]
    conditions: {field: source.page_url, op: starts_with, value: "https://shop.example/"}
    actions: [{type: add_tags, tags: [shop]}]
  - name: partner-integration
    triggers: [created]
    conditions:
      all:
        - {field: source.domain, op: in, value: [partner.example]}
        - {field: source.header.X-Partner-Tier, op: is, value: gold}
    actions: [{type: assign_team, team: Tier 2}]
"""


def _import(desk: Desk, text: str) -> None:
    r = desk.admin.post("/rules", {"yaml": text, "source": "rules.yaml"})
    assert r.status == 201, r


def _create(api: Api, **body: Any) -> Any:
    return api.post("/tickets", {"subject": "Help", "body": "Please.", **body})


def test_language_and_source_of_api_tickets(desk: Desk) -> None:
    from flowdesk.accounts.models import User
    from flowdesk.accounts.services import do_set_language

    _import(desk, RULES)
    # The caller's language ...
    r = _create(desk.customer, source={"language": "FIL", "page_url": "https://shop.example/x"})
    assert r.status == 201, r
    assert r.data["tags"] == ["filipino", "shop"]
    assert r.data["source"] == {"language": "fil", "page_url": "https://shop.example/x"}
    # ... else the requester's choice, else the site's default (en).
    assert _create(desk.customer).data["tags"] == ["english"]
    do_set_language(User.objects.get(email=desk.other_customer_email), "fil")
    assert _create(desk.other_customer).data["tags"] == ["filipino"]

    # An integration (an agent's token) tells where the request came from.
    source = {
        "mailbox": "partner-feed",
        "address": "Ops@Partner.Example",
        "headers": {"X-Partner-Tier": "gold"},
    }
    r = _create(desk.agent, requester_email=desk.customer_email, source=source)
    assert r.status == 201, r
    assert r.data["team"] == "Tier 2"
    assert r.data["source"]["address"] == "ops@partner.example"
    assert r.data["source"]["headers"] == {"x-partner-tier": "gold"}
    other = {**source, "headers": {"x-partner-tier": "silver"}}
    r = _create(desk.agent, requester_email=desk.customer_email, source=other)
    assert r.data["team"] is None
    why = desk.admin.get(f"/tickets/{r.data['id']}/explanation").data
    deciding = next(x for x in why["rules"] if x["name"] == "partner-integration")["deciding"]
    assert (deciding["field"], deciding["actual"]) == ("source.header.x-partner-tier", "silver")


@pytest.mark.parametrize(
    ("api", "source", "field", "words"),
    [
        ("customer", {"mailbox": "support"}, "source.mailbox", "not yours to set"),
        ("customer", {"headers": {"x-a": "b"}}, "source.headers", "not yours to set"),
        ("agent", {"calendar": "Night"}, "source.calendar", "not yours to set"),
        ("agent", {"language": "not a language!"}, "source.language", "'not a language!'"),
        ("agent", {"address": "nobody"}, "source.address", "'nobody' is not an e-mail"),
        ("agent", {"headers": {"bad name": "x"}}, "source.headers.bad name", "header name"),
        ("agent", {"headers": {"x-long": "y" * 501}}, "source.headers.x-long", "at most 500"),
        ("agent", {"page_url": 5}, "source.page_url", "text"),
        ("agent", {"colour": "red"}, "source.colour", "allowed: mailbox"),
    ],
)
def test_a_bad_source_is_refused_naming_the_key(
    desk: Desk, api: str, source: dict[str, Any], field: str, words: str
) -> None:
    client = getattr(desk, api)
    r = _create(client, source=source, requester_email=desk.customer_email)
    assert r.status == 422, r
    [error] = r.data["errors"]
    assert error["field"] == field
    assert words in error["message"]


def test_yaml_validation_suggests_source_fields(desk: Desk) -> None:
    bad = RULES.replace("source.domain", "source.domian").replace(
        "language, op: is, value: fil", "langauge, op: is, value: fil"
    )
    r = desk.admin.post("/rules/validate", {"yaml": bad, "source": "rules.yaml"})
    assert r.status == 422, r
    found = {(e["line"], e["suggestion"]) for e in r.data["errors"]}
    assert found == {(5, "language"), (19, "source.domain")}
    assert all(e["path"].endswith("field") for e in r.data["errors"])


REPLY = """\
version: 1
rules:
  - name: greet
    triggers: [created]
    actions: [{type: reply, body: "Hello {{ requester.name }}"}]
  - name: greet-by-mail
    triggers: [created]
    conditions: {field: tags, op: has_any, value: [by-mail]}
    actions: [{type: reply, body: "Also by e-mail", via: email}]
"""


def test_a_rule_reply_goes_by_the_ticket_channel(desk: Desk, monkeypatch: Any) -> None:
    from flowdesk.outbox.models import OutboxItem
    from flowdesk.tickets import delivery
    from flowdesk.tickets.models import Message

    chat: list[tuple[int, str]] = []

    def to_chat(w: Any, message: Any, cause: Any, subject: str) -> None:
        chat.append((w.ticket.pk, message.body_text))

    monkeypatch.setitem(delivery.REPLY_CHANNELS, "chat", to_chat)
    _import(desk, REPLY)

    def created(channel: str, tags: list[str] | None = None) -> int:
        r = _create(
            desk.agent, requester_email=desk.customer_email, channel=channel, tags=tags or []
        )
        assert r.status == 201, r
        return int(r.data["id"])

    by_chat = created("chat")
    assert chat == [(by_chat, "Hello Cora")]
    [reply] = Message.objects.filter(ticket_id=by_chat, author_kind="system")
    assert (reply.channel, reply.public) == ("chat", True)
    assert not OutboxItem.objects.filter(ticket_id=by_chat, kind="reply").exists()

    # E-mail-like channels (and a chat ticket with via: email) are answered by e-mail.
    for channel in ("web", "portal", "api", "email"):
        tid = created(channel)
        [reply] = Message.objects.filter(ticket_id=tid, author_kind="system")
        assert reply.channel == "email"
        assert OutboxItem.objects.filter(ticket_id=tid, kind="reply").count() == 1
    forced = created("chat", ["by-mail"])
    bodies = sorted(
        (m.channel, m.body_text)
        for m in Message.objects.filter(ticket_id=forced, author_kind="system")
    )
    assert bodies == [("chat", "Hello Cora"), ("email", "Also by e-mail")]
    [mailed] = OutboxItem.objects.filter(ticket_id=forced, kind="reply")
    assert mailed.payload["body"] == "Also by e-mail"

    # Without a chat deliverer registered (and without the chat app's say on outgoing mail),
    # a chat ticket's reply is e-mailed.
    monkeypatch.delitem(delivery.REPLY_CHANNELS, "chat")
    monkeypatch.setattr(
        delivery,
        "OUTGOING_HOOKS",
        [h for h in delivery.OUTGOING_HOOKS if h.__module__ != "flowdesk.chat.delivery"],
    )
    tid = created("chat")
    assert OutboxItem.objects.filter(ticket_id=tid, kind="reply").count() == 1
    assert len(chat) == 2
