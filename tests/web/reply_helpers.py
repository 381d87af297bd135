"""Macros and help-center articles for the reply-box tests, made through their services."""

from __future__ import annotations

from typing import Any

from web_helpers import WebDesk


def make_macros(desk: WebDesk) -> tuple[Any, Any]:
    """A public reply that sets the ticket pending and tags it, and a note that hands over to
    Tier 2."""
    from flowdesk.core.clock import utcnow
    from flowdesk.macros.definition import MacroDef
    from flowdesk.macros.services import check_create_macro

    ask = check_create_macro(
        MacroDef.model_validate(
            {
                "name": "Ask for the order number",
                "description": "when the customer forgot it",
                "reply": {"body": "Hi {{ requester.name }}, which order is it about?"},
                "changes": {"status": "pending", "add_tags": ["needs-order"]},
            }
        ),
        actor=desk.admin,
        now=utcnow(),
    )
    hand = check_create_macro(
        MacroDef.model_validate(
            {
                "name": "Hand over to Tier 2",
                "reply": {"body": "Passed to {{ team }}.", "public": False},
                "changes": {"team": "Tier 2", "priority": "high"},
            }
        ),
        actor=desk.admin,
        now=utcnow(),
    )
    return ask, hand


def make_articles(desk: WebDesk) -> None:
    """A public article in English and Filipino, one in English only, one internal."""
    from flowdesk.core.clock import utcnow
    from flowdesk.knowledge.services import (
        TranslationIn,
        check_create_article,
        check_create_category,
    )

    check_create_category("billing", "Billing", 0, None)
    now = utcnow()
    for slug, visibility, translations in (
        (
            "reset-password",
            "public",
            {
                "en": TranslationIn("Reset your password", "Open the sign-in page."),
                "fil": TranslationIn("I-reset ang password", "Buksan ang pahina ng pag-sign in."),
            },
        ),
        (
            "password-rules",
            "public",
            {"en": TranslationIn("Password rules", "Twelve characters or more.")},
        ),
        (
            "password-vault",
            "internal",
            {"en": TranslationIn("Password vault for agents", "Internal only.")},
        ),
    ):
        check_create_article(
            desk.admin,
            category="billing",
            slug=slug,
            visibility=visibility,
            position=0,
            translations=translations,
            now=now,
        )
