"""Django's SQLite backend with the writers of one process queued on an in-memory lock.

SQLite allows one writer at a time. A second ``BEGIN IMMEDIATE`` waits in SQLite's busy handler,
which sleeps in growing steps (up to 100 ms) and polls: under load the write lock sits free for
milliseconds between writers while the next one sleeps. Measured on the embedded setup with 8
clients creating tickets: more than half of the web threads' time was that sleep. Here the threads
of one process first take a process-wide lock, which hands over at once when the holder commits or
rolls back; SQLite's own lock (and its busy timeout) still orders writers across processes (the
CLI, a second server). Only write transactions (IMMEDIATE or EXCLUSIVE) take the lock.
"""

from __future__ import annotations

import threading
from typing import Any

from django.db.backends.sqlite3 import base

# One per process: every connection to every SQLite database shares it (flowdesk uses one).
_WRITER = threading.Lock()


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._holds_writer = False

    def _start_transaction_under_autocommit(self) -> None:
        if self.transaction_mode not in ("IMMEDIATE", "EXCLUSIVE") or self._holds_writer:
            super()._start_transaction_under_autocommit()
            return
        # Bounded like SQLite's own wait: past it, BEGIN waits in SQLite and fails there with
        # its usual "database is locked" if the holder never lets go.
        acquired = _WRITER.acquire(timeout=float(self.settings_dict["OPTIONS"].get("timeout", 5)))
        self._holds_writer = acquired
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._release_writer()
            raise

    def _release_writer(self) -> None:
        if self._holds_writer:
            self._holds_writer = False
            _WRITER.release()

    def _commit(self) -> None:
        try:
            super()._commit()
        finally:
            if self.connection is None or not self.connection.in_transaction:
                self._release_writer()

    def _rollback(self) -> None:
        try:
            super()._rollback()
        finally:
            if self.connection is None or not self.connection.in_transaction:
                self._release_writer()

    def _close(self) -> None:
        try:
            super()._close()
        finally:
            self._release_writer()
