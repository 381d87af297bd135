"""Fault injection: real `flowdesk worker` processes, SIGKILLed at each instant of a delivery,
against a local HTTP sink and a local SMTP server that count deliveries by idempotency key.

Zero lost, zero stuck; a duplicate only where docs/deployment.md says one can happen (the request
reached the receiver but its outcome was never recorded), always with the same key. Runs on the
suite's database: two workers on PostgreSQL, one restarted worker on SQLite (a file database).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from flowdesk.core.clock import utcnow
from flowdesk.outbox.models import OutboxItem, OutboxStatus
from flowdesk.outbox.services import do_enqueue
from smtp_sink import Sink, smtp_sink

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

LEASE = 2.0


class HttpSink:
    """Counts requests by Idempotency-Key. Paths: /ok answers at once; /hold holds the first
    request per key until released; /hang answers after ``hang_seconds`` (past the timeout)."""

    def __init__(self) -> None:
        self.received: Counter[str] = Counter()
        self.holding = 0
        self.release = threading.Event()
        self.hang_seconds = 3.0
        self.lock = threading.Lock()

    def handle(self, path: str, key: str) -> None:
        with self.lock:
            self.received[key] += 1
            first = self.received[key] == 1
        if path == "/hold" and first:
            with self.lock:
                self.holding += 1
            self.release.wait(15)
        elif path == "/hang":
            time.sleep(self.hang_seconds)


@pytest.fixture
def sink() -> Iterator[tuple[HttpSink, str]]:
    state = HttpSink()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state.handle(self.path, self.headers.get("Idempotency-Key", ""))
            try:
                self.send_response(204)
                self.end_headers()
            except OSError:  # the worker was killed while we held its request
                pass

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}"
    state.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def mailsink() -> Iterator[Sink]:
    with smtp_sink() as s:
        yield s


class Workers:
    """`flowdesk worker` subprocesses on the test database, with their own settings module."""

    def __init__(self, tmp: Path, mail: Sink) -> None:
        db = connection.settings_dict
        name = str(db["NAME"])
        if db["ENGINE"].endswith("sqlite3") and ("memory" in name or not name):
            pytest.skip("needs a file database (FLOWDESK_TEST_SQLITE_NAME) or PostgreSQL")
        keys = ("ENGINE", "NAME", "USER", "PASSWORD", "HOST", "PORT", "OPTIONS")
        database = {k: db[k] for k in keys if k in db}
        (tmp / "fault_settings.py").write_text(
            "from flowdesk.config.settings import *  # noqa\n"
            f"DATABASES = {{'default': {database!r}}}\n"
            "EMAIL_BACKEND = 'django.core.mail.backends.smtp.EmailBackend'\n"
            f"EMAIL_HOST = {mail.host!r}\nEMAIL_PORT = {mail.port}\nEMAIL_TIMEOUT = 5\n"
        )
        self.tmp = tmp
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, fault: str = "", **env: str) -> subprocess.Popen[bytes]:
        n = len(self.procs)
        full = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "fault_settings",
            "PYTHONPATH": os.pathsep.join([str(self.tmp), os.environ.get("PYTHONPATH", "")]),
            "FLOWDESK_OUTBOX_LEASE_SECONDS": str(LEASE),
            "FLOWDESK_OUTBOX_POLL_SECONDS": "0.1",
            "FLOWDESK_OUTBOX_BACKOFF_SECONDS": "0.2",
            "FLOWDESK_WEBHOOK_TIMEOUT": "8",
            "FLOWDESK_FAULT": fault,
            **env,
        }
        exe = Path(sys.executable).with_name("flowdesk")
        proc = subprocess.Popen(
            [str(exe), "worker", "--interval", "0.2"],
            env=full,
            cwd=self.tmp,
            stdout=(self.tmp / f"worker{n}.out").open("wb"),
            stderr=(self.tmp / f"worker{n}.err").open("wb"),
        )
        self.procs.append(proc)
        return proc

    def stderr(self, proc: subprocess.Popen[bytes]) -> str:
        return (self.tmp / f"worker{self.procs.index(proc)}.err").read_text(errors="replace")

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
            proc.wait(10)


@pytest.fixture
def workers(tmp_path: Path, mailsink: Sink) -> Iterator[Workers]:
    w = Workers(tmp_path, mailsink)
    yield w
    w.stop_all()


def _wait(what: str, check: Callable[[], bool], timeout: float, proof: Callable[[], str]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}: {proof()}")


def _settled() -> bool:
    return not OutboxItem.objects.filter(status=OutboxStatus.PENDING).exists()


def _enqueue(url: str, hooks: int, mails: int, tag: str) -> list[str]:
    from flowdesk.outbox.webhooks import do_create_endpoint

    # The sink is on loopback: registered (prefix) as an endpoint whose host may be private.
    if hooks:
        do_create_endpoint(
            name=f"sink-{tag}", url=f"{url}/", prefix=True, allow_private=True, author=None
        )
    keys = []
    for i in range(hooks):
        key = f"{tag}-hook-{i}"
        do_enqueue(
            kind="webhook",
            payload={"url": url, "body": {"n": i}},
            idempotency_key=key,
            now=utcnow(),
        )
        keys.append(key)
    for i in range(mails):
        key = f"{tag}-mail-{i}"
        do_enqueue(
            kind="notify",
            payload={"to": [f"c{i}@example.org"], "subject": f"s{i}", "body": "b"},
            idempotency_key=key,
            now=utcnow(),
        )
        keys.append(key)
    return keys


def _mail_counts(mail: Sink) -> Counter[str]:
    return Counter(str(m["X-Flowdesk-Outbox"]) for m in mail.received)


def _held_by(proc: subprocess.Popen[bytes]) -> set[str]:
    return set(
        OutboxItem.objects.filter(lease_owner__contains=f":{proc.pid}:").values_list(
            "idempotency_key", flat=True
        )
    )


@pytest.mark.parametrize("instant", ["before_send", "during", "after_send"])
def test_a_killed_worker_loses_nothing_and_duplicates_only_a_lost_response(
    workers: Workers, sink: tuple[HttpSink, str], mailsink: Sink, instant: str
) -> None:
    http, base = sink
    during = instant == "during"
    keys = _enqueue(f"{base}/hold" if during else f"{base}/ok", 6, 0 if during else 4, instant)
    victim = workers.start(fault="" if during else instant)
    if during:
        _wait("a held request", lambda: http.holding >= 1, 30, lambda: workers.stderr(victim))
    else:
        _wait(
            f"the {instant} fault",
            lambda: f"flowdesk fault: {instant}" in workers.stderr(victim),
            30,
            lambda: workers.stderr(victim),
        )
    on_postgres = connection.vendor == "postgresql"
    if on_postgres:  # a second live worker: it must not touch the hung worker's live leases
        workers.start()
        time.sleep(LEASE + 0.5)
    held = _held_by(victim)
    assert held, "the killed worker held no lease"
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)
    http.release.set()
    if not on_postgres:  # SQLite: the same worker, restarted
        workers.start()
    _wait("every item delivered", _settled, 30, lambda: str(list(OutboxItem.objects.values())))

    items = list(OutboxItem.objects.all())
    assert {i.status for i in items} == {OutboxStatus.DELIVERED}
    assert [i.pk for i in items if i.lease_owner or i.lease_expires_at] == []
    counts = http.received + _mail_counts(mailsink)
    assert set(counts) == set(keys)  # nothing lost, each delivery carries its item's key
    duplicated = {k for k, n in counts.items() if n > 1}
    if instant == "before_send":
        assert duplicated == set()
    else:  # the request reached the receiver, its outcome was never recorded
        assert duplicated <= held
        assert max(counts.values()) == 2
        assert {i.attempts for i in items if i.idempotency_key in duplicated} <= {2}
    # A repeated e-mail is the same message: same Message-ID, same outbox header.
    ids: dict[str, set[str]] = {}
    for m in mailsink.received:
        ids.setdefault(str(m["X-Flowdesk-Outbox"]), set()).add(str(m["Message-ID"]))
    assert all(len(v) == 1 for v in ids.values())


def test_a_hanging_receiver_delays_only_its_own_items(
    workers: Workers, sink: tuple[HttpSink, str], mailsink: Sink
) -> None:
    http, base = sink
    http.hang_seconds = 2.5
    hung = _enqueue(f"{base}/hang", 6, 0, "hang")
    workers.start(
        FLOWDESK_WEBHOOK_TIMEOUT="1",
        FLOWDESK_OUTBOX_BREAKER_FAILURES="3",
        FLOWDESK_OUTBOX_BREAKER_SECONDS="60",
    )
    _wait("the hanging receiver", lambda: sum(http.received.values()) >= 2, 30, lambda: "")
    delays = []
    for n in range(4):
        queued = time.monotonic()
        (key,) = _enqueue("", 0, 1, f"reply{n}")
        _wait("a reply", lambda k=key: _mail_counts(mailsink)[k] == 1, 10, lambda: "")
        delays.append(time.monotonic() - queued)
    assert max(delays) < 3, delays
    # After 3 consecutive timeouts the circuit opens: the receiver's items wait, none is sent.
    _wait("the breaker", lambda: sum(http.received.values()) >= 3, 20, lambda: str(http.received))
    time.sleep(1.5)
    attempts_then = sum(http.received.values())
    time.sleep(2)
    assert sum(http.received.values()) == attempts_then
    assert attempts_then < 3 * len(hung)
    pending = OutboxItem.objects.filter(idempotency_key__in=hung, status=OutboxStatus.PENDING)
    assert pending.count() == len(hung)
    tried = [i for i in pending if i.attempts]
    assert tried
    assert all("timed out" in i.last_error for i in tried), [i.last_error for i in tried]
