"""PostgreSQL wakes the delivery workers with NOTIFY in the writing transaction and LISTEN in each
worker: delivered when the transaction commits, never when it rolls back, once per transaction."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from flowdesk.outbox import wakeup

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgres() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("NOTIFY/LISTEN is PostgreSQL's")


class Counter:
    def __init__(self) -> None:
        self.n = 0
        self.event = threading.Event()

    def __call__(self) -> None:
        self.n += 1
        self.event.set()


def _listening() -> tuple[Counter, threading.Event, wakeup.Listener]:
    woken, stop = Counter(), threading.Event()
    listener = wakeup.Listener(woken, stop).start()
    assert woken.event.wait(10)  # the first wake-up follows the LISTEN
    woken.event.clear()
    return woken, stop, listener


def test_a_committed_transaction_wakes_the_listener_once() -> None:
    woken, stop, listener = _listening()
    try:
        before = woken.n
        with CaptureQueriesContext(connection) as q, transaction.atomic():
            wakeup.notify()
            wakeup.notify()  # the second is not sent
        assert sum("NOTIFY" in x["sql"] for x in q.captured_queries) == 1
        assert woken.event.wait(10)
        time.sleep(0.3)
        assert woken.n == before + 1
    finally:
        stop.set()
        listener.join(5)


def _notify_and_fail() -> None:
    with transaction.atomic():
        wakeup.notify()
        raise RuntimeError("rolled back")


def test_a_rolled_back_transaction_wakes_nobody() -> None:
    woken, stop, listener = _listening()
    try:
        with pytest.raises(RuntimeError):
            _notify_and_fail()
        assert not woken.event.wait(1.5)
        with transaction.atomic():  # the next transaction notifies again
            wakeup.notify()
        assert woken.event.wait(10)
    finally:
        stop.set()
        listener.join(5)
