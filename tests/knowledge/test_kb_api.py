"""Categories, articles and translations through the REST API: who may write, who sees what
(hidden articles answer 404, never 403), and that Markdown is rendered safe."""

from __future__ import annotations

import re

from kb_helpers import anonymous, article

from api_helpers import Desk


def test_category_crud_and_field_errors(kb: Desk) -> None:
    admin = kb.admin
    r = admin.post("/kb/categories", {"slug": "refunds", "name": "Refunds", "parent": "orders"})
    assert r.status == 201, r
    assert r.data["parent"] == "orders"
    r = admin.post("/kb/categories", {"slug": "Bad Slug", "name": " ", "parent": "nope"})
    assert r.status == 422, r
    assert {e["field"] for e in r.data["errors"]} == {"slug", "name", "parent"}
    assert admin.post("/kb/categories", {"slug": "refunds", "name": "x"}).status == 409
    r = admin.patch("/kb/categories/orders", {"parent": "refunds"})
    assert r.status == 422, r
    assert r.data["errors"][0]["field"] == "parent"
    r = admin.patch("/kb/categories/refunds", {"name": "Refunds and returns", "position": 3})
    assert (r.status, r.data["name"], r.data["position"]) == (200, "Refunds and returns", 3)
    assert admin.call("DELETE", "/kb/categories/orders").status == 409  # holds a category
    assert admin.call("DELETE", "/kb/categories/refunds").status == 204
    assert [c["slug"] for c in anonymous().get("/kb/categories").data] == ["account", "orders"]
    assert kb.customer.post("/kb/categories", {"slug": "x", "name": "x"}).status == 403
    assert anonymous().post("/kb/categories", {"slug": "x", "name": "x"}).status == 401


def test_article_crud_with_translations(kb: Desk) -> None:
    created = article(kb.agent, "reset-password", "Reset your password", "Click *Forgot*.")
    assert created["created_by"] is not None
    [en] = created["translations"]
    assert en["body_html"] == "<p>Click <em>Forgot</em>.</p>\n"
    r = kb.agent.call(
        "PUT",
        "/kb/articles/reset-password/translations/fil",
        {"title": "Paano i-reset ang password", "body": "Pindutin ang **Forgot**."},
    )
    assert r.status == 200, r
    assert [t["language"] for t in r.data["translations"]] == ["en", "fil"]
    r = kb.agent.call("PUT", "/kb/articles/reset-password/translations/de", {"title": "x"})
    assert r.status == 422, r
    assert r.data["errors"][0]["field"] == "language"
    r = kb.agent.patch("/kb/articles/reset-password", {"category": "orders", "slug": "reset-pw"})
    assert (r.status, r.data["category"], r.data["slug"]) == (200, "orders", "reset-pw")
    r = anonymous().get("/kb/articles/reset-pw", lang="fil")
    assert r.status == 200, r
    assert [t["title"] for t in r.data["translations"]] == ["Paano i-reset ang password"]
    assert r.data["created_by"] is None  # who wrote it is for agents only
    assert kb.agent.call("DELETE", "/kb/articles/reset-pw/translations/fil").status == 204
    assert kb.agent.call("DELETE", "/kb/articles/reset-pw/translations/fil").status == 404
    assert kb.agent.call("DELETE", "/kb/articles/reset-pw").status == 204
    assert kb.agent.get("/kb/articles/reset-pw").status == 404


def test_article_validation_names_the_fields(kb: Desk) -> None:
    r = kb.agent.post(
        "/kb/articles",
        {
            "category": "nope",
            "slug": "-bad-",
            "translations": {"xx": {"title": "t"}, "en": {"title": "  "}},
        },
    )
    assert r.status == 422, r
    fields = {e["field"] for e in r.data["errors"]}
    assert fields == {"category", "slug", "translations.xx", "translations.en.title"}
    r = kb.agent.post("/kb/articles", {"category": "account", "slug": "a", "visibility": "secret"})
    assert r.status == 422, r
    assert {e["field"] for e in r.data["errors"]} >= {"visibility", "translations"}
    article(kb.agent, "dup", "One", "")
    r = kb.agent.post(
        "/kb/articles",
        {"category": "account", "slug": "dup", "translations": {"en": {"title": "Two"}}},
    )
    assert r.status == 409, r
    assert kb.customer.post("/kb/articles", {}).status == 422  # the body is checked first
    r = kb.customer.post(
        "/kb/articles",
        {"category": "account", "slug": "c", "translations": {"en": {"title": "t"}}},
    )
    assert r.status == 403, r


def test_visibility_hidden_articles_answer_404(kb: Desk) -> None:
    article(kb.admin, "pub", "Public tips", "for everyone")
    article(kb.admin, "staff", "Internal tips", "agents only", visibility="internal")
    article(kb.agent, "alice-draft", "Draft tips", "by alice", visibility="draft")
    article(kb.admin, "admin-draft", "Admin draft tips", "by the admin", visibility="draft")
    seen = {
        "anonymous": anonymous(),
        "customer": kb.customer,
        "agent": kb.agent,
        "admin": kb.admin,
    }
    expected = {
        "anonymous": ["pub"],
        "customer": ["pub"],
        "agent": ["alice-draft", "pub", "staff"],
        "admin": ["admin-draft", "alice-draft", "pub", "staff"],
    }
    for who, api in seen.items():
        listed = sorted(a["slug"] for a in api.get("/kb/articles").data["items"])
        assert listed == expected[who], who
        found = sorted(h["slug"] for h in api.get("/kb/search", q="tips").data["items"])
        assert found == expected[who], who
        for slug in ["pub", "staff", "alice-draft", "admin-draft"]:
            status = api.get(f"/kb/articles/{slug}").status
            assert status == (200 if slug in expected[who] else 404), (who, slug)
            view = api.post(f"/kb/articles/{slug}/view", {"visitor": "s1"}).status
            assert view == (204 if slug in expected[who] else 404), (who, slug)
    # Writers cannot reach what they cannot see either.
    assert kb.agent.patch("/kb/articles/admin-draft", {"visibility": "public"}).status == 404
    # The suggestions for the portal's form are public articles, whoever asks.
    r = kb.admin.get("/kb/suggest", subject="tips please")
    assert [h["slug"] for h in r.data["items"]] == ["pub"]
    # A token that is sent must be valid.
    bad = anonymous()
    bad.client.defaults["HTTP_AUTHORIZATION"] = "Bearer nope"
    assert bad.get("/kb/articles").status == 401


def test_markdown_is_sanitised(kb: Desk) -> None:
    body = (
        "Hello <script>alert('x')</script>\n\n"
        '<img src=x onerror="alert(1)">\n\n'
        "[ok](https://example.com) [bad](javascript:alert(1))\n\n"
        "<a href=\"https://evil.example\" onclick='steal()'>raw</a>"
    )
    created = article(kb.admin, "xss", "Safe <b>title</b>", body)
    html = created["translations"][0]["body_html"]
    # Raw HTML is shown as text (escaped); no tag carries a script, handler or script URL.
    assert "<script" not in html
    assert "&lt;script&gt;" in html
    tags = re.findall(r"<[^>]+>", html)
    assert not [
        t for t in tags if re.search(r"\son\w+=|javascript:|<img|<a href=\"https://evil", t)
    ]
    assert '<a href="https://example.com" rel="noopener nofollow">ok</a>' in html
    r = anonymous().get("/kb/search", q="hello")
    [hit] = r.data["items"]
    assert "<script" not in hit["snippet_html"]
    assert "<b>" not in hit["title_html"]
    assert hit["title_html"] == "Safe &lt;b&gt;title&lt;/b&gt;"
