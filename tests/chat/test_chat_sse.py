"""Server-Sent Events for real: the ASGI application under uvicorn on a free port (in a thread
of the test process, so it reads the test database), a stream opened with an HTTP client, a
message sent through the visitor endpoint, the event within a second; the console's stream;
a reconnect with Last-Event-ID; and the widget in Chromium, on the stream."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from chat_helpers import ORIGIN, Visitor, make_site
from test_chat_browser import shop, shop_page  # noqa: F401 (shop: a fixture)

from web_helpers import client_for, make_desk, sign_in


@pytest.fixture
def asgi_server(transactional_db: Any, settings: Any) -> Iterator[str]:
    import uvicorn
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    from flowdesk.config.asgi import application

    settings.FLOWDESK = {**settings.FLOWDESK, "CHAT_SSE": True, "CHAT_SSE_SECONDS": 20}
    settings.ALLOWED_HOSTS = ["*"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(
        ASGIStaticFilesHandler(application),
        host="127.0.0.1",
        port=port,
        lifespan="off",
        log_level="warning",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(3)
    if thread.is_alive():  # a browser's stream still open: uvicorn would wait for it
        server.force_exit = True
        thread.join(10)
    _no_connection_left()


def _no_connection_left() -> None:
    """The server's streams closed their database connections (on PostgreSQL: no backend of
    the test database but this one, within a few seconds of the server's exit)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    others = "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    deadline = time.monotonic() + 5
    with connection.cursor() as cursor:
        while True:
            cursor.execute(f"SELECT count(*) {others}")
            (left,) = cursor.fetchone()
            if not left or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        if left:  # free the test database for the next test, then fail
            cursor.execute(f"SELECT pg_terminate_backend(pid) {others}")
    assert not left, f"{left} database connection(s) left open by the streams"


