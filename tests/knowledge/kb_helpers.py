"""Helpers of the knowledge-base tests: a small knowledge base made through the API, and a
reader without a token."""

from __future__ import annotations

from typing import Any

from django.test import Client

from api_helpers import Api


def anonymous() -> Api:
    api = Api("")
    api.client = Client()  # no Authorization header: a signed-out portal visitor
    return api


def article(
    api: Api,
    slug: str,
    title: str,
    body: str,
    *,
    visibility: str = "public",
    category: str = "account",
    lang: str = "en",
) -> dict[str, Any]:
    r = api.post(
        "/kb/articles",
        {
            "category": category,
            "slug": slug,
            "visibility": visibility,
            "translations": {lang: {"title": title, "body": body}},
        },
    )
    assert r.status == 201, r
    data: dict[str, Any] = r.data
    return data
