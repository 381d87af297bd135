"""The help center in a real browser (headless Chromium, the workspace tests' fixture): the
suggestions appear as a visitor types the subject (htmx, debounced), the suggested article
opens and its view is counted, "Was this helpful?" answers in place with htmx and as a plain
form without JavaScript, and the portal speaks Filipino to a browser that asks for it."""

from __future__ import annotations

from typing import Any

import pytest

from portal_helpers import kb_article
from web_helpers import (
    browser,  # noqa: F401  (the fixture, shared with tests/web)
    make_desk,
)

pytestmark = pytest.mark.browser


def _context(browser: Any, **options: Any) -> Any:  # noqa: F811
    context = browser.new_context(viewport={"width": 1100, "height": 900}, **options)
    context.set_default_timeout(15_000)
    return context


def _seed() -> Any:
    make_desk()
    return kb_article(
        "reset-password",
        {
            "en": ("How to reset your password", "Open *Settings*, then press **Forgot**."),
            "fil": (
                "Paano i-reset ang password",
                "Buksan ang *Settings*, saka pindutin ang **Forgot**.",
            ),
        },
    )


def test_suggestions_as_the_visitor_types_then_the_article_and_a_helpful_vote(
    browser: Any,  # noqa: F811
    live_server: Any,
    transactional_db: Any,
) -> None:
    from flowdesk.knowledge.models import Article, HelpfulVote

    article = _seed()
    page = _context(browser).new_page()
    page.goto(f"{live_server.url}/portal/new")
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/portal/suggest" in r.url else None)
    page.get_by_label("Subject").press_sequentially("cannot reset my password", delay=20)
    suggestion = page.locator("#suggestions").get_by_role("link", name="How to reset your password")
    suggestion.wait_for()
    assert 1 <= len(asked) < len("cannot reset my password")  # debounced, not one per key
    with page.context.expect_page() as opened:
        suggestion.click()  # a new tab: the form keeps what was typed
    tab = opened.value
    tab.get_by_role("heading", name="How to reset your password").wait_for()
    assert page.get_by_label("Subject").input_value() == "cannot reset my password"
    tab.get_by_role("button", name="Yes").click()
    tab.get_by_text("Thank you for your feedback.").wait_for()
    assert tab.get_by_role("button", name="Yes").count() == 0
    assert tab.url.endswith("?lang=en")  # swapped in place by htmx, no navigation
    counts = Article.objects.get(pk=article.pk)
    assert (counts.view_count, counts.helpful_yes, counts.helpful_no) == (1, 1, 0)
    tab.reload()
    tab.get_by_text("You found this article helpful.").wait_for()
    assert Article.objects.get(pk=article.pk).view_count == 1  # a reload is not a view
    assert HelpfulVote.objects.count() == 1


def test_the_helpful_vote_works_without_javascript(
    browser: Any,  # noqa: F811
    live_server: Any,
    transactional_db: Any,
) -> None:
    from flowdesk.knowledge.models import Article

    article = _seed()
    page = _context(browser, java_script_enabled=False).new_page()
    page.goto(f"{live_server.url}/portal/help/")
    page.get_by_role("link", name="How to reset your password").click()
    page.get_by_role("button", name="No").click()
    page.get_by_text("You did not find this article helpful.").wait_for()
    assert "voted=1" in page.url
    assert Article.objects.get(pk=article.pk).helpful_no == 1


def test_the_portal_in_filipino(
    browser: Any,  # noqa: F811
    live_server: Any,
    transactional_db: Any,
) -> None:
    _seed()
    context = _context(browser, extra_http_headers={"Accept-Language": "fil"}, locale="fil-PH")
    page = context.new_page()
    page.goto(f"{live_server.url}/portal/login")
    page.get_by_role("heading", name="Mag-sign in sa portal ng suporta").wait_for()
    page.get_by_role("link", name="Sentro ng tulong").click()
    page.get_by_role("heading", name="Sentro ng tulong").wait_for()
    page.get_by_role("searchbox").fill("paano i-reset")
    page.get_by_role("button", name="Maghanap").click()
    page.get_by_text("1 resulta para sa “paano i-reset”").wait_for()
    assert page.locator(".result mark").first.inner_text() == "Paano"
    page.get_by_role("link", name="Paano i-reset ang password").click()
    page.get_by_role("heading", name="Nakatulong ba ito?").wait_for()
    page.get_by_role("link", name="Basahin sa English").click()
    page.get_by_role("heading", name="How to reset your password").wait_for()
    page.get_by_role("link", name="Bagong kahilingan").first.click()
    page.get_by_role("button", name="Ipadala ang kahilingan").wait_for()
    assert page.get_by_label("Paksa").count() == 1
