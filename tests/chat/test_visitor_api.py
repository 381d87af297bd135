"""The visitor endpoints, driven as the widget drives them: start, identity, offline, CORS,
rate limits, typing and seen, the rule triggers, and what is (not) mailed while a chat is live."""

from __future__ import annotations

from typing import Any

import pytest
from chat_helpers import ORIGIN, Visitor, hmac_of, make_site, outbox_replies

from api_helpers import Desk


def _ticket(ticket_id: int) -> Any:
    from flowdesk.tickets.models import Ticket

    return Ticket.objects.select_related("requester", "team").get(pk=ticket_id)


def test_the_widget_texts_come_in_the_pages_language(desk: Desk) -> None:
    """The config carries the widget's own texts in the language of the page it is on
    (``lang``), else the browser's (Accept-Language); the admin's greeting stays as written."""
    site = make_site()
    v = Visitor(site.public_key)
    english = v.call("get", "config").data
    assert (english["language"], english["texts"]["launcher"]) == ("en", "Chat with us")
    for lang in ("fil", "tl-PH", "fil_PH"):
        filipino = v.call("get", f"config?lang={lang}").data
        assert filipino["language"] == "fil", lang
        assert filipino["texts"]["launcher"] == "Makipag-chat sa amin"
        assert filipino["texts"]["optional"] == "%(field)s (opsyonal)"
        assert filipino["greeting"] == english["greeting"]
    assert set(filipino["texts"]) == set(english["texts"])
    assert all(filipino["texts"][k] != english["texts"][k] for k in ("start", "ended", "failed"))
    # A language flowdesk does not speak: the browser's, here Filipino.
    r = v.client.get(
        f"/chat/v1/{site.public_key}/config?lang=xx-YY",
        headers={"Origin": ORIGIN, "Accept-Language": "fil,en;q=0.5"},
    )
    assert r.json()["texts"]["launcher"] == "Makipag-chat sa amin"


def test_start_makes_a_chat_ticket_through_the_services(desk: Desk) -> None:
    site = make_site()
    v = Visitor(site.public_key)
    config = v.call("get", "config")
    assert config.status == 200
    assert config.data["online"] is True
    assert config.headers["Access-Control-Allow-Origin"] == ORIGIN
    r = v.start(
        name="Vic",
        message="Where is my order?",
        page_url="https://shop.test/cart",
        language="en-GB",
    )
    assert r.status == 201, r
    assert r.data["token"].startswith("ct_")
    assert r.data["offline"] is False
    t = _ticket(r.data["ticket_id"])
    assert (t.channel, t.team.name, t.subject) == ("chat", "Tier 1", "Where is my order?")
    assert t.source["page_url"] == "https://shop.test/cart"
    assert t.source["language"] == "en-GB"
    assert t.requester.name == "Vic"
    # The token is stored only as its hash.
    from flowdesk.chat.models import ChatConversation

    assert not ChatConversation.objects.filter(token_hash=r.data["token"]).exists()
    assert v.send("It has been a week.").status == 201
    ev = v.events().data
    assert [m["body"] for m in ev["messages"]] == ["Where is my order?", "It has been a week."]
    assert ev["cursor"] == ev["messages"][-1]["id"]
    assert v.events(ev["cursor"]).data["messages"] == []
    kinds = desk.agent.get(f"/tickets/{t.pk}/messages").data
    assert [m["author_kind"] for m in kinds] == ["customer", "customer"]


def test_bad_input_names_the_field_and_writes_nothing(desk: Desk) -> None:
    from flowdesk.accounts.models import User

    site = make_site(name_required=True)
    v = Visitor(site.public_key)
    users = User.objects.count()
    r = v.start(email="not an address", message="x" * 5000, colour="red")
    assert r.status == 422
    fields = {e["field"] for e in r.data["errors"]}
    assert fields == {"message", "colour"}
    r = v.start(email="nope")
    assert r.status == 422
    assert {e["field"] for e in r.data["errors"]} == {"name", "email"}
    assert User.objects.count() == users
    assert v.call("post", "messages", {"body": "hi"}).status == 401
    assert Visitor("cs_nope").call("get", "config").status == 404
    v.start(name="Vic")
    r = v.send("")
    assert r.status == 422
    assert r.data["errors"][0]["field"] == "body"


