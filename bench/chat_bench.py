"""Live chat: message latency from the customer's send to the agent's screen, 100 chats at once.

    python bench/chat_bench.py --setup embedded [--chats 100] [--messages 5]
    python bench/chat_bench.py --setup production \\
        --database postgres://postgres@127.0.0.1:5432/flowdesk_chatbench [--web 2 --threads 8]

A real server (bench/load_bench.py starts it: ``flowdesk serve`` — waitress, SQLite, the
in-process worker — or gunicorn + a flowdesk worker on PostgreSQL, whose database is dropped
and created again), a chat site whose team has one agent (signed in: a session cookie).
``--chats`` visitors start a chat each through the visitor endpoints and send ``--messages``
messages, 1 to 3 s apart; for each chat an agent-side poller reads
``/agent/chats/<id>/events?after=<cursor>`` every ``--poll`` seconds — the endpoint and interval
of the console's script (static/chat/console.js, 1.5 s). Latency = from the start of the
visitor's POST to the poll that brought the message to the agent (so it includes the poll
interval: half of it on average). Reported: p50/p99 of that latency, of the send itself, and of
one poll; baseline in the same run: a bare round-trip to the same server (GET of the widget
script, no database) and an empty poll with no chat traffic.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from load_bench import _free_port, _start, _stop, _wait_ready, server_env  # noqa: E402

AGENT = "chat-agent@bench.test"


def _prepare(chats: int) -> tuple[str, str]:
    """Migrate; an agent in a team, a chat site for it; the site key and a session cookie."""
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client

    settings.ALLOWED_HOSTS = ["*"]
    call_command("migrate", verbosity=0)
    from flowdesk.accounts.models import Role
    from flowdesk.accounts.services import do_create_team, do_create_user
    from flowdesk.chat.sites import check_create_site

    agent = do_create_user(AGENT, name="Ana Agent", role=Role.AGENT)
    do_create_team("Chat", [agent])
    site = check_create_site({"name": "bench", "team": "Chat", "allowed_origins": []})
    client = Client()
    client.force_login(agent)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    from django.db import connections

    connections.close_all()
    return site.public_key, f"{settings.SESSION_COOKIE_NAME}={cookie}"


class Conn:
    """One keep-alive connection per thread, reopened when the server closes it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        data = json.dumps(body) if body is not None else None
        h = {"Content-Type": "application/json", **(headers or {})}
        for attempt in range(3):
            try:
                self.conn.request(method, path, body=data, headers=h)
                r = self.conn.getresponse()
                raw = r.read()
                ctype = r.getheader("Content-Type", "")
                return r.status, json.loads(raw) if ctype.startswith("application/json") else raw
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] * 1000 if xs else float("nan")


def _timed(conn: Conn, path: str, n: int, headers: dict[str, str] | None = None) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        status, _ = conn.call("GET", path, headers=headers)
        out.append(time.perf_counter() - t)
        assert status == 200, (path, status)
    return out


