"""Template filters of the workspace: how a message body is shown.

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
def item(mapping: dict[str, Any], key: str) -> Any:
    return mapping.get(key, "")
