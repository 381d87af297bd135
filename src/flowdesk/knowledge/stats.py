"""Views, helpful votes and deflections, per article and per visitor (docs/knowledge.md).

A view is one visitor's first opening of an article (one row per article and visitor). Per
article, a view is *deflected* when no ticket was filed by the same visitor within
``KB_DEFLECTION_MINUTES`` after it and that window has passed; *pending* while its window is
open; *led to a ticket* when one was filed in the window. A visitor who read three articles and
filed nothing is a deflection of each of the three articles, but one deflected *visitor*: the
visitor totals count people's visits, not articles, so nothing is counted twice there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from flowdesk.knowledge.models import Article, ArticleView, TicketFiled


def deflection_window() -> timedelta:
    return timedelta(minutes=int(settings.FLOWDESK["KB_DEFLECTION_MINUTES"]))


@dataclass(frozen=True)
class ArticleStats:
    article_id: int
    slug: str
    views: int
    helpful_yes: int
    helpful_no: int
    deflected: int
    led_to_ticket: int
    pending: int


@dataclass(frozen=True)
class VisitorStats:
    visitors: int  # visitors who opened at least one of the articles
    deflected: int  # ... and filed no ticket within the window after any of their views
    filed: int  # ... and filed a ticket within the window after one of them (viewed, then filed)
    pending: int  # not filed yet, and a window still open


def _views(articles: QuerySet[Article], now: datetime) -> tuple[QuerySet[ArticleView], Q]:
    """The views of ``articles``, each annotated ``filed`` (a ticket by the same visitor in its
    window), and the condition "its window has passed"."""
    window = deflection_window()
    filed = TicketFiled.objects.filter(
        visitor_key=OuterRef("visitor_key"),
        filed_at__gte=OuterRef("opened_at"),
        filed_at__lte=OuterRef("opened_at") + window,
    )
    views = ArticleView.objects.filter(article__in=articles.values("pk"))
    return views.annotate(filed=Exists(filed)), Q(opened_at__lte=now - window)


def visitor_stats(articles: QuerySet[Article], now: datetime) -> VisitorStats:
    views, closed = _views(articles, now)
    rows = list(
        views.values("visitor_key").annotate(
            led=Count("pk", filter=Q(filed=True)), open=Count("pk", filter=~closed)
        )
    )
    filed = sum(1 for r in rows if r["led"])
    pending = sum(1 for r in rows if not r["led"] and r["open"])
    return VisitorStats(len(rows), len(rows) - filed - pending, filed, pending)


def article_stats(articles: QuerySet[Article], now: datetime) -> list[ArticleStats]:
    views, closed = _views(articles, now)
    counts = {
        row["article_id"]: row
        for row in views.values("article_id").annotate(
            deflected=Count("pk", filter=closed & Q(filed=False)),
            led=Count("pk", filter=Q(filed=True)),
            pending=Count("pk", filter=~closed & Q(filed=False)),
        )
    }
    out = []
    for a in articles.order_by("slug"):
        row = counts.get(a.pk, {})
        out.append(
            ArticleStats(
                article_id=a.pk,
                slug=a.slug,
                views=a.view_count,
                helpful_yes=a.helpful_yes,
                helpful_no=a.helpful_no,
                deflected=row.get("deflected", 0),
                led_to_ticket=row.get("led", 0),
                pending=row.get("pending", 0),
            )
        )
    return out
