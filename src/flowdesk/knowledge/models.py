"""Categories, articles and their translations, and what readers do with them (views, votes,
the tickets they file afterwards: deflection)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from flowdesk.core.clock import utcnow


class Visibility(models.TextChoices):
    DRAFT = "draft"  # admins and the article's author
    INTERNAL = "internal"  # agents and admins
    PUBLIC = "public"  # everyone, also signed-out portal visitors


class Category(models.Model):
    slug = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    position = models.IntegerField(default=0)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )

    class Meta:
        ordering = ["position", "slug"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.slug


class Article(models.Model):
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="articles")
    slug = models.SlugField(max_length=150, unique=True)
    visibility = models.CharField(
        max_length=10, choices=Visibility.choices, default=Visibility.DRAFT
    )
    position = models.IntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=utcnow)
    updated_at = models.DateTimeField(default=utcnow)
    # Counters, incremented with F() so concurrent readers never lose one.
    view_count = models.PositiveIntegerField(default=0)
    helpful_yes = models.PositiveIntegerField(default=0)
    helpful_no = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "slug"]
        indexes = [models.Index(fields=["visibility", "category"])]

    def __str__(self) -> str:
        return self.slug


class ArticleTranslation(models.Model):
    """One language of an article. ``body_html`` is the sanitised rendering of the Markdown
    ``body``; ``search_title``/``search_body`` are the accent-folded, case-folded words that the
    full-text index holds (flowdesk.knowledge.search)."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="translations")
    language = models.CharField(max_length=10)
    title = models.CharField(max_length=300)
    body = models.TextField()
    body_html = models.TextField()
    search_title = models.TextField()
    search_body = models.TextField()
    updated_at = models.DateTimeField(default=utcnow)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["article", "language"], name="kb_one_per_language")
        ]
        indexes = [models.Index(fields=["language"])]

    def __str__(self) -> str:
        return f"{self.article_id}:{self.language}"


class HelpfulVote(models.Model):
    """'Was this helpful?': one vote per article and voter (a user or a portal session key)."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="votes")
    voter_key = models.CharField(max_length=100)
    helpful = models.BooleanField()
    created_at = models.DateTimeField(default=utcnow)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["article", "voter_key"], name="kb_one_vote_per_voter")
        ]

    def __str__(self) -> str:
        return f"{self.article_id}:{self.voter_key}:{self.helpful}"


class ArticleView(models.Model):
    """An article opened by a visitor: the start of a possible deflection. One per article and
    visitor (a visitor is a portal session, or a user through the API): reloads, a second tab or
    a retried request add nothing, whatever the caller does."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="views")
    visitor_key = models.CharField(max_length=100)
    opened_at = models.DateTimeField(default=utcnow)

    class Meta:
        indexes = [models.Index(fields=["article", "opened_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["article", "visitor_key"], name="kb_one_view_per_visitor"
            )
        ]

    def __str__(self) -> str:
        return f"{self.article_id}:{self.visitor_key}@{self.opened_at}"


class TicketFiled(models.Model):
    """A visitor filed a ticket: views by the same visitor shortly before it were not deflected."""

    visitor_key = models.CharField(max_length=100)
    filed_at = models.DateTimeField(default=utcnow)

    class Meta:
        indexes = [models.Index(fields=["visitor_key", "filed_at"])]

    def __str__(self) -> str:
        return f"{self.visitor_key}@{self.filed_at}"
