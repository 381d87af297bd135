"""The streams' database calls run on the event loop's shared pool, whose threads outlive every
stream and are never closed by a request's end: each call closes its connections, so no stream
keeps one open between its reads and none is left when it ends (on PostgreSQL the test
server's fixture, tests/chat/test_chat_sse.py, checks that no backend is left either)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any


def test_a_stream_read_leaves_its_pool_thread_without_a_connection(transactional_db: Any) -> None:
    from django.db import connections

    from flowdesk.chat.models import ChatConversation
    from flowdesk.chat.streams import _db

    pool = ThreadPoolExecutor(1)  # the loop's pool, of one thread: the probe runs on it too
    loop = asyncio.new_event_loop()
    loop.set_default_executor(pool)

    def opened() -> bool:
        return connections["default"].connection is not None

    async def read() -> int:
        count: int = await _db(lambda: ChatConversation.objects.count())()
        return count

    try:
        assert pool.submit(lambda: ChatConversation.objects.exists() and False).result() is False
        assert pool.submit(opened).result()  # a plain call on the pool leaves one open...
        assert loop.run_until_complete(read()) == 0
        assert not pool.submit(opened).result()  # ...a stream's read does not
    finally:
        pool.submit(connections.close_all).result()
        loop.close()  # and its pool
