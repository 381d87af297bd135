"""Whether something leaves flowdesk is decided here, for every author and writer.

A public message by an agent or by the system (a rule's reply) is delivered to the requester by
its message's channel (``REPLY_CHANNELS``: e-mail unless a channel app registered its own),
its fixed text (subject, footer) in the requester's language (``core.i18n.in_language_of``);
a customer's own message and an internal note are not. Each delivery is an outbox row written in
the update's transaction (its task enqueued after commit), pointing at its message, with one
idempotency key per message, so a replayed update queues nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext

from flowdesk.core.i18n import in_language_of
from flowdesk.outbox.models import OutboxItem
from flowdesk.outbox.services import do_enqueue
from flowdesk.tickets.cause import Cause
from flowdesk.tickets.models import AuthorKind, Channel, EventKind, Message, Ticket

if TYPE_CHECKING:
    from flowdesk.tickets.services import TicketWrite


#: The channels' say on each outgoing item, registered by their apps (mail: the threading headers,
#: the loop guard): called with (write, kind, payload, key, cause, message) before the item is
#: queued, each may add to the payload, or return False to hold the item back.
OUTGOING_HOOKS: list[Callable[..., bool]] = []


def reply_subject(ticket: Ticket) -> str:
    """In the active language (``in_language_of`` the recipient); the ticket's subject itself
    is what people wrote and is never translated."""
    return gettext("Re: %(subject)s [#%(id)s]") % {"subject": ticket.subject, "id": ticket.pk}


def reply_footer(ticket: Ticket) -> str:
    return gettext("Reply to this e-mail to answer. Your reply is added to request #%(id)s.") % {
        "id": ticket.pk
    }


#: How a public message reaches the requester, by the message's channel: called with (write,
#: message, cause, subject) inside the update's transaction, it queues what it sends (an outbox
#: item: nothing leaves before commit). E-mail is built in; a channel app registers its own
#: (the chat: ``register_reply_channel("chat", ...)``). A message of a channel with nothing
#: registered (web, portal, api, phone) is e-mailed.
ReplyChannel = Callable[["TicketWrite", Message, Cause, str], None]
REPLY_CHANNELS: dict[str, ReplyChannel] = {}


def register_reply_channel(channel: str, deliver: ReplyChannel) -> None:
    if REPLY_CHANNELS.get(channel, deliver) is not deliver:
        raise ValueError(f"reply channel {channel!r} is already registered")
    REPLY_CHANNELS[channel] = deliver


def reply_channel(ticket: Ticket, via: str = "channel") -> str:
    """The channel a rule's reply to ``ticket`` goes out by (its message's channel): the
    ticket's own when one is registered for it and ``via`` is ``channel``, else e-mail."""
    if via == "channel" and ticket.channel in REPLY_CHANNELS:
        return ticket.channel
    return Channel.EMAIL


def deliver_message(w: TicketWrite, message: Message, cause: Cause, *, subject: str = "") -> None:
    if not message.public or message.author_kind == AuthorKind.CUSTOMER:
        return
    deliver = REPLY_CHANNELS.get(message.channel) or REPLY_CHANNELS[Channel.EMAIL]
    deliver(w, message, cause, subject)


def mail_reply(w: TicketWrite, message: Message, cause: Cause, subject: str = "") -> None:
    """The requester gets the message by e-mail (the outbox's ``reply`` kind)."""
    ticket = w.ticket
    # The fixed text in the requester's language, the message as it was written.
    with in_language_of(ticket.requester) as language:
        payload = {
            "to": [ticket.requester.email],
            "subject": subject or reply_subject(ticket),
            "body": message.body_text,
            "footer": reply_footer(ticket),
            "language": language,
            "message_id": message.pk,
        }
    queue_outbox(
        w,
        "reply",
        payload,
        key=f"message:{message.pk}",
        cause=cause,
        message=message,
        fresh=True,
    )


register_reply_channel(Channel.EMAIL, mail_reply)


def queue_outbox(
    w: TicketWrite,
    kind: str,
    payload: dict[str, Any],
    *,
    key: str,
    cause: Cause,
    message: Message | None = None,
    fresh: bool = False,
) -> OutboxItem | None:
    """Queue one delivery for this update; ``outbox_queued`` is recorded only when the key is
    new (a replay of the same key queues and records nothing). None: a hook held it back."""
    for hook in OUTGOING_HOOKS:
        if not hook(w, kind, payload, key, cause, message):
            return None
    item, created = do_enqueue(
        kind=kind,
        payload=payload,
        idempotency_key=key,
        now=w.now,
        ticket=w.ticket,
        update=w.update_row(),
        message=message,
        rule=cause.rule,
        fresh=fresh,
    )
    if created:
        data: dict[str, Any] = {"outbox_id": item.pk, "kind": kind}
        if message is not None:
            data["message_id"] = message.pk
        w.log.add(EventKind.OUTBOX_QUEUED, cause, data=data)
    return item
