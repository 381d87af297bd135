"""The help center: the knowledge base's published articles, for everyone (no sign-in needed).

Signed-out visitors and customers read public articles; signed-in agents also internal ones;
drafts are never shown here (``knowledge.selectors.published_for``). An unknown or hidden
category or article is the portal's 404 page. Writes (a view, a "Was this helpful?" vote) go
through the knowledge services; who the visitor is comes from ``portal.visitors``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.paginator import Paginator
from django.db.models import Count, Prefetch, Q
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.translation import get_language
from django.views.decorators.http import require_POST, require_safe

from flowdesk.accounts.models import User
from flowdesk.core.clock import utcnow
from flowdesk.core.errors import NotFound
from flowdesk.knowledge import services
from flowdesk.knowledge.models import ArticleTranslation, Category
from flowdesk.knowledge.search import search as kb_search
from flowdesk.knowledge.selectors import (
    access_category,
    access_published_article,
    pick_translation,
    published_for,
    vote_of,
)
from flowdesk.portal.visitors import established_visitor, visitor_key, voter_key

PAGE_SIZE = 20
SEARCH_PAGE_SIZE = 10
SEARCH_MAX_RESULTS = 100
HOME_ARTICLES = 5
LANGUAGE_NAMES = {"en": "English", "fil": "Filipino"}


def _reader(request: HttpRequest) -> User | None:
    user = request.user
    return user if isinstance(user, User) and user.is_authenticated else None


def _language(request: HttpRequest) -> str:
    asked = request.GET.get("lang", "")
    if asked in services.languages():
        return asked
    current = get_language() or "en"
    return current if current in services.languages() else "en"


def _page(request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    response = render(request, template, context)
    # What is shown depends on who reads (agents see internal articles): never a shared cache.
    patch_cache_control(response, private=True, no_cache=True)
    return response


def help_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A missing or hidden category or article is the help center's 404 page. (Each page gives
    the visitor a session: see portal.visitors.)"""

    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except NotFound:
            return render(request, "portal/not_found.html", {"help": True}, status=404)

    wrapper.__name__ = view.__name__
    wrapper.__doc__ = view.__doc__
    return wrapper


def _titled(articles: Any, language: str) -> list[dict[str, Any]]:
    """Articles with the title in the reader's language (else English)."""
    out = []
    for a in articles:
        tr = pick_translation(list(a.translations.all()), language)
        if tr is not None:
            out.append({"article": a, "title": tr.title})
    return out


def _with_translations(qs: Any) -> Any:
    only = ArticleTranslation.objects.only("id", "article_id", "language", "title")
    return qs.prefetch_related(Prefetch("translations", queryset=only))


@require_safe
@help_view
def home(request: HttpRequest) -> HttpResponse:
    """The categories that hold an article the reader may see, with their first articles."""
    visitor_key(request)
    readable = published_for(_reader(request))
    language = _language(request)
    count = Count("articles", filter=Q(articles__in=readable.values("pk")))
    categories = Category.objects.annotate(shown=count).order_by("position", "slug")
    sections = []
    for c in categories:
        if not c.shown:
            continue
        first = _with_translations(readable.filter(category=c))[:HOME_ARTICLES]
        sections.append({"category": c, "count": c.shown, "articles": _titled(first, language)})
    return _page(request, "portal/help/home.html", {"sections": sections})


@require_safe
@help_view
def category(request: HttpRequest, slug: str) -> HttpResponse:
    visitor_key(request)
    found = access_category(slug)
    readable = _with_translations(published_for(_reader(request)).filter(category=found))
    page = Paginator(readable.order_by("position", "slug"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    context = {
        "category": found,
        "page": page,
        "articles": _titled(page.object_list, _language(request)),
        "children": found.children.order_by("position", "slug"),
    }
    return _page(request, "portal/help/category.html", context)


def _counts_views(user: User | None) -> bool:
    """Agents reading the help center are not the visitors deflection is about."""
    return user is None or not user.is_agent


@require_safe
@help_view
def article(request: HttpRequest, slug: str) -> HttpResponse:
    user = _reader(request)
    established = established_visitor(request)  # before anything else gives it a visitor
    found = access_published_article(user, slug)
    translations = list(found.translations.all())
    language = _language(request)
    shown = pick_translation(translations, language)
    if shown is None:
        raise NotFound(f"no text for {slug}")
    if request.method == "GET" and established is not None and _counts_views(user):
        services.do_record_view(found, established, utcnow())
    others = [
        {"code": t.language, "name": LANGUAGE_NAMES.get(t.language, t.language)}
        for t in sorted(translations, key=lambda t: t.language)
        if t.language != shown.language
    ]
    context = {
        "article": found,
        "translation": shown,
        "fallback": shown.language != language,
        "others": others,
        "vote": vote_of(found, voter_key(request)),
        "counted": request.GET.get("voted") == "1",
    }
    return _page(request, "portal/help/article.html", context)


@require_POST
@help_view
def vote(request: HttpRequest, slug: str) -> HttpResponse:
    """ "Was this helpful?": a plain form POST (CSRF-checked) that works without JavaScript (then
    back to the article), enhanced by htmx (then only the answer's box is swapped)."""
    found = access_published_article(_reader(request), slug)
    answer = request.POST.get("helpful")
    if answer not in ("yes", "no"):
        return HttpResponseBadRequest("helpful must be yes or no")
    key = voter_key(request)
    counted = services.do_vote(found, key, answer == "yes", utcnow())
    if request.headers.get("HX-Request"):
        context = {"article": found, "vote": vote_of(found, key), "counted": counted}
        return render(request, "portal/help/_helpful.html", context)
    url = reverse("portal:help_article", args=[found.slug])
    lang = request.POST.get("lang", "")
    query = f"?lang={lang}&voted=1" if lang in services.languages() else "?voted=1"
    return HttpResponseRedirect(f"{url}{query}#helpful")


@require_safe
@help_view
def search(request: HttpRequest) -> HttpResponse:
    """Ranked results with highlighted passages (accent- and case-insensitive, every word a
    prefix: knowledge.search), in any language, each article once in its best-matching one."""
    visitor_key(request)
    query = request.GET.get("q", "")[:200].strip()
    hits = (
        kb_search(query, user=_reader(request), limit=SEARCH_MAX_RESULTS, drafts=False)
        if query
        else []
    )
    page = Paginator(hits, SEARCH_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"query": query, "page": page, "count": len(hits), "max": SEARCH_MAX_RESULTS}
    return _page(request, "portal/help/search.html", context)
