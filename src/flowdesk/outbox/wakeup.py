"""Waking the delivery workers on PostgreSQL: ``NOTIFY`` in the writing transaction, ``LISTEN`` in
every worker.

The wake-up task (``tasks.deliver_outbox``) is a row in the task table: on PostgreSQL with
separate worker processes it cost every ticket write a read (is one queued already?), often an
insert with its own commit, and the task worker's claim and completion writes. A notification
costs one statement inside the transaction that queued the item: PostgreSQL delivers it when that
transaction commits, drops it when it rolls back, and folds duplicates. Each worker's pool listens
on its own connection and claims at once. Nothing depends on it: a lost notification (a worker
reconnecting) is covered by every worker's poll (``OUTBOX_POLL_SECONDS``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from django.db import connection, transaction

log = logging.getLogger(__name__)

CHANNEL = "flowdesk_outbox"


def by_notification() -> bool:
    """PostgreSQL with the database task backend (another task backend, such as the immediate
    one of the tests or a broker, keeps its own wake-up task)."""
    from django_tasks import task_backends
    from django_tasks_db.backend import DatabaseBackend

    return connection.vendor == "postgresql" and isinstance(
        task_backends["default"], DatabaseBackend
    )


def _marker() -> None:
    """Registered on commit once per transaction that notified (see ``notify``)."""


def notify() -> None:
    """``NOTIFY`` once per transaction (outside one: at once, in autocommit)."""
    if connection.in_atomic_block:
        if any(entry[1] is _marker for entry in connection.run_on_commit):
            return
        transaction.on_commit(_marker)
    with connection.cursor() as cursor:
        cursor.execute(f"NOTIFY {CHANNEL}")


class Listener:
    """A thread holding one connection that listens and calls ``wake`` on every notification;
    it reconnects after an error (the workers' poll covers the gap)."""

    def __init__(self, wake: Callable[[], None], stop: threading.Event) -> None:
        self._wake = wake
        self._stop = stop
        self._thread = threading.Thread(
            target=self._run, name="flowdesk-outbox-listen", daemon=True
        )

    def start(self) -> Listener:
        self._thread.start()
        return self

    def join(self, timeout: float | None) -> None:
        self._thread.join(timeout)

    def _connect(self) -> Any:
        import psycopg

        params = connection.get_connection_params()
        params.pop("cursor_factory", None)
        params.pop("context", None)
        params.pop("prepare_threshold", None)
        conn = psycopg.connect(**params, autocommit=True)
        conn.execute(f"LISTEN {CHANNEL}")
        return conn

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with self._connect() as conn:
                    self._wake()  # anything queued while this thread was connecting
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=1.0, stop_after=1):
                            self._wake()
            except Exception:
                log.exception("outbox listener: connection lost; polling covers it, reconnecting")
                self._stop.wait(2.0)
