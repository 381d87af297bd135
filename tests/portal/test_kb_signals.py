"""What the help center counts, through the portal's pages and the KB stats API: one view per
visitor session and article (not per reload, never for a client without the session), one
"Was this helpful?" vote per visitor (session) or account, and deflection: an article opened,
then no request filed in that session within the window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.test import Client

from flowdesk.core.clock import travel
from flowdesk.knowledge.models import Article, HelpfulVote
from portal_helpers import kb_article, kb_stats, signed_in
from web_helpers import WebDesk, client_for

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ARTICLE = "/portal/help/articles/reset-password"


def _article() -> Article:
    return kb_article("reset-password", {"en": ("Reset your password", "Press *Forgot*.")})


def _views() -> int:
    return Article.objects.get(slug="reset-password").view_count


def _row(stats: dict[str, Any]) -> dict[str, Any]:
    [row] = [r for r in stats["articles"] if r["slug"] == "reset-password"]
    return row


def test_a_view_is_counted_once_per_visitor_session_and_never_without_one(web: WebDesk) -> None:
    _article()
    for _ in range(3):  # a client that keeps no cookies (a bot, a link checker): never counted
        assert Client().get(ARTICLE).status_code == 200
    assert _views() == 0
    visitor = Client()
    visitor.get("/portal/help/")  # the session starts on the help center's home ...
    visitor.get(ARTICLE)  # ... so opening the article counts
    visitor.get(ARTICLE)  # a reload does not
    assert _views() == 1
    landed = Client()
    landed.get(ARTICLE)  # landed straight on the article: no session came with the request
    assert _views() == 1
    landed.get(ARTICLE)  # it kept the session: now it counts, once
    landed.get(ARTICLE)
    assert _views() == 2
    agent = client_for(web.alice)
    agent.get(ARTICLE)
    agent.get(ARTICLE)  # agents reading the help center are not visitors
    assert _views() == 2
    assert _row(kb_stats(web.alice))["views"] == 2


def test_was_this_helpful_counts_one_vote_per_visitor_with_or_without_javascript(
    web: WebDesk,
) -> None:
    _article()
    visitor = Client(enforce_csrf_checks=True)
    page = visitor.get(ARTICLE).content.decode()
    assert "Was this helpful?" in page
    assert 'hx-post="/portal/help/articles/reset-password/helpful"' in page
    vote = f"{ARTICLE}/helpful"
    assert visitor.post(vote, {"helpful": "yes"}).status_code == 403  # no CSRF token
    token = visitor.cookies["csrftoken"].value
    r = visitor.post(vote, {"helpful": "yes", "csrfmiddlewaretoken": token})  # no JavaScript
    assert (r.status_code, r["Location"]) == (302, f"{ARTICLE}?voted=1#helpful")
    after = visitor.get(r["Location"]).content.decode()
    assert "Thank you for your feedback." in after
    assert "You found this article helpful." in after
    assert 'name="helpful"' not in after  # answered: no buttons any more
    visitor.post(vote, {"helpful": "no", "csrfmiddlewaretoken": token})  # a second vote: ignored
    htmx = Client()
    htmx.get(ARTICLE)
    r = htmx.post(vote, {"helpful": "no"}, HTTP_HX_REQUEST="true")
    body = r.content.decode()
    assert r.status_code == 200
    assert body.startswith('<section id="helpful"')
    assert "You did not find this article helpful." in body
    assert htmx.post(vote, {"helpful": "maybe"}).status_code == 400
    # A signed-in customer votes as themselves: once, on every device.
    for _ in range(2):
        signed_in("cora@acme.test").post(vote, {"helpful": "yes"})
    assert HelpfulVote.objects.filter(voter_key=f"user:{web.cora.pk}").count() == 1
    row = _row(kb_stats(web.alice))
    assert (row["helpful_yes"], row["helpful_no"]) == (2, 1)
    kb_article("secret", {"en": ("Secret", "x")}, visibility="internal")
    assert (
        Client().post("/portal/help/articles/secret/helpful", {"helpful": "yes"}).status_code == 404
    )


def _open_suggested(client: Client) -> None:
    """A visitor types a subject on the new-request form and opens the suggested article."""
    client.get("/portal/new")
    body = client.get("/portal/suggest", {"subject": "reset password"}).content.decode()
    assert f'href="{ARTICLE}?lang=en"' in body
    assert client.get(f"{ARTICLE}?lang=en").status_code == 200


def test_deflection_a_suggested_article_opened_then_no_request_in_the_window(
    web: WebDesk, settings: Any
) -> None:
    settings.FLOWDESK = {**settings.FLOWDESK, "KB_DEFLECTION_MINUTES": 30}
    _article()
    reader, filer, late, customer = Client(), Client(), Client(), signed_in("cora@acme.test")
    with travel(T0):
        for client in (reader, filer, late, customer):
            _open_suggested(client)
            _open_suggested(client)  # twice: still one view
    with travel(T0 + timedelta(minutes=10)):
        form = {"name": "Pat", "email": "pat@example.org", "subject": "Still stuck", "body": "b"}
        assert filer.post("/portal/new", form).status_code == 200  # waits for its confirmation
        assert filer.post("/portal/new", {**form, "subject": "Again"}).status_code == 200
        r = customer.post("/portal/new", {"subject": "Reset fails", "body": "It does."})
        assert r.status_code == 302
    with travel(T0 + timedelta(minutes=20)):
        stats = kb_stats(web.alice)
    row = _row(stats)
    assert (row["views"], row["led_to_ticket"], row["deflected"], row["pending"]) == (4, 2, 0, 2)
    with travel(T0 + timedelta(minutes=45)):
        form = {"name": "Lee", "email": "lee@example.org", "subject": "Later", "body": "b"}
        assert late.post("/portal/new", form).status_code == 200  # after the window
        stats = kb_stats(web.alice)
    row = _row(stats)
    assert (row["views"], row["led_to_ticket"], row["deflected"], row["pending"]) == (4, 2, 2, 0)
    assert stats["visitors"] == {"visitors": 4, "deflected": 2, "filed": 2, "pending": 0}
    assert stats["totals"]["deflected"] == 2


def test_a_bot_filling_the_form_is_not_counted(web: WebDesk) -> None:
    _article()
    bot = {"name": "B", "email": "b@example.org", "subject": "s", "body": "b", "website": "x"}
    for _ in range(3):
        Client().get(ARTICLE)
        Client().post("/portal/new", bot)
    stats = kb_stats(web.alice)
    assert stats["visitors"]["visitors"] == 0
    assert _row(stats)["views"] == 0
