"""Knowledge-base suggestions while a customer types the subject of a new request.

The seam between the portal and the knowledge base: the portal calls ``suggest(subject,
language)`` and renders what comes back. Until ``flowdesk.knowledge`` is installed it returns
nothing. When it is, its ``suggest`` function (looked up once, import-guarded, so the portal
works with or without it) is called, and its search hits are mapped to ``Suggestion``: each links
to the article in the help center, in the language that matched. docs/portal.md,
"Knowledge-base suggestions".
"""

from __future__ import annotations

import html
import importlib
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from django.apps import apps
from django.urls import reverse
from django.utils.html import strip_tags

log = logging.getLogger(__name__)
LIMIT = 5


def html_to_text(markup: str) -> str:
    """The snippet as plain text (the template escapes it again)."""
    return html.unescape(strip_tags(markup))


@dataclass(frozen=True)
class Suggestion:
    title: str
    url: str
    snippet: str = ""


def _from_knowledge(subject: str, language: str) -> list[Suggestion]:
    try:
        knowledge: Any = importlib.import_module("flowdesk.knowledge")
        found = knowledge.suggest(subject, language)
    except (ImportError, AttributeError):
        return []
    out = []
    for hit in found[:LIMIT]:
        url = reverse("portal:help_article", args=[str(hit.slug)])
        snippet = html_to_text(str(getattr(hit, "snippet_html", "")))
        out.append(Suggestion(str(hit.title), f"{url}?lang={quote(str(hit.language))}", snippet))
    return out


def ticket_filed(visitor: str, now: datetime) -> None:
    """Tells the knowledge base (when installed) that this visitor filed a request, for its
    deflection counts; like the suggestions, never a reason for filing to fail."""
    if not apps.is_installed("flowdesk.knowledge"):
        return
    try:
        from flowdesk.knowledge.services import record_ticket_filed

        record_ticket_filed(visitor, now)
    except Exception:
        log.exception("recording a filed ticket for the knowledge base failed")


def suggest(subject: str, language: str) -> list[Suggestion]:
    subject = subject.strip()
    if len(subject) < 3 or not apps.is_installed("flowdesk.knowledge"):
        return []
    try:
        return _from_knowledge(subject, language)
    except Exception:  # suggestions are a help, never a reason for the form to fail
        log.exception("knowledge-base suggestions failed")
        return []
