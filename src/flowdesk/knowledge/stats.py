"""Views, helpful votes and deflections per article.

Deflection: a view (an article opened by a visitor) is *deflected* when no ticket was filed by
the same visitor within ``KB_DEFLECTION_MINUTES`` after it, and that window has passed; a view
whose window is still open is *pending*; one followed by a ticket in the window *led to a
ticket*. Every view counts on its own (a visitor who read three articles and filed nothing
deflected three times).
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


def article_stats(articles: QuerySet[Article], now: datetime) -> list[ArticleStats]:
    window = deflection_window()
    filed = TicketFiled.objects.filter(
        visitor_key=OuterRef("visitor_key"),
        filed_at__gte=OuterRef("opened_at"),
        filed_at__lte=OuterRef("opened_at") + window,
    )
    closed = Q(opened_at__lte=now - window)
    counts = {
        row["article_id"]: row
        for row in ArticleView.objects.filter(article__in=articles.values("pk"))
        .annotate(filed=Exists(filed))
        .values("article_id")
        .annotate(
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
