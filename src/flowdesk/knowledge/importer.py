"""Import a knowledge base from YAML or JSON, all or nothing (``flowdesk kb import FILE``).

    categories:
      - {slug: account, name: Account access, position: 1, parent: null}
    articles:
      - slug: reset-password
        category: account
        visibility: public          # draft | internal | public (default: draft)
        position: 0
        translations:
          en: {title: Reset your password, body: "Markdown..."}
          fil: {title: Paano i-reset ang password, body: "..."}

Categories and articles are matched by slug: new ones are created, existing ones updated (the
translations a file names are replaced; others are kept). Every problem is reported with the
item and field (``articles[3] (reset-password).translations.fil.title: must not be blank``) and
then nothing is written.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import yaml
from django.db import transaction

from flowdesk.accounts.models import User
from flowdesk.accounts.services import clean_text, save_changed
from flowdesk.core.errors import FieldError, ValidationFailed
from flowdesk.knowledge.models import Article, Category, Visibility
from flowdesk.knowledge.services import (
    TranslationIn,
    clean_slug,
    clean_translation,
    clean_visibility,
    do_put_translation,
)


@dataclass
class ImportResult:
    categories_created: int = 0
    categories_updated: int = 0
    articles_created: int = 0
    articles_updated: int = 0
    translations: int = 0

    def summary(self) -> str:
        return (
            f"{self.categories_created} categories created, {self.categories_updated} updated; "
            f"{self.articles_created} articles created, {self.articles_updated} updated; "
            f"{self.translations} translations written"
        )


@dataclass
class _Plan:
    categories: list[dict[str, Any]] = field(default_factory=list)
    articles: list[dict[str, Any]] = field(default_factory=list)


def parse_kb(text: str, source: str = "input") -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ValidationFailed([FieldError(source, f"not YAML or JSON{where}")]) from None


def _list(errors: list[FieldError], data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        errors.append(FieldError(key, "must be a list"))
        return []
    return value


def _str(errors: list[FieldError], where: str, item: dict[str, Any], key: str) -> str:
    value = item.get(key)
    if not isinstance(value, str):
        errors.append(FieldError(f"{where}.{key}", "required text"))
        return ""
    return value


def _int(errors: list[FieldError], where: str, item: dict[str, Any], key: str) -> int:
    value = item.get(key, 0)
    if not isinstance(value, int) or isinstance(value, bool) or abs(value) > 1_000_000:
        errors.append(FieldError(f"{where}.{key}", "must be a whole number"))
        return 0
    return value


def _unknown_keys(
    errors: list[FieldError], where: str, item: dict[str, Any], known: set[str]
) -> None:
    for key in sorted(set(item) - known, key=str):
        errors.append(FieldError(f"{where}.{key}", "unknown field"))


def _mappings(
    errors: list[FieldError], items: list[Any], kind: str
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each mapping of a list with where it is (``articles[3] (reset-password)``)."""
    for i, item in enumerate(items):
        where = f"{kind}[{i}]"
        if not isinstance(item, dict):
            errors.append(FieldError(where, "must be a mapping"))
            continue
        slug = item.get("slug")
        yield (f"{where} ({slug})" if isinstance(slug, str) else where), item


def _check_categories(errors: list[FieldError], items: list[Any]) -> list[dict[str, Any]]:
    known = set(Category.objects.values_list("slug", flat=True))
    out: list[dict[str, Any]] = []
    for where, item in _mappings(errors, items, "categories"):
        _unknown_keys(errors, where, item, {"slug", "name", "position", "parent"})
        slug = clean_slug(errors, f"{where}.slug", _str(errors, where, item, "slug"), 100)
        name = clean_text(
            errors, f"{where}.name", _str(errors, where, item, "name"), max_length=200
        )
        parent = item.get("parent")
        if parent is not None and parent not in known:
            errors.append(FieldError(f"{where}.parent", f"no category {parent!r} above this one"))
        if slug in {c["slug"] for c in out}:
            errors.append(FieldError(f"{where}.slug", "appears twice"))
        known.add(slug)
        position = _int(errors, where, item, "position")
        out.append({"slug": slug, "name": name, "position": position, "parent": parent})
    return out


