"""HTML bodies: sanitising for display, conversion to text, and quote splitting.

* ``sanitize_html`` keeps the formatting tags nh3 allows, drops scripts, styles sheets, event
  handlers and everything that loads remote content when the mail is shown: an ``<img>`` keeps its
  ``src`` only for ``cid:`` (inline parts) and ``data:image/...``; links keep http(s)/mailto/tel
  and get ``rel="noopener noreferrer"``; inline ``style`` keeps a list of harmless properties.
* ``html_to_text`` renders with inscriptis (layout-aware: tables, lists, line breaks).
* ``split_html`` asks quotequail where the quoted part of the HTML starts, converts both sides to
  text, then runs the plain-text splitter over the visible side, which catches what quotequail does
  not mark (Outlook header blocks, attributions in many languages).
"""

from __future__ import annotations

import re
from html import unescape as html_unescape

import nh3
import quotequail
from inscriptis import get_text
from inscriptis.css_profiles import CSS_PROFILES
from inscriptis.model.config import ParserConfig

from flowdesk.mail.quotes import Fragment, Kind, Split, split_text

#: inscriptis draws nothing for <hr>; a text rule keeps "reply / rule / quoted headers" splittable
_HR_RE = re.compile(r"<hr\b[^>]*>", re.I)
_IMG_DATA_RE = re.compile(r"^data:image/(?:png|gif|jpe?g|webp|bmp);", re.I)
_STYLE_PROPERTIES = {
    "color",
    "background-color",
    "font-family",
    "font-size",
    "font-style",
    "font-weight",
    "text-align",
    "text-decoration",
    "text-indent",
    "vertical-align",
    "white-space",
    "line-height",
    "margin",
    "margin-left",
    "margin-right",
    "margin-top",
    "margin-bottom",
    "padding",
    "padding-left",
    "padding-right",
    "padding-top",
    "padding-bottom",
    "border",
    "border-left",
    "border-collapse",
    "width",
    "height",
    "direction",
}
_ATTRIBUTES: dict[str, set[str]] = {
    tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items() if tag != "img"
}
_ATTRIBUTES["img"] = {"src", "alt", "width", "height", "align", "title"}
_ATTRIBUTES["*"] = {"style", "dir", "lang", "title"}
for _cell in ("td", "th"):
    _ATTRIBUTES[_cell] = _ATTRIBUTES.get(_cell, set()) | {"colspan", "rowspan", "align", "valign"}
_ATTRIBUTES["table"] = _ATTRIBUTES.get("table", set()) | {"cellpadding", "cellspacing", "width"}
_ATTRIBUTES["font"] = {"color", "face", "size"}
_TAGS = set(nh3.ALLOWED_TAGS) | {"font"}
#: "strict" renders blocks without the indentation the relaxed profile adds to every <div>
_INSCRIPTIS = ParserConfig(css=CSS_PROFILES["strict"])
#: what a reply's HTML may hold before it is handed to quotequail; larger HTML is split as text
MAX_SPLIT_HTML_CHARS = 2_000_000
#: larger HTML is converted to text by stripping tags (nh3) instead of laying it out (inscriptis)
MAX_LAYOUT_HTML_CHARS = 5_000_000


def _attribute_filter(tag: str, attribute: str, value: str) -> str | None:
    """``data:`` and ``cid:`` are allowed schemes only for images; a link keeps neither."""
    scheme = value.strip().split(":", 1)[0].lower() if ":" in value else ""
    if tag == "img" and attribute == "src":
        return value if scheme == "cid" or _IMG_DATA_RE.match(value.strip()) else None
    if scheme in {"data", "cid"}:
        return None
    return value


def sanitize_html(html: str) -> str:
    """HTML safe to show to agents (see the module docstring)."""
    if not html.strip():
        return ""
    return nh3.clean(
        html,
        tags=_TAGS,
        clean_content_tags={"script", "style", "title", "head"},
        attributes=_ATTRIBUTES,
        attribute_filter=_attribute_filter,
        url_schemes={"http", "https", "mailto", "tel", "cid", "data"},
        link_rel="noopener noreferrer",
        filter_style_properties=_STYLE_PROPERTIES,
        strip_comments=True,
    )


def html_to_text(html: str) -> str:
    """Plain text of an HTML body; falls back to tag stripping when the HTML cannot be parsed."""
    if not html.strip():
        return ""
    try:
        if len(html) > MAX_LAYOUT_HTML_CHARS:
            raise ValueError("too large to lay out")
        text = get_text(_HR_RE.sub("<div>__________</div>", html), _INSCRIPTIS)
    except Exception:  # lxml raises several unrelated types on garbage
        stripped = nh3.clean(html, tags=set(), clean_content_tags={"script", "style", "head"})
        text = html_unescape(stripped)
    return "\n".join(line.rstrip() for line in text.splitlines()).strip("\n")


def split_html(html: str) -> Split:
    """Split an HTML reply into reply / quoted / signature text fragments."""
    visible_html, hidden_html = html, ""
    if len(html) <= MAX_SPLIT_HTML_CHARS:
        try:
            parts = quotequail.quote_html(html)
        except Exception:  # quotequail/lxml on broken markup: fall back to text splitting
            parts = [(True, html)]
        # quotequail gives (visible, html) pieces; the first hidden one starts the history
        first_hidden = next((i for i, (shown, _) in enumerate(parts) if not shown), len(parts))
        visible_html = "".join(piece for _, piece in parts[:first_hidden])
        hidden_html = "".join(piece for _, piece in parts[first_hidden:])
    split = split_text(html_to_text(visible_html))
    hidden_text = html_to_text(hidden_html) if hidden_html else ""
    if not hidden_text.strip():
        return split
    fragments = [*split.fragments]
    if fragments and not fragments[-1].text.endswith("\n"):
        fragments[-1] = Fragment(fragments[-1].kind, fragments[-1].text + "\n")
    fragments.append(Fragment(Kind.QUOTED, hidden_text))
    return Split(tuple(fragments), split.attribution)
