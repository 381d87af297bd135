"""After the quick start (the demo seeded): the demo's chat site, its widget on flowdesk's own
page /agent/chats/try (linked from the console), a visitor's chat there answered in the
console. In Chromium, as a new user would: sign in, open the page, chat, answer."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import call_command

DEMO_AGENT = "alice@flowdesk.localhost"  # Tier 1, the demo chat site's team


def _seed() -> Any:
    call_command("demo", tickets=0, stdout=io.StringIO())
    from flowdesk.accounts.models import User

    return User.objects.get(email=DEMO_AGENT)


def test_the_demo_site_is_on_the_try_page_and_a_visitor_there_reaches_the_console(
    db: Any,
) -> None:
    from django.test import Client

    from flowdesk.chat.models import ChatSite

    alice = Client()
    alice.force_login(_seed())
    site = ChatSite.objects.get(name="demo")
    assert site.team is not None
    assert site.team.name == "Tier 1"
    assert 'href="/agent/chats/try"' in alice.get("/agent/chats/").content.decode()
    page = alice.get("/agent/chats/try").content.decode()
    assert f'data-site="{site.public_key}"' in page
    assert 'src="/static/chat/widget.js"' in page
    # The widget on that page calls from flowdesk's own origin, which no site has to list.
    visitor = Client(headers={"Origin": "http://testserver"})
    start = visitor.post(
        f"/chat/v1/{site.public_key}/conversations",
        {"name": "Tess", "message": "Trying the widget"},
        content_type="application/json",
    )
    assert start.status_code == 201, start.content
    assert start["Access-Control-Allow-Origin"] == "http://testserver"
    chat_id = start.json()["id"]
    assert f"/agent/chats/{chat_id}" in alice.get("/agent/chats/").content.decode()
    assert alice.post(f"/agent/chats/{chat_id}/messages", {"body": "Welcome!"}).status_code == 201
    events = visitor.get(
        f"/chat/v1/{site.public_key}/events?after=0",
        headers={"Authorization": f"Bearer {start.json()['token']}"},
    )
    assert [m["body"] for m in events.json()["messages"]][-1] == "Welcome!"
    # Another origin still has to be listed.
    other = Client(headers={"Origin": "https://elsewhere.test"})
    refused = other.post(
        f"/chat/v1/{site.public_key}/conversations", {}, content_type="application/json"
    )
    assert refused.status_code == 403


@pytest.mark.browser
def test_a_new_user_tries_the_widget_and_answers_in_the_console(
    browser: Any, live_server: Any, transactional_db: Any
) -> None:
    _seed()
    page = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{live_server.url}/login")
    page.get_by_label("E-mail").fill(DEMO_AGENT)
    page.get_by_label("Password").fill("demo")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/agent/")
    page.goto(f"{live_server.url}/agent/chats/")
    page.get_by_role("link", name="Try the chat widget as a visitor").click()
    page.wait_for_url("**/agent/chats/try")
    page.get_by_role("button", name="Chat with us").click()
    page.get_by_label("Name (optional)").fill("Tess")
    page.get_by_label("Message (optional)").fill("Is this live?")
    page.get_by_role("button", name="Start chat").click()
    page.locator(".fdc li.customer", has_text="Is this live?").wait_for()
    console = page.context.new_page()
    console.goto(f"{live_server.url}/agent/chats/")
    console.get_by_role("link", name="Tess").click()
    console.locator("#chat-messages li.customer", has_text="Is this live?").wait_for()
    console.get_by_label("Message").fill("Yes, it is.")
    console.get_by_role("button", name="Send").click()
    page.locator(".fdc li.agent", has_text="Yes, it is.").wait_for()
