"""Markdown to safe HTML, and the folded words search indexes and queries are made of.

Folding happens here, in Python, for both databases: the same words reach SQLite's FTS5 and
PostgreSQL's ``simple`` text search, so accents and case never decide a match there (no
``unaccent`` extension and no stemmer needed: Filipino works as well as English).
"""

from __future__ import annotations

import html
import re
import unicodedata
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt

#: Raw HTML in Markdown is shown as text, never passed on; nh3 then cleans what Markdown made.
_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
_TAGS = {
    "a", "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "code", "pre",
    "blockquote", "ul", "ol", "li", "table", "thead", "tbody", "tr", "th", "td", "img", "del",
}  # fmt: skip
_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "ol": {"start"}}
_WORD = re.compile(r"[^\W_]+")
_TAG = re.compile(r"<[^>]*>")
#: Tags inside a line of text: dropped without a space ("*Billing*." reads "Billing.").
_INLINE_TAG = re.compile(r"</?(?:a|strong|em|code|del)\b[^>]*>")


def render_markdown(text: str) -> str:
    """Sanitised HTML: only formatting tags, http(s)/mailto links with rel="noopener nofollow"."""
    rendered = _MARKDOWN.render(text)
    return nh3.clean(
        rendered,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener nofollow",
    )


def html_to_text(markup: str) -> str:
    return " ".join(html.unescape(_TAG.sub(" ", _INLINE_TAG.sub("", markup))).split())


@lru_cache(maxsize=4096)
def fold_char(ch: str) -> str:
    decomposed = unicodedata.normalize("NFKD", ch)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def fold(text: str) -> str:
    """Accents stripped (NFKD, combining marks dropped) and case folded: "Café" -> "cafe"."""
    return "".join(fold_char(ch) for ch in text)


def words(text: str) -> list[str]:
    """The folded words of a text: letters and digits; "i-reset" is "i", "reset"."""
    return _WORD.findall(fold(text))


def index_text(text: str) -> str:
    return " ".join(words(text))
