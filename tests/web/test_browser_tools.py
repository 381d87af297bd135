"""The workspace tools in a real browser: keyboard shortcuts and their help overlay, a bulk
action with mixed outcomes, and two agents seeing each other on the same ticket."""

from __future__ import annotations

from typing import Any

import pytest

from web_helpers import make_desk, sign_in, ticket

pytestmark = pytest.mark.browser


def test_shortcuts_and_their_help(browser: Any, live_server: Any, transactional_db: Any) -> None:
    from flowdesk.tickets.models import Ticket

    web = make_desk()
    older = ticket(web, "Older one", team="Tier 1", minutes_ago=20)
    newer = ticket(web, "Newer one", team="Tier 1", minutes_ago=10)
    page = sign_in(browser, live_server.url, "alice@desk.test")
    page.wait_for_url("**/agent/")
    page.goto(f"{live_server.url}/agent/?view=teams")
    # ? opens the help: a modal dialog that keeps the focus and closes on Esc.
    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    dialog.wait_for()
    assert "Assign the ticket to me" in dialog.inner_text()
    for _ in range(3):
        page.keyboard.press("Tab")
        assert page.evaluate(
            "document.getElementById('shortcuts-help').contains(document.activeElement)"
        )
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")
    # j / k move through the list, Enter opens; typing in the search box is not a shortcut.
    page.get_by_label("Search").fill("jk")
    page.get_by_label("Search").fill("")
    page.locator("a.ticket-link").nth(1).wait_for()
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    assert page.locator("tr[aria-current='true'] a.ticket-link").inner_text().endswith("Newer one")
    page.keyboard.press("j")
    page.evaluate("document.activeElement.blur()")  # Enter on the current row, not the link
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/agent/tickets/{older.pk}")
    # r: the reply box, ready to type (the key itself is not typed).
    page.keyboard.press("r")
    body = page.get_by_role("textbox", name="Message")
    assert page.evaluate("document.activeElement.id") == "reply-body"
    assert body.input_value() == ""
    page.keyboard.type("asr")  # typing in the box is not a shortcut
    assert body.input_value() == "asr"
    body.fill("")
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press("n")
    assert page.locator("#reply input[value='note']").is_checked()
    page.evaluate("document.activeElement.blur()")
    # a and s post the field form, like a click on Save.
    page.keyboard.press("a")
    page.get_by_text("Saved: assignee.").wait_for()
    page.keyboard.press("s")
    page.get_by_text("Saved: status.").wait_for()
    t = Ticket.objects.get(pk=older.pk)
    assert (t.assignee, t.status) == (web.alice, "solved")
    assert Ticket.objects.get(pk=newer.pk).assignee is None


def test_bulk_action_with_a_stale_ticket(
    browser: Any, live_server: Any, transactional_db: Any
) -> None:
    from flowdesk.core.clock import utcnow
    from flowdesk.tickets.models import Ticket
    from flowdesk.tickets.services import Cause, ChangeSet, check_update_ticket

    web = make_desk()
    made = [ticket(web, f"Bulk {n}", team="Tier 1", minutes_ago=n) for n in range(3)]
    page = sign_in(browser, live_server.url, "alice@desk.test")
    page.wait_for_url("**/agent/")
    page.goto(f"{live_server.url}/agent/?view=teams")
    page.get_by_label("Select all tickets on this page").check()
    page.get_by_text("(3 selected)").wait_for()
    # Someone else changes one of them after the list was loaded.
    check_update_ticket(
        made[1],
        changes=ChangeSet(values={"priority": "high"}),
        message=None,
        expected_version=None,
        cause=Cause.for_user(web.admin),
        now=utcnow(),
    )
    page.locator("#bulk-status").select_option("pending")
    page.locator("#bulk-tags").fill("sweep")
    page.get_by_role("button", name="Apply to selected").click()
    panel = page.locator(".bulk-result")
    panel.wait_for()
    assert "1 conflict · 2 done" in panel.inner_text()
    assert page.locator(f"[data-ticket='{made[1].pk}']").get_attribute("data-outcome") == "conflict"
    statuses = dict(Ticket.objects.filter(pk__in=[t.pk for t in made]).values_list("pk", "status"))
    assert statuses == {made[0].pk: "pending", made[1].pk: "new", made[2].pk: "pending"}


def test_two_agents_see_each_other(browser: Any, live_server: Any, transactional_db: Any) -> None:
    web = make_desk()
    t = ticket(web, "Who is on it", team="Tier 1")
    url = f"{live_server.url}/agent/tickets/{t.pk}"
    alice = sign_in(browser, live_server.url, "alice@desk.test")
    admin = sign_in(browser, live_server.url, "admin@desk.test")
    for page in (alice, admin):
        page.wait_for_url("**/agent/")
    alice.goto(url)
    alice.locator("#presence").wait_for(state="attached")
    admin.goto(url)
    admin.get_by_text("Alice is viewing this ticket.").wait_for()
    # Alice starts typing: the admin sees it on the next refresh (every 10 s).
    alice.get_by_role("textbox", name="Message").click()
    alice.keyboard.type("On it")
    admin.get_by_text("Alice is replying to this ticket now.").wait_for(timeout=15_000)
    alice.get_by_text("Ada Admin is viewing this ticket.").wait_for(timeout=15_000)
    web_alice_left = alice.context
    web_alice_left.close()  # the tab closes: it says "gone", or expires in 30 s
    admin.get_by_text("Alice is").wait_for(state="detached", timeout=15_000)
