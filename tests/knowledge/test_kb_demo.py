"""The demo's help center: the ABCD guidelines as public articles, searchable in English and,
for the common topics, in Filipino; the licence notice travels with the data."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import resources
from typing import Any

from kb_helpers import anonymous


def test_demo_seed_has_a_searchable_help_center(db: Any) -> None:
    from flowdesk.demo.seed import seed_demo

    seed_demo(tickets=0, now=datetime(2025, 6, 13, tzinfo=UTC))
    visitor = anonymous()
    assert len(visitor.get("/kb/categories").data) == 10
    assert visitor.get("/kb/articles").data["count"] == 55
    r = visitor.get("/kb/search", q="paano i-reset", lang="fil")
    assert [h["slug"] for h in r.data["items"]] == ["recover-password"]
    r = visitor.get("/kb/search", q="refund", lang="fil")
    assert "initiate-refund" in [h["slug"] for h in r.data["items"]]
    r = visitor.get("/kb/search", q="password", lang="en")
    assert r.data["items"][0]["slug"] == "recover-password"
    r = visitor.get("/kb/suggest", subject="Shipping status of my order?")
    # Two articles have both words in their title; the databases' ranks may order them either way.
    slugs = [h["slug"] for h in r.data["items"]]
    assert slugs[0] in {"shipping-status", "status-shipping-question"}
    assert "shipping-status" in slugs
    here = resources.files("flowdesk.knowledge.fixtures")
    assert "Copyright (c) 2021 ASAPP Research" in here.joinpath("LICENSE-ABCD").read_text()