def test_valid_identity_hash_attaches_to_the_verified_site_user(desk: Desk) -> None:
    from flowdesk.accounts.identities import check_add_identity
    from flowdesk.accounts.models import User

    cora = User.objects.get(email=desk.customer_email)
    check_add_identity(cora, kind="site_user", value="42", verified=True)
    site = make_site()
    v = Visitor(site.public_key)
    r = v.start(user_id="42", identifier_hash=hmac_of(site, "42"), message="Hello")
    assert r.status == 201, r
    assert r.data["identified"] is True
    assert _ticket(r.data["ticket_id"]).requester == cora


def test_wrong_or_missing_identity_hash_is_refused(desk: Desk) -> None:
    from flowdesk.accounts.models import User
    from flowdesk.tickets.models import Ticket

    site = make_site()
    v = Visitor(site.public_key)
    before = (User.objects.count(), Ticket.objects.count())
    r = v.start(user_id="42", identifier_hash=hmac_of(site, "43"))
    assert r.status == 422, r
    assert r.data["errors"][0]["field"] == "identifier_hash"
    r = v.start(user_id="42")
    assert r.status == 422, r
    assert r.data["errors"][0]["field"] == "identifier_hash"
    assert (User.objects.count(), Ticket.objects.count()) == before


def test_new_site_user_gets_a_verified_identity(desk: Desk) -> None:
    site = make_site()
    r = Visitor(site.public_key).start(user_id="u-7", identifier_hash=hmac_of(site, "u-7"))
    t = _ticket(r.data["ticket_id"])
    assert t.requester.identities.get(kind="site_user").verified is True


def test_typed_email_suggests_a_merge_and_does_not_attach(desk: Desk) -> None:
    from flowdesk.accounts.identities import suggestions_for
    from flowdesk.accounts.models import User

    cora = User.objects.get(email=desk.customer_email)
    site = make_site()
    r = Visitor(site.public_key).start(name="Cora?", email="Cora@Acme.test", message="Hi")
    assert r.status == 201
    t = _ticket(r.data["ticket_id"])
    assert t.requester != cora
    assert (
        suggestions_for(cora).filter(first=t.requester).exists()
        or suggestions_for(cora).filter(second=t.requester).exists()
    )
    # A fresh address is an unverified claim of the visitor's customer.
    r = Visitor(site.public_key, address="203.0.113.8").start(email="new@else.test")
    ident = _ticket(r.data["ticket_id"]).requester.identities.get(
        kind="email", value="new@else.test"
    )
    assert ident.verified is False


def test_offline_makes_an_email_ticket_answered_by_mail(desk: Desk) -> None:
    assert desk.agent.call("put", "/me/availability", {"availability": "offline"}).status == 200
    site = make_site()
    v = Visitor(site.public_key)
    assert v.call("get", "config").data["online"] is False
    r = v.start(name="Vic")
    assert r.status == 422
    assert {e["field"] for e in r.data["errors"]} == {"email", "message"}
    r = v.start(name="Vic", email="vic@shop.test", message="Call me back please")
    assert r.status == 201
    assert r.data["offline"] is True
    t = _ticket(r.data["ticket_id"])
    assert t.channel == "email"
    assert v.send("more").status == 409  # no live chat to write to
    reply = desk.admin.post(f"/tickets/{t.pk}/messages", {"body": "We will call at 3."})
    assert reply.status in (200, 201), reply
    items = outbox_replies(t.pk)
    assert [i.payload["to"] for i in items] == [["vic@shop.test"]]


def test_cors_refuses_other_origins_and_answers_preflights(desk: Desk) -> None:
    site = make_site()
    evil = Visitor(site.public_key, origin="https://evil.test")
    r = evil.call("get", "config")
    assert r.status == 403
    assert r.data["errors"][0]["field"] == "origin"
    assert "Access-Control-Allow-Origin" not in r.headers
    r = evil.start(name="x")
    assert r.status == 403
    ok = Visitor(site.public_key)
    pre = ok.call("options", "conversations")
    assert pre.status == 204
    assert pre.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "Authorization" in pre.headers["Access-Control-Allow-Headers"]


