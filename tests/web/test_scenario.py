"""One day at the help desk, end to end, in real Chromium against a live server, with the outbox
worker delivering mail to a local SMTP server: an agent works the enterprise customer's urgent
ticket with a macro (the mail arrives), saves over someone else's change (the conflict names
it, nothing is lost), an admin fixes, dry-runs and saves a rule in the studio (the flowchart is
drawn), and a customer uses the portal in Filipino (a suggested article, a new request, only
their own tickets). All data is made through the services and the API."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import expect

from api_helpers import Api
from reply_helpers import make_articles, make_macros
from web_helpers import WebDesk, make_desk, sign_in, ticket

pytestmark = [pytest.mark.browser, pytest.mark.slow]

#: appended to the demo rule set in the studio; the typo is the action's type
NEW_RULE = """  - name: tag-outages
    triggers: [created]
    conditions: {all: [{field: subject, op: contains, value: down}]}
    actions:
      - {type: add_tag, tags: [outage]}
"""


@dataclass
class Scene:
    web: WebDesk
    finn: Any  # a customer of a free organization
    urgent: Any  # Cora's (enterprise) ticket: the demo rules make it urgent, Tier 2
    finns_ticket: Any


def _build() -> Scene:
    from flowdesk.accounts.models import Role
    from flowdesk.accounts.services import (
        do_create_organization,
        do_create_team,
        do_create_user,
    )
    from flowdesk.automation.services import check_import_yaml
    from flowdesk.demo.seed import demo_rules_yaml

    web = make_desk()
    do_create_team("Billing", [])
    free = do_create_organization("Freebies", {"tier": "free"})
    finn = do_create_user("finn@free.test", name="Finn", organization=free, role=Role.CUSTOMER)
    check_import_yaml(demo_rules_yaml(), source="demo/rules.yaml", author=web.admin, comment="")
    make_macros(web)
    make_articles(web)
    urgent = ticket(web, "Checkout is down", minutes_ago=90)
    # Newer tickets of the same team, less urgent: the priority order still puts it first.
    ticket(web, "Export is slow", team="Tier 2", priority="high", minutes_ago=20, requester=finn)
    ticket(web, "A question about seats", team="Tier 2", priority="normal", minutes_ago=5)
    finns_ticket = ticket(web, "Finn's private matter", body="Only for Finn.", requester=finn)
    return Scene(web, finn, urgent, finns_ticket)


@pytest.fixture
def worker(live_server: Any, smtp: Any) -> Iterator[Any]:
    """The outbox worker pool of this process, woken by each commit (like `flowdesk worker`)."""
    from flowdesk.outbox.runner import OutboxRunner

    runner = OutboxRunner("scenario", concurrency=1, poll_seconds=0.5).start()
    yield runner
    runner.stop(timeout=10)


def _mail(smtp: Any, to: str, text: str, seconds: float = 15) -> Any:
    """The first mail to ``to`` whose plain text contains ``text``, waiting for the worker."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for message in list(smtp.received):
            if to in str(message["To"]) and text in message.get_body(("plain",)).get_content():
                return message
        time.sleep(0.1)
    seen = [(str(m["To"]), str(m["Subject"])) for m in smtp.received]
    raise AssertionError(f"no mail to {to} with {text!r}; the sink has {seen}")


