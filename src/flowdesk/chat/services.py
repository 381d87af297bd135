"""Chat conversations: start, messages, typing, seen, end, and the events each side polls.

Every ticket write goes through ``tickets.services`` (``do_create_ticket`` for the start,
``do_update_ticket`` / ``check_update_ticket`` for each message and the end), with the channel
events ``chat_started``, ``chat_message`` and ``chat_ended`` for the rules. Typing and "seen"
are not ticket data: they are columns of the conversation, written with a plain UPDATE (as the
workspace's presence is).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import F, Max, Q

from flowdesk.accounts.models import Role, User
from flowdesk.chat import visitors
from flowdesk.chat.models import ChatConversation, ChatSite, hash_token
from flowdesk.core.errors import Conflict, FieldError, ValidationFailed
from flowdesk.routing.agents import unavailable_reason
from flowdesk.routing.models import AgentProfile
from flowdesk.tickets.cause import Cause, CauseKind
from flowdesk.tickets.models import AuthorKind, Channel, Message
from flowdesk.tickets.selectors import access_ticket_by_id
from flowdesk.tickets.services import (
    ChangeSet,
    NewMessage,
    check_update_ticket,
    do_create_ticket,
    do_update_ticket,
)

#: someone typed within this many seconds: "is typing"
TYPING_SECONDS = 6
#: the visitor's presence is written at most this often (polls every few seconds)
ACTIVE_WRITE_SECONDS = 10
#: messages one poll returns at most (the next poll continues from its cursor)
PAGE = 100
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_body(value: Any, field: str = "body", *, required: bool = True) -> str:
    """Plain text: control characters dropped, newlines normalised, at most CHAT_MESSAGE_MAX."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationFailed([FieldError(field, "must be a text")])
    text = _CONTROL.sub("", value.replace("\r\n", "\n").replace("\r", "\n")).strip()
    limit = settings.FLOWDESK["CHAT_MESSAGE_MAX"]
    if len(text) > limit:
        raise ValidationFailed([FieldError(field, f"is longer than {limit:,} characters")])
    if required and not text:
        raise ValidationFailed([FieldError(field, "must not be blank")])
    return text


