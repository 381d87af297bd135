"""The agent's chat console (/agent/chats/): the chats of the agent's teams (the ticket
selectors' scope), one conversation with the customer's other tickets beside it, and the
JSON endpoints its script polls (the same events the visitor's widget polls, seen from the
agent's side). Behind the workspace's gate (``web.auth.agent_view``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
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
from flowdesk.chat.models import ChatConversation, ChatSite
from flowdesk.core.clock import utcnow
from flowdesk.core.errors import FieldError, FlowdeskError, NotFound, ValidationFailed
from flowdesk.tickets.cause import Cause
from flowdesk.tickets.selectors import access_ticket_by_id, tickets_for
from flowdesk.web.auth import agent_view

#: ended chats stay in the list this long
RECENT = timedelta(hours=8)
OTHER_TICKETS = 10
#: chats one console poll (or stream) follows at most; the list shows as many
WATCH_MAX = 200


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
    chats = list(chats_for(user)[:WATCH_MAX])
    summary = chat.summaries([c.pk for c in chats], now)
    for c in chats:
        c.live = is_live(c, now)  # type: ignore[attr-defined]
        c.stamp = summary[c.pk]["stamp"]  # type: ignore[attr-defined]
        c.unread = summary[c.pk]["unread"]  # type: ignore[attr-defined]
    return {"chats": chats, "current": current}


@agent_view
def console(request: HttpRequest, user: User, chat_id: int | None = None) -> HttpResponse:
    context = _list_context(user, chat_id) | {"sse": sse_available(request)}
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
        }
    return render(request, "chat/console.html", context)


@require_GET
@agent_view
def try_widget(request: HttpRequest, user: User) -> HttpResponse:
    """A page of flowdesk's own with the widget of an active site on it (``?site=<name>``, or
    the first): an agent (or a new user after the demo's quick start) chats there as a visitor
    and answers in the console."""
    sites = list(ChatSite.objects.filter(active=True).order_by("name"))
    name = request.GET.get("site", "")
    site = next((s for s in sites if s.name == name), sites[0] if sites else None)
    return render(request, "chat/try.html", {"sites": sites, "site": site})


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


def parse_list(raw: str) -> dict[int, str]:
    """``l=<chat id>:<stamp>,...``: the chats the console's list shows, with their stamps."""
    out: dict[int, str] = {}
    for part in filter(None, raw.split(",")):
        pk, sep, value = part.partition(":")
        if not sep or not pk.isdigit():
            raise ValidationFailed([FieldError("l", f"{part!r} is not <chat id>:<stamp>")])
        out[int(pk)] = value
    if len(out) > WATCH_MAX:
        raise ValidationFailed([FieldError("l", f"more than {WATCH_MAX} chats")])
    return out


def parse_newest(raw: str) -> int | None:
    if not raw:
        return None
    if not raw.isdigit():
        raise ValidationFailed([FieldError("n", f"{raw!r} is not a chat id")])
    return int(raw)


@dataclass
class Follow:
    """What one console follows: the chats it shows in full (their messages), the chats of its
    list (a summary: new customer messages, ended) and the newest chat id its list knows (a
    newer open chat is reported as a list entry it does not have yet)."""

    chats: dict[int, tuple[int, str]] = field(default_factory=dict)
    listed: dict[int, str] = field(default_factory=dict)
    newest: int | None = None

    @classmethod
    def parse(cls, c: str, listed: str = "", newest: str = "") -> Follow:
        return cls(parse_watch(c), parse_list(listed), parse_newest(newest))

    def shown(self) -> dict[int, str]:
        """The stamp the console has shown of each chat it follows."""
        return self.listed | {pk: st for pk, (_, st) in self.chats.items()}

    def seen(self, changed: dict[str, Any]) -> None:
        """Takes in what a stream just sent (the next read compares with it)."""
        for key, data in changed.get("chats", {}).items():
            self.chats[int(key)] = (data["cursor"], data["stamp"])
        for key, data in changed.get("list", {}).items():
            pk = int(key)
            if pk not in self.chats:
                self.listed[pk] = data["stamp"]
            if self.newest is not None:
                self.newest = max(self.newest, pk)

    def last_event_id(self) -> str:
        """The stream's event id: what a reconnecting browser sends back (``Last-Event-ID``)."""
        c = ",".join(f"{pk}:{cursor}:{st}" for pk, (cursor, st) in self.chats.items())
        listed = ",".join(f"{pk}:{st}" for pk, st in self.listed.items())
        return f"{c}|{listed}|{'' if self.newest is None else self.newest}"

    @classmethod
    def from_event_id(cls, raw: str) -> Follow:
        c, _, rest = raw.partition("|")
        listed, _, newest = rest.partition("|")
        return cls.parse(c, listed, newest)


def changed_events(user: User, follow: Follow) -> dict[str, Any]:
    """The events of the followed chats whose stamp differs from the console's: ``chats``
    (messages, typing, seen of the chats shown in full) and ``list`` (a summary of the list's
    chats, new open chats included). One query when nothing changed; a chat the agent may not
    see is simply never reported."""
    now = utcnow()
    visible = tickets_for(user).values("pk")
    shown = follow.shown()
    current = chat.stamps(list(shown), now, visible, follow.newest)
    changed = [pk for pk, st in current.items() if st != shown.get(pk)]
    if not changed:
        return {}
    full = [pk for pk in changed if pk in follow.chats]
    out: dict[str, Any] = {}
    if full:
        found = ChatConversation.objects.filter(pk__in=full, ticket__in=visible)
        out["chats"] = {
            str(c.pk): chat.events(c, "agent", follow.chats[c.pk][0], now) for c in found
        }
    summary = [pk for pk in changed if pk not in follow.chats]
    if summary:
        out["list"] = {str(pk): s for pk, s in chat.summaries(summary, now).items()}
    return out


@require_GET
@agent_view
def chats_events(request: HttpRequest, user: User) -> HttpResponse:
    """The console's one poll for all the chats it follows: 204 when none changed."""
    q = request.GET
    try:
        changed = changed_events(user, Follow.parse(q.get("c", ""), q.get("l", ""), q.get("n", "")))
    except FlowdeskError as exc:
        return JsonResponse(exc.as_dict(), status=exc.status)
    return JsonResponse(changed) if changed else HttpResponse(status=204)


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
