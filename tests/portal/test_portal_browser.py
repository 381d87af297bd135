"""The portal in a real browser (headless Debian Chromium, Playwright, pytest-django's live
server), with mail delivered by the outbox to a real local SMTP server (tests/smtp_sink.py):
a customer signs in by mailed link, files a request, gets the agent's reply by e-mail,
replies and marks it solved; a visitor without an account files through the confirmation
e-mail. The browser fixture is the workspace tests' (tests/web/test_browser.py)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from portal_helpers import agent_reply, deliver
from web_helpers import (
    browser,  # noqa: F401  (the fixture, shared with tests/web)
    make_desk,
)

pytestmark = pytest.mark.browser

LINK = re.compile(r"https?://\S+/portal/(?:signin|confirm)/\S+")


def _mail_to(smtp: Any, to: str) -> list[Any]:
    deliver()
    return [m for m in smtp.received if to in str(m["To"])]


def _link(message: Any) -> str:
    found = LINK.search(message.get_content())
    assert found, message.get_content()
    return found.group(0)


def _page(browser: Any) -> Any:  # noqa: F811
    page = browser.new_context(viewport={"width": 1100, "height": 900}).new_page()
    page.set_default_timeout(15_000)
    return page


def test_customer_files_gets_the_reply_by_mail_replies_and_marks_solved(
    browser: Any,  # noqa: F811
    live_server: Any,
    transactional_db: Any,
    smtp: Any,
) -> None:
    from flowdesk.tickets.models import Ticket

    web = make_desk()
    page = _page(browser)
    page.goto(f"{live_server.url}/portal/login")
    page.locator("#link-email").fill("cora@acme.test")
    page.get_by_role("button", name="E-mail me a link").click()
    page.get_by_role("heading", name="Check your e-mail").wait_for()
    [signin_mail] = _mail_to(smtp, "cora@acme.test")
    page.goto(_link(signin_mail))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/portal/")
    page.get_by_role("link", name="New request").first.click()
    page.get_by_label("Subject").fill("Export to CSV fails")
    page.get_by_label("Message").fill("The export stops at 50%.")
    page.get_by_role("button", name="Send request").click()
    page.get_by_text("Your request was received").wait_for()
    t = Ticket.objects.get(subject="Export to CSV fails")
    assert (t.requester_id, t.channel) == (web.cora.pk, "portal")

    agent_reply(t, web.alice, "Fixed: please try the export again.")
    replies = [m for m in _mail_to(smtp, "cora@acme.test") if "Export to CSV" in str(m["Subject"])]
    assert len(replies) == 1
    assert "please try the export again" in replies[0].get_body(("plain",)).get_content()

    page.reload()
    assert "Fixed: please try the export again." in page.locator(".messages").inner_text()
    page.get_by_role("textbox", name="Message").fill("It works now, thank you!")
    page.get_by_role("button", name="Send reply").click()
    page.get_by_text("Your reply was sent.").wait_for()
    assert "It works now, thank you!" in page.locator(".messages").inner_text()
    page.get_by_role("button", name="Mark as solved").click()
    page.get_by_text("Marked as solved").wait_for()
    assert Ticket.objects.get(pk=t.pk).status == "solved"
    assert page.get_by_role("button", name="Mark as solved").count() == 0


def test_visitor_files_through_the_confirmation_mail(
    browser: Any,  # noqa: F811
    live_server: Any,
    transactional_db: Any,
    smtp: Any,
) -> None:
    from flowdesk.tickets.models import Ticket

    make_desk()
    page = _page(browser)
    page.goto(f"{live_server.url}/portal/new")
    page.get_by_label("Your name").fill("Vic Visitor")
    page.get_by_label("Your e-mail").fill("vic@example.test")
    # The subject asks for knowledge-base suggestions as it is typed (htmx GET).
    with page.expect_response(lambda r: "/portal/suggest?subject=" in r.url) as asked:
        page.get_by_label("Subject").fill("Cannot find my invoice")
    assert asked.value.status == 200
    page.get_by_label("Message").fill("Where is the invoice for March?")
    page.get_by_role("button", name="Send request").click()
    page.get_by_role("heading", name="One more step: confirm by e-mail").wait_for()
    assert not Ticket.objects.exists()
    [confirmation] = _mail_to(smtp, "vic@example.test")
    link = _link(confirmation)
    page.goto(link)
    page.get_by_role("heading", name="Thank you: your request was received").wait_for()
    t = Ticket.objects.get()
    assert (t.subject, t.channel, t.requester.email) == (
        "Cannot find my invoice",
        "portal",
        "vic@example.test",
    )
    page.goto(link)
    page.get_by_text("You had confirmed it already.").wait_for()
    assert Ticket.objects.count() == 1
