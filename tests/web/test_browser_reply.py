"""The reply tools, the lazy counts and the Filipino workspace in Chromium (htmx and the
workspace script at work)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from reply_helpers import make_articles, make_macros
from web_helpers import WebDesk, make_desk, sign_in, ticket

pytestmark = pytest.mark.browser


def test_a_macro_from_the_picker_and_a_stale_one(
    browser: Any, live_server: Any, transactional_db: Any
) -> None:
    from flowdesk.outbox.models import OutboxItem
    from flowdesk.tickets.models import Ticket

    web: WebDesk = make_desk()
    make_macros(web)
    t = ticket(web, "Where is my parcel?", team="Tier 1")
    url = f"{live_server.url}/agent/tickets/{t.pk}"
    alice = sign_in(browser, live_server.url, "alice@desk.test")
    alice.wait_for_url("**/agent/")
    alice.goto(url)
    # m opens the picker with its search focused; typing narrows the list (htmx).
    alice.keyboard.press("m")
    assert alice.evaluate("document.activeElement.id") == "macro-q"
    alice.keyboard.type("order")
    alice.get_by_role("link", name="Hand over to Tier 2").wait_for(state="detached")
    alice.get_by_role("link", name="Ask for the order number").click()
    preview = alice.locator("#macro-preview")
    preview.wait_for()
    assert "Hi Cora, which order is it about?" in preview.inner_text()
    assert re.search(r"status\s+new\s+pending", preview.inner_text())
    alice.get_by_role("button", name="Apply macro").click()
    alice.get_by_text("Macro “Ask for the order number” applied.").wait_for()
    assert "which order is it about?" in alice.locator(".message.public").last.inner_text()
    # The sidebar and the header were swapped in too: the new status, no stale form.
    assert alice.get_by_label("Status").input_value() == "pending"
    assert alice.locator("#ticket-head .badge").first.inner_text() == "pending"
    assert OutboxItem.objects.filter(kind="reply").count() == 1
    assert Ticket.objects.get(pk=t.pk).tags == ["needs-order"]
    # Then the admin changes the ticket under Alice's page: her next macro is refused.
    alice.keyboard.press("m")
    alice.get_by_label("Find a macro").fill("tier")
    alice.get_by_role("link", name="Ask for the order number").wait_for(state="detached")
    alice.get_by_role("link", name="Hand over to Tier 2").click()
    alice.locator("#macro-preview").wait_for()
    admin = sign_in(browser, live_server.url, "admin@desk.test")
    admin.wait_for_url("**/agent/")
    admin.goto(url)
    admin.get_by_label("Priority").select_option("urgent")
    admin.get_by_role("button", name="Save").click()
    admin.get_by_text("Saved: priority.").wait_for()
    alice.get_by_role("button", name="Apply macro").click()
    conflict = alice.locator("#macro-conflict")
    conflict.wait_for()
    assert "Ada Admin changed priority from pending" not in conflict.inner_text()
    assert "Ada Admin changed priority from normal to urgent" in conflict.inner_text()
    assert Ticket.objects.get(pk=t.pk).team.name == "Tier 1"
    alice.get_by_role("button", name="Apply macro").click()  # the preview is current again
    # Handed to Tier 2, the ticket has left Alice's scope: she is back in her inbox.
    alice.wait_for_url("**/agent/")
    alice.get_by_text("Macro “Hand over to Tier 2” applied.").wait_for()
    assert Ticket.objects.get(pk=t.pk).team.name == "Tier 2"


def test_an_article_link_goes_into_the_reply(
    browser: Any, live_server: Any, transactional_db: Any
) -> None:
    web = make_desk()
    make_articles(web)
    t = ticket(web, "Cannot sign in", team="Tier 1")
    page = sign_in(browser, live_server.url, "alice@desk.test")
    page.wait_for_url("**/agent/")
    page.goto(f"{live_server.url}/agent/tickets/{t.pk}")
    body = page.get_by_role("textbox", name="Message")
    body.fill("Hello Cora, this should help:")
    page.get_by_text("Link a help-center article").click()
    page.get_by_label("Search articles").fill("reset")
    page.locator("#article-results li").first.wait_for()
    insert = page.get_by_role("button", name="Insert in reply: Reset your password")
    insert.click()
    address = f"{live_server.url}/portal/kb/reset-password"
    assert body.input_value() == f"Hello Cora, this should help: Reset your password: {address}"
    assert page.evaluate("document.activeElement.id") == "reply-body"


def test_the_counts_arrive_after_the_list(
    browser: Any, live_server: Any, transactional_db: Any
) -> None:
    web = make_desk()
    ticket(web, "Mine", team="Tier 1", assignee="alice@desk.test")
    ticket(web, "Nobody's", team="Tier 1")
    ticket(web, "Nobody's either")
    page = sign_in(browser, live_server.url, "alice@desk.test")
    page.wait_for_url("**/agent/")
    page.locator("#view-unassigned .count").wait_for()
    assert page.locator("#view-unassigned .count").inner_text() == "2"
    assert page.locator("#view-mine .count").inner_text() == "1"
    assert page.locator("#view-mine").get_attribute("aria-current") == "page"


def test_the_inbox_and_a_ticket_in_filipino(
    browser: Any, live_server: Any, transactional_db: Any
) -> None:
    from flowdesk.accounts.models import User

    web = make_desk()
    make_macros(web)
    t = ticket(web, "Nasaan ang order ko?", team="Tier 1", priority="urgent")
    User.objects.filter(pk=web.alice.pk).update(language="fil")
    page = sign_in(browser, live_server.url, "alice@desk.test")
    page.wait_for_url("**/agent/")
    page.goto(f"{live_server.url}/agent/?view=urgent")
    page.locator("#view-urgent .count").wait_for()
    nav = page.get_by_role("navigation", name="Mga view ng ticket").inner_text()
    assert "Apurahan" in nav
    assert "Lahat ng ticket" in nav
    assert page.get_by_label("Ayusin ayon sa").is_visible()
    page.get_by_role("link", name="Nasaan ang order ko?").click()
    page.wait_for_url(f"**/agent/tickets/{t.pk}")
    assert page.get_by_role("heading", name="Usapan").is_visible()
    assert page.locator("#ticket-head .badge").nth(1).inner_text() == "apurahan"
    page.get_by_role("button", name="Ipadala").wait_for()
    page.keyboard.press("m")
    page.get_by_role("link", name="Ask for the order number").click()
    page.get_by_role("button", name="Ilapat ang macro").wait_for()
