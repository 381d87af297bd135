"""The workspace in a real browser: headless Debian Chromium driven by Playwright against a live
server (pytest-django's live_server). scripts/test installs Chromium when it is missing; a local
run without it skips these (CI fails instead)."""

from __future__ import annotations

from typing import Any

import pytest

from web_helpers import WebDesk, make_desk, sign_in, ticket

pytestmark = pytest.mark.browser


def test_agent_works_the_urgent_ticket(
    browser: Any, live_server: Any, transactional_db: Any
) -> None:

    web: WebDesk = make_desk()
    ticket(web, "Password reset mail", team="Tier 1", minutes_ago=30)
    urgent = ticket(web, "Checkout is down", team="Tier 1", priority="urgent", minutes_ago=60)
    ticket(web, "Slow export", team="Tier 1", priority="high", minutes_ago=5)
    page = sign_in(browser, live_server.url, "alice@desk.test")
    page.wait_for_url("**/agent/")
    page.get_by_role("link", name="Urgent").click()
    page.wait_for_url("**view=urgent**")
    first = page.locator("a.ticket-link").first
    assert "Checkout is down" in first.inner_text()
    first.click()
    page.wait_for_url(f"**/agent/tickets/{urgent.pk}")
    assert page.get_by_role("heading", name="Checkout is down").is_visible()
    page.get_by_role("textbox", name="Message").fill("We are on it: a fix is rolling out.")
    page.get_by_role("button", name="Send").click()
    page.get_by_text("Reply sent.").wait_for()
    reply = page.locator(".message.public").last
    assert "We are on it: a fix is rolling out." in reply.inner_text()
    assert "public reply" in reply.inner_text()
    # htmx swapped the conversation in place, and the reply box is empty again.
    assert page.get_by_role("textbox", name="Message").input_value() == ""
    page.get_by_text("Alice replied").first.wait_for()
    # Her own reply moved the ticket's version on; the field form moved with it (no conflict).
    page.get_by_label("Status").select_option("pending")
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Saved: status.").wait_for()
    assert page.locator("#conflict").count() == 0


def test_stale_save_shows_the_conflict(
    browser: Any, live_server: Any, transactional_db: Any
) -> None:
    from flowdesk.tickets.models import Ticket

    web = make_desk()
    t = ticket(web, "Printer on fire", team="Tier 1")
    url = f"{live_server.url}/agent/tickets/{t.pk}"
    alice = sign_in(browser, live_server.url, "alice@desk.test")
    admin = sign_in(browser, live_server.url, "admin@desk.test")
    for page in (alice, admin):
        page.wait_for_url("**/agent/")
        page.goto(url)
    alice.get_by_label("Priority").select_option("high")
    alice.get_by_role("button", name="Save").click()
    alice.get_by_text("Saved: priority.").wait_for()
    # The admin's form was loaded before Alice saved.
    admin.get_by_label("Status").select_option("pending")
    admin.get_by_role("button", name="Save").click()
    conflict = admin.locator("#conflict")
    conflict.wait_for()
    assert "Alice changed priority from normal to high" in conflict.inner_text()
    assert admin.get_by_label("Status").input_value() == "pending"  # the edit is kept
    assert admin.get_by_label("Priority").input_value() == "high"  # and hers taken in
    assert Ticket.objects.get(pk=t.pk).status == "new"
    admin.get_by_role("button", name="Save").click()
    admin.get_by_text("Saved: status.").wait_for()
    t = Ticket.objects.get(pk=t.pk)
    assert (t.status, t.priority) == ("pending", "high")


def test_customers_and_anonymous_users_stay_out(
    browser: Any, live_server: Any, transactional_db: Any
) -> None:

    web = make_desk()
    t = ticket(web, "My own request")
    anonymous = browser.new_context().new_page()
    anonymous.goto(f"{live_server.url}/agent/tickets/{t.pk}")
    assert "/login?next=/agent/tickets/" in anonymous.url
    assert anonymous.get_by_role("heading", name="Sign in").is_visible()
    customer = sign_in(browser, live_server.url, "cora@acme.test")
    customer.get_by_role("alert").wait_for()
    assert "for agents and admins" in customer.get_by_role("alert").inner_text()
    customer.goto(f"{live_server.url}/agent/")
    assert "/login" in customer.url
    assert "My own request" not in customer.content()
