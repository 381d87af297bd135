"""The help center in the portal through the test client: who sees which articles (public for
everyone, internal for signed-in agents only, drafts never), the article in the reader's
language with the English fallback, ranked and highlighted search with pages, and 404s."""

from __future__ import annotations

import re

from django.test import Client

from portal_helpers import kb_article
from web_helpers import WebDesk, client_for


def _seed(web: WebDesk) -> None:
    kb_article(
        "reset-password",
        {
            "en": (
                "Reset your password",
                "Open **Settings** and press *Forgot*.\n\n<script>x</script>",
            ),
            "fil": (
                "Paano i-reset ang password",
                "Buksan ang **Settings** at pindutin ang *Forgot*.",
            ),
        },
        author=web.admin,
    )
    kb_article(
        "refund-policy", {"en": ("Refund policy", "Refunds take five days.")}, category="orders"
    )
    kb_article("agent-macros", {"en": ("Macros", "Macros for refunds.")}, visibility="internal")
    kb_article("draft-refund", {"en": ("Draft about refunds", "Soon.")}, visibility="draft",
               author=web.alice)  # fmt: skip


def _text(response: object) -> str:
    return response.content.decode()  # type: ignore[attr-defined, no-any-return]


def test_home_and_category_list_what_the_reader_may_see(web: WebDesk) -> None:
    _seed(web)
    anonymous = _text(Client().get("/portal/help/"))
    assert "Reset your password" in anonymous
    assert "Refund policy" in anonymous
    assert "Macros" not in anonymous
    assert "Draft about refunds" not in anonymous
    customer = _text(client_for(web.cora).get("/portal/help/categories/account"))
    assert "Reset your password" in customer
    assert "Macros" not in customer
    agent = client_for(web.alice)  # the draft's author: still never in the portal
    page = _text(agent.get("/portal/help/categories/account"))
    assert "Macros" in page
    assert "Draft about refunds" not in page
    assert "Draft about refunds" not in _text(client_for(web.admin).get("/portal/help/"))
    missing = Client().get("/portal/help/categories/nope")
    assert missing.status_code == 404
    assert "no such article or category" in _text(missing)


def test_a_category_is_paged(web: WebDesk) -> None:
    for i in range(25):
        kb_article(f"a-{i:02d}", {"en": (f"Article {i:02d}", "Body")})
    first = _text(Client().get("/portal/help/categories/account"))
    assert first.count('href="/portal/help/articles/a-') == 20
    assert "Page 1 of 2" in first
    second = _text(Client().get("/portal/help/categories/account", {"page": 2}))
    assert re.findall(r"Article (\d\d)", second) == ["20", "21", "22", "23", "24"]


def test_the_article_in_the_readers_language_with_english_as_the_fallback(web: WebDesk) -> None:
    _seed(web)
    en = _text(Client().get("/portal/help/articles/reset-password"))
    assert '<h1 id="article-title">Reset your password</h1>' in en
    assert "<strong>Settings</strong>" in en  # rendered Markdown ...
    assert "<script>x" not in en
    assert "&lt;script&gt;x&lt;/script&gt;" in en
    assert 'href="?lang=fil"' in en
    assert "Read in Filipino" in en
    fil = _text(Client().get("/portal/help/articles/reset-password", HTTP_ACCEPT_LANGUAGE="fil"))
    assert "Paano i-reset ang password" in fil
    assert 'lang="fil"' in fil
    assert 'href="?lang=en"' in fil
    chosen = _text(Client().get("/portal/help/articles/reset-password", {"lang": "en"},
                                HTTP_ACCEPT_LANGUAGE="fil"))  # fmt: skip
    assert '<h1 id="article-title">Reset your password</h1>' in chosen
    fallback = _text(
        Client().get("/portal/help/articles/refund-policy", HTTP_ACCEPT_LANGUAGE="fil")
    )
    assert "Refund policy" in fallback
    assert 'role="note"' in fallback
    assert "?lang=" not in fallback  # no other language to offer


def test_hidden_articles_answer_the_portals_404(web: WebDesk) -> None:
    _seed(web)
    for client, slug in [
        (Client(), "agent-macros"),
        (client_for(web.cora), "agent-macros"),
        (client_for(web.alice), "draft-refund"),  # its author
        (client_for(web.admin), "draft-refund"),
        (Client(), "no-such-article"),
    ]:
        r = client.get(f"/portal/help/articles/{slug}")
        assert r.status_code == 404, slug
        assert "Help center" in _text(r)
    agent = client_for(web.alice).get("/portal/help/articles/agent-macros")
    assert agent.status_code == 200
    assert "Internal: agents only" in _text(agent)


def test_search_ranks_highlights_folds_accents_and_pages(web: WebDesk) -> None:
    _seed(web)
    kb_article("cafe", {"en": ("Café opening hours", "Our café opens at nine.")})
    r = _text(Client().get("/portal/help/search", {"q": "refund"}))
    titles = re.findall(r'<h2><a href="/portal/help/articles/([\w-]+)\?lang=en">', r)
    assert titles == ["refund-policy"]  # internal and draft ones are not for visitors
    assert "<mark>Refund</mark> policy" in r
    assert "<mark>Refunds</mark> take five days." in r
    agent = _text(client_for(web.alice).get("/portal/help/search", {"q": "refund"}))
    found = re.findall(r'<h2><a href="/portal/help/articles/([\w-]+)', agent)
    assert found == ["refund-policy", "agent-macros"]  # title match first; never the draft
    folded = _text(Client().get("/portal/help/search", {"q": "CAFE"}))
    assert "<mark>Café</mark> opening hours" in folded
    fil = _text(Client().get("/portal/help/search", {"q": "paano i-reset"}))
    assert 'href="/portal/help/articles/reset-password?lang=fil"' in fil
    assert "<mark>Paano</mark> <mark>i</mark>-<mark>reset</mark>" in fil
    nothing = _text(Client().get("/portal/help/search", {"q": "zzzz"}))
    assert "0 results" in nothing
    assert "No article matches" in nothing
    for i in range(15):
        kb_article(f"invoice-{i:02d}", {"en": (f"Invoice question {i:02d}", "invoice " * (i + 1))})
    page1 = _text(Client().get("/portal/help/search", {"q": "invoice"}))
    assert "15 results" in page1
    assert page1.count('class="result"') == 10
    assert 'href="?q=invoice&amp;page=2"' in page1
    page2 = _text(Client().get("/portal/help/search", {"q": "invoice", "page": 2}))
    assert page2.count('class="result"') == 5
    assert "Page 2 of 2" in page2
    assert not set(re.findall(r"invoice-\d\d", page1)) & set(re.findall(r"invoice-\d\d", page2))
