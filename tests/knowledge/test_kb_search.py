"""Search through GET /api/kb/search and /suggest: ranking, accents, Filipino, highlights."""

from __future__ import annotations

from kb_helpers import anonymous, article

from api_helpers import Desk


def _slugs(desk: Desk, **query: str) -> list[str]:
    r = anonymous().get("/kb/search", **query)
    assert r.status == 200, r
    return [h["slug"] for h in r.data["items"]]


def test_title_hits_rank_above_body_hits(kb: Desk) -> None:
    # The body hit mentions the word more often, so only the title rule puts the other first.
    article(kb.admin, "body-hit", "Changing your plan", "Invoice, invoice, invoice: see billing.")
    article(kb.admin, "title-hit", "Where to find an invoice", "Open the account page.")
    article(kb.admin, "no-hit", "Shipping times", "Two to five days.")
    r = anonymous().get("/kb/search", q="invoice")
    assert [h["slug"] for h in r.data["items"]] == ["title-hit", "body-hit"]
    assert [h["title_match"] for h in r.data["items"]] == [True, False]
    assert r.data["items"][0]["title_html"] == "Where to find an <mark>invoice</mark>"
    assert "<mark>Invoice</mark>, <mark>invoice</mark>" in r.data["items"][1]["snippet_html"]


def test_all_words_are_needed_and_each_is_a_prefix(kb: Desk) -> None:
    article(kb.admin, "pw", "Reset a forgotten password", "Use the link in the e-mail.")
    article(kb.admin, "user", "Recover a username", "We send it by e-mail.")
    assert _slugs(kb, q="pass") == ["pw"]
    assert sorted(_slugs(kb, q="mail")) == ["pw", "user"]
    assert _slugs(kb, q="password username") == []
    assert _slugs(kb, q="   ") == []
    assert _slugs(kb, q="!!! ???") == []


def test_accents_and_case_do_not_matter(kb: Desk) -> None:
    article(kb.admin, "cafe", "Le Café des Sports", "Crème brûlée for NAÏVE users.")
    assert _slugs(kb, q="cafe") == ["cafe"]
    assert _slugs(kb, q="CAFÉ") == ["cafe"]
    assert _slugs(kb, q="creme brulee naive") == ["cafe"]
    r = anonymous().get("/kb/search", q="brulee")
    assert "<mark>brûlée</mark>" in r.data["items"][0]["snippet_html"]


def test_filipino_search(kb: Desk) -> None:
    article(kb.admin, "reset", "Reset your password", "Use the link we send you.")
    r = kb.admin.call(
        "PUT",
        "/kb/articles/reset/translations/fil",
        {
            "title": "Paano i-reset ang password",
            "body": "Pindutin ang **Nakalimutan ang password** at sundin ang link sa iyong e-mail.",
        },
    )
    assert r.status == 200, r
    article(kb.admin, "refund", "Humingi ng refund", "Ibabalik namin ang bayad.", lang="fil")
    r = anonymous().get("/kb/search", q="paano i-reset", lang="fil")
    assert [(h["slug"], h["language"]) for h in r.data["items"]] == [("reset", "fil")]
    assert r.data["items"][0]["title_html"] == (
        "<mark>Paano</mark> <mark>i</mark>-<mark>reset</mark> ang password"
    )
    assert _slugs(kb, q="nakalimutan", lang="fil") == ["reset"]
    assert _slugs(kb, q="bayad", lang="fil") == ["refund"]
    assert _slugs(kb, q="nakalimutan", lang="en") == []
    # Without a language, each article once, in its best language.
    r = anonymous().get("/kb/search", q="password")
    assert [h["slug"] for h in r.data["items"]] == ["reset"]
    assert anonymous().get("/kb/search", q="x", lang="de").status == 422


def test_suggestions_for_a_new_ticket_subject(kb: Desk) -> None:
    article(kb.admin, "pw", "Reset a forgotten password", "Use the link in the e-mail.")
    article(kb.admin, "refund", "Ask for a refund", "Refunds take five days.")
    article(kb.admin, "secret-pw", "Password vault for agents", "x", visibility="internal")
    for i in range(7):
        article(kb.admin, f"ship-{i}", f"Shipping question {i}", "Where is my order?")
    r = anonymous().get("/kb/suggest", subject="I forgot my password and want a refund")
    assert r.status == 200, r
    assert sorted(h["slug"] for h in r.data["items"]) == ["pw", "refund"]
    r = kb.agent.get("/kb/suggest", subject="shipping order")
    assert len(r.data["items"]) == 5
    assert anonymous().get("/kb/suggest", subject="").data["items"] == []


def test_edits_and_deletes_reach_the_index(kb: Desk) -> None:
    article(kb.admin, "a", "Old words", "nothing")
    assert _slugs(kb, q="old") == ["a"]
    r = kb.admin.call("PUT", "/kb/articles/a/translations/en", {"title": "New words", "body": ""})
    assert r.status == 200, r
    assert _slugs(kb, q="old") == []
    assert _slugs(kb, q="new") == ["a"]
    assert kb.admin.patch("/kb/articles/a", {"visibility": "internal"}).status == 200
    assert _slugs(kb, q="new") == []
    assert [h["slug"] for h in kb.agent.get("/kb/search", q="new").data["items"]] == ["a"]
    assert kb.admin.call("DELETE", "/kb/articles/a").status == 204
    assert kb.admin.get("/kb/search", q="new").data["items"] == []