def run(port: int, key: str, cookie: str, args: argparse.Namespace) -> None:
    base = f"/chat/v1/{key}/"
    agent_headers = {"Cookie": cookie}
    warm = Conn(port)
    bare = _timed(warm, "/static/chat/widget.js", 200)
    status, first = warm.call("POST", base + "conversations", {"name": "Baseline"})
    assert status == 201, first
    baseline_poll = _timed(
        warm, f"/agent/chats/{first['id']}/events?after=1000000000", 200, agent_headers
    )

    sent_at: dict[str, float] = {}
    latency: list[float] = []
    sends: list[float] = []
    polls: list[float] = []
    lock = threading.Lock()
    done = threading.Event()
    errors: list[str] = []
    rng = random.Random(args.seed)
    pauses = [[rng.uniform(1.0, 3.0) for _ in range(args.messages)] for _ in range(args.chats)]
    # The chats are started first, one after the other (setup, not measured).
    chat_ids: list[int] = []
    tokens: list[str] = []
    for n in range(args.chats):
        status, c = warm.call("POST", base + "conversations", {"name": f"Visitor {n}"})
        assert status == 201, c
        chat_ids.append(c["id"])
        tokens.append(c["token"])

    def visitor(n: int) -> None:
        conn = Conn(port)
        auth = {"Authorization": f"Bearer {tokens[n]}"}
        for i, pause in enumerate(pauses[n]):
            time.sleep(pause)
            body = f"chat {n} message {i}"
            t = time.perf_counter()
            with lock:
                sent_at[body] = t
            try:
                status, r = conn.call("POST", base + "messages", {"body": body}, auth)
            except OSError as exc:
                status, r = 0, exc
            if status != 201:
                errors.append(f"send {status} {r}")
            with lock:
                sends.append(time.perf_counter() - t)

    def agent(n: int) -> None:
        conn = Conn(port)
        cursor = 0
        while not done.is_set():
            t = time.perf_counter()
            try:
                status, ev = conn.call(
                    "GET", f"/agent/chats/{chat_ids[n]}/events?after={cursor}", None, agent_headers
                )
            except OSError as exc:
                status, ev = 0, exc
            now = time.perf_counter()
            if status != 200:
                errors.append(f"poll {status}")
                break
            with lock:
                polls.append(now - t)
                for m in ev["messages"]:
                    at = sent_at.pop(m["body"], None)
                    if at is not None:
                        latency.append(now - at)
            cursor = ev["cursor"]
            time.sleep(max(0.0, args.poll - (time.perf_counter() - t)))

    visitors = [threading.Thread(target=visitor, args=(n,)) for n in range(args.chats)]
    agents = [threading.Thread(target=agent, args=(n,)) for n in range(args.chats)]
    t0 = time.monotonic()
    for th in agents + visitors:
        th.start()
    for th in visitors:
        th.join()
    deadline = time.monotonic() + 2 * args.poll + 10
    while sent_at and time.monotonic() < deadline:
        time.sleep(0.1)
    done.set()
    for th in agents:
        th.join()
    wall = time.monotonic() - t0
    expected = args.chats * args.messages
    print(f"chats: {args.chats}, messages: {expected} in {wall:.1f} s, agent poll {args.poll} s")
    print(f"  delivered to the agent: {len(latency)} of {expected}; errors: {len(errors)}")
    for e in errors[:5]:
        print(f"    {e}")
    rows = [
        ("baseline: bare round-trip (widget.js)", bare),
        ("baseline: empty agent poll, no traffic", baseline_poll),
        ("customer send (POST messages)", sends),
        ("agent poll under load", polls),
        ("send -> agent screen", latency),
    ]
    print(f"  {'':42} {'n':>6} {'p50 ms':>9} {'p99 ms':>9} {'mean ms':>9}")
    for name, xs in rows:
        mean = statistics.fmean(xs) * 1000 if xs else float("nan")
        print(f"  {name:42} {len(xs):6} {_pct(xs, 0.5):9.1f} {_pct(xs, 0.99):9.1f} {mean:9.1f}")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--setup", choices=["embedded", "production"], default="embedded")
    p.add_argument("--database", default="postgres://postgres@127.0.0.1:5432/flowdesk_chatbench")
    p.add_argument("--chats", type=int, default=100)
    p.add_argument("--messages", type=int, default=5, help="per chat")
    p.add_argument("--poll", type=float, default=1.5, help="the console's poll interval (s)")
    p.add_argument("--web", type=int, default=2, help="gunicorn processes (production)")
    p.add_argument("--threads", type=int, default=8, help="threads per web process")
    p.add_argument("--workers", type=int, default=1, help="flowdesk worker processes")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    tmp = tempfile.TemporaryDirectory()
    env = server_env(
        args,
        tmp.name,
        FLOWDESK_CHAT_STARTS_PER_HOUR="0",  # every visitor comes from 127.0.0.1
        FLOWDESK_CHAT_MESSAGES_PER_MINUTE="0",
    )
    key, cookie = _prepare(args.chats)
    port = args.port or _free_port()
    procs = _start(args, env, port)
    try:
        _wait_ready(port)
        where = (
            "embedded (flowdesk serve: waitress, SQLite)"
            if args.setup == "embedded"
            else (f"production (gunicorn {args.web} x {args.threads} threads, PostgreSQL)")
        )
        print(f"setup: {where}")
        run(port, key, cookie, args)
    finally:
        for proc in procs:
            _stop(proc)
        tmp.cleanup()


if __name__ == "__main__":
    main()
