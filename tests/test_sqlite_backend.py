"""flowdesk's SQLite backend: the writers of one process queue on an in-memory lock that is held
exactly while a write transaction is open (released on commit, on rollback and on close)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import connection, transaction

from flowdesk.accounts.models import Team

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _sqlite_file() -> None:
    name = str(connection.settings_dict["NAME"])
    if connection.vendor != "sqlite":
        pytest.skip("the SQLite backend only")
    if name in ("", ":memory:") or "mode=memory" in name:
        pytest.skip("an in-memory SQLite database is private to one connection")


def _writer() -> Any:
    from flowdesk.core.sqlite.base import _WRITER

    return _WRITER


def test_the_lock_is_held_inside_a_write_transaction_and_released_on_commit() -> None:
    assert connection.settings_dict["ENGINE"] == "flowdesk.core.sqlite"
    assert not _writer().locked()
    with transaction.atomic():
        Team.objects.create(name="Held")
        assert _writer().locked()
        with transaction.atomic():  # a savepoint: no second acquire
            Team.objects.create(name="Nested")
    assert not _writer().locked()
    assert Team.objects.filter(name__in=["Held", "Nested"]).count() == 2


def _create_and_fail(name: str) -> None:
    with transaction.atomic():
        Team.objects.create(name=name)
        raise RuntimeError("boom")


def test_the_lock_is_released_on_rollback_and_on_close() -> None:
    with pytest.raises(RuntimeError):
        _create_and_fail("Rolled back")
    assert not _writer().locked()
    assert not Team.objects.filter(name="Rolled back").exists()

    def abandoned() -> None:  # a thread whose connection closes inside a transaction
        block = transaction.atomic()
        block.__enter__()
        Team.objects.create(name="Abandoned")
        assert _writer().locked()
        connection.close()

    thread = threading.Thread(target=abandoned)
    thread.start()
    thread.join(10)
    assert not _writer().locked()
    assert not Team.objects.filter(name="Abandoned").exists()


def test_a_second_writer_waits_for_the_first_and_then_goes_on_at_once() -> None:
    order: list[str] = []
    inside = threading.Event()

    def second() -> None:
        inside.wait(5)
        with transaction.atomic():
            order.append("second began")
            Team.objects.create(name="Second")
        connection.close()

    thread = threading.Thread(target=second)
    thread.start()
    with transaction.atomic():
        Team.objects.create(name="First")
        inside.set()
        time.sleep(0.3)  # the second writer is waiting now
        order.append("first commits")
    began = time.monotonic()
    thread.join(10)
    assert order == ["first commits", "second began"]
    assert time.monotonic() - began < 5  # handed over, not a timeout
    assert Team.objects.filter(name__in=["First", "Second"]).count() == 2
