"""How the workspace shows a customer whose login is a chat visitor's placeholder
(``<visitor id>@visitors.invalid``, never mailed): as "chat visitor", not as an address.

    {% load chat_visitors %}
    {{ ticket.requester|contact }}        the e-mail, or "chat visitor"
    {{ ticket.requester|person }}         the name given, else the same
    {% if ticket.requester|mailable %}    a real address (a mailto: link makes sense)
"""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from flowdesk.chat.visitors import VISITOR_NAME, is_placeholder

register = template.Library()

#: the ticket page's reply choice for such a customer (web/_conversation.html); its translation
#: lives in the chat catalogue with the rest of these texts
REPLY_TO_VISITOR = gettext_noop("Public reply (to the chat visitor)")


def _email(value: Any) -> str:
    return str(getattr(value, "email", value) or "")


@register.filter
def contact(value: Any) -> str:
    email = _email(value)
    return _("chat visitor") if is_placeholder(email) else email


@register.filter
def person(value: Any) -> str:
    name = str(getattr(value, "name", "") or "")
    if is_placeholder(_email(value)) and name in ("", VISITOR_NAME):
        return _("chat visitor")
    return name or contact(value)


@register.filter
def mailable(value: Any) -> bool:
    email = _email(value)
    return bool(email) and not is_placeholder(email)
