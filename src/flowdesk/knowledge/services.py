"""The writers of the knowledge base. ``check_*`` validate (naming every bad field) and write in
one transaction; ``do_*`` write. Counters use F() so concurrent readers never lose a view or vote.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F

from flowdesk.accounts.models import User
from flowdesk.accounts.services import clean_text, save_changed, unique_or_conflict
from flowdesk.core.errors import Conflict, FieldError, ValidationFailed
from flowdesk.knowledge.models import (
    Article,
    ArticleTranslation,
    ArticleView,
    Category,
    HelpfulVote,
    TicketFiled,
    Visibility,
)
from flowdesk.knowledge.text import html_to_text, index_text, render_markdown

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
TITLE_MAX = 300
BODY_MAX = 200_000
VISIBILITIES = [v.value for v in Visibility]


def languages() -> list[str]:
    return list(settings.FLOWDESK_KB_LANGUAGES)


@dataclass(frozen=True)
class TranslationIn:
    title: str
    body: str


# --- validation shared by the API and the import ---------------------------------------------


def clean_slug(errors: list[FieldError], field: str, value: str, max_length: int) -> str:
    slug = value.strip()
    if not SLUG.match(slug):
        errors.append(FieldError(field, "must be lowercase letters, digits and single hyphens"))
    elif len(slug) > max_length:
        errors.append(FieldError(field, f"must be at most {max_length} characters"))
    return slug


def clean_visibility(errors: list[FieldError], field: str, value: str) -> str:
    if value not in VISIBILITIES:
        errors.append(FieldError(field, f"must be one of {', '.join(VISIBILITIES)}"))
    return value


def clean_translation(
    errors: list[FieldError], prefix: str, language: str, item: TranslationIn
) -> TranslationIn:
    if language not in languages():
        errors.append(FieldError(prefix, f"unknown language; one of {', '.join(languages())}"))
    title = clean_text(errors, f"{prefix}.title", item.title, max_length=TITLE_MAX)
    body = clean_text(errors, f"{prefix}.body", item.body, max_length=BODY_MAX, required=False)
    return TranslationIn(title, body)


def find_category(errors: list[FieldError], field: str, slug: str | None) -> Category | None:
    if slug is None:
        return None
    found = Category.objects.filter(slug=slug).first()
    if found is None:
        errors.append(FieldError(field, f"no category {slug!r}"))
    return found


def _raise(errors: list[FieldError]) -> None:
    if errors:
        raise ValidationFailed(errors)


# --- categories ------------------------------------------------------------------------------


def check_create_category(slug: str, name: str, position: int, parent: str | None) -> Category:
    errors: list[FieldError] = []
    slug = clean_slug(errors, "slug", slug, 100)
    name = clean_text(errors, "name", name, max_length=200)
    parent_obj = find_category(errors, "parent", parent)
    _raise(errors)
    with unique_or_conflict(f"a category {slug!r} exists"):
        return Category.objects.create(slug=slug, name=name, position=position, parent=parent_obj)


def check_update_category(category: Category, changes: dict[str, object]) -> Category:
    errors: list[FieldError] = []
    values: dict[str, object] = {}
    if isinstance(slug := changes.get("slug"), str):
        values["slug"] = clean_slug(errors, "slug", slug, 100)
    if isinstance(name := changes.get("name"), str):
        values["name"] = clean_text(errors, "name", name, max_length=200)
    if isinstance(position := changes.get("position"), int):
        values["position"] = position
    if "parent" in changes:
        parent = changes["parent"]
        parent_obj = find_category(errors, "parent", parent if isinstance(parent, str) else None)
        ancestor = parent_obj
        while ancestor is not None:  # a category cannot sit below itself
            if ancestor.pk == category.pk:
                errors.append(FieldError("parent", "would make a cycle"))
                break
            ancestor = ancestor.parent
        values["parent"] = parent_obj
    _raise(errors)
    with unique_or_conflict(f"a category {values.get('slug')!r} exists"):
        save_changed(category, values)
    return category


def check_delete_category(category: Category) -> None:
    if category.articles.exists() or category.children.exists():
        raise Conflict(f"category {category.slug!r} still holds articles or categories")
    category.delete()


# --- articles and translations ---------------------------------------------------------------


def do_put_translation(
    article: Article, language: str, item: TranslationIn, now: datetime
) -> ArticleTranslation:
    """Create or replace one language: the HTML and the search words are derived here, once."""
    body_html = render_markdown(item.body)
    values = {
        "title": item.title,
        "body": item.body,
        "body_html": body_html,
        "search_title": index_text(item.title),
        "search_body": index_text(html_to_text(body_html)),
        "updated_at": now,
    }
    found = ArticleTranslation.objects.filter(article=article, language=language).first()
    if found is None:
        return ArticleTranslation.objects.create(article=article, language=language, **values)
    save_changed(found, values)
    return found


def _touch(article: Article, user: User | None, now: datetime) -> None:
    save_changed(article, {"updated_by": user, "updated_at": now})


def check_create_article(
    user: User,
    *,
    category: str,
    slug: str,
    visibility: str,
    position: int,
    translations: dict[str, TranslationIn],
    now: datetime,
) -> Article:
    errors: list[FieldError] = []
    slug = clean_slug(errors, "slug", slug, 150)
    visibility = clean_visibility(errors, "visibility", visibility)
    category_obj = find_category(errors, "category", category)
    if not translations:
        errors.append(FieldError("translations", "needs at least one language"))
    cleaned = {
        lang: clean_translation(errors, f"translations.{lang}", lang, item)
        for lang, item in translations.items()
    }
    _raise(errors)
    assert category_obj is not None  # else find_category() named the field
    with transaction.atomic(), unique_or_conflict(f"an article {slug!r} exists"):
        article = Article.objects.create(
            category=category_obj,
            slug=slug,
            visibility=visibility,
            position=position,
            created_by=user,
            updated_by=user,
            created_at=now,
            updated_at=now,
        )
        for lang, item in cleaned.items():
            do_put_translation(article, lang, item, now)
    return article


def check_update_article(
    user: User, article: Article, changes: dict[str, object], now: datetime
) -> Article:
    errors: list[FieldError] = []
    values: dict[str, object] = {}
    if isinstance(slug := changes.get("slug"), str):
        values["slug"] = clean_slug(errors, "slug", slug, 150)
    if isinstance(visibility := changes.get("visibility"), str):
        values["visibility"] = clean_visibility(errors, "visibility", visibility)
    if isinstance(category := changes.get("category"), str):
        values["category"] = find_category(errors, "category", category)
    if isinstance(position := changes.get("position"), int):
        values["position"] = position
    _raise(errors)
    with transaction.atomic(), unique_or_conflict(f"an article {values.get('slug')!r} exists"):
        save_changed(article, {**values, "updated_by": user, "updated_at": now})
    return article


def check_put_translation(
    user: User, article: Article, language: str, item: TranslationIn, now: datetime
) -> ArticleTranslation:
    errors: list[FieldError] = []
    item = clean_translation(errors, "language", language, item)
    _raise(errors)
    with transaction.atomic():
        found = do_put_translation(article, language, item, now)
        _touch(article, user, now)
    return found


def check_delete_translation(user: User, article: Article, language: str, now: datetime) -> bool:
    with transaction.atomic():
        deleted, _ = ArticleTranslation.objects.filter(article=article, language=language).delete()
        if deleted:
            _touch(article, user, now)
    return bool(deleted)


def do_delete_article(article: Article) -> None:
    article.delete()


# --- readers' signals: views, votes, tickets filed -------------------------------------------


def do_record_view(article: Article, visitor_key: str, now: datetime) -> bool:
    """Counts the view unless this visitor already opened the article (then False): the unique
    row is the guard, so two requests at once count once."""
    if ArticleView.objects.filter(article=article, visitor_key=visitor_key).exists():
        return False
    with transaction.atomic():
        try:
            with transaction.atomic():
                ArticleView.objects.create(article=article, visitor_key=visitor_key, opened_at=now)
        except IntegrityError:
            return False
        Article.objects.filter(pk=article.pk).update(view_count=F("view_count") + 1)
    return True


def do_vote(article: Article, voter_key: str, helpful: bool, now: datetime) -> bool:
    """Counts the vote unless this voter already voted on the article (then False)."""
    with transaction.atomic():
        try:
            with transaction.atomic():
                HelpfulVote.objects.create(
                    article=article, voter_key=voter_key, helpful=helpful, created_at=now
                )
        except IntegrityError:
            return False
        counter = "helpful_yes" if helpful else "helpful_no"
        Article.objects.filter(pk=article.pk).update(**{counter: F(counter) + 1})
    return True


def record_ticket_filed(visitor_key: str, now: datetime) -> None:
    """The portal (or any channel that knows the visitor) calls this when a ticket is filed: the
    visitor's article views in the window before it were not deflections."""
    TicketFiled.objects.create(visitor_key=visitor_key, filed_at=now)
