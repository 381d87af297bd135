"""Runs and rounds: a worker claims a few items of one destination at once, delivers them one
after the other, and records every finished attempt, gives back what it did not start and claims
again in one transaction; the embedded pool is woken by the commit itself, without a task row.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.core import mail
from django.db import connection, transaction

from flowdesk.core.clock import utcnow
from flowdesk.outbox.models import OutboxItem, OutboxStatus
from flowdesk.outbox.services import (
    attempt,
    claim_runs,
    do_enqueue,
    record,
    record_and_claim,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sink() -> Iterator[tuple[Counter[str], str]]:
    """A webhook receiver on loopback counting requests by Idempotency-Key."""
    received: Counter[str] = Counter()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                received[self.headers.get("Idempotency-Key", "")] += 1
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    from flowdesk.outbox.webhooks import do_create_endpoint

    do_create_endpoint(name="sink", url=f"{base}/", prefix=True, allow_private=True, author=None)
    yield received, base
    server.shutdown()
    server.server_close()


def _hook(url: str, key: str) -> OutboxItem:
    item, _ = do_enqueue(
        kind="webhook", payload={"url": url, "body": {}}, idempotency_key=key, now=utcnow()
    )
    return item


def _mail(key: str) -> OutboxItem:
    item, _ = do_enqueue(
        kind="notify",
        payload={"to": ["a@example.org"], "subject": key, "body": "b"},
        idempotency_key=key,
        now=utcnow(),
    )
    return item


def _wait(what: str, check: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def _threads_share_a_real_database() -> None:
    name = str(connection.settings_dict["NAME"])
    if connection.vendor == "sqlite" and ("memory" in name or not name):
        pytest.skip("needs a file database (FLOWDESK_TEST_SQLITE_NAME) or PostgreSQL")


def test_a_run_is_one_destination_and_claims_count_runs_per_destination() -> None:
    for n in range(5):
        _hook("http://a.example/x", f"a-{n}")
    for n in range(3):
        _hook("http://b.example/x", f"b-{n}")
    _hook("http://c.example/x", "c-0")
    now = utcnow()
    runs = claim_runs(
        "w", now, 2, run_size={"a.example:80": 4, "b.example:80": 2}, per_destination=1
    )
    assert [[c.item.idempotency_key for c in run] for run in runs] == [
        ["a-0", "a-1", "a-2", "a-3"],
        ["b-0", "b-1"],
    ]
    assert all(c.item.attempts == 1 and c.item.lease_owner == "w" for run in runs for c in run)
    # A destination busy with one run gets no second one; c (not sized: runs of one) does.
    more = claim_runs("w", now, 4, run_size=4, busy={"a.example:80": 1}, per_destination=1)
    assert [[c.item.idempotency_key for c in run] for run in more] == [["b-2"], ["c-0"]]
    assert OutboxItem.objects.filter(lease_owner="").get().idempotency_key == "a-4"


def test_give_back_restores_the_attempt_and_a_lost_lease_records_only_the_others(
    sink: tuple[Counter[str], str],
) -> None:
    received, base = sink
    for n in range(4):
        _hook(f"{base}/ok", f"k-{n}")
    (run,) = claim_runs("w", utcnow(), 1, run_size=4)
    first, second = attempt(run[0]), attempt(run[1])
    # Another worker took the second item over (this one hung past its lease).
    OutboxItem.objects.filter(pk=run[1].item.pk).update(lease_owner="other")
    outcomes = record([first, second], run[2:])
    assert [(o.outcome, o.recorded) for o in outcomes] == [
        ("delivered", True),
        ("lease_lost", False),
    ]
    rows = {i.idempotency_key: i for i in OutboxItem.objects.all()}
    assert rows["k-0"].status == OutboxStatus.DELIVERED
    assert rows["k-0"].lease_owner == ""
    assert rows["k-1"].lease_owner == "other"  # nothing written over the newer attempt
    for key in ("k-2", "k-3"):  # given back unattempted: claimable again, the attempt undone
        assert (rows[key].status, rows[key].attempts, rows[key].lease_owner) == ("pending", 0, "")
        assert rows[key].lease_expires_at is None
    assert received == Counter({"k-0": 1, "k-1": 1})

    # The next round records and claims in one transaction: the given-back items come first.
    outcomes, runs = record_and_claim([], [], None)
    assert (outcomes, runs) == ([], [])
    _, runs = record_and_claim([], [], _request("w2", 1, 4))
    assert [c.item.idempotency_key for c in runs[0]] == ["k-2", "k-3"]


def _request(owner: str, slots: int, size: int) -> Any:
    from flowdesk.outbox.services import ClaimRequest

    return ClaimRequest(owner, utcnow(), slots, run_size=size)


def test_a_run_stops_at_a_failing_destination_and_gives_the_rest_back(settings: Any) -> None:
    from flowdesk.outbox.runner import OutboxRunner
    from flowdesk.outbox.webhooks import do_create_endpoint

    settings.FLOWDESK = {**settings.FLOWDESK, "OUTBOX_BACKOFF_SECONDS": 60.0}
    do_create_endpoint(
        name="closed", url="http://127.0.0.1:9/", prefix=True, allow_private=True, author=None
    )
    for n in range(4):
        _hook("http://127.0.0.1:9/x", f"down-{n}")
    runner = OutboxRunner("pool", concurrency=1)  # not started: its steps are run here
    (run,) = claim_runs("pool", utcnow(), 1, run_size=4)
    runner._runs = 1
    runner._run(run)
    assert [a.outcome for a in runner._made] == ["unreachable"]
    assert [c.item.idempotency_key for c in runner._back] == ["down-1", "down-2", "down-3"]
    runner._round(claim=False)
    rows = {i.idempotency_key: i for i in OutboxItem.objects.all()}
    assert rows["down-0"].attempts == 1
    assert rows["down-0"].next_attempt_at > utcnow() + timedelta(seconds=50)
    assert "unreachable" in rows["down-0"].last_error
    assert [rows[f"down-{n}"].attempts for n in (1, 2, 3)] == [0, 0, 0]
    assert not OutboxItem.objects.exclude(lease_owner="").exists()


def test_the_embedded_pool_is_woken_by_the_commit_without_a_task_row(settings: Any) -> None:
    _threads_share_a_real_database()
    from django_tasks_db.models import DBTaskResult

    from flowdesk.outbox.runner import OutboxRunner

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    runner = OutboxRunner(concurrency=2, poll_seconds=60).start()
    try:
        time.sleep(0.5)  # its first poll is done: only a wake-up can make it claim now
        queued = time.monotonic()
        with transaction.atomic():
            _mail("woken")
            time.sleep(0.3)
            assert mail.outbox == []  # nothing leaves before the commit
        _wait("the delivery", lambda: OutboxItem.objects.filter(status="delivered").exists())
        assert time.monotonic() - queued < 5
        assert [m.subject for m in mail.outbox] == ["woken"]
        assert DBTaskResult.objects.count() == 0
    finally:
        runner.stop(timeout=10)
    # Without a pool in this process, the wake-up is a task row for the workers (PostgreSQL:
    # a notification instead, tests/test_outbox_wakeup.py).
    _mail("queued")
    assert DBTaskResult.objects.count() == (0 if connection.vendor == "postgresql" else 1)


def test_two_pools_share_a_backlog_and_send_each_item_once(
    sink: tuple[Counter[str], str], settings: Any
) -> None:
    """Both claim at once (SKIP LOCKED on PostgreSQL, the conditional UPDATE under SQLite's
    write lock): every item is delivered, once, on its first attempt."""
    _threads_share_a_real_database()
    from flowdesk.outbox.runner import OutboxRunner

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    received, base = sink
    hooks = [_hook(f"{base}/ok", f"hook-{n}").idempotency_key for n in range(60)]
    mails = [_mail(f"mail-{n}").idempotency_key for n in range(30)]
    pools = [OutboxRunner(concurrency=3).start(), OutboxRunner(concurrency=3).start()]
    try:
        _wait(
            "every item delivered",
            lambda: not OutboxItem.objects.filter(status=OutboxStatus.PENDING).exists(),
            60,
        )
    finally:
        for pool in pools:
            pool.stop(timeout=10)
    assert received == Counter(dict.fromkeys(hooks, 1))
    assert Counter(m.subject for m in mail.outbox) == Counter(dict.fromkeys(mails, 1))
    assert set(OutboxItem.objects.values_list("attempts", flat=True)) == {1}
    assert not OutboxItem.objects.exclude(lease_owner="").exists()


def test_the_task_worker_reads_before_it_locks_and_runs_queued_tasks(settings: Any) -> None:
    _threads_share_a_real_database()
    from django_tasks_db.models import DBTaskResult

    from flowdesk.outbox.taskworker import ReadFirstWorker

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    worker = ReadFirstWorker(worker_id="reader", interval=0.05)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        assert not worker.ready()
        _mail("by-task")  # no pool in this process: a deliver_outbox task row
        if connection.vendor == "postgresql":  # ... where commits notify instead
            from flowdesk.outbox.tasks import deliver_outbox

            deliver_outbox.enqueue()
        _wait("the task", lambda: DBTaskResult.objects.filter(status="SUCCESSFUL").exists())
        _wait("the delivery", lambda: OutboxItem.objects.filter(status="delivered").exists())
        assert [m.subject for m in mail.outbox] == ["by-task"]
    finally:
        worker.running = False
        thread.join(5)


def test_a_round_gets_the_sqlite_write_lock_between_other_writers(settings: Any) -> None:
    """SQLite's busy handler backs off to 100 ms sleeps; a round retries every few ms, so it
    gets the lock in the gaps of a writer that keeps taking it back at once."""
    name = str(connection.settings_dict["NAME"])
    if connection.vendor != "sqlite" or "memory" in name or not name:
        pytest.skip("needs a SQLite file database")
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    for n in range(3):
        _mail(f"m-{n}")
    (run,) = claim_runs("w", utcnow(), 1, run_size=3)
    made = [attempt(c) for c in run]
    stop = threading.Event()
    holding = threading.Event()

    def hog() -> None:  # 50 ms transactions back to back, 1 ms apart
        other = sqlite3.connect(name, timeout=20, isolation_level=None)
        while not stop.is_set():
            other.execute("BEGIN IMMEDIATE")
            holding.set()
            time.sleep(0.05)
            other.execute("COMMIT")
            time.sleep(0.001)
        other.close()

    thread = threading.Thread(target=hog, daemon=True)
    thread.start()
    holding.wait(5)
    started = time.monotonic()
    try:
        outcomes = record(made)
    finally:
        stop.set()
        thread.join(5)
    assert time.monotonic() - started < 2
    assert [o.outcome for o in outcomes] == ["delivered"] * 3
    assert set(OutboxItem.objects.values_list("status", flat=True)) == {"delivered"}


def test_a_local_handler_replaces_the_task_only_after_a_commit() -> None:
    from django_tasks_db.models import DBTaskResult

    from flowdesk.core.oncommit import enqueue_after_commit, handle_locally
    from flowdesk.outbox.tasks import deliver_outbox

    calls: list[str] = []

    class Abort(Exception):
        pass

    def rolled_back() -> None:
        with transaction.atomic():
            enqueue_after_commit(deliver_outbox, coalesce=True)
            raise Abort

    handle_locally(deliver_outbox, lambda: calls.append("woken"))
    try:
        with pytest.raises(Abort):
            rolled_back()
        assert calls == []
        with transaction.atomic():
            enqueue_after_commit(deliver_outbox, coalesce=True)
            assert calls == []
        assert calls == ["woken"]
        assert DBTaskResult.objects.count() == 0
    finally:
        handle_locally(deliver_outbox, None)
    enqueue_after_commit(deliver_outbox, coalesce=True)
    assert DBTaskResult.objects.count() == 1
    assert calls == ["woken"]
