"""Server-Sent Events for the widget and the console, under an async server (uvicorn:
``flowdesk.config.asgi``; docs/chat.md, "Server-Sent Events").

A stream costs no thread and no query of its own while nothing happens: one ``Watcher`` per
process reads the stamps (``services.stamp``) of every conversation some stream follows, in one
indexed query every ``CHAT_SSE_TICK`` seconds, and wakes the streams whose chats changed; only
those load their events. A comment line every ``HEARTBEAT`` seconds keeps proxies from closing
an idle stream; after ``CHAT_SSE_SECONDS`` the stream ends and the browser reconnects with
``Last-Event-ID`` (the visitor's: the message cursor; the console's: its ``c=`` watch list).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections
from django.http import HttpRequest, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase

from flowdesk.accounts.models import User
from flowdesk.chat import services as chat
from flowdesk.chat.api import Refused, _after, _cors, _error, check_visitor_request, sse_available
from flowdesk.chat.console import changed_events, parse_watch
from flowdesk.chat.models import ChatConversation
from flowdesk.core.clock import utcnow
from flowdesk.core.errors import FlowdeskError

HEARTBEAT = 15.0


def _db(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A database call off the event loop, on the loop's small shared pool (not a thread per
    stream), closing connections that went stale as a request would."""

    def run(*args: Any) -> Any:
        close_old_connections()
        return fn(*args)

    return sync_to_async(run, thread_sensitive=False)


class Watcher:
    """The stamps of the conversations the process's streams follow, read in one query a tick;
    a stream waits with the stamps it has shown and is woken when one differs."""

    def __init__(self) -> None:
        self.waiters: dict[int, dict[asyncio.Event, str]] = {}
        self.task: asyncio.Task[None] | None = None

    async def wait(self, shown: dict[int, str], timeout: float) -> bool:
        """Until a stamp differs from ``shown`` (True) or ``timeout`` passed (False)."""
        event = asyncio.Event()
        for pk, value in shown.items():
            self.waiters.setdefault(pk, {})[event] = value
        loop = asyncio.get_running_loop()
        if self.task is None or self.task.done() or self.task.get_loop() is not loop:
            self.task = loop.create_task(self._run())
        try:
            await asyncio.wait_for(event.wait(), timeout)
            return True
        except TimeoutError:
            return False
        finally:
            for pk in shown:
                waiting = self.waiters.get(pk, {})
                waiting.pop(event, None)
                if not waiting:
                    self.waiters.pop(pk, None)

    async def _run(self) -> None:
        read = _db(lambda ids: chat.stamps(ids, utcnow()))
        while self.waiters:
            try:
                current = await read(list(self.waiters))
            except Exception:  # a database hiccup: try again next tick
                current = {}
            for pk, value in current.items():
                for event, shown in list(self.waiters.get(pk, {}).items()):
                    if shown != value:
                        event.set()
            await asyncio.sleep(settings.FLOWDESK["CHAT_SSE_TICK"])


WATCHER = Watcher()


def _response(events: AsyncIterator[str]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(events, content_type="text/event-stream")
    response["X-Accel-Buffering"] = "no"
    response["Cache-Control"] = "no-store"
    return response


async def _lifetime() -> AsyncIterator[float]:
    """Yields the time left (bounded by HEARTBEAT) until CHAT_SSE_SECONDS have passed."""
    deadline = time.monotonic() + settings.FLOWDESK["CHAT_SSE_SECONDS"]
    while (left := deadline - time.monotonic()) > 0:
        yield min(left, HEARTBEAT)


async def visitor_stream(request: HttpRequest, site_key: str) -> HttpResponseBase:
    """The widget's stream: the visitor endpoints' checks, then one event per change."""
    check = _db(
        lambda: check_visitor_request(request, site_key, conversation=True, methods=("GET",))
    )
    checked: tuple[HttpResponseBase | None, str, Any, ChatConversation | None] = await check()
    refusal, origin, _site, c = checked
    if refusal is not None:
        return refusal
    assert c is not None
    if not sse_available(request):
        return _cors(_error(404, "Server-Sent Events are off on this server: poll /events"), origin)
    try:
        after = _after(request)
    except Refused as exc:
        return _cors(_error(exc.status, exc.detail, exc.field), origin)
    return _cors(_response(_visitor_events(c, after)), origin)


async def _visitor_events(c: ChatConversation, after: int) -> AsyncIterator[str]:
    read = _db(lambda cursor: chat.events(c, "visitor", cursor, utcnow()))
    touch = _db(lambda: chat.touch_visitor(c, utcnow()))
    yield "retry: 1000\n\n"
    cursor, last = after, ""
    async for wait in _lifetime():
        data = await read(cursor)
        if data["stamp"] != last or data["messages"]:
            cursor, last = data["cursor"], data["stamp"]
            yield f"id: {cursor}\ndata: {json.dumps(data)}\n\n"
        if data["ended"]:
            return
        if not await WATCHER.wait({c.pk: last}, wait):
            yield ": heartbeat\n\n"
            await touch()  # the visitor is still there (the delivery hook reads it)
            c.visitor_active_at = utcnow()


async def agent_stream(request: HttpRequest) -> HttpResponseBase:
    """The console's stream for all the chats it follows (``c=``, as its poll)."""
    user = await request.auser()
    if not (isinstance(user, User) and user.is_agent):
        return JsonResponse({"detail": "sign in as an agent"}, status=401)
    if not sse_available(request):
        return JsonResponse({"detail": "Server-Sent Events are off: poll events"}, status=404)
    try:
        watch = parse_watch(request.headers.get("Last-Event-ID") or request.GET.get("c", ""))
    except FlowdeskError as exc:
        return JsonResponse(exc.as_dict(), status=exc.status)
    return _response(_agent_events(user, watch))


async def _agent_events(user: User, watch: dict[int, tuple[int, str]]) -> AsyncIterator[str]:
    read = _db(changed_events)
    yield "retry: 1000\n\n"
    async for wait in _lifetime():
        changed = await read(user, watch)
        if changed:
            for key, data in changed.items():
                watch[int(key)] = (data["cursor"], data["stamp"])
            last_id = ",".join(f"{pk}:{cursor}" for pk, (cursor, _) in watch.items())
            yield f"id: {last_id}\ndata: {json.dumps({'chats': changed})}\n\n"
        if not await WATCHER.wait({pk: st for pk, (_, st) in watch.items()}, wait):
            yield ": heartbeat\n\n"
