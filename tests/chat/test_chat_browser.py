"""The widget in a real browser: a page on another origin embeds the one <script> tag, a visitor
chats, an agent answers in /agent/chats/ in a second browser context; both see the messages,
the typing indicator and "Seen". The shop's page comes from a second small server on
127.0.0.1 (the live server is on localhost), so the widget's requests are cross-origin, CORS
included (both loopback, so Chromium's private-network rule lets the page reach the desk)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from chat_helpers import make_site

from web_helpers import make_desk, sign_in

pytestmark = pytest.mark.browser
PAGE: dict[str, bytes] = {}


class _Shop(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = PAGE.get("html", b"")
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def shop() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Shop)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def shop_page(browser: Any, shop: str, server: str, key: str, lang: str = "en") -> Any:
    PAGE["html"] = f"""<!doctype html><html lang="{lang}"><head><title>Shop</title></head><body>
<h1>Pricing</h1><script src="{server}/static/chat/widget.js" data-site="{key}" async></script>
</body></html>""".encode()
    context = browser.new_context(viewport={"width": 1000, "height": 800})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{shop}/pricing")
    return page


def test_visitor_and_agent_chat_live(
    browser: Any, live_server: Any, transactional_db: Any, shop: str
) -> None:
    from flowdesk.chat.models import ChatConversation

    make_desk()
    site = make_site(allowed_origins=[shop])
    page_url = f"{shop}/pricing"
    visitor = shop_page(browser, shop, live_server.url, site.public_key)
    visitor.get_by_role("button", name="Chat with us").click()
    visitor.get_by_text("Hi! How can we help?").wait_for()
    visitor.get_by_label("Name (optional)").fill("Vic")
    visitor.get_by_label("Message (optional)").fill("Is there a discount?")
    visitor.get_by_role("button", name="Start chat").click()
    visitor.locator(".fdc li.customer", has_text="Is there a discount?").wait_for()
    chat = ChatConversation.objects.get()
    assert chat.ticket.channel == "chat"
    assert chat.ticket.source["page_url"] == page_url

    agent = sign_in(browser, live_server.url, "alice@desk.test")
    agent.wait_for_url("**/agent/")
    agent.get_by_role("link", name="Chats").click()
    agent.wait_for_url("**/agent/chats/")
    agent.get_by_role("link", name="Vic").click()
    agent.locator("#chat-messages li.customer", has_text="Is there a discount?").wait_for()

    visitor.get_by_label("Your message").press_sequentially("Hel")
    agent.get_by_text("Vic is typing…").wait_for()
    agent.get_by_label("Message").press_sequentially("Yes")
    visitor.get_by_text("Alice is typing…").wait_for()
    agent.get_by_label("Message").fill("Yes: 10% off today.")
    agent.get_by_role("button", name="Send").click()
    visitor.locator(".fdc li.agent", has_text="Yes: 10% off today.").wait_for()
    agent.locator("#chat-seen", has_text="Seen").wait_for()  # the open widget saw it
    visitor.get_by_label("Your message").fill("Great, thanks!")
    visitor.get_by_role("button", name="Send").click()
    agent.locator("#chat-messages li.customer", has_text="Great, thanks!").wait_for()
    visitor.locator(".fdc small", has_text="Seen").wait_for()

    agent.get_by_role("button", name="End chat").click()
    visitor.get_by_text("This chat has ended.").wait_for()
    chat.refresh_from_db()
    assert chat.ended_at is not None


def test_the_widget_speaks_the_language_of_the_page_it_is_on(
    browser: Any, live_server: Any, transactional_db: Any, shop: str
) -> None:
    make_desk()
    site = make_site(allowed_origins=[shop])
    visitor = shop_page(browser, shop, live_server.url, site.public_key, lang="fil")
    visitor.get_by_role("button", name="Makipag-chat sa amin").click()
    visitor.get_by_label("Pangalan (opsyonal)").fill("Vic")
    visitor.get_by_label("Mensahe (opsyonal)").fill("May diskwento ba?")
    visitor.get_by_role("button", name="Simulan ang chat").click()
    visitor.locator(".fdc li.customer", has_text="May diskwento ba?").wait_for()
    visitor.get_by_label("Ang iyong mensahe").wait_for()
    visitor.get_by_role("button", name="Tapusin ang chat").click()
    visitor.get_by_text("Tapos na ang chat na ito.").wait_for()
