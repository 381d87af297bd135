"""Accessibility: every workspace page, at desktop and phone width, checked in a real browser
with axe-core (installed from npm by scripts/test; never served by flowdesk). A page passes with
no violation of impact "serious" or "critical"; the moderate and minor ones are printed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reply_helpers import make_articles, make_macros
from web_helpers import WebDesk, make_desk, sign_in, ticket

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}

pytestmark = pytest.mark.browser


def _violations(page: Any) -> list[dict[str, Any]]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        """async () => {
            const r = await axe.run(document, {resultTypes: ["violations"]});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 3).map(n => n.target.join(" "))}));
        }"""
    )
    return list(result)


def _check(page: Any, name: str) -> None:
    found = _violations(page)
    serious = [v for v in found if v["impact"] in ("serious", "critical")]
    for v in found:
        if v not in serious:
            print(f"{name}: {v['impact']} {v['id']}: {v['help']} {v['nodes']}")
    assert serious == [], f"{name}: {json.dumps(serious, indent=1)}"


@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_workspace_pages_have_no_serious_accessibility_violations(
    browser: Any,
    live_server: Any,
    transactional_db: Any,
    width: str,
) -> None:
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci` (scripts/test does)")
    desk: WebDesk = make_desk()
    shown = ticket(desk, "Invoice shows the wrong VAT", team="Tier 1", priority="urgent")
    ask, _ = make_macros(desk)
    make_articles(desk)
    anonymous = browser.new_context(viewport=WIDTHS[width])
    login = anonymous.new_page()
    login.goto(f"{live_server.url}/login")
    _check(login, f"login ({width})")
    page = sign_in(browser, live_server.url, "alice@desk.test")
    page.set_viewport_size(WIDTHS[width])
    page.wait_for_url("**/agent/")
    for view in ("mine", "unassigned", "teams", "urgent"):
        page.goto(f"{live_server.url}/agent/?view={view}")
        page.locator(f"#view-{view} .count").wait_for()  # the counts, loaded after the list
        _check(page, f"inbox {view} ({width})")
    page.goto(f"{live_server.url}/agent/?counts=1")
    _check(page, f"inbox with the counts in the page ({width})")
    page.goto(f"{live_server.url}/agent/tickets/{shown.pk}")
    _check(page, f"ticket page ({width})")
    # The reply tools open: a macro previewed, article links found.
    page.goto(f"{live_server.url}/agent/tickets/{shown.pk}/macros?macro={ask.pk}")
    _check(page, f"macro preview ({width})")
    page.goto(f"{live_server.url}/agent/tickets/{shown.pk}/articles?q=password")
    page.locator("[data-insert-link]").first.wait_for()
    _check(page, f"article links ({width})")
    _check_studio(browser, live_server.url, width)


STUDIO_RULES = """version: 1
rules:
  - name: vat-to-billing
    triggers: [created]
    conditions:
      all:
        - {field: subject, op: contains, value: VAT}
    actions:
      - {type: add_tags, tags: [billing]}
  - name: billing-is-high
    triggers: [created, updated]
    conditions:
      all:
        - {field: tags, op: has_any, value: [billing]}
    actions:
      - {type: set_priority, value: high}
"""


def _check_studio(browser: Any, base: str, width: str) -> None:
    """The rule studio's pages, as an admin: the set, the editor with a validation error and
    a dry run, a diff, both flowcharts (drawn) and the Django admin's index."""
    from flowdesk.automation import services

    services.check_import_yaml(STUDIO_RULES, source="rules.yaml", author=None)
    services.check_import_yaml(
        STUDIO_RULES.replace("value: high", "value: urgent"), source="rules.yaml", author=None
    )
    page = sign_in(browser, base, "admin@desk.test")
    page.set_viewport_size(WIDTHS[width])
    page.wait_for_url("**/agent/")
    for path in ("/studio/", "/studio/versions/1", "/studio/diff?a=1&b=2", "/studio/edit"):
        page.goto(base + path)
        _check(page, f"studio {path} ({width})")
    page.get_by_label("Rule set (YAML)").fill(STUDIO_RULES.replace("subject", "subjet"))
    page.get_by_role("button", name="Validate").click()
    page.locator(".ln-row.has-issue").first.wait_for()
    _check(page, f"studio editor with an error ({width})")
    page.get_by_label("Rule set (YAML)").fill(STUDIO_RULES)
    page.get_by_label("…or a ticket snapshot (JSON)").fill('{"subject": "VAT"}')
    page.get_by_role("button", name="Dry run").click()
    page.get_by_text("Would fire, in this order").wait_for()
    _check(page, f"studio dry run ({width})")
    for path in ("/studio/flowchart", "/studio/flowchart?rule=billing-is-high"):
        page.goto(base + path)
        page.locator("#chart svg").wait_for()
        _check(page, f"studio {path} ({width})")
    page.goto(base + "/studio/admin/")
    _check(page, f"studio admin ({width})")
