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
from django.db import connections
from django.http import HttpRequest, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase

from flowdesk.accounts.models import User
from flowdesk.chat import services as chat
from flowdesk.chat.api import Refused, _after, _cors, _error, check_visitor_request, sse_available
from flowdesk.chat.console import Follow, changed_events
from flowdesk.chat.models import ChatConversation
from flowdesk.core.clock import utcnow
from flowdesk.core.errors import FlowdeskError

HEARTBEAT = 15.0
#: a console's stream reads a change of its list (not of a chat it shows in full) at most this
#: often: an unread marker needs no sub-second latency, and every agent's list holds every chat
LIST_SECONDS = 1.5


def _db(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A database call off the event loop, on the loop's small shared pool (not a thread per
    stream). The pool's threads outlive every stream and no request cycle closes their
    connections, so each call closes its own: a stream holds no database connection between
    its reads, and none is left behind when it ends."""

    def run(*args: Any) -> Any:
        try:
            return fn(*args)
        finally:
            connections.close_all()

    return sync_to_async(run, thread_sensitive=False)


class Watcher:
    """The stamps of the conversations the process's streams follow, read in one query a tick;
    a stream waits with the stamps it has shown and is woken when one differs, or (a console's
    stream) when an open chat newer than its list's newest starts."""

    def __init__(self) -> None:
        self.waiters: dict[int, dict[asyncio.Event, str]] = {}
        self.newer: dict[asyncio.Event, int] = {}
        #: the newest open chat id the last tick saw (0: none newer than any stream's list)
        self.newest_open = 0
        #: the stamps the last tick read
        self.current: dict[int, str] = {}
        self.task: asyncio.Task[None] | None = None

    async def wait(
        self, shown: dict[int, str], timeout: float, newer_than: int | None = None
    ) -> bool:
        """Until a stamp differs from ``shown`` or a chat newer than ``newer_than`` starts
        (True), or ``timeout`` passed (False)."""
        event = asyncio.Event()
        for pk, value in shown.items():
            self.waiters.setdefault(pk, {})[event] = value
        if newer_than is not None:
            self.newer[event] = newer_than
        loop = asyncio.get_running_loop()
        if self.task is None or self.task.done() or self.task.get_loop() is not loop:
            self.task = loop.create_task(self._run())
        try:
            await asyncio.wait_for(event.wait(), timeout)
            return True
        except TimeoutError:
            return False
        finally:
            self.newer.pop(event, None)
            for pk in shown:
                waiting = self.waiters.get(pk, {})
                waiting.pop(event, None)
                if not waiting:
                    self.waiters.pop(pk, None)

    async def _run(self) -> None:
        read = _db(lambda ids, newer: chat.stamps(ids, utcnow(), newer_than=newer))
        while self.waiters or self.newer:
            newer = min(self.newer.values(), default=None)
            try:
                current = await read(list(self.waiters), newer)
            except Exception:  # a database hiccup: try again next tick
                current = {}
            self.current = current
            for pk, value in current.items():
                for event, shown in list(self.waiters.get(pk, {}).items()):
                    if shown != value:
                        event.set()
            fresh = [pk for pk in current if newer is not None and pk > newer]
            if fresh:
                self.newest_open = max(self.newest_open, *fresh)
                for event, since in list(self.newer.items()):
                    if max(fresh) > since:
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
    """The console's stream for all the chats it follows (``c=``, ``l=``, ``n=``, as its
    poll)."""
    user = await request.auser()
    if not (isinstance(user, User) and user.is_agent):
        return JsonResponse({"detail": "sign in as an agent"}, status=401)
    if not sse_available(request):
        return JsonResponse({"detail": "Server-Sent Events are off: poll events"}, status=404)
    q = request.GET
    try:
        last = request.headers.get("Last-Event-ID")
        follow = (
            Follow.from_event_id(last)
            if last
            else Follow.parse(q.get("c", ""), q.get("l", ""), q.get("n", ""))
        )
    except FlowdeskError as exc:
        return JsonResponse(exc.as_dict(), status=exc.status)
    return _response(_agent_events(user, follow))


async def _agent_events(user: User, follow: Follow) -> AsyncIterator[str]:
    read = _db(changed_events)
    yield "retry: 1000\n\n"
    async for wait in _lifetime():
        top = WATCHER.newest_open  # chats up to this one exist before the read below
        changed = await read(user, follow)
        if changed:
            follow.seen(changed)
        if follow.newest is not None:
            # a newer chat the agent may not see must not wake this stream again
            follow.newest = max(follow.newest, top)
        if changed:
            yield f"id: {follow.last_event_id()}\ndata: {json.dumps(changed)}\n\n"
        read_at = time.monotonic()
        if not await WATCHER.wait(follow.shown(), wait, newer_than=follow.newest):
            yield ": heartbeat\n\n"
            continue
        full = {pk: st for pk, (_, st) in follow.chats.items()}
        if any(WATCHER.current.get(pk, st) != st for pk, st in full.items()):
            continue  # a chat shown in full changed: read it now
        pause = LIST_SECONDS - (time.monotonic() - read_at)
        if pause > 0:  # only the list changed: read it with what else comes meanwhile
            await (WATCHER.wait(full, pause) if full else asyncio.sleep(pause))
