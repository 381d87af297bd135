"""Knowledge-base suggestions while a customer types the subject of a new request.

The seam between the portal and the knowledge base: the portal calls ``suggest(subject,
language)`` and renders what comes back. Until ``flowdesk.knowledge`` is installed it returns
nothing. When it is, its ``suggest`` function (looked up once, import-guarded, so the portal
works with or without it) is called; wiring it to the real API is the body of ``_from_knowledge``
(map its results to ``Suggestion``). docs/portal.md, "Knowledge-base suggestions".
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from typing import Any

from django.apps import apps

log = logging.getLogger(__name__)
LIMIT = 5


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
    found = [Suggestion(str(r.title), str(r.url), str(getattr(r, "snippet", ""))) for r in found]
    # Only links into the site or to the web (never javascript: or data: URLs).
    return [s for s in found if s.url.startswith(("/", "https://", "http://"))][:LIMIT]


def suggest(subject: str, language: str) -> list[Suggestion]:
    subject = subject.strip()
    if len(subject) < 3 or not apps.is_installed("flowdesk.knowledge"):
        return []
    try:
        return _from_knowledge(subject, language)
    except Exception:  # suggestions are a help, never a reason for the form to fail
        log.exception("knowledge-base suggestions failed")
        return []
