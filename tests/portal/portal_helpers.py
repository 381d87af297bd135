"""Helpers of the portal tests: sign a customer in, deliver the outbox, read the mailed link."""

from __future__ import annotations

import re
from typing import Any

from django.core import mail
from django.test import Client

from web_helpers import PASSWORD

LINK = re.compile(r"https?://\S+/portal/(?:signin|confirm)/\S+")


def signed_in(email: str) -> Client:
    client = Client()
    r = client.post("/portal/login", {"username": email, "password": PASSWORD})
    assert r.status_code == 302, r.content
    return client


def deliver() -> None:
    """Delivers what the outbox holds, in this thread (the worker's batch mode without its
    process handling, so it also runs inside a test's transaction). Mail goes to Django's
    locmem outbox here, to the SMTP sink in the browser tests."""
    from flowdesk.outbox.services import drain

    drain("tests")


def mailed_link(to: str) -> str:
    """The portal link in the last mail to ``to``, as a path."""
    deliver()
    bodies = [m.body for m in mail.outbox if to in m.to]
    assert bodies, f"no mail to {to}"
    found = LINK.search(bodies[-1])
    assert found, bodies[-1]
    return "/portal/" + found.group(0).split("/portal/", 1)[1]


def agent_reply(t: Any, agent: Any, text: str) -> Any:
    """A public reply by ``agent``, through the ticket service (mailed to the requester)."""
    from flowdesk.core.clock import utcnow
    from flowdesk.tickets.services import Cause, ChangeSet, NewMessage, check_update_ticket

    return check_update_ticket(
        t,
        changes=ChangeSet(),
        message=NewMessage(body_text=text),
        expected_version=None,
        cause=Cause.for_user(agent),
        now=utcnow(),
    )


def outbox_texts() -> list[Any]:
    return [(m.to, m.subject, m.body) for m in mail.outbox]


def kb_article(
    slug: str,
    translations: dict[str, tuple[str, str]],
    *,
    visibility: str = "public",
    category: str = "account",
    author: Any = None,
) -> Any:
    """An article written through the knowledge services (the category made when missing)."""
    from flowdesk.core.clock import utcnow
    from flowdesk.knowledge.models import Category
    from flowdesk.knowledge.services import TranslationIn, check_create_article

    if not Category.objects.filter(slug=category).exists():
        Category.objects.create(slug=category, name=category.title())
    return check_create_article(
        author,
        category=category,
        slug=slug,
        visibility=visibility,
        position=0,
        translations={k: TranslationIn(t, b) for k, (t, b) in translations.items()},
        now=utcnow(),
    )


def kb_stats(agent: Any) -> dict[str, Any]:
    """GET /api/kb/stats with a token of ``agent``."""
    from flowdesk.accounts.services import do_create_token

    token = do_create_token(agent, "stats")[1]
    r = Client(HTTP_AUTHORIZATION=f"Bearer {token}").get("/api/kb/stats")
    assert r.status_code == 200, r.content
    data: dict[str, Any] = r.json()
    return data
