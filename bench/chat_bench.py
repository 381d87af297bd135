"""Live chat: message latency from the customer's send to the agent's screen, 100 chats at once.

    python bench/chat_bench.py --setup embedded [--chats 100] [--messages 5] [--agents 10]
    python bench/chat_bench.py --setup production \\
        --database postgres://postgres@127.0.0.1:5432/flowdesk_chatbench [--web 2 --threads 8]
    python bench/chat_bench.py --setup sse --database postgres://... [--web 2]

A real server (bench/load_bench.py starts it: ``flowdesk serve`` — waitress, SQLite, the
in-process worker — or gunicorn + a flowdesk worker on PostgreSQL, whose database is dropped
and created again; ``sse``: gunicorn with uvicorn workers on ``flowdesk.config.asgi`` and
FLOWDESK_CHAT_SSE=1, as docs/deployment.md says), a chat site whose team has ``--agents``
agents (each signed in: a session cookie). ``--chats`` visitors start a chat each through the
visitor endpoints and send ``--messages`` messages, 1 to 3 s apart. Chat n is handled by agent
n mod ``--agents``; each agent's console follows what the console script follows
(static/chat/console.js), through its one endpoint: its chats in full (``c=id:cursor:stamp``),
every other chat of its list as a summary (``l=id:stamp``) and the newest chat id (``n=``).
Polling (embedded, production): ``/agent/chats/events`` every ``--poll`` seconds, 204 when
nothing changed; SSE: one ``/agent/chats/stream`` per agent, reconnected with Last-Event-ID
when the server ends it. Latency = from the start of the visitor's POST to the response or
event that brought the message to the agent (a poll's includes the wait for the next poll: half
the interval on average). Reported: p50/p99 of that latency, of the send itself and of one poll;
baselines in the same run: a bare round-trip to the same server (GET of the widget script, no
database) and an empty poll (the same watch list, nothing changed: a 204) with no chat traffic.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from load_bench import BIN, _free_port, _start, _stop, _wait_ready, server_env  # noqa: E402


def _prepare(agents: int) -> tuple[str, list[str]]:
    """Migrate; agents in a team, a chat site for it; the site key and a session cookie each."""
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

    users = [
        do_create_user(f"chat-agent{n}@bench.test", name=f"Agent {n}", role=Role.AGENT)
        for n in range(agents)
    ]
    do_create_team("Chat", users)
    site = check_create_site({"name": "bench", "team": "Chat", "allowed_origins": []})
    cookies = []
    for user in users:
        client = Client()
        client.force_login(user)
        cookies.append(
            f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
        )
    from django.db import connections

    connections.close_all()
    return site.public_key, cookies


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


def _timed(
    conn: Conn, path: str, n: int, headers: dict[str, str] | None = None, expect: int = 200
) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        status, _ = conn.call("GET", path, headers=headers)
        out.append(time.perf_counter() - t)
        assert status == expect, (path, status)
    return out


class Console:
    """What one agent's console follows: its chats in full, the rest of its list by stamp."""

    def __init__(self, mine: list[int], others: list[int]) -> None:
        self.chats = {pk: (0, "") for pk in mine}
        self.listed = {pk: "" for pk in others}
        self.newest = max(mine + others, default=0)

    def query(self) -> str:
        c = ",".join(f"{pk}:{cur}:{st}" for pk, (cur, st) in self.chats.items())
        lst = ",".join(f"{pk}:{st}" for pk, st in self.listed.items())
        return f"c={quote(c, safe=':.,')}&l={quote(lst, safe=':.,')}&n={self.newest}"

    def take(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        """Takes in a poll's or an event's body; the messages it brought."""
        messages = []
        for key, ev in body.get("chats", {}).items():
            self.chats[int(key)] = (ev["cursor"], ev["stamp"])
            messages += ev["messages"]
        for key, summary in body.get("list", {}).items():
            if int(key) not in self.chats:
                self.listed[int(key)] = summary["stamp"]
            self.newest = max(self.newest, int(key))
        return messages


def run(port: int, key: str, cookies: list[str], args: argparse.Namespace) -> None:
    base = f"/chat/v1/{key}/"
    headers = [{"Cookie": cookie} for cookie in cookies]
    warm = Conn(port)
    bare = _timed(warm, "/static/chat/widget.js", 200)
    # The chats are started first, one after the other (setup, not measured).
    chat_ids: list[int] = []
    tokens: list[str] = []
    for n in range(args.chats):
        status, c = warm.call("POST", base + "conversations", {"name": f"Visitor {n}"})
        assert status == 201, c
        chat_ids.append(c["id"])
        tokens.append(c["token"])
    consoles = []
    for a in range(args.agents):
        mine = chat_ids[a :: args.agents]
        consoles.append(Console(mine, [pk for pk in chat_ids if pk not in set(mine)]))
    # Bring each console up to date once, then time its empty poll (a 204): no chat traffic.
    for a, console in enumerate(consoles):
        status, body = warm.call("GET", f"/agent/chats/events?{console.query()}", None, headers[a])
        assert status == 200, (status, body)
        console.take(body)
    baseline_poll = _timed(
        warm, f"/agent/chats/events?{consoles[0].query()}", 200, headers[0], expect=204
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

    def arrived(messages: list[dict[str, Any]], now: float) -> None:
        with lock:
            for m in messages:
                at = sent_at.pop(m["body"], None)
                if at is not None:
                    latency.append(now - at)

    def poller(a: int) -> None:
        conn, console = Conn(port), consoles[a]
        while not done.is_set():
            t = time.perf_counter()
            try:
                status, body = conn.call(
                    "GET", f"/agent/chats/events?{console.query()}", None, headers[a]
                )
            except OSError as exc:
                status, body = 0, exc
            now = time.perf_counter()
            if status not in (200, 204):
                errors.append(f"poll {status}")
                break
            with lock:
                polls.append(now - t)
            if status == 200:
                arrived(console.take(body), now)
            time.sleep(max(0.0, args.poll - (time.perf_counter() - t)))

    def listener(a: int) -> None:
        console, last_id = consoles[a], ""
        while not done.is_set():
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            h = dict(headers[a], Accept="text/event-stream")
            if last_id:
                h["Last-Event-ID"] = last_id
            try:
                conn.request("GET", f"/agent/chats/stream?{console.query()}", headers=h)
                r = conn.getresponse()
                if r.status != 200:
                    errors.append(f"stream {r.status}")
                    return
                data = ""
                while not done.is_set():
                    line = r.readline()
                    if not line:
                        break  # the server ended the stream: reconnect
                    text = line.decode().rstrip("\n")
                    if text.startswith("id: "):
                        last_id = text[4:]
                    elif text.startswith("data: "):
                        data = text[6:]
                    elif not text and data:
                        arrived(console.take(json.loads(data)), time.perf_counter())
                        data = ""
            except (OSError, http.client.HTTPException):
                pass  # a read timeout while nothing happened, or a closed stream
            finally:
                conn.close()

    visitors = [threading.Thread(target=visitor, args=(n,)) for n in range(args.chats)]
    follow = listener if args.setup == "sse" else poller
    agents = [threading.Thread(target=follow, args=(a,)) for a in range(args.agents)]
    t0 = time.monotonic()
    for th in agents:
        th.start()
    time.sleep(1.0 if args.setup == "sse" else 0.0)  # the streams are open
    load_before = os.getloadavg()
    for th in visitors:
        th.start()
    for th in visitors:
        th.join()
    deadline = time.monotonic() + 2 * args.poll + 10
    while sent_at and time.monotonic() < deadline:
        time.sleep(0.1)
    load_after = os.getloadavg()
    done.set()
    for th in agents:
        th.join()
    wall = time.monotonic() - t0
    expected = args.chats * args.messages
    how = "SSE streams" if args.setup == "sse" else f"polling every {args.poll} s"
    print(f"chats: {args.chats}, messages: {expected} in {wall:.1f} s; {args.agents} agents, {how}")
    print(
        f"  load average (1 min) before/after the run: {load_before[0]:.2f} / {load_after[0]:.2f}"
    )
    print(f"  delivered to the agent: {len(latency)} of {expected}; errors: {len(errors)}")
    for e in errors[:5]:
        print(f"    {e}")
    rows = [
        ("baseline: bare round-trip (widget.js)", bare),
        ("baseline: empty console poll (204)", baseline_poll),
        ("customer send (POST messages)", sends),
        ("agent poll under load", polls),
        ("send -> agent screen", latency),
    ]
    print(f"  {'':42} {'n':>6} {'p50 ms':>9} {'p99 ms':>9} {'mean ms':>9}")
    for name, xs in rows:
        mean = statistics.fmean(xs) * 1000 if xs else float("nan")
        print(f"  {name:42} {len(xs):6} {_pct(xs, 0.5):9.1f} {_pct(xs, 0.99):9.1f} {mean:9.1f}")


def _start_sse(args: argparse.Namespace, env: dict[str, str], port: int) -> list[Any]:
    """gunicorn with uvicorn workers on the ASGI app, and a flowdesk worker (docs/deployment.md)."""
    web = [
        str(BIN / "gunicorn"),
        "flowdesk.config.asgi:application",
        "-k",
        "uvicorn.workers.UvicornWorker",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(args.web),
        "--log-level",
        "warning",
    ]
    out = subprocess.DEVNULL
    procs = [subprocess.Popen(web, env=env, stdout=out, start_new_session=True)]
    for _ in range(args.workers):
        cmd = [str(BIN / "flowdesk"), "worker", "--interval", "0.2"]
        procs.append(subprocess.Popen(cmd, env=env, stdout=out, stderr=out, start_new_session=True))
    return procs


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--setup", choices=["embedded", "production", "sse"], default="embedded")
    p.add_argument("--database", default="postgres://postgres@127.0.0.1:5432/flowdesk_chatbench")
    p.add_argument("--chats", type=int, default=100)
    p.add_argument("--messages", type=int, default=5, help="per chat")
    p.add_argument("--agents", type=int, default=10, help="chat n is agent n mod this's")
    p.add_argument("--poll", type=float, default=1.5, help="the console's poll interval (s)")
    p.add_argument("--web", type=int, default=2, help="gunicorn processes (production, sse)")
    p.add_argument("--threads", type=int, default=8, help="threads per web process")
    p.add_argument("--workers", type=int, default=1, help="flowdesk worker processes")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--profile", default="", help="py-spy record the web server into this file")
    args = p.parse_args()
    tmp = tempfile.TemporaryDirectory()
    env = server_env(
        args,
        tmp.name,
        FLOWDESK_CHAT_STARTS_PER_HOUR="0",  # every visitor comes from 127.0.0.1
        FLOWDESK_CHAT_MESSAGES_PER_MINUTE="0",
        FLOWDESK_CHAT_SSE="1" if args.setup == "sse" else "0",
    )
    key, cookies = _prepare(args.agents)
    port = args.port or _free_port()
    procs = _start_sse(args, env, port) if args.setup == "sse" else _start(args, env, port)
    spy = None
    try:
        _wait_ready(port)
        if args.profile:
            spy = subprocess.Popen(
                [
                    str(BIN / "py-spy"),
                    "record",
                    "--subprocesses",
                    "--pid",
                    str(procs[0].pid),
                    "--format",
                    "raw",
                    "--output",
                    args.profile,
                    "--rate",
                    "50",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        where = {
            "embedded": "embedded (flowdesk serve: waitress, SQLite)",
            "production": f"production (gunicorn {args.web} x {args.threads} threads, PostgreSQL)",
            "sse": f"SSE (gunicorn {args.web} uvicorn workers, ASGI, PostgreSQL)",
        }[args.setup]
        print(f"setup: {where}")
        run(port, key, cookies, args)
    finally:
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(timeout=60)
        for proc in procs:
            _stop(proc)
        tmp.cleanup()


if __name__ == "__main__":
    main()