class Stream:
    """A Server-Sent Events reader: each ``next_event`` is one ``id``/``data`` pair."""

    def __init__(self, base: str, path: str, headers: dict[str, str]) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=5)
        self.conn.request("GET", path, headers=headers)
        self.response = self.conn.getresponse()

    def next_event(self, timeout: float) -> tuple[str, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        event_id, data = "", ""
        while time.monotonic() < deadline:
            line = self.response.readline().decode().rstrip("\n")
            if line.startswith("id: "):
                event_id = line[4:]
            elif line.startswith("data: "):
                data = line[6:]
            elif not line and data:
                return event_id, json.loads(data)
        raise AssertionError(f"no event within {timeout} s")

    def close(self) -> None:
        self.conn.close()


def test_visitor_stream_delivers_a_message_within_a_second(asgi_server: str) -> None:
    web = make_desk()
    site = make_site()
    v = Visitor(site.public_key)
    assert v.start(name="Vic", message="Hello").status == 201
    config = v.call("get", "config")
    assert config.data["sse"] is False  # the test client is not an ASGI server: poll there
    path = f"/chat/v1/{site.public_key}/stream?after=0&token={v.token}"
    stream = Stream(asgi_server, path, {"Origin": ORIGIN})
    assert stream.response.status == 200
    assert stream.response.getheader("Content-Type") == "text/event-stream"
    assert stream.response.getheader("Access-Control-Allow-Origin") == ORIGIN
    first_id, first = stream.next_event(2)
    assert [m["body"] for m in first["messages"]] == ["Hello"]
    from flowdesk.chat.models import ChatConversation

    chat = ChatConversation.objects.get()
    alice = client_for(web.alice)
    sent = time.monotonic()
    assert alice.post(f"/agent/chats/{chat.pk}/messages", {"body": "Hi Vic"}).status_code == 201
    _, event = stream.next_event(1)
    assert time.monotonic() - sent < 1
    assert [m["body"] for m in event["messages"]] == ["Hi Vic"]
    stream.close()
    # A reconnect with Last-Event-ID continues after what was shown.
    again = Stream(asgi_server, path.replace("after=0&", ""), {"Last-Event-ID": first_id})
    _, resumed = again.next_event(2)
    assert [m["body"] for m in resumed["messages"]] == ["Hi Vic"]
    again.close()


def test_console_stream_follows_many_chats(asgi_server: str) -> None:
    web = make_desk()
    site = make_site()
    v1, v2 = Visitor(site.public_key), Visitor(site.public_key, address="203.0.113.8")
    r1, r2 = v1.start(name="One"), v2.start(name="Two")
    alice = client_for(web.alice)
    cookie = f"sessionid={alice.cookies['sessionid'].value}"
    watch = f"{r1.data['id']}:0:,{r2.data['id']}:0:"
    stream = Stream(asgi_server, f"/agent/chats/stream?c={watch}", {"Cookie": cookie})
    assert stream.response.status == 200
    last_id, first = stream.next_event(2)
    assert set(first["chats"]) == {str(r1.data["id"]), str(r2.data["id"])}
    sent = time.monotonic()
    assert v2.send("Anyone there?").status == 201
    last_id, event = stream.next_event(1)
    assert time.monotonic() - sent < 1
    assert list(event["chats"]) == [str(r2.data["id"])]
    assert event["chats"][str(r2.data["id"])]["messages"][0]["body"] == "Anyone there?"
    followed = last_id.split("|")[0].split(",")  # every followed chat, for the reconnect
    assert sorted(int(part.split(":")[0]) for part in followed) == [r1.data["id"], r2.data["id"]]
    stream.close()
    # Following the list (n=: its newest chat), a new chat wakes the stream within a second.
    newest = max(r1.data["id"], r2.data["id"])
    listing = Stream(asgi_server, f"/agent/chats/stream?l=&n={newest}", {"Cookie": cookie})
    time.sleep(0.3)
    sent = time.monotonic()
    r3 = Visitor(site.public_key, address="203.0.113.9").start(name="Three")
    _, event = listing.next_event(1.5)
    assert time.monotonic() - sent < 1.5
    assert list(event["list"]) == [str(r3.data["id"])]
    listing.close()
    anonymous = Stream(asgi_server, f"/agent/chats/stream?c={watch}", {})
    assert anonymous.response.status == 401
    anonymous.close()


@pytest.mark.browser
def test_widget_and_console_use_the_stream_in_chromium(
    asgi_server: str,
    browser: Any,
    shop: str,  # noqa: F811
) -> None:
    web = make_desk()
    site = make_site(allowed_origins=[shop])
    desk = asgi_server.replace("127.0.0.1", "localhost")  # another origin than the shop's
    page = shop_page(browser, shop, desk, site.public_key)
    streams: list[str] = []
    page.on("request", lambda r: streams.append(r.url) if "/stream" in r.url else None)
    page.get_by_role("button", name="Chat with us").click()
    page.get_by_label("Message (optional)").fill("Streaming?")
    page.get_by_role("button", name="Start chat").click()
    page.locator(".fdc li.customer", has_text="Streaming?").wait_for()
    assert streams, "the widget did not open the stream"
    from flowdesk.chat.models import ChatConversation

    chat = ChatConversation.objects.get()
    agent = sign_in(browser, desk, web.alice.email)
    agent.wait_for_url("**/agent/")
    agent_streams: list[str] = []
    agent.on("request", lambda r: agent_streams.append(r.url) if "/stream" in r.url else None)
    agent.goto(f"{desk}/agent/chats/{chat.pk}")
    agent.locator("#chat-messages li.customer", has_text="Streaming?").wait_for()
    assert agent_streams, "the console did not open the stream"
    agent.get_by_label("Message").fill("Yes, live.")
    agent.get_by_role("button", name="Send").click()
    page.locator(".fdc li.agent", has_text="Yes, live.").wait_for()
    page.get_by_label("Your message").fill("Great")
    page.get_by_role("button", name="Send").click()
    agent.locator("#chat-messages li.customer", has_text="Great").wait_for()
    page.context.close()  # the browsers' streams end here, before the server stops
    agent.context.close()
