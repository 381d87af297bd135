"""Full-text search of the knowledge base behind one function, ``search()``, on SQLite (FTS5)
and PostgreSQL (text search on a generated ``tsvector``), with the same semantics on both:

- the indexed text and the query are folded in Python (flowdesk.knowledge.text), so "cafe"
  finds "café" and case never matters, and no stemmer is involved (Filipino works);
- every query word is a prefix ("pass" finds "password"); ``match="all"`` needs every word,
  ``match="any"`` at least one (the new-ticket suggestions, where a subject is a sentence);
- with ``all``, translations whose title holds every word come first, then by the database's
  relevance rank (bm25 on SQLite, ts_rank on PostgreSQL; the title weighs more than the body in
  both); with ``any``, by that rank alone, so matching more of the words counts;
- only the articles the reader may see are searched (flowdesk.knowledge.selectors).

The index lives beside ``ArticleTranslation``: on SQLite a virtual table kept by triggers, on
PostgreSQL a generated column with a GIN index (both made by migration 0002).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from django.db import connection

from flowdesk.accounts.models import User
from flowdesk.knowledge.models import ArticleTranslation
from flowdesk.knowledge.selectors import articles_for, published_for
from flowdesk.knowledge.text import fold_char, html_to_text, words

Match = Literal["all", "any"]
MAX_TERMS = 16
MAX_TERM_CHARS = 64
SNIPPET_CHARS = 180
#: ts_rank weights of D, C, B (body), A (title): a title word counts ten times, as in bm25 below.
WEIGHTS = [0.1, 0.1, 0.1, 1.0]
_RUNS = re.compile(r"[\x00-\x7f]+|[^\x00-\x7f]+")


@dataclass(frozen=True)
class Hit:
    article_id: int
    slug: str
    language: str
    title: str
    title_html: str  # the title, HTML-escaped, matches in <mark>
    snippet_html: str  # a passage of the body, HTML-escaped, matches in <mark>
    title_match: bool
    rank: float


@dataclass(frozen=True)
class Ranked:
    translation_id: int
    title_match: bool
    rank: float  # larger is better


Backend = Callable[[list[str], Match, str, list[object], int], list[Ranked]]


def query_terms(query: str, match: Match) -> list[str]:
    """The folded, distinct words of a query. For ``any`` one- and two-letter words are dropped
    (as prefixes they match nearly everything) unless nothing else is left."""
    terms = list(dict.fromkeys(w[:MAX_TERM_CHARS] for w in words(query)))
    if match == "any":
        terms = [t for t in terms if len(t) > 2] or terms
    return terms[:MAX_TERMS]


def _sqlite(
    terms: list[str], match: Match, scope: str, params: list[Any], limit: int
) -> list[Ranked]:
    # ``+f.rowid``: without the plus SQLite hands the scope's ids to FTS5 as rowid lookups, one
    # MATCH per readable translation (50x slower at 300 articles: bench/kb_search_bench.py).
    joiner = " AND " if match == "all" else " OR "
    expr = joiner.join(f'"{t}"*' for t in terms)
    sql = f"""
        SELECT f.rowid,
               f.rowid IN (SELECT rowid FROM knowledge_fts WHERE knowledge_fts MATCH %s) AS t,
               bm25(knowledge_fts, 10.0, 1.0) AS r
        FROM knowledge_fts f
        WHERE knowledge_fts MATCH %s AND +f.rowid IN ({scope})
        ORDER BY {"t DESC, " if match == "all" else ""}r ASC, f.rowid ASC
        LIMIT %s"""
    with connection.cursor() as cursor:
        cursor.execute(sql, [f"title : ({expr})", expr, *params, limit])
        return [Ranked(row[0], bool(row[1]), -float(row[2])) for row in cursor.fetchall()]


def _postgresql(
    terms: list[str], match: Match, scope: str, params: list[Any], limit: int
) -> list[Ranked]:
    joiner = " & " if match == "all" else " | "
    expr = joiner.join(f"{t}:*" for t in terms)
    title_expr = joiner.join(f"{t}:*A" for t in terms)
    sql = f"""
        SELECT t.id, t.search_vector @@ to_tsquery('simple', %s) AS tm,
               ts_rank(%s::float4[], t.search_vector, q) AS r
        FROM knowledge_articletranslation t, to_tsquery('simple', %s) q
        WHERE t.search_vector @@ q AND t.id IN ({scope})
        ORDER BY {"tm DESC, " if match == "all" else ""}r DESC, t.id ASC
        LIMIT %s"""
    with connection.cursor() as cursor:
        cursor.execute(sql, [title_expr, WEIGHTS, expr, *params, limit])
        return [Ranked(row[0], bool(row[1]), float(row[2])) for row in cursor.fetchall()]


BACKENDS: dict[str, Backend] = {"sqlite": _sqlite, "postgresql": _postgresql}


def search(
    query: str,
    *,
    user: User | None,
    language: str | None = None,
    limit: int = 20,
    match: Match = "all",
    drafts: bool = True,
) -> list[Hit]:
    """The best ``limit`` translations for ``query`` that ``user`` may read (one per article
    when no language is asked for: its best-ranked language). ``drafts=False``: published
    articles only, whoever reads (the portal's help center never shows a draft)."""
    terms = query_terms(query, match)
    if not terms:
        return []
    readable = articles_for(user) if drafts else published_for(user)
    scope_qs = ArticleTranslation.objects.filter(article__in=readable.values("pk"))
    if language is not None:
        scope_qs = scope_qs.filter(language=language)
    scope, params = scope_qs.values("pk").query.sql_with_params()
    ranked = BACKENDS[connection.vendor](terms, match, scope, list(params), limit * 3)
    shown = ("id", "language", "title", "body_html", "article__id", "article__slug")
    found = (
        ArticleTranslation.objects.select_related("article")
        .only(*shown)
        .in_bulk([r.translation_id for r in ranked])
    )
    hits: list[Hit] = []
    seen: set[int] = set()
    for r in ranked:
        tr = found.get(r.translation_id)
        if tr is None or tr.article_id in seen:
            continue
        seen.add(tr.article_id)
        body = html_to_text(tr.body_html)
        hits.append(
            Hit(
                article_id=tr.article_id,
                slug=tr.article.slug,
                language=tr.language,
                title=tr.title,
                title_html=highlight(tr.title, terms),
                snippet_html=highlight(body, terms, window=SNIPPET_CHARS),
                title_match=r.title_match,
                rank=r.rank,
            )
        )
        if len(hits) == limit:
            break
    return hits


# --- highlights ------------------------------------------------------------------------------


def _folded_with_offsets(text: str) -> tuple[str, list[int]]:
    """The folded text, and for each of its characters the index of the original one. Runs of
    ASCII (most text) fold by lower-casing, one character for one; only the rest goes through
    ``fold_char`` one character at a time."""
    out: list[str] = []
    origin: list[int] = []
    for run in _RUNS.finditer(text):
        start, chunk = run.start(), run.group()
        if chunk.isascii():
            out.append(chunk.lower())
            origin.extend(range(start, start + len(chunk)))
            continue
        for i, ch in enumerate(chunk, start):
            folded = fold_char(ch)
            out.append(folded)
            origin.extend([i] * len(folded))
    return "".join(out), origin


def _spans(text: str, terms: Sequence[str]) -> list[tuple[int, int]]:
    folded, origin = _folded_with_offsets(text)
    alternatives = "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True))
    pattern = re.compile(rf"(?<![^\W_])(?:{alternatives})[^\W_]*")
    return [(origin[m.start()], origin[m.end() - 1] + 1) for m in pattern.finditer(folded)]


def highlight(text: str, terms: Sequence[str], window: int | None = None) -> str:
    """``text`` HTML-escaped with the words that match a term in <mark>; with ``window``, only a
    passage of about that many characters around the first match (the start when none)."""
    spans = _spans(text, terms) if terms else []
    start, end = 0, len(text)
    if window is not None and len(text) > window:
        first = spans[0][0] if spans else 0
        start = max(0, first - window // 3)
        while 0 < start < first and not text[start - 1].isspace():
            start -= 1
        end = min(len(text), start + window)
        while end < len(text) and not text[end].isspace():
            end += 1
    parts: list[str] = ["…" if start > 0 else ""]
    at = start
    for s, e in spans:
        if s < at or e > end:
            continue
        parts += [html.escape(text[at:s]), "<mark>", html.escape(text[s:e]), "</mark>"]
        at = e
    parts += [html.escape(text[at:end]), "…" if end < len(text) else ""]
    return "".join(parts)
