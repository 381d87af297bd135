"""The knowledge base: categories, articles and their translations, search, suggestions for the
new-ticket form, views, "was this helpful" votes and deflection stats (docs/knowledge.md).

Reading public articles needs no token (the portal shows them to signed-out visitors); a token,
when sent, must be valid and widens what is seen (agents: internal articles, admins and
authors: drafts). A hidden article answers 404 like a missing one. Writes need an agent token.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import ConfigDict, Field

from flowdesk.accounts.models import ApiToken, User
from flowdesk.api.auth import TokenAuth
from flowdesk.api.schemas import BODY_ERRORS, Limit, Offset, RequestIn, errors
from flowdesk.core.clock import utcnow
from flowdesk.core.errors import FieldError, NotFound, ValidationFailed
from flowdesk.knowledge import search as kb_search
from flowdesk.knowledge import services
from flowdesk.knowledge.models import Article, Category
from flowdesk.knowledge.selectors import access_article, articles_for, require_writer
from flowdesk.knowledge.services import TranslationIn
from flowdesk.knowledge.stats import (
    ArticleStats,
    VisitorStats,
    article_stats,
    deflection_window,
    visitor_stats,
)


class _Anonymous:
    """request.auth of a signed-out reader (truthy: ninja lets the request through)."""


ANONYMOUS = _Anonymous()
_TOKEN = TokenAuth()


def token_or_anonymous(request: HttpRequest) -> ApiToken | _Anonymous | None:
    """No Authorization header: a signed-out visitor. A header with a bad token: 401."""
    if "HTTP_AUTHORIZATION" not in request.META:
        return ANONYMOUS
    return _TOKEN(request)


PUBLIC = [token_or_anonymous]
router = Router(tags=["knowledge base"])


def reader(request: HttpRequest) -> User | None:
    auth = getattr(request, "auth", None)
    return auth.user if isinstance(auth, ApiToken) else None


def writer(request: HttpRequest) -> User:
    return require_writer(reader(request))


# --- schemas -------------------------------------------------------------------------------

Visibility = Literal["draft", "internal", "public"]
Slug = str


class CategoryIn(RequestIn):
    model_config = ConfigDict(extra="forbid")
    slug: Slug = Field(max_length=100, examples=["account"])
    name: str = Field(max_length=200, examples=["Account access"])
    position: int = Field(0, ge=-1_000_000, le=1_000_000)
    parent: Slug | None = Field(None, description="the slug of the parent category")


class CategoryPatch(RequestIn):
    model_config = ConfigDict(extra="forbid")
    slug: Slug | None = Field(None, max_length=100)
    name: str | None = Field(None, max_length=200)
    position: int | None = Field(None, ge=-1_000_000, le=1_000_000)
    parent: Slug | None = None


class CategoryOut(Schema):
    id: int
    slug: str
    name: str
    position: int
    parent: str | None


class TranslationBody(RequestIn):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(max_length=services.TITLE_MAX, examples=["How to reset your password"])
    body: str = Field(
        "", max_length=services.BODY_MAX, description="Markdown; raw HTML is shown as text"
    )


class ArticleIn(RequestIn):
    model_config = ConfigDict(extra="forbid")
    category: Slug
    slug: Slug = Field(max_length=150, examples=["reset-password"])
    visibility: Visibility = "draft"
    position: int = Field(0, ge=-1_000_000, le=1_000_000)
    translations: dict[str, TranslationBody] = Field(
        description="by language code (en, fil)", max_length=20
    )


class ArticlePatch(RequestIn):
    model_config = ConfigDict(extra="forbid")
    category: Slug | None = None
    slug: Slug | None = Field(None, max_length=150)
    visibility: Visibility | None = None
    position: int | None = Field(None, ge=-1_000_000, le=1_000_000)


class TranslationOut(Schema):
    language: str
    title: str
    body: str
    body_html: str = Field(description="the Markdown rendered and sanitised")
    updated_at: datetime


class ArticleOut(Schema):
    id: int
    slug: str
    category: str
    visibility: str
    position: int
    views: int
    helpful_yes: int
    helpful_no: int
    created_by: int | None = Field(description="a user id (agents only)")
    updated_by: int | None = Field(description="a user id (agents only)")
    created_at: datetime
    updated_at: datetime
    translations: list[TranslationOut]


class ArticlePage(Schema):
    count: int
    items: list[ArticleOut]


class ArticlesQuery(RequestIn):
    category: Slug | None = None
    visibility: Visibility | None = None
    lang: str | None = Field(None, max_length=10, description="only this language's text")
    limit: Limit = 50
    offset: Offset = 0


class LangQuery(RequestIn):
    lang: str | None = Field(None, max_length=10)


class SearchQuery(RequestIn):
    q: str = Field("", max_length=500, description="words; each is a prefix, all must match")
    lang: str | None = Field(None, max_length=10)
    limit: int = Field(20, ge=1, le=50)


class SuggestQuery(RequestIn):
    subject: str = Field("", max_length=500, description="the new ticket's subject so far")
    lang: str | None = Field(None, max_length=10)


class HitOut(Schema):
    article_id: int
    slug: str
    language: str
    title: str
    title_html: str = Field(description="escaped; matches in <mark>")
    snippet_html: str = Field(description="escaped passage of the body; matches in <mark>")
    title_match: bool
    rank: float


class SearchOut(Schema):
    query: str
    language: str | None
    count: int
    items: list[HitOut]


class VisitorIn(RequestIn):
    model_config = ConfigDict(extra="forbid")
    visitor: str | None = Field(
        None,
        min_length=1,
        max_length=80,
        description="the portal's session key; a signed-in reader defaults to their user",
    )


class VoteIn(VisitorIn):
    # Checked in the view, after the article: a hidden or missing article is 404 whatever the body.
    helpful: bool | None = Field(None, description="required: true (yes) or false (no)")


class VoteOut(Schema):
    counted: bool = Field(description="false: this voter had already voted")
    helpful_yes: int
    helpful_no: int


class StatsOut(Schema):
    window_minutes: int
    totals: dict[str, int]
    visitors: VisitorStats = Field(description="per visitor: deflected, filed or pending once")
    articles: list[ArticleStats]


# --- helpers -------------------------------------------------------------------------------


def category_out(c: Category) -> dict[str, Any]:
    parent = c.parent.slug if c.parent is not None else None
    return {"id": c.pk, "slug": c.slug, "name": c.name, "position": c.position, "parent": parent}


def article_out(a: Article, user: User | None, lang: str | None = None) -> dict[str, Any]:
    staff = user is not None and user.is_agent
    translations = [t for t in a.translations.all() if lang is None or t.language == lang]
    return {
        "id": a.pk,
        "slug": a.slug,
        "category": a.category.slug,
        "visibility": a.visibility,
        "position": a.position,
        "views": a.view_count,
        "helpful_yes": a.helpful_yes,
        "helpful_no": a.helpful_no,
        "created_by": a.created_by_id if staff else None,
        "updated_by": a.updated_by_id if staff else None,
        "created_at": a.created_at,
        "updated_at": a.updated_at,
        "translations": sorted(translations, key=lambda t: t.language),
    }


def _category(slug: str) -> Category:
    found = Category.objects.select_related("parent").filter(slug=slug).first()
    if found is None:
        raise NotFound(f"no category {slug}")
    return found


def _language(lang: str | None, field: str = "lang") -> str | None:
    if lang is not None and lang not in services.languages():
        raise ValidationFailed(
            [FieldError(field, f"unknown language; one of {', '.join(services.languages())}")]
        )
    return lang


def _visitor(request: HttpRequest, given: str | None) -> str:
    user = reader(request)
    if given is not None:
        return f"v:{given}"
    if user is None:
        raise ValidationFailed([FieldError("visitor", "required without a token")])
    return f"user:{user.pk}"


def _reload(article: Article, user: User | None) -> dict[str, Any]:
    return article_out(access_article(user, article.pk), user)


# --- categories ------------------------------------------------------------------------------


@router.get("/categories", auth=PUBLIC, response={200: list[CategoryOut], **errors(401)})
def list_categories(request: HttpRequest) -> Any:
    return [category_out(c) for c in Category.objects.select_related("parent")]


@router.post(
    "/categories",
    response={201: CategoryOut, **errors(401, 403, 409, *BODY_ERRORS)},
    summary="Create a category (agents)",
)
def create_category(request: HttpRequest, payload: CategoryIn) -> Status[Any]:
    writer(request)
    c = services.check_create_category(payload.slug, payload.name, payload.position, payload.parent)
    return Status(201, category_out(c))


@router.patch(
    "/categories/{slug}", response={200: CategoryOut, **errors(401, 403, 404, 409, *BODY_ERRORS)}
)
def update_category(request: HttpRequest, slug: str, payload: CategoryPatch) -> Any:
    writer(request)
    c = services.check_update_category(_category(slug), payload.model_dump(exclude_unset=True))
    return category_out(c)


@router.delete("/categories/{slug}", response={204: None, **errors(401, 403, 404, 409, 422)})
def delete_category(request: HttpRequest, slug: str) -> Status[None]:
    writer(request)
    services.check_delete_category(_category(slug))
    return Status(204, None)


# --- articles --------------------------------------------------------------------------------


@router.get("/articles", auth=PUBLIC, response={200: ArticlePage, **errors(401, 422)})
def list_articles(request: HttpRequest, query: Query[ArticlesQuery]) -> Any:
    user = reader(request)
    lang = _language(query.lang)
    qs = articles_for(user).select_related("category").prefetch_related("translations")
    if query.category is not None:
        qs = qs.filter(category__slug=query.category)
    if query.visibility is not None:
        qs = qs.filter(visibility=query.visibility)
    page = qs.order_by("category__position", "category__slug", "position", "slug")
    items = [article_out(a, user, lang) for a in page[query.offset : query.offset + query.limit]]
    return {"count": qs.count(), "items": items}


@router.post(
    "/articles",
    response={201: ArticleOut, **errors(401, 403, 409, *BODY_ERRORS)},
    summary="Create an article with its translations (agents)",
)
def create_article(request: HttpRequest, payload: ArticleIn) -> Status[Any]:
    user = writer(request)
    article = services.check_create_article(
        user,
        category=payload.category,
        slug=payload.slug,
        visibility=payload.visibility,
        position=payload.position,
        translations={k: TranslationIn(v.title, v.body) for k, v in payload.translations.items()},
        now=utcnow(),
    )
    return Status(201, _reload(article, user))


@router.get("/articles/{ref}", auth=PUBLIC, response={200: ArticleOut, **errors(401, 404, 422)})
def get_article(request: HttpRequest, ref: str, query: Query[LangQuery]) -> Any:
    user = reader(request)
    return article_out(access_article(user, ref), user, _language(query.lang))


@router.patch(
    "/articles/{ref}", response={200: ArticleOut, **errors(401, 403, 404, 409, *BODY_ERRORS)}
)
def update_article(request: HttpRequest, ref: str, payload: ArticlePatch) -> Any:
    user = writer(request)
    article = access_article(user, ref)
    changes = payload.model_dump(exclude_unset=True)
    services.check_update_article(user, article, changes, utcnow())
    return _reload(article, user)


@router.delete("/articles/{ref}", response={204: None, **errors(401, 403, 404, 422)})
def delete_article(request: HttpRequest, ref: str) -> Status[None]:
    user = writer(request)
    services.do_delete_article(access_article(user, ref))
    return Status(204, None)


@router.put(
    "/articles/{ref}/translations/{lang}",
    response={200: ArticleOut, **errors(401, 403, 404, *BODY_ERRORS)},
    summary="Create or replace one language of an article (agents)",
)
def put_translation(request: HttpRequest, ref: str, lang: str, payload: TranslationBody) -> Any:
    user = writer(request)
    article = access_article(user, ref)
    item = TranslationIn(payload.title, payload.body)
    services.check_put_translation(user, article, lang, item, utcnow())
    return _reload(article, user)


@router.delete(
    "/articles/{ref}/translations/{lang}", response={204: None, **errors(401, 403, 404, 422)}
)
def delete_translation(request: HttpRequest, ref: str, lang: str) -> Status[None]:
    user = writer(request)
    if not services.check_delete_translation(user, access_article(user, ref), lang, utcnow()):
        raise NotFound(f"no {lang} translation")
    return Status(204, None)


# --- readers ---------------------------------------------------------------------------------


@router.post(
    "/articles/{ref}/view",
    auth=PUBLIC,
    response={204: None, **errors(401, 404, *BODY_ERRORS)},
    summary="Record that a visitor opened the article (a view; the start of a deflection)",
)
def record_view(request: HttpRequest, ref: str, payload: VisitorIn) -> Status[None]:
    article = access_article(reader(request), ref)
    services.do_record_view(article, _visitor(request, payload.visitor), utcnow())
    return Status(204, None)


@router.post(
    "/articles/{ref}/helpful",
    auth=PUBLIC,
    response={200: VoteOut, **errors(401, 404, *BODY_ERRORS)},
    summary="Was this helpful? One vote per voter; a repeat is not counted",
)
def vote(request: HttpRequest, ref: str, payload: VoteIn) -> Any:
    article = access_article(reader(request), ref)
    if payload.helpful is None:
        raise ValidationFailed([FieldError("helpful", "required: true or false")])
    voter = _visitor(request, payload.visitor)
    counted = services.do_vote(article, voter, payload.helpful, utcnow())
    article.refresh_from_db(fields=["helpful_yes", "helpful_no"])
    return {
        "counted": counted,
        "helpful_yes": article.helpful_yes,
        "helpful_no": article.helpful_no,
    }


@router.post(
    "/ticket-filed",
    response={204: None, **errors(401, *BODY_ERRORS)},
    summary="Record that a visitor filed a ticket (their recent views were not deflected)",
)
def ticket_filed(request: HttpRequest, payload: VisitorIn) -> Status[None]:
    services.record_ticket_filed(_visitor(request, payload.visitor), utcnow())
    return Status(204, None)


@router.get("/search", auth=PUBLIC, response={200: SearchOut, **errors(401, 422)})
def search(request: HttpRequest, query: Query[SearchQuery]) -> Any:
    lang = _language(query.lang)
    hits = kb_search.search(query.q, user=reader(request), language=lang, limit=query.limit)
    return {"query": query.q, "language": lang, "count": len(hits), "items": hits}


@router.get(
    "/suggest",
    auth=PUBLIC,
    response={200: SearchOut, **errors(401, 422)},
    summary="Up to 5 public articles for a new ticket's subject (the portal's form)",
)
def suggest(request: HttpRequest, query: Query[SuggestQuery]) -> Any:
    lang = _language(query.lang)
    hits = kb_search.search(query.subject, user=None, language=lang, limit=5, match="any")
    return {"query": query.subject, "language": lang, "count": len(hits), "items": hits}


@router.get("/stats", response={200: StatsOut, **errors(401, 403)})
def stats(request: HttpRequest) -> Any:
    user = writer(request)
    now = utcnow()
    rows = article_stats(articles_for(user), now)
    keys = ("views", "helpful_yes", "helpful_no", "deflected", "led_to_ticket", "pending")
    totals = {k: sum(getattr(r, k) for r in rows) for k in keys}
    window = int(deflection_window().total_seconds() // 60)
    visitors = visitor_stats(articles_for(user), now)
    return {"window_minutes": window, "totals": totals, "visitors": visitors, "articles": rows}
