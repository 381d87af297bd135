"""The knowledge base: categories, articles in several languages, search, votes, deflection."""

from __future__ import annotations

from typing import Any

SUGGESTIONS = 5


def suggest(subject: str, language: str) -> list[Any]:
    """Up to 5 published public articles for a new ticket's subject (any of its words, every
    language: a subject typed in Filipino finds the Filipino text), best first: search hits
    (``slug``, ``language``, ``title``, ``snippet_html``). The portal's seam calls this
    (flowdesk.portal.suggest); imported lazily so loading the package needs no app registry."""
    from flowdesk.knowledge.search import search

    del language  # each article comes in the language its text matched best
    return list(search(subject, user=None, limit=SUGGESTIONS, match="any", drafts=False))
