"""The console's chat list follows every chat through the console's one poll: a chat the list
does not have yet (newer than its newest, ``n=``), a customer message in a chat of the list
(``l=``: the "new message" marker), the end; nothing changed is a 204. The list itself is not
polled on its own. In Chromium: the open console shows a new chat and marks its message."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from chat_helpers import Visitor, make_site

from web_helpers import client_for, make_desk, sign_in


def _list(page: str) -> dict[int, str]:
    return {int(pk): st for pk, st in re.findall(r'data-chat="(\d+)" data-stamp="([^"]*)"', page)}


def test_the_list_learns_of_new_chats_messages_and_ends_through_the_one_poll(db: Any) -> None:
    web = make_desk()
    site = make_site()
    alice = client_for(web.alice)
    first = Visitor(site.public_key)
    assert first.start(name="One", message="hello").status == 201
    page = alice.get("/agent/chats/").content.decode()
    assert 'hx-trigger="every' not in page  # no poll of the list of its own
    assert "new message" in page  # One's first message is unread
    shown = _list(page)
    assert len(shown) == 1
    (one,) = shown
    listed = ",".join(f"{pk}:{st}" for pk, st in shown.items())

    def poll() -> Any:
        return alice.get(f"/agent/chats/events?l={listed}&n={max(shown)}")

    assert poll().status_code == 204
    # A new chat: reported although the console never named it.
    second = Visitor(site.public_key, address="203.0.113.9")
    assert second.start(name="Two").status == 201
    r = poll()
    assert r.status_code == 200
    (new,) = [int(pk) for pk in r.json()["list"]]
    assert new > one
    assert "chats" not in r.json()  # no chat is open in full
    # The list re-rendered shows it; following both, a customer message marks the chat unread.
    shown = _list(alice.get("/agent/chats/list").content.decode())
    assert set(shown) == {one, new}
    listed = ",".join(f"{pk}:{st}" for pk, st in shown.items())
    assert poll().status_code == 204
    assert second.send("are you there?").status == 201
    r = poll()
    assert list(r.json()["list"]) == [str(new)]
    assert r.json()["list"][str(new)]["unread"] is True
    # An agent opens it and sees the message: no longer unread; the visitor ends: ended.
    from flowdesk.chat.models import ChatConversation

    latest = r.json()["list"][str(new)]
    c = ChatConversation.objects.get(pk=new)
    opened = alice.get(f"/agent/chats/events?c={new}:0:").json()["chats"][str(new)]
    seen = alice.post(f"/agent/chats/{c.pk}/seen", {"message_id": str(opened["cursor"])})
    assert seen.status_code == 204
    listed = f"{new}:{latest['stamp']}"
    after_seen = alice.get(f"/agent/chats/events?l={listed}").json()["list"][str(new)]
    assert after_seen["unread"] is False
    assert second.call("post", "end").status == 200
    ended = alice.get(f"/agent/chats/events?l={new}:{after_seen['stamp']}").json()
    assert ended["list"][str(new)]["ended"] is True


def test_a_new_chat_of_another_team_is_never_reported(db: Any) -> None:
    web = make_desk()
    site = make_site(team="Tier 1")
    carol = client_for(web.carol)  # Tier 2
    assert Visitor(site.public_key).start(name="Vic").status == 201
    assert carol.get("/agent/chats/events?n=0").status_code == 204
    bad = carol.get("/agent/chats/events?l=x&n=0")
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "l"
    assert carol.get("/agent/chats/events?n=x").json()["errors"][0]["field"] == "n"


def _seen_by_agent(v: Visitor) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        ev = v.events().data
        if ev["seen"] >= max(m["id"] for m in ev["messages"] if m["author"] == "customer"):
            return
        time.sleep(0.2)
    raise AssertionError("the console did not mark the chat seen")


@pytest.mark.browser
def test_the_open_console_shows_a_new_chat_and_marks_new_messages(
    browser: Any, live_server: Any, transactional_db: Any
) -> None:
    make_desk()
    site = make_site()
    first = Visitor(site.public_key)
    assert first.start(name="One", message="hello").status == 201
    agent = sign_in(browser, live_server.url, "alice@desk.test")
    agent.wait_for_url("**/agent/")
    agent.goto(f"{live_server.url}/agent/chats/")
    agent.get_by_role("link", name="One").click()
    agent.locator("#chat-messages li.customer", has_text="hello").wait_for()
    _seen_by_agent(first)  # the console told the server: the visitor's widget says so
    # A second visitor starts a chat: it appears in the open console's list, by the one poll.
    second = Visitor(site.public_key, address="203.0.113.9")
    assert second.start(name="Two", message="hi").status == 201
    agent.get_by_role("link", name="Two").click()
    agent.locator("#chat-messages li.customer", has_text="hi").wait_for()
    one = agent.locator("#chat-list li", has=agent.get_by_role("link", name="One"))
    assert one.locator(".chat-unread").is_hidden()  # an agent saw "hello"
    # A message in a chat of the list marks it; the open chat's messages arrive in full.
    assert first.send("still here").status == 201
    one.locator(".chat-unread", has_text="new message").wait_for()
    assert second.send("anyone?").status == 201
    agent.locator("#chat-messages li.customer", has_text="anyone?").wait_for()
