"""A poll with nothing new is cheap: the widget's costs the one query that finds its
conversation and answers 204; the console's one poll for all its chats costs the sign-in's
reads and one stamp query, and never writes the session."""

from __future__ import annotations

from typing import Any

from chat_helpers import Visitor, make_site
from django.db import connection
from django.test.utils import CaptureQueriesContext

from web_helpers import client_for, make_desk


def _chat(v: Visitor, **fields: Any) -> Any:
    from flowdesk.chat.models import ChatConversation

    r = v.start(**fields)
    assert r.status == 201, r
    return ChatConversation.objects.get(pk=r.data["id"])


def test_visitor_poll_unchanged_is_one_query_and_204(db: Any) -> None:
    web = make_desk()
    site = make_site()
    v = Visitor(site.public_key)
    _chat(v, name="Vic", message="Hello")
    first = v.call("get", "events?after=0")
    assert first.status == 200
    assert first.data["stamp"]
    stamp, cursor = first.data["stamp"], first.data["cursor"]
    with CaptureQueriesContext(connection) as q:
        same = v.call("get", f"events?after={cursor}&v={stamp}")
    assert same.status == 204, same
    assert len(q.captured_queries) == 1, [s["sql"] for s in q.captured_queries]
    # An agent's reply, typing and seen each change the stamp.
    alice = client_for(web.alice)
    c = _conversation()
    assert alice.post(f"/agent/chats/{c.pk}/typing", {"typing": "true"}).status_code == 204
    typed = v.call("get", f"events?after={cursor}&v={stamp}")
    assert typed.status == 200
    assert typed.data["typing"] is True
    assert alice.post(f"/agent/chats/{c.pk}/messages", {"body": "Hi!"}).status_code == 201
    replied = v.call("get", f"events?after={cursor}&v={typed.data['stamp']}")
    assert [m["body"] for m in replied.data["messages"]] == ["Hi!"]


def _conversation() -> Any:
    from flowdesk.chat.models import ChatConversation

    return ChatConversation.objects.get()


def test_console_polls_all_its_chats_at_once(db: Any) -> None:
    web = make_desk()
    site = make_site()
    v1, v2 = Visitor(site.public_key), Visitor(site.public_key, address="203.0.113.8")
    c1, c2 = _chat(v1, name="One", message="first"), _chat(v2, name="Two")
    alice = client_for(web.alice)
    r = alice.get(f"/agent/chats/events?c={c1.pk}:0:,{c2.pk}:0:")
    assert r.status_code == 200
    chats = r.json()["chats"]
    assert [m["body"] for m in chats[str(c1.pk)]["messages"]] == ["first"]
    watch = ",".join(f"{pk}:{e['cursor']}:{e['stamp']}" for pk, e in chats.items())
    session_key = alice.cookies["sessionid"].value
    from django.contrib.sessions.models import Session

    before = Session.objects.get(pk=session_key).expire_date
    with CaptureQueriesContext(connection) as q:
        assert alice.get(f"/agent/chats/events?c={watch}").status_code == 204
    # the session, the user, the agent's teams, the stamps: no write
    assert len(q.captured_queries) <= 4, [s["sql"] for s in q.captured_queries]
    assert not any(s["sql"].startswith(("UPDATE", "INSERT")) for s in q.captured_queries)
    assert Session.objects.get(pk=session_key).expire_date == before
    assert v2.send("second").status == 201
    r = alice.get(f"/agent/chats/events?c={watch}")
    assert list(r.json()["chats"]) == [str(c2.pk)]
    assert [m["body"] for m in r.json()["chats"][str(c2.pk)]["messages"]] == ["second"]
    # A chat of another team is never reported; a bad watch list is a 422 naming "c".
    assert client_for(web.carol).get(f"/agent/chats/events?c={c1.pk}:0:").status_code == 204
    bad = alice.get("/agent/chats/events?c=x")
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "c"