def _check_articles(
    errors: list[FieldError], items: list[Any], categories: set[str]
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for where, item in _mappings(errors, items, "articles"):
        known = {"slug", "category", "visibility", "position", "translations"}
        _unknown_keys(errors, where, item, known)
        slug = clean_slug(errors, f"{where}.slug", _str(errors, where, item, "slug"), 150)
        if slug in {a["slug"] for a in out}:
            errors.append(FieldError(f"{where}.slug", "appears twice"))
        category = _str(errors, where, item, "category")
        if category and category not in categories:
            errors.append(FieldError(f"{where}.category", f"no category {category!r}"))
        visibility = item.get("visibility", Visibility.DRAFT.value)
        visibility = clean_visibility(errors, f"{where}.visibility", str(visibility))
        translations = item.get("translations")
        cleaned: dict[str, TranslationIn] = {}
        if not isinstance(translations, dict) or not translations:
            errors.append(FieldError(f"{where}.translations", "needs at least one language"))
            translations = {}
        for lang, tr in translations.items():
            at = f"{where}.translations.{lang}"
            if not isinstance(tr, dict):
                errors.append(FieldError(at, "must be a mapping with title and body"))
                continue
            _unknown_keys(errors, at, tr, {"title", "body"})
            body = tr.get("body", "")
            if not isinstance(body, str):
                errors.append(FieldError(f"{at}.body", "must be text"))
                body = ""
            item_in = TranslationIn(_str(errors, at, tr, "title"), body)
            cleaned[str(lang)] = clean_translation(errors, at, str(lang), item_in)
        out.append(
            {
                "slug": slug,
                "category": category,
                "visibility": visibility,
                "position": _int(errors, where, item, "position"),
                "translations": cleaned,
            }
        )
    return out


def check_import_kb(
    data: Any, *, author: User | None, now: datetime, source: str = "input"
) -> ImportResult:
    errors: list[FieldError] = []
    if not isinstance(data, dict):
        raise ValidationFailed([FieldError(source, "must be a mapping with categories, articles")])
    _unknown_keys(errors, source, data, {"categories", "articles"})
    plan = _Plan()
    plan.categories = _check_categories(errors, _list(errors, data, "categories"))
    slugs = {c["slug"] for c in plan.categories} | set(
        Category.objects.values_list("slug", flat=True)
    )
    plan.articles = _check_articles(errors, _list(errors, data, "articles"), slugs)
    if errors:
        raise ValidationFailed(errors)
    return _write(plan, author, now)


def _write(plan: _Plan, author: User | None, now: datetime) -> ImportResult:
    result = ImportResult()
    with transaction.atomic():
        categories = {c.slug: c for c in Category.objects.all()}
        for c in plan.categories:
            values = {
                "name": c["name"],
                "position": c["position"],
                "parent": categories.get(c["parent"]) if c["parent"] else None,
            }
            found = categories.get(c["slug"])
            if found is None:
                categories[c["slug"]] = Category.objects.create(slug=c["slug"], **values)
                result.categories_created += 1
            else:
                save_changed(found, values)
                result.categories_updated += 1
        articles = {
            a.slug: a for a in Article.objects.filter(slug__in=[a["slug"] for a in plan.articles])
        }
        for a in plan.articles:
            values = {
                "category": categories[a["category"]],
                "visibility": a["visibility"],
                "position": a["position"],
                "updated_by": author,
                "updated_at": now,
            }
            article = articles.get(a["slug"])
            if article is None:
                article = Article.objects.create(
                    slug=a["slug"], created_by=author, created_at=now, **values
                )
                result.articles_created += 1
            else:
                save_changed(article, values)
                result.articles_updated += 1
            for lang, tr in a["translations"].items():
                do_put_translation(article, lang, tr, now)
                result.translations += 1
    return result
