"""The chat's say on what leaves flowdesk (``tickets.delivery.OUTGOING_HOOKS``).

A public reply on a chat ticket (an agent's, from the console or the ticket page, or a rule's)
reaches the visitor through the chat: the widget reads the ticket's public messages. While the
chat is live it is not mailed as well. Once it has ended (or the visitor has gone quiet for
``CHAT_IDLE_SECONDS``), a reply is mailed to the address the visitor left in the pre-chat or
offline form, never to the placeholder login of a visitor's customer record; without an
address it stays in the chat, where a returning visitor reads it. A rule's reply with
``via: email`` is mailed to that address even while the chat is live.
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


def chat_hook(
    w: TicketWrite, kind: str, payload: dict[str, Any], key: str, cause: Any, message: Any
) -> bool:
    if kind != "reply":
        return True
    # A rule's reply with ``via: email`` is mailed even while the chat is live.
    forced = message is not None and message.channel == Channel.EMAIL
    conversation = ChatConversation.objects.filter(ticket_id=w.ticket.pk).first()
    if conversation is None:
        # A chat ticket being created has no conversation row yet: the start's own update (a
        # rule answering ``chat_started``), so the chat is live. Any other ticket without a
        # conversation (one made by the API with channel chat) is mailed as usual.
        return forced or not (w.new and w.ticket.channel == Channel.CHAT)
    if (is_live(conversation, w.now) and not forced) or not conversation.email:
        return False
    payload["to"] = [conversation.email]
    return True


def chat_reply(w: TicketWrite, message: Any, cause: Any, subject: str = "") -> None:
    """A reply by the chat channel (``tickets.delivery.REPLY_CHANNELS``): the widget shows the
    ticket's public messages, so nothing is queued while the chat is live; afterwards it is
    mailed like any reply, and ``chat_hook`` sends it to the visitor's address."""
    from flowdesk.tickets.delivery import mail_reply

    mail_reply(w, message, cause, subject)


def register() -> None:
    from flowdesk.tickets.delivery import OUTGOING_HOOKS, register_reply_channel

    if chat_hook not in OUTGOING_HOOKS:
        # First: the mail hook reads the recipients this one chooses.
        OUTGOING_HOOKS.insert(0, chat_hook)
    register_reply_channel(Channel.CHAT, chat_reply)