def test_starts_and_messages_are_rate_limited(desk: Desk, settings: Any) -> None:
    settings.FLOWDESK = {
        **settings.FLOWDESK,
        "CHAT_STARTS_PER_HOUR": 2,
        "CHAT_MESSAGES_PER_MINUTE": 3,
    }
    site = make_site()
    assert Visitor(site.public_key).start().status == 201
    assert Visitor(site.public_key).start().status == 201
    r = Visitor(site.public_key).start()
    assert r.status == 429
    assert "hour" in r.data["detail"]
    assert Visitor(site.public_key, address="198.51.100.1").start().status == 201
    v = Visitor(site.public_key, address="198.51.100.2")
    v.start()
    assert [v.send(f"m{i}").status for i in range(4)] == [201, 201, 201, 429]


def test_typing_and_seen_both_ways(desk: Desk) -> None:
    from flowdesk.accounts.models import User
    from flowdesk.chat.models import ChatConversation
    from web_helpers import client_for

    site = make_site()
    v = Visitor(site.public_key)
    r = v.start(name="Vic", message="Hello")
    chat = ChatConversation.objects.get(ticket_id=r.data["ticket_id"])
    alice = client_for(User.objects.get(email="alice@desk.test"))
    base = f"/agent/chats/{chat.pk}"
    assert v.call("post", "typing", {"typing": True}).status == 204
    ev = alice.get(f"{base}/events?after=0").json()
    assert ev["typing"] is True
    assert ev["messages"][0]["body"] == "Hello"
    assert alice.post(f"{base}/typing", {"typing": "true"}).status_code == 204
    vev = v.events().data
    assert vev["typing"] is True
    assert vev["typing_name"] == "Alice"
    sent = alice.post(f"{base}/messages", {"body": "Hi Vic!"})
    assert sent.status_code == 201
    agent_msg = sent.json()["id"]
    assert v.events().data["typing"] is False  # sending ends typing
    assert alice.get(f"{base}/events?after=0").json()["seen"] == 0
    assert v.call("post", "seen", {"message_id": agent_msg}).status == 204
    assert alice.get(f"{base}/events?after=0").json()["seen"] == agent_msg
    assert v.call("post", "seen", {"message_id": "x"}).status == 422
    assert alice.post(f"{base}/seen", {"message_id": str(agent_msg)}).status_code == 204
    assert v.events().data["seen"] == agent_msg


def test_chat_triggers_fire_rules(desk: Desk) -> None:
    rules = """
version: 1
rules:
  - name: tag chat start
    triggers: [chat_started]
    actions: [{type: add_tags, tags: [chat-started]}]
  - name: tag chat message
    triggers: [chat_message]
    actions: [{type: add_tags, tags: [chat-message]}]
  - name: tag chat end
    triggers: [chat_ended]
    actions: [{type: add_tags, tags: [chat-ended]}]
"""
    assert desk.admin.post("/rules", {"yaml": rules}).status == 201
    site = make_site()
    v = Visitor(site.public_key)
    t = v.start(name="Vic", message="Hi").data["ticket_id"]
    assert sorted(_ticket(t).tags) == ["chat-started"]
    v.send("more")
    assert sorted(_ticket(t).tags) == ["chat-message", "chat-started"]
    assert v.call("post", "end").data["ended"] is True
    assert sorted(_ticket(t).tags) == ["chat-ended", "chat-message", "chat-started"]
    assert v.call("post", "end").status == 200  # a second end changes nothing
    assert v.send("after the end").status == 409


def test_replies_are_not_mailed_while_the_chat_is_live(desk: Desk) -> None:
    rules = """
version: 1
rules:
  - name: auto answer
    triggers: [chat_started]
    actions: [{type: reply, body: "Thanks, an agent will be with you shortly."}]
"""
    assert desk.admin.post("/rules", {"yaml": rules}).status == 201
    site = make_site()
    v = Visitor(site.public_key)
    t = v.start(name="Vic", email="vic@shop.test", message="Hi").data["ticket_id"]
    r = desk.agent.post(f"/tickets/{t}/messages", {"body": "From the ticket page."})
    assert r.status in (200, 201), r
    bodies = [m["body"] for m in v.events().data["messages"]]
    assert bodies == ["Hi", "Thanks, an agent will be with you shortly.", "From the ticket page."]
    assert outbox_replies(t) == []
    v.call("post", "end")
    desk.agent.post(f"/tickets/{t}/messages", {"body": "One more thing, by mail."})
    items = outbox_replies(t)
    assert [(i.payload["to"], i.payload["body"]) for i in items] == [
        (["vic@shop.test"], "One more thing, by mail.")
    ]


