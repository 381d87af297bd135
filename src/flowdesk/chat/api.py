"""The visitor endpoints the widget calls (public; docs/chat.md, "Visitor endpoints").

``/chat/v1/<site key>/...``: the site's public key names the site, a conversation's token
(``Authorization: Bearer ct_...``) names the conversation. Answers are JSON; a bad field is a 422
naming it (``{"detail": ..., "errors": [{"field", "message"}]}``, as the REST API's). CORS: a
browser request from an origin the site does not list is refused (403) before anything runs;
allowed origins get the CORS headers (preflights included). Requests are rate-limited per client
address (starts) and per conversation (messages), in Django's cache.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.views.decorators.csrf import csrf_exempt

from flowdesk.chat import services as chat
from flowdesk.chat.models import ChatConversation, ChatSite
from flowdesk.core.clock import utcnow
from flowdesk.core.errors import FlowdeskError

METHODS = "GET, POST, OPTIONS"
BODY_MAX = 64 * 1024


class Refused(Exception):
    def __init__(self, status: int, detail: str, field: str = "") -> None:
        super().__init__(detail)
        self.status, self.detail, self.field = status, detail, field


def _error(status: int, detail: str, field: str = "") -> JsonResponse:
    body: dict[str, Any] = {"detail": detail}
    if field:
        body["errors"] = [{"field": field, "message": detail}]
    return JsonResponse(body, status=status)


def _cors(response: HttpResponseBase, origin: str) -> HttpResponseBase:
    if origin:
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Allow-Methods"] = METHODS
        response["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
        response["Access-Control-Max-Age"] = "600"
    response["Vary"] = "Origin"
    response["Cache-Control"] = "no-store"
    return response


def _count(key: str, window: int) -> int:
    cache.add(key, 0, window)
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between add and incr
        cache.set(key, 1, window)
        return 1


def over_limit(kind: str, who: str, limit: float, window: int) -> bool:
    return bool(limit) and _count(f"flowdesk:chat:{kind}:{who}", window) > limit


def _json(request: HttpRequest) -> dict[str, Any]:
    if not request.body:
        return {}
    if len(request.body) > BODY_MAX:
        raise Refused(413, f"the body is larger than {BODY_MAX} bytes")
    try:
        data = json.loads(request.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Refused(400, f"the body is not JSON: {exc}", "body") from exc
    if not isinstance(data, dict):
        raise Refused(422, "must be a JSON object", "body")
    return data


def _token(request: HttpRequest) -> str:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[7:].strip()
    return str(request.GET.get("token", ""))  # EventSource cannot send headers


View = Callable[..., HttpResponseBase]


def visitor_endpoint(*, conversation: bool, methods: tuple[str, ...]) -> Callable[[View], View]:
    """Site by key, origin check, CORS, (conversation by token), errors as JSON."""

    def wrap(view: View) -> View:
        @csrf_exempt
        def wrapper(request: HttpRequest, site_key: str, **kwargs: Any) -> HttpResponseBase:
            origin = request.headers.get("Origin", "")
            site = ChatSite.objects.select_related("team").filter(public_key=site_key).first()
            if site is None or not site.active:
                return _error(404, f"no active chat site with key {site_key!r}")
            if origin and origin.rstrip("/").lower() not in site.allowed_origins:
                return _cors(
                    _error(403, f"origin {origin!r} is not allowed for this site", "origin"), ""
                )
            if request.method == "OPTIONS":
                return _cors(HttpResponse(status=204), origin)
            if request.method not in methods:
                return _cors(_error(405, f"{request.method} is not allowed here"), origin)
            try:
                args: list[Any] = [request, site]
                if conversation:
                    found = chat.conversation_for_token(site, _token(request))
                    if found is None:
                        raise Refused(401, "a valid conversation token is required", "token")
                    args.append(found)
                response: HttpResponseBase = view(*args, **kwargs)
            except Refused as exc:
                response = _error(exc.status, exc.detail, exc.field)
            except FlowdeskError as exc:
                response = JsonResponse(exc.as_dict(), status=exc.status)
            return _cors(response, origin)

        return wrapper

    return wrap


def site_config(site: ChatSite) -> dict[str, Any]:
    now = utcnow()
    return {
        "site": site.name,
        "online": chat.agents_available(site, now),
        "greeting": site.greeting,
        "offline_text": site.offline_text,
        "name_required": site.name_required,
        "email_required": site.email_required,
        "sse": bool(settings.FLOWDESK["CHAT_SSE"]),
        "poll_ms": 2000,
    }


@visitor_endpoint(conversation=False, methods=("GET",))
def config(request: HttpRequest, site: ChatSite) -> HttpResponse:
    return JsonResponse(site_config(site))


def conversation_out(c: ChatConversation, token: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": c.pk,
        "ticket_id": c.ticket_id,
        "offline": c.offline,
        "identified": c.identified,
        "ended": c.ended_at is not None,
    }
    if token:
        out["token"] = token
    return out


@visitor_endpoint(conversation=False, methods=("POST",))
def start(request: HttpRequest, site: ChatSite) -> HttpResponse:
    req = chat.clean_start(_json(request))
    limit = settings.FLOWDESK["CHAT_STARTS_PER_HOUR"]
    who = f"{site.pk}:{request.META.get('REMOTE_ADDR', '')}"
    if over_limit("start", who, limit, 3600):
        raise Refused(429, f"more than {limit} chats started from this address in an hour")
    conversation, token = chat.start_conversation(site, req, utcnow())
    return JsonResponse(conversation_out(conversation, token), status=201)


@visitor_endpoint(conversation=True, methods=("GET",))
def conversation_state(request: HttpRequest, site: ChatSite, c: ChatConversation) -> HttpResponse:
    return JsonResponse(conversation_out(c))


@visitor_endpoint(conversation=True, methods=("POST",))
def send(request: HttpRequest, site: ChatSite, c: ChatConversation) -> HttpResponse:
    data = _json(request)
    limit = settings.FLOWDESK["CHAT_MESSAGES_PER_MINUTE"]
    if over_limit("message", str(c.pk), limit, 60):
        raise Refused(429, f"more than {limit} messages in a minute")
    message_id = chat.visitor_message(c, data.get("body"), utcnow())
    return JsonResponse({"id": message_id}, status=201)


def _after(request: HttpRequest) -> int:
    raw = request.GET.get("after") or request.headers.get("Last-Event-ID") or "0"
    if not raw.isdigit():
        raise Refused(422, f"{raw!r} is not a message id", "after")
    return int(raw)


@visitor_endpoint(conversation=True, methods=("GET",))
def poll(request: HttpRequest, site: ChatSite, c: ChatConversation) -> HttpResponse:
    now = utcnow()
    chat.touch_visitor(c, now)
    return JsonResponse(chat.events(c, "visitor", _after(request), now))


def sse_stream(
    c: ChatConversation, side: str, after: int, *, visitor: bool
) -> StreamingHttpResponse:
    """Events as Server-Sent Events for up to CHAT_SSE_SECONDS (then the browser reconnects
    with Last-Event-ID): one query a second, one event whenever something changed."""
    lifetime = settings.FLOWDESK["CHAT_SSE_SECONDS"]

    def stream() -> Iterator[str]:
        cursor, last = after, ""
        yield "retry: 1000\n\n"
        deadline = time.monotonic() + lifetime
        while time.monotonic() < deadline:
            now = utcnow()
            if visitor:
                chat.touch_visitor(c, now)
                c.refresh_from_db(fields=["visitor_active_at"])
            data = chat.events(c, side, cursor, now)
            text = json.dumps(data)
            if data["messages"] or text != last:
                cursor = data["cursor"]
                yield f"id: {cursor}\ndata: {text}\n\n"
                last = json.dumps({**data, "messages": [], "cursor": cursor})
            if data["ended"]:
                break
            time.sleep(1)

    response = StreamingHttpResponse(stream(), content_type="text/event-stream")
    response["X-Accel-Buffering"] = "no"
    return response


@visitor_endpoint(conversation=True, methods=("GET",))
def stream(request: HttpRequest, site: ChatSite, c: ChatConversation) -> HttpResponseBase:
    if not settings.FLOWDESK["CHAT_SSE"]:
        raise Refused(404, "Server-Sent Events are off on this server: poll /events")
    return sse_stream(c, "visitor", _after(request), visitor=True)


@visitor_endpoint(conversation=True, methods=("POST",))
def typing(request: HttpRequest, site: ChatSite, c: ChatConversation) -> HttpResponse:
    data = _json(request)
    value = data.get("typing", True)
    if not isinstance(value, bool):
        raise Refused(422, f"{value!r} is not true or false", "typing")
    chat.set_typing(c, "visitor", value, utcnow())
    return HttpResponse(status=204)


@visitor_endpoint(conversation=True, methods=("POST",))
def seen(request: HttpRequest, site: ChatSite, c: ChatConversation) -> HttpResponse:
    chat.set_seen(c, "visitor", _json(request).get("message_id"))
    return HttpResponse(status=204)


@visitor_endpoint(conversation=True, methods=("POST",))
def end(request: HttpRequest, site: ChatSite, c: ChatConversation) -> HttpResponse:
    chat.end_conversation(c, chat.visitor_cause(c), utcnow())
    return JsonResponse(conversation_out(c))
