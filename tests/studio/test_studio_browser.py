"""The rule studio in a real browser (headless Chromium, like tests/web/test_browser.py): an
admin fixes a typo the validation points at, dry-runs the rule on a ticket, saves it, and sees
the flowchart drawn by the vendored mermaid."""

from __future__ import annotations

from typing import Any

import pytest
from studio_helpers import MORE, RULES, TYPO_LINE, store

from web_helpers import WebDesk, browser, make_desk, sign_in, ticket  # noqa: F401 (browser: a fixture)

pytestmark = pytest.mark.browser


def test_admin_fixes_a_typo_dry_runs_saves_and_sees_the_flowchart(
    browser: Any,  # noqa: F811 (the fixture imported above)
    live_server: Any,
    transactional_db: Any,
) -> None:
    from flowdesk.automation import services

    desk: WebDesk = make_desk()
    store(RULES)
    shown = ticket(desk, "Invoice is wrong")
    page = sign_in(browser, live_server.url, "admin@desk.test")
    page.wait_for_url("**/agent/")
    page.get_by_role("link", name="Rules").click()
    page.wait_for_url("**/studio/")
    page.get_by_role("link", name="Edit", exact=True).click()
    editor = page.get_by_label("Rule set (YAML)")
    assert "enterprise-first" in editor.input_value()
    # line numbers (progressive enhancement: drawn by a deferred script, so wait for them)
    page.locator(".gutter").wait_for(state="visible")

    # a typo: validation points at its line, the text stays
    editor.fill(MORE.replace("organization.tier", "organisation.tier"))
    page.get_by_role("button", name="Validate").click()
    row = page.locator(f"#L{TYPO_LINE}")
    row.wait_for()
    assert "has-issue" in (row.get_attribute("class") or "")
    assert "did you mean" in row.inner_text()
    assert page.locator(".gutter .bad").inner_text() == str(TYPO_LINE)
    page.get_by_role("link", name=f"line {TYPO_LINE}").click()
    assert "organisation.tier" in page.get_by_label("Rule set (YAML)").input_value()

    # fixed, then dry-run on the stored ticket before saving
    page.get_by_label("Rule set (YAML)").fill(MORE)
    page.get_by_label("Ticket id").fill(str(shown.pk))
    page.get_by_role("button", name="Dry run").click()
    page.get_by_text("Would fire, in this order").wait_for()
    fired = page.locator("ol.fired > li .rule-name").all_inner_texts()
    assert fired == ["enterprise-first", "urgent-to-tier2", "tag-invoices"]
    assert services.active_version().number == 1  # type: ignore[union-attr]

    # saved as a new version
    page.get_by_label("Comment (saved with the version)").fill("tag invoices")
    page.get_by_role("button", name="Save as a new version").click()
    page.wait_for_url("**/studio/")
    page.get_by_text("Saved as version 2.").wait_for()
    version = services.active_version()
    assert version is not None
    assert (version.number, version.comment) == (2, "tag invoices")

    # the flowchart is drawn (an SVG), with strict security: labels are text, not HTML
    page.get_by_role("link", name="Flowchart").first.click()
    page.locator("#chart svg").wait_for()
    svg = page.locator("#chart svg")
    assert "tag-invoices" in (svg.text_content() or "")
    assert page.locator("#chart svg foreignObject").count() == 0
    page.get_by_role("link", name="urgent-to-tier2").click()
    page.locator("#chart svg").wait_for()
    assert "Tier 2" in (page.locator("#chart svg").text_content() or "")