def _short(value: Any, field: str, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationFailed([FieldError(field, "must be a text")])
    text = _CONTROL.sub("", value).strip()
    if len(text) > limit:
        raise ValidationFailed([FieldError(field, f"is longer than {limit} characters")])
    return text


def agents_available(site: ChatSite, now: datetime) -> bool:
    """Someone of the site's team (any agent when it has none) is active and available now
    (``routing.agents.unavailable_reason``)."""
    agents = User.objects.filter(is_active=True, role__in=(Role.AGENT, Role.ADMIN))
    if site.team_id is not None:
        agents = agents.filter(teams=site.team_id)
    ids = list(agents.values_list("pk", flat=True))
    if not ids:
        return False
    profiles = {p.user_id: p for p in AgentProfile.objects.filter(user_id__in=ids)}
    return any(
        not unavailable_reason(profiles.get(pk) or AgentProfile(user_id=pk), now) for pk in ids
    )


@dataclass(frozen=True)
class StartRequest:
    name: str = ""
    email: str = ""
    message: str = ""
    page_url: str = ""
    language: str = ""
    user_id: str = ""
    identifier_hash: str = ""
    previous_token: str = ""


def _start_errors(site: ChatSite, req: StartRequest, offline: bool) -> list[FieldError]:
    errors: list[FieldError] = []
    if site.name_required and not req.name:
        errors.append(FieldError("name", "required on this site"))
    if req.email:
        try:
            validate_email(req.email)
        except DjangoValidationError:
            errors.append(FieldError("email", f"{req.email!r} is not an e-mail address"))
    elif offline or site.email_required:
        why = "required when nobody is online (the answer comes by e-mail)" if offline else ""
        errors.append(FieldError("email", why or "required on this site"))
    if offline and not req.message:
        errors.append(FieldError("message", "required when nobody is online"))
    return errors


def clean_start(data: dict[str, Any]) -> StartRequest:
    """The start request's fields, each checked for type and length."""
    if not isinstance(data, dict):
        raise ValidationFailed([FieldError("body", "must be a JSON object")])
    errors: list[FieldError] = []
    values: dict[str, str] = {}
    limits = {
        "name": 200,
        "email": 254,
        "page_url": 1000,
        "language": 16,
        "user_id": 200,
        "identifier_hash": 128,
        "previous_token": 100,
    }
    for key, limit in limits.items():
        try:
            values[key] = _short(data.get(key), key, limit)
        except ValidationFailed as exc:
            errors += exc.errors
    try:
        values["message"] = clean_body(data.get("message"), "message", required=False)
    except ValidationFailed as exc:
        errors += exc.errors
    unknown = sorted(set(data) - set(limits) - {"message"})
    errors += [FieldError(k, "is not a field of a chat start") for k in unknown]
    if errors:
        raise ValidationFailed(errors)
    values["email"] = values["email"].lower()
    return StartRequest(**values)


def start_conversation(
    site: ChatSite, req: StartRequest, now: datetime
) -> tuple[ChatConversation, str]:
    """A new chat ticket (an e-mail ticket when nobody is online) and its conversation; returns
    the conversation and the visitor's token (shown once; only its hash is stored). All or
    nothing: a refused start leaves no customer, identity or ticket behind."""
    offline = not agents_available(site, now)
    errors = _start_errors(site, req, offline)
    if errors:
        raise ValidationFailed(errors)
    site_user = visitors.verified_site_user(site, req.user_id, req.identifier_hash)
    with transaction.atomic():
        previous = visitors.returning_customer(req.previous_token)
        customer, visitor_id = visitors.customer_for_visitor(site_user, previous, req.name)
        visitors.claim_email(customer, req.email)
        first = req.message or "(started a chat)"
        subject = req.message.splitlines()[0][:80] if req.message else f"Chat on {site.name}"
        source = {"chat_site": site.name, "page_url": req.page_url, "language": req.language}
        ticket = do_create_ticket(
            requester=customer,
            subject=subject,
            message=NewMessage(body_text=first, channel=Channel.EMAIL if offline else Channel.CHAT),
            channel=Channel.EMAIL if offline else Channel.CHAT,
            changes=ChangeSet(values={"team": site.team.name} if site.team else {}),
            cause=Cause.channel(CauseKind.CHAT, f"chat site {site.name}", actor=customer),
            now=now,
            source=source,
            channel_events=() if offline else ("chat_started",),
        )
        token = "ct_" + secrets.token_urlsafe(32)
        conversation = ChatConversation.objects.create(
            site=site,
            ticket=ticket,
            token_hash=hash_token(token),
            visitor_id=visitor_id,
            name=req.name,
            email=req.email,
            identified=bool(site_user),
            offline=offline,
            started_at=now,
            ended_at=now if offline else None,
            visitor_active_at=now,
        )
    return conversation, token


def conversation_for_token(site_key: str, token: str) -> ChatConversation | None:
    """The conversation of a visitor token on the site with this public key (one query: the
    site, its team and the ticket come along)."""
    if not token:
        return None
    return (
        ChatConversation.objects.select_related("ticket", "site__team")
        .filter(site__public_key=site_key, token_hash=hash_token(token))
        .first()
    )


def _refuse_ended(conversation: ChatConversation) -> None:
    if conversation.ended_at is not None:
        raise Conflict(f"chat {conversation.pk} has ended: start a new one")


def visitor_message(conversation: ChatConversation, body: Any, now: datetime) -> int:
    """The visitor's message, as the ticket's customer; returns its message id."""
    text = clean_body(body)
    _refuse_ended(conversation)
    customer = conversation.ticket.requester
    with transaction.atomic():
        do_update_ticket(
            conversation.ticket_id,
            changes=ChangeSet(),
            message=NewMessage(body_text=text, channel=Channel.CHAT),
            expected_version=None,
            cause=Cause.channel(CauseKind.CHAT, f"chat {conversation.pk}", actor=customer),
            now=now,
            channel_events=("chat_message",),
        )
        ChatConversation.objects.filter(pk=conversation.pk).update(
            visitor_active_at=now, visitor_typing_at=None, rev=F("rev") + 1
        )
        return _latest_id(conversation, AuthorKind.CUSTOMER)


def agent_message(agent: User, conversation: ChatConversation, body: Any, now: datetime) -> int:
    """An agent's public reply from the chat console (the ticket page's replies reach the chat
    too: the widget reads the ticket's public messages)."""
    text = clean_body(body)
    ticket = access_ticket_by_id(agent, conversation.ticket_id)
    _refuse_ended(conversation)
    with transaction.atomic():
        check_update_ticket(
            ticket,
            changes=ChangeSet(),
            message=NewMessage(body_text=text, channel=Channel.CHAT),
            expected_version=None,
            cause=Cause.for_user(agent),
            now=now,
            channel_events=("chat_message",),
        )
        ChatConversation.objects.filter(pk=conversation.pk).update(
            agent_typing_at=None, rev=F("rev") + 1
        )
        return _latest_id(conversation, AuthorKind.AGENT)


def _latest_id(conversation: ChatConversation, kind: str) -> int:
    found = (
        Message.objects.filter(ticket_id=conversation.ticket_id, author_kind=kind)
        .order_by("-id")
        .values_list("id", flat=True)
        .first()
    )
    return int(found or 0)


def end_conversation(conversation: ChatConversation, cause: Cause, now: datetime) -> bool:
    """Ends the chat once (a second end changes nothing); ``chat_ended`` fires for the rules."""
    with transaction.atomic():
        ended = ChatConversation.objects.filter(pk=conversation.pk, ended_at__isnull=True).update(
            ended_at=now, visitor_typing_at=None, agent_typing_at=None, rev=F("rev") + 1
        )
        if not ended:
            return False
        do_update_ticket(
            conversation.ticket_id,
            changes=ChangeSet(),
            message=None,
            expected_version=None,
            cause=cause,
            now=now,
            channel_events=("chat_ended",),
        )
    conversation.ended_at = now
    return True


def visitor_cause(conversation: ChatConversation) -> Cause:
    customer = conversation.ticket.requester
    return Cause.channel(CauseKind.CHAT, f"chat {conversation.pk}", actor=customer)


def set_typing(
    conversation: ChatConversation, side: str, typing: bool, now: datetime, who: str = ""
) -> None:
    at = now if typing else None
    if side == "visitor":
        ChatConversation.objects.filter(pk=conversation.pk).update(
            visitor_typing_at=at, rev=F("rev") + 1
        )
    else:
        ChatConversation.objects.filter(pk=conversation.pk).update(
            agent_typing_at=at, agent_typing_name=who[:200], rev=F("rev") + 1
        )


def set_seen(conversation: ChatConversation, side: str, message_id: Any) -> None:
    """The last message id this side has seen (it only moves forward)."""
    if isinstance(message_id, bool) or not isinstance(message_id, int) or message_id < 0:
        raise ValidationFailed([FieldError("message_id", f"{message_id!r} is not a message id")])
    column = "visitor_seen_id" if side == "visitor" else "agent_seen_id"
    ChatConversation.objects.filter(
        Q(pk=conversation.pk) & Q(**{f"{column}__lt": message_id})
    ).update(**{column: message_id, "rev": F("rev") + 1})


def touch_visitor(conversation: ChatConversation, now: datetime) -> None:
    """The visitor is still there (written at most every ACTIVE_WRITE_SECONDS)."""
    if conversation.visitor_active_at < now - timedelta(seconds=ACTIVE_WRITE_SECONDS):
        ChatConversation.objects.filter(pk=conversation.pk).update(visitor_active_at=now)


def message_out(m: Message, side: str) -> dict[str, Any]:
    name = ""
    if m.author_kind == AuthorKind.AGENT and m.author is not None:
        name = (m.author.name or "Agent").split()[0] if side == "visitor" else m.author.name
    return {
        "id": m.pk,
        "author": m.author_kind,
        "name": name,
        "body": m.body_text,
        "at": m.created_at.isoformat(),
    }


#: the columns a stamp is made of (``stamp``)
STAMP_FIELDS = ("ticket__version", "rev", "visitor_typing_at", "agent_typing_at", "ended_at")


def stamp(row: dict[str, Any], now: datetime) -> str:
    """What a side's screen depends on, in a few characters: the ticket's version (every
    message, from the console, the ticket page or a rule, bumps it), the conversation's ``rev``
    (typing, seen, the end) and whether each side is typing *now* (so an indicator that timed
    out changes the stamp without a write). Equal stamps: nothing to show, nothing to load."""
    since = now - timedelta(seconds=TYPING_SECONDS)
    vt = int(bool(row["visitor_typing_at"] and row["visitor_typing_at"] >= since))
    at = int(bool(row["agent_typing_at"] and row["agent_typing_at"] >= since))
    return f"{row['ticket__version']}.{row['rev']}.{vt}{at}"


def conversation_stamp(c: ChatConversation, now: datetime) -> str:
    """The stamp of a conversation loaded with its ticket (no query)."""
    row = {name: getattr(c, name) for name in STAMP_FIELDS[1:]}
    return stamp({**row, "ticket__version": c.ticket.version}, now)


def stamps(
    ids: list[int], now: datetime, visible: Any = None, newer_than: int | None = None
) -> dict[int, str]:
    """The stamps of many conversations in one indexed query (``visible``: a queryset of the
    ticket ids the reader may see; ``newer_than``: also the open live chats started after that
    id, so a console learns of a new chat in the same query)."""
    where = Q(pk__in=ids)
    if newer_than is not None:
        where |= Q(pk__gt=newer_than, ended_at__isnull=True, offline=False)
    qs = ChatConversation.objects.filter(where)
    if visible is not None:
        qs = qs.filter(ticket__in=visible)
    return {row["id"]: stamp(row, now) for row in qs.values("id", *STAMP_FIELDS)}


def summaries(ids: list[int], now: datetime) -> dict[int, dict[str, Any]]:
    """What the console's chat list shows of each chat (two queries for any number): its
    stamp, whether a customer message came after the last one an agent saw, and whether it
    ended."""
    rows = list(
        ChatConversation.objects.filter(pk__in=ids).values(
            "id", "ticket_id", "agent_seen_id", *STAMP_FIELDS
        )
    )
    latest = dict(
        Message.objects.filter(
            ticket_id__in=[r["ticket_id"] for r in rows],
            public=True,
            author_kind=AuthorKind.CUSTOMER,
        )
        .values("ticket_id")
        .annotate(last=Max("id"))
        .values_list("ticket_id", "last")
    )
    return {
        r["id"]: {
            "stamp": stamp(r, now),
            "unread": latest.get(r["ticket_id"], 0) > r["agent_seen_id"],
            "ended": r["ended_at"] is not None,
        }
        for r in rows
    }


def events(conversation: ChatConversation, side: str, after: int, now: datetime) -> dict[str, Any]:
    """What a side has not seen yet: public messages after ``after``, whether the other side
    is typing, the last message id the other side has seen, whether the chat ended, and the
    stamp (read before the messages: a message written in between changes the next stamp, so
    it is read again rather than missed)."""
    row = (
        ChatConversation.objects.filter(pk=conversation.pk)
        .values(
            *STAMP_FIELDS,
            "visitor_typing_at",
            "agent_typing_at",
            "agent_typing_name",
            "visitor_seen_id",
            "agent_seen_id",
        )
        .get()
    )
    msgs = list(
        Message.objects.filter(ticket_id=conversation.ticket_id, public=True, id__gt=after)
        .select_related("author")
        .order_by("id")[:PAGE]
    )
    typing_since = now - timedelta(seconds=TYPING_SECONDS)
    visitor = side == "visitor"
    typing_at = row["agent_typing_at"] if visitor else row["visitor_typing_at"]
    return {
        "messages": [message_out(m, side) for m in msgs],
        "cursor": msgs[-1].pk if msgs else after,
        "typing": bool(typing_at and typing_at >= typing_since and row["ended_at"] is None),
        "typing_name": row["agent_typing_name"] if visitor else "",
        "seen": row["agent_seen_id"] if visitor else row["visitor_seen_id"],
        "ended": row["ended_at"] is not None,
        "stamp": stamp(row, now),
    }
