"""Template filters of the workspace: how a message body is shown, and the ticket vocabulary in
the page's language.

Customer text is never rendered raw. A plain-text body is escaped (line breaks kept); an HTML body
is sanitized with nh3 (the Ammonia sanitizer): no scripts, styles, event handlers, forms or
images (remote images are tracking pixels), links only to http(s) and mailto, opened with
``rel="noopener noreferrer nofollow"``.
"""

from __future__ import annotations

from typing import Any

import nh3
from django import template
from django.template.defaultfilters import linebreaksbr
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy

from flowdesk.tickets.models import Message

register = template.Library()

ALLOWED_TAGS = nh3.ALLOWED_TAGS - {"img"}
URL_SCHEMES = {"http", "https", "mailto"}


def clean_html(html: str) -> SafeString:
    cleaned = nh3.clean(
        html, tags=ALLOWED_TAGS, url_schemes=URL_SCHEMES, link_rel="noopener noreferrer nofollow"
    )
    return mark_safe(cleaned)  # sanitized just above


@register.filter
def message_body(message: Message) -> SafeString:
    if message.body_html.strip():
        return clean_html(message.body_html)
    return linebreaksbr(escape(message.body_text))


@register.filter
def author_label(message: Message) -> str:
    """Who wrote a message: the author's name or address, else the kind of author (a rule's
    reply and a system message have no author)."""
    author = message.author
    if author is None:
        return str(word(message.author_kind))
    return author.name or author.email


@register.filter
def item(mapping: dict[str, Any], key: str) -> Any:
    return mapping.get(key, "")


#: The ticket vocabulary as the workspace shows it (values stay as stored and as the API has
#: them; only their display is translated).
WORDS = {
    "new": gettext_lazy("new"),
    "open": gettext_lazy("open"),
    "pending": gettext_lazy("pending"),
    "on-hold": gettext_lazy("on-hold"),
    "solved": gettext_lazy("solved"),
    "closed": gettext_lazy("closed"),
    "low": gettext_lazy("low"),
    "normal": gettext_lazy("normal"),
    "high": gettext_lazy("high"),
    "urgent": gettext_lazy("urgent"),
    "email": gettext_lazy("email"),
    "web": gettext_lazy("web"),
    "portal": gettext_lazy("portal"),
    "chat": gettext_lazy("chat"),
    "api": gettext_lazy("api"),
    "phone": gettext_lazy("phone"),
    "status": gettext_lazy("status"),
    "priority": gettext_lazy("priority"),
    "assignee": gettext_lazy("assignee"),
    "team": gettext_lazy("team"),
    "tags": gettext_lazy("tags"),
    "type": gettext_lazy("type"),
    "done": gettext_lazy("done"),
    "unchanged": gettext_lazy("unchanged"),
    "conflict": gettext_lazy("conflict"),
    "forbidden": gettext_lazy("forbidden"),
    "invalid": gettext_lazy("invalid"),
}


@register.filter
def word(value: Any) -> Any:
    """A status, priority, channel, field name or bulk outcome in the page's language (others
    as they are)."""
    return WORDS.get(str(value), value)


@register.filter
def shown(value: Any) -> str:
    """A field value of a macro preview: lists joined, nothing as a dash."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, list | tuple):
        return ", ".join(str(word(v)) for v in value)
    return str(word(value))
