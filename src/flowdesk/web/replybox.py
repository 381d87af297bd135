"""What the reply box offers besides typing: macros (pick, preview, apply) and links to
knowledge-base articles. These build the two panels' contexts; the views are in ``macros.py``
and ``articles.py``, the page in ``ticket.py``.

Macros are listed and previewed through ``flowdesk.macros.services`` (``macros_for``,
``render``: the engine's sandboxed placeholder rendering), so the workspace shows exactly what
``POST /api/tickets/{id}/macros/{ref}/apply`` would do. Articles come from the knowledge base's
one search interface, as a signed-out reader sees them (public articles only), in the
requester's language first and English after.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.db.models.functions import Lower
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

from flowdesk.accounts.models import User
from flowdesk.core.clock import utcnow
from flowdesk.core.errors import NotFound, ValidationFailed
from flowdesk.knowledge.search import search as kb_search
from flowdesk.macros.models import Macro
from flowdesk.macros.services import Preview, macros_for, render
from flowdesk.tickets.models import Ticket

MACROS_LISTED = 50
ARTICLES_LISTED = 8
FALLBACK_LANGUAGE = "en"
#: URL names the portal may give its article page, tried in order (see ``article_url``)
ARTICLE_URL_NAMES = ("portal:article", "portal:kb_article")


def macro_panel(
    user: User,
    ticket: Ticket,
    *,
    q: str = "",
    chosen: int | None = None,
    version: int | None = None,
    seen: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The macro picker: the macros the agent may use (``q`` narrows by name or description),
    and with ``chosen`` its preview on this ticket. ``version``/``seen`` are the ticket's
    version and last event as the agent's page showed them; the apply form sends them back."""
    qs = macros_for(user).filter(active=True)
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(description__icontains=q))
    listed = list(qs.order_by("position", Lower("name"), "pk")[:MACROS_LISTED])
    preview: Preview | None = None
    error = ""
    if chosen is not None:
        macro = next((m for m in listed if m.pk == chosen), None) or _macro(user, chosen)
        try:
            preview = render(macro, ticket, utcnow())
        except ValidationFailed as failed:
            error = "; ".join(e.message for e in failed.errors)
    return {
        "q": q,
        "macros": listed,
        "preview": preview,
        "version": ticket.version if version is None else version,
        "seen": seen,
        "error": error,
        "conflict": [],
        "open": bool(q or chosen is not None),
        **extra,
    }


def _macro(user: User, pk: int) -> Macro:
    found = macros_for(user).filter(active=True, pk=pk).first()
    if found is None:
        raise NotFound(f"macro {pk} not found")
    return found


@dataclass(frozen=True)
class ArticleLink:
    title: str
    url: str
    language: str
    snippet_html: str


def article_url(request: HttpRequest, slug: str) -> str:
    """The article's public address in the customer portal, absolute (it goes into an e-mail):
    the portal's named route when it has one, else /portal/kb/<slug>."""
    for name in ARTICLE_URL_NAMES:
        try:
            path = reverse(name, kwargs={"slug": slug})
            break
        except NoReverseMatch:
            continue
    else:
        path = f"{reverse('portal:home')}kb/{slug}"
    return request.build_absolute_uri(path)


def reader_language(ticket: Ticket) -> str:
    """The requester's language when the knowledge base has it, else English."""
    chosen = (ticket.requester.language or "").lower()
    return chosen if chosen in settings.FLOWDESK_KB_LANGUAGES else FALLBACK_LANGUAGE


def article_links(request: HttpRequest, ticket: Ticket, q: str) -> list[ArticleLink]:
    """Public articles for ``q``: in the requester's language, then the English ones of the
    articles not translated into it."""
    language = reader_language(ticket)
    hits = kb_search(q, user=None, language=language, limit=ARTICLES_LISTED)
    if language != FALLBACK_LANGUAGE and len(hits) < ARTICLES_LISTED:
        found = {h.article_id for h in hits}
        english = kb_search(q, user=None, language=FALLBACK_LANGUAGE, limit=ARTICLES_LISTED)
        hits += [h for h in english if h.article_id not in found]
    return [
        ArticleLink(h.title, article_url(request, h.slug), h.language, h.snippet_html)
        for h in hits[:ARTICLES_LISTED]
    ]


def article_panel(request: HttpRequest, ticket: Ticket, q: str = "") -> dict[str, Any]:
    q = q.strip()[:200]
    return {
        "q": q,
        "links": article_links(request, ticket, q) if q else [],
        "language": reader_language(ticket),
        "open": bool(q),
    }
