"""Who sees which articles: the only permission-checked loaders of the knowledge base.

Signed-out visitors and customers see public articles; agents also internal ones; drafts are
seen by admins and by their author. A hidden article is answered like a missing one (404), so
its existence does not leak.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from flowdesk.accounts.models import User
from flowdesk.core.errors import Forbidden, NotFound
from flowdesk.knowledge.models import Article, ArticleTranslation, Category, HelpfulVote, Visibility


def visible_q(user: User | None) -> Q:
    """The articles ``user`` (None: a signed-out visitor) may read."""
    if user is None or not user.is_agent:
        return Q(visibility=Visibility.PUBLIC)
    if user.is_admin:
        return Q()
    return Q(visibility__in=[Visibility.PUBLIC, Visibility.INTERNAL]) | Q(created_by=user)


def articles_for(user: User | None) -> QuerySet[Article]:
    return Article.objects.filter(visible_q(user))


def published_for(user: User | None) -> QuerySet[Article]:
    """What the portal's help center shows ``user``: never a draft, internal articles to agents
    only."""
    return articles_for(user).exclude(visibility=Visibility.DRAFT)


def access_published_article(user: User | None, slug: str) -> Article:
    """A help-center article by slug (drafts are missing here, whoever asks); else NotFound."""
    found = published_for(user).filter(slug=slug).select_related("category").first()
    if found is None:
        raise NotFound(f"no article {slug}")
    return found


def access_category(slug: str) -> Category:
    found = Category.objects.filter(slug=slug).select_related("parent").first()
    if found is None:
        raise NotFound(f"no category {slug}")
    return found


def pick_translation(
    translations: list[ArticleTranslation], language: str, fallback: str = "en"
) -> ArticleTranslation | None:
    """The translation in ``language``, else in ``fallback`` (English), else the first one."""
    by_language = {t.language: t for t in translations}
    found = by_language.get(language) or by_language.get(fallback)
    return found or (min(translations, key=lambda t: t.language) if translations else None)


def vote_of(article: Article, voter_key: str) -> bool | None:
    """How this voter answered "Was this helpful?" on the article (None: not yet)."""
    vote = HelpfulVote.objects.filter(article=article, voter_key=voter_key).first()
    return None if vote is None else vote.helpful


def access_article(user: User | None, ref: int | str) -> Article:
    """An article by id or slug, if ``user`` may read it; else NotFound."""
    lookup = Q(pk=ref) if isinstance(ref, int) or ref.isdigit() else Q(slug=ref)
    found = articles_for(user).filter(lookup).select_related("category").first()
    if found is None:
        raise NotFound(f"no article {ref}")
    return found


def require_writer(user: User | None) -> User:
    if user is None or not user.is_agent:
        raise Forbidden("this needs an agent or admin token")
    return user
