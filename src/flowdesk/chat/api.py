"""The visitor endpoints the widget calls (public; docs/chat.md, "Visitor endpoints").

``/chat/v1/<site key>/...``: the site's public key names the site, a conversation's token
(``Authorization: Bearer ct_...``) names the conversation. Answers are JSON; a bad field is a 422
naming it (``{"detail": ..., "errors": [{"field", "message"}]}``, as the REST API's). CORS: a
browser request from an origin the site does not list is refused (403) before anything runs;
allowed origins get the CORS headers (preflights included). The stream (``streams.py``) makes
the same checks (``check_visitor_request``). Requests are rate-limited per client
address (starts) and per conversation (messages), in Django's cache.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from flowdesk.chat import services as chat
from flowdesk.chat.models import ChatConversation, ChatSite
from flowdesk.core.clock import utcnow
from flowdesk.core.errors import FlowdeskError
from flowdesk.core.i18n import supported

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


def _site_and_conversation(
    request: HttpRequest, site_key: str, conversation: bool
) -> tuple[ChatSite | None, ChatConversation | None]:
    """One query on the common path: the conversation by its token's hash, with its site and
    ticket (a poll's stamp needs nothing else); the site alone when there is no such token."""
    token = _token(request) if conversation else ""
    found = chat.conversation_for_token(site_key, token) if token else None
    if found is not None:
        return found.site, found
    site = ChatSite.objects.select_related("team").filter(public_key=site_key).first()
    return site, None


def _allowed_origin(request: HttpRequest, site: ChatSite, origin: str) -> bool:
    """One of the site's origins, or flowdesk's own (its page to try the widget, where a
    browser's request is same-origin and needs no CORS grant)."""
    origin = origin.rstrip("/").lower()
    own = f"{request.scheme}://{request.get_host()}".lower()
    return origin in site.allowed_origins or origin == own


def check_visitor_request(
    request: HttpRequest, site_key: str, *, conversation: bool, methods: tuple[str, ...]
) -> tuple[HttpResponseBase | None, str, ChatSite | None, ChatConversation | None]:
    """The checks every visitor endpoint makes, in order: site by key, origin, preflight,
    method, conversation by token. Returns a refusal (or None), the origin, site and chat."""
    origin = request.headers.get("Origin", "")
    site, found = _site_and_conversation(request, site_key, conversation)
    if site is None or not site.active:
        return _error(404, f"no active chat site with key {site_key!r}"), "", None, None
    if origin and not _allowed_origin(request, site, origin):
        refusal = _error(403, f"origin {origin!r} is not allowed for this site", "origin")
        return _cors(refusal, ""), "", None, None
    if request.method == "OPTIONS":
        return _cors(HttpResponse(status=204), origin), origin, site, None
    if request.method not in methods:
        return _cors(_error(405, f"{request.method} is not allowed here"), origin), "", None, None
    if conversation and found is None:
        refusal = _error(401, "a valid conversation token is required", "token")
        return _cors(refusal, origin), origin, site, None
    return None, origin, site, found


def visitor_endpoint(*, conversation: bool, methods: tuple[str, ...]) -> Callable[[View], View]:
    """Site by key, origin check, CORS, (conversation by token), errors as JSON."""

    def wrap(view: View) -> View:
        @csrf_exempt
        def wrapper(request: HttpRequest, site_key: str, **kwargs: Any) -> HttpResponseBase:
            refusal, origin, site, found = check_visitor_request(
                request, site_key, conversation=conversation, methods=methods
            )
            if refusal is not None:
                return refusal
            try:
                args: list[Any] = [request, site]
                if conversation:
                    args.append(found)
                response: HttpResponseBase = view(*args, **kwargs)
            except Refused as exc:
                response = _error(exc.status, exc.detail, exc.field)
            except FlowdeskError as exc:
                response = JsonResponse(exc.as_dict(), status=exc.status)
            return _cors(response, origin)

        return wrapper

    return wrap


def sse_available(request: HttpRequest) -> bool:
    """Server-Sent Events need an async server (uvicorn: ``flowdesk.config.asgi``); under a
    threaded WSGI server each stream would hold a thread, so clients poll there."""
    return bool(settings.FLOWDESK["CHAT_SSE"]) and isinstance(request, ASGIRequest)


def site_config(site: ChatSite, sse: bool = False) -> dict[str, Any]:
    now = utcnow()
    return {
        "site": site.name,
        "online": chat.agents_available(site, now),
        "greeting": site.greeting,
        "offline_text": site.offline_text,
        "name_required": site.name_required,
        "email_required": site.email_required,
        "sse": sse,
        "poll_ms": 2000,
    }


def widget_texts() -> dict[str, str]:
    """The widget's own texts in the active language (the site's greeting and offline text are
    the admin's own words and come as they were written)."""
    return {
        "launcher": _("Chat with us"),
        "dialog": _("Chat"),
        "name": _("Name"),
        "email": _("E-mail"),
        "message": _("Message"),
        "optional": _("%(field)s (optional)"),
        "start": _("Start chat"),
        "send": _("Send"),
        "end": _("End chat"),
        "your_message": _("Your message"),
        "support": _("Support"),
        "typing": _("%(name)s is typing…"),
        "seen": _("Seen"),
        "ended": _("This chat has ended."),
        "offline_sent": _("Thanks! We will answer by e-mail."),
        "failed": _("Something went wrong."),
    }


def _widget_language(request: HttpRequest) -> str:
    """The language of the page the widget is on (``lang``, its <html lang>), when flowdesk
    speaks it; else the visitor's browser's (Accept-Language, as every page)."""
    return supported(request.GET.get("lang", "")[:35]) or (
        translation.get_language() or settings.LANGUAGE_CODE
    )


@visitor_endpoint(conversation=False, methods=("GET",))
def config(request: HttpRequest, site: ChatSite) -> HttpResponse:
    language = _widget_language(request)
    with translation.override(language):
        texts = widget_texts()
    return JsonResponse(
        {**site_config(site, sse_available(request)), "language": language, "texts": texts}
    )


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
    """The widget's poll. ``v``: the stamp of its last answer; unchanged, the answer is an
    empty 204 and the poll has cost the one query that found the conversation."""
    now = utcnow()
    chat.touch_visitor(c, now)
    after = _after(request)
    if request.GET.get("v") and request.GET["v"] == chat.conversation_stamp(c, now):
        return HttpResponse(status=204)
    return JsonResponse(chat.events(c, "visitor", after, now))


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