def test_a_day_at_the_help_desk(
    browser: Any,
    live_server: Any,
    transactional_db: Any,
    smtp: Any,
    worker: Any,
) -> None:
    from flowdesk.accounts.services import do_create_token
    from flowdesk.tickets.models import Ticket

    scene = _build()
    urgent = Ticket.objects.get(pk=scene.urgent.pk)
    assert (urgent.priority, urgent.team.name) == ("urgent", "Tier 2")  # the demo rules
    base = live_server.url

    # a. Carol (Tier 2) signs in; by priority, the enterprise customer's urgent ticket is first.
    carol = sign_in(browser, base, "carol@desk.test")
    carol.wait_for_url("**/agent/")
    carol.get_by_role("link", name="My teams").click()
    carol.wait_for_url("**view=teams**")
    carol.get_by_label("Sort by").select_option("priority")
    carol.wait_for_url("**sort=priority**")
    rows = carol.locator("a.ticket-link")
    expect(rows.first).to_contain_text("Checkout is down")
    listed = rows.all_inner_texts()
    assert len(listed) == 3, listed
    assert "Checkout is down" in listed[0]
    assert ["Export is slow" in listed[1], "A question about seats" in listed[2]] == [True, True]
    rows.first.click()
    carol.wait_for_url(f"**/agent/tickets/{urgent.pk}")
    carol.get_by_role("heading", name="Checkout is down").wait_for()
    carol.keyboard.press("m")
    carol.get_by_role("link", name="Ask for the order number").click()
    preview = carol.locator("#macro-preview")
    preview.wait_for()
    assert "Hi Cora, which order is it about?" in preview.inner_text()
    carol.get_by_role("button", name="Apply macro").click()
    carol.get_by_text("Macro “Ask for the order number” applied.").wait_for()
    assert "which order is it about?" in carol.locator(".message.public").last.inner_text()
    mail = _mail(smtp, "cora@acme.test", "Hi Cora, which order is it about?")
    assert "Checkout is down" in str(mail["Subject"])

    # b. While Carol's sidebar is open, the admin changes the ticket through the API.
    carol.get_by_label("Status").select_option("on-hold")
    admin_api = Api(do_create_token(scene.web.admin, "scenario")[1])
    r = admin_api.patch(f"/tickets/{urgent.pk}", {"priority": "high"})
    assert r.status == 200, r
    carol.get_by_role("button", name="Save").click()
    conflict = carol.locator("#conflict")
    conflict.wait_for()
    who = "Ada Admin (API token scenario)"
    assert f"{who} changed priority from urgent to high" in conflict.inner_text()
    # Her edit is kept, and theirs is taken in.
    form = [carol.get_by_label(name).input_value() for name in ("Status", "Priority")]
    assert form == ["on-hold", "high"]
    assert Ticket.objects.get(pk=urgent.pk).status == "pending"  # nothing saved yet
    carol.get_by_role("button", name="Save").click()
    carol.get_by_text("Saved: status.").wait_for()
    saved = Ticket.objects.get(pk=urgent.pk)
    assert (saved.status, saved.priority) == ("on-hold", "high")

    # c. The admin adds a rule in the studio: a typo, fixed; a dry run; saved; the flowchart.
    admin = sign_in(browser, base, "admin@desk.test")
    admin.wait_for_url("**/agent/")
    admin.get_by_role("link", name="Rules").click()
    admin.wait_for_url("**/studio/")
    admin.get_by_role("link", name="Edit", exact=True).click()
    editor = admin.get_by_label("Rule set (YAML)")
    current = editor.input_value()
    assert "enterprise-first" in current
    text = current.rstrip("\n") + "\n" + NEW_RULE
    typo_line = text.splitlines().index("      - {type: add_tag, tags: [outage]}") + 1
    editor.fill(text)
    admin.get_by_role("button", name="Validate").click()
    row = admin.locator(f"#L{typo_line}")
    row.wait_for()
    assert "has-issue" in (row.get_attribute("class") or "")
    shown = row.inner_text()
    assert f"error on line {typo_line}: unknown action type 'add_tag'" in shown
    assert "(did you mean “add_tags”?)" in shown
    assert admin.get_by_role("link", name=f"line {typo_line}").is_visible()
    admin.get_by_label("Rule set (YAML)").fill(text.replace("add_tag,", "add_tags,"))
    admin.get_by_label("Ticket id").fill(str(urgent.pk))
    admin.get_by_role("button", name="Dry run").click()
    admin.get_by_text("Would fire, in this order").wait_for()
    fired = admin.locator("ol.fired > li .rule-name").all_inner_texts()
    assert fired[0] == "enterprise-first"
    assert "tag-outages" in fired
    admin.get_by_label("Comment (saved with the version)").fill("tag outages")
    admin.get_by_role("button", name="Save as a new version").click()
    admin.wait_for_url("**/studio/")
    admin.get_by_text("Saved as version 2.").wait_for()
    admin.get_by_role("link", name="Flowchart").first.click()
    admin.locator("#chart svg").wait_for()
    assert "tag-outages" in (admin.locator("#chart svg").text_content() or "")

    # d. Cora, in Filipino, starts a request, is offered an article, reads it, files anyway.
    context = browser.new_context(
        viewport={"width": 1100, "height": 900},
        extra_http_headers={"Accept-Language": "fil"},
        locale="fil-PH",
    )
    context.set_default_timeout(15_000)
    cora = context.new_page()
    cora.goto(f"{base}/portal/login")
    cora.get_by_role("heading", name="Mag-sign in sa portal ng suporta").wait_for()
    cora.locator("#id_username").fill("cora@acme.test")
    cora.locator("#id_password").fill("correct horse battery")
    cora.get_by_role("button", name="Mag-sign in", exact=True).click()
    cora.get_by_role("heading", name="Ang aking mga kahilingan").wait_for()
    cora.get_by_role("link", name="Bagong kahilingan").first.click()
    cora.get_by_label("Paksa").press_sequentially("Paano i-reset ang password", delay=20)
    suggestion = cora.locator("#suggestions").get_by_role("link", name="I-reset ang password")
    suggestion.wait_for()
    with context.expect_page() as opened:
        suggestion.click()
    article = opened.value
    article.get_by_role("heading", name="I-reset ang password").wait_for()
    assert "Buksan ang pahina ng pag-sign in." in article.locator("main").inner_text()
    article.close()
    cora.get_by_label("Mensahe").fill("Hindi gumana ang link sa artikulo.")
    cora.get_by_role("button", name="Ipadala ang kahilingan").click()
    cora.get_by_text("Natanggap ang iyong kahilingan. Sasagot kami rito at sa e-mail.").wait_for()
    filed = Ticket.objects.get(subject="Paano i-reset ang password")
    assert (filed.requester_id, filed.channel) == (scene.web.cora.pk, "portal")
    cora.get_by_role("link", name="Ang aking mga kahilingan").first.click()
    mine = [t.split(" ", 1)[1] for t in cora.locator("a.ticket-link").all_inner_texts()]
    assert sorted(mine) == ["A question about seats", "Checkout is down", filed.subject]
    answer = cora.goto(f"{base}/portal/tickets/{scene.finns_ticket.pk}")
    assert answer is not None
    assert answer.status == 404
    cora.get_by_role("heading", name="Hindi nahanap").wait_for()
    assert "Only for Finn." not in cora.content()