def test_rule_replies_go_by_the_chat_unless_via_email(desk: Desk) -> None:
    from flowdesk.tickets.models import Message

    rules = """
version: 1
rules:
  - name: greet in the chat
    triggers: [chat_message]
    conditions: {all: [{field: latest_message.body, op: contains, value: hello}]}
    actions: [{type: reply, body: "Hello from the desk."}]
  - name: receipt by mail
    triggers: [chat_message]
    conditions: {all: [{field: latest_message.body, op: contains, value: receipt}]}
    actions: [{type: reply, body: "Your receipt is attached.", via: email}]
"""
    assert desk.admin.post("/rules", {"yaml": rules}).status == 201
    v = Visitor(make_site().public_key)
    t = v.start(name="Vic", email="vic@shop.test", message="Hi").data["ticket_id"]
    v.send("hello there")
    v.send("please mail my receipt")
    bodies = [m["body"] for m in v.events().data["messages"]]
    assert "Hello from the desk." in bodies  # in the chat, and not mailed while live
    replies = Message.objects.filter(ticket_id=t, author_kind="system").order_by("id")
    assert [(m.body_text, m.channel) for m in replies] == [
        ("Hello from the desk.", "chat"),
        ("Your receipt is attached.", "email"),
    ]
    # via: email is mailed at once, to the address the visitor left (never the placeholder).
    items = outbox_replies(t)
    assert [(i.payload["to"], i.payload["body"]) for i in items] == [
        (["vic@shop.test"], "Your receipt is attached.")
    ]


def test_ended_chat_without_an_address_mails_nothing(desk: Desk) -> None:
    site = make_site()
    v = Visitor(site.public_key)
    t = v.start(name="Vic").data["ticket_id"]
    v.call("post", "end")
    desk.agent.post(f"/tickets/{t}/messages", {"body": "Anyone there?"})
    assert outbox_replies(t) == []


@pytest.mark.parametrize("idle", [True])
def test_a_visitor_gone_quiet_gets_mail(desk: Desk, idle: bool) -> None:
    from datetime import timedelta

    from flowdesk.chat.models import ChatConversation
    from flowdesk.core.clock import utcnow

    site = make_site()
    v = Visitor(site.public_key)
    t = v.start(name="Vic", email="vic@shop.test").data["ticket_id"]
    ChatConversation.objects.filter(ticket_id=t).update(
        visitor_active_at=utcnow() - timedelta(minutes=10)
    )
    desk.agent.post(f"/tickets/{t}/messages", {"body": "Still there?"})
    assert [i.payload["to"] for i in outbox_replies(t)] == [["vic@shop.test"]]


def test_sites_api_and_cli(desk: Desk) -> None:
    from django.core.management import call_command

    r = desk.admin.post(
        "/chat/sites", {"name": "shop", "allowed_origins": ["https://Shop.test/"], "team": "Tier 1"}
    )
    assert r.status == 201, r
    assert r.data["allowed_origins"] == ["https://shop.test"]
    assert r.data["public_key"] in r.data["embed"]
    bad = desk.admin.post(
        "/chat/sites", {"name": "x y", "allowed_origins": ["shop.test/path"], "team": "Nope"}
    )
    assert bad.status == 422
    assert {e["field"] for e in bad.data["errors"]} == {"name", "allowed_origins[0]", "team"}
    assert desk.admin.post("/chat/sites", {"name": "shop"}).status == 409
    assert desk.agent.get("/chat/sites").status == 403
    secret = r.data["identity_secret"]
    rotated = desk.admin.post("/chat/sites/shop/rotate-secret")
    assert rotated.data["identity_secret"] != secret
    patched = desk.admin.patch("/chat/sites/shop", {"greeting": "Hello!", "team": None})
    assert (patched.data["greeting"], patched.data["team"]) == ("Hello!", None)
    assert desk.admin.get("/chat/sites/nope").status == 404
    call_command("chat", "sites", "add", "blog", "--origin", "https://blog.test")
    names = [s["name"] for s in desk.admin.get("/chat/sites").data]
    assert names == ["blog", "shop"]
    Visitor(r.data["public_key"]).start(name="Vic")
    gone = desk.admin.call("delete", "/chat/sites/shop")
    assert gone.status == 409
    assert desk.admin.call("delete", "/chat/sites/blog").status == 204
