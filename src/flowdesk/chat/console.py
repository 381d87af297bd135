"""The agent's chat console (/agent/chats/): the chats of the agent's teams (the ticket
selectors' scope), one conversation with the customer's other tickets beside it, and the
JSON endpoints its script polls (the same events the visitor's widget polls, seen from the
agent's side). Behind the workspace's gate (``web.auth.agent_view``).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from flowdesk.accounts.models import User
from flowdesk.chat import services as chat
from flowdesk.chat.api import sse_available
from flowdesk.chat.delivery import is_live
from flowdesk.chat.models import ChatConversation
from flowdesk.core.clock import utcnow
from flowdesk.core.errors import FieldError, FlowdeskError, NotFound, ValidationFailed
from flowdesk.tickets.cause import Cause
from flowdesk.tickets.selectors import access_ticket_by_id, tickets_for
from flowdesk.web.auth import agent_view

#: ended chats stay in the list this long
RECENT = timedelta(hours=8)
OTHER_TICKETS = 10


def chats_for(user: User) -> QuerySet[ChatConversation]:
    """Conversations whose ticket the agent may see: open ones, then the recently ended."""
    visible = tickets_for(user).values("pk")
    since = utcnow() - RECENT
    return (
        ChatConversation.objects.filter(ticket__in=visible, offline=False)
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gte=since))
        .select_related("ticket__requester", "site")
        .order_by("-started_at")
    )


def access_chat(user: User, chat_id: int) -> ChatConversation:
    found = ChatConversation.objects.select_related("ticket", "site").filter(pk=chat_id).first()
    if found is None:
        raise NotFound(f"chat {chat_id} not found")
    access_ticket_by_id(user, found.ticket_id)  # the ticket's scope: NotFound / Forbidden
    return found


def _list_context(user: User, current: int | None) -> dict[str, Any]:
    now = utcnow()
    chats = list(chats_for(user)[:100])
    for c in chats:
        c.live = is_live(c, now)  # type: ignore[attr-defined]
    return {"chats": chats, "current": current}


@agent_view
def console(request: HttpRequest, user: User, chat_id: int | None = None) -> HttpResponse:
    context = _list_context(user, chat_id)
    if chat_id is not None:
        c = access_chat(user, chat_id)
        ticket = access_ticket_by_id(user, c.ticket_id)
        others = (
            tickets_for(user)
            .filter(requester=ticket.requester)
            .exclude(pk=ticket.pk)
            .order_by("-updated_at", "-id")[:OTHER_TICKETS]
        )
        context |= {
            "chat": c,
            "ticket": ticket,
            "other_tickets": list(others),
            "sse": sse_available(request),
        }
    return render(request, "chat/console.html", context)


@require_GET
@agent_view
def chat_list(request: HttpRequest, user: User) -> HttpResponse:
    current = request.GET.get("current", "")
    context = _list_context(user, int(current) if current.isdigit() else None)
    return render(request, "chat/_list.html", context)


def _json_errors(view: Any) -> Any:
    def wrapper(request: HttpRequest, user: User, chat_id: int) -> HttpResponse:
        try:
            return view(request, user, access_chat(user, chat_id))  # type: ignore[no-any-return]
        except FlowdeskError as exc:
            return JsonResponse(exc.as_dict(), status=exc.status)

    wrapper.__name__ = view.__name__
    return wrapper


def _after(request: HttpRequest) -> int:
    raw = request.GET.get("after") or request.headers.get("Last-Event-ID") or "0"
    if not raw.isdigit():
        raise ValidationFailed([FieldError("after", f"{raw!r} is not a message id")])
    return int(raw)


def _body(request: HttpRequest) -> dict[str, Any]:
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body or b"{}")
        except ValueError as exc:
            raise ValidationFailed([FieldError("body", f"not JSON: {exc}")]) from exc
        return data if isinstance(data, dict) else {}
    return dict(request.POST.items())


@require_GET
@agent_view
@_json_errors
def chat_events(request: HttpRequest, user: User, c: ChatConversation) -> HttpResponse:
    return JsonResponse(chat.events(c, "agent", _after(request), utcnow()))


#: chats one console poll (or stream) follows at most
WATCH_MAX = 200


def parse_watch(raw: str) -> dict[int, tuple[int, str]]:
    """``c=<chat id>:<message cursor>:<stamp>,...`` (the stamp may be empty): the chats the
    console follows, each with what it has already shown."""
    out: dict[int, tuple[int, str]] = {}
    for part in filter(None, raw.split(",")):
        bits = part.split(":")
        if len(bits) not in (2, 3) or not bits[0].isdigit() or not bits[1].isdigit():
            raise ValidationFailed(
                [FieldError("c", f"{part!r} is not <chat id>:<cursor>[:<stamp>]")]
            )
        out[int(bits[0])] = (int(bits[1]), bits[2] if len(bits) == 3 else "")
    if len(out) > WATCH_MAX:
        raise ValidationFailed([FieldError("c", f"more than {WATCH_MAX} chats")])
    return out


def changed_events(user: User, watch: dict[int, tuple[int, str]]) -> dict[str, Any]:
    """The events of the watched chats whose stamp differs from the client's. One query
    when nothing changed; a chat the agent may not see is simply never reported."""
    now = utcnow()
    visible = tickets_for(user).values("pk")
    current = chat.stamps(list(watch), now, visible)
    changed = [pk for pk, st in current.items() if pk in watch and st != watch[pk][1]]
    if not changed:
        return {}
    found = ChatConversation.objects.filter(pk__in=changed, ticket__in=visible)
    return {str(c.pk): chat.events(c, "agent", watch[c.pk][0], now) for c in found}


@require_GET
@agent_view
def chats_events(request: HttpRequest, user: User) -> HttpResponse:
    """The console's one poll for all the chats it follows: 204 when none changed."""
    try:
        changed = changed_events(user, parse_watch(request.GET.get("c", "")))
    except FlowdeskError as exc:
        return JsonResponse(exc.as_dict(), status=exc.status)
    return JsonResponse({"chats": changed}) if changed else HttpResponse(status=204)


@require_POST
@agent_view
@_json_errors
def chat_send(request: HttpRequest, user: User, c: ChatConversation) -> HttpResponse:
    message_id = chat.agent_message(user, c, _body(request).get("body"), utcnow())
    return JsonResponse({"id": message_id}, status=201)


@require_POST
@agent_view
@_json_errors
def chat_typing(request: HttpRequest, user: User, c: ChatConversation) -> HttpResponse:
    value = _body(request).get("typing", True)
    typing = value in (True, "true", "1")
    chat.set_typing(c, "agent", typing, utcnow(), user.name or user.email)
    return HttpResponse(status=204)


@require_POST
@agent_view
@_json_errors
def chat_seen(request: HttpRequest, user: User, c: ChatConversation) -> HttpResponse:
    raw = _body(request).get("message_id")
    chat.set_seen(c, "agent", int(raw) if isinstance(raw, str) and raw.isdigit() else raw)
    return HttpResponse(status=204)


@require_POST
@agent_view
@_json_errors
def chat_end(request: HttpRequest, user: User, c: ChatConversation) -> HttpResponse:
    chat.end_conversation(c, Cause.for_user(user), utcnow())
    return JsonResponse({"ended": True})
