"""The chat's say on what leaves flowdesk (``tickets.delivery.OUTGOING_HOOKS``).

A public reply on a chat ticket (an agent's, from the console or the ticket page, or a rule's)
reaches the visitor through the chat: the widget reads the ticket's public messages. While the
chat is live it is not mailed as well. Once it has ended (or the visitor has gone quiet for
``CHAT_IDLE_SECONDS``), a reply is mailed to the address the visitor left in the pre-chat or
offline form, never to the placeholder login of a visitor's customer record; without an
address it stays in the chat, where a returning visitor reads it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings

from flowdesk.chat.models import ChatConversation
from flowdesk.tickets.models import Channel

if TYPE_CHECKING:
    from datetime import datetime

    from flowdesk.tickets.services import TicketWrite


def is_live(conversation: ChatConversation, now: datetime) -> bool:
    """Open, and the visitor was there within ``CHAT_IDLE_SECONDS``."""
    if conversation.ended_at is not None:
        return False
    idle = timedelta(seconds=settings.FLOWDESK["CHAT_IDLE_SECONDS"])
    return conversation.visitor_active_at >= now - idle


def chat_hook(w: TicketWrite, kind: str, payload: dict[str, Any], *_args: Any) -> bool:
    if kind != "reply":
        return True
    conversation = ChatConversation.objects.filter(ticket_id=w.ticket.pk).first()
    if conversation is None:
        # A chat ticket whose conversation is not written yet: the start's own update (a rule
        # answering ``chat_started``), so the chat is live.
        return w.ticket.channel != Channel.CHAT
    if is_live(conversation, w.now) or not conversation.email:
        return False
    payload["to"] = [conversation.email]
    return True


def register() -> None:
    from flowdesk.tickets.delivery import OUTGOING_HOOKS

    if chat_hook not in OUTGOING_HOOKS:
        # First: the mail hook reads the recipients this one chooses.
        OUTGOING_HOOKS.insert(0, chat_hook)
